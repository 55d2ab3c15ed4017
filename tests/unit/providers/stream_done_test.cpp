// StreamDecoder::done(): true exactly once the provider's terminal event has been fed, so the
// gateway can end the client's stream without waiting for the upstream's end of body. Streams
// are rendered by each provider's mock dialect.
#include <gtest/gtest.h>

#include "mock/dialect.h"
#include "providers/adapter.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

std::vector<std::string> rendered_events(std::string_view dialect) {
  mock::Script s;
  s.id = "x";
  s.model = "m";
  s.finish = "stop";
  s.prompt_tokens = 5;
  s.completion_tokens = 3;
  s.tokens = {"a", " b", " c"};
  auto events = testing::rendered_events(dialect, s);
  EXPECT_FALSE(events.empty()) << dialect;
  return events;
}

Deployment dep(std::string_view type) { return testing::test_deployment(type); }

TEST(StreamDecoderDone, TrueOnlyAfterTheTerminalEvent) {
  for (std::string_view type : {"openai", "anthropic", "bedrock"}) {
    auto events = rendered_events(type);
    ASSERT_GT(events.size(), 2u) << type;
    const auto* adapter = find_adapter(type);
    ASSERT_NE(adapter, nullptr) << type;
    auto decoder = adapter->stream_decoder(api::Chat{}, dep(type), CallContext{"r"});
    std::vector<api::ChatChunk> out;
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
      ASSERT_TRUE(decoder->feed(events[i], out).has_value()) << type << " event " << i;
      EXPECT_FALSE(decoder->done()) << type << " done after event " << i << " of " << events.size();
    }
    ASSERT_TRUE(decoder->feed(events.back(), out).has_value()) << type;
    EXPECT_TRUE(decoder->done()) << type;
    EXPECT_TRUE(decoder->finish(out).has_value()) << type;
    ASSERT_FALSE(out.empty());
    EXPECT_TRUE(out.back().usage.has_value()) << type << ": the usage chunk comes last";
  }
}

TEST(StreamDecoderDone, GeminiHasNoTerminalEventAndFinishesAtTheEndOfBody) {
  auto events = rendered_events("gemini");
  ASSERT_FALSE(events.empty());
  auto decoder =
      find_adapter("gemini")->stream_decoder(api::Chat{}, dep("gemini"), CallContext{"r"});
  std::vector<api::ChatChunk> out;
  for (auto& e : events) ASSERT_TRUE(decoder->feed(e, out).has_value());
  EXPECT_FALSE(decoder->done());
  EXPECT_TRUE(decoder->finish(out).has_value());
}

}  // namespace
}  // namespace stratus::providers
