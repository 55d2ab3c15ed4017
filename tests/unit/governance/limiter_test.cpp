// RPM/TPM token buckets: exact admission (also under 100 real threads), refill, debt,
// all-or-nothing over scopes, headers.
#include "governance/limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <random>
#include <thread>

namespace g = stratus::governance;

namespace {

using Scopes = std::vector<g::ScopeLimits>;

std::string header(const g::RateDecision& d, std::string_view name) {
  for (const auto& [k, v] : g::rate_limit_headers(d)) {
    if (k == name) return v;
  }
  return "<absent>";
}

}  // namespace

TEST(RateLimiter, Rpm60_Admits60ThenRefusesWithRetryAfter) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 60, 0}};
  for (int i = 0; i < 60; ++i) {
    const auto d = l.admit(s, 10, 1000);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.requests.remaining, 59 - i);
  }
  const auto d = l.admit(s, 10, 1000);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.refused, g::LimitKind::requests);
  EXPECT_EQ(d.scope, "key:k");
  EXPECT_EQ(d.retry_after_s, 1);  // one request refills in 1 s at 60/min
  EXPECT_EQ(d.requests.remaining, 0);
  EXPECT_EQ(d.requests.reset_ms, 60'000);
  EXPECT_FALSE(d.tokens.present);
}

TEST(RateLimiter, RefillsContinuouslyAtLimitPerMinute) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 120, 0}};  // 2 per second
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(l.admit(s, 0, 0).allowed);
  EXPECT_FALSE(l.admit(s, 0, 0).allowed);
  EXPECT_FALSE(l.admit(s, 0, 499).allowed);  // 0.998 of a request
  EXPECT_TRUE(l.admit(s, 0, 500).allowed);
  EXPECT_FALSE(l.admit(s, 0, 999).allowed);
  EXPECT_TRUE(l.admit(s, 0, 1000).allowed);
  // A long idle time fills the bucket to capacity, not beyond.
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(l.admit(s, 0, 10'000'000'000).allowed) << i;
  EXPECT_FALSE(l.admit(s, 0, 10'000'000'000).allowed);
}

TEST(RateLimiter, Tpm_TakesEstimateAndRefusesWhatDoesNotFit) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 0, 1000}};
  auto d = l.admit(s, 600, 0);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.tokens.remaining, 400);
  EXPECT_EQ(d.tokens.limit, 1000);
  EXPECT_EQ(d.tokens.reset_ms, 36'000);  // 600 tokens at 1000/min
  d = l.admit(s, 600, 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.refused, g::LimitKind::tokens);
  EXPECT_EQ(d.retry_after_s, 12);  // 200 missing tokens at 1000/min
  EXPECT_FALSE(d.too_large);
  EXPECT_TRUE(l.admit(s, 400, 0).allowed);
}

TEST(RateLimiter, EstimateAboveTpm_TooLargeWithoutRetryAfter) {
  g::RateLimiter l;
  const auto d = l.admit(Scopes{{"key:k", 10, 1000}}, 1001, 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.too_large);
  EXPECT_EQ(d.refused, g::LimitKind::tokens);
  EXPECT_EQ(d.retry_after_s, 0);
  EXPECT_EQ(header(d, "retry-after"), "<absent>");
  EXPECT_EQ(d.requests.remaining, 10);  // nothing taken
}

TEST(RateLimiter, Reconcile_DebtBlocksUntilRefilled) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 0, 1000}};
  ASSERT_TRUE(l.admit(s, 100, 0).allowed);
  l.reconcile(s, 2000, 0);  // really used 2100: level -1100
  auto d = l.admit(s, 1, 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.tokens.remaining, 0);
  EXPECT_EQ(d.retry_after_s, 67);  // 1101 tokens at 1000/min = 66.06 s
  EXPECT_FALSE(l.admit(s, 1, 66'000).allowed);
  EXPECT_TRUE(l.admit(s, 1, 66'060).allowed);
}

TEST(RateLimiter, Reconcile_NegativeGivesBackUpToCapacity) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 0, 1000}};
  ASSERT_TRUE(l.admit(s, 900, 0).allowed);
  l.reconcile(s, -500, 0);  // estimated 900, used 400
  EXPECT_EQ(l.admit(s, 600, 0).tokens.remaining, 0);
  l.reconcile(s, -5000, 0);
  const auto d = l.admit(s, 0, 0);
  EXPECT_EQ(d.tokens.remaining, 1000);
}

TEST(RateLimiter, AllOrNothing_ARefusingScopeTakesNothingFromTheOthers) {
  g::RateLimiter l;
  const Scopes both{{"key:a", 10, 0}, {"team:t", 1, 0}};
  ASSERT_TRUE(l.admit(both, 0, 0).allowed);
  const auto d = l.admit(both, 0, 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.scope, "team:t");
  EXPECT_EQ(d.requests.limit, 1);  // the tightest scope is reported
  const auto a = l.admit(Scopes{{"key:a", 10, 0}}, 0, 0);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.requests.remaining, 8);  // 10 - first - this one; the refused one took nothing
}

TEST(RateLimiter, RefusedByLongestWait_WhenSeveralScopesRefuse) {
  g::RateLimiter l;
  const Scopes s{{"key:a", 60, 0}, {"team:t", 6, 0}};
  ASSERT_TRUE(l.admit(Scopes{{"key:a", 60, 0}}, 0, 0).allowed);
  for (int i = 0; i < 59; ++i) ASSERT_TRUE(l.admit(Scopes{{"key:a", 60, 0}}, 0, 0).allowed);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(l.admit(Scopes{{"team:t", 6, 0}}, 0, 0).allowed);
  const auto d = l.admit(s, 0, 0);
  EXPECT_EQ(d.scope, "team:t");  // 10 s to wait, against 1 s for key:a
  EXPECT_EQ(d.retry_after_s, 10);
}

TEST(RateLimiter, Release_GivesBackRequestAndTokens) {
  g::RateLimiter l;
  const Scopes s{{"key:k", 2, 100}};
  ASSERT_TRUE(l.admit(s, 80, 0).allowed);
  l.release(s, 80, 0);
  const auto d = l.admit(s, 100, 0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.requests.remaining, 1);
}

TEST(RateLimiter, LimitChange_TakesEffectAtOnce) {
  g::RateLimiter l;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(l.admit(Scopes{{"key:k", 10, 0}}, 0, 0).allowed);
  // Lowered to 5: the 7 left are clamped to 5.
  auto d = l.admit(Scopes{{"key:k", 5, 0}}, 0, 0);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.requests.remaining, 4);
  // No limit any more: admitted without a bucket; limited again: a full bucket.
  EXPECT_TRUE(l.admit(Scopes{{"key:k", 0, 0}}, 0, 0).allowed);
  d = l.admit(Scopes{{"key:k", 3, 0}}, 0, 0);
  EXPECT_EQ(d.requests.remaining, 2);
}

TEST(RateLimiter, Sweep_ForgetsOnlyFullBuckets) {
  g::RateLimiter l;
  ASSERT_TRUE(l.admit(Scopes{{"key:a", 60, 0}}, 0, 0).allowed);
  ASSERT_TRUE(l.admit(Scopes{{"key:b", 60, 0}}, 0, 0).allowed);
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(l.sweep(500), 0u);
  ASSERT_TRUE(l.admit(Scopes{{"key:b", 60, 0}}, 0, 500).allowed);
  EXPECT_EQ(l.sweep(1000), 1u);  // a refilled, b still owes one
  EXPECT_EQ(l.size(), 1u);
  EXPECT_EQ(l.sweep(2000), 1u);
  EXPECT_EQ(l.size(), 0u);
}

TEST(RateLimiter, TooManyScopes_Refused) {
  g::RateLimiter l;
  Scopes s;
  const std::vector<std::string> names{"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  for (const auto& n : names) s.push_back({n, 10, 0});
  EXPECT_FALSE(l.admit(s, 0, 0).allowed);
  s.pop_back();
  EXPECT_TRUE(l.admit(s, 0, 0).allowed);
}

TEST(RateLimiter, Headers_OpenAINamesAndDurations) {
  g::RateLimiter l;
  auto d = l.admit(Scopes{{"key:k", 60, 150'000}}, 1000, 0);
  EXPECT_EQ(header(d, "x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(header(d, "x-ratelimit-remaining-requests"), "59");
  EXPECT_EQ(header(d, "x-ratelimit-reset-requests"), "1s");
  EXPECT_EQ(header(d, "x-ratelimit-limit-tokens"), "150000");
  EXPECT_EQ(header(d, "x-ratelimit-remaining-tokens"), "149000");
  EXPECT_EQ(header(d, "x-ratelimit-reset-tokens"), "400ms");
  EXPECT_EQ(header(d, "retry-after"), "<absent>");
  d = l.admit(Scopes{{"key:only-tokens", 0, 100}}, 150, 0);
  EXPECT_EQ(header(d, "x-ratelimit-limit-requests"), "<absent>");
}

TEST(RateLimiter, OpenAIDuration_GoStyle) {
  EXPECT_EQ(g::openai_duration(0), "0ms");
  EXPECT_EQ(g::openai_duration(20), "20ms");
  EXPECT_EQ(g::openai_duration(1000), "1s");
  EXPECT_EQ(g::openai_duration(8640), "8.64s");
  EXPECT_EQ(g::openai_duration(360'000), "6m0s");
  EXPECT_EQ(g::openai_duration(61'500), "1m1.5s");
  EXPECT_EQ(g::openai_duration(3'723'000), "1h2m3s");
  EXPECT_EQ(g::openai_duration(-5), "0ms");
}

// The proof: RPM 60 with 100 concurrent requests -> exactly 60 pass in that minute.
TEST(RateLimiter, Concurrent100Threads_Rpm60_ExactlySixtyAdmitted) {
  for (int round = 0; round < 50; ++round) {
    g::RateLimiter l;
    std::atomic<int> admitted{0};
    std::barrier start(100);
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        const Scopes s{{"key:k", 60, 0}, {"model:m", 0, 0}};
        if (l.admit(s, 0, 5000).allowed) admitted.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(admitted.load(), 60) << "round " << round;
  }
}

// Random overlapping scope sets in random order: no deadlock, and for every scope the
// admissions that named it plus what it has left add up to its capacity.
TEST(RateLimiter, ConcurrentOverlappingScopes_ConserveEveryBucket) {
  g::RateLimiter l;
  const std::vector<std::string> names{"key:a",  "key:b",   "key:c",   "team:x",
                                       "team:y", "model:m", "model:n", "key:d"};
  constexpr long kCap = 3000;
  std::array<std::atomic<long>, 8> counts{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<std::size_t> idx{0, 1, 2, 3, 4, 5, 6, 7};
      for (int i = 0; i < 2000; ++i) {
        std::shuffle(idx.begin(), idx.end(), rng);
        const std::size_t n = 1 + rng() % 3;
        Scopes s;
        for (std::size_t j = 0; j < n; ++j) s.push_back({names[idx[j]], kCap, 0});
        if (l.admit(s, 0, 0).allowed) {
          for (std::size_t j = 0; j < n; ++j) counts[idx[j]].fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  long total = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto d = l.admit(Scopes{{names[i], kCap, 0}}, 0, 0);
    const long left = d.allowed ? d.requests.remaining + 1 : 0;
    EXPECT_EQ(counts[i].load() + left, kCap) << names[i];
    total += counts[i].load();
  }
  EXPECT_GT(total, 0);
}
