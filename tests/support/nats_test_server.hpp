// A real `nats-server -js` for tests: on 127.0.0.1, a free port and a fresh store
// directory; ready once a client connects (polled with a deadline, never a sleep);
// killed at scope exit. Plus what tests need as a publisher: create a stream, publish
// MessagePack rows and raw bytes through JetStream, read a durable consumer's state.
#pragma once

#include <nats/nats.h>
#include <msgpack.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <cstdint>
#include <filesystem>
#include <map>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

namespace conveyor::test {

/// A TCP port that was free a moment ago (bound to port 0 and released).
inline int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// One row as a map of column -> value (a number, a string, or nil as monostate).
using row_value = std::variant<std::monostate, double, std::string>;

inline std::string pack_row(const std::map<std::string, row_value>& row) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(static_cast<std::uint32_t>(row.size()));
  for (const auto& [k, v] : row) {
    p.pack(k);
    if (std::holds_alternative<double>(v))
      p.pack(std::get<double>(v));
    else if (std::holds_alternative<std::string>(v))
      p.pack(std::get<std::string>(v));
    else
      p.pack_nil();
  }
  return std::string(buffer.data(), buffer.size());
}

class nats_test_server {
public:
  explicit nats_test_server(const std::string& store_dir)
      : store_dir_(store_dir), port_(free_tcp_port()) {
    std::filesystem::create_directories(store_dir);
    start();
  }
  ~nats_test_server() { stop(); }

  /// Kills the server (SIGKILL: an outage, not a shutdown) and starts it again on the
  /// same port and store.
  void restart() {
    stop();
    start();
  }
  nats_test_server(const nats_test_server&) = delete;
  nats_test_server& operator=(const nats_test_server&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  void create_stream(const std::string& name, const std::string& subject) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    const char* subjects[] = {subject.c_str()};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo* info = nullptr;
    jsErrCode err;
    if (js_AddStream(&info, js_, &config, nullptr, &err) != NATS_OK)
      throw std::runtime_error("cannot create stream " + name);
    jsStreamInfo_Destroy(info);
  }

  /// Publishes `bytes`; returns the stream sequence.
  std::uint64_t publish(const std::string& subject, const std::string& bytes) {
    jsPubAck* ack = nullptr;
    jsErrCode err;
    if (js_Publish(&ack, js_, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()),
                   nullptr, &err) != NATS_OK)
      throw std::runtime_error("cannot publish to " + subject);
    auto seq = ack->Sequence;
    jsPubAck_Destroy(ack);
    return seq;
  }

  /// The stream sequence a durable consumer is acknowledged through (0: none or no consumer).
  std::uint64_t ack_floor(const std::string& stream, const std::string& durable) {
    jsConsumerInfo* info = nullptr;
    jsErrCode err;
    if (js_GetConsumerInfo(&info, js_, stream.c_str(), durable.c_str(), nullptr, &err) != NATS_OK)
      return 0;
    auto floor = info->AckFloor.Stream;
    jsConsumerInfo_Destroy(info);
    return floor;
  }

private:
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      // Its log goes to a file beside the store (tests read it when they fail).
      int log = ::open((store_dir_ + "/nats-server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND,
                       0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      auto port = std::to_string(port_);
      ::execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port.c_str(), "-sd",
               store_dir_.c_str(), static_cast<char*>(nullptr));
      // Debian installs it in /usr/sbin, which a user's PATH often lacks.
      ::execl("/usr/sbin/nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p",
              port.c_str(), "-sd", store_dir_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (natsConnection_ConnectTo(&connection_, url().c_str()) != NATS_OK) {
      if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid_, nullptr, WNOHANG) != 0)
        throw std::runtime_error("nats-server did not accept connections on " + url());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (natsConnection_JetStream(&js_, connection_, nullptr) != NATS_OK)
      throw std::runtime_error("no JetStream context");
  }

  void stop() {
    jsCtx_Destroy(js_);
    js_ = nullptr;
    natsConnection_Destroy(connection_);
    connection_ = nullptr;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  std::string store_dir_;
  int port_;
  pid_t pid_ = -1;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

} // namespace conveyor::test
