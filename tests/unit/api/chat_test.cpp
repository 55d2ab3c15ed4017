// Tests for the IR: OpenAI chat/embeddings JSON → IR (with precise error params) and the
// OpenAI rendering of translated responses and stream chunks.
#include "api/chat.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace stratus::api {
namespace {

namespace json = boost::json;
using core::ErrorKind;

core::Result<Chat> chat_of(std::string_view text) { return parse_chat(json::parse(text)); }

void expect_bad(std::string_view body, std::string_view param) {
  auto r = chat_of(body);
  ASSERT_FALSE(r.has_value()) << body;
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(r.error().param, param) << r.error().message;
}

TEST(ChatIr, ParsesAFullRequest) {
  auto r = chat_of(R"({
    "model":"m","stream":true,"stream_options":{"include_usage":true},
    "messages":[
      {"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K","detail":"low"}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"call_1","type":"function","function":{"name":"look","arguments":"{\"q\":1}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"a cat"},
      {"role":"developer","content":"answer in French"}],
    "tools":[{"type":"function","function":{"name":"look","description":"d",
      "parameters":{"type":"object","properties":{"q":{"type":"integer"}}},"strict":true}}],
    "tool_choice":{"type":"function","function":{"name":"look"}},
    "parallel_tool_calls":false,
    "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"},"strict":true}},
    "temperature":0.5,"top_p":0.9,"max_completion_tokens":100,"stop":"END","seed":7,"user":"u1"})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  auto& c = *r;
  EXPECT_EQ(c.model, "m");
  EXPECT_TRUE(c.stream);
  EXPECT_TRUE(c.include_usage);
  ASSERT_EQ(c.messages.size(), 5u);
  EXPECT_EQ(c.messages[0].role, Role::system);
  EXPECT_EQ(c.messages[0].text(), "be brief");
  ASSERT_EQ(c.messages[1].content.size(), 3u);
  EXPECT_EQ(c.messages[1].content[1].kind, ContentPart::Kind::image);
  EXPECT_EQ(c.messages[1].content[1].media_type, "image/png");
  EXPECT_EQ(c.messages[1].content[1].data, "iVBORw0K");
  EXPECT_EQ(c.messages[1].content[1].detail, "low");
  EXPECT_EQ(c.messages[1].content[2].url, "https://example.com/cat.jpg");
  EXPECT_EQ(c.messages[1].text(), "what is this?");
  ASSERT_EQ(c.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(c.messages[2].tool_calls[0].id, "call_1");
  EXPECT_EQ(c.messages[2].tool_calls[0].arguments, R"({"q":1})");
  EXPECT_EQ(c.messages[3].tool_call_id, "call_1");
  EXPECT_EQ(c.messages[4].role, Role::developer);
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_TRUE(c.tools[0].strict);
  EXPECT_EQ(json::serialize(c.tools[0].parameters),
            R"({"type":"object","properties":{"q":{"type":"integer"}}})");
  ASSERT_TRUE(c.tool_choice);
  EXPECT_EQ(c.tool_choice->mode, ToolChoice::Mode::function);
  EXPECT_EQ(c.tool_choice->name, "look");
  EXPECT_EQ(c.parallel_tool_calls, false);
  EXPECT_EQ(c.response_format.type, ResponseFormat::Type::json_schema);
  EXPECT_EQ(c.response_format.name, "x");
  EXPECT_EQ(c.temperature, 0.5);
  EXPECT_EQ(c.top_p, 0.9);
  EXPECT_EQ(c.max_tokens, 100);
  EXPECT_EQ(c.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(c.seed, 7);
  EXPECT_EQ(c.user, "u1");
}

TEST(ChatIr, RejectsBadInputWithThePreciseParam) {
  expect_bad(R"({"model":"m","messages":[]})", "messages");
  expect_bad(R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "messages[0].role");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]})",
             "messages[0].content[0].type");
  expect_bad(
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,xx"}}]}]})",
      "messages[0].content[0].image_url");
  expect_bad(
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})",
      "messages[0].content[0].image_url");
  expect_bad(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})",
             "messages[0].tool_call_id");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":"x","tool_calls":[]}]})",
             "messages[0].tool_calls");
  expect_bad(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]})",
      "tools[0].function.name");
  expect_bad(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"nope"}}})",
      "tool_choice");
  expect_bad(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
      "response_format");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
             "temperature");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})",
             "max_tokens");
  expect_bad(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop");
}

TEST(ChatIr, RendersAnOpenAIResponse) {
  ChatResponse r;
  r.content = "";
  r.tool_calls = {{"call_a", "f", R"({"x":1})"}};
  r.finish_reason = FinishReason::tool_calls;
  r.usage = {.prompt_tokens = 10, .completion_tokens = 5, .total_tokens = 15, .cached_tokens = 4};
  auto text = openai_response_json(r, {"chatcmpl-1", "claude", 1700000000});
  auto v = json::parse(text);
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("id"), "chatcmpl-1");
  EXPECT_EQ(v.at("model"), "claude");
  auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  EXPECT_EQ(choice.at("message").at("tool_calls").at(0).at("function").at("arguments"),
            R"({"x":1})");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 15);
  EXPECT_EQ(v.at("usage").at("prompt_tokens_details").at("cached_tokens"), 4);
}

TEST(ChatIr, RendersStreamChunks) {
  ResponseMeta meta{"chatcmpl-2", "m", 1};
  ChatChunk first;
  first.role = true;
  auto e1 = openai_chunk_event(first, meta);
  ASSERT_TRUE(e1.starts_with("data: ") && e1.ends_with("\n\n"));
  auto v1 = json::parse(e1.substr(6));
  EXPECT_EQ(v1.at("choices").at(0).at("delta").at("role"), "assistant");
  EXPECT_TRUE(v1.at("choices").at(0).at("finish_reason").is_null());

  ChatChunk tool;
  tool.tool_calls = {{1, "call_b", "g", ""}};
  auto v2 = json::parse(openai_chunk_event(tool, meta).substr(6));
  auto& tc = v2.at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_EQ(tc.at("index"), 1);
  EXPECT_EQ(tc.at("id"), "call_b");
  EXPECT_EQ(tc.at("function").at("name"), "g");

  ChatChunk piece;
  piece.tool_calls = {{1, "", "", "{\"a\""}};
  auto v3 = json::parse(openai_chunk_event(piece, meta).substr(6));
  auto& tc3 = v3.at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_FALSE(tc3.as_object().contains("id"));
  EXPECT_EQ(tc3.at("function").at("arguments"), "{\"a\"");

  ChatChunk usage;
  usage.usage = Usage{.prompt_tokens = 3, .completion_tokens = 2};
  auto v4 = json::parse(openai_chunk_event(usage, meta).substr(6));
  EXPECT_TRUE(v4.at("choices").as_array().empty());
  EXPECT_EQ(v4.at("usage").at("total_tokens"), 5);
  // The usage chunk is what OpenAI clients detect as usage-only.
  EXPECT_TRUE(is_usage_only_chunk(v4));
}

TEST(ChatIr, StreamChunks_EscapeAnyTextIntoValidJson) {
  static constexpr char kTail[] = "nul \0 bell \x07 unicode \xC3\xA9\xF0\x9F\x98\x80 end";
  const std::string tricky = std::string("quote \" backslash \\ newline \n tab \t cr \r ") +
                             std::string(kTail, sizeof kTail - 1);
  ChatChunk c;
  c.role = true;
  c.content = tricky;
  c.reasoning = "think \"hard\"";
  c.tool_calls = {{0, "call\"1", "fn\\x", "{\"a\":\"\n\"}"}};
  c.finish_reason = FinishReason::tool_calls;
  ResponseMeta meta{"id\"x", "model\n", 42};
  auto ev = openai_chunk_event(c, meta);
  ASSERT_TRUE(ev.ends_with("}\n\n"));
  auto v = json::parse(ev.substr(6));
  EXPECT_EQ(v.at("id"), "id\"x");
  EXPECT_EQ(v.at("model"), "model\n");
  EXPECT_EQ(v.at("created"), 42);
  auto& delta = v.at("choices").at(0).at("delta");
  EXPECT_EQ(delta.at("content").as_string(), tricky);
  EXPECT_EQ(delta.at("reasoning_content"), "think \"hard\"");
  auto& tc = delta.at("tool_calls").at(0);
  EXPECT_EQ(tc.at("id"), "call\"1");
  EXPECT_EQ(tc.at("function").at("name"), "fn\\x");
  EXPECT_EQ(tc.at("function").at("arguments"), "{\"a\":\"\n\"}");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "tool_calls");
}

TEST(ChatIr, EmbeddingsInputRules) {
  auto ok = parse_embeddings(
      json::parse(R"({"model":"e","input":["a","b"],"encoding_format":"base64"})"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->inputs.size(), 2u);
  EXPECT_TRUE(ok->base64);
  auto bad = parse_embeddings(json::parse(R"({"model":"e","input":[[1,2,3]]})"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().param, "input");

  EmbeddingsResponse r;
  r.vectors = {{1.0f, 0.5f}};
  r.usage.prompt_tokens = 2;
  Embeddings req;
  auto v = json::parse(openai_embeddings_json(r, req, "e"));
  EXPECT_EQ(v.at("data").at(0).at("embedding").at(1).as_double(), 0.5);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 2);
}

}  // namespace
}  // namespace stratus::api
