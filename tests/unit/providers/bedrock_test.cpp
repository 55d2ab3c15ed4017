// The Bedrock adapter's request side: IR → exact Converse URL and body (goldens, every body also
// checked against the botocore ConverseRequest shape), what Converse cannot express (400s),
// SigV4 through auth::sign with a fixed clock, and InvokeModel embeddings requests.
#include "providers/bedrock.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/signer.h"
#include "auth/sigv4.h"
#include "botocore_shapes.h"
#include "stream_util.h"

namespace stratus::providers {
namespace {

namespace json = boost::json;
using core::ErrorKind;
using testing::read_data;

Deployment dep(std::string model = "anthropic.claude-3-haiku-20240307-v1:0") {
  return {.provider = "aws",
          .type = "bedrock",
          .base_url = "https://bedrock-runtime.us-east-1.amazonaws.com",
          .model = std::move(model),
          .region = "us-east-1",
          .project = {},
          .api_version = {}};
}

api::Chat chat_of(std::string_view body) {
  auto c = api::parse_chat(json::parse(body));
  EXPECT_TRUE(c.has_value()) << c.error().message;
  return *c;
}

const testing::ShapeChecker& shapes() {
  static const json::value model =
      json::parse(read_data("bedrock/bedrock-runtime-2023-09-30.botocore-service-2.json"));
  static const testing::ShapeChecker checker(model);
  return checker;
}

// Encodes; the body must be a valid ConverseRequest.
core::UpstreamRequest encode(std::string_view openai_body, Deployment d = dep()) {
  auto r = bedrock_adapter().encode_chat(chat_of(openai_body), d, {});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (!r) return {};
  EXPECT_EQ(shapes().check(json::parse(r->body), "ConverseRequest"), "") << r->body;
  return *r;
}

// The exact body text for this expected JSON (whitespace removed, member order kept).
std::string golden(std::string_view expected) { return json::serialize(json::parse(expected)); }

core::Error encode_error(std::string_view openai_body) {
  auto r = bedrock_adapter().encode_chat(chat_of(openai_body), dep(), {});
  EXPECT_FALSE(r.has_value()) << r->body;
  return r ? core::Error{} : r.error();
}

constexpr std::string_view kWeatherTool =
    R"({"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}})";

std::string with_tool(std::string_view rest) {
  return "{\"model\":\"m\",\"tools\":[" + std::string(kWeatherTool) + "]," + std::string(rest) +
         "}";
}

TEST(BedrockEncode, Text_UrlEncodesTheModelIdOnce) {
  auto r = encode(R"({"model":"alias","messages":[{"role":"user","content":"Hello"}],
                      "max_tokens":16})");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
            "anthropic.claude-3-haiku-20240307-v1%3A0/converse");
  EXPECT_EQ(r.headers, (core::Headers{{"content-type", "application/json"}}));
  EXPECT_EQ(
      r.body,
      R"({"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":16}})");
}

TEST(BedrockEncode, Stream_UsesConverseStream) {
  auto r = encode(R"({"model":"a","stream":true,"messages":[{"role":"user","content":"Hi"}]})",
                  dep("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x.y-v1:0"));
  EXPECT_EQ(r.url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.x.y-v1%3A0/"
            "converse-stream");
  EXPECT_EQ(r.body, golden(R"({"messages":[{"role":"user","content":[{"text":"Hi"}]}]})"));
}

TEST(BedrockEncode, MultiTurn) {
  auto r = encode(R"({"model":"m","messages":[
      {"role":"user","content":"Hi"},
      {"role":"assistant","content":"Hello."},
      {"role":"user","content":[{"type":"text","text":"And "},{"type":"text","text":"again?"}]}]})");
  EXPECT_EQ(r.body, golden(R"({"messages":[
      {"role":"user","content":[{"text":"Hi"}]},
      {"role":"assistant","content":[{"text":"Hello."}]},
      {"role":"user","content":[{"text":"And "},{"text":"again?"}]}]})"));
}

TEST(BedrockEncode, SystemAndDeveloperAnywhere_GoToTopLevelSystem_SameRolesMerge) {
  auto r = encode(R"({"model":"m","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","content":"Hi"},
      {"role":"developer","content":"Answer in French."},
      {"role":"user","content":"Still there?"},
      {"role":"system","content":""},
      {"role":"assistant","content":"Oui."},
      {"role":"assistant","content":"Toujours."}]})");
  EXPECT_EQ(r.body, golden(R"({"messages":[
      {"role":"user","content":[{"text":"Hi"},{"text":"Still there?"}]},
      {"role":"assistant","content":[{"text":"Oui."},{"text":"Toujours."}]}],
    "system":[{"text":"You are terse."},{"text":"Answer in French."}]})"));
}

TEST(BedrockEncode, ParallelToolCallsAndMergedToolResults_RoundTrip) {
  auto r = encode(with_tool(R"("messages":[
      {"role":"user","content":"Weather in Paris and Berlin?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"tooluse_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"tooluse_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Berlin\"}"}}]},
      {"role":"tool","tool_call_id":"tooluse_1","content":"{\"temp\":18}"},
      {"role":"tool","tool_call_id":"tooluse_2","content":[{"type":"text","text":"12C"}]},
      {"role":"user","content":"And tomorrow?"}])"));
  EXPECT_EQ(r.body, golden(R"({"messages":[
      {"role":"user","content":[{"text":"Weather in Paris and Berlin?"}]},
      {"role":"assistant","content":[
        {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}},
        {"toolUse":{"toolUseId":"tooluse_2","name":"get_weather","input":{"city":"Berlin"}}}]},
      {"role":"user","content":[
        {"toolResult":{"toolUseId":"tooluse_1","content":[{"text":"{\"temp\":18}"}]}},
        {"toolResult":{"toolUseId":"tooluse_2","content":[{"text":"12C"}]}},
        {"text":"And tomorrow?"}]}],
    "toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Weather for a city",
      "inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}]}})"));
}

TEST(BedrockEncode, EmptyToolArgumentsAndResults_StayValid) {
  auto r = encode(with_tool(R"("messages":[
      {"role":"user","content":"Hi"},
      {"role":"assistant","content":"Checking.","tool_calls":[
        {"id":"t1","type":"function","function":{"name":"get_weather","arguments":""}}]},
      {"role":"tool","tool_call_id":"t1","content":""}])"));
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("messages").at(1), json::parse(R"({"role":"assistant","content":[
      {"text":"Checking."},{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]})"));
  EXPECT_EQ(body.at("messages").at(2), json::parse(R"({"role":"user","content":[
      {"toolResult":{"toolUseId":"t1","content":[]}}]})"));
}

TEST(BedrockEncode, Base64Image_BecomesImageBytes) {
  auto r = encode(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
      {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}]}]})");
  EXPECT_EQ(r.body, golden(R"({"messages":[{"role":"user","content":[
      {"text":"What is this?"},
      {"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}},
      {"image":{"format":"jpeg","source":{"bytes":"/9j/4AAQ"}}}]}]})"));
}

TEST(BedrockEncode, ImageUrlsAndOtherFormats_AreClear400s) {
  auto url = encode_error(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]})");
  EXPECT_EQ(url.kind, ErrorKind::invalid_request);
  EXPECT_EQ(url.param, "messages[0].content[1].image_url");
  EXPECT_NE(url.message.find("cannot fetch image URLs"), std::string::npos) << url.message;

  auto bmp = encode_error(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]})");
  EXPECT_EQ(bmp.kind, ErrorKind::invalid_request);
  EXPECT_NE(bmp.message.find("png, jpeg, gif or webp"), std::string::npos) << bmp.message;
}

json::value tool_config_for(std::string_view rest) {
  auto body = json::parse(encode(with_tool(rest)).body).as_object();
  auto* tc = body.if_contains("toolConfig");
  return tc ? *tc : json::value(nullptr);
}

TEST(BedrockEncode, ToolChoiceVariants) {
  const std::string plain = R"("messages":[{"role":"user","content":"Hi"}])";
  const auto tools =
      json::parse(R"([{"toolSpec":{"name":"get_weather","description":"Weather for a city",
      "inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}])");
  EXPECT_EQ(tool_config_for(plain), (json::object{{"tools", tools}}));
  EXPECT_EQ(tool_config_for(R"("tool_choice":"auto",)" + plain),
            (json::object{{"tools", tools}, {"toolChoice", {{"auto", json::object()}}}}));
  EXPECT_EQ(tool_config_for(R"("tool_choice":"required",)" + plain),
            (json::object{{"tools", tools}, {"toolChoice", {{"any", json::object()}}}}));
  EXPECT_EQ(
      tool_config_for(R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},)" +
                      plain),
      (json::object{{"tools", tools}, {"toolChoice", {{"tool", {{"name", "get_weather"}}}}}}));
  // none: no toolConfig at all, unless the history needs one (then no toolChoice).
  EXPECT_EQ(tool_config_for(R"("tool_choice":"none",)" + plain), json::value(nullptr));
  EXPECT_EQ(tool_config_for(R"("tool_choice":"none","messages":[
      {"role":"user","content":"Hi"},
      {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"t1","content":"sunny"}])"),
            (json::object{{"tools", tools}}));
}

TEST(BedrockEncode, ToolHistoryWithoutTools_SynthesizesToolSpecs) {
  auto r = encode(R"({"model":"m","messages":[
      {"role":"user","content":"Hi"},
      {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"lookup","arguments":"{\"q\":1}"}}]},
      {"role":"tool","tool_call_id":"t1","content":"found"}]})");
  EXPECT_EQ(
      json::parse(r.body).at("toolConfig"),
      json::parse(
          R"({"tools":[{"toolSpec":{"name":"lookup","inputSchema":{"json":{"type":"object"}}}}]})"));
}

TEST(BedrockEncode, Params_InferenceConfig_SeedAndPenaltiesIgnored) {
  auto r = encode(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],
      "max_completion_tokens":100,"temperature":0.5,"top_p":0.25,"stop":"END","seed":7,
      "frequency_penalty":0.5,"presence_penalty":0.5,"user":"u1","parallel_tool_calls":false})");
  EXPECT_EQ(r.body, golden(R"({"messages":[{"role":"user","content":[{"text":"Hi"}]}],
      "inferenceConfig":{"maxTokens":100,"temperature":0.5,"topP":0.25,"stopSequences":["END"]}})"));
}

TEST(BedrockEncode, JsonSchemaAndReasoningEffort_GoToOutputConfig) {
  auto r = encode(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],
      "reasoning_effort":"high",
      "response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,
        "schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}})");
  EXPECT_EQ(r.body, golden(R"({"messages":[{"role":"user","content":[{"text":"Hi"}]}],
      "outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{
        "schema":"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"],\"additionalProperties\":false}",
        "name":"answer"}}},"effort":"high"}})"));
}

TEST(BedrockEncode, WhatConverseCannotSay_IsA400) {
  auto n = encode_error(R"({"model":"m","n":2,"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(n.kind, ErrorKind::invalid_request);
  EXPECT_EQ(n.param, "n");

  auto json_object = encode_error(
      R"({"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(json_object.kind, ErrorKind::invalid_request);
  EXPECT_EQ(json_object.param, "response_format");

  auto args = encode_error(with_tool(R"("messages":[{"role":"user","content":"Hi"},
      {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"[1,2]"}}]}])"));
  EXPECT_EQ(args.param, "messages[1].tool_calls[0].function.arguments");

  auto only_system =
      encode_error(R"({"model":"m","messages":[{"role":"system","content":"You are terse."}]})");
  EXPECT_EQ(only_system.param, "messages");
}

// The encoded request signed by auth::sign with a fixed clock equals the derived Bedrock vector:
// the model id's ':' is %3A on the wire and %253A in the canonical request.
TEST(BedrockEncode, SigV4_ThroughAuthSign_MatchesTheDerivedVector) {
  auto vectors = json::parse(read_data("sigv4/derived/bedrock-converse-sigv4.json"));
  auto& c = vectors.at("cases").at(0);
  ASSERT_EQ(c.at("name"), "bedrock-converse-colon-model-id");

  auto r =
      encode(R"({"model":"alias","messages":[{"role":"user","content":"Hello"}],"max_tokens":16})");
  EXPECT_EQ(r.url, c.at("request").at("url").as_string());
  EXPECT_EQ(r.body, c.at("request").at("body").as_string());

  auth::Credentials creds;
  creds.kind = auth::Credentials::Kind::sigv4;
  creds.aws = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  creds.region = "us-east-1";
  creds.service = "bedrock";
  const auto when = std::chrono::sys_days{std::chrono::year{2015} / 8 / 30} +
                    std::chrono::hours{12} + std::chrono::minutes{36};
  auto signed_req = r;
  auth::sign(signed_req, creds, when);
  auto header = [&](std::string_view name) -> std::string {
    for (auto& [k, v] : signed_req.headers) {
      if (k == name) return v;
    }
    return {};
  };
  EXPECT_EQ(header("authorization"), c.at("expected").at("authorization").as_string());
  EXPECT_EQ(header("x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(header("host"), "bedrock-runtime.us-east-1.amazonaws.com");

  auth::SigV4Context ctx{.credentials = creds.aws,
                         .region = "us-east-1",
                         .service = "bedrock",
                         .now = when,
                         .options = auth::default_sigv4_options("bedrock")};
  auto sig = auth::sign_sigv4_request(r, ctx);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->canonical_request, c.at("expected").at("canonical_request").as_string());
  EXPECT_NE(
      sig->canonical_request.find("/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse"),
      std::string::npos);
}

// ---- embeddings (InvokeModel) ----

api::Embeddings embeddings_of(std::string_view body) {
  auto e = api::parse_embeddings(json::parse(body));
  EXPECT_TRUE(e.has_value()) << e.error().message;
  return *e;
}

TEST(BedrockEmbeddings, Titan_OneInputPerCall) {
  auto r = bedrock_adapter().encode_embeddings(
      embeddings_of(R"({"model":"e","input":"hello world","dimensions":256})"),
      dep("amazon.titan-embed-text-v2:0"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/"
            "invoke");
  EXPECT_EQ(r->body, R"({"inputText":"hello world","dimensions":256})");

  auto many = bedrock_adapter().encode_embeddings(
      embeddings_of(R"({"model":"e","input":["a","b"]})"), dep("amazon.titan-embed-text-v1"));
  ASSERT_FALSE(many.has_value());
  EXPECT_EQ(many.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(many.error().param, "input");
}

TEST(BedrockEmbeddings, Cohere_TextsAndInputType) {
  auto r = bedrock_adapter().encode_embeddings(
      embeddings_of(R"({"model":"e","input":["alpha","beta"]})"), dep("cohere.embed-english-v3"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->url,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/cohere.embed-english-v3/invoke");
  EXPECT_EQ(r->body, R"({"texts":["alpha","beta"],"input_type":"search_document"})");

  auto v4 = bedrock_adapter().encode_embeddings(
      embeddings_of(R"({"model":"e","input":["a"],"dimensions":512})"),
      dep("us.cohere.embed-v4:0"));
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->body, R"({"texts":["a"],"input_type":"search_document","output_dimension":512})");

  auto v3dims = bedrock_adapter().encode_embeddings(
      embeddings_of(R"({"model":"e","input":["a"],"dimensions":512})"),
      dep("cohere.embed-english-v3"));
  ASSERT_FALSE(v3dims.has_value());
  EXPECT_EQ(v3dims.error().param, "dimensions");

  auto chat_model =
      bedrock_adapter().encode_embeddings(embeddings_of(R"({"model":"e","input":"a"})"), dep());
  ASSERT_FALSE(chat_model.has_value());
  EXPECT_EQ(chat_model.error().code, "embeddings_not_supported");
}

core::UpstreamResponse response(int status, std::string body, core::Headers headers = {}) {
  return {.status = status, .headers = std::move(headers), .body = std::move(body)};
}

TEST(BedrockEmbeddings, DecodesTitanAndCohere_UsageFromHeaderBodyOrEstimate) {
  auto titan = bedrock_adapter().decode_embeddings(
      response(200, read_data("bedrock/titan_embed_v2.response.json")),
      dep("amazon.titan-embed-text-v2:0"));
  ASSERT_TRUE(titan.has_value());
  ASSERT_EQ(titan->vectors.size(), 1u);
  EXPECT_EQ(titan->vectors[0], (std::vector<float>{0.125f, -0.5f, 0.25f, 0.75f}));
  EXPECT_EQ(titan->usage.prompt_tokens, 5);
  EXPECT_EQ(titan->usage.total_tokens, 5);

  auto cohere = bedrock_adapter().decode_embeddings(
      response(200, read_data("bedrock/cohere_embed_v3.response.json")),
      dep("cohere.embed-english-v3"));
  ASSERT_TRUE(cohere.has_value());
  ASSERT_EQ(cohere->vectors.size(), 2u);
  EXPECT_EQ(cohere->vectors[1], (std::vector<float>{0.0f, 1.0f, -1.0f}));
  EXPECT_EQ(cohere->usage.prompt_tokens, 3 + 2);  // "alpha beta" and "gamma", 4 chars a token

  auto counted = bedrock_adapter().decode_embeddings(
      response(200, read_data("bedrock/cohere_embed_v3.response.json"),
               {{"x-amzn-bedrock-input-token-count", "7"}}),
      dep("cohere.embed-english-v3"));
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(counted->usage.prompt_tokens, 7);

  auto v4 = bedrock_adapter().decode_embeddings(
      response(
          200,
          R"({"id":"x","embeddings":{"float":[[1.5,2.5]]},"response_type":"embeddings_by_type"})"),
      dep("cohere.embed-v4:0"));
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->vectors, (std::vector<std::vector<float>>{{1.5f, 2.5f}}));

  auto bad = bedrock_adapter().decode_embeddings(response(200, R"({"embedding":["x"]})"),
                                                 dep("amazon.titan-embed-text-v1"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::upstream);
}

}  // namespace
}  // namespace stratus::providers
