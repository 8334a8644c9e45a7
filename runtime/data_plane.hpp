// The data plane: batches, models, end-of-stream and credit between step actors on
// different nodes, and the messages between replicas of a group on different nodes,
// travel node to node over ZeroMQ instead of as CAF messages through the coordinator.
// CAF stays the control plane: an edge's first credit, acknowledgements, wiring,
// supervision, and the endpoint advertisements below.
//
// Contract:
// - each node daemon process runs one data plane (`start`): a PULL socket on the host
//   it listens on, port chosen by the system, and one receiver thread that decodes
//   frames (runtime/data_plane_codec.hpp) and hands them to the local step actor they
//   name, as CAF messages of that process. A batch for an idle consumer is handled on
//   the receiver thread itself (it is a CAF execution unit for that one message), which
//   saves waking a scheduler worker per batch; a consumer whose calls take over 500 us
//   three times in a row gets its batches through the scheduler from then on (logged);
// - a consumer whose producer runs in another process advertises an endpoint to it
//   over CAF before its first credit: the address, its own actor id, a fresh edge
//   token, and with CurveZMQ the keys. The token names the edge and the producer's
//   incarnation: a consumer accepts frames only under a token of its current wiring,
//   so frames of a replaced incarnation (a re-placed step, a node that came back) are
//   dropped (fenced). The producer advertises itself to the consumer the same way, and
//   the consumer returns credit as frames under that token (a replaced consumer's
//   credit is fenced likewise);
// - with `curve` (a TLS cluster), the socket is a CurveZMQ server and admits only the
//   client key that it advertises (a second thread answers its handshakes' ZAP
//   requests), and the advertisement travels over the mutual-TLS control plane: a
//   process without the cluster's certificates can neither learn the keys nor connect;
// - the process without a data plane (the embedded run; unit tests) sends everything
//   as CAF messages, as before.
#pragma once

#include "runtime/data_plane_codec.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace conveyor {

/// What a consumer tells a producer in another process (a CAF message element).
struct data_endpoint {
  /// `tcp://HOST:PORT` of the consumer's process.
  std::string address;
  /// The consumer's actor id there.
  std::uint64_t consumer = 0;
  /// The edge token the producer puts on every frame.
  std::uint64_t token = 0;
  /// CurveZMQ keys (Z85), all empty without: the server's public key and the client
  /// key pair the producer connects with.
  std::string server_key;
  std::string client_public;
  std::string client_secret;
};

/// Counters of one process's data plane (read at metrics scrapes).
struct data_plane_counters {
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> bytes_out{0};
  /// Frames for an actor no longer here, or under a token no longer wired.
  std::atomic<std::uint64_t> fenced{0};
  /// Frames that did not decode.
  std::atomic<std::uint64_t> malformed{0};
  /// CurveZMQ handshakes refused (a client key other than the advertised one).
  std::atomic<std::uint64_t> refused{0};
};

class data_plane {
public:
  /// Starts the process's data plane bound to `host` (an address of this machine;
  /// `0.0.0.0` binds all and advertises the host name). Returns an error text, or
  /// empty on success. Once per process.
  static std::string start(const std::string& host, bool curve);
  /// Stops the receiver thread (after the actor system is gone).
  static void stop();
  /// The process's data plane, or null when none was started.
  static data_plane* get();

  /// An advertisement for `consumer` under a fresh token.
  data_endpoint advertise(std::uint64_t consumer) const;
  /// Routes frames for actor `id` to `handle` (until `detach`).
  void attach(std::uint64_t id, const caf::actor& handle);
  void detach(std::uint64_t id);
  const std::string& address() const;
  bool curve() const;
  data_plane_counters& counters();
  /// The ZeroMQ context senders create their sockets in.
  void* context() const;

  struct impl;
  explicit data_plane(std::unique_ptr<impl> p);
  ~data_plane();

private:
  std::unique_ptr<impl> impl_;
};

/// A producer actor's sockets: one PUSH per consumer process it sends to. Used by
/// one actor at a time (not thread-safe); closes its sockets when destroyed.
class data_sender {
public:
  explicit data_sender(data_plane& plane) : plane_(plane) {}
  ~data_sender();
  data_sender(const data_sender&) = delete;
  data_sender& operator=(const data_sender&) = delete;
  /// Queues `frame` for `to` without blocking (one ZeroMQ message; a payload over
  /// copied_frame_bytes is not copied: ZeroMQ holds `frame.owner` until it is sent);
  /// false with the reason in `error`.
  bool send(const data_endpoint& to, encoded_frame frame, std::string& error);

private:
  static bool send_parts(encoded_frame& frame, void* socket);

  data_plane& plane_;
  std::map<std::string, void*> sockets_; // by address and client key
};

} // namespace conveyor
