// The request-head fast path (see head.h).
#include "http/head.h"

#include <array>
#include <cstring>

#include "core/ascii.h"

namespace stratus::http {

namespace {

// RFC 9110 tchar: what a method or a field name is made of.
constexpr std::array<bool, 256> kToken = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// What a field value may hold here: printable ASCII, SP and HTAB (Beast also takes obs-text).
constexpr std::array<bool, 256> kValue = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c <= 0x7e; ++c) t[c] = true;
  t['\t'] = true;
  return t;
}();

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool all_token(const char* p, const char* e) {
  auto t = [](char c) { return kToken[static_cast<unsigned char>(c)]; };
  bool ok = true;
  for (; e - p >= 4; p += 4) ok &= t(p[0]) & t(p[1]) & t(p[2]) & t(p[3]);
  for (; p < e; ++p) ok &= t(*p);
  return ok;
}

// True when every byte of [p, e) is printable ASCII (0x20-0x7e), eight at a time.
bool printable(const char* p, const char* e) {
  if (e - p >= 8) {
    for (; e - p > 8; p += 8) {
      if (!core::printable8(core::load8(p))) return false;
    }
    return core::printable8(core::load8(e - 8));  // the last eight, overlapping what was seen
  }
  for (; p < e; ++p) {
    auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

namespace {

// The fields after a start line, up to and past the blank line, under the rules in head.h.
// Returns false to decline (incomplete, unusual or invalid).
// `chunked`: null for a request (Transfer-Encoding declines it); for a response, set when its
// one Transfer-Encoding is exactly "chunked" (anything else declines).
bool parse_simple_fields(const char*& p, const char* end, HeadFields& fields,
                         std::optional<std::uint64_t>& content_length, bool& keep_alive,
                         bool* chunked) {
  for (;;) {
    if (end - p < 2) return false;  // incomplete (or over max_size)
    if (p[0] == '\r') {
      if (p[1] != '\n') return false;
      p += 2;
      return true;
    }
    // The name: up to the colon, all token bytes (checked four at a time, no branch per byte).
    const char* n = p;
    p = static_cast<const char*>(std::memchr(n, ':', static_cast<std::size_t>(end - n)));
    if (!p || p == n || !all_token(n, p)) return false;
    std::string_view name(n, static_cast<std::size_t>(p - n));
    ++p;
    while (p < end && is_blank(*p)) ++p;
    const char* v = p;
    p = static_cast<const char*>(std::memchr(v, '\r', static_cast<std::size_t>(end - v)));
    if (!p) return false;
    if (!printable(v, p)) {  // a tab, or a byte that sends the head to Beast
      for (const char* q = v; q < p; ++q) {
        if (!kValue[static_cast<unsigned char>(*q)]) return false;
      }
    }
    // The line must end in CRLF, and the next one must not be a continuation (obs-fold).
    if (end - p < 3 || p[0] != '\r' || p[1] != '\n' || is_blank(p[2])) return false;
    const char* ve = p;
    while (ve > v && is_blank(ve[-1])) --ve;
    std::string_view value(v, static_cast<std::size_t>(ve - v));
    p += 2;

    if (iequal_ascii(name, "content-length")) {
      if (content_length || value.empty() || value.size() > 15) return false;
      std::uint64_t len = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        len = len * 10 + static_cast<std::uint64_t>(c - '0');
      }
      content_length = len;
    } else if (iequal_ascii(name, "connection")) {
      if (iequal_ascii(value, "close")) {
        keep_alive = false;
      } else if (!iequal_ascii(value, "keep-alive")) {
        return false;
      }
    } else if (iequal_ascii(name, "transfer-encoding")) {
      if (!chunked || *chunked || !iequal_ascii(value, "chunked")) return false;
      *chunked = true;
    } else if (iequal_ascii(name, "upgrade") || iequal_ascii(name, "expect")) {
      return false;
    }
    fields.add(name, value);
  }
}

constexpr std::string_view kVersion = "HTTP/1.1";

}  // namespace

std::optional<SimpleHead> parse_simple_request(std::string_view text, std::size_t max_size,
                                               HeadFields& fields) {
  if (text.size() > max_size) text = text.substr(0, max_size);
  const char* p = text.data();
  const char* end = p + text.size();
  SimpleHead h;

  // Request line.
  const char* m = p;
  while (p < end && kToken[static_cast<unsigned char>(*p)]) ++p;
  if (p == m || p >= end || *p != ' ') return std::nullopt;
  h.method = {m, static_cast<std::size_t>(p - m)};
  const char* t = ++p;
  p = static_cast<const char*>(std::memchr(t, ' ', static_cast<std::size_t>(end - t)));
  if (!p || p == t || !printable(t, p)) return std::nullopt;  // (no SP before p)
  h.target = {t, static_cast<std::size_t>(p - t)};
  ++p;
  if (static_cast<std::size_t>(end - p) < kVersion.size() + 2 ||
      std::memcmp(p, kVersion.data(), kVersion.size()) != 0 || p[kVersion.size()] != '\r' ||
      p[kVersion.size() + 1] != '\n') {
    return std::nullopt;
  }
  p += kVersion.size() + 2;

  std::optional<std::uint64_t> length;
  if (!parse_simple_fields(p, end, fields, length, h.keep_alive, nullptr)) return std::nullopt;
  h.content_length = length.value_or(0);
  h.size = static_cast<std::size_t>(p - text.data());
  return h;
}

std::optional<SimpleResponseHead> parse_simple_response(std::string_view text, std::size_t max_size,
                                                        HeadFields& fields) {
  if (text.size() > max_size) text = text.substr(0, max_size);
  const char* p = text.data();
  const char* end = p + text.size();
  SimpleResponseHead h;

  // Status line: "HTTP/1.1 ddd reason CRLF".
  if (static_cast<std::size_t>(end - p) < kVersion.size() + 5 ||
      std::memcmp(p, kVersion.data(), kVersion.size()) != 0) {
    return std::nullopt;
  }
  p += kVersion.size();
  if (p[0] != ' ' || p[4] != ' ') return std::nullopt;
  for (int i = 1; i <= 3; ++i) {
    if (p[i] < '0' || p[i] > '9') return std::nullopt;
    h.status = h.status * 10 + static_cast<unsigned>(p[i] - '0');
  }
  // With a body of its Content-Length: not 1xx, 204 or 304 (Beast knows those rules).
  if (h.status < 200 || h.status > 599 || h.status == 204 || h.status == 304) return std::nullopt;
  const char* r = p + 5;
  p = static_cast<const char*>(std::memchr(r, '\r', static_cast<std::size_t>(end - r)));
  if (!p || end - p < 2 || p[1] != '\n' || !printable(r, p)) return std::nullopt;
  p += 2;

  std::optional<std::uint64_t> length;
  if (!parse_simple_fields(p, end, fields, length, h.keep_alive, &h.chunked)) return std::nullopt;
  // Exactly one way to frame the body (both at once is how requests get smuggled: Beast's).
  if (h.chunked == length.has_value()) return std::nullopt;
  h.content_length = length.value_or(0);
  h.size = static_cast<std::size_t>(p - text.data());
  return h;
}

}  // namespace stratus::http
