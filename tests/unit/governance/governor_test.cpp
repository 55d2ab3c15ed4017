// Governor: one request's admission across allow-list, limits, budgets and tasks, each refusal
// giving back what earlier steps took; settle charges the real usage exactly once.
#include "governance/governor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

namespace g = stratus::governance;

namespace {

constexpr std::int64_t kNow = 1'707'998'400'000;  // 2024-02-15T12:00:00Z
const g::Price kPrice{2.50, 1.25, 2.50, 10.00};   // gpt-4o

g::KeyInfo key(std::string id = "0123abcd") {
  g::KeyInfo k;
  k.id = std::move(id);
  k.name = "app";
  return k;
}

g::AdmitRequest request(const g::KeyInfo* k, long prompt = 1000, long max_out = 1000) {
  g::AdmitRequest r;
  r.key = k;
  r.model = "gpt-4o";
  r.price = kPrice;
  r.prompt_tokens = prompt;
  r.max_output_tokens = max_out;
  r.now_ms = kNow;
  return r;
}

std::string header(const g::Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "<absent>";
}

}  // namespace

TEST(Governor, OpenMode_OnlyModelLimitsApply) {
  g::Governor gov;
  auto r = request(nullptr);
  r.model_limits = {2, 0};
  auto a = gov.admit(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(header(a->headers, "x-ratelimit-remaining-requests"), "1");
  ASSERT_TRUE(gov.admit(r));
  const auto refused = gov.admit(r);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.code, "rate_limit_exceeded");
  EXPECT_EQ(refused.error().error.retry_after_s, 30);
  EXPECT_EQ(header(refused.error().headers, "retry-after"), "30");
}

TEST(Governor, NoLimitsAnywhere_AdmitsWithoutHeaders) {
  g::Governor gov;
  const auto k = key();
  const auto a = gov.admit(request(&k));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->headers.empty());
  EXPECT_EQ(gov.limiter().size(), 0u);
}

TEST(Governor, ModelNotAllowed_403) {
  g::Governor gov;
  auto k = key();
  k.models = {"gpt-4o-mini"};
  const auto a = gov.admit(request(&k));
  ASSERT_FALSE(a);
  EXPECT_EQ(stratus::core::http_status(a.error().error.kind), 403);
  EXPECT_EQ(a.error().error.code, "model_not_allowed");
}

TEST(Governor, RateRefusal_OpenAIShapeWithHeaders) {
  g::Governor gov;
  auto k = key();
  k.tpm = 1500;
  ASSERT_TRUE(gov.admit(request(&k)));
  const auto a = gov.admit(request(&k));
  ASSERT_FALSE(a);
  const auto& e = a.error().error;
  EXPECT_EQ(stratus::core::http_status(e.kind), 429);
  EXPECT_EQ(e.code, "rate_limit_exceeded");
  EXPECT_EQ(e.message,
            "Rate limit reached for tokens per min (TPM) on key:0123abcd: Limit 1500, Remaining "
            "500, Requested 1000. Please try again in 20s.");
  EXPECT_EQ(header(a.error().headers, "x-ratelimit-limit-tokens"), "1500");
  EXPECT_EQ(header(a.error().headers, "x-ratelimit-remaining-tokens"), "500");
  EXPECT_EQ(header(a.error().headers, "retry-after"), "20");
}

TEST(Governor, TeamLimits_ShareOneBucketAcrossKeys) {
  g::Governor gov;
  auto k1 = key("00000001");
  auto k2 = key("00000002");
  k1.team = k2.team = "search";
  const g::TeamLimits team{.rpm = 1};
  auto r1 = request(&k1);
  r1.team = &team;
  auto r2 = request(&k2);
  r2.team = &team;
  ASSERT_TRUE(gov.admit(r1));
  const auto a = gov.admit(r2);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().error.message.find("team:search"), std::string::npos);
}

TEST(Governor, BudgetRefusal_InsufficientQuotaAndRateGivenBack) {
  g::Governor gov;
  auto k = key();
  k.rpm = 10;
  k.budget_usd = 0.02;  // worst case of one request: 1000*2.5/1e6 + 1000*10/1e6 = $0.0125
  k.budget_period = g::Period::day;
  ASSERT_TRUE(gov.admit(request(&k)));
  const auto a = gov.admit(request(&k));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().error.code, "insufficient_quota");
  EXPECT_EQ(stratus::core::http_status(a.error().error.kind), 429);
  EXPECT_EQ(a.error().error.retry_after_s, 12 * 3600);  // the UTC day ends at midnight
  // The refused request's RPM was given back: 10 - 1 admitted - this probe = 8 left.
  auto probe = request(&k, 0, 0);
  const auto p = gov.admit(probe);
  ASSERT_TRUE(p);
  EXPECT_EQ(header(p->headers, "x-ratelimit-remaining-requests"), "8");
}

TEST(Governor, TaskRefusal_GivesBackBudgetAndRate) {
  g::Governor gov;
  auto k = key();
  k.rpm = 10;
  k.budget_usd = 1.0;
  k.max_task_calls = 100;
  auto r = request(&k);
  r.task_id = "run-7";
  r.task_max_calls = 1;  // the client's own limit is lower than the key's ceiling
  auto first = gov.admit(r);
  ASSERT_TRUE(first);
  const auto a = gov.admit(r);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().error.code, "task_budget_exceeded");
  EXPECT_EQ(a.error().error.message, "Task run-7 reached its limit of 1 calls.");
  const auto st = gov.budgets().state("key:0123abcd", kNow);
  EXPECT_DOUBLE_EQ(st->reserved_usd, 0.0125);  // only the first request's reservation
  auto probe = request(&k, 0, 0);
  EXPECT_EQ(header(gov.admit(probe)->headers, "x-ratelimit-remaining-requests"), "8");
}

TEST(Governor, TaskUsdCeilingFromKey) {
  g::Governor gov;
  auto k = key();
  k.max_task_usd = 0.02;
  auto r = request(&k);
  r.task_id = "run";
  r.task_max_usd = 5.0;  // asks for more than the key allows: the key's ceiling wins
  ASSERT_TRUE(gov.admit(r));
  const auto a = gov.admit(r);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().error.code, "task_budget_exceeded");
}

TEST(Governor, Settle_ChargesRealUsageOnce) {
  g::Governor gov;
  auto k = key();
  k.tpm = 10'000;
  k.budget_usd = 1.0;
  auto r = request(&k);
  r.task_id = "run";
  auto a = gov.admit(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(header(a->headers, "x-ratelimit-remaining-tokens"), "9000");
  const g::TokenUsage used{.prompt = 800, .cached = 200, .cache_write = 0, .completion = 50};
  const double cost = gov.settle(*a, kPrice, used, kNow);
  EXPECT_DOUBLE_EQ(cost, (600 * 2.5 + 200 * 1.25 + 50 * 10.0) / 1e6);
  EXPECT_DOUBLE_EQ(gov.settle(*a, kPrice, used, kNow), cost);  // no double charge
  const auto st = gov.budgets().state("key:0123abcd", kNow);
  EXPECT_DOUBLE_EQ(st->spent_usd, cost);
  EXPECT_DOUBLE_EQ(st->reserved_usd, 0);
  const auto task = gov.tasks().get("0123abcd", "run");
  EXPECT_EQ(task->calls, 1);
  EXPECT_EQ(task->prompt_tokens, 800);
  EXPECT_EQ(task->completion_tokens, 50);
  EXPECT_DOUBLE_EQ(task->cost_usd, cost);
  // TPM: took 1000 at admission, used 850: 9150 left before this probe.
  auto probe = request(&k, 0, 0);
  EXPECT_EQ(header(gov.admit(probe)->headers, "x-ratelimit-remaining-tokens"), "9150");
}

TEST(Governor, TpmCountsMaxOutputOption) {
  g::GovernorOptions opts;
  opts.tpm_counts_max_output = true;
  g::Governor gov(opts);
  auto k = key();
  k.tpm = 10'000;
  const auto a = gov.admit(request(&k, 1000, 3000));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->tokens_taken, 4000);
  EXPECT_EQ(header(a->headers, "x-ratelimit-remaining-tokens"), "6000");
}

TEST(Governor, WouldExceed_StopsAStreamCrossingTheBudget) {
  g::Governor gov;
  auto k = key();
  k.budget_usd = 0.02;
  const auto a = gov.admit(request(&k));  // reserves $0.0125, leaves $0.0075
  ASSERT_TRUE(a);
  EXPECT_FALSE(gov.would_exceed(*a, 0.0125, kNow));  // within its own reservation
  EXPECT_FALSE(gov.would_exceed(*a, 0.0199, kNow));
  EXPECT_TRUE(gov.would_exceed(*a, 0.0201, kNow));
}

// The proof at the Governor: 100 concurrent requests never overshoot a budget.
TEST(Governor, Concurrent100Requests_BudgetNeverOvershot) {
  for (int round = 0; round < 10; ++round) {
    g::Governor gov;
    auto k = key();
    k.budget_usd = 0.5;  // room for 40 worst cases of $0.0125
    std::atomic<int> admitted{0};
    std::barrier start(100);
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        auto a = gov.admit(request(&k));
        if (!a) return;
        admitted.fetch_add(1);
        const g::TokenUsage worst{
            .prompt = 1000, .cached = 0, .cache_write = 0, .completion = 1000};
        gov.settle(*a, kPrice, worst, kNow);
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(admitted.load(), 40) << round;
    const auto st = gov.budgets().state("key:0123abcd", kNow);
    ASSERT_LE(st->spent_usd, 0.5 + 1e-12);
    ASSERT_DOUBLE_EQ(st->reserved_usd, 0);
  }
}
