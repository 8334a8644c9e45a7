#include "actors/publisher.hpp"

#include "actors/kind_schema_builder.hpp"

#include <stdexcept>

namespace conveyor {

publisher_options publisher_options::from(const step_params& params) {
  publisher_options o;
  o.registry = params.get_string("registry");
  if (o.registry.empty())
    throw step_failure("publisher: 'registry' is empty");
  o.name = params.has("name") ? params.get_string("name") : std::string{};
  if (!o.name.empty() && !serving::valid_model_name(o.name))
    throw step_failure("publisher: 'name' ('" + o.name +
                       "') is not a valid model name: use letters, digits, '_', '-' or '.', "
                       "not starting with '.'");
  const auto keep = params.get_integer("keep");
  if (keep < 0)
    throw step_failure("publisher: 'keep' is " + std::to_string(keep) + "; use 0 (keep all) or more");
  o.keep = static_cast<std::size_t>(keep);
  return o;
}

publisher::publisher(publisher_options options)
    : options_(std::move(options)), registry_(options_.registry) {}

void publisher::consume_model(std::size_t, model_message m, emitter& out) {
  const std::string name = options_.name.empty() ? m.name : options_.name;
  auto reject = [&](const std::string& why) {
    if (ctx_)
      ctx_->reject(1, "model '" + name + "' not published: " + why);
  };
  if (!m.artifact)
    return reject("the message carries no artifact");
  serving::publish_result r;
  try {
    r = registry_.publish(name, *m.artifact, options_.keep);
  } catch (const std::invalid_argument& e) { // bad name or bytes: this model's fault
    return reject(e.what());
  } catch (const std::exception& e) { // I/O: the registry's, so let the supervisor retry
    throw step_failure(std::string("publisher: ") + e.what());
  }
  if (r.created)
    ++published_;
  if (ctx_) {
    if (r.created)
      ctx_->log_info("published " + name + " version " + std::to_string(r.version) + " (" +
                     r.path + ")");
    else
      ctx_->log_info(name + ": identical to version " + std::to_string(r.version) +
                     "; not republished");
    ctx_->report_metrics({{"published", static_cast<double>(published_)},
                          {"version", static_cast<double>(r.version)}});
  }
  m.name = name;
  m.version = r.version;
  out.emit_model(0, std::move(m));
}

kind_entry publisher_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "publisher";
  e.schema.doc = "Files each model as a new version in a model registry directory "
                 "(idempotently: identical bytes keep their version) and forwards it with "
                 "its version.";
  e.schema.params = {
    required_param("registry", param_type::string, "the registry directory (NAME/VERSION.model)"),
    optional_param("name", param_type::string, std::string{},
                   "the name to file models under (empty: each model's own name)"),
    optional_param("keep", param_type::integer, 5,
                   "versions to keep per name, newest first; older ones are removed (0: all)"),
  };
  e.schema.inputs = {dsl::port_schema{"model", "model"}};
  e.schema.outputs = {dsl::port_schema{"out", "model"}};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<publisher>(publisher_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
