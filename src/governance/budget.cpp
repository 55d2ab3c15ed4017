// Per-scope $ budgets with reservations and UTC day/month periods (see budget.h).
#include "governance/budget.h"

#include <chrono>
#include <cmath>

namespace stratus::governance {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

template <std::size_t N>
std::array<std::string_view, N> names_of(std::span<const BudgetScope> scopes) {
  std::array<std::string_view, N> names;
  for (std::size_t i = 0; i < scopes.size(); ++i) names[i] = scopes[i].scope;
  return names;
}

}  // namespace

Nanos usd_to_nanos(double usd) {
  if (!std::isfinite(usd) || usd <= 0) return 0;
  if (usd >= 9e9) return static_cast<Nanos>(9e18);
  return std::llround(usd * 1e9);
}

double nanos_to_usd(Nanos n) { return static_cast<double>(n) / 1e9; }

std::optional<Period> parse_period(std::string_view s) {
  if (s == "day") return Period::day;
  if (s == "month") return Period::month;
  return std::nullopt;
}

std::string_view period_name(Period p) { return p == Period::day ? "day" : "month"; }

PeriodBounds period_bounds(Period p, std::int64_t now_ms) {
  const std::int64_t day = floor_div(now_ms, kDayMs);
  if (p == Period::day) return {day * kDayMs, (day + 1) * kDayMs};
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  const year_month ym{ymd.year(), ymd.month()};
  const year_month next = ym + months{1};
  const auto start = sys_days{ym / 1}.time_since_epoch().count();
  const auto end = sys_days{next / 1}.time_since_epoch().count();
  return {static_cast<std::int64_t>(start) * kDayMs, static_cast<std::int64_t>(end) * kDayMs};
}

void Budgets::roll(Entry& e, Period p, std::int64_t now_ms) {
  // Within the entry's period: nothing to roll (the calendar arithmetic is skipped).
  if (e.period == p && now_ms >= e.period_start_ms && now_ms < e.period_end_ms) return;
  const auto b = period_bounds(p, now_ms);
  e.period_end_ms = b.end_ms;
  if (e.period != p) {
    e.period = p;
    e.spent = 0;  // a new kind of period: the old total does not apply
    e.period_start_ms = b.start_ms;
  } else if (b.start_ms > e.period_start_ms) {
    e.spent = 0;
    e.period_start_ms = b.start_ms;
  }
}

BudgetDecision Budgets::reserve(std::span<const BudgetScope> scopes, double cost_usd,
                                std::int64_t now_ms) {
  BudgetDecision d;
  if (scopes.size() > kMaxScopes) {
    d.scope = "too many scopes";
    return d;
  }
  const auto names = names_of<kMaxScopes>(scopes);
  const Shards<Entry>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));
  const Nanos cost = usd_to_nanos(cost_usd);
  std::array<Entry*, kMaxScopes> es{};
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& s = scopes[i];
    auto& e = lock.get(i, [] { return Entry{}; });
    roll(e, s.period, now_ms);
    e.budget = usd_to_nanos(s.budget_usd);
    es[i] = &e;
    if (d.scope.empty() && e.spent + e.reserved + cost > e.budget) {
      d.scope = s.scope;
      d.spent_usd = nanos_to_usd(e.spent);
      d.reserved_usd = nanos_to_usd(e.reserved);
      d.budget_usd = nanos_to_usd(e.budget);
      d.resets_at_ms = period_bounds(s.period, now_ms).end_ms;
    }
  }
  d.allowed = d.scope.empty();
  if (d.allowed) {
    for (std::size_t i = 0; i < scopes.size(); ++i) es[i]->reserved += cost;
    d.reserved = cost;
  }
  return d;
}

void Budgets::settle(std::span<const BudgetScope> scopes, Nanos reserved, double actual_usd,
                     std::int64_t now_ms) {
  if (scopes.size() > kMaxScopes) return;
  const auto names = names_of<kMaxScopes>(scopes);
  const Shards<Entry>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));
  const Nanos actual = usd_to_nanos(actual_usd);
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& s = scopes[i];
    auto& e = lock.get(i, [] { return Entry{}; });
    roll(e, s.period, now_ms);
    e.reserved = std::max<Nanos>(0, e.reserved - reserved);
    e.spent += actual;
  }
}

bool Budgets::would_exceed(std::span<const BudgetScope> scopes, double extra_usd,
                           std::int64_t now_ms) {
  if (scopes.size() > kMaxScopes) return true;
  const auto names = names_of<kMaxScopes>(scopes);
  const Shards<Entry>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));
  const Nanos extra = usd_to_nanos(extra_usd);
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& s = scopes[i];
    auto& e = lock.get(i, [] { return Entry{}; });
    roll(e, s.period, now_ms);
    e.budget = usd_to_nanos(s.budget_usd);
    if (e.spent + e.reserved + extra > e.budget) return true;
  }
  return false;
}

void Budgets::preload(std::string_view scope, Period period, double spent_usd,
                      std::int64_t now_ms) {
  auto& sh = shards_.shard_of(scope);
  const std::scoped_lock lock(sh.mu);
  auto& e = sh.get(scope, [] { return Entry{}; });
  roll(e, period, now_ms);
  e.spent = usd_to_nanos(spent_usd);
}

std::optional<BudgetState> Budgets::state(std::string_view scope, std::int64_t now_ms) {
  auto& sh = shards_.shard_of(scope);
  const std::scoped_lock lock(sh.mu);
  const auto it = sh.map.find(scope);
  if (it == sh.map.end()) return std::nullopt;
  auto& e = it->second;
  roll(e, e.period, now_ms);
  return BudgetState{.spent_usd = nanos_to_usd(e.spent),
                     .reserved_usd = nanos_to_usd(e.reserved),
                     .budget_usd = nanos_to_usd(e.budget),
                     .period = e.period,
                     .period_start_ms = e.period_start_ms,
                     .resets_at_ms = period_bounds(e.period, now_ms).end_ms};
}

}  // namespace stratus::governance
