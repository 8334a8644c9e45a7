// CurveZMQ key files (docs/serving.md, "Transport security"): 32-byte keys written in
// Z85 (40 characters), one per line. Shared by the server (its secret key, the clients it
// admits) and the clients (their own secret key, the server's public key).
//
// File format: a key is the first word of its line (40 Z85 characters), optionally
// followed by blanks and a `#` comment; a line whose first word is not 40 characters
// and starts with `#` is a comment; blank lines are skipped. Anything else is an error
// naming the file and the line. Parsing never throws and never crashes on any input.
#pragma once

#include "base/decoded.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::wire {

using curve_key = std::array<unsigned char, 32>;

/// The 40 Z85 characters of a key; nothing unless `text` is exactly that.
std::optional<curve_key> z85_decode_key(std::string_view text);
std::string z85_encode_key(const curve_key& key);

/// Every key of a key file's text; errors read "FILE:LINE: what is wrong".
decoded<std::vector<curve_key>> parse_curve_key_file(std::string_view text,
                                                     const std::string& file_name);

/// Reads a file that holds exactly one key (`what`: "secret key", "server public key").
decoded<curve_key> load_curve_key(const std::string& path, const std::string& what);
/// Reads a file of allowed client public keys: at least one.
decoded<std::vector<curve_key>> load_curve_key_list(const std::string& path);

} // namespace conveyor::wire
