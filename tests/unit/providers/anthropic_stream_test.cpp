// Anthropic stream decoder on recorded Messages API streams: fed whole, one byte at a time and in
// random splits, the chunks are the same and match the golden sequence; truncation and error
// events are errors.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "providers/anthropic.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using core::ErrorKind;
using Lines = std::vector<std::string>;

std::string read_data(std::string_view name) {
  std::ifstream in(fs::path(STRATUS_TEST_DATA) / "anthropic" / name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The 200 SSE body of the 429-429-then-200 exchange (padded inside its JSON objects).
std::string padded_stream() {
  auto v = json::parse(read_data("stream_429-429-then-200-sse.json"));
  return std::string(v.as_array().at(2).at("response").at("body").as_string());
}

std::string finish_name(api::FinishReason r) {
  switch (r) {
    case api::FinishReason::stop:
      return "stop";
    case api::FinishReason::length:
      return "length";
    case api::FinishReason::tool_calls:
      return "tool_calls";
    case api::FinishReason::content_filter:
      return "content_filter";
  }
  return "?";
}

// One line per chunk, every field that is set.
std::string render(const api::ChatChunk& c) {
  std::string s;
  if (c.role) s += "role ";
  if (!c.content.empty()) s += "content=" + c.content + " ";
  if (!c.reasoning.empty()) s += "reasoning=" + c.reasoning + " ";
  if (!c.refusal.empty()) s += "refusal=" + c.refusal + " ";
  for (const auto& t : c.tool_calls) {
    s += "tool[" + std::to_string(t.index) + "]";
    if (!t.id.empty()) s += " id=" + t.id;
    if (!t.name.empty()) s += " name=" + t.name;
    if (!t.arguments.empty()) s += " args=" + t.arguments;
    s += " ";
  }
  if (c.finish_reason) s += "finish=" + finish_name(*c.finish_reason) + " ";
  if (c.usage) {
    const auto& u = *c.usage;
    s += "usage=" + std::to_string(u.prompt_tokens) + "/" + std::to_string(u.completion_tokens) +
         "/" + std::to_string(u.total_tokens) + " cached=" + std::to_string(u.cached_tokens) +
         " creation=" + std::to_string(u.cache_creation_tokens) + " ";
  }
  if (!s.empty()) s.pop_back();
  return s;
}

struct Outcome {
  Lines chunks;
  std::optional<core::Error> error;
};

// Feeds the pieces, then finish(); stops at the first error.
Outcome decode(const std::vector<std::string_view>& pieces) {
  auto decoder = anthropic::make_stream_decoder("claude");
  std::vector<api::ChatChunk> out;
  Outcome o;
  for (auto piece : pieces) {
    if (auto r = decoder->feed(piece, out); !r) {
      o.error = r.error();
      break;
    }
  }
  if (!o.error) {
    if (auto r = decoder->finish(out); !r) o.error = r.error();
  }
  for (const auto& c : out) o.chunks.push_back(render(c));
  return o;
}

Outcome decode_whole(std::string_view s) { return decode({s}); }

Outcome decode_bytewise(std::string_view s) {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < s.size(); ++i) pieces.push_back(s.substr(i, 1));
  return decode(pieces);
}

Outcome decode_random(std::string_view s, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, 40);
  std::vector<std::string_view> pieces;
  for (std::size_t pos = 0; pos < s.size();) {
    const std::size_t n = std::min(size(rng), s.size() - pos);
    pieces.push_back(s.substr(pos, n));
    pos += n;
  }
  return decode(pieces);
}

void expect_same_at_every_split(std::string_view stream, const Lines& golden) {
  const Outcome whole = decode_whole(stream);
  ASSERT_FALSE(whole.error) << whole.error->message;
  EXPECT_EQ(whole.chunks, golden);
  const Outcome bytewise = decode_bytewise(stream);
  ASSERT_FALSE(bytewise.error) << bytewise.error->message;
  EXPECT_EQ(bytewise.chunks, golden);
  for (unsigned seed = 1; seed <= 50; ++seed) {
    const Outcome split = decode_random(stream, seed);
    ASSERT_FALSE(split.error) << "seed " << seed << ": " << split.error->message;
    EXPECT_EQ(split.chunks, golden) << "seed " << seed;
  }
}

TEST(AnthropicStream, RecordedText_SameChunksAtEverySplit) {
  expect_same_at_every_split(read_data("basic_response.sse"),
                             {"role", "content=Hello", "content= there", "content=!", "finish=stop",
                              "usage=11/6/17 cached=0 creation=0"});
}

TEST(AnthropicStream, RecordedToolUse_IndexRemappedAndArgumentsInPieces) {
  expect_same_at_every_split(
      read_data("tool_use_response.sse"),
      {"role", "content=I", "content='ll check the current weather in Paris for you.",
       "tool[0] id=toolu_01NRLabsLyVHZPKxbKvkfSMn name=get_weather", R"(tool[0] args={"locati)",
       R"(tool[0] args=on": "P)", "tool[0] args=ar", R"(tool[0] args=is"})", "finish=tool_calls",
       "usage=377/65/442 cached=0 creation=0"});
}

TEST(AnthropicStream, RecordedRefusal_ContentFilter) {
  expect_same_at_every_split(
      read_data("refusal_response.sse"),
      {"role", "finish=content_filter", "usage=20/0/20 cached=0 creation=0"});
}

TEST(AnthropicStream, RecordedPaddedJson_SameChunksAtEverySplit) {
  expect_same_at_every_split(padded_stream(),
                             {"role", "content=[", "content=12", "content=345,", "content=67890]",
                              "finish=stop", "usage=135/10/145 cached=0 creation=0"});
}

std::string event(std::string_view name, std::string_view data) {
  return "event: " + std::string(name) + "\ndata: " + std::string(data) + "\n\n";
}

TEST(AnthropicStream, ThinkingSeveralToolsAndCache) {
  const std::string s =
      event(
          "message_start",
          R"({"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":3,"cache_read_input_tokens":40,"cache_creation_input_tokens":2,"output_tokens":1}}})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"a","input":{}}})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t2","name":"b","input":{}}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":1}"}})") +
      event(
          "message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})") +
      event("message_stop", R"({"type":"message_stop"})");
  expect_same_at_every_split(
      s,
      {"role", "reasoning=Hmm.", "tool[0] id=t1 name=a", "tool[1] id=t2 name=b", "tool[1] args={}",
       R"(tool[0] args={"x":1})", "finish=tool_calls", "usage=45/30/75 cached=40 creation=2"});
}

TEST(AnthropicStream, ToolWithoutArguments_GetsEmptyObject) {
  const std::string s =
      event(
          "message_start",
          R"({"type":"message_start","message":{"usage":{"input_tokens":4,"output_tokens":1}}})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"now","input":{}}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      event(
          "message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":8}})") +
      event("message_stop", R"({"type":"message_stop"})");
  expect_same_at_every_split(s, {"role", "tool[0] id=t1 name=now", "tool[0] args={}",
                                 "finish=tool_calls", "usage=4/8/12 cached=0 creation=0"});
}

TEST(AnthropicStream, TruncatedBeforeMessageStop_IsUpstreamError) {
  const std::string full = read_data("basic_response.sse");
  const std::size_t cut = full.find("event: message_stop");
  ASSERT_NE(cut, std::string::npos);
  for (std::size_t end : {std::size_t{0}, full.find("event: content_block_delta"), cut, cut + 30}) {
    const Outcome o = decode_whole(std::string_view(full).substr(0, end));
    ASSERT_TRUE(o.error) << end;
    EXPECT_EQ(o.error->kind, ErrorKind::upstream);
    EXPECT_NE(o.error->message.find("provider 'claude' ended the stream before message_stop"),
              std::string::npos);
  }
}

TEST(AnthropicStream, ErrorEventMidStream_IsOverloadedRetryable) {
  const std::string full = read_data("basic_response.sse");
  const std::string s =
      full.substr(0, full.find("event: content_block_stop")) +
      event("error",
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  for (const Outcome& o : {decode_whole(s), decode_bytewise(s)}) {
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->kind, ErrorKind::overloaded);
    EXPECT_EQ(core::http_status(o.error->kind), 503);
    EXPECT_TRUE(o.error->retryable);
    EXPECT_EQ(o.error->message, "provider 'claude' reported an error in its stream: Overloaded");
    // The chunks before the error were delivered.
    EXPECT_EQ(o.chunks, (Lines{"role", "content=Hello", "content= there", "content=!"}));
  }
}

TEST(AnthropicStream, OtherErrorEvents_MappedByType) {
  const std::pair<std::string_view, ErrorKind> cases[] = {
      {"rate_limit_error", ErrorKind::rate_limit},
      {"api_error", ErrorKind::upstream},
      {"invalid_request_error", ErrorKind::invalid_request},
      {"something_new", ErrorKind::upstream}};
  for (const auto& [type, kind] : cases) {
    const Outcome o = decode_whole(event("error", R"({"type":"error","error":{"type":")" +
                                                      std::string(type) + R"(","message":"x"}})"));
    ASSERT_TRUE(o.error) << type;
    EXPECT_EQ(o.error->kind, kind) << type;
  }
}

TEST(AnthropicStream, MalformedEventData_IsUpstreamError) {
  const Outcome o = decode_whole(event("message_start", "{not json"));
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, ErrorKind::upstream);
}

}  // namespace
}  // namespace stratus::providers
