// The Bedrock adapter's answer side: Converse responses (fixtures written from the botocore
// shapes, and checked against them) → IR, and the error mapping table.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "botocore_shapes.h"
#include "providers/bedrock.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
using core::ErrorKind;
using testing::read_data;

Deployment dep() {
  return {.provider = "aws",
          .type = "bedrock",
          .base_url = "https://bedrock-runtime.us-east-1.amazonaws.com",
          .model = "anthropic.claude-3-haiku-20240307-v1:0",
          .region = "us-east-1",
          .project = {},
          .api_version = {}};
}

core::UpstreamResponse response(int status, std::string body, core::Headers headers = {}) {
  return {.status = status, .headers = std::move(headers), .body = std::move(body)};
}

// Decodes a fixture after checking it is a valid ConverseResponse.
api::ChatResponse decode_fixture(const std::string& name, core::Headers headers = {}) {
  static const json::value model =
      json::parse(read_data("bedrock/bedrock-runtime-2023-09-30.botocore-service-2.json"));
  const testing::ShapeChecker shapes(model);
  auto body = read_data("bedrock/" + name);
  EXPECT_EQ(shapes.check(json::parse(body), "ConverseResponse"), "") << name;
  auto r = bedrock_adapter().decode_chat(response(200, body, std::move(headers)), dep(), {});
  EXPECT_TRUE(r.has_value()) << name << ": " << r.error().message;
  return r ? *r : api::ChatResponse{};
}

TEST(BedrockDecode, Text) {
  auto r = decode_fixture("converse_text.response.json", {{"x-amzn-requestid", "req-1"}});
  EXPECT_EQ(r.id, "req-1");
  EXPECT_EQ(r.model, "anthropic.claude-3-haiku-20240307-v1:0");
  EXPECT_EQ(r.content, "Paris is the capital of France.");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, api::FinishReason::stop);
  EXPECT_EQ(r.usage.prompt_tokens, 14);
  EXPECT_EQ(r.usage.completion_tokens, 9);
  EXPECT_EQ(r.usage.total_tokens, 23);
  EXPECT_EQ(r.usage.cached_tokens, 0);
}

TEST(BedrockDecode, ToolUse_IdsNamesSerializedInput) {
  auto r = decode_fixture("converse_tool_use.response.json");
  EXPECT_EQ(r.content, "I'll look up both cities.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.tool_calls[1].id, "tooluse_8dFd2mwPTyW4cE2nUjUhkA");
  EXPECT_EQ(r.tool_calls[1].arguments, R"({"city":"Berlin","unit":"celsius"})");
  EXPECT_EQ(r.finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(r.usage.total_tokens, 508);
}

TEST(BedrockDecode, ReasoningAndCacheUsage) {
  auto r = decode_fixture("converse_reasoning_cached.response.json");
  EXPECT_EQ(r.reasoning, "A haiku has 5-7-5 syllables.");
  EXPECT_EQ(r.content, "Autumn moonlight,");
  EXPECT_EQ(r.finish_reason, api::FinishReason::length);
  // inputTokens excludes the cache: OpenAI's prompt_tokens = 12 + 2000 read + 48 written.
  EXPECT_EQ(r.usage.prompt_tokens, 2060);
  EXPECT_EQ(r.usage.cached_tokens, 2000);
  EXPECT_EQ(r.usage.cache_creation_tokens, 48);
  EXPECT_EQ(r.usage.completion_tokens, 64);
  EXPECT_EQ(r.usage.total_tokens, 2124);  // Bedrock's own totalTokens
}

TEST(BedrockDecode, GuardrailIntervened_IsContentFilter) {
  auto r = decode_fixture("converse_guardrail.response.json");
  EXPECT_EQ(r.finish_reason, api::FinishReason::content_filter);
  EXPECT_EQ(r.usage.completion_tokens, 0);
}

TEST(BedrockDecode, StopReasons) {
  const std::pair<std::string_view, api::FinishReason> cases[] = {
      {"end_turn", api::FinishReason::stop},
      {"stop_sequence", api::FinishReason::stop},
      {"max_tokens", api::FinishReason::length},
      {"model_context_window_exceeded", api::FinishReason::length},
      {"tool_use", api::FinishReason::tool_calls},
      {"guardrail_intervened", api::FinishReason::content_filter},
      {"content_filtered", api::FinishReason::content_filter},
      {"malformed_model_output", api::FinishReason::stop},
  };
  for (auto [reason, finish] : cases) {
    auto body =
        R"({"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":")" +
        std::string(reason) +
        R"(","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}})";
    auto r = bedrock_adapter().decode_chat(response(200, body), dep(), {});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->finish_reason, finish) << reason;
  }
}

TEST(BedrockDecode, UnreadableBodies_AreUpstreamErrors) {
  for (std::string body :
       {"", "[]", R"({"output":{}})", R"({"output":{"message":{"content":3}}})"}) {
    auto r = bedrock_adapter().decode_chat(response(200, body), dep(), {});
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::upstream) << body;
  }
}

// ---- errors ----

struct ErrorCase {
  std::string_view type;
  int status;
  ErrorKind kind;
  bool retryable;
};

TEST(BedrockErrors, MappingTable_FromTheErrorTypeHeader) {
  const ErrorCase cases[] = {
      {"ValidationException", 400, ErrorKind::invalid_request, false},
      {"AccessDeniedException", 403, ErrorKind::permission, false},
      {"UnrecognizedClientException", 403, ErrorKind::authentication, false},
      {"InvalidSignatureException", 403, ErrorKind::authentication, false},
      {"ExpiredTokenException", 403, ErrorKind::authentication, false},
      {"ResourceNotFoundException", 404, ErrorKind::not_found, false},
      {"ModelTimeoutException", 408, ErrorKind::timeout, true},
      {"ModelErrorException", 424, ErrorKind::upstream, true},
      {"ThrottlingException", 429, ErrorKind::rate_limit, true},
      {"ServiceQuotaExceededException", 400, ErrorKind::rate_limit, true},
      {"ModelNotReadyException", 429, ErrorKind::overloaded, true},
      {"InternalServerException", 500, ErrorKind::upstream, true},
      {"ServiceUnavailableException", 503, ErrorKind::overloaded, true},
  };
  for (auto& c : cases) {
    auto header = std::string(c.type) + ":http://internal.amazon.com/coral/com.amazon.bedrock/";
    auto e = bedrock_adapter().decode_error(
        response(c.status, R"({"message":"the provider's words"})",
                 {{"x-amzn-errortype", header}, {"retry-after", "4"}}),
        dep());
    EXPECT_EQ(e.kind, c.kind) << c.type;
    EXPECT_EQ(e.retryable, c.retryable) << c.type;
    EXPECT_EQ(e.upstream_status, c.status) << c.type;
    EXPECT_EQ(e.retry_after_s, 4) << c.type;
    EXPECT_EQ(e.message,
              "provider 'aws' answered " + std::to_string(c.status) + ": the provider's words")
        << c.type;
    EXPECT_EQ(e.code, c.retryable ? "" : std::string(c.type)) << c.type;
    auto* t = find_bedrock_error_type(c.type);
    ASSERT_NE(t, nullptr) << c.type;
    EXPECT_EQ(t->status, c.status) << c.type;
  }
}

TEST(BedrockErrors, TypeFromTheBody_CaseOfFirstLetter_UnknownByStatus) {
  auto coral = bedrock_adapter().decode_error(
      response(
          403,
          R"({"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"The security token included in the request is invalid."})"),
      dep());
  EXPECT_EQ(coral.kind, ErrorKind::authentication);
  EXPECT_NE(coral.message.find("security token"), std::string::npos) << coral.message;

  EXPECT_EQ(find_bedrock_error_type("throttlingException")->name, "ThrottlingException");
  EXPECT_EQ(find_bedrock_error_type("ThrottlingException:http://x/")->name, "ThrottlingException");
  EXPECT_EQ(find_bedrock_error_type("Throttling"), nullptr);

  auto unknown = bedrock_adapter().decode_error(response(502, "<html>bad gateway</html>"), dep());
  EXPECT_EQ(unknown.kind, ErrorKind::upstream);
  EXPECT_TRUE(unknown.retryable);
  auto unknown_403 = bedrock_adapter().decode_error(
      response(403, R"({"message":"nope"})", {{"x-amzn-errortype", "SomethingNewException"}}),
      dep());
  EXPECT_EQ(unknown_403.kind, ErrorKind::permission);
}

TEST(BedrockErrors, TooLongInputs_AreContextLength) {
  for (std::string message : {"Input is too long for requested model.",
                              "The model returned the following errors: prompt is too long: "
                              "250000 tokens > 200000 maximum",
                              "Too many input tokens. Max input tokens: 8192"}) {
    auto e = bedrock_adapter().decode_error(
        response(400, json::serialize(json::object{{"message", message}}),
                 {{"x-amzn-errortype",
                   "ValidationException:http://internal.amazon.com/coral/"
                   "com.amazon.bedrock/"}}),
        dep());
    EXPECT_EQ(e.kind, ErrorKind::context_length) << message;
    EXPECT_EQ(e.code, "context_length_exceeded") << message;
  }
}

}  // namespace
}  // namespace stratus::providers
