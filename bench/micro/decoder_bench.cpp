// Stream decoders of every translating adapter, in MB/s of stream bytes: the recorded provider
// streams in tests/data (short: per-stream overhead included) and a 500-token answer rendered by
// each provider's mock dialect (the native framing a long answer has), fed in 1460-byte pieces
// (one TCP segment) the way the gateway reads them.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mock/dialect.h"
#include "providers/adapter.h"

namespace {

using namespace stratus;

std::string read_data(const std::string& relative) {
  std::ifstream in(std::filesystem::path(STRATUS_TEST_DATA) / relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

providers::Deployment deployment(std::string_view type) {
  providers::Deployment d;
  d.provider = "bench";
  d.type = std::string(type);
  d.base_url = "http://127.0.0.1:1";
  d.model = "m";
  d.region = "us-east-1";
  d.project = "p";
  return d;
}

// A 500-token streamed answer in the dialect's own wire format.
std::string rendered_stream(std::string_view dialect) {
  const auto* d = mock::find_dialect(dialect);
  if (!d) return {};
  mock::ChatCall call;
  call.model = "m";
  call.stream = true;
  call.include_usage = true;
  call.prompt_tokens = 40;
  mock::Script s;
  s.id = "bench";
  s.model = "m";
  s.finish = "stop";
  s.prompt_tokens = 40;
  s.completion_tokens = 500;
  for (int i = 0; i < 500; ++i) {
    std::string t = " token";  // (+= : GCC 12 warns falsely on "literal" + std::string)
    t += std::to_string(i);
    s.tokens.push_back(std::move(t));
  }
  std::string out;
  for (auto& e : d->stream_events(call, s)) out += e;
  return out;
}

void decode(benchmark::State& state, std::string_view type, const std::string& bytes) {
  const auto* adapter = providers::find_adapter(type);
  if (!adapter || bytes.empty()) {
    state.SkipWithError("no adapter or no data");
    return;
  }
  auto dep = deployment(type);
  api::Chat chat;
  chat.stream = true;
  providers::CallContext ctx{.request_id = "bench"};
  std::vector<api::ChatChunk> out;
  std::size_t chunks = 0;
  for (auto _ : state) {
    auto decoder = adapter->stream_decoder(chat, dep, ctx);
    std::string_view rest = bytes;
    while (!rest.empty()) {
      auto n = std::min<std::size_t>(rest.size(), 1460);
      out.clear();
      if (!decoder->feed(rest.substr(0, n), out)) state.SkipWithError("decode error");
      chunks += out.size();
      rest.remove_prefix(n);
    }
    out.clear();
    if (!decoder->finish(out)) state.SkipWithError("finish error");
    chunks += out.size();
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["chunks/stream"] =
      static_cast<double>(chunks) /
      static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
}

#define STRATUS_DECODER_BENCH(name, type, bytes_expr) \
  void name(benchmark::State& state) {                \
    static const std::string bytes = bytes_expr;      \
    decode(state, type, bytes);                       \
  }                                                   \
  BENCHMARK(name)

STRATUS_DECODER_BENCH(BM_Decode_OpenAI_Recorded, "openai",
                      read_data("openai/chat-stream_text_usage-chunk.sse"));
STRATUS_DECODER_BENCH(BM_Decode_OpenAI_500Tokens, "openai", rendered_stream("openai"));
STRATUS_DECODER_BENCH(BM_Decode_Anthropic_Recorded, "anthropic",
                      read_data("anthropic/tool_use_response.sse"));
STRATUS_DECODER_BENCH(BM_Decode_Anthropic_500Tokens, "anthropic", rendered_stream("anthropic"));
STRATUS_DECODER_BENCH(BM_Decode_Gemini_Recorded, "gemini",
                      read_data("gemini/googleai/streaming-success-basic-reply-short.txt"));
STRATUS_DECODER_BENCH(BM_Decode_Gemini_500Tokens, "gemini", rendered_stream("gemini"));
STRATUS_DECODER_BENCH(BM_Decode_Bedrock_500Tokens, "bedrock", rendered_stream("bedrock"));

}  // namespace
