// Anthropic adapter: IR → exact Messages API requests (golden JSON), recorded responses → IR,
// and the error mapping table.
#include "providers/anthropic.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "providers/adapter.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using api::Role;
using core::ErrorKind;

Deployment deployment() {
  Deployment d;
  d.provider = "claude";
  d.type = "anthropic";
  d.base_url = "https://api.anthropic.com";
  d.model = "claude-sonnet-4-5";
  return d;
}

api::Message msg(Role role, std::string text) {
  api::Message m;
  m.role = role;
  api::ContentPart p;
  p.text = std::move(text);
  m.content.push_back(std::move(p));
  return m;
}

api::Chat chat_of(std::vector<api::Message> messages) {
  api::Chat c;
  c.model = "my-alias";
  c.messages = std::move(messages);
  return c;
}

api::Tool weather_tool() {
  api::Tool t;
  t.name = "get_weather";
  t.description = "Weather for a city";
  t.parameters = json::parse(
      R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})");
  return t;
}

core::Result<core::UpstreamRequest> encode(const api::Chat& c, const Deployment& d = deployment()) {
  return anthropic_adapter().encode_chat(c, d, CallContext{"req-1"});
}

// Encodes and compares the body with `expected` as parsed JSON values.
void expect_body(const api::Chat& c, std::string_view expected) {
  auto r = encode(c);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(json::parse(r->body), json::parse(expected)) << r->body;
}

void expect_invalid(const api::Chat& c, std::string_view param) {
  auto r = encode(c);
  ASSERT_FALSE(r.has_value()) << r->body;
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(r.error().param, param) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

// ---- encode_chat ----

TEST(AnthropicEncode, Text_UrlHeadersAndBody) {
  auto r = encode(chat_of({msg(Role::user, "Hello")}));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url, "https://api.anthropic.com/v1/messages");
  const core::Headers expected = {{"content-type", "application/json"},
                                  {"anthropic-version", "2023-06-01"}};
  EXPECT_EQ(r->headers, expected);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({
    "model": "claude-sonnet-4-5",
    "max_tokens": 4096,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]})"));
}

TEST(AnthropicEncode, ApiVersionFromDeployment) {
  Deployment d = deployment();
  d.api_version = "2024-01-01";
  auto r = encode(chat_of({msg(Role::user, "Hello")}), d);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers.at(1),
            (std::pair<std::string, std::string>("anthropic-version", "2024-01-01")));
}

TEST(AnthropicEncode, MultiTurn_KeepsAlternation) {
  expect_body(chat_of({msg(Role::user, "Hi"), msg(Role::assistant, "Hello!"),
                       msg(Role::user, "How are you?")}),
              R"({"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "How are you?"}]}]})");
}

TEST(AnthropicEncode, SystemAndDeveloperAnywhere_LiftedInOrder) {
  expect_body(
      chat_of({msg(Role::system, "Be brief."), msg(Role::user, "Hi"), msg(Role::assistant, "Hello"),
               msg(Role::developer, "Answer in French."), msg(Role::user, "Bye")}),
      R"({"model": "claude-sonnet-4-5", "max_tokens": 4096,
                "system": "Be brief.\n\nAnswer in French.",
                "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "user", "content": [{"type": "text", "text": "Bye"}]}]})");
}

TEST(AnthropicEncode, SystemBetweenUserMessages_UserTurnsMerged) {
  expect_body(chat_of({msg(Role::user, "a"), msg(Role::developer, "s"), msg(Role::user, "b"),
                       msg(Role::assistant, "c"), msg(Role::assistant, "d")}),
              R"({"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": "s", "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"},
                                             {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "c"},
                                                  {"type": "text", "text": "d"}]}]})");
}

api::Chat tool_round_trip() {
  api::Message call = msg(Role::assistant, "Checking both.");
  call.tool_calls = {{"toolu_1", "get_weather", R"({"city":"Paris"})"},
                     {"toolu_2", "get_weather", R"({"city": "Rome"})"}};
  api::Message r1 = msg(Role::tool, "18C");
  r1.tool_call_id = "toolu_1";
  api::Message r2 = msg(Role::tool, "24C");
  r2.tool_call_id = "toolu_2";
  api::Chat c = chat_of({msg(Role::user, "Weather in Paris and Rome?"), call, r1, r2,
                         msg(Role::user, "Which is warmer?")});
  c.tools = {weather_tool()};
  return c;
}

TEST(AnthropicEncode, ToolRoundTrip_ConsecutiveResultsMergedIntoOneUserTurn) {
  expect_body(tool_round_trip(), R"({
    "model": "claude-sonnet-4-5", "max_tokens": 4096,
    "messages": [
      {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24C"},
        {"type": "text", "text": "Which is warmer?"}]}],
    "tools": [{"name": "get_weather", "description": "Weather for a city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]}}]})");
}

TEST(AnthropicEncode, AssistantWithOnlyToolCalls_NoEmptyTextBlock) {
  api::Message call = msg(Role::assistant, "");
  call.tool_calls = {{"toolu_1", "get_weather", ""}};
  api::Message result = msg(Role::tool, "");
  result.tool_call_id = "toolu_1";
  api::Chat c = chat_of({msg(Role::user, "Weather?"), call, result});
  c.tools = {weather_tool()};
  auto r = encode(c);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const auto body = json::parse(r->body);
  EXPECT_EQ(body.at("messages").at(1), json::parse(R"({"role": "assistant", "content": [
    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]})"));
  EXPECT_EQ(body.at("messages").at(2), json::parse(R"({"role": "user", "content": [
    {"type": "tool_result", "tool_use_id": "toolu_1"}]})"));
}

TEST(AnthropicEncode, InvalidToolArguments_Is400NamingTheCall) {
  api::Chat c = tool_round_trip();
  c.messages[1].tool_calls[1].arguments = R"({"city": )";
  expect_invalid(c, "messages[1].tool_calls[1].function.arguments");
  c.messages[1].tool_calls[1].arguments = R"(["Rome"])";
  expect_invalid(c, "messages[1].tool_calls[1].function.arguments");
}

TEST(AnthropicEncode, ToolMessageWithoutId_Is400) {
  api::Chat c = tool_round_trip();
  c.messages[2].tool_call_id.clear();
  expect_invalid(c, "messages[2].tool_call_id");
}

api::Chat with_tool_choice(std::optional<api::ToolChoice> choice,
                           std::optional<bool> parallel = std::nullopt) {
  api::Chat c = chat_of({msg(Role::user, "Weather?")});
  api::Tool bare;
  bare.name = "now";
  c.tools = {weather_tool(), bare};
  c.tool_choice = std::move(choice);
  c.parallel_tool_calls = parallel;
  return c;
}

json::value encoded_field(const api::Chat& c, std::string_view key) {
  auto r = encode(c);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (!r) return nullptr;
  auto body = json::parse(r->body);
  auto* v = body.as_object().if_contains(key);
  return v ? *v : json::value(nullptr);
}

TEST(AnthropicEncode, ToolsWithoutSchema_GetEmptyObjectSchema_StrictKept) {
  api::Chat c = with_tool_choice(std::nullopt);
  c.tools[0].strict = true;
  EXPECT_EQ(encoded_field(c, "tools"), json::parse(R"([
    {"name": "get_weather", "description": "Weather for a city", "strict": true,
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                      "required": ["city"]}},
    {"name": "now", "input_schema": {"type": "object", "properties": {}}}])"));
  EXPECT_TRUE(encoded_field(c, "tool_choice").is_null());
}

TEST(AnthropicEncode, ToolChoiceVariants) {
  using Mode = api::ToolChoice::Mode;
  EXPECT_EQ(encoded_field(with_tool_choice(api::ToolChoice{Mode::auto_, ""}), "tool_choice"),
            json::parse(R"({"type": "auto"})"));
  EXPECT_EQ(encoded_field(with_tool_choice(api::ToolChoice{Mode::none, ""}), "tool_choice"),
            json::parse(R"({"type": "none"})"));
  EXPECT_EQ(encoded_field(with_tool_choice(api::ToolChoice{Mode::required, ""}), "tool_choice"),
            json::parse(R"({"type": "any"})"));
  EXPECT_EQ(encoded_field(with_tool_choice(api::ToolChoice{Mode::function, "now"}), "tool_choice"),
            json::parse(R"({"type": "tool", "name": "now"})"));
}

TEST(AnthropicEncode, ParallelToolCallsFalse_DisablesParallelToolUse) {
  using Mode = api::ToolChoice::Mode;
  EXPECT_EQ(encoded_field(with_tool_choice(std::nullopt, false), "tool_choice"),
            json::parse(R"({"type": "auto", "disable_parallel_tool_use": true})"));
  EXPECT_EQ(
      encoded_field(with_tool_choice(api::ToolChoice{Mode::required, ""}, false), "tool_choice"),
      json::parse(R"({"type": "any", "disable_parallel_tool_use": true})"));
  EXPECT_EQ(
      encoded_field(with_tool_choice(api::ToolChoice{Mode::function, "now"}, false), "tool_choice"),
      json::parse(R"({"type": "tool", "name": "now", "disable_parallel_tool_use": true})"));
  EXPECT_EQ(encoded_field(with_tool_choice(api::ToolChoice{Mode::none, ""}, false), "tool_choice"),
            json::parse(R"({"type": "none"})"));
  EXPECT_TRUE(encoded_field(with_tool_choice(std::nullopt, true), "tool_choice").is_null());
}

TEST(AnthropicEncode, ToolChoiceWithoutTools_OmittedOr400) {
  using Mode = api::ToolChoice::Mode;
  api::Chat c = chat_of({msg(Role::user, "Hi")});
  c.tool_choice = api::ToolChoice{Mode::none, ""};
  c.parallel_tool_calls = false;
  EXPECT_TRUE(encoded_field(c, "tool_choice").is_null());
  c.tool_choice = api::ToolChoice{Mode::required, ""};
  expect_invalid(c, "tool_choice");
  expect_invalid(with_tool_choice(api::ToolChoice{Mode::function, "missing"}), "tool_choice");
}

TEST(AnthropicEncode, Images_UrlAndBase64) {
  api::Message m = msg(Role::user, "What is in these?");
  api::ContentPart url;
  url.kind = api::ContentPart::Kind::image;
  url.url = "https://example.com/cat.png";
  url.detail = "high";
  api::ContentPart data;
  data.kind = api::ContentPart::Kind::image;
  data.media_type = "image/jpeg";
  data.data = "/9j/4AAQSkZJRg==";
  m.content.push_back(url);
  m.content.push_back(data);
  expect_body(chat_of({m}), R"({"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [
    {"role": "user", "content": [
      {"type": "text", "text": "What is in these?"},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                   "data": "/9j/4AAQSkZJRg=="}}]}]})");
}

TEST(AnthropicEncode, Params_MappedAndUnsupportedOnesLeftOut) {
  api::Chat c = chat_of({msg(Role::user, "Hi")});
  c.max_tokens = 256;
  c.temperature = 0.5;
  c.top_p = 0.9;
  c.stop = {"END", "STOP"};
  c.user = "user-42";
  c.stream = true;
  c.include_usage = true;
  c.frequency_penalty = 0.1;
  c.presence_penalty = 0.2;
  c.seed = 7;
  expect_body(c, R"({"model": "claude-sonnet-4-5", "max_tokens": 256, "temperature": 0.5,
    "top_p": 0.9, "stop_sequences": ["END", "STOP"], "metadata": {"user_id": "user-42"},
    "stream": true,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})");
}

TEST(AnthropicEncode, ApiVersion20261021_SamplingParamsLeftOut) {
  api::Chat c = chat_of({msg(Role::user, "Hi")});
  c.temperature = 0.5;
  c.top_p = 0.9;
  c.stop = {"END"};
  Deployment d = deployment();
  d.api_version = "2026-10-21";
  auto r = encode(c, d);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->headers.at(1),
            (std::pair<std::string, std::string>("anthropic-version", "2026-10-21")));
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"model": "claude-sonnet-4-5", "max_tokens": 4096,
    "stop_sequences": ["END"],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})"));
}

TEST(AnthropicEncode, ResponseFormatJsonSchema_OutputConfigFormat) {
  api::Chat c = chat_of({msg(Role::user, "Order ids?")});
  c.response_format.type = api::ResponseFormat::Type::json_schema;
  c.response_format.name = "ids";
  c.response_format.schema = json::parse(R"({"type":"array","items":{"type":"integer"}})");
  EXPECT_EQ(encoded_field(c, "output_config"), json::parse(R"({"format": {"type": "json_schema",
    "schema": {"type": "array", "items": {"type": "integer"}}}})"));
  c.response_format.schema = nullptr;
  expect_invalid(c, "response_format");
}

TEST(AnthropicEncode, ResponseFormatJsonObject_Is400) {
  api::Chat c = chat_of({msg(Role::user, "JSON please")});
  c.response_format.type = api::ResponseFormat::Type::json_object;
  expect_invalid(c, "response_format");
}

TEST(AnthropicEncode, MoreThanOneChoice_Is400) {
  api::Chat c = chat_of({msg(Role::user, "Hi")});
  c.n = 2;
  expect_invalid(c, "n");
}

TEST(AnthropicEncode, OnlySystemMessages_Is400) {
  expect_invalid(chat_of({msg(Role::system, "You are helpful.")}), "messages");
}

TEST(AnthropicEncode, FromOpenAIBody_ParsedThenEncoded) {
  auto chat = api::parse_chat(json::parse(R"({
    "model": "my-alias", "max_completion_tokens": 300, "stream": true,
    "stream_options": {"include_usage": true}, "parallel_tool_calls": false,
    "messages": [
      {"role": "developer", "content": "Use tools."},
      {"role": "user", "content": [
        {"type": "text", "text": "Where is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "locate", "arguments": "{\"hint\":\"tower\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "Paris"}],
    "tools": [{"type": "function", "function": {"name": "locate", "description": "Find a place",
               "parameters": {"type": "object", "properties": {"hint": {"type": "string"}}}}}],
    "tool_choice": "required"})"));
  ASSERT_TRUE(chat.has_value()) << chat.error().message;
  expect_body(*chat, R"({
    "model": "claude-sonnet-4-5", "max_tokens": 300, "stream": true, "system": "Use tools.",
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "Where is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}}]},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "locate", "input": {"hint": "tower"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "Paris"}]}],
    "tools": [{"name": "locate", "description": "Find a place",
               "input_schema": {"type": "object", "properties": {"hint": {"type": "string"}}}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": true}})");
}

// ---- decode_chat (recorded exchanges) ----

json::array exchanges(std::string_view name) {
  std::ifstream in(fs::path(STRATUS_TEST_DATA) / "anthropic" / name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str()).as_array();
}

core::UpstreamResponse response_of(const json::value& exchange) {
  const auto& res = exchange.at("response").as_object();
  core::UpstreamResponse out;
  out.status = static_cast<int>(res.at("status_code").as_int64());
  for (const auto& [k, v] : res.at("headers").as_object()) {
    out.headers.emplace_back(std::string(k), std::string(v.as_string()));
  }
  const auto& body = res.at("body");
  out.body = body.is_string() ? std::string(body.as_string()) : json::serialize(body);
  return out;
}

api::ChatResponse decode_ok(const core::UpstreamResponse& res) {
  auto r = anthropic_adapter().decode_chat(res, deployment(), CallContext{"req-1"});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : api::ChatResponse{};
}

void expect_usage(const api::Usage& u, long prompt, long completion, long cached = 0,
                  long creation = 0) {
  EXPECT_EQ(u.prompt_tokens, prompt);
  EXPECT_EQ(u.completion_tokens, completion);
  EXPECT_EQ(u.total_tokens, prompt + completion);
  EXPECT_EQ(u.cached_tokens, cached);
  EXPECT_EQ(u.cache_creation_tokens, creation);
}

TEST(AnthropicDecode, RecordedToolUse_ToolCallWithSerializedInput) {
  const auto ex = exchanges("tool-use_round-trip_end-turn.json");
  const auto r = decode_ok(response_of(ex.at(0)));
  EXPECT_EQ(r.id, "msg_01M4x4hiFuUdHzu44ih9eCGh");
  EXPECT_EQ(r.model, "claude-haiku-4-5-20251001");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "toolu_013DU6hV4C1M8dJ32ybQFAFi");
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(r.tool_calls[0].arguments),
            json::parse(R"({"location":"SF","units":"c"})"));
  EXPECT_EQ(r.finish_reason, api::FinishReason::tool_calls);
  expect_usage(r.usage, 597, 71);
}

TEST(AnthropicDecode, RecordedEndTurn_Text) {
  const auto ex = exchanges("tool-use_round-trip_end-turn.json");
  const auto r = decode_ok(response_of(ex.at(1)));
  EXPECT_EQ(r.id, "msg_01LzoWDaDa7jiMvVbBiguxJy");
  EXPECT_EQ(r.content, "The weather in SF is currently **20\u00b0C** (68\u00b0F) and **Sunny**!");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, api::FinishReason::stop);
  expect_usage(r.usage, 705, 25);
}

TEST(AnthropicDecode, RecordedAfterErrorToolResult_Text) {
  const auto ex = exchanges("tool-use_then-tool-result-is-error.json");
  const auto first = decode_ok(response_of(ex.at(0)));
  ASSERT_EQ(first.tool_calls.size(), 1u);
  EXPECT_EQ(json::parse(first.tool_calls[0].arguments),
            json::parse(R"({"location":"San Francisco, CA","units":"f"})"));
  const auto r = decode_ok(response_of(ex.at(1)));
  EXPECT_EQ(r.content.rfind("I apologize, but I'm getting an error", 0), 0u) << r.content;
  EXPECT_EQ(r.finish_reason, api::FinishReason::stop);
  expect_usage(r.usage, 760, 63);
}

core::UpstreamResponse json_response(int status, std::string body) {
  return core::UpstreamResponse{status, {{"content-type", "application/json"}}, std::move(body)};
}

TEST(AnthropicDecode, ThinkingCacheAndSeveralTextBlocks) {
  const auto r = decode_ok(json_response(200, R"({"id": "msg_1", "type": "message",
    "role": "assistant", "model": "claude-opus-4-1",
    "content": [{"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "Part one. "}, {"type": "text", "text": "Part two."}],
    "stop_reason": "max_tokens", "stop_sequence": null,
    "usage": {"input_tokens": 5, "cache_read_input_tokens": 100,
              "cache_creation_input_tokens": 20, "output_tokens": 9}})"));
  EXPECT_EQ(r.reasoning, "Let me think.");
  EXPECT_EQ(r.content, "Part one. Part two.");
  EXPECT_EQ(r.finish_reason, api::FinishReason::length);
  expect_usage(r.usage, 125, 9, 100, 20);
}

TEST(AnthropicDecode, StopReasons) {
  const std::pair<std::string_view, api::FinishReason> cases[] = {
      {"end_turn", api::FinishReason::stop},
      {"stop_sequence", api::FinishReason::stop},
      {"max_tokens", api::FinishReason::length},
      {"tool_use", api::FinishReason::tool_calls},
      {"refusal", api::FinishReason::content_filter}};
  for (const auto& [reason, expected] : cases) {
    const auto r = decode_ok(
        json_response(200, R"({"id":"m","content":[],"stop_reason":")" + std::string(reason) +
                               R"(","usage":{"input_tokens":1,"output_tokens":0}})"));
    EXPECT_EQ(r.finish_reason, expected) << reason;
  }
}

TEST(AnthropicDecode, NotAMessage_IsUpstreamError) {
  for (std::string body : {"not json", "[]", R"({"id":"m"})"}) {
    auto r = anthropic_adapter().decode_chat(json_response(200, body), deployment(), {});
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::upstream) << body;
    EXPECT_EQ(r.error().message.rfind("provider 'claude' answered with ", 0), 0u)
        << r.error().message;
  }
}

TEST(AnthropicDecode, ErrorBodyWith200_IsTheMappedError) {
  auto r = anthropic_adapter().decode_chat(
      json_response(
          200, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
      deployment(), {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::overloaded);
  EXPECT_TRUE(r.error().retryable);
}

// ---- decode_error ----

TEST(AnthropicErrors, RecordedInvalidRequest400) {
  const auto ex = exchanges("tool-result-without-tool-use_400-invalid-request.json");
  const auto e = anthropic_adapter().decode_error(response_of(ex.at(1)), deployment());
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(core::http_status(e.kind), 400);
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.upstream_status, 400);
  EXPECT_EQ(
      e.message,
      "provider 'claude' answered 400: messages.0.content.1: unexpected `tool_use_id` found in "
      "`tool_result` blocks: toolu_01GHndag5wQmbzNihYmV2UBj. Each `tool_result` block must "
      "have a corresponding `tool_use` block in the previous message.");
}

TEST(AnthropicErrors, RecordedRateLimit429_Retryable) {
  const auto ex = exchanges("stream_429-429-then-200-sse.json");
  for (std::size_t i : {0u, 1u}) {
    const auto e = anthropic_adapter().decode_error(response_of(ex.at(i)), deployment());
    EXPECT_EQ(e.kind, ErrorKind::rate_limit);
    EXPECT_TRUE(e.retryable);
    EXPECT_EQ(e.upstream_status, 429);
    EXPECT_FALSE(e.retry_after_s.has_value());
    EXPECT_NE(e.message.find("would exceed your organization's rate limit"), std::string::npos);
  }
}

struct ErrorCase {
  int status;
  std::string type;  // empty: a body that is not Anthropic's error JSON
  std::string message;
  std::string retry_after;
  ErrorKind kind;
  int client_status;
  bool retryable;
  std::optional<int> retry_after_s;
};

std::string error_body(const ErrorCase& c) {
  if (c.type.empty()) return c.message;
  return json::serialize(json::object{
      {"type", "error"}, {"error", json::object{{"type", c.type}, {"message", c.message}}}});
}

TEST(AnthropicErrors, MappingTable) {
  const ErrorCase cases[] = {
      {400,
       "invalid_request_error",
       "max_tokens: Field required",
       "",
       ErrorKind::invalid_request,
       400,
       false,
       {}},
      {400,
       "invalid_request_error",
       "prompt is too long: 210000 tokens > 200000 maximum",
       "",
       ErrorKind::context_length,
       400,
       false,
       {}},
      {401,
       "authentication_error",
       "invalid x-api-key",
       "",
       ErrorKind::authentication,
       401,
       false,
       {}},
      {403,
       "permission_error",
       "no access to this model",
       "",
       ErrorKind::permission,
       403,
       false,
       {}},
      {404, "not_found_error", "model: claude-x", "", ErrorKind::not_found, 404, false, {}},
      {413,
       "request_too_large",
       "Request exceeds the maximum allowed number of bytes",
       "",
       ErrorKind::invalid_request,
       400,
       false,
       {}},
      {429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", "7",
       ErrorKind::rate_limit, 429, true, 7},
      {500, "api_error", "Internal server error", "", ErrorKind::upstream, 502, true, {}},
      {529, "overloaded_error", "Overloaded", "", ErrorKind::overloaded, 503, true, {}},
      {529, "", "", "", ErrorKind::overloaded, 503, true, {}},
      {503, "", "<html>upstream connect error</html>", "3", ErrorKind::overloaded, 503, true, 3},
      {504, "timeout_error", "Request timed out", "", ErrorKind::timeout, 504, true, {}},
  };
  for (const ErrorCase& c : cases) {
    core::UpstreamResponse res{c.status, {{"content-type", "application/json"}}, error_body(c)};
    if (!c.retry_after.empty()) res.headers.emplace_back("retry-after", c.retry_after);
    const auto e = anthropic_adapter().decode_error(res, deployment());
    const std::string label = std::to_string(c.status) + " " + c.type;
    EXPECT_EQ(e.kind, c.kind) << label;
    EXPECT_EQ(core::http_status(e.kind), c.client_status) << label;
    EXPECT_EQ(e.retryable, c.retryable) << label;
    EXPECT_EQ(e.retry_after_s, c.retry_after_s) << label;
    EXPECT_EQ(e.upstream_status, c.status) << label;
    const std::string shown = c.message.empty() ? "HTTP " + std::to_string(c.status) : c.message;
    EXPECT_EQ(e.message, "provider 'claude' answered " + std::to_string(c.status) + ": " + shown)
        << label;
    EXPECT_EQ(e.code, c.kind == ErrorKind::context_length ? "context_length_exceeded" : "")
        << label;
  }
}

TEST(AnthropicAdapter, RegisteredWithoutEmbeddings) {
  const Adapter* a = find_adapter("anthropic");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, &anthropic_adapter());
  EXPECT_EQ(a->name(), "anthropic");
  EXPECT_FALSE(a->capabilities().embeddings);
  EXPECT_TRUE(a->capabilities().stream);
  auto r = a->encode_embeddings(api::Embeddings{}, deployment());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
}

}  // namespace
}  // namespace stratus::providers
