// The CPU a translated request costs in the gateway, without I/O: OpenAI body → IR → provider
// request → signed, then the provider's answer (rendered by its mock dialect) → IR → OpenAI JSON.
// Compare with BM_Translate_OpenAIPassthrough, what the fast path does for the same request.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "api/chat.h"
#include "api/openai.h"
#include "auth/signer.h"
#include "mock/dialect.h"
#include "providers/adapter.h"

namespace {

using namespace stratus;

constexpr std::string_view kBody =
    R"({"model":"bench","messages":[{"role":"system","content":"You are a concise assistant for an online bookstore. Answer in two sentences or fewer."},{"role":"user","content":"Can you recommend a science fiction novel for someone who enjoyed The Martian, and say why in one line?"}],"max_tokens":128,"stream":false})";

providers::Deployment deployment(std::string_view type) {
  providers::Deployment d;
  d.provider = "bench";
  d.type = std::string(type);
  d.base_url = "http://127.0.0.1:9";
  d.model = type == "bedrock" ? "anthropic.claude-3-5-haiku-20241022-v1:0" : "claude-bench";
  d.region = "us-east-1";
  d.api_version = type == "anthropic" ? "2023-06-01" : "";
  return d;
}

auth::Credentials credentials(std::string_view type) {
  auth::Credentials c;
  if (type == "bedrock") {
    c.kind = auth::Credentials::Kind::sigv4;
    c.aws = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    c.region = "us-east-1";
    c.service = "bedrock";
  } else {
    c.kind = auth::Credentials::Kind::header;
    c.header_name = "x-api-key";
    c.secret = "bench-key";
  }
  return c;
}

// The provider's non-streamed answer to a 12-token completion, as its mock renders it.
std::string answer(std::string_view dialect) {
  mock::ChatCall call;
  call.model = "m";
  mock::Script s;
  s.id = "bench";
  s.model = "m";
  s.finish = "stop";
  s.prompt_tokens = 40;
  s.completion_tokens = 12;
  for (int i = 0; i < 12; ++i) s.tokens.emplace_back(" word");
  return mock::find_dialect(dialect)->chat_response(call, s).body;
}

void translate(benchmark::State& state, std::string_view type) {
  const auto* adapter = providers::find_adapter(type);
  auto dep = deployment(type);
  auto creds = credentials(type);
  core::UpstreamResponse res{.status = 200, .headers = {}, .body = answer(type)};
  providers::CallContext ctx{.request_id = "req_bench"};
  auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto req = api::parse_chat_request(kBody);  // what the gateway does for every request
    auto ir = api::parse_chat(req->body);
    auto up = adapter->encode_chat(*ir, dep, ctx);
    auth::sign(*up, creds, now);
    auto decoded = adapter->decode_chat(res, dep, ctx);
    auto out = api::openai_response_json(*decoded, {"chatcmpl-req_bench", dep.model, 1700000000});
    benchmark::DoNotOptimize(out);
  }
}

void BM_Translate_OpenAIPassthrough(benchmark::State& state) {
  std::string res = answer("openai");
  for (auto _ : state) {
    auto req = api::parse_chat_request(kBody);
    auto body = api::upstream_chat_body(*req, "mock-small");
    auto usage = api::usage_of_text(res);
    benchmark::DoNotOptimize(body);
    benchmark::DoNotOptimize(usage);
  }
}
BENCHMARK(BM_Translate_OpenAIPassthrough);

void BM_Translate_Anthropic(benchmark::State& state) { translate(state, "anthropic"); }
BENCHMARK(BM_Translate_Anthropic);

void BM_Translate_Bedrock(benchmark::State& state) { translate(state, "bedrock"); }
BENCHMARK(BM_Translate_Bedrock);

void BM_Translate_Gemini(benchmark::State& state) { translate(state, "gemini"); }
BENCHMARK(BM_Translate_Gemini);

}  // namespace
