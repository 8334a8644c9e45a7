// Stage 5: the files a lowered graph's steps read and write must not collide. Kinds
// declare which string parameters name files (`param_schema::role`); this check compares
// every such value (after param substitution, defaults filled in) and reports, with code
// `file_conflict` at the parameter's value:
// - a file that one parameter writes and another reads (the writer truncates it when it
//   starts: the reader's data would be gone), in one node or two;
// - a file that two parameters write (each truncates it; the rows interleave or one
//   writer's output is lost while both report success);
// - a file written by a node that runs more than one replica (each replica writes it).
// Paths are compared as the system resolves them: relative to the current directory,
// `.` and `..` removed, symbolic links followed (also links to files that do not exist
// yet), and existing files by device and inode (hard links). A path that names an
// existing file that is not a regular file (a device such as /dev/null, a FIFO, a
// directory) is not compared: writing to /dev/null twice is fine.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/graph_spec.hpp"
#include "dsl/schema.hpp"

namespace conveyor::dsl {

void check_file_conflicts(const graph_spec& graph, const ast::file& file,
                          const schema_catalog& kinds, diagnostic_sink& sink);

} // namespace conveyor::dsl
