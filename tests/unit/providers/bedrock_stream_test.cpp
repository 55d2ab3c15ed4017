// The ConverseStream decoder on event streams built with the event-stream encoder (messageStart,
// reasoning, text, two toolUse blocks, messageStop, metadata), fed whole, one byte at a time and
// in random splits; truncated streams, exception frames and the aws-sdk-php Bedrock frames.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "codec/eventstream.h"
#include "providers/bedrock.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
using codec::EventHeader;
using core::ErrorKind;
using testing::decode_every_way;
using testing::read_data;

std::string event(std::string_view type, std::string_view payload) {
  return codec::encode_event({EventHeader::of_string(":event-type", std::string(type)),
                              EventHeader::of_string(":content-type", "application/json"),
                              EventHeader::of_string(":message-type", "event")},
                             payload);
}

std::string exception(std::string_view type, std::string_view message) {
  return codec::encode_event({EventHeader::of_string(":exception-type", std::string(type)),
                              EventHeader::of_string(":content-type", "application/json"),
                              EventHeader::of_string(":message-type", "exception")},
                             json::serialize(json::object{{"message", message}}));
}

testing::DecoderFactory bedrock_stream() {
  return [] {
    Deployment d{.provider = "aws",
                 .type = "bedrock",
                 .base_url = "https://bedrock-runtime.us-east-1.amazonaws.com",
                 .model = "m",
                 .region = "us-east-1",
                 .project = {},
                 .api_version = {}};
    return bedrock_adapter().stream_decoder({}, d, {});
  };
}

// Everything but the terminal events, like Bedrock sends it (with its "p" padding).
std::string body_events() {
  return event("messageStart", R"({"p":"abcd","role":"assistant"})") +
         event(
             "contentBlockDelta",
             R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Think."}},"p":"ab"})") +
         event(
             "contentBlockDelta",
             R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"c2ln"}},"p":"a"})") +
         event("contentBlockStop", R"({"contentBlockIndex":0,"p":"abcdef"})") +
         event("contentBlockDelta",
               R"({"contentBlockIndex":1,"delta":{"text":"Let me "},"p":"a"})") +
         event("contentBlockDelta",
               R"({"contentBlockIndex":1,"delta":{"text":"check."},"p":"ab"})") +
         event("contentBlockStop", R"({"contentBlockIndex":1,"p":"abc"})") +
         event(
             "contentBlockStart",
             R"({"contentBlockIndex":2,"p":"a","start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_A"}}})") +
         event("contentBlockDelta",
               R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":"}},"p":"ab"})") +
         event("contentBlockDelta",
               R"({"contentBlockIndex":2,"delta":{"toolUse":{"input":"\"Paris\"}"}},"p":"abc"})") +
         event("contentBlockStop", R"({"contentBlockIndex":2,"p":"abcd"})") +
         event(
             "contentBlockStart",
             R"({"contentBlockIndex":3,"p":"a","start":{"toolUse":{"name":"get_time","toolUseId":"tooluse_B"}}})") +
         event("contentBlockStop", R"({"contentBlockIndex":3,"p":"ab"})");
}

const std::string kMessageStop = event("messageStop", R"({"p":"abc","stopReason":"tool_use"})");
const std::string kMetadata = event(
    "metadata",
    R"({"metrics":{"latencyMs":812},"p":"a","usage":{"inputTokens":10,"outputTokens":20,"totalTokens":40,"cacheReadInputTokens":10}})");

const std::string kExpected =
    "role \n"
    "reasoning=Think. \n"
    "content=Let me  \n"
    "content=check. \n"
    "tool[0] id=tooluse_A name=get_weather args= \n"
    "tool[0] id= name= args={\"city\": \n"
    "tool[0] id= name= args=\"Paris\"} \n"
    "tool[1] id=tooluse_B name=get_time args= \n"
    "tool[1] id= name= args={} \n"
    "finish=tool_calls \n"
    "usage=20/20/40 cached=10\n";

TEST(BedrockStream, FullStream_SameChunksWholeBytewiseAndRandomSplits) {
  std::string mismatch;
  auto r = decode_every_way(bedrock_stream(), body_events() + kMessageStop + kMetadata, &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_EQ(r.text(), kExpected);
}

TEST(BedrockStream, TextOnly_FirstChunkCarriesTheRole_EvenWithoutMessageStart) {
  std::string mismatch;
  auto r = decode_every_way(
      bedrock_stream(),
      event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})") +
          event("messageStop", R"({"stopReason":"max_tokens"})") +
          event(
              "metadata",
              R"({"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}})"),
      &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_EQ(r.text(), "role content=Hi \nfinish=length \nusage=3/1/4 cached=0\n");
}

TEST(BedrockStream, TruncatedStreams_AreErrors) {
  struct Case {
    std::string bytes;
    std::string_view says;
  };
  const std::string whole = body_events() + kMessageStop + kMetadata;
  const Case cases[] = {
      {body_events() + kMessageStop, "before its metadata"},
      {body_events(), "before messageStop"},
      {whole.substr(0, whole.size() - 5), "in the middle of an event frame"},
      {"", "before messageStop"},
  };
  for (auto& c : cases) {
    std::string mismatch;
    auto r = decode_every_way(bedrock_stream(), c.bytes, &mismatch);
    EXPECT_TRUE(mismatch.empty()) << mismatch;
    ASSERT_TRUE(r.error) << c.says;
    EXPECT_EQ(r.error->kind, ErrorKind::upstream);
    EXPECT_NE(r.error->message.find(c.says), std::string::npos) << r.error->message;
  }
}

TEST(BedrockStream, ExceptionFrames_AreMappedErrors) {
  struct Case {
    std::string type;
    std::string message;
    ErrorKind kind;
    bool retryable;
    int status;
  };
  const Case cases[] = {
      {"throttlingException", "Too many tokens, please wait before trying again.",
       ErrorKind::rate_limit, true, 429},
      {"serviceUnavailableException", "Service unavailable.", ErrorKind::overloaded, true, 503},
      {"modelStreamErrorException", "Model stream error.", ErrorKind::upstream, true, 424},
      {"internalServerException", "Internal error.", ErrorKind::upstream, true, 500},
      {"validationException", "Input is too long for requested model.", ErrorKind::context_length,
       false, 400},
      {"validationException", "Malformed input.", ErrorKind::invalid_request, false, 400},
  };
  for (auto& c : cases) {
    std::string mismatch;
    auto r = decode_every_way(
        bedrock_stream(),
        event("messageStart", R"({"role":"assistant"})") +
            event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})") +
            exception(c.type, c.message) + kMessageStop + kMetadata,
        &mismatch);
    EXPECT_TRUE(mismatch.empty()) << mismatch;
    EXPECT_EQ(r.chunks, (std::vector<std::string>{"role ", "content=Hi "})) << c.type;
    ASSERT_TRUE(r.error) << c.type;
    EXPECT_EQ(r.error->kind, c.kind) << c.type;
    EXPECT_EQ(r.error->retryable, c.retryable) << c.type;
    EXPECT_EQ(r.error->upstream_status, c.status) << c.type;
    EXPECT_NE(r.error->message.find(c.type + ": " + c.message), std::string::npos)
        << r.error->message;
  }
}

TEST(BedrockStream, AnErrorIsFinal_LaterFeedsAndFinishRepeatIt) {
  auto d = bedrock_stream()();
  std::vector<api::ChatChunk> out;
  auto bad = d->feed(exception("throttlingException", "slow down"), out);
  ASSERT_FALSE(bad.has_value());
  auto again = d->feed(kMessageStop + kMetadata, out);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, bad.error().message);
  EXPECT_FALSE(d->finish(out).has_value());
  EXPECT_TRUE(out.empty());
}

TEST(BedrockStream, CorruptFrame_IsAnUpstreamError) {
  auto bytes = body_events();
  bytes[bytes.size() - 1] ^= 0x55;  // the last frame's message CRC
  auto r = testing::decode_whole(bedrock_stream(), bytes);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::upstream);
  EXPECT_NE(r.error->message.find("broken event stream"), std::string::npos) << r.error->message;
}

TEST(BedrockStream, ToolInputWithoutItsStart_IsAnError) {
  auto r = testing::decode_whole(
      bedrock_stream(),
      event("contentBlockDelta", R"({"contentBlockIndex":5,"delta":{"toolUse":{"input":"{}"}}})"));
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("content block 5"), std::string::npos) << r.error->message;
}

// aws-sdk-php's Bedrock frames: InvokeModelWithResponseStream `chunk` events are not Converse
// events (skipped, so the stream lacks its end), `:message-type: error` frames are errors, and
// unknown message types are skipped.
TEST(BedrockStream, AwsSdkPhpFrames) {
  std::string mismatch;
  auto chunks = decode_every_way(
      bedrock_stream(), read_data("eventstream/aws-sdk-php/bedrock_invoke_model_event.bin"),
      &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_TRUE(chunks.chunks.empty());
  ASSERT_TRUE(chunks.error);
  EXPECT_NE(chunks.error->message.find("before messageStop"), std::string::npos);

  auto error = decode_every_way(bedrock_stream(),
                                read_data("eventstream/aws-sdk-php/error_event.bin"), &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  ASSERT_TRUE(error.error);
  EXPECT_EQ(error.error->kind, ErrorKind::upstream);
  EXPECT_NE(error.error->message.find("FooError: Event Error"), std::string::npos)
      << error.error->message;

  auto unknown = decode_every_way(
      bedrock_stream(),
      read_data("eventstream/aws-sdk-php/unknown_message_type.bin") + kMessageStop + kMetadata,
      &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_FALSE(unknown.error) << unknown.error->message;
  EXPECT_EQ(unknown.text(), "role finish=tool_calls \nusage=20/20/40 cached=10\n");
}

}  // namespace
}  // namespace stratus::providers
