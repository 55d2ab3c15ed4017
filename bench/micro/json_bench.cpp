// Micro-benchmarks of the per-request JSON work on the OpenAI pass-through path.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "api/openai.h"

namespace {

constexpr std::string_view kRequest =
    R"({"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},)"
    R"({"role":"user","content":"Summarise the benefits of multi-cloud LLM gateways in two sentences, please."}],)"
    R"("temperature":0.2,"max_tokens":256,"user":"bench-user"})";

constexpr std::string_view kResponse =
    R"({"id":"chatcmpl-mock1","object":"chat.completion","created":1795686716,"model":"mock-small","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"Hello from the Stratus mock provider. This answer is simulated token by",)"
    R"("refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":12,)"
    R"("total_tokens":20},"system_fingerprint":"fp_stratus_mock"})";

void BM_ParseChatRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = stratus::api::parse_chat_request(kRequest);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRequest.size()));
}
BENCHMARK(BM_ParseChatRequest);

void BM_ParseAndRewriteChatRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = stratus::api::parse_chat_request(kRequest);
    auto body = stratus::api::upstream_chat_body(*r, "mock-small");
    benchmark::DoNotOptimize(body);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRequest.size()));
}
BENCHMARK(BM_ParseAndRewriteChatRequest);

void BM_UsageOfResponse(benchmark::State& state) {
  for (auto _ : state) {
    boost::system::error_code ec;
    auto v = boost::json::parse(kResponse, ec);
    auto u = stratus::api::usage_of(v);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
}
BENCHMARK(BM_UsageOfResponse);

}  // namespace
