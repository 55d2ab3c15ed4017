// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as JSON
// parsers and PostgreSQL demand it. Client-controlled text (paths, ids, model names) may hold
// any bytes; the access log and the ledger check it here.
#pragma once

#include <cstddef>
#include <string_view>

namespace stratus::core {

// Length of the valid UTF-8 sequence starting at s[i] (an ASCII byte, NUL included, is 1), or
// 0 if none starts there.
std::size_t utf8_sequence(std::string_view s, std::size_t i);

bool valid_utf8(std::string_view s);

}  // namespace stratus::core
