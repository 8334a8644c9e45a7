#include "wire/curve_keys.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace conveyor::wire {

namespace {

constexpr char alphabet[] =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr std::size_t key_chars = 40;
/// Larger files are refused unread: a list of a million keys is about 40 MiB.
constexpr std::size_t max_file_bytes = std::size_t{64} << 20;

int z85_digit(char c) {
  const char* at = std::strchr(alphabet, c);
  return c != '\0' && at != nullptr ? static_cast<int>(at - alphabet) : -1;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

decoded<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return decoded<std::string>::failure("cannot read '" + path + "': " + std::strerror(errno));
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_file_bytes)
      return decoded<std::string>::failure("'" + path + "' is larger than " +
                                           std::to_string(max_file_bytes >> 20) +
                                           " MiB: not a key file");
  }
  if (in.bad())
    return decoded<std::string>::failure("cannot read '" + path + "': " + std::strerror(errno));
  return decoded<std::string>::success(std::move(text));
}

} // namespace

std::optional<curve_key> z85_decode_key(std::string_view text) {
  if (text.size() != key_chars)
    return std::nullopt;
  curve_key key{};
  for (std::size_t group = 0; group < key_chars / 5; ++group) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      const int d = z85_digit(text[group * 5 + i]);
      if (d < 0)
        return std::nullopt;
      value = value * 85 + static_cast<std::uint64_t>(d);
    }
    if (value > 0xFFFFFFFFu)
      return std::nullopt;
    for (std::size_t i = 0; i < 4; ++i)
      key[group * 4 + i] = static_cast<unsigned char>(value >> (24 - 8 * i));
  }
  return key;
}

std::string z85_encode_key(const curve_key& key) {
  std::string out;
  for (std::size_t group = 0; group < key.size() / 4; ++group) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i)
      value = (value << 8) | key[group * 4 + i];
    char chunk[5];
    for (int i = 4; i >= 0; --i) {
      chunk[i] = alphabet[value % 85];
      value /= 85;
    }
    out.append(chunk, 5);
  }
  return out;
}

decoded<std::vector<curve_key>> parse_curve_key_file(std::string_view text,
                                                     const std::string& file_name) {
  using result = decoded<std::vector<curve_key>>;
  std::vector<curve_key> keys;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    if (end == std::string_view::npos)
      end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    std::size_t i = 0;
    while (i < line.size() && blank(line[i]))
      ++i;
    std::size_t word_end = i;
    while (word_end < line.size() && !blank(line[word_end]))
      ++word_end;
    const std::string_view word = line.substr(i, word_end - i);
    const auto where = file_name + ":" + std::to_string(line_no) + ": ";
    if (word.empty())
      continue;
    if (word.size() != key_chars) {
      if (word.front() == '#')
        continue;
      return result::failure(where + "expected a key of 40 Z85 characters, found " +
                             std::to_string(word.size()) + " characters");
    }
    auto key = z85_decode_key(word);
    if (!key)
      return result::failure(where + "not a Z85 key (a character outside Z85, or a group "
                                     "of five beyond 32 bits)");
    std::size_t rest = word_end;
    while (rest < line.size() && blank(line[rest]))
      ++rest;
    if (rest < line.size() && line[rest] != '#')
      return result::failure(where + "text after the key (a comment starts with #)");
    keys.push_back(*key);
  }
  return result::success(std::move(keys));
}

decoded<curve_key> load_curve_key(const std::string& path, const std::string& what) {
  auto text = read_file(path);
  if (!text)
    return decoded<curve_key>::failure(what + ": " + text.error);
  auto keys = parse_curve_key_file(*text.value, path);
  if (!keys)
    return decoded<curve_key>::failure(what + ": " + keys.error);
  if (keys.value->size() != 1)
    return decoded<curve_key>::failure(what + ": '" + path + "' holds " +
                                       std::to_string(keys.value->size()) +
                                       " keys; it must hold exactly one");
  return decoded<curve_key>::success(keys.value->front());
}

decoded<std::vector<curve_key>> load_curve_key_list(const std::string& path) {
  using result = decoded<std::vector<curve_key>>;
  auto text = read_file(path);
  if (!text)
    return result::failure(text.error);
  auto keys = parse_curve_key_file(*text.value, path);
  if (keys && keys.value->empty())
    return result::failure("'" + path + "' holds no key (one Z85 public key per line)");
  return keys;
}

} // namespace conveyor::wire
