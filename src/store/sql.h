// What both SQL backends share: the versioned migrations, the usage queries, text cleaning and
// the small conversions between C++ values and SQL text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace stratus::store::detail {

enum class Dialect { sqlite, postgres };

struct Migration {
  int version;
  std::string_view sqlite;    // statements separated by ';'
  std::string_view postgres;  // one script, run with PQexec
};
std::span<const Migration> migrations();
int latest_version();

// Both backends write SQL with $1..$N placeholders; SQLite reads them as ?1..?N.
std::string to_sqlite_placeholders(std::string_view sql);

// The insert of one ledger event, 17 parameters in LedgerEvent's field order. A request id
// already stored is skipped.
extern const std::string_view kInsertLedgerRow;
constexpr std::size_t kLedgerParams = 17;

// The usage query for one grouping; $1 is since_ms.
std::string usage_sql(Dialect d, GroupBy by, std::size_t limit);
// The total query for one of key_id|team|task_id; $1 is the value and $2 since_ms. Team and
// task totals count tagged rows only: an empty team or task matches nothing.
core::Result<std::string> total_sql(std::string_view column);

// Valid UTF-8 with no NUL byte: what PostgreSQL text accepts and JSON can carry. Other bytes
// become '?'.
bool is_clean_text(std::string_view s);
std::string clean_text(std::string_view s);
// NaN and infinities become `otherwise`: neither SQL nor JSON carries them portably.
double finite_or(double v, double otherwise);

std::string models_to_json(const std::vector<std::string>& models);
std::vector<std::string> models_from_json(std::string_view json);

std::string to_text(std::int64_t v);
std::string to_text(double v);                   // shortest text that reads back to the same double
std::int64_t int_from_text(std::string_view s);  // 0 for empty/NULL; decimals are truncated
double double_from_text(std::string_view s);     // 0 for empty/NULL

std::int64_t unix_ms_now();

}  // namespace stratus::store::detail
