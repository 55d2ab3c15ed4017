// Bad provider bytes never crash the gateway: every adapter's decoders get random bytes,
// recorded streams with bytes flipped or cut, and JSON of the wrong shapes, and must answer with
// a value or an Error (run under ASan/UBSan in CI, where any memory error fails the test).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "mock/dialect.h"
#include "providers/adapter.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

constexpr std::string_view kTypes[] = {"openai",  "azure",  "anthropic",
                                       "bedrock", "gemini", "vertex"};

Deployment dep(std::string_view type) { return testing::test_deployment(type); }

// A streamed answer with tool calls, in the provider's own framing.
std::string rendered_stream(std::string_view type) {
  mock::Script s;
  s.id = "x";
  s.model = "m";
  s.finish = "tool_calls";
  s.tokens = {"a", " b"};
  s.tool_calls = {{"call_1", "f", R"({"q":"x"})"}, {"call_2", "g", R"({"n":2})"}};
  std::string out;
  for (auto& e : testing::rendered_events(type, s)) out += e;
  return out;
}

// Feeds bytes in random pieces; returns whether the decoder reported success.
bool feed_all(const Adapter& a, std::string_view type, std::string_view bytes, std::mt19937& rng) {
  auto d = a.stream_decoder(api::Chat{}, dep(type), CallContext{"r"});
  std::vector<api::ChatChunk> out;
  std::uniform_int_distribution<std::size_t> piece(1, 97);
  while (!bytes.empty()) {
    auto n = std::min(bytes.size(), piece(rng));
    if (!d->feed(bytes.substr(0, n), out)) return false;
    bytes.remove_prefix(n);
  }
  return d->finish(out).has_value();
}

TEST(ProviderRobustness, StreamDecodersSurviveGarbageFlipsAndCuts) {
  std::mt19937 rng(7);
  for (auto type : kTypes) {
    const auto* a = find_adapter(type);
    ASSERT_NE(a, nullptr) << type;
    auto good = rendered_stream(type);
    ASSERT_FALSE(good.empty()) << type;
    EXPECT_TRUE(feed_all(*a, type, good, rng)) << type << ": the untouched stream must decode";
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 150; ++i) {
      std::string junk(static_cast<std::size_t>(byte(rng)) * 4, '\0');
      for (auto& c : junk) c = static_cast<char>(byte(rng));
      feed_all(*a, type, junk, rng);
      std::string flipped = good;
      for (int k = 0; k < 1 + i % 8; ++k) {
        flipped[std::uniform_int_distribution<std::size_t>(0, flipped.size() - 1)(rng)] =
            static_cast<char>(byte(rng));
      }
      feed_all(*a, type, flipped, rng);
      // (Not in the last 16 bytes: losing only the final blank line is forgiven by design.)
      auto cut = std::uniform_int_distribution<std::size_t>(0, good.size() - 17)(rng);
      EXPECT_FALSE(feed_all(*a, type, std::string_view(good).substr(0, cut), rng) &&
                   type != "gemini" && type != "vertex")
          << type << ": a stream cut at byte " << cut << " decoded as complete";
    }
  }
}

TEST(ProviderRobustness, DecodersAnswerWrongShapesWithErrors) {
  const std::vector<std::string> bodies = {
      "",
      "null",
      "[]",
      "42",
      "\"s\"",
      "{",
      "{}",
      R"({"choices":null})",
      R"({"choices":[1]})",
      R"({"choices":[{"message":7}]})",
      R"({"content":{"a":1}})",
      R"({"content":[null,1,"x",{"type":7}]})",
      R"({"output":{"message":{"content":[{"toolUse":{"input":"x"}}]}}})",
      R"({"output":7,"usage":"x"})",
      R"({"candidates":[{"content":{"parts":[{"functionCall":{"args":[1]}}]}}]})",
      R"({"candidates":"x"})",
      R"({"usage":{"input_tokens":"many"},"stop_reason":5})",
      R"({"usageMetadata":{"promptTokenCount":-1}})",
      R"({"data":[{"embedding":"@@@"}]})",
      R"({"embedding":{"values":[1,"x"]}})",
      R"({"embeddings":[[1],[null]]})",
      R"({"error":{"message":5,"code":{},"details":[1,{"@type":7}]}})",
      R"({"type":"error","error":null})",
      R"({"message":null,"__type":[]})"};
  for (auto type : kTypes) {
    const auto* a = find_adapter(type);
    ASSERT_NE(a, nullptr);
    for (auto& b : bodies) {
      for (int status : {200, 400, 429, 500, 529}) {
        core::UpstreamResponse res{.status = status,
                                   .headers = {{"retry-after", "x"}, {"x-amzn-errortype", ":"}},
                                   .body = b};
        if (status == 200) {
          (void)a->decode_chat(res, dep(type), CallContext{"r"});
          (void)a->decode_embeddings(res, dep(type));
        }
        auto e = a->decode_error(res, dep(type));
        EXPECT_FALSE(e.message.empty()) << type << " " << status << " " << b;
        EXPECT_EQ(e.upstream_status, status) << type << " " << b;
      }
    }
  }
}

}  // namespace
}  // namespace stratus::providers
