// The raw ZeroMQ baseline of bench/cluster: one process PUSHes N messages of B bytes,
// another PULLs them; the puller prints {"messages":N,"bytes":...,"seconds":...,"mb_per_s":...}
// timed from its first message to its last.
//   zmq_pushpull pull ENDPOINT N [HWM]
//   zmq_pushpull push ENDPOINT N BYTES [HWM]
// HWM (default 64) is the sockets' high-water mark, like the runtime's credits.
#include <zmq.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4 || (std::strcmp(argv[1], "push") == 0 && argc < 5)) {
    std::fprintf(stderr, "usage: %s pull ENDPOINT N [HWM] | push ENDPOINT N BYTES [HWM]\n",
                 argv[0]);
    return 2;
  }
  bool push = std::strcmp(argv[1], "push") == 0;
  long n = std::atol(argv[3]);
  void* ctx = zmq_ctx_new();
  void* sock = zmq_socket(ctx, push ? ZMQ_PUSH : ZMQ_PULL);
  const int hwm_arg = push ? 5 : 4;
  int hwm = argc > hwm_arg ? std::atoi(argv[hwm_arg]) : 64; // like the runtime's credits
  zmq_setsockopt(sock, push ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof hwm);
  if ((push ? zmq_connect(sock, argv[2]) : zmq_bind(sock, argv[2])) != 0) {
    std::fprintf(stderr, "%s: %s\n", argv[2], zmq_strerror(zmq_errno()));
    return 1;
  }
  if (push) {
    std::vector<char> payload(static_cast<std::size_t>(std::atol(argv[4])), 'x');
    for (long i = 0; i < n; ++i)
      if (zmq_send(sock, payload.data(), payload.size(), 0) < 0)
        return 1;
  } else {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    double bytes = 0;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      if (zmq_msg_recv(&msg, sock, 0) < 0)
        return 1;
      if (i == 0)
        start = std::chrono::steady_clock::now();
      bytes += static_cast<double>(zmq_msg_size(&msg));
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("{\"messages\":%ld,\"bytes\":%.0f,\"seconds\":%.6f,\"mb_per_s\":%.1f}\n", n, bytes,
                s, bytes / 1e6 / (s > 0 ? s : 1e-9));
    zmq_msg_close(&msg);
  }
  int linger = push ? -1 : 0;
  zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(sock);
  zmq_ctx_term(ctx);
  return 0;
}
