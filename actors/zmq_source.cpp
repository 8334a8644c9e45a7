#include "actors/zmq_source.hpp"

#include "actors/csv_quote.hpp"
#include "actors/kind_schema_builder.hpp"

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace conveyor {

namespace {

constexpr const char* kind_name = "zmq_source";
constexpr auto bind_patience = std::chrono::seconds(5);

} // namespace

zmq_source_options zmq_source_options::from(const step_params& params) {
  zmq_source_options o;
  o.endpoint = params.get_string("endpoint");
  if (o.endpoint.empty())
    throw step_failure(std::string(kind_name) + ": parameter 'endpoint' must not be empty");
  o.bind = params.get_bool("bind");
  o.columns = stream_columns::from(params, kind_name);
  auto b = params.get_integer("batch");
  if (b < 1 || b > (1 << 20))
    throw step_failure(std::string(kind_name) + ": parameter 'batch' must be in 1..1048576, got " +
                       std::to_string(b));
  o.batch_rows = static_cast<std::uint32_t>(b);
  auto wait = params.get_duration_ns("max_wait");
  if (wait < 1'000'000 || wait > 10'000'000'000LL)
    throw step_failure(std::string(kind_name) + ": parameter 'max_wait' must be in 1ms..10s");
  o.max_wait_ms = wait / 1'000'000;
  o.quarantine = params.get_string("quarantine");
  return o;
}

zmq_source::zmq_source(zmq_source_options options) : options_(std::move(options)) {}

zmq_source::~zmq_source() {
  if (socket_ != nullptr)
    zmq_close(socket_);
  if (context_ != nullptr)
    zmq_ctx_term(context_);
  if (quarantine_ != nullptr)
    std::fclose(quarantine_);
}

void zmq_source::open(step_context& ctx) {
  ctx_ = &ctx;
  bool restarted = ctx.load_state().has_value();
  if (!options_.quarantine.empty()) {
    errno = 0;
    quarantine_ = std::fopen(options_.quarantine.c_str(), restarted ? "ab" : "wb");
    if (quarantine_ == nullptr)
      throw step_failure(std::string(kind_name) + ": cannot open quarantine file '" +
                         options_.quarantine + "': " + std::strerror(errno));
    if (!restarted)
      check_quarantine(std::fputs("message,reason,message_hex\n", quarantine_) >= 0 &&
                       std::fflush(quarantine_) == 0);
  }
  ctx.save_state("opened");
  auto schema = options_.columns.schema();
  decoder_ = std::make_unique<msgpack_row_decoder>(schema);
  builder_ = std::make_unique<row_batch_builder>(schema);
  context_ = zmq_ctx_new();
  socket_ = zmq_socket(context_, ZMQ_PULL);
  if (socket_ == nullptr)
    throw step_failure(std::string(kind_name) + ": cannot create a socket: " +
                       zmq_strerror(zmq_errno()));
  int linger = 0;
  std::int64_t max_size = static_cast<std::int64_t>(max_stream_message);
  zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(socket_, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
  auto deadline = std::chrono::steady_clock::now() + bind_patience;
  for (;;) {
    int rc = options_.bind ? zmq_bind(socket_, options_.endpoint.c_str())
                           : zmq_connect(socket_, options_.endpoint.c_str());
    if (rc == 0)
      break;
    int err = zmq_errno();
    // An earlier incarnation of this step may still be closing its socket on the address.
    if (!options_.bind || err != EADDRINUSE || std::chrono::steady_clock::now() > deadline ||
        ctx.stop_requested())
      throw step_failure(std::string(kind_name) + ": cannot " +
                         (options_.bind ? "bind" : "connect") + " '" + options_.endpoint +
                         "': " + zmq_strerror(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ctx.log_info(std::string(options_.bind ? "bound" : "connected") + " PULL socket '" +
               options_.endpoint + "'");
}

void zmq_source::resume(const source_position& after) {
  rows_emitted_ = after.row;
}

void zmq_source::check_quarantine(bool ok) {
  if (ok)
    return;
  throw step_failure(std::string(kind_name) + ": cannot write quarantine file '" +
                     options_.quarantine + "': " + std::strerror(errno));
}

bool zmq_source::receive(std::string& frame) {
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  int n = zmq_msg_recv(&msg, socket_, ZMQ_DONTWAIT);
  if (n >= 0)
    frame.assign(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
  zmq_msg_close(&msg);
  return n >= 0;
}

void zmq_source::take(const std::string& frame) {
  ++received_;
  auto error = decoder_->decode(frame.data(), frame.size());
  if (error.empty()) {
    builder_->add(*decoder_);
    return;
  }
  ctx_->reject(1, "message " + std::to_string(received_) + ": " + error);
  if (quarantine_ != nullptr) {
    std::string line = std::to_string(received_) + ",";
    append_csv_field(line, error, ',');
    line += "," + to_hex(frame.data(), frame.size()) + "\n";
    check_quarantine(std::fwrite(line.data(), 1, line.size(), quarantine_) == line.size());
  }
}

bool zmq_source::produce(emitter& out) {
  if (ctx_->stop_requested())
    return true; // the drain ends the stream; nothing more is read
  zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, static_cast<long>(options_.max_wait_ms)) <= 0)
    return true;
  std::string frame;
  std::uint32_t messages = 0;
  while (messages < options_.batch_rows && receive(frame)) {
    take(frame);
    ++messages;
  }
  if (quarantine_ != nullptr)
    check_quarantine(std::fflush(quarantine_) == 0);
  if (builder_->rows() == 0)
    return true;
  auto b = builder_->take();
  b.first_row = rows_emitted_;
  rows_emitted_ += b.rows;
  b.position = source_position{0, 0, rows_emitted_};
  out.emit(0, std::move(b));
  return true;
}

kind_entry zmq_source_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = kind_name;
  e.schema.doc = "Reads MessagePack rows from a ZeroMQ PULL socket, at most once; never ends "
                 "(drain the run to stop it).";
  e.schema.params = {
    required_param("endpoint", param_type::string, "ZeroMQ endpoint, e.g. tcp://*:5600"),
    optional_param("bind", param_type::boolean, true, "bind the endpoint (false: connect to it)"),
    optional_param("batch", param_type::integer, std::int64_t{1024}, "messages per batch at most"),
    optional_param("max_wait", param_type::duration, dsl::duration_value{200'000'000},
                   "longest wait for a first message per batch"),
    dsl::writes_file(optional_param("quarantine", param_type::string, "",
                                    "CSV file receiving malformed messages "
                                    "(number, reason, message as hex)")),
  };
  // The row schema's params (columns, categorical, label), listed before `batch`.
  auto columns = stream_columns::params();
  auto batch = std::find_if(e.schema.params.begin(), e.schema.params.end(),
                            [](const dsl::param_schema& p) { return p.name == "batch"; });
  e.schema.params.insert(batch, columns.begin(), columns.end());
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<zmq_source>(zmq_source_options::from(c.params));
  };
  e.instances = instance_rule{{}, [](const step_params&) { return 1; }};
  return e;
}

} // namespace conveyor
