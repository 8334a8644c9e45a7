#include "runtime/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>
#include <caf/scheduled_actor.hpp>

#include <spdlog/spdlog.h>

#include <exception>

namespace conveyor {

caf::atom_value runtime_error_category() {
  return caf::atom("conveyor");
}

std::string to_string(runtime_errc code) {
  switch (code) {
    case runtime_errc::step_failed:
      return "step_failed";
    case runtime_errc::step_not_built:
      return "step_not_built";
    case runtime_errc::graph_invalid:
      return "graph_invalid";
    case runtime_errc::placement_failed:
      return "placement_failed";
    case runtime_errc::deploy_failed:
      return "deploy_failed";
    case runtime_errc::node_lost:
      return "node_lost";
    case runtime_errc::coordinator_lost:
      return "coordinator_lost";
    case runtime_errc::drain_timeout:
      return "drain_timeout";
    case runtime_errc::unexpected_exception:
      return "unexpected_exception";
    case runtime_errc::state_dir_failed:
      return "state_dir_failed";
  }
  return "runtime_error(" + std::to_string(static_cast<int>(code)) + ")";
}

caf::error make_error(runtime_errc code) {
  return caf::error(static_cast<std::uint8_t>(code), runtime_error_category());
}

caf::error make_error(runtime_errc code, std::string context) {
  return caf::error(static_cast<std::uint8_t>(code), runtime_error_category(),
                    caf::make_message(std::move(context)));
}

bool is(const caf::error& e, runtime_errc code) {
  return e.category() == runtime_error_category() &&
         e.code() == static_cast<std::uint8_t>(code);
}

namespace {

std::string context_of(const caf::message& context) {
  if (context.size() == 1 && context.match_element<std::string>(0))
    return context.get_as<std::string>(0);
  return context.empty() ? std::string{} : caf::to_string(context);
}

std::string render(std::uint8_t code, const caf::message& context) {
  auto text = to_string(static_cast<runtime_errc>(code));
  auto detail = context_of(context);
  return detail.empty() ? text : text + ": " + detail;
}

} // namespace

std::string error_text(const caf::error& e) {
  if (!e)
    return "no error"; // a normal exit: CAF's empty error has no category to ask
  if (e.category() != runtime_error_category())
    return caf::to_string(e);
  auto detail = context_of(e.context());
  return detail.empty() ? to_string(static_cast<runtime_errc>(e.code())) : detail;
}

void add_runtime_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(runtime_error_category(),
                         [](std::uint8_t code, caf::atom_value, const caf::message& context) {
                           return "conveyor: " + render(code, context);
                         });
}

void handle_exceptions(caf::scheduled_actor* self) {
  self->set_exception_handler([](std::exception_ptr& failure) -> caf::error {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      return make_error(runtime_errc::unexpected_exception, e.what());
    } catch (...) {
      return make_error(runtime_errc::unexpected_exception, "an exception of unknown type");
    }
  });
}

void drop_unexpected_messages(caf::scheduled_actor* self, std::string who) {
  self->set_default_handler(
    [who = std::move(who)](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
      spdlog::warn("{}: dropped an unexpected message: {}", who, caf::to_string(x.content()));
      return caf::message{};
    });
}

} // namespace conveyor
