#include "core/json_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/utf8.h"

namespace stratus::core {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.substr(run));
  out += '"';
}

namespace {
// 1: a byte that can be copied as it is (printable ASCII but the quote and the backslash).
constexpr auto kPlain = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = 1;
  t['"'] = 0;
  t['\\'] = 0;
  return t;
}();
}  // namespace

void append_json_text(std::string& out, std::string_view s) {
  // The usual text (ids, paths, names) is plain ASCII: one check per byte, one copy.
  std::size_t i = 0;
  while (i < s.size() && kPlain[static_cast<unsigned char>(s[i])]) ++i;
  if (i == s.size()) {
    out += '"';
    out.append(s);
    out += '"';
    return;
  }
  if (valid_utf8(s)) {
    append_json_string(out, s);
    return;
  }
  std::string ascii(s);
  for (auto& c : ascii) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  append_json_string(out, ascii);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_fixed(std::string& out, double v, int decimals) {
  static constexpr std::int64_t kPow10[] = {1,      10,      100,      1000,      10000,
                                            100000, 1000000, 10000000, 100000000, 1000000000};
  if (decimals < 0) decimals = 0;
  if (decimals > 9) decimals = 9;
  if (!std::isfinite(v)) v = 0;
  const auto scale = kPow10[decimals];
  const double limit = static_cast<double>(std::numeric_limits<std::int64_t>::max()) /
                       static_cast<double>(scale) / 2;
  if (v > limit) v = limit;
  if (v < -limit) v = -limit;
  double scaled = std::round(std::fabs(v) * static_cast<double>(scale));
  auto units = static_cast<std::int64_t>(scaled);
  if (v < 0 && units != 0) out += '-';
  append_int(out, units / scale);
  if (decimals == 0) return;
  out += '.';
  char frac[10];
  auto rest = units % scale;
  for (int i = decimals - 1; i >= 0; --i) {
    frac[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  out.append(frac, static_cast<std::size_t>(decimals));
}

}  // namespace stratus::core
