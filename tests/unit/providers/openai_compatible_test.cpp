// The OpenAI wire format adapter and Azure OpenAI: URLs, IR ↔ OpenAI JSON, recorded streams
// under any split, and error mapping (Azure content filter, string codes).
#include "providers/openai_compatible.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/azure.h"
#include "providers/common.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
using core::ErrorKind;
using testing::decode_every_way;
using testing::read_data;

Deployment openai_dep() {
  return {.provider = "oa",
          .type = "openai",
          .base_url = "https://api.openai.com/v1",
          .model = "gpt-4o",
          .region = {},
          .project = {},
          .api_version = {}};
}
Deployment azure_dep(std::string version = "2024-10-21") {
  return {.provider = "az",
          .type = "azure",
          .base_url = "https://res.openai.azure.com",
          .model = "my gpt",
          .region = {},
          .project = {},
          .api_version = std::move(version)};
}

api::Chat chat_of(std::string_view body) {
  auto c = api::parse_chat(json::parse(body));
  EXPECT_TRUE(c.has_value()) << c.error().message;
  return *c;
}

core::UpstreamResponse response(int status, std::string body, core::Headers headers = {}) {
  return {.status = status, .headers = std::move(headers), .body = std::move(body)};
}

TEST(OpenAIAdapter, PassthroughUrls) {
  auto& oa = openai_adapter();
  EXPECT_EQ(oa.passthrough_url(openai_dep(), Endpoint::chat),
            "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(oa.passthrough_url(openai_dep(), Endpoint::embeddings),
            "https://api.openai.com/v1/embeddings");
  auto& az = azure_adapter();
  EXPECT_EQ(az.passthrough_url(azure_dep(), Endpoint::chat),
            "https://res.openai.azure.com/openai/deployments/my%20gpt/chat/"
            "completions?api-version=2024-10-21");
  EXPECT_EQ(az.passthrough_url(azure_dep("v1"), Endpoint::embeddings),
            "https://res.openai.azure.com/openai/v1/embeddings");
}

TEST(OpenAIAdapter, EncodesTheIrBackToOpenAIJson) {
  auto chat = chat_of(R"({"model":"alias","stream":true,"messages":[
      {"role":"system","content":"s"},
      {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
      {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"r"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
    "tool_choice":"required","max_tokens":5,"stop":["x"],"temperature":0})");
  auto req = openai_adapter().encode_chat(chat, openai_dep(), {});
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->url, "https://api.openai.com/v1/chat/completions");
  auto expected = json::parse(R"({"model":"gpt-4o","messages":[
      {"role":"system","content":"s"},
      {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","content":"r","tool_call_id":"c1"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
    "tool_choice":"required","temperature":0.0,"max_completion_tokens":5,"stop":["x"],
    "stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(json::parse(req->body), expected) << req->body;
}

TEST(OpenAIAdapter, DecodesSpecExampleResponses) {
  auto text = openai_adapter().decode_chat(
      response(200, read_data("openai/chat-completion_default.response.json")), openai_dep(), {});
  ASSERT_TRUE(text.has_value());
  EXPECT_FALSE(text->content.empty());
  EXPECT_EQ(text->finish_reason, api::FinishReason::stop);
  EXPECT_GT(text->usage.total_tokens, 0);

  auto tool = openai_adapter().decode_chat(
      response(200, read_data("openai/chat-completion_tool-call.response.json")), openai_dep(), {});
  ASSERT_TRUE(tool.has_value());
  ASSERT_EQ(tool->tool_calls.size(), 1u);
  EXPECT_EQ(tool->tool_calls[0].id, "call_abc123");
  EXPECT_EQ(tool->tool_calls[0].name, "get_current_weather");
  EXPECT_EQ(json::parse(tool->tool_calls[0].arguments),
            json::parse(R"({"location":"Boston, MA"})"));
  EXPECT_EQ(tool->finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(tool->usage.prompt_tokens, 82);
  EXPECT_EQ(tool->usage.completion_tokens, 17);

  auto bad = openai_adapter().decode_chat(response(200, "{\"choices\":[]}"), openai_dep(), {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::upstream);
}

testing::DecoderFactory openai_stream() {
  return [] { return openai_adapter().stream_decoder({}, openai_dep(), {}); };
}

TEST(OpenAIAdapter, RecordedStreams_SameChunksUnderAnySplit) {
  for (std::string name :
       {"chat-stream_text_usage-chunk", "chat-stream_two-parallel-tool-calls",
        "chat-stream_finish-length", "chat-stream_refusal", "chat-stream_logprobs"}) {
    std::string mismatch;
    auto r = decode_every_way(openai_stream(), read_data("openai/" + name + ".sse"), &mismatch);
    EXPECT_TRUE(mismatch.empty()) << name << ": " << mismatch;
    EXPECT_FALSE(r.error) << name << ": " << r.error->message;
    ASSERT_FALSE(r.chunks.empty()) << name;
    EXPECT_TRUE(r.chunks.front().starts_with("role")) << name;
    EXPECT_TRUE(r.chunks.back().starts_with("usage=")) << name << ": " << r.text();
  }
}

TEST(OpenAIAdapter, ParallelToolCallStream_KeepsIndexesAndIds) {
  std::string mismatch;
  auto r = decode_every_way(openai_stream(),
                            read_data("openai/chat-stream_two-parallel-tool-calls.sse"), &mismatch);
  auto text = r.text();
  EXPECT_NE(text.find("tool[0] id=call_"), std::string::npos) << text;
  EXPECT_NE(text.find("tool[1] id=call_"), std::string::npos) << text;
  EXPECT_NE(text.find("finish=tool_calls"), std::string::npos) << text;
}

TEST(OpenAIAdapter, StreamWithoutDone_IsAnError) {
  auto bytes = read_data("openai/chat-stream_text_usage-chunk.sse");
  bytes = bytes.substr(0, bytes.find("data: [DONE]"));
  auto r = testing::decode_whole(openai_stream(), bytes);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::upstream);
  EXPECT_NE(r.error->message.find("[DONE]"), std::string::npos);
}

TEST(OpenAIAdapter, StreamErrorEvent_IsAnError) {
  auto r = testing::decode_whole(
      openai_stream(), "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("boom"), std::string::npos);
}

TEST(OpenAIAdapter, ErrorMapping) {
  struct Case {
    int status;
    std::string body;
    ErrorKind kind;
    bool retryable;
    std::string code;
  };
  const std::vector<Case> cases = {
      {400, R"({"error":{"message":"bad","type":"invalid_request_error","code":null}})",
       ErrorKind::invalid_request, false, ""},
      {400,
       R"({"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}})",
       ErrorKind::context_length, false, "context_length_exceeded"},
      {401, R"({"error":{"message":"Incorrect API key","code":"invalid_api_key"}})",
       ErrorKind::authentication, false, "invalid_api_key"},
      {403, R"({"error":{"message":"no"}})", ErrorKind::permission, false, ""},
      {404, R"({"error":{"message":"no model","code":"model_not_found"}})", ErrorKind::not_found,
       false, "model_not_found"},
      {429, R"({"error":{"message":"slow down","code":"rate_limit_exceeded"}})",
       ErrorKind::rate_limit, true, "rate_limit_exceeded"},
      {500, R"({"error":{"message":"oops"}})", ErrorKind::upstream, true, ""},
      {503, "not json", ErrorKind::overloaded, true, ""},
      // The router retries these elsewhere too (issue 4): timeouts, conflicts, other 5xx.
      {408, "", ErrorKind::timeout, true, ""},
      {409, R"({"error":{"message":"lock timeout"}})", ErrorKind::upstream, true, ""},
      {422, R"({"error":{"message":"bad"}})", ErrorKind::invalid_request, false, ""},
      {502, "", ErrorKind::upstream, true, ""},
      {504, "", ErrorKind::timeout, true, ""},
      {529, "", ErrorKind::overloaded, true, ""},
  };
  for (auto& c : cases) {
    auto e = openai_adapter().decode_error(response(c.status, c.body, {{"retry-after", "7"}}),
                                           openai_dep());
    EXPECT_EQ(e.kind, c.kind) << c.body;
    EXPECT_EQ(e.retryable, c.retryable) << c.body;
    EXPECT_EQ(e.code, c.code) << c.body;
    EXPECT_EQ(e.upstream_status, c.status);
    EXPECT_EQ(e.retry_after_s, 7);
    EXPECT_NE(e.message.find("provider 'oa'"), std::string::npos);
  }
}

TEST(AzureAdapter, DecodesTheSpecExample) {
  auto example = json::parse(read_data("azure/chat_completions.2024-10-21.example.json"));
  auto body = json::serialize(example.at("responses").at("200").at("body"));
  auto r = azure_adapter().decode_chat(response(200, body), azure_dep(), {});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->content.starts_with("Ahoy matey!"));
  EXPECT_EQ(r->usage.prompt_tokens, 33);
  EXPECT_EQ(r->usage.completion_tokens, 557);
  // The request side of the example is a plain OpenAI body sent to the deployment URL.
  auto params = example.at("parameters");
  auto chat = chat_of(json::serialize(
      json::object{{"model", "x"}, {"messages", params.at("body").at("messages")}}));
  auto req = azure_adapter().encode_chat(
      chat, azure_dep(std::string(params.at("api-version").as_string())), {});
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->url,
            "https://res.openai.azure.com/openai/deployments/my%20gpt/chat/"
            "completions?api-version=2024-10-21");
  EXPECT_EQ(json::parse(req->body).at("messages"), params.at("body").at("messages"));
}

TEST(AzureAdapter, ContentFilterErrors_BothSpellings) {
  const std::string service =
      R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,
    "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}})";
  const std::string spec = R"({"error":{"message":"filtered","code":"content_filter",
    "inner_error":{"code":"ResponsibleAIPolicyViolation","content_filter_results":{"self_harm":{"filtered":true,"severity":"high"}}}}})";
  auto a = azure_adapter().decode_error(response(400, service), azure_dep());
  EXPECT_EQ(a.kind, ErrorKind::invalid_request);
  EXPECT_EQ(a.code, "content_filter");
  EXPECT_FALSE(a.retryable);
  EXPECT_NE(a.message.find("filtered: hate, violence"), std::string::npos) << a.message;
  auto b = azure_adapter().decode_error(response(400, spec), azure_dep());
  EXPECT_EQ(b.code, "content_filter");
  EXPECT_NE(b.message.find("filtered: self_harm"), std::string::npos) << b.message;
}

TEST(AzureAdapter, StringErrorCodes) {
  auto rate = azure_adapter().decode_error(
      response(
          429,
          R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 12 seconds."}})",
          {{"retry-after", "12"}}),
      azure_dep());
  EXPECT_EQ(rate.kind, ErrorKind::rate_limit);
  EXPECT_TRUE(rate.retryable);
  EXPECT_EQ(rate.retry_after_s, 12);
  auto missing = azure_adapter().decode_error(
      response(
          404,
          R"({"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}})"),
      azure_dep());
  EXPECT_EQ(missing.kind, ErrorKind::not_found);
  EXPECT_EQ(missing.code, "DeploymentNotFound");
}

TEST(AzureAdapter, FirstStreamChunkWithEmptyChoices_IsSkipped) {
  std::string stream =
      R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]})"
      "\n\n"
      R"(data: {"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null,"index":0}],"id":"x"})"
      "\n\n"
      R"(data: {"choices":[{"delta":{"content":"hi"},"finish_reason":"stop","index":0}],"id":"x"})"
      "\n\n"
      "data: [DONE]\n\n";
  std::string mismatch;
  auto r = decode_every_way([] { return azure_adapter().stream_decoder({}, azure_dep(), {}); },
                            stream, &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_EQ(r.text(), "role \ncontent=hi finish=stop \n");
}

}  // namespace
}  // namespace stratus::providers
