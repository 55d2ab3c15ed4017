// Small parsing and formatting helpers of the command line: durations ("30d"), strict numbers,
// comma lists, money and UTC times, and plain-text tables with aligned columns.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::cli {

// "90s", "90m", "12h", "30d", "2w" → milliseconds. A positive integer and one unit; nothing
// else (no "1.5h", no "1h30m", no bare number).
std::expected<std::int64_t, std::string> parse_duration_ms(std::string_view text);

// `--since`: a duration back from now_ms, or "all" (0: the beginning of time).
std::expected<std::int64_t, std::string> parse_since_ms(std::string_view text, std::int64_t now_ms);

// A positive decimal integer without sign, spaces or exponent ("60"; not "0", "-1", "6e1").
std::expected<long, std::string> parse_positive_int(std::string_view text);

// A positive finite decimal number ("50", "0.25", "1e-3"); not "0", "-1", "inf", "nan", "$5".
std::expected<double, std::string> parse_positive_number(std::string_view text);

// "a, b,,c" → {"a", "b", "c"}: split at commas, trimmed, empty items dropped, duplicates kept
// once in first-seen order.
std::vector<std::string> split_list(std::string_view text);

// "$50.00" for whole cents, else up to 6 decimals without trailing zeros ("$0.0015").
std::string format_money(double usd);

// A span for people: "850ms", "42s", "3m12s", "2h5m", "3d4h".
std::string format_span_ms(std::int64_t ms);

// Unix milliseconds as "YYYY-MM-DD HH:MM" in UTC.
std::string format_utc_minute(std::int64_t ms);

// Text made safe for a terminal table: control characters become '?'.
std::string printable(std::string_view text);

// A plain-text table: a header row, then rows; columns separated by two spaces, each as wide as
// its widest cell (in UTF-8 code points), numbers right-aligned. No trailing spaces.
class Table {
 public:
  enum class Align { left, right };
  struct Column {
    std::string title;
    Align align = Align::left;
  };

  explicit Table(std::vector<Column> columns);
  // A row with exactly one cell per column (missing cells are blank, extra ones dropped).
  void add(std::vector<std::string> cells);
  // A horizontal rule of dashes across every column (before a total line).
  void add_rule();
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a rule
};

}  // namespace stratus::cli
