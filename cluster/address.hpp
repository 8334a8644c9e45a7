// HOST:PORT as given on the command line and in cluster files.
#pragma once

#include "base/decoded.hpp"

#include <cstdint>
#include <string>

namespace conveyor::cluster {

struct address {
  std::string host;
  std::uint16_t port = 0;
};

/// "HOST:PORT" (an IPv6 host in brackets: "[::1]:7701"); port 0 only if `allow_any_port`
/// (a node asked to pick a free port). The error says what is wrong with `text`.
decoded<address> parse_address(const std::string& text, bool allow_any_port = false);

std::string to_string(const address& a);

} // namespace conveyor::cluster
