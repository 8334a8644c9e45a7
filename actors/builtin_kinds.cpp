#include "actors/builtin_kinds.hpp"

#include "actors/chaos.hpp"
#include "actors/cleaner.hpp"
#include "actors/counter.hpp"
#include "actors/generate.hpp"
#include "actors/csv_reader.hpp"
#include "actors/csv_writer.hpp"
#include "actors/drift.hpp"
#include "actors/idx_reader.hpp"
#include "actors/inference.hpp"
#include "actors/nats_source.hpp"
#include "actors/evaluator.hpp"
#include "actors/publisher.hpp"
#include "actors/splitter.hpp"
#include "actors/trainer.hpp"
#include "actors/zmq_source.hpp"

namespace conveyor {

void register_builtin_kinds(kind_registry& registry) {
  registry.add(csv_reader_kind());
  registry.add(idx_reader_kind());
  registry.add(cleaner_kind());
  registry.add(splitter_kind());
  registry.add(csv_writer_kind());
  registry.add(counter_kind());
  registry.add(generate_kind());
  registry.add(chaos_kind());
  registry.add(trainer_kind());
  registry.add(evaluator_kind());
  registry.add(inference_kind());
  registry.add(publisher_kind());
  registry.add(drift_kind());
  registry.add(nats_source_kind());
  registry.add(zmq_source_kind());
}

} // namespace conveyor
