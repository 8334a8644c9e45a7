// Where a piece of source text is: 1-based line and column (in bytes) and its length,
// which the caret line of a diagnostic underlines. The file name lives in compile_options.
#pragma once

namespace conveyor::dsl {

struct span {
  int line = 0;
  int column = 0;
  int length = 1;
};

} // namespace conveyor::dsl
