// $ budgets: reservations, settle, periods, preload, and no overshoot under 100 threads.
#include "governance/budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <random>
#include <thread>

namespace g = stratus::governance;

namespace {

using Scopes = std::vector<g::BudgetScope>;

// 2024-02-15T12:00:00Z and friends, in unix ms.
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kFeb15Noon = 1'707'998'400'000;
constexpr std::int64_t kFeb1 = 1'706'745'600'000;
constexpr std::int64_t kMar1 = 1'709'251'200'000;
constexpr std::int64_t kDec31_2023 = 1'703'980'800'000;  // 00:00
constexpr std::int64_t kJan1_2024 = 1'704'067'200'000;

}  // namespace

TEST(Budget, PeriodBounds_UtcDayAndCalendarMonth) {
  EXPECT_EQ(g::period_bounds(g::Period::day, kFeb15Noon).start_ms, kFeb15Noon - kDay / 2);
  EXPECT_EQ(g::period_bounds(g::Period::day, kFeb15Noon).end_ms, kFeb15Noon + kDay / 2);
  EXPECT_EQ(g::period_bounds(g::Period::month, kFeb15Noon).start_ms, kFeb1);
  EXPECT_EQ(g::period_bounds(g::Period::month, kFeb15Noon).end_ms, kMar1);  // leap February
  EXPECT_EQ(g::period_bounds(g::Period::month, kDec31_2023 + 5).end_ms, kJan1_2024);
  EXPECT_EQ(g::period_bounds(g::Period::month, kJan1_2024).start_ms, kJan1_2024);
  EXPECT_EQ(g::parse_period("day"), g::Period::day);
  EXPECT_EQ(g::parse_period("month"), g::Period::month);
  EXPECT_FALSE(g::parse_period("week"));
}

TEST(Budget, ReserveRefusesWhatWouldExceed_SettleReplacesReservation) {
  g::Budgets b;
  const Scopes s{{"key:k", 1.0, g::Period::day}};
  const auto r1 = b.reserve(s, 0.6, kFeb15Noon);
  ASSERT_TRUE(r1.allowed);
  EXPECT_EQ(r1.reserved, 600'000'000);
  const auto r2 = b.reserve(s, 0.5, kFeb15Noon);
  EXPECT_FALSE(r2.allowed);
  EXPECT_EQ(r2.scope, "key:k");
  EXPECT_DOUBLE_EQ(r2.reserved_usd, 0.6);
  EXPECT_DOUBLE_EQ(r2.budget_usd, 1.0);
  EXPECT_EQ(r2.resets_at_ms, kFeb15Noon + kDay / 2);
  EXPECT_TRUE(b.reserve(s, 0.4, kFeb15Noon).allowed);  // exactly the budget is allowed
  b.settle(s, r1.reserved, 0.2, kFeb15Noon);
  const auto st = b.state("key:k", kFeb15Noon);
  ASSERT_TRUE(st);
  EXPECT_DOUBLE_EQ(st->spent_usd, 0.2);
  EXPECT_DOUBLE_EQ(st->reserved_usd, 0.4);
  EXPECT_TRUE(b.reserve(s, 0.4, kFeb15Noon).allowed);
  EXPECT_FALSE(b.reserve(s, 0.000001, kFeb15Noon).allowed);
}

TEST(Budget, AllOrNothing_OverKeyAndTeam) {
  g::Budgets b;
  const Scopes both{{"key:k", 10.0, g::Period::month}, {"team:t", 1.0, g::Period::month}};
  ASSERT_TRUE(b.reserve(both, 0.8, kFeb15Noon).allowed);
  const auto d = b.reserve(both, 0.5, kFeb15Noon);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.scope, "team:t");
  EXPECT_DOUBLE_EQ(b.state("key:k", kFeb15Noon)->reserved_usd, 0.8);  // nothing taken
}

TEST(Budget, DayRollover_SpentResetsReservationsStay) {
  g::Budgets b;
  const Scopes s{{"key:k", 1.0, g::Period::day}};
  const auto r = b.reserve(s, 0.3, kFeb15Noon);
  b.settle(s, b.reserve(s, 0.5, kFeb15Noon).reserved, 0.5, kFeb15Noon);
  EXPECT_FALSE(b.reserve(s, 0.3, kFeb15Noon).allowed);
  const auto next_day = kFeb15Noon + kDay;
  EXPECT_TRUE(b.reserve(s, 0.7, next_day).allowed);  // 0 spent + 0.3 in flight + 0.7
  b.settle(s, r.reserved, 0.1, next_day);            // lands in the day it settles
  const auto st = b.state("key:k", next_day);
  EXPECT_DOUBLE_EQ(st->spent_usd, 0.1);
  EXPECT_DOUBLE_EQ(st->reserved_usd, 0.7);
  EXPECT_EQ(st->period_start_ms, kFeb15Noon + kDay / 2);
}

TEST(Budget, MonthRollover) {
  g::Budgets b;
  const Scopes s{{"team:t", 5.0, g::Period::month}};
  b.settle(s, b.reserve(s, 5.0, kFeb15Noon).reserved, 5.0, kFeb15Noon);
  EXPECT_FALSE(b.reserve(s, 0.01, kMar1 - 1).allowed);
  EXPECT_TRUE(b.reserve(s, 0.01, kMar1).allowed);
}

TEST(Budget, Preload_SeedsSpentFromTheLedger) {
  g::Budgets b;
  b.preload("key:k", g::Period::month, 9.5, kFeb15Noon);
  const Scopes s{{"key:k", 10.0, g::Period::month}};
  EXPECT_FALSE(b.reserve(s, 0.6, kFeb15Noon).allowed);
  EXPECT_TRUE(b.reserve(s, 0.5, kFeb15Noon).allowed);
  EXPECT_TRUE(b.reserve(s, 0.6, kMar1).allowed);  // the preload was February's
}

TEST(Budget, WouldExceed_ForStreamsCrossingTheBudget) {
  g::Budgets b;
  const Scopes s{{"key:k", 1.0, g::Period::day}};
  ASSERT_TRUE(b.reserve(s, 0.5, kFeb15Noon).allowed);
  EXPECT_FALSE(b.would_exceed(s, 0.5, kFeb15Noon));
  EXPECT_TRUE(b.would_exceed(s, 0.500001, kFeb15Noon));
}

TEST(Budget, ZeroBudget_RefusesEverything) {
  g::Budgets b;
  EXPECT_FALSE(b.reserve(Scopes{{"key:k", 0, g::Period::day}}, 0.000001, 0).allowed);
}

TEST(Budget, Nanos_RoundTripAndClamp) {
  EXPECT_EQ(g::usd_to_nanos(1.5), 1'500'000'000);
  EXPECT_EQ(g::usd_to_nanos(-3), 0);
  EXPECT_EQ(g::usd_to_nanos(std::nan("")), 0);
  EXPECT_DOUBLE_EQ(g::nanos_to_usd(2'500'000'000), 2.5);
}

// 100 requests at once, each reserving $0.05 of a $1 budget: exactly 20 are admitted.
TEST(Budget, Concurrent100Reservations_ExactlyWhatFits) {
  for (int round = 0; round < 10; ++round) {
    g::Budgets b;
    std::atomic<int> admitted{0};
    std::barrier start(100);
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        const Scopes s{{"key:k", 1.0, g::Period::day}, {"team:t", 100.0, g::Period::month}};
        if (b.reserve(s, 0.05, kFeb15Noon).allowed) admitted.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(admitted.load(), 20) << round;
  }
}

// The proof: 100 concurrent clients reserve their worst case and settle with a real
// cost up to it, over and over; the budget is never overshot (not even by one request), and
// what is left afterwards is exactly the budget minus what was spent.
TEST(Budget, Concurrent100Clients_NeverOvershoot) {
  g::Budgets b;
  constexpr double kBudget = 5.0;
  constexpr double kMaxWorst = 0.05;
  std::atomic<long> spent_nanos{0};
  std::barrier start(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      std::uniform_real_distribution<double> worst(0.001, kMaxWorst);
      std::uniform_real_distribution<double> share(0.5, 1.0);
      const Scopes s{{"key:k", kBudget, g::Period::day}};
      start.arrive_and_wait();
      for (int refused = 0; refused < 20;) {
        const double w = worst(rng);
        const auto r = b.reserve(s, w, kFeb15Noon);
        if (!r.allowed) {
          ++refused;
          continue;
        }
        const double actual = i % 2 == 0 ? w : w * share(rng);  // half always hit their worst
        spent_nanos.fetch_add(g::usd_to_nanos(actual));
        b.settle(s, r.reserved, actual, kFeb15Noon);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto st = b.state("key:k", kFeb15Noon);
  ASSERT_TRUE(st);
  EXPECT_DOUBLE_EQ(st->reserved_usd, 0);
  EXPECT_EQ(g::usd_to_nanos(st->spent_usd), spent_nanos.load());
  EXPECT_LE(st->spent_usd, kBudget);
  EXPECT_GT(st->spent_usd, 0.5);
  const g::Nanos left = g::usd_to_nanos(kBudget) - spent_nanos.load();
  const Scopes s{{"key:k", kBudget, g::Period::day}};
  EXPECT_FALSE(b.reserve(s, g::nanos_to_usd(left + 1), kFeb15Noon).allowed);
  EXPECT_TRUE(b.reserve(s, g::nanos_to_usd(left), kFeb15Noon).allowed);
}
