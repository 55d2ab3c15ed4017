// JSON text written by hand, for the hot paths (stream chunks, access-log lines) where a
// json::object tree would cost a dozen allocations per call.
#pragma once

#include <cstddef>
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

// The same as writers into room the caller has made (one resize for a whole line instead of
// a capacity check per piece). Each returns the end of what it wrote, which is at most:
constexpr std::size_t kIntRoom = 20;    // write_int
constexpr std::size_t kFixedRoom = 32;  // write_fixed
// write_json_string, write_json_text: every byte escaped as \u00XX, and the quotes.
constexpr std::size_t json_text_room(std::string_view s) { return 6 * s.size() + 2; }

char* write_int(char* p, std::int64_t v);
char* write_fixed(char* p, double v, int decimals);
char* write_json_string(char* p, std::string_view s);
char* write_json_text(char* p, std::string_view s);

}  // namespace stratus::core
