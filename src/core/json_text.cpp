#include "core/json_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/ascii.h"
#include "core/utf8.h"

namespace stratus::core {
namespace {

// 1: a byte that can be copied as it is (printable ASCII but the quote and the backslash).
constexpr auto kPlain = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = 1;
  t['"'] = 0;
  t['\\'] = 0;
  return t;
}();

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// The body of a JSON string literal; `ascii_only`: bytes >= 0x80 become '?'.
char* write_escaped(char* p, std::string_view s, bool ascii_only) {
  static constexpr char kHex[] = "0123456789abcdef";
  *p++ = '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || !ascii_only)) continue;
    p = put(p, s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"':
        p = put(p, "\\\"");
        break;
      case '\\':
        p = put(p, "\\\\");
        break;
      case '\n':
        p = put(p, "\\n");
        break;
      case '\r':
        p = put(p, "\\r");
        break;
      case '\t':
        p = put(p, "\\t");
        break;
      default:
        if (c >= 0x80) {
          *p++ = '?';
          break;
        }
        p = put(p, "\\u00");
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
    }
  }
  p = put(p, s.substr(run));
  *p++ = '"';
  return p;
}

// Appends what `write` puts into at most `room` bytes.
template <class Write>
void append_with(std::string& out, std::size_t room, Write write) {
  const std::size_t old = out.size();
  out.resize_and_overwrite(old + room, [&](char* buf, std::size_t) {
    return static_cast<std::size_t>(write(buf + old) - buf);
  });
}

}  // namespace

char* write_json_string(char* p, std::string_view s) { return write_escaped(p, s, false); }

char* write_json_text(char* p, std::string_view s) {
  // The usual text (ids, paths, names) is plain ASCII: checked eight bytes at a time, then
  // byte by byte, and copied once.
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const std::uint64_t x = load8(s.data() + i);
    if (!printable8(x) || has_byte8(x, '"') || has_byte8(x, '\\')) break;
  }
  while (i < s.size() && kPlain[static_cast<unsigned char>(s[i])]) ++i;
  if (i == s.size()) {
    *p++ = '"';
    p = put(p, s);
    *p++ = '"';
    return p;
  }
  return write_escaped(p, s, !valid_utf8(s));
}

char* write_int(char* p, std::int64_t v) { return std::to_chars(p, p + kIntRoom, v).ptr; }

namespace {
// write_fixed for a known number of decimals: the divisions by 10^D are by a constant, which
// the compiler turns into multiplications (a run-time divisor costs a real division each).
template <int D>
char* write_fixed_d(char* p, double v) {
  constexpr std::int64_t scale = [] {
    std::int64_t s = 1;
    for (int i = 0; i < D; ++i) s *= 10;
    return s;
  }();
  const double limit = static_cast<double>(std::numeric_limits<std::int64_t>::max()) /
                       static_cast<double>(scale) / 2;
  if (!std::isfinite(v)) v = 0;
  if (v > limit) v = limit;
  if (v < -limit) v = -limit;
  double scaled = std::round(std::fabs(v) * static_cast<double>(scale));
  auto units = static_cast<std::int64_t>(scaled);
  if (v < 0 && units != 0) *p++ = '-';
  p = write_int(p, units / scale);
  if constexpr (D == 0) {
    return p;
  } else {
    *p++ = '.';
    auto rest = units % scale;
    for (int i = D - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + rest % 10);
      rest /= 10;
    }
    return p + D;
  }
}
}  // namespace

char* write_fixed(char* p, double v, int decimals) {
  switch (decimals < 0 ? 0 : decimals > 9 ? 9 : decimals) {
    case 0:
      return write_fixed_d<0>(p, v);
    case 1:
      return write_fixed_d<1>(p, v);
    case 2:
      return write_fixed_d<2>(p, v);
    case 3:
      return write_fixed_d<3>(p, v);
    case 4:
      return write_fixed_d<4>(p, v);
    case 5:
      return write_fixed_d<5>(p, v);
    case 6:
      return write_fixed_d<6>(p, v);
    case 7:
      return write_fixed_d<7>(p, v);
    case 8:
      return write_fixed_d<8>(p, v);
    default:
      return write_fixed_d<9>(p, v);
  }
}

void append_json_string(std::string& out, std::string_view s) {
  append_with(out, json_text_room(s), [&](char* p) { return write_json_string(p, s); });
}

void append_json_text(std::string& out, std::string_view s) {
  append_with(out, json_text_room(s), [&](char* p) { return write_json_text(p, s); });
}

void append_int(std::string& out, std::int64_t v) {
  char buf[kIntRoom];
  out.append(buf, write_int(buf, v));
}

void append_fixed(std::string& out, double v, int decimals) {
  char buf[kFixedRoom];
  out.append(buf, write_fixed(buf, v, decimals));
}

}  // namespace stratus::core
