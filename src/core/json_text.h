// JSON text written by hand into a std::string, for the hot paths (stream chunks, access-log
// lines) where a json::object tree would cost a dozen allocations per call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stratus::core {

// Appends `s` as a JSON string literal, escaping quotes, backslashes and control characters.
// The bytes are copied as they are: the caller guarantees UTF-8 (see append_json_text).
void append_json_string(std::string& out, std::string_view s);

// Like append_json_string, for text from outside (paths, ids): when `s` is not strict UTF-8
// (core::valid_utf8), every byte >= 0x80 is written as '?', so the result is always valid JSON.
void append_json_text(std::string& out, std::string_view s);

void append_int(std::string& out, std::int64_t v);

// `v` with exactly `decimals` digits after the point (0..9), rounded half away from zero,
// never in exponent form; values beyond ±9.2e18 / 10^decimals are clamped.
void append_fixed(std::string& out, double v, int decimals);

}  // namespace stratus::core
