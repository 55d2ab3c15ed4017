// Spending budgets in US$ per scope ("key:k_1", "team:t") per period (UTC day or calendar
// month). Admission reserves the request's worst-case cost (prompt estimate + max output at the
// model's price) and is refused when spent + reserved + this reservation > budget; `settle`
// replaces the reservation with the real cost after the answer. So while reservations are
// honest upper bounds, the spent total never exceeds the budget, however many requests run at
// once; a request whose real cost exceeds its reservation (the prompt estimate was low) can
// overshoot by that difference only.
//
// Money is kept in integer nano-dollars (no rounding drift; $9.2e9 of headroom). A period rolls
// over on the first operation after its end: spent starts at 0, reservations in flight are kept
// and their cost lands in the period in which they settle. `preload` seeds the current period's
// spent total from the ledger at start.
//
// Thread-safe with the same sharded locking as RateLimiter (budget.h scopes are independent of
// limiter scopes); reserve is all-or-nothing over its scopes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "governance/shards.h"

namespace stratus::governance {

using Nanos = std::int64_t;  // 1e-9 US$
Nanos usd_to_nanos(double usd);
double nanos_to_usd(Nanos n);

enum class Period { day, month };
std::optional<Period> parse_period(std::string_view s);  // "day" | "month"
std::string_view period_name(Period p);

// The UTC period containing `now_ms`: [start_ms, end_ms).
struct PeriodBounds {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};
PeriodBounds period_bounds(Period p, std::int64_t now_ms);

struct BudgetScope {
  std::string_view scope;
  double budget_usd = 0;  // the limit for one period (0 refuses every request)
  Period period = Period::month;
};

struct BudgetDecision {
  bool allowed = false;
  std::string scope;  // the refusing scope
  double spent_usd = 0;
  double reserved_usd = 0;
  double budget_usd = 0;
  std::int64_t resets_at_ms = 0;  // end of the refusing scope's period
  Nanos reserved = 0;             // the amount reserved (pass it back to settle)
};

struct BudgetState {
  double spent_usd = 0;
  double reserved_usd = 0;
  double budget_usd = 0;
  Period period = Period::month;
  std::int64_t period_start_ms = 0;
  std::int64_t resets_at_ms = 0;
};

class Budgets {
 public:
  // Reserves `cost_usd` on every scope, or nothing.
  BudgetDecision reserve(std::span<const BudgetScope> scopes, double cost_usd, std::int64_t now_ms);

  // After the answer: releases `reserved` (from the decision) and adds the real cost.
  void settle(std::span<const BudgetScope> scopes, Nanos reserved, double actual_usd,
              std::int64_t now_ms);

  // Whether spending `extra_usd` more now would take any scope past its budget (a stream
  // passes what it has produced beyond its own reservation).
  bool would_exceed(std::span<const BudgetScope> scopes, double extra_usd, std::int64_t now_ms);

  // Sets the spent total of `scope`'s current period (from the ledger, at start).
  void preload(std::string_view scope, Period period, double spent_usd, std::int64_t now_ms);

  std::optional<BudgetState> state(std::string_view scope, std::int64_t now_ms);

 private:
  struct Entry {
    Nanos spent = 0;
    Nanos reserved = 0;
    Nanos budget = 0;
    Period period = Period::month;
    std::int64_t period_start_ms = -1;
    std::int64_t period_end_ms = -1;  // of the period that starts at period_start_ms
  };
  static void roll(Entry& e, Period p, std::int64_t now_ms);

  Shards<Entry> shards_;
};

}  // namespace stratus::governance
