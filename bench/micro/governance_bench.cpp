// Micro-benchmarks of per-request governance: one full admission (key lookup + verify, prompt
// estimate, RPM/TPM for key/team/model, key and team budgets, agent task) and its settle.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "governance/governor.h"
#include "governance/tokens.h"

namespace g = stratus::governance;

namespace {

constexpr std::string_view kRequest =
    R"({"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},)"
    R"({"role":"user","content":"Summarise the benefits of multi-cloud LLM gateways in two sentences, please."}],)"
    R"("temperature":0.2,"max_tokens":256})";

struct Fixture {
  Fixture() {
    std::vector<g::KeyInfo> infos;
    for (int i = 0; i < 1000; ++i) {
      const auto k = *g::generate_key();
      g::KeyInfo info;
      info.id = k.id;
      info.name = "key-" + std::to_string(i);
      info.team = "team-" + std::to_string(i % 10);
      info.salt = k.salt;
      info.hash = k.hash;
      info.models = {"gpt-4o", "gpt-4o-mini"};
      info.rpm = 1'000'000'000;
      info.tpm = 1'000'000'000;
      info.budget_usd = 1e6;
      info.max_task_usd = 1e6;
      infos.push_back(info);
      keys.push_back(k.key);
    }
    ring.store(std::make_shared<const g::KeyRing>(std::move(infos)));
  }
  g::KeyRingHolder ring;
  std::vector<std::string> keys;
  g::Governor gov;
  g::TeamLimits team{.rpm = 1'000'000'000, .tpm = 1'000'000'000, .budget_usd = 1e7};
  boost::json::value body = boost::json::parse(kRequest);
  g::Price price = *g::PriceTable::builtin().find("openai", "gpt-4o");
};

void BM_KeyAuthenticate(benchmark::State& state) {
  Fixture f;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto ring = f.ring.load();
    auto r = ring->authenticate(f.keys[i++ % f.keys.size()], 0);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_KeyAuthenticate);

void BM_EstimatePrompt(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    auto n = g::estimate_chat_prompt_tokens(f.body) + g::worst_case_output_tokens(f.body);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_EstimatePrompt);

// What the gateway pays for the estimates of a chat request without a JSON tree: one pass over
// the text; against the tree, parsed from the same text (as the gateway would have to).
void BM_EstimatePrompt_FromText(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g::estimate_chat_text(kRequest));
}
BENCHMARK(BM_EstimatePrompt_FromText);

void BM_EstimatePrompt_ParseTree(benchmark::State& state) {
  for (auto _ : state) {
    const auto body = boost::json::parse(kRequest);
    auto n = g::estimate_chat_prompt_tokens(body) + g::worst_case_output_tokens(body);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_EstimatePrompt_ParseTree);

// What the gateway does per request: authenticate, estimate, admit (key, team and model
// limits, key and team budgets, a task), then settle with the provider's usage.
// Threads(2): two workers share one Governor and key ring, as in the gateway.
void BM_AdmitAndSettle(benchmark::State& state) {
  static Fixture f;
  std::size_t i = 0;
  std::int64_t now = 1'707'998'400'000;
  for (auto _ : state) {
    const auto ring = f.ring.load();
    const auto key = ring->authenticate(f.keys[i++ % f.keys.size()], now);
    g::AdmitRequest r;
    r.key = *key;
    r.team = &f.team;
    r.model = "gpt-4o";
    r.model_limits = {1'000'000'000, 1'000'000'000};
    r.price = f.price;
    r.prompt_tokens = g::estimate_chat_prompt_tokens(f.body);
    r.max_output_tokens = g::worst_case_output_tokens(f.body);
    r.task_id = "agent-run-1";
    r.now_ms = ++now;
    auto a = f.gov.admit(r);
    if (!a) state.SkipWithError("refused");
    const g::TokenUsage usage{.prompt = 40, .cached = 0, .cache_write = 0, .completion = 60};
    benchmark::DoNotOptimize(f.gov.settle(*a, f.price, usage, now));
  }
}
BENCHMARK(BM_AdmitAndSettle);
BENCHMARK(BM_AdmitAndSettle)->Threads(2);

}  // namespace
