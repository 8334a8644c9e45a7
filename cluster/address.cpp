#include "cluster/address.hpp"

#include <charconv>

namespace conveyor::cluster {

decoded<address> parse_address(const std::string& text, bool allow_any_port) {
  auto fail = [&](const std::string& why) {
    return decoded<address>::failure("address '" + text + "': " + why);
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return fail("expected HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    return fail("the host is empty");
  auto port_text = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      value > 65535)
    return fail("the port must be a number from 1 to 65535");
  if (value == 0 && !allow_any_port)
    return fail("the port must be a number from 1 to 65535");
  return decoded<address>::success(address{host, static_cast<std::uint16_t>(value)});
}

std::string to_string(const address& a) {
  bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

} // namespace conveyor::cluster
