// The mock's Anthropic dialect: routes, auth, validation in Anthropic's words, and round trips
// through the Anthropic adapter (its requests parse; its answers, streams and errors decode).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "mock/dialect.h"
#include "providers/anthropic.h"

namespace stratus::mock {
namespace {

namespace json = boost::json;
using core::ErrorKind;

const Dialect& dialect() {
  const Dialect* d = find_dialect("anthropic");
  EXPECT_NE(d, nullptr);
  return *d;
}

struct Req {
  std::map<std::string, std::string> headers = {{"x-api-key", "sk-test"},
                                                {"anthropic-version", "2023-06-01"}};
  std::string body;

  MockRequest view() const {
    return MockRequest{.method = "POST",
                       .target = "/v1/messages",
                       .path = "/v1/messages",
                       .query = "",
                       .header = [this](std::string_view name) -> std::string_view {
                         auto it = headers.find(std::string(name));
                         return it == headers.end() ? std::string_view() : it->second;
                       },
                       .body = body,
                       .host = "127.0.0.1"};
  }
};

// The Anthropic error body's (type, message).
std::pair<std::string, std::string> error_of(const Reply& r) {
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("type"), "error") << r.body;
  const auto& e = v.at("error");
  return {std::string(e.at("type").as_string()), std::string(e.at("message").as_string())};
}

api::Message msg(api::Role role, std::string text) {
  api::Message m;
  m.role = role;
  api::ContentPart p;
  p.text = std::move(text);
  m.content.push_back(std::move(p));
  return m;
}

providers::Deployment deployment() {
  providers::Deployment d;
  d.provider = "mock-cloud";
  d.base_url = "http://127.0.0.1:1";
  d.model = "claude-mock";
  return d;
}

// What the adapter sends for a tool round trip, as the dialect sees it.
Req encoded_tool_round_trip(bool stream) {
  api::Message call = msg(api::Role::assistant, "");
  call.tool_calls = {{"toolu_1", "get_weather", R"({"city":"Paris"})"}};
  api::Message result = msg(api::Role::tool, "18C");
  result.tool_call_id = "toolu_1";
  api::Chat c;
  c.messages = {msg(api::Role::system, "Be brief."), msg(api::Role::user, "Weather?"), call,
                result};
  api::Tool tool;
  tool.name = "get_weather";
  c.tools = {tool};
  c.max_tokens = 100;
  c.stream = stream;
  auto r = providers::anthropic_adapter().encode_chat(c, deployment(), {});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  Req req;
  if (r) req.body = r->body;
  return req;
}

Script text_script() {
  Script s;
  s.id = "mock-7";
  s.model = "claude-mock";
  s.tokens = {"Hello", " from", " mock"};
  s.finish = "stop";
  s.prompt_tokens = 20;
  s.completion_tokens = 3;
  s.cached_tokens = 5;
  return s;
}

Script tool_script() {
  Script s;
  s.id = "mock-8";
  s.model = "claude-mock";
  s.tool_calls = {{"call_a", "get_weather", R"({"city":"Paris"})"}, {"call_b", "now", "{}"}};
  s.finish = "tool_calls";
  s.prompt_tokens = 30;
  s.completion_tokens = 24;
  return s;
}

TEST(AnthropicDialect, RoutesOnlyMessages) {
  EXPECT_EQ(dialect().name(), "anthropic");
  EXPECT_EQ(dialect().route("POST", "/v1/messages"), Op::chat);
  EXPECT_FALSE(dialect().route("GET", "/v1/messages"));
  EXPECT_FALSE(dialect().route("POST", "/v1/chat/completions"));
  EXPECT_FALSE(dialect().route("POST", "/v1/embeddings"));
}

TEST(AnthropicDialect, CheckAuth_KeyAndVersionRequired) {
  Req ok;
  EXPECT_FALSE(dialect().check_auth(ok.view()));
  Req no_key;
  no_key.headers.erase("x-api-key");
  auto r = dialect().check_auth(no_key.view());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(error_of(*r).first, "authentication_error");
  Req no_version;
  no_version.headers.erase("anthropic-version");
  r = dialect().check_auth(no_version.view());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_of(*r), std::make_pair(std::string("invalid_request_error"),
                                         std::string("anthropic-version: header is required")));
}

TEST(AnthropicDialect, CheckAuth_BearerKeyAccepted) {
  Req bearer;
  bearer.headers.erase("x-api-key");
  bearer.headers["authorization"] = "Bearer sk-test";
  EXPECT_FALSE(dialect().check_auth(bearer.view()));
  bearer.headers["authorization"] = "Basic abc";
  auto r = dialect().check_auth(bearer.view());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST(AnthropicDialect, SamplingParams_RefusedFromApiVersion20261021) {
  for (std::string_view param : {"temperature", "top_p", "top_k"}) {
    Req req;
    req.body = R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"}],")" +
               std::string(param) + R"(":1})";
    Reply bad;
    EXPECT_TRUE(dialect().parse_chat(req.view(), bad)) << param << ": " << bad.body;
    req.headers["anthropic-version"] = "2026-10-21";
    EXPECT_FALSE(dialect().parse_chat(req.view(), bad)) << param;
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(error_of(bad).second, std::string(param) + ": Extra inputs are not permitted");
  }
}

TEST(AnthropicDialect, ParsesTheAdaptersRequest) {
  Req req = encoded_tool_round_trip(true);
  Reply bad;
  auto call = dialect().parse_chat(req.view(), bad);
  ASSERT_TRUE(call) << bad.body;
  EXPECT_EQ(call->model, "claude-mock");
  EXPECT_TRUE(call->stream);
  EXPECT_EQ(call->max_tokens, 100);
  EXPECT_EQ(call->system, "Be brief.");
  EXPECT_EQ(call->tool_names, std::vector<std::string>{"get_weather"});
  EXPECT_TRUE(call->last_is_tool_result);
  EXPECT_FALSE(call->tool_choice_none);
  EXPECT_GT(call->prompt_tokens, 3);
}

TEST(AnthropicDialect, ParseChat_RejectsLikeAnthropic) {
  const std::pair<std::string, std::string> cases[] = {
      {"{", "There was an error parsing the body of your request as JSON"},
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})", "model: Field required"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
       "max_tokens: Field required"},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})",
       "max_tokens: Input should be an integer greater than or equal to 1"},
      {R"({"model":"m","max_tokens":5})", "messages: Field required"},
      {R"({"model":"m","max_tokens":5,"messages":[]})",
       "messages: at least one message is required"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"s"}]})",
       "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` "
       "parameter, not \"system\" as an input message role."},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"a"}]})",
       "messages: first message must use the \"user\" role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})",
       "messages: roles must alternate between \"user\" and \"assistant\", but found multiple "
       "\"user\" roles in a row"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]})",
       "messages: text content blocks must be non-empty"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"}],"frequency_penalty":1})",
       "frequency_penalty: Extra inputs are not permitted"},
      {R"({"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"a"}]})",
       "temperature: range: 0..1"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"}],"tools":[{"name":"t"}]})",
       "tools.0.input_schema: Field required"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_x","content":"r"}]}]})",
       "messages.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x. Each "
       "`tool_result` block must have a corresponding `tool_use` block in the previous message."},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_y","name":"t","input":{}}]},{"role":"user","content":"b"}]})",
       "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
       "toolu_y. Each `tool_use` block must have a corresponding `tool_result` block in the next "
       "message."},
  };
  for (const auto& [body, message] : cases) {
    Req req;
    req.body = body;
    Reply bad;
    EXPECT_FALSE(dialect().parse_chat(req.view(), bad)) << body;
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_EQ(error_of(bad), std::make_pair(std::string("invalid_request_error"), message));
  }
}

TEST(AnthropicDialect, ParseChat_ToolChoiceNoneAndFinalAssistantPrefill) {
  Req req;
  req.body = R"({"model":"m","max_tokens":5,"tool_choice":{"type":"none"},
    "tools":[{"name":"t","input_schema":{"type":"object"}}],
    "messages":[{"role":"user","content":"a"},{"role":"assistant","content":""}]})";
  Reply bad;
  auto call = dialect().parse_chat(req.view(), bad);
  ASSERT_TRUE(call) << bad.body;
  EXPECT_TRUE(call->tool_choice_none);
  EXPECT_FALSE(call->last_is_tool_result);
}

api::ChatResponse decode(const Reply& r) {
  core::UpstreamResponse res{r.status, r.headers, r.body};
  auto d = providers::anthropic_adapter().decode_chat(res, deployment(), {});
  EXPECT_TRUE(d.has_value()) << d.error().message;
  return d ? *d : api::ChatResponse{};
}

TEST(AnthropicDialect, ChatResponse_TextDecodesThroughTheAdapter) {
  const Reply r = dialect().chat_response(ChatCall{}, text_script());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"id":"msg_mock-7","type":"message",
    "role":"assistant","model":"claude-mock",
    "content":[{"type":"text","text":"Hello from mock"}],
    "stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":15,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,
             "output_tokens":3}})"));
  const auto d = decode(r);
  EXPECT_EQ(d.content, "Hello from mock");
  EXPECT_EQ(d.finish_reason, api::FinishReason::stop);
  EXPECT_EQ(d.usage.prompt_tokens, 20);
  EXPECT_EQ(d.usage.cached_tokens, 5);
  EXPECT_EQ(d.usage.completion_tokens, 3);
}

TEST(AnthropicDialect, ChatResponse_ToolUseDecodesThroughTheAdapter) {
  const auto d = decode(dialect().chat_response(ChatCall{}, tool_script()));
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].id, "call_a");
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(d.tool_calls[1].arguments, "{}");
  EXPECT_EQ(d.finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(d.usage.total_tokens, 54);
}

std::vector<std::string> event_names(const std::vector<std::string>& events) {
  std::vector<std::string> names;
  for (const auto& e : events) {
    EXPECT_TRUE(e.starts_with("event: ") && e.ends_with("\n\n")) << e;
    names.push_back(e.substr(7, e.find('\n') - 7));
  }
  return names;
}

// Decodes the events with the adapter's stream decoder, byte by byte.
std::vector<api::ChatChunk> decode_stream(const std::vector<std::string>& events) {
  auto decoder = providers::anthropic::make_stream_decoder("mock-cloud");
  std::vector<api::ChatChunk> out;
  for (const auto& e : events) {
    for (char ch : e) {
      auto r = decoder->feed(std::string_view(&ch, 1), out);
      EXPECT_TRUE(r.has_value()) << r.error().message;
    }
  }
  auto r = decoder->finish(out);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return out;
}

TEST(AnthropicDialect, TextStream_ExactEventSequenceAndRoundTrip) {
  const auto events = dialect().stream_events(ChatCall{}, text_script());
  EXPECT_EQ(
      event_names(events),
      (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                "content_block_delta", "content_block_delta", "content_block_delta",
                                "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(
      events[3],
      "event: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"
      "\n\n");
  const auto chunks = decode_stream(events);
  ASSERT_EQ(chunks.size(), 6u);
  EXPECT_TRUE(chunks[0].role);
  EXPECT_EQ(chunks[1].content + chunks[2].content + chunks[3].content, "Hello from mock");
  EXPECT_EQ(chunks[4].finish_reason, api::FinishReason::stop);
  ASSERT_TRUE(chunks[5].usage);
  EXPECT_EQ(chunks[5].usage->prompt_tokens, 20);
  EXPECT_EQ(chunks[5].usage->cached_tokens, 5);
  EXPECT_EQ(chunks[5].usage->completion_tokens, 3);
}

TEST(AnthropicDialect, ToolStream_InputJsonDeltasRoundTrip) {
  const auto events = dialect().stream_events(ChatCall{}, tool_script());
  const auto names = event_names(events);
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(names.back(), "message_stop");
  EXPECT_EQ(std::count(names.begin(), names.end(), "content_block_start"), 2);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ping"), 1);
  const auto chunks = decode_stream(events);
  std::map<int, std::pair<std::string, std::string>> calls;  // index → (id+name, arguments)
  for (const auto& c : chunks) {
    for (const auto& t : c.tool_calls) {
      calls[t.index].first += t.id + t.name;
      calls[t.index].second += t.arguments;
    }
  }
  EXPECT_EQ(calls[0],
            std::make_pair(std::string("call_aget_weather"), std::string(R"({"city":"Paris"})")));
  EXPECT_EQ(calls[1], std::make_pair(std::string("call_bnow"), std::string("{}")));
  EXPECT_EQ(calls.size(), 2u);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[chunks.size() - 2].finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(chunks.back().usage->completion_tokens, 24);
}

TEST(AnthropicDialect, ErrorsDecodeToTheRightKinds) {
  const std::pair<int, ErrorKind> cases[] = {
      {400, ErrorKind::invalid_request}, {401, ErrorKind::authentication},
      {403, ErrorKind::permission},      {404, ErrorKind::not_found},
      {429, ErrorKind::rate_limit},      {500, ErrorKind::upstream},
      {503, ErrorKind::overloaded},      {529, ErrorKind::overloaded}};
  for (const auto& [status, kind] : cases) {
    const Reply r = dialect().error(status, "boom");
    EXPECT_EQ(r.status, status);
    core::UpstreamResponse res{r.status, r.headers, r.body};
    const auto e = providers::anthropic_adapter().decode_error(res, deployment());
    EXPECT_EQ(e.kind, kind) << status;
    EXPECT_EQ(e.message, "provider 'mock-cloud' answered " + std::to_string(status) + ": boom");
  }
  EXPECT_EQ(error_of(dialect().error(529, "x")).first, "overloaded_error");
  EXPECT_EQ(error_of(dialect().error(500, "x")).first, "api_error");
  EXPECT_EQ(error_of(dialect().error(429, "x")).first, "rate_limit_error");
}

TEST(AnthropicDialect, StreamErrorEvent_IsOverloadedForTheDecoder) {
  auto events = dialect().stream_events(ChatCall{}, text_script());
  events.resize(3);
  events.push_back(dialect().stream_error_event(503, "Overloaded"));
  EXPECT_TRUE(events.back().starts_with("event: error\ndata: "));
  auto decoder = providers::anthropic::make_stream_decoder("mock-cloud");
  std::vector<api::ChatChunk> out;
  std::string all;
  for (const auto& e : events) all += e;
  auto r = decoder->feed(all, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::overloaded);
  EXPECT_TRUE(r.error().retryable);
}

}  // namespace
}  // namespace stratus::mock
