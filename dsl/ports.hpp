// Which port an edge endpoint means: the one it names, or the kind's default (the first
// output on the sending side, the first input on the receiving side).
#pragma once

#include "dsl/schema.hpp"

#include <optional>
#include <string>

namespace conveyor::dsl {

enum class port_side { output, input };

/// Null if the kind has no such port (or no ports at all on that side).
inline const port_schema* resolve_port(const kind_schema& k,
                                       const std::optional<std::string>& port, port_side side) {
  const auto& ports = side == port_side::output ? k.outputs : k.inputs;
  if (!port) return ports.empty() ? nullptr : &ports.front();
  return side == port_side::output ? k.find_output(*port) : k.find_input(*port);
}

} // namespace conveyor::dsl
