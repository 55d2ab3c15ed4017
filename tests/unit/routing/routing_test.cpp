// The router's parts: breaker transitions, Retry-After cooldown, the outcome window, each
// balancing strategy, tiers, the retry budget, backoff and the per-request plan.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "routing/plan.h"

namespace stratus::routing {
namespace {

config::BreakerPolicy breaker(int failures = 3, int cooldown_ms = 1000) {
  config::BreakerPolicy p;
  p.failures = failures;
  p.cooldown_ms = cooldown_ms;
  p.failure_ratio = 0;  // consecutive failures only, unless a test sets it
  return p;
}

TEST(Breaker, OpensAfterConsecutiveFailuresThenProbesOnceAndCloses) {
  DeploymentState s;
  auto p = breaker(3, 1000);
  for (int i = 0; i < 2; ++i) s.on_failure(100, p, true, 0, "boom");
  EXPECT_EQ(s.state(), BreakerState::closed);
  EXPECT_EQ(s.admit(100, p), Admission::ok);
  s.on_failure(100, p, true, 0, "boom");
  EXPECT_EQ(s.state(), BreakerState::open);
  EXPECT_EQ(s.opened(), 1);
  EXPECT_FALSE(s.available(500));
  EXPECT_EQ(s.admit(500, p), Admission::open);
  // After the cooldown exactly one probe goes through.
  EXPECT_TRUE(s.available(1100));
  EXPECT_EQ(s.admit(1100, p), Admission::probe);
  EXPECT_EQ(s.state(), BreakerState::half_open);
  EXPECT_EQ(s.admit(1100, p), Admission::open);
  EXPECT_FALSE(s.available(1200));
  s.on_success(1200, 5);
  EXPECT_EQ(s.state(), BreakerState::closed);
  EXPECT_EQ(s.admit(1200, p), Admission::ok);
  EXPECT_EQ(s.last_error(), "boom");
  EXPECT_EQ(s.requests(), 4);
  EXPECT_EQ(s.failures(), 3);
}

TEST(Breaker, FailedProbeReopensForAnotherCooldown) {
  DeploymentState s;
  auto p = breaker(1, 1000);
  s.on_failure(0, p, true, 0, "x");
  ASSERT_EQ(s.admit(1000, p), Admission::probe);
  s.on_failure(1000, p, true, 0, "x");
  EXPECT_EQ(s.state(), BreakerState::open);
  EXPECT_EQ(s.admit(1500, p), Admission::open);
  EXPECT_EQ(s.admit(2000, p), Admission::probe);
}

TEST(Breaker, LostProbeIsReplacedAfterACooldown) {
  DeploymentState s;
  auto p = breaker(1, 1000);
  s.on_failure(0, p, true, 0, "x");
  ASSERT_EQ(s.admit(1000, p), Admission::probe);  // never comes back
  EXPECT_EQ(s.admit(1999, p), Admission::open);
  EXPECT_EQ(s.admit(2000, p), Admission::probe);
}

TEST(Breaker, OpensOnFailureRatioOverTheWindow) {
  DeploymentState s;
  config::BreakerPolicy p;
  p.failures = 1000;
  p.failure_ratio = 0.5;
  p.min_requests = 10;
  p.window_s = 10;
  // Alternating successes and failures: never 1000 in a row, but half fail.
  for (int i = 0; i < 8; ++i) {
    s.on_success(1000, 1);
    if (i < 4) s.on_failure(1000, p, true, 0, "e");
  }
  EXPECT_EQ(s.state(), BreakerState::closed);  // 12 attempts, 4 failed: 33%
  s.on_failure(1000, p, true, 0, "e");
  s.on_failure(1000, p, true, 0, "e");
  s.on_failure(1000, p, true, 0, "e");
  EXPECT_EQ(s.state(), BreakerState::closed);  // 15 attempts, 7 failed
  s.on_failure(1000, p, true, 0, "e");         // 16 attempts, 8 failed: 50%
  EXPECT_EQ(s.state(), BreakerState::open);
}

TEST(Breaker, RateLimitsCoolDownWithoutCountingTowardTheBreaker) {
  DeploymentState s;
  auto p = breaker(1, 1000);
  s.on_failure(0, p, false, 30000, "rate limited");
  EXPECT_EQ(s.state(), BreakerState::closed);
  EXPECT_EQ(s.admit(29999, p), Admission::cooling);
  EXPECT_FALSE(s.available(29999));
  EXPECT_EQ(s.admit(30000, p), Admission::ok);
  // A shorter Retry-After never shortens a longer one.
  s.on_failure(0, p, false, 40000, "");
  s.on_failure(1, p, false, 10, "");
  EXPECT_EQ(s.cooldown_until_ms(), 40000);
}

TEST(Window, ForgetsSecondsOutsideTheWindow) {
  Window w;
  w.add(1000, true);
  w.add(1500, false);
  w.add(5000, false);
  EXPECT_EQ(w.sum(5000, 10).total, 3);
  EXPECT_EQ(w.sum(5000, 10).failed, 1);
  EXPECT_EQ(w.sum(5000, 2).total, 1);
  // The bucket of second 1 is reused 64 s later and starts from zero.
  w.add(65000, false);
  EXPECT_EQ(w.sum(65000, 1).total, 1);
  EXPECT_EQ(w.sum(65000, 64).failed, 0);
}

TEST(Ewma, TakesSlowSamplesAtOnceAndDecaysTowardFastOnes) {
  DeploymentState s;
  s.on_success(0, 100);
  EXPECT_DOUBLE_EQ(s.ewma_ms(), 100);
  s.on_success(10, 500);  // peak: taken at once
  EXPECT_DOUBLE_EQ(s.ewma_ms(), 500);
  s.on_success(20, 10);  // 10 ms later: barely moves
  EXPECT_GT(s.ewma_ms(), 490);
  s.on_success(60020, 10);  // a minute later: nearly all new
  EXPECT_LT(s.ewma_ms(), 15);
}

// A pool of n members over fresh states, for balancer and plan tests.
struct Fixture {
  std::vector<std::unique_ptr<DeploymentState>> states;
  Pool pool;
  RetryBudget budget;
  LocalState local;
  Rng rng{42};
  explicit Fixture(int n, config::Strategy strategy = config::Strategy::priority) {
    for (int i = 0; i < n; ++i) {
      states.push_back(std::make_unique<DeploymentState>());
      pool.members.push_back(Member{states.back().get(), 0, 1, -1});
    }
    pool.strategy = strategy;
    pool.breaker = breaker(3, 1000);
    pool.budget = &budget;
  }
  std::map<int, int> counts(int picks, Mask skip = 0) {
    std::map<int, int> c;
    for (int i = 0; i < picks; ++i) ++c[pick(pool.members, pool.strategy, skip, 0, local, rng)];
    return c;
  }
};

TEST(Balancer, PriorityTakesConfigOrderAndSkipsUnavailable) {
  Fixture f(3);
  EXPECT_EQ(f.counts(10), (std::map<int, int>{{0, 10}}));
  EXPECT_EQ(f.counts(10, 0b001), (std::map<int, int>{{1, 10}}));
  f.states[1]->on_failure(0, f.pool.breaker, false, 5000, "");  // cooling down
  EXPECT_EQ(f.counts(10, 0b001), (std::map<int, int>{{2, 10}}));
  EXPECT_EQ(f.counts(1, 0b111), (std::map<int, int>{{-1, 1}}));
}

TEST(Balancer, TiersFallBackOnlyWhenTheHigherTierIsUnavailable) {
  Fixture f(3, config::Strategy::weighted);
  f.pool.members[2].priority = 1;
  auto c = f.counts(100);
  EXPECT_EQ(c[0], 50);
  EXPECT_EQ(c[1], 50);
  EXPECT_EQ(c.count(2), 0U);
  EXPECT_EQ(f.counts(10, 0b011), (std::map<int, int>{{2, 10}}));
}

TEST(Balancer, SmoothWeightedRoundRobinKeepsTheRatioAndInterleaves) {
  Fixture f(2, config::Strategy::weighted);
  f.pool.members[0].weight = 3;
  f.pool.members[1].weight = 1;
  std::string order;
  for (int i = 0; i < 8; ++i) {
    order += static_cast<char>('a' + pick(f.pool.members, f.pool.strategy, 0, 0, f.local, f.rng));
  }
  EXPECT_EQ(order, "aabaaaba");
  auto c = f.counts(400);
  EXPECT_EQ(c[0], 300);
  EXPECT_EQ(c[1], 100);
}

TEST(Balancer, LeastBusyAvoidsTheLoadedDeployment) {
  Fixture f(3, config::Strategy::least_busy);
  f.states[0]->in_flight = 50;
  f.states[1]->in_flight = 1;
  f.states[2]->in_flight = 2;
  auto c = f.counts(3000);
  // Two random choices: the busiest is never picked; the idlest wins every pair it is in.
  EXPECT_EQ(c.count(0), 0U);
  EXPECT_GT(c[1], c[2]);
  EXPECT_NEAR(c[1], 2000, 150);
}

TEST(Balancer, LatencyPrefersTheFastDeployment) {
  Fixture f(3, config::Strategy::latency);
  f.states[0]->on_success(0, 400);
  f.states[1]->on_success(0, 20);
  f.states[2]->on_success(0, 200);
  auto c = f.counts(3000);
  EXPECT_EQ(c.count(0), 0U);
  EXPECT_NEAR(c[1], 2000, 150);
  // A fast deployment with a long queue loses to an idle slower one.
  f.states[1]->in_flight = 30;
  c = f.counts(3000);
  EXPECT_LT(c[1], c[2]);
}

// A deployment that fails fast (a reset, an empty answer) must not look like the fastest: a
// failure is a slow sample. Below its breaker's threshold it still gets little traffic.
TEST(Balancer, LatencyAvoidsADeploymentThatFailsFast) {
  Fixture f(3, config::Strategy::latency);
  f.states[1]->on_success(0, 20);
  f.states[2]->on_success(0, 30);
  f.states[0]->on_failure(0, f.pool.breaker, true, 0, "reset");  // never answered: EWMA was 0
  EXPECT_GE(f.states[0]->ewma_ms(), DeploymentState::kFailurePenaltyMs);
  auto c = f.counts(3000);
  EXPECT_EQ(c.count(0), 0U);
  // Once it answers fast again the penalty decays away.
  f.states[0]->on_success(120000, 5);
  EXPECT_LT(f.states[0]->ewma_ms(), 10);
}

TEST(Balancer, CostTakesTheCheapestPricedFirst) {
  Fixture f(3, config::Strategy::cost);
  f.pool.members[0].price = 12.5;
  f.pool.members[1].price = -1;  // unpriced
  f.pool.members[2].price = 0.6;
  EXPECT_EQ(f.counts(5), (std::map<int, int>{{2, 5}}));
  EXPECT_EQ(f.counts(5, 0b100), (std::map<int, int>{{0, 5}}));
  EXPECT_EQ(f.counts(5, 0b101), (std::map<int, int>{{1, 5}}));
}

TEST(RetryBudget, HoldsRetriesToTheRatioPlusTheFloor) {
  RetryBudget b;
  config::RetryPolicy p;
  p.budget_ratio = 0.2;
  p.budget_min = 2;
  p.budget_window_s = 10;
  int spent = 0;
  for (int i = 0; i < 100; ++i) {
    b.on_request(1000);
    if (b.allows(1000, p)) {
      b.spend(1000);
      ++spent;
    }
  }
  EXPECT_EQ(spent, 22);  // 0.2 × 100 + 2
  EXPECT_FALSE(b.allows(1000, p));
  EXPECT_TRUE(b.allows(12000, p));  // the window has moved on
}

TEST(Backoff, FullJitterUnderAnExponentialCap) {
  config::RetryPolicy p;
  p.backoff_ms = 50;
  p.max_backoff_ms = 300;
  Rng rng(7);
  int max_seen[5] = {};
  for (int i = 0; i < 2000; ++i) {
    for (int round = 1; round <= 4; ++round) {
      int b = backoff_ms(round, p, rng);
      ASSERT_GE(b, 0);
      max_seen[round] = std::max(max_seen[round], b);
    }
  }
  EXPECT_EQ(max_seen[1], 50);
  EXPECT_EQ(max_seen[2], 100);
  EXPECT_EQ(max_seen[3], 200);
  EXPECT_EQ(max_seen[4], 300);
  EXPECT_EQ(backoff_ms(0, p, rng), 0);
}

TEST(Plan, TriesEachDeploymentOnceThenFallbacksThenStops) {
  Fixture a(2);
  Fixture b(1);
  Plan plan({&a.pool, &b.pool}, {&a.local, &b.local}, a.rng);
  auto p1 = plan.next(0);
  auto p2 = plan.next(0);
  auto p3 = plan.next(0);
  ASSERT_TRUE(p1 && p2 && p3);
  EXPECT_EQ(std::make_pair(p1->pool, p1->member), std::make_pair(std::size_t{0}, std::size_t{0}));
  EXPECT_EQ(std::make_pair(p2->pool, p2->member), std::make_pair(std::size_t{0}, std::size_t{1}));
  EXPECT_EQ(std::make_pair(p3->pool, p3->member), std::make_pair(std::size_t{1}, std::size_t{0}));
  EXPECT_EQ(p1->backoff_ms + p2->backoff_ms + p3->backoff_ms, 0);
  EXPECT_FALSE(plan.next(0));  // default attempts: every member once
  EXPECT_EQ(plan.stop(), Plan::Stop::attempts);
  EXPECT_EQ(plan.attempts(), 3);
}

TEST(Plan, RetriesTheOnlyDeploymentAfterABackoff) {
  Fixture f(1);
  f.pool.retry.attempts = 3;
  f.pool.retry.backoff_ms = 100;
  Plan plan({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(plan.next(0));
  auto again = plan.next(0);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->member, 0U);
  EXPECT_LE(again->backoff_ms, 100);
  ASSERT_TRUE(plan.next(0));
  EXPECT_FALSE(plan.next(0));
}

TEST(Plan, GoesRoundAgainWithoutTheOneThatJustFailed) {
  Fixture f(2);
  f.pool.retry.attempts = 4;
  Plan plan({&f.pool}, {&f.local}, f.rng);
  EXPECT_EQ(plan.next(0)->member, 0U);
  EXPECT_EQ(plan.next(0)->member, 1U);
  EXPECT_EQ(plan.next(0)->member, 0U);  // round two starts with a different one than the last
  EXPECT_EQ(plan.next(0)->member, 1U);
}

TEST(Plan, AllBreakersOpenMeansNoAttemptAndSaysWhenOneReturns) {
  Fixture f(2);
  for (auto& s : f.states) {
    for (int i = 0; i < 3; ++i) s->on_failure(0, f.pool.breaker, true, 0, "down");
  }
  Plan plan({&f.pool}, {&f.local}, f.rng);
  EXPECT_FALSE(plan.next(10));
  EXPECT_EQ(plan.stop(), Plan::Stop::unavailable);
  EXPECT_EQ(plan.attempts(), 0);
  EXPECT_EQ(plan.back_at_ms(), 1000);
  EXPECT_FALSE(plan.cooling());
}

TEST(Plan, AllCoolingDownReportsTheRetryAfter) {
  Fixture f(1);
  f.states[0]->on_failure(0, f.pool.breaker, false, 30000, "429");
  Plan plan({&f.pool}, {&f.local}, f.rng);
  EXPECT_FALSE(plan.next(100));
  EXPECT_TRUE(plan.cooling());
  EXPECT_EQ(plan.back_at_ms(), 30000);
}

TEST(Plan, RetryBudgetStopsExtraAttempts) {
  Fixture f(3);
  f.pool.retry.budget_ratio = 0;
  f.pool.retry.budget_min = 1;
  Plan one({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(one.next(0));
  ASSERT_TRUE(one.next(0));  // the floor allows one retry in the window
  EXPECT_FALSE(one.next(0));
  EXPECT_EQ(one.stop(), Plan::Stop::budget);
  Plan two({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(two.next(0));  // first attempts are never refused by the budget
  EXPECT_FALSE(two.next(0));
}

// An attempt that never reached its provider (connection refused, say) is requeued: the next
// attempt neither needs nor spends budget, but still counts toward the attempt cap.
TEST(Plan, RequeueAfterANotSentAttemptDrawsNoBudget) {
  Fixture f(3);
  f.pool.retry.budget_ratio = 0;
  f.pool.retry.budget_min = 1;
  f.pool.retry.attempts = 3;
  Plan spent({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(spent.next(0));
  ASSERT_TRUE(spent.next(0));  // the floor's one retry, spent
  Plan plan({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(plan.next(0));
  plan.requeue();
  auto second = plan.next(0);
  ASSERT_TRUE(second);         // the budget is spent, but a requeue does not need it
  EXPECT_FALSE(plan.next(0));  // an ordinary retry still does
  EXPECT_EQ(plan.stop(), Plan::Stop::budget);
  EXPECT_EQ(f.pool.budget->recent(0, 10).failed, 1);  // only the first plan's retry was spent
  Plan capped({&f.pool}, {&f.local}, f.rng);
  ASSERT_TRUE(capped.next(0));
  for (int i = 0; i < 2; ++i) {
    capped.requeue();
    ASSERT_TRUE(capped.next(0));
  }
  capped.requeue();
  EXPECT_FALSE(capped.next(0));  // attempts: 3
  EXPECT_EQ(capped.stop(), Plan::Stop::attempts);
}

TEST(Plan, ContextWindowFallbackSwitchesPools) {
  Fixture small(2);
  Fixture big(1);
  Plan plan({&small.pool}, {&small.local}, small.rng);
  ASSERT_EQ(plan.next(0)->pool, 0U);
  plan.switch_to({&big.pool}, {&big.local});
  auto p = plan.next(0);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pool, 0U);
  EXPECT_EQ(p->backoff_ms, 0);
  EXPECT_EQ(plan.attempts(), 2);
}

}  // namespace
}  // namespace stratus::routing
