// The runtime's error codes: one CAF error category ("conveyor"), used like CAF's own
// `sec`. Actors report failures by returning these from handlers or exiting with them;
// no handler throws (a throw that escapes anyway ends the actor with
// `unexpected_exception`, see handle_exceptions). The context of an error is one
// string: the step's own message, or what went wrong where.
// Include only from runtime .cpp files and tests (it pulls in CAF).
#pragma once

#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <string>

namespace conveyor {

enum class runtime_errc : std::uint8_t {
  /// A step's call (open, consume, produce, finish, tick, ...) threw: the step failed.
  step_failed = 1,
  /// A node could not build a step instance (unknown kind, parameters refused).
  step_not_built,
  /// A node could not compile the graph text it was sent.
  graph_invalid,
  /// No node satisfies a step's placement (`on`, `gpus`).
  placement_failed,
  /// A node did not answer a deployment.
  deploy_failed,
  /// A node of the run went down.
  node_lost,
  /// The coordinator ended without reporting the end of the run.
  coordinator_lost,
  /// Steps had not ended their streams when the drain's grace period ran out.
  drain_timeout,
  /// An actor's handler threw: a bug in the runtime. The actor ends with this error.
  unexpected_exception,
  /// The coordinator's state directory could not be written or read.
  state_dir_failed,
};

/// The atom of the category ("conveyor").
caf::atom_value runtime_error_category();

std::string to_string(runtime_errc code);

caf::error make_error(runtime_errc code);
caf::error make_error(runtime_errc code, std::string context);

/// True if `e` is `code` of this category.
bool is(const caf::error& e, runtime_errc code);

/// For people: the context of one of ours if it has one (a step's failure is its own
/// message, "injected failure 3"), else "code: context"; CAF's rendering for others;
/// "no error" for an empty one (an actor that exited normally).
std::string error_text(const caf::error& e);

/// Registers the category with an actor system, so that `actor_system::render` names
/// the codes.
void add_runtime_error_category(caf::actor_system_config& cfg);

/// Installs on `self` the handler that turns an exception escaping one of its handlers
/// into `unexpected_exception` (with the exception's message): the actor ends with that
/// error and whoever monitors it (node, coordinator, runner) deals with it.
void handle_exceptions(caf::scheduled_actor* self);

/// Installs on `self` a handler for messages none of its handlers takes: a warning in
/// the log naming `who` and the message, which is then dropped without an answer (CAF's
/// default answers with an error, and an error message ends an actor that has no
/// handler for it).
void drop_unexpected_messages(caf::scheduled_actor* self, std::string who);

} // namespace conveyor
