// Parsing and formatting helpers of the command line.
#include "cli/table.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <unordered_set>

namespace stratus::cli {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Code points, so that a name like "équipe" lines up.
std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

std::expected<std::int64_t, std::string> parse_duration_ms(std::string_view text) {
  const auto bad = [&] {
    return std::unexpected(fmt::format(
        "'{}' is not a duration: use a whole number and a unit, e.g. 90m, 12h, 30d (units: s, m, "
        "h, d, w)",
        printable(text)));
  };
  if (text.size() < 2) return bad();
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60'000;
      break;
    case 'h':
      unit = 3'600'000;
      break;
    case 'd':
      unit = 86'400'000;
      break;
    case 'w':
      unit = 7 * 86'400'000LL;
      break;
    default:
      return bad();
  }
  const auto digits = text.substr(0, text.size() - 1);
  if (!all_digits(digits)) return bad();
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() ||
      value > std::numeric_limits<std::int64_t>::max() / unit) {
    return std::unexpected(fmt::format("duration '{}' is too long", printable(text)));
  }
  if (value == 0) return std::unexpected(fmt::format("duration '{}' must not be zero", text));
  return value * unit;
}

std::expected<std::int64_t, std::string> parse_since_ms(std::string_view text,
                                                        std::int64_t now_ms) {
  if (text == "all") return 0;
  auto d = parse_duration_ms(text);
  if (!d) return std::unexpected(d.error() + ", or all");
  return *d >= now_ms ? 0 : now_ms - *d;
}

std::expected<long, std::string> parse_positive_int(std::string_view text) {
  long value = 0;
  if (all_digits(text)) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
      return std::unexpected(fmt::format("'{}' is too large", text));
    }
    if (ec == std::errc() && end == text.data() + text.size() && value > 0) return value;
  }
  return std::unexpected(fmt::format("'{}' is not a positive whole number", printable(text)));
}

std::expected<double, std::string> parse_positive_number(std::string_view text) {
  double value = 0;
  const bool plain = !text.empty() && text.find_first_not_of("0123456789.eE+-") ==
                                          std::string_view::npos;  // no inf, nan, hex
  if (plain) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(value) &&
        value > 0) {
      return value;
    }
  }
  return std::unexpected(fmt::format("'{}' is not a positive number", printable(text)));
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty() && seen.insert(item).second) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_money(double usd) {
  const double cents = usd * 100;
  if (std::fabs(cents - std::round(cents)) < 1e-6) return fmt::format("${:.2f}", usd);
  std::string s = fmt::format("{:.6f}", usd);
  while (s.size() > 2 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
  return "$" + s;
}

std::string format_span_ms(std::int64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", std::max<std::int64_t>(ms, 0));
  const std::int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{}m", s / 3600, s / 60 % 60);
  return fmt::format("{}d{}h", s / 86400, s / 3600 % 24);
}

std::string format_utc_minute(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "?";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min);
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return out;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (auto& c : cells) c = printable(c);
  rows_.push_back(std::move(cells));
}

void Table::add_rule() { rows_.emplace_back(); }

std::string Table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& c : columns_) widths.push_back(display_width(c.title));
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::size_t pad = widths[i] - display_width(cells[i]);
      if (i > 0) out += "  ";
      if (columns_[i].align == Align::right) {
        out.append(pad, ' ');
        out += cells[i];
      } else {
        out += cells[i];
        out.append(pad, ' ');
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : columns_) titles.push_back(c.title);
  std::string out = line(titles);
  for (const auto& row : rows_) {
    if (!row.empty()) {
      out += line(row);
      continue;
    }
    std::size_t total = 0;
    for (const auto w : widths) total += w;
    out += std::string(total + 2 * (widths.size() - 1), '-') + "\n";
  }
  return out;
}

}  // namespace stratus::cli
