// Base64 (RFC 4648, standard alphabet, padded) encode and decode.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stratus::core {

std::string base64_encode(std::string_view bytes);
// nullopt on a character outside the alphabet or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace stratus::core
