// Agent tasks: call and $ limits, accounting, lookup, top, expiry, LRU cap, concurrency.
#include "governance/tasks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

namespace g = stratus::governance;

TEST(Tasks, EffectiveLimits_LowerOfCeilingAndClient) {
  const g::TaskLimits ceiling{100, 5.0};
  auto l = g::effective_task_limits(ceiling, 20, 10.0);
  EXPECT_EQ(l.max_calls, 20);
  EXPECT_EQ(l.max_usd, 5.0);
  l = g::effective_task_limits(ceiling, std::nullopt, std::nullopt);
  EXPECT_EQ(l.max_calls, 100);
  l = g::effective_task_limits({}, 7, std::nullopt);
  EXPECT_EQ(l.max_calls, 7);
  EXPECT_EQ(l.max_usd, 0);
  l = g::effective_task_limits(ceiling, 0, -1.0);  // nonsense from the client: the ceiling
  EXPECT_EQ(l.max_calls, 100);
  EXPECT_EQ(l.max_usd, 5.0);
}

TEST(Tasks, MaxCalls_RefusesTheCallPastTheLimit) {
  g::TaskTracker t;
  const g::TaskLimits l{3, 0};
  for (int i = 1; i <= 3; ++i) {
    const auto d = t.admit("k1", "run-1", l, 0.01, i);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.calls, i);
    t.settle("k1", "run-1", d.reserved, 0.01, 100, 10, i);
  }
  const auto d = t.admit("k1", "run-1", l, 0.01, 4);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.refused, g::TaskRefusal::calls);
  EXPECT_EQ(d.calls, 3);
  EXPECT_EQ(t.get("k1", "run-1")->refused, 1);
}

TEST(Tasks, MaxUsd_ReservesWorstCaseAndSettlesRealCost) {
  g::TaskTracker t;
  const g::TaskLimits l{0, 1.0};
  const auto a = t.admit("k1", "run", l, 0.4, 0);
  const auto b = t.admit("k1", "run", l, 0.4, 0);
  ASSERT_TRUE(a.allowed && b.allowed);
  const auto c = t.admit("k1", "run", l, 0.4, 0);
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.refused, g::TaskRefusal::usd);
  EXPECT_DOUBLE_EQ(c.reserved_usd, 0.8);
  t.settle("k1", "run", a.reserved, 0.1, 1000, 50, 10);
  EXPECT_TRUE(t.admit("k1", "run", l, 0.4, 20).allowed);  // 0.1 + 0.4 + 0.4
  EXPECT_TRUE(t.would_exceed("k1", "run", 0.1000001));
  EXPECT_FALSE(t.would_exceed("k1", "run", 0.1));
}

TEST(Tasks, Accounting_TokensCostWallTime) {
  g::TaskTracker t;
  const auto a = t.admit("k1", "run", {}, 0.5, 1000);
  t.settle("k1", "run", a.reserved, 0.02, 1200, 300, 1500);
  const auto b = t.admit("k1", "run", {}, 0.5, 4000);
  t.settle("k1", "run", b.reserved, 0.03, 800, 100, 9000);
  const auto info = t.get("k1", "run");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->calls, 2);
  EXPECT_EQ(info->prompt_tokens, 2000);
  EXPECT_EQ(info->completion_tokens, 400);
  EXPECT_DOUBLE_EQ(info->cost_usd, 0.05);
  EXPECT_DOUBLE_EQ(info->reserved_usd, 0);
  EXPECT_EQ(info->in_flight, 0);
  EXPECT_EQ(info->first_ms, 1000);
  EXPECT_EQ(info->last_ms, 9000);
  EXPECT_EQ(info->wall_ms, 8000);
}

TEST(Tasks, SameTaskIdUnderTwoKeys_Independent) {
  g::TaskTracker t;
  const g::TaskLimits l{1, 0};
  ASSERT_TRUE(t.admit("k1", "run", l, 0, 0).allowed);
  EXPECT_TRUE(t.admit("k2", "run", l, 0, 0).allowed);
  EXPECT_FALSE(t.admit("k1", "run", l, 0, 0).allowed);
  const auto both = t.find("run");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].key_id, "k1");
  EXPECT_EQ(both[1].key_id, "k2");
  EXPECT_FALSE(t.get("k3", "run"));
}

TEST(Tasks, Top_ByCostDescending) {
  g::TaskTracker t;
  const double costs[] = {0.3, 0.1, 0.5, 0.2};
  for (int i = 0; i < 4; ++i) {
    const auto id = "t" + std::to_string(i);
    const auto d = t.admit("k", id, {}, 1, 0);
    t.settle("k", id, d.reserved, costs[i], 1, 1, 0);
  }
  const auto top = t.top(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].task_id, "t2");
  EXPECT_EQ(top[1].task_id, "t0");
  EXPECT_EQ(top[2].task_id, "t3");
  EXPECT_EQ(t.top(10).size(), 4u);
}

TEST(Tasks, Sweep_DropsIdleTasksButNotThoseInFlight) {
  g::TaskTracker t(g::TaskOptions{.idle_ttl_ms = 1000, .max_tasks = 1000});
  const auto a = t.admit("k", "idle", {}, 0, 0);
  t.settle("k", "idle", a.reserved, 0, 0, 0, 0);
  (void)t.admit("k", "busy", {}, 0, 0);  // never settled
  const auto r = t.admit("k", "recent", {}, 0, 900);
  t.settle("k", "recent", r.reserved, 0, 0, 0, 900);
  EXPECT_EQ(t.sweep(1000), 0u);
  EXPECT_EQ(t.sweep(1001), 1u);
  EXPECT_FALSE(t.get("k", "idle"));
  EXPECT_TRUE(t.get("k", "busy"));
  EXPECT_TRUE(t.get("k", "recent"));
  EXPECT_EQ(t.sweep(5000), 1u);  // "recent" now idle too; "busy" stays
  EXPECT_EQ(t.size(), 1u);
}

TEST(Tasks, LruCap_BoundsMemoryAndKeepsTasksInFlight) {
  g::TaskTracker t(g::TaskOptions{.idle_ttl_ms = 1'000'000, .max_tasks = 128});
  const auto keep = t.admit("k", "keep", {}, 0, 0);  // in flight throughout
  ASSERT_TRUE(keep.allowed);
  for (int i = 0; i < 5000; ++i) {
    const auto id = "task-" + std::to_string(i);
    const auto d = t.admit("k", id, {}, 0, i);
    ASSERT_TRUE(d.allowed);
    t.settle("k", id, d.reserved, 0, 1, 1, i);
  }
  EXPECT_LE(t.size(), 128u + 1);
  EXPECT_TRUE(t.get("k", "keep"));
  EXPECT_TRUE(t.get("k", "task-4999"));  // the most recent survives
  EXPECT_FALSE(t.get("k", "task-0"));
}

TEST(Tasks, Concurrent100Calls_MaxCalls60_ExactlySixty) {
  for (int round = 0; round < 10; ++round) {
    g::TaskTracker t;
    std::atomic<int> admitted{0};
    std::barrier start(100);
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        if (t.admit("k", "agent-run", {60, 0}, 0.001, 0).allowed) admitted.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(admitted.load(), 60) << round;
    ASSERT_EQ(t.get("k", "agent-run")->calls, 60);
    ASSERT_EQ(t.get("k", "agent-run")->refused, 40);
  }
}
