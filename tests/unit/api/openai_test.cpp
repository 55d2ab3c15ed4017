// Tests for the inbound OpenAI dialect: request validation, the upstream body, usage, models
// list and SSE error events.
#include "api/openai.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace stratus::api {
namespace {

namespace json = boost::json;
using core::ErrorKind;

constexpr std::string_view kMinimalChat =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";

void expect_invalid(const core::Result<ChatRequest>& r, std::string_view param) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(core::http_status(r.error().kind), 400);
  EXPECT_EQ(r.error().param, param) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

// ---- parse_chat_request ----

TEST(ParseChat, Valid_ReadsModelAndDefaults) {
  auto r = parse_chat_request(kMinimalChat);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(chat_json(*r), json::parse(kMinimalChat));
}

TEST(ParseChat, InvalidJson_IsInvalidRequestWithoutParam) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[)"), "");
  expect_invalid(parse_chat_request(""), "");
  expect_invalid(parse_chat_request(R"({"model":"m"} trailing)"), "");
  // A whole, valid request with more after it is not JSON either (the one-pass scan stops
  // after the first value; the tree must have the last word).
  expect_invalid(parse_chat_request(std::string(kMinimalChat) + " x"), "");
  expect_invalid(parse_chat_request(std::string(kMinimalChat) + "{}"), "");
  EXPECT_TRUE(parse_chat_request(std::string(kMinimalChat) + " \n").has_value());
}

TEST(ParseChat, DeeplyNestedJson_IsRejectedNotCrashed) {
  std::string deep = R"({"model":"m","messages":[{"role":"user"}],"x":)";
  for (int i = 0; i < 1000; ++i) deep += "[";
  for (int i = 0; i < 1000; ++i) deep += "]";
  deep += "}";
  expect_invalid(parse_chat_request(deep), "");
}

TEST(ParseChat, NotAnObject_IsInvalidRequest) {
  expect_invalid(parse_chat_request(R"([{"model":"m"}])"), "");
  expect_invalid(parse_chat_request(R"("text")"), "");
  expect_invalid(parse_chat_request("null"), "");
}

TEST(ParseChat, MissingModel_Is400WithParamModel) {
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"user","content":"hi"}]})"), "model");
}

TEST(ParseChat, EmptyModel_Is400WithParamModel) {
  expect_invalid(parse_chat_request(R"({"model":"","messages":[{"role":"user"}]})"), "model");
}

TEST(ParseChat, NonStringModel_Is400WithParamModel) {
  expect_invalid(parse_chat_request(R"({"model":42,"messages":[{"role":"user"}]})"), "model");
  expect_invalid(parse_chat_request(R"({"model":null,"messages":[{"role":"user"}]})"), "model");
  expect_invalid(parse_chat_request(R"({"model":["m"],"messages":[{"role":"user"}]})"), "model");
}

TEST(ParseChat, MissingMessages_Is400WithParamMessages) {
  expect_invalid(parse_chat_request(R"({"model":"m"})"), "messages");
}

TEST(ParseChat, NonArrayMessages_Is400WithParamMessages) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":{"role":"user"}})"), "messages");
  expect_invalid(parse_chat_request(R"({"model":"m","messages":"hi"})"), "messages");
}

TEST(ParseChat, EmptyMessages_Is400WithParamMessages) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[]})"), "messages");
}

TEST(ParseChat, MessageNotAnObject_NamesItsIndex) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[{"role":"user"},"hi"]})"),
                 "messages[1]");
}

TEST(ParseChat, RoleMissing_ParamIsMessagesIndexRole) {
  expect_invalid(
      parse_chat_request(R"({"model":"m","messages":[{"role":"system"},{"content":"hi"}]})"),
      "messages[1].role");
}

TEST(ParseChat, RoleNotString_ParamIsMessagesIndexRole) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[{"role":1}]})"),
                 "messages[0].role");
}

TEST(ParseChat, StreamTrue_IsRead) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true})");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->stream);
  EXPECT_FALSE(r->include_usage);
}

TEST(ParseChat, StreamNull_MeansNotStreaming) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":null})");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->stream);
}

TEST(ParseChat, StreamNotBool_Is400WithParamStream) {
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":"yes"})"),
                 "stream");
  expect_invalid(parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":1})"),
                 "stream");
}

TEST(ParseChat, StreamOptionsIncludeUsage_IsRead) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                              R"("stream_options":{"include_usage":true}})");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->include_usage);
  auto off = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                                R"("stream_options":{"include_usage":false}})");
  ASSERT_TRUE(off.has_value());
  EXPECT_FALSE(off->include_usage);
}

TEST(ParseChat, UnknownFields_ArePreservedInBody) {
  auto r =
      parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi","x_msg":1}],)"
                         R"("temperature":0.25,"x_vendor":{"a":[1,"two",null,{"b":false}]}})");
  ASSERT_TRUE(r.has_value());
  auto& o = chat_json(*r).as_object();
  EXPECT_EQ(o.at("temperature"), json::value(0.25));
  EXPECT_EQ(o.at("x_vendor"), json::parse(R"({"a":[1,"two",null,{"b":false}]})"));
  EXPECT_EQ(o.at("messages").at(0).at("x_msg"), json::value(1));
}

// ---- upstream_chat_body ----

TEST(UpstreamChatBody, ModelIsRewritten) {
  auto r = parse_chat_request(kMinimalChat);
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_chat_body(*r, "gpt-4o-2024-08-06"));
  EXPECT_EQ(out.at("model").as_string(), "gpt-4o-2024-08-06");
}

TEST(UpstreamChatBody, UnknownFields_KeptEqualAfterParse) {
  constexpr std::string_view body =
      R"({"model":"alias","messages":[{"role":"user","content":[{"type":"text","text":"é\n\"q\""}]}],)"
      R"("temperature":0.7,"top_p":1,"seed":-3,"logit_bias":{"50256":-100},)"
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
      R"("x_big":18446744073709551615,"x_null":null})";
  auto r = parse_chat_request(body);
  ASSERT_TRUE(r.has_value());
  auto in = json::parse(body).as_object();
  auto out = json::parse(upstream_chat_body(*r, "real")).as_object();
  EXPECT_EQ(out.size(), in.size());
  for (auto& kv : in) {
    if (kv.key() == "model") continue;
    ASSERT_TRUE(out.contains(kv.key())) << kv.key();
    EXPECT_EQ(out.at(kv.key()), kv.value()) << kv.key();
  }
  EXPECT_FALSE(out.contains("stream_options"));  // not a stream: nothing added
}

TEST(UpstreamChatBody, StreamWithoutIncludeUsage_AddsIncludeUsageTrue) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true})");
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_chat_body(*r, "real"));
  EXPECT_EQ(out.at("stream_options"), json::parse(R"({"include_usage":true})"));
  EXPECT_EQ(out.at("stream"), json::value(true));
  // The client's own choice is remembered so the usage chunk can be hidden from it again.
  EXPECT_FALSE(r->include_usage);
}

TEST(UpstreamChatBody, StreamWithIncludeUsageFalse_IsTurnedOn) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                              R"("stream_options":{"include_usage":false}})");
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_chat_body(*r, "real"));
  EXPECT_EQ(out.at("stream_options").at("include_usage"), json::value(true));
  EXPECT_FALSE(r->include_usage);
}

TEST(UpstreamChatBody, ExistingStreamOptionsKeys_AreKept) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                              R"("stream_options":{"x_opt":"keep","n":[1,2]}})");
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_chat_body(*r, "real"));
  EXPECT_EQ(out.at("stream_options"),
            json::parse(R"({"x_opt":"keep","n":[1,2],"include_usage":true})"));
}

TEST(UpstreamChatBody, StreamWithIncludeUsageTrue_IsUnchanged) {
  auto r = parse_chat_request(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                              R"("stream_options":{"include_usage":true}})");
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_chat_body(*r, "real"));
  EXPECT_EQ(out.at("stream_options"), json::parse(R"({"include_usage":true})"));
  EXPECT_TRUE(r->include_usage);
}

// ---- the one-pass check and the splice ----

// The body `make bench` and the SDKs send: checked without a tree, forwarded by splicing.
TEST(ParseChat, UsualRequest_TakesTheOnePassPath) {
  constexpr std::string_view body =
      R"({"model":"bench","messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Hi"}],"max_tokens":128,"stream":false})";
  auto r = parse_chat_request(body);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->spliceable);
  EXPECT_TRUE(r->body.is_null());  // no tree was built
  EXPECT_EQ(r->model, "bench");
  EXPECT_EQ(body.substr(r->model_at, r->model_len), R"("bench")");
}

// Requests the splice cannot take safely are still valid, through the tree.
TEST(ParseChat, UnusualButValid_TakesTheTreePath) {
  for (std::string_view body : {
           R"({"model":"g\u0070t","messages":[{"role":"user"}]})",         // escaped model
           R"({"model":"a","model":"b","messages":[{"role":"user"}]})",    // duplicate key
           R"({"mod\u0065l":"m","messages":[{"role":"user"}]})",           // escaped key
           R"({"model":"m","messages":[{"role":"user","role":"tool"}]})",  // duplicate role
           R"({"model":"m","messages":[{"role":"user"}],"stream_options":7})",
           R"({"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":1}})",
       }) {
    auto fresh = parse_chat_request(body);
    ASSERT_TRUE(fresh.has_value()) << body << ": " << fresh.error().message;
    EXPECT_FALSE(fresh->spliceable) << body;
    EXPECT_FALSE(fresh->body.is_null()) << body;
  }
  auto escaped = parse_chat_request(R"({"model":"g\u0070t","messages":[{"role":"user"}]})");
  EXPECT_EQ(escaped->model, "gpt");
}

// Whatever the path, the upstream body is the same JSON as the tree's.
TEST(UpstreamChatBody, SpliceEqualsTheTreeRewrite) {
  for (std::string_view body : {
           kMinimalChat,
           std::string_view(R"(  {  "messages" : [ { "content" : "x", "role" : "user" } ] ,)"
                            R"( "model" : "m" , "n" : 1.50 }  )"),
           std::string_view(R"({"model":"caf\u00e9","messages":[{"role":"user"}]})"),
           std::string_view(R"({"model":"café","messages":[{"role":"user"}],"stream":true})"),
           std::string_view(R"({"messages":[{"role":"user"}],"stream":true,"model":"m"})"),
           std::string_view(R"({"model":"m","messages":[{"role":"user"}],"stream":null})"),
           std::string_view(R"({"model":"m","messages":[{"role":"user"}],"stream":false,)"
                            R"("stream_options":{"include_usage":false}})"),
           std::string_view(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                            R"("stream_options":{"include_usage":false,"x":[{}]}})"),
           std::string_view(R"({"model":"m","messages":[{"role":"user"}],"stream":true,)"
                            R"("stream_options":{"include_usage":true}})"),
           std::string_view(R"({"model":"m","messages":[{"role":"user","content":[{"type":)"
                            R"("text","text":"\"model\":\"x\""}]}],"x_big":18446744073709551615})"),
       }) {
    for (std::string_view target : {"real", "with \"quotes\" and \\ and \n"}) {
      auto fast = parse_chat_request(body);
      auto tree = parse_chat_request(body);
      ASSERT_TRUE(fast.has_value() && tree.has_value()) << body;
      chat_json(*tree);  // a tree now exists: the rewrite goes through it
      auto a = json::parse(upstream_chat_body(*fast, target));
      auto b = json::parse(upstream_chat_body(*tree, target));
      EXPECT_EQ(a, b) << body << "\n" << json::serialize(a) << "\n" << json::serialize(b);
      EXPECT_EQ(a.at("model").as_string(), target);
    }
  }
}

// The tree built later for translation or governance is the client's body as it was sent.
TEST(ParseChat, ChatJsonOnTheOnePassPath_IsTheWholeBody) {
  constexpr std::string_view body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"x":{"y":[1]}})";
  auto r = parse_chat_request(body);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->spliceable);
  EXPECT_EQ(chat_json(*r), json::parse(body));
  EXPECT_EQ(upstream_chat_body(*r, "real"),  // a tree once built is what is forwarded
            json::serialize(json::parse(R"({"model":"real","messages":[{"role":"user",)"
                                        R"("content":"hi"}],"temperature":0.5,"x":{"y":[1]}})")));
}

// ---- embeddings ----

TEST(ParseEmbeddings, StringAndArrayInput_AreValid) {
  auto s = parse_embeddings_request(R"({"model":"emb","input":"hello"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->model, "emb");
  auto a = parse_embeddings_request(R"({"model":"emb","input":["a","b"],"dimensions":8})");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->body.at("dimensions"), json::value(8));
}

TEST(ParseEmbeddings, MissingModel_Is400WithParamModel) {
  auto r = parse_embeddings_request(R"({"input":"hello"})");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(r.error().param, "model");
}

TEST(ParseEmbeddings, BadInput_Is400WithParamInput) {
  for (std::string_view body : {R"({"model":"e"})", R"({"model":"e","input":3})",
                                R"({"model":"e","input":[]})", R"({"model":"e","input":null})"}) {
    auto r = parse_embeddings_request(body);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_request) << body;
    EXPECT_EQ(r.error().param, "input") << body;
  }
}

TEST(ParseEmbeddings, InvalidJson_IsInvalidRequest) {
  auto r = parse_embeddings_request("{");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
}

TEST(UpstreamEmbeddingsBody, ModelRewritten_OtherFieldsKept) {
  auto r = parse_embeddings_request(R"({"model":"emb","input":["a"],"encoding_format":"float"})");
  ASSERT_TRUE(r.has_value());
  auto out = json::parse(upstream_embeddings_body(*r, "text-embedding-3-small"));
  EXPECT_EQ(out, json::parse(R"({"model":"text-embedding-3-small","input":["a"],)"
                             R"("encoding_format":"float"})"));
}

// ---- usage ----

TEST(UsageOf, ReadsAllCountsAndCachedTokens) {
  auto u = usage_of(
      json::parse(R"({"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,)"
                  R"("prompt_tokens_details":{"cached_tokens":64}}})"));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, 120);
  EXPECT_EQ(u->completion_tokens, 30);
  EXPECT_EQ(u->total_tokens, 150);
  EXPECT_EQ(u->cached_tokens, 64);
}

TEST(UsageOf, NoDetails_CachedIsZero) {
  auto u = usage_of(
      json::parse(R"({"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->cached_tokens, 0);
}

TEST(UsageOf, MissingTotal_IsPromptPlusCompletion) {
  auto u = usage_of(json::parse(R"({"usage":{"prompt_tokens":7,"completion_tokens":5}})"));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->total_tokens, 12);
}

TEST(UsageOf, AbsentOrMalformed_IsNullopt) {
  EXPECT_FALSE(usage_of(json::parse(R"({"id":"x","choices":[]})")).has_value());
  EXPECT_FALSE(usage_of(json::parse(R"({"usage":null})")).has_value());
  EXPECT_FALSE(usage_of(json::parse(R"({"usage":"lots"})")).has_value());
  EXPECT_FALSE(usage_of(json::parse(R"([{"usage":{}}])")).has_value());
}

std::vector<std::string> data_payloads(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("data: ")) out.push_back(line.substr(6));
  }
  return out;
}

// One scan per pass-through stream event: what it carries, without parsing it.
TEST(ScanEvent, UsageOnlyWhenItsValueIsAnObject) {
  EXPECT_TRUE(scan_event(R"({"choices":[],"usage":{"prompt_tokens":1}})").usage);
  EXPECT_TRUE(scan_event(R"({"choices":[], "usage" : {"prompt_tokens":1}})").usage);
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{"content":"x"}}],"usage":null})").usage);
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{"content":"total usage: 3"}}]})").usage);
}

TEST(ScanEvent, ContentToolCallsReasoningAndRefusalCount_EmptyTextDoesNot) {
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"content":"Hi"}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"content": "Hi"}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"tool_calls":[{"index":0}]}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"reasoning_content":"hmm"}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"reasoning":"hmm"}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"delta":{"refusal":"no"}}]})").content);
  // Look-alikes: a finish reason, usage details.
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{},"finish_reason":"tool_calls"}]})").content);
  EXPECT_FALSE(
      scan_event(R"({"choices":[],"usage":{"completion_tokens_details":{"reasoning_tokens":0}}})")
          .content);
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})").content);
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{"refusal":null}}]})").content);
  EXPECT_FALSE(scan_event(R"({"choices":[{"delta":{},"finish_reason":"stop"}]})").content);
  EXPECT_FALSE(scan_event(R"({"choices":[],"usage":{"prompt_tokens":1}})").content);
  EXPECT_FALSE(scan_event("").content);
  EXPECT_FALSE(scan_event("\"").content);
  EXPECT_FALSE(scan_event(R"("content")").content);  // cut short: no value
}

// The scan reads sixteen bytes at a time: every key at every offset of a block, and at the
// very end of the text.
// scan_event uses AVX2 where the CPU has it; scan_event_sse2 is what runs elsewhere. Both
// must give the same answers.
TEST(ScanEvent, KeysAtEveryOffset_SameAnswer) {
  using Scan = EventTraits (*)(std::string_view);
  for (Scan scan : {Scan{&scan_event}, Scan{&scan_event_sse2}}) {
    for (std::size_t pad = 0; pad <= 70; ++pad) {
      SCOPED_TRACE(pad);
      const std::string head = R"({"id":")" + std::string(pad, 'x') + R"(","choices":[{"delta":{)";
      auto both = scan(head + R"("content":"Hi"}}],"usage":{"prompt_tokens":1}})");
      EXPECT_TRUE(both.content);
      EXPECT_TRUE(both.usage);
      auto none = scan(head + R"("content":""}}],"usage":null})");
      EXPECT_FALSE(none.content);
      EXPECT_FALSE(none.usage);
      EXPECT_TRUE(scan(head + R"("tool_calls":[]}}]})").content);
      EXPECT_TRUE(scan(std::string(pad, ' ') + R"({"refusal":"no"})").content);
      EXPECT_FALSE(scan(std::string(pad, ' ') + R"({"refusal":"")").content);
    }
  }
}

TEST(ScanEvent, ContentBeforeTheDelta_CountsOnlyWhenThereIsNoDelta) {
  EXPECT_FALSE(scan_event(R"({"content":"x","choices":[{"delta":{}}]})").content);
  EXPECT_TRUE(scan_event(R"({"choices":[{"message":{"content":"x"}}]})").content);
  // The last usage key decides; an escaped one is inside a string.
  EXPECT_FALSE(scan_event(R"({"usage":{"a":1},"x":{"usage":null}})").usage);
  EXPECT_TRUE(scan_event(R"({"usage":null,"x":"\"usage\":{","usage":{"a":1}})").usage);
  EXPECT_FALSE(scan_event(R"({"usage":null,"x":"\"usage\":{"})").usage);
}

// Every event of the recorded OpenAI streams: the scan agrees with a parse.
TEST(ScanEvent, AgreesWithAParseOnRecordedStreams) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(STRATUS_TEST_DATA) + "/openai")) {
    if (entry.path().extension() != ".sse") continue;
    for (const auto& data : data_payloads(entry.path().string())) {
      if (data == "[DONE]") continue;
      auto v = json::parse(data);
      bool usage = v.as_object().contains("usage") && v.at("usage").is_object();
      bool content = false;
      if (auto* choices = v.as_object().if_contains("choices");
          choices && !choices->as_array().empty()) {
        const auto& d = choices->as_array()[0].at("delta").as_object();
        auto text = [&](std::string_view k) {
          auto* x = d.if_contains(k);
          return x && x->is_string() && !x->as_string().empty();
        };
        content = text("content") || text("refusal") || d.contains("tool_calls") ||
                  d.contains("reasoning_content") || d.contains("reasoning");
      }
      auto t = scan_event(data);
      EXPECT_EQ(t.usage, usage) << data;
      EXPECT_EQ(t.content, content) << data;
      auto portable = scan_event_sse2(data);
      EXPECT_EQ(portable.usage, usage) << data;
      EXPECT_EQ(portable.content, content) << data;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

std::string fixture(std::string_view name) {
  std::string local = std::string(STRATUS_TEST_DATA) + "/openai/" + std::string(name);
  if (std::filesystem::exists(local)) return local;
  return "/work/shared/wire/fixtures/openai/recorded-sse/" + std::string(name);
}

TEST(IsUsageOnlyChunk, RecordedStream_OnlyLastChunkBeforeDone) {
  auto data = data_payloads(fixture("chat-stream_text_usage-chunk.sse"));
  ASSERT_GE(data.size(), 3u);
  ASSERT_EQ(data.back(), "[DONE]");
  data.pop_back();
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto v = json::parse(data[i]);
    bool last = i + 1 == data.size();
    EXPECT_EQ(is_usage_only_chunk(v), last) << "chunk " << i << ": " << data[i];
  }
  auto u = usage_of(json::parse(data.back()));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, 14);
  EXPECT_EQ(u->completion_tokens, 30);
  EXPECT_EQ(u->total_tokens, 44);
}

// The text check (a SAX pass, used by the relay) says what the tree check says.
TEST(IsUsageOnlyChunk, TextAgreesWithTheTree) {
  std::vector<std::string> cases = {
      R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})",
      R"({ "choices" : [ ] , "usage" : {"prompt_tokens":1} })",
      R"({"id":"x","choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":1}})",
      R"({"choices":[[]],"usage":{"prompt_tokens":1}})",
      R"({"choices":[null],"usage":{"prompt_tokens":1}})",
      R"({"choices":{},"usage":{"prompt_tokens":1}})",
      R"({"choices":"[]","usage":{"prompt_tokens":1}})",
      R"({"x":{"choices":[]},"choices":[1],"usage":{"prompt_tokens":1}})",
      R"({"x":{"choices":[1]},"choices":[],"usage":{"prompt_tokens":1}})",
      R"({"choices":[],"usage":null})",
      R"({"choices":[]})",
      R"({"usage":{"prompt_tokens":1}})",
      R"([{"choices":[],"usage":{"prompt_tokens":1}}])",
  };
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(STRATUS_TEST_DATA) + "/openai")) {
    if (entry.path().extension() != ".sse") continue;
    for (const auto& data : data_payloads(entry.path().string())) {
      if (data != "[DONE]") cases.push_back(data);
    }
  }
  int usage_only = 0;
  for (const auto& text : cases) {
    bool tree = is_usage_only_chunk(json::parse(text));
    EXPECT_EQ(is_usage_only_text(text), tree) << text;
    usage_only += tree;
  }
  EXPECT_GE(usage_only, 3);
  // Not JSON, or cut short: never a usage-only chunk.
  EXPECT_FALSE(is_usage_only_text(R"({"choices":[],"usage":{"prompt_tokens":1})"));
  EXPECT_FALSE(is_usage_only_text(R"({"choices":[],"usage":{"prompt_tokens":1}} x)"));
  EXPECT_FALSE(is_usage_only_text(""));
}

TEST(IsUsageOnlyChunk, ChoicesNotEmptyOrUsageNull_IsFalse) {
  EXPECT_FALSE(is_usage_only_chunk(
      json::parse(R"({"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":1}})")));
  EXPECT_FALSE(is_usage_only_chunk(json::parse(R"({"choices":[],"usage":null})")));
  EXPECT_FALSE(is_usage_only_chunk(json::parse(R"({"usage":{"prompt_tokens":1}})")));
  EXPECT_TRUE(is_usage_only_chunk(json::parse(R"({"choices":[],"usage":{"prompt_tokens":1}})")));
}

// ---- models list and SSE errors ----

TEST(ModelsList, ShapeIsOpenAiList) {
  auto v = json::parse(models_list({"fast", "smart"}, 1700000000));
  EXPECT_EQ(v.at("object").as_string(), "list");
  auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(
      data[0],
      json::parse(R"({"id":"fast","object":"model","created":1700000000,"owned_by":"stratus"})"));
  EXPECT_EQ(data[1].at("id").as_string(), "smart");
}

TEST(ModelsList, NoAliases_IsEmptyData) {
  auto v = json::parse(models_list({}, 0));
  EXPECT_TRUE(v.at("data").as_array().empty());
}

TEST(SseErrorEvent, IsOneDataLineWithOpenAiErrorThenBlankLine) {
  auto e = core::Error::make(ErrorKind::upstream, "line one\nline two");
  auto ev = sse_error_event(e);
  ASSERT_TRUE(ev.starts_with("data: "));
  ASSERT_TRUE(ev.ends_with("\n\n"));
  auto payload = ev.substr(6, ev.size() - 8);
  EXPECT_EQ(payload.find('\n'), std::string::npos);  // a raw newline would split the event
  EXPECT_EQ(payload, core::to_openai_json(e));
  EXPECT_EQ(json::parse(payload).at("error").at("message").as_string(), "line one\nline two");
}

}  // namespace
}  // namespace stratus::api

TEST(UsageOfText, FindsTrailingUsageObject) {
  auto u = stratus::api::usage_of_text(
      R"({"id":"x","choices":[{"message":{"content":"a \"usage\": {} trap"}}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":3}}})");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, 7);
  EXPECT_EQ(u->completion_tokens, 5);
  EXPECT_EQ(u->total_tokens, 12);
  EXPECT_EQ(u->cached_tokens, 3);
}

TEST(UsageOfText, UsageNotLast_FallsBackToWholeParse) {
  auto u = stratus::api::usage_of_text(
      R"({"usage":{"prompt_tokens":2,"completion_tokens":1},"choices":[{"message":{"content":"say \"usage\""}}]})");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, 2);
  EXPECT_EQ(u->total_tokens, 3);
}

TEST(UsageOfText, TrailingUsageWithNestedDetailsAndNonIntegers) {
  auto u = stratus::api::usage_of_text(
      R"({"choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
      R"("prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0,"x":{"cached_tokens":99}},)"
      R"("completion_tokens_details":{"reasoning_tokens":2,"cached_tokens":77},"cached_tokens":55,)"
      R"("odd":[1,{"prompt_tokens":1000}]}})");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, 19);
  EXPECT_EQ(u->completion_tokens, 10);
  EXPECT_EQ(u->total_tokens, 29);
  EXPECT_EQ(u->cached_tokens, 4);  // only prompt_tokens_details.cached_tokens counts
  auto missing_total =
      stratus::api::usage_of_text(R"({"usage":{"prompt_tokens":3,"completion_tokens":4,"x":2.5}})");
  ASSERT_TRUE(missing_total.has_value());
  EXPECT_EQ(missing_total->total_tokens, 7);
  auto fractional = stratus::api::usage_of_text(R"({"usage":{"prompt_tokens":3.5}})");
  ASSERT_TRUE(fractional.has_value());
  EXPECT_EQ(fractional->prompt_tokens, 0);  // not a count, as usage_of reads it
}

TEST(UsageOfText, NoUsageOrBrokenJson_IsNullopt) {
  EXPECT_FALSE(stratus::api::usage_of_text(R"({"id":"x"})").has_value());
  EXPECT_FALSE(stratus::api::usage_of_text(R"({"usage":)").has_value());
}
