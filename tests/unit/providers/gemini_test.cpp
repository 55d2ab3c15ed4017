// Gemini Developer API and Vertex AI adapters: golden requests for both URL shapes, recorded
// answers (vertexai-sdk-test-data) decoded, streams fed whole / byte by byte / in random splits,
// google.rpc error mapping, embeddings.
#include "providers/gemini.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "providers/gemini_wire.h"

namespace stratus::providers {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using api::Role;
using core::ErrorKind;

std::string read_data(const std::string& rel) {
  std::ifstream in(fs::path(STRATUS_TEST_DATA) / "gemini" / rel, std::ios::binary);
  EXPECT_TRUE(in) << rel;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Pretty JSON written in the test → the compact text the adapter must produce, key order kept.
std::string compact(std::string_view pretty) { return json::serialize(json::parse(pretty)); }

Deployment gemini_deployment() {
  Deployment d;
  d.provider = "google-ai";
  d.type = "gemini";
  d.base_url = "https://generativelanguage.googleapis.com";
  d.model = "gemini-2.0-flash";
  return d;
}

Deployment vertex_deployment() {
  Deployment d;
  d.provider = "vertex-eu";
  d.type = "vertex";
  d.base_url = "https://europe-west4-aiplatform.googleapis.com";
  d.model = "gemini-2.0-flash";
  d.project = "my-project";
  d.region = "europe-west4";
  return d;
}

CallContext ctx() { return {"req-1"}; }

api::ContentPart text_part(std::string t) {
  api::ContentPart p;
  p.text = std::move(t);
  return p;
}

api::ContentPart image_part() {
  api::ContentPart p;
  p.kind = api::ContentPart::Kind::image;
  return p;
}

api::Message text(Role role, std::string t) {
  api::Message m;
  m.role = role;
  m.content.push_back(text_part(std::move(t)));
  return m;
}

api::Message calls(std::vector<api::ToolCall> tool_calls, std::string t = {}) {
  api::Message m;
  m.role = Role::assistant;
  if (!t.empty()) m.content.push_back(text_part(std::move(t)));
  m.tool_calls = std::move(tool_calls);
  return m;
}

api::Message result(std::string id, std::string t) {
  api::Message m = text(Role::tool, std::move(t));
  m.tool_call_id = std::move(id);
  return m;
}

api::Tool tool(std::string name, std::string params_json, std::string description = {}) {
  return {std::move(name), std::move(description), json::parse(params_json), false};
}

api::Chat chat_of(std::vector<api::Message> messages) {
  api::Chat c;
  c.model = "alias";
  c.messages = std::move(messages);
  return c;
}

core::UpstreamRequest encode(const Adapter& a, const api::Chat& c, const Deployment& d) {
  auto r = a.encode_chat(c, d, ctx());
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : core::UpstreamRequest{};
}

core::Error encode_error(const api::Chat& c) {
  auto r = gemini_adapter().encode_chat(c, gemini_deployment(), ctx());
  EXPECT_FALSE(r.has_value());
  return r ? core::Error{} : r.error();
}

// ---- registry and URLs ----

TEST(GeminiAdapter, Registry_FindsBothAdaptersByName) {
  EXPECT_EQ(find_adapter("gemini"), &gemini_adapter());
  EXPECT_EQ(find_adapter("vertex"), &vertex_adapter());
  EXPECT_EQ(gemini_adapter().name(), "gemini");
  EXPECT_EQ(vertex_adapter().name(), "vertex");
  EXPECT_TRUE(gemini_adapter().capabilities().embeddings);
}

TEST(GeminiAdapter, TextChat_GoldenRequestForBothUrlShapes) {
  const auto c = chat_of({text(Role::user, "Hello")});
  const std::string body = compact(R"({"contents":[{"role":"user","parts":[{"text":"Hello"}]}]})");

  const auto g = encode(gemini_adapter(), c, gemini_deployment());
  EXPECT_EQ(g.method, "POST");
  EXPECT_EQ(g.url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.0-flash:generateContent");
  EXPECT_EQ(g.headers, (core::Headers{{"content-type", "application/json"}}));
  EXPECT_EQ(g.body, body);

  const auto v = encode(vertex_adapter(), c, vertex_deployment());
  EXPECT_EQ(v.url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/"
            "europe-west4/publishers/google/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(v.body, body);
  EXPECT_EQ(v.headers, g.headers);  // credentials come later, from auth::sign
}

TEST(GeminiAdapter, Stream_UsesStreamGenerateContentWithAltSse) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.stream = true;
  EXPECT_EQ(encode(gemini_adapter(), c, gemini_deployment()).url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.0-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(encode(vertex_adapter(), c, vertex_deployment()).url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/"
            "europe-west4/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
}

TEST(GeminiAdapter, Urls_ApiVersionOverrideAndModelsPrefixAndEscaping) {
  auto d = gemini_deployment();
  d.api_version = "v1";
  d.model = "models/gemini-1.5-pro";
  const auto c = chat_of({text(Role::user, "Hi")});
  EXPECT_EQ(encode(gemini_adapter(), c, d).url,
            "https://generativelanguage.googleapis.com/v1/models/gemini-1.5-pro:generateContent");
  auto v = vertex_deployment();
  v.model = "gemini 2/x";
  v.api_version = "v1beta1";
  EXPECT_EQ(encode(vertex_adapter(), c, v).url,
            "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/my-project/"
            "locations/europe-west4/publishers/google/models/gemini%202%2Fx:generateContent");
}

TEST(GeminiAdapter, Vertex_WithoutProjectOrRegion_IsAnError) {
  auto d = vertex_deployment();
  d.project.clear();
  auto r = vertex_adapter().encode_chat(chat_of({text(Role::user, "Hi")}), d, ctx());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("project and region"), std::string::npos);
}

// ---- request translation ----

TEST(GeminiEncode, MultiTurn_AssistantBecomesModel) {
  const auto c = chat_of({text(Role::user, "Hi"), text(Role::assistant, "Hello! How can I help?"),
                          text(Role::user, "Tell me a joke")});
  EXPECT_EQ(encode(gemini_adapter(), c, gemini_deployment()).body, compact(R"({"contents":[
    {"role":"user","parts":[{"text":"Hi"}]},
    {"role":"model","parts":[{"text":"Hello! How can I help?"}]},
    {"role":"user","parts":[{"text":"Tell me a joke"}]}]})"));
}

TEST(GeminiEncode, SystemAndDeveloperAnywhere_GoToSystemInstruction) {
  const auto c = chat_of({text(Role::system, "Be brief."), text(Role::user, "Hi"),
                          text(Role::assistant, "Hello."), text(Role::developer, "Use French."),
                          text(Role::user, "Bye")});
  EXPECT_EQ(encode(vertex_adapter(), c, vertex_deployment()).body, compact(R"({
    "contents":[
      {"role":"user","parts":[{"text":"Hi"}]},
      {"role":"model","parts":[{"text":"Hello."}]},
      {"role":"user","parts":[{"text":"Bye"}]}],
    "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Use French."}]}})"));
}

TEST(GeminiEncode, ToolRoundTrip_ParallelCallsAndMergedResults) {
  auto c = chat_of({
      text(Role::user, "Weather in Paris and Rome? And the time?"),
      calls({{"call_a", "get_weather", R"({"city":"Paris"})"},
             {"call_b", "get_weather", R"({"city":"Rome"})"},
             {"call_c", "now", ""}},
            "Let me check."),
      result("call_a", R"({"temp":21,"unit":"C"})"),
      result("call_b", "sunny, 25C"),
      result("call_c", "[1,2]"),
      text(Role::user, "Thanks"),
  });
  c.tools = {tool("get_weather", R"({"type":"object","properties":{"city":{"type":"string"}}})",
                  "Current weather"),
             tool("now", "null")};
  c.tools[1].parameters = nullptr;
  EXPECT_EQ(encode(gemini_adapter(), c, gemini_deployment()).body, compact(R"({
    "contents":[
      {"role":"user","parts":[{"text":"Weather in Paris and Rome? And the time?"}]},
      {"role":"model","parts":[
        {"text":"Let me check."},
        {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
        {"functionCall":{"name":"get_weather","args":{"city":"Rome"}}},
        {"functionCall":{"name":"now","args":{}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"get_weather","response":{"temp":21,"unit":"C"}}},
        {"functionResponse":{"name":"get_weather","response":{"content":"sunny, 25C"}}},
        {"functionResponse":{"name":"now","response":{"content":"[1,2]"}}}]},
      {"role":"user","parts":[{"text":"Thanks"}]}],
    "tools":[{"functionDeclarations":[
      {"name":"get_weather","description":"Current weather",
       "parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
      {"name":"now"}]}]})"));
}

TEST(GeminiEncode, ToolResultsSeparatedByAnAssistantTurn_AreSeparateTurns) {
  const auto c = chat_of({text(Role::user, "go"), calls({{"c1", "f", "{}"}}), result("c1", "1"),
                          calls({{"c2", "g", "{}"}}), result("c2", "2")});
  EXPECT_EQ(encode(gemini_adapter(), c, gemini_deployment()).body, compact(R"({"contents":[
    {"role":"user","parts":[{"text":"go"}]},
    {"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},
    {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"content":"1"}}}]},
    {"role":"model","parts":[{"functionCall":{"name":"g","args":{}}}]},
    {"role":"user","parts":[{"functionResponse":{"name":"g","response":{"content":"2"}}}]}]})"));
}

TEST(GeminiEncode, Gemini3_ReplayedCallsCarryThePlaceholderSignatureOnTheFirstCall) {
  auto d = gemini_deployment();
  d.model = "gemini-3-pro-preview";
  const auto c = chat_of({text(Role::user, "go"), calls({{"c1", "f", "{}"}, {"c2", "f", "{}"}}),
                          result("c1", "1"), result("c2", "2")});
  EXPECT_EQ(encode(gemini_adapter(), c, d).body, compact(R"({"contents":[
    {"role":"user","parts":[{"text":"go"}]},
    {"role":"model","parts":[
      {"functionCall":{"name":"f","args":{}},"thoughtSignature":"skip_thought_signature_validator"},
      {"functionCall":{"name":"f","args":{}}}]},
    {"role":"user","parts":[
      {"functionResponse":{"name":"f","response":{"content":"1"}}},
      {"functionResponse":{"name":"f","response":{"content":"2"}}}]}]})"));
}

TEST(GeminiEncode, InvalidToolArguments_Are400NamingTheField) {
  const auto e = encode_error(
      chat_of({text(Role::user, "go"), calls({{"c1", "f", "{}"}, {"c2", "f", "{not json"}})}));
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(e.param, "messages[1].tool_calls[1].function.arguments");
  EXPECT_NE(e.message.find("{not json"), std::string::npos);
  const auto e2 = encode_error(chat_of({text(Role::user, "go"), calls({{"c1", "f", "[1]"}})}));
  EXPECT_EQ(e2.param, "messages[1].tool_calls[0].function.arguments");
}

TEST(GeminiEncode, ToolResultForUnknownCallId_Is400) {
  const auto e = encode_error(chat_of({text(Role::user, "go"), result("nope", "1")}));
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(e.param, "messages[1].tool_call_id");
  EXPECT_NE(e.message.find("'nope'"), std::string::npos);
}

TEST(GeminiEncode, NoConversation_Is400) {
  const auto e = encode_error(chat_of({text(Role::system, "only a system prompt")}));
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(e.param, "messages");
}

TEST(GeminiEncode, MoreThanOneChoice_Is400) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.n = 2;
  const auto e = encode_error(c);
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(e.param, "n");
}

TEST(GeminiEncode, Images_DataUrlInlineAndHttpUrlAsFileData) {
  api::Message m = text(Role::user, "What is in these?");
  api::ContentPart b64 = image_part();
  b64.media_type = "image/png";
  b64.data = "iVBORw0KGgo=";
  api::ContentPart png = image_part();
  png.url = "https://example.com/a/cat.PNG?size=large#x";
  api::ContentPart unknown = image_part();
  unknown.url = "https://example.com/photo";
  api::ContentPart webp = image_part();
  webp.url = "https://example.com/x.webp";
  m.content.insert(m.content.end(), {b64, png, unknown, webp});
  EXPECT_EQ(encode(gemini_adapter(), chat_of({m}), gemini_deployment()).body,
            compact(R"({"contents":[{"role":"user","parts":[
    {"text":"What is in these?"},
    {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
    {"fileData":{"mimeType":"image/png","fileUri":"https://example.com/a/cat.PNG?size=large#x"}},
    {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/photo"}},
    {"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/x.webp"}}]}]})"));
}

std::string tool_config_of(std::optional<api::ToolChoice> choice) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.tools = {tool("f", R"({"type":"object"})")};
  c.tool_choice = std::move(choice);
  auto body = json::parse(encode(gemini_adapter(), c, gemini_deployment()).body).as_object();
  auto* tc = body.if_contains("toolConfig");
  return tc ? json::serialize(*tc) : "absent";
}

TEST(GeminiEncode, ToolChoice_Variants) {
  using Mode = api::ToolChoice::Mode;
  EXPECT_EQ(tool_config_of(std::nullopt), "absent");
  EXPECT_EQ(tool_config_of(api::ToolChoice{Mode::auto_, ""}),
            R"({"functionCallingConfig":{"mode":"AUTO"}})");
  EXPECT_EQ(tool_config_of(api::ToolChoice{Mode::none, ""}),
            R"({"functionCallingConfig":{"mode":"NONE"}})");
  EXPECT_EQ(tool_config_of(api::ToolChoice{Mode::required, ""}),
            R"({"functionCallingConfig":{"mode":"ANY"}})");
  EXPECT_EQ(tool_config_of(api::ToolChoice{Mode::function, "f"}),
            R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}})");
}

TEST(GeminiEncode, Parameters_GoldenGenerationConfig) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.temperature = 0.5;
  c.top_p = 0.9;
  c.max_tokens = 256;
  c.stop = {"END", "STOP"};
  c.seed = 42;
  c.presence_penalty = 0.25;
  c.frequency_penalty = -0.5;
  c.reasoning_effort = "medium";
  c.user = "ignored";
  c.parallel_tool_calls = false;
  EXPECT_EQ(encode(vertex_adapter(), c, vertex_deployment()).body, compact(R"({
    "contents":[{"role":"user","parts":[{"text":"Hi"}]}],
    "generationConfig":{"temperature":0.5,"topP":0.9,"maxOutputTokens":256,
      "stopSequences":["END","STOP"],"seed":42,"presencePenalty":0.25,"frequencyPenalty":-0.5,
      "thinkingConfig":{"thinkingBudget":8192,"includeThoughts":true}}})"));
}

TEST(GeminiEncode, ResponseFormat_JsonObjectAndJsonSchema) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.response_format.type = api::ResponseFormat::Type::json_object;
  EXPECT_EQ(encode(gemini_adapter(), c, gemini_deployment()).body, compact(R"({
    "contents":[{"role":"user","parts":[{"text":"Hi"}]}],
    "generationConfig":{"responseMimeType":"application/json"}})"));

  c.response_format.type = api::ResponseFormat::Type::json_schema;
  c.response_format.name = "answer";
  c.response_format.strict = true;
  c.response_format.schema = json::parse(
      R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],
          "additionalProperties":false})");
  // responseJsonSchema accepts JSON Schema unchanged (additionalProperties included).
  EXPECT_EQ(encode(vertex_adapter(), c, vertex_deployment()).body, compact(R"({
    "contents":[{"role":"user","parts":[{"text":"Hi"}]}],
    "generationConfig":{"responseMimeType":"application/json",
      "responseJsonSchema":{"type":"object","properties":{"a":{"type":"integer"}},
        "required":["a"],"additionalProperties":false}}})"));
}

TEST(GeminiSchema, StripsUnsupportedKeysAndInlinesRefs) {
  const auto in = json::parse(R"({
    "$schema":"http://json-schema.org/draft-07/schema#",
    "type":"object","strict":true,"additionalProperties":false,
    "$defs":{"Unit":{"type":"string","enum":["C","F"],"description":"unit"}},
    "properties":{
      "city":{"type":"string","format":"email","examples":["x"],"minLength":1},
      "when":{"type":"string","format":"date-time"},
      "unit":{"$ref":"#/$defs/Unit","description":"temperature unit"},
      "days":{"type":["integer","null"],"minimum":1,"exclusiveMaximum":9},
      "note":{"anyOf":[{"type":"string","maxLength":9},{"type":"null"}],"default":null},
      "either":{"oneOf":[{"type":"string"},{"type":"number","format":"double"}]},
      "mode":{"const":"fast"},
      "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]+$"},"uniqueItems":true},
      "any":true},
    "required":["city"]})");
  auto out = gemini::function_schema(in);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(json::serialize(*out), compact(R"({
    "type":"object",
    "properties":{
      "city":{"type":"string","minLength":1},
      "when":{"type":"string","format":"date-time"},
      "unit":{"type":"string","enum":["C","F"],"description":"temperature unit"},
      "days":{"nullable":true,"type":"integer","minimum":1},
      "note":{"nullable":true,"type":"string","maxLength":9,"default":null},
      "either":{"anyOf":[{"type":"string"},{"type":"number","format":"double"}]},
      "mode":{"enum":["fast"]},
      "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]+$"}},
      "any":{}},
    "required":["city"]})"));
}

TEST(GeminiSchema, RecursiveOrUnresolvableRef_Is400NamingTheTool) {
  auto c = chat_of({text(Role::user, "Hi")});
  c.tools = {tool("ok", R"({"type":"object"})"),
             tool("tree", R"({"$defs":{"N":{"type":"object","properties":{"kids":{"type":"array",
                  "items":{"$ref":"#/$defs/N"}}}}},"$ref":"#/$defs/N"})")};
  auto e = encode_error(c);
  EXPECT_EQ(e.kind, ErrorKind::invalid_request);
  EXPECT_EQ(e.param, "tools[1].function.parameters");
  EXPECT_NE(e.message.find("recursive"), std::string::npos);
  c.tools[1] = tool("bad", R"({"$ref":"#/definitions/Missing"})");
  e = encode_error(c);
  EXPECT_NE(e.message.find("unresolvable $ref '#/definitions/Missing'"), std::string::npos);
}

TEST(GeminiEncode, FromOpenAiJson_ThroughParseChat_Golden) {
  // A typical agent turn as an OpenAI client sends it.
  auto chat = api::parse_chat(json::parse(R"({
    "model":"alias","stream":true,"max_completion_tokens":512,"temperature":0,
    "messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","content":[{"type":"text","text":"What is in the picture, and the time?"},
        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ","detail":"low"}}]},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"call_1","type":"function","function":{"name":"now","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"{\"iso\":\"2025-01-01T00:00:00Z\"}"}],
    "tools":[{"type":"function","function":{"name":"now","description":"UTC time",
      "parameters":{"type":"object","properties":{},"additionalProperties":false},"strict":true}}],
    "tool_choice":"auto"})"));
  ASSERT_TRUE(chat.has_value()) << chat.error().message;
  const auto req = encode(vertex_adapter(), *chat, vertex_deployment());
  EXPECT_TRUE(req.url.ends_with(":streamGenerateContent?alt=sse"));
  EXPECT_EQ(req.body, compact(R"({
    "contents":[
      {"role":"user","parts":[{"text":"What is in the picture, and the time?"},
                              {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]},
      {"role":"model","parts":[{"functionCall":{"name":"now","args":{}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"now","response":{"iso":"2025-01-01T00:00:00Z"}}}]}],
    "systemInstruction":{"parts":[{"text":"You are terse."}]},
    "tools":[{"functionDeclarations":[{"name":"now","description":"UTC time",
      "parameters":{"type":"object","properties":{}}}]}],
    "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},
    "generationConfig":{"temperature":0.0,"maxOutputTokens":512}})"));
}

// ---- unary answers ----

core::UpstreamResponse ok(std::string body) { return {200, {}, std::move(body)}; }

api::ChatResponse decode_ok(const std::string& fixture, const Adapter& a = gemini_adapter()) {
  auto r = a.decode_chat(ok(read_data(fixture)), gemini_deployment(), ctx());
  EXPECT_TRUE(r.has_value()) << fixture << ": " << (r ? "" : r.error().message);
  return r ? *r : api::ChatResponse{};
}

TEST(GeminiDecode, BasicReply) {
  const auto r = decode_ok("googleai/unary-success-basic-reply-short.json");
  EXPECT_EQ(r.content,
            "Google's headquarters, also known as the Googleplex, is located in **Mountain View, "
            "California**.\n");
  EXPECT_EQ(r.model, "gemini-2.0-flash");
  EXPECT_EQ(r.finish_reason, api::FinishReason::stop);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.usage.prompt_tokens, 7);
  EXPECT_EQ(r.usage.completion_tokens, 22);
  EXPECT_EQ(r.usage.total_tokens, 29);
  EXPECT_EQ(r.usage.reasoning_tokens, 0);
}

TEST(GeminiDecode, ThinkingAndFunctionCall_ThoughtsAreReasoningAndIdIsGenerated) {
  const auto r =
      decode_ok("googleai/unary-success-thinking-function-call-thought-summary-signature.json");
  EXPECT_EQ(r.id, "38CHaLjMG6TujrEPtvTiuQk");
  EXPECT_EQ(r.model, "gemini-2.5-pro");
  EXPECT_EQ(r.content, "");
  EXPECT_TRUE(r.reasoning.starts_with("**Thinking Through the New Year's Eve Calculation**"));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "call_req-1_0");
  EXPECT_EQ(r.tool_calls[0].name, "now");
  EXPECT_EQ(r.tool_calls[0].arguments, "{}");
  EXPECT_EQ(r.finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(r.usage.prompt_tokens, 38);
  EXPECT_EQ(r.usage.completion_tokens, 8 + 501);
  EXPECT_EQ(r.usage.reasoning_tokens, 501);
  EXPECT_EQ(r.usage.total_tokens, 547);
}

TEST(GeminiDecode, FinishReasonSafety_IsContentFilterAndKeepsTheText) {
  const auto r = decode_ok("googleai/unary-failure-finish-reason-safety.json");
  EXPECT_EQ(r.finish_reason, api::FinishReason::content_filter);
  EXPECT_EQ(r.content, "Safety error incoming in 5, 4, 3, 2...");
  EXPECT_EQ(r.usage.completion_tokens, 20);
}

TEST(GeminiDecode, ParallelCalls_UniqueIdsInOrderAndArgumentsSerialized) {
  const auto r =
      decode_ok("vertexai/unary-success-function-call-parallel-calls.json", vertex_adapter());
  ASSERT_EQ(r.tool_calls.size(), 3u);
  const std::vector<std::string> args = {R"({"y":1,"x":2})", R"({"y":3,"x":4})",
                                         R"({"y":5,"x":6})"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.tool_calls[i].id, "call_req-1_" + std::to_string(i));
    EXPECT_EQ(r.tool_calls[i].name, "sum");
    EXPECT_EQ(r.tool_calls[i].arguments, args[i]);
  }
  EXPECT_EQ(r.finish_reason, api::FinishReason::tool_calls);
  EXPECT_EQ(r.usage.total_tokens, 0);  // this recording has no usageMetadata
}

TEST(GeminiDecode, FunctionCallWithoutArgs_ArgumentsAreEmptyObject) {
  const auto r =
      decode_ok("vertexai/unary-success-function-call-empty-arguments.json", vertex_adapter());
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "current_time");
  EXPECT_EQ(r.tool_calls[0].arguments, "{}");
}

TEST(GeminiDecode, FinishReasons_Mapped) {
  const std::vector<std::pair<std::string, api::FinishReason>> cases = {
      {"STOP", api::FinishReason::stop},
      {"MAX_TOKENS", api::FinishReason::length},
      {"SAFETY", api::FinishReason::content_filter},
      {"RECITATION", api::FinishReason::content_filter},
      {"BLOCKLIST", api::FinishReason::content_filter},
      {"PROHIBITED_CONTENT", api::FinishReason::content_filter},
      {"SPII", api::FinishReason::content_filter},
      {"OTHER", api::FinishReason::stop},
  };
  for (auto& [reason, want] : cases) {
    const std::string body =
        R"({"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":")" +
        reason + R"("}]})";
    auto r = gemini_adapter().decode_chat(ok(body), gemini_deployment(), ctx());
    ASSERT_TRUE(r.has_value()) << reason;
    EXPECT_EQ(r->finish_reason, want) << reason;
  }
}

TEST(GeminiDecode, UsageWithCacheAndToolUsePrompt) {
  auto r = gemini_adapter().decode_chat(
      ok(R"({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}],
             "usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,
             "toolUsePromptTokenCount":5,"candidatesTokenCount":10,"thoughtsTokenCount":4,
             "totalTokenCount":119}})"),
      gemini_deployment(), ctx());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->finish_reason, api::FinishReason::length);
  EXPECT_EQ(r->usage.prompt_tokens, 105);
  EXPECT_EQ(r->usage.cached_tokens, 60);
  EXPECT_EQ(r->usage.completion_tokens, 14);
  EXPECT_EQ(r->usage.reasoning_tokens, 4);
  EXPECT_EQ(r->usage.total_tokens, 119);
}

TEST(GeminiDecode, BlockedPrompt_IsContentFilterWithEmptyContent) {
  auto r = gemini_adapter().decode_chat(
      ok(R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7,
             "totalTokenCount":7}})"),
      gemini_deployment(), ctx());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->finish_reason, api::FinishReason::content_filter);
  EXPECT_EQ(r->content, "");
  EXPECT_EQ(r->usage.prompt_tokens, 7);
}

TEST(GeminiDecode, UnreadableOrEmptyAnswers_AreUpstreamErrors) {
  for (std::string body :
       {std::string("not json"), std::string(R"({"candidates":[]})"), std::string("[1]")}) {
    auto r = gemini_adapter().decode_chat(ok(body), gemini_deployment(), ctx());
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::upstream) << body;
    EXPECT_TRUE(r.error().retryable);
  }
}

TEST(GeminiDecode, FailureFixtures_ThroughDecodeChat) {
  auto r = gemini_adapter().decode_chat(
      {404, {}, read_data("googleai/unary-failure-unknown-model.json")}, gemini_deployment(),
      ctx());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().upstream_status, 404);
}

// ---- errors ----

core::Error error_for(int status, std::string body, core::Headers headers = {}) {
  return gemini_adapter().decode_error({status, std::move(headers), std::move(body)},
                                       gemini_deployment());
}

std::string rpc(int code, std::string_view status, std::string_view message,
                std::string_view details = "[]") {
  return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":")" + std::string(message) +
         R"(","status":")" + std::string(status) + R"(","details":)" + std::string(details) + "}}";
}

TEST(GeminiErrors, RecordedFixtures) {
  auto key = error_for(400, read_data("googleai/unary-failure-api-key.json"));
  EXPECT_EQ(key.kind, ErrorKind::authentication);
  EXPECT_EQ(key.message,
            "provider 'google-ai' answered 400: API key not valid. Please pass a valid API key.");
  EXPECT_EQ(key.code, "API_KEY_INVALID");
  EXPECT_FALSE(key.retryable);
  EXPECT_EQ(key.upstream_status, 400);

  auto model = error_for(404, read_data("googleai/unary-failure-unknown-model.json"));
  EXPECT_EQ(model.kind, ErrorKind::not_found);
  EXPECT_TRUE(model.message.starts_with(
      "provider 'google-ai' answered 404: models/gemini-5.0-flash is not found"));

  auto quota = error_for(429, read_data("vertexai/unary-failure-quota-exceeded.json"),
                         {{"retry-after", "7"}});
  EXPECT_EQ(quota.kind, ErrorKind::rate_limit);
  EXPECT_TRUE(quota.retryable);
  EXPECT_EQ(quota.retry_after_s, 7);  // no RetryInfo detail: the header
  EXPECT_EQ(quota.code, "RATE_LIMIT_EXCEEDED");
}

TEST(GeminiErrors, MappingTable) {
  struct Case {
    int http;
    std::string status;
    std::string message;
    ErrorKind kind;
    bool retryable;
  };
  const std::vector<Case> cases = {
      {400, "INVALID_ARGUMENT", "Invalid value at 'contents'", ErrorKind::invalid_request, false},
      {400, "INVALID_ARGUMENT",
       "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
       ErrorKind::context_length, false},
      {400, "FAILED_PRECONDITION", "User location is not supported", ErrorKind::invalid_request,
       false},
      {401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
       ErrorKind::authentication, false},
      {403, "PERMISSION_DENIED", "Permission denied on resource project x.", ErrorKind::permission,
       false},
      {404, "NOT_FOUND", "Publisher model was not found", ErrorKind::not_found, false},
      {429, "RESOURCE_EXHAUSTED", "Resource exhausted.", ErrorKind::rate_limit, true},
      {503, "UNAVAILABLE", "The model is overloaded. Please try again later.",
       ErrorKind::overloaded, true},
      {500, "INTERNAL", "An internal error has occurred.", ErrorKind::upstream, true},
      {504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.",
       ErrorKind::timeout, true},
      {499, "CANCELLED", "The operation was cancelled.", ErrorKind::upstream, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status + " " + c.message);
    const auto e = error_for(c.http, rpc(c.http, c.status, c.message));
    EXPECT_EQ(e.kind, c.kind);
    EXPECT_EQ(e.retryable, c.retryable);
    EXPECT_EQ(e.message,
              "provider 'google-ai' answered " + std::to_string(c.http) + ": " + c.message);
    EXPECT_EQ(e.upstream_status, c.http);
    EXPECT_EQ(core::http_status(e.kind),
              c.kind == ErrorKind::context_length ? 400 : core::http_status(c.kind));
  }
  EXPECT_EQ(error_for(400, rpc(400, "INVALID_ARGUMENT",
                               "The input token count (2000000) "
                               "exceeds the maximum"))
                .code,
            "context_length_exceeded");
}

TEST(GeminiErrors, RetryAfter_IsTheLongerOfRetryInfoAndTheHeader) {
  const std::string details =
      R"([{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
          {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"13s"}])";
  auto e = error_for(429, rpc(429, "RESOURCE_EXHAUSTED", "quota", details), {{"retry-after", "2"}});
  EXPECT_EQ(e.kind, ErrorKind::rate_limit);
  EXPECT_EQ(e.retry_after_s, 13);
  e = error_for(429, rpc(429, "RESOURCE_EXHAUSTED", "quota", details), {{"retry-after", "20"}});
  EXPECT_EQ(e.retry_after_s, 20);
  e = error_for(429, rpc(429, "RESOURCE_EXHAUSTED", "quota",
                         R"([{"@type":"type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay":"0.250s"}])"));
  EXPECT_EQ(e.retry_after_s, 1);
  e = error_for(429, rpc(429, "RESOURCE_EXHAUSTED", "quota"));
  EXPECT_EQ(e.retry_after_s, std::nullopt);
}

TEST(GeminiErrors, NonRpcBodies_FallBackToTheHttpStatus) {
  auto e = error_for(502, "<html>Bad Gateway</html>");
  EXPECT_EQ(e.kind, ErrorKind::upstream);
  EXPECT_EQ(e.message, "provider 'google-ai' answered 502: <html>Bad Gateway</html>");
  e = error_for(503, "");
  EXPECT_EQ(e.kind, ErrorKind::overloaded);
  EXPECT_EQ(e.message, "provider 'google-ai' answered 503: no error message");
  // A stream without alt=sse answers errors inside a JSON array.
  e = error_for(403, "[" + rpc(403, "PERMISSION_DENIED", "denied") + "]");
  EXPECT_EQ(e.kind, ErrorKind::permission);
  EXPECT_EQ(e.message, "provider 'google-ai' answered 403: denied");
  // An unknown status string: the HTTP status decides.
  e = error_for(501, rpc(501, "UNIMPLEMENTED", "not implemented"));
  EXPECT_EQ(e.kind, ErrorKind::upstream);
}

// ---- streams ----

struct StreamResult {
  std::vector<std::string> chunks;  // each chunk as JSON, for exact comparison
  std::optional<core::Error> error;
};

std::string show(const api::ChatChunk& c) {
  json::object o;
  if (c.role) o["role"] = true;
  if (!c.content.empty()) o["content"] = c.content;
  if (!c.reasoning.empty()) o["reasoning"] = c.reasoning;
  if (!c.tool_calls.empty()) {
    json::array calls;
    for (auto& t : c.tool_calls) {
      calls.push_back(
          {{"index", t.index}, {"id", t.id}, {"name", t.name}, {"arguments", t.arguments}});
    }
    o["tool_calls"] = std::move(calls);
  }
  if (c.finish_reason)
    o["finish"] =
        std::string(api::FinishReason::stop == *c.finish_reason         ? "stop"
                    : api::FinishReason::length == *c.finish_reason     ? "length"
                    : api::FinishReason::tool_calls == *c.finish_reason ? "tool_calls"
                                                                        : "content_filter");
  if (c.usage) {
    o["usage"] = {{"prompt", c.usage->prompt_tokens},
                  {"completion", c.usage->completion_tokens},
                  {"total", c.usage->total_tokens},
                  {"reasoning", c.usage->reasoning_tokens},
                  {"cached", c.usage->cached_tokens}};
  }
  return json::serialize(o);
}

// Feeds `pieces` then finishes; stops at the first error like the gateway does.
StreamResult run_stream(const std::vector<std::string_view>& pieces) {
  auto dec = gemini_adapter().stream_decoder(chat_of({}), gemini_deployment(), ctx());
  std::vector<api::ChatChunk> out;
  StreamResult r;
  for (auto p : pieces) {
    if (auto s = dec->feed(p, out); !s) {
      r.error = s.error();
      break;
    }
  }
  if (!r.error) {
    if (auto s = dec->finish(out); !s) r.error = s.error();
  }
  for (auto& c : out) r.chunks.push_back(show(c));
  return r;
}

StreamResult whole(std::string_view bytes) { return run_stream({bytes}); }

StreamResult bytewise(std::string_view bytes) {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < bytes.size(); ++i) pieces.push_back(bytes.substr(i, 1));
  return run_stream(pieces);
}

StreamResult random_splits(std::string_view bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, seed % 2 ? 9 : 200);
  std::vector<std::string_view> pieces;
  for (std::size_t pos = 0; pos < bytes.size();) {
    const std::size_t n = std::min(size(rng), bytes.size() - pos);
    pieces.push_back(bytes.substr(pos, n));
    pos += n;
  }
  return run_stream(pieces);
}

std::string error_text(const StreamResult& r) {
  return r.error ? std::string(core::kind_name(r.error->kind)) + ": " + r.error->message : "none";
}

const std::vector<std::string> kStreams = {
    "googleai/streaming-failure-prompt-blocked-safety.txt",
    "googleai/streaming-success-basic-reply-short.txt",
    "googleai/streaming-success-thinking-function-call-thought-summary-signature.txt",
    "vertexai/streaming-failure-error-mid-stream.txt",
    "vertexai/streaming-success-function-call-short.txt",
    "vertexai/streaming-success-utf8.txt",
};

TEST(GeminiStream, EveryRecordedStream_WholeBytewiseAndRandomSplits_SameChunks) {
  for (const auto& f : kStreams) {
    SCOPED_TRACE(f);
    const std::string bytes = read_data(f);
    const auto w = whole(bytes);
    ASSERT_FALSE(w.chunks.empty());
    const auto b = bytewise(bytes);
    EXPECT_EQ(b.chunks, w.chunks);
    EXPECT_EQ(error_text(b), error_text(w));
    for (unsigned seed = 1; seed <= 30; ++seed) {
      SCOPED_TRACE(seed);
      const auto r = random_splits(bytes, seed);
      EXPECT_EQ(r.chunks, w.chunks);
      EXPECT_EQ(error_text(r), error_text(w));
    }
  }
}

TEST(GeminiStream, BasicReply_GoldenChunks) {
  const auto r = whole(read_data("googleai/streaming-success-basic-reply-short.txt"));
  EXPECT_EQ(error_text(r), "none");
  EXPECT_EQ(r.chunks,
            (std::vector<std::string>{
                R"({"role":true,"content":"The"})",
                R"({"content":" capital of Wyoming"})",
                R"({"content":" is **Cheyenne**.\n"})",
                R"({"finish":"stop"})",
                R"({"usage":{"prompt":7,"completion":10,"total":17,"reasoning":0,"cached":0}})",
            }));
}

TEST(GeminiStream, ThinkingThenFunctionCall_GoldenChunks) {
  const auto r = whole(
      read_data("googleai/streaming-success-thinking-function-call-thought-summary-signature.txt"));
  EXPECT_EQ(error_text(r), "none");
  ASSERT_EQ(r.chunks.size(), 5u);
  EXPECT_TRUE(r.chunks[0].starts_with(R"({"role":true,"reasoning":"**Calculating the Days**)"));
  EXPECT_TRUE(r.chunks[1].starts_with(R"({"reasoning":"**Determining the Approach**)"));
  EXPECT_EQ(r.chunks[2],
            R"({"tool_calls":[{"index":0,"id":"call_req-1_0","name":"now","arguments":"{}"}]})");
  EXPECT_EQ(r.chunks[3], R"({"finish":"tool_calls"})");
  EXPECT_EQ(r.chunks[4],
            R"({"usage":{"prompt":38,"completion":174,"total":212,"reasoning":168,"cached":0}})");
}

TEST(GeminiStream, VertexFunctionCall_GoldenChunks) {
  const auto r = whole(read_data("vertexai/streaming-success-function-call-short.txt"));
  EXPECT_EQ(error_text(r), "none");
  EXPECT_EQ(
      r.chunks,
      (std::vector<std::string>{
          R"({"role":true,"tool_calls":[{"index":0,"id":"call_req-1_0","name":"getTemperature","arguments":"{\"city\":\"San Jose\"}"}]})",
          R"({"finish":"tool_calls"})",
          R"({"usage":{"prompt":0,"completion":0,"total":0,"reasoning":0,"cached":0}})",
      }));
}

TEST(GeminiStream, Utf8_FinishReasonOnEveryChunk_OneFinishAtTheEnd) {
  const auto r = whole(read_data("vertexai/streaming-success-utf8.txt"));
  EXPECT_EQ(error_text(r), "none");
  ASSERT_EQ(r.chunks.size(), 6u);
  EXPECT_TRUE(
      r.chunks[0].starts_with(R"({"role":true,"content":"秋风瑟瑟，叶落纷纷，\n西风残照，寒"})"));
  EXPECT_TRUE(r.chunks[3].ends_with("领悟秋天的哲理。\"}"));
  EXPECT_EQ(r.chunks[4], R"({"finish":"stop"})");
}

TEST(GeminiStream, BlockedPrompt_ContentFilter) {
  const auto r = whole(read_data("googleai/streaming-failure-prompt-blocked-safety.txt"));
  EXPECT_EQ(error_text(r), "none");
  EXPECT_EQ(r.chunks,
            (std::vector<std::string>{
                R"({"role":true,"finish":"content_filter"})",
                R"({"usage":{"prompt":0,"completion":0,"total":0,"reasoning":0,"cached":0}})",
            }));
}

TEST(GeminiStream, BareErrorObjectMidStream_IsAnErrorAfterTheChunksBeforeIt) {
  const auto r = whole(read_data("vertexai/streaming-failure-error-mid-stream.txt"));
  EXPECT_EQ(r.chunks, (std::vector<std::string>{R"({"role":true,"content":"First "})",
                                                R"({"content":"Second "})"}));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::upstream);
  EXPECT_EQ(r.error->message,
            "provider 'google-ai' reported an error in its stream: The operation was cancelled.");
  EXPECT_EQ(r.error->upstream_status, 499);
}

TEST(GeminiStream, SseFramedErrorEvent_MapsItsStatus) {
  const auto r = whole(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\r\n\r\n"
      "data: " +
      rpc(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted",
          R"([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}])") +
      "\r\n\r\n");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::rate_limit);
  EXPECT_EQ(r.error->retry_after_s, 3);
  EXPECT_EQ(r.chunks.size(), 1u);
}

TEST(GeminiStream, ErrorObjectWithoutStatus_KindFromItsCode) {
  auto r = whole(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\n\n"
      "{\"error\":{\"code\":429,\"message\":\"slow down\"}}\n");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::rate_limit);
  EXPECT_EQ(r.error->upstream_status, 429);
  r = whole("{\"error\":{\"message\":\"odd\"}}");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::upstream);
  EXPECT_TRUE(r.chunks.empty());
}

TEST(GeminiStream, EveryTruncation_BeforeTheFinishingEventIsComplete_IsAnError) {
  const std::string bytes = read_data("googleai/streaming-success-basic-reply-short.txt");
  // Only the last event carries finishReason; its JSON ends at the last '}' of the file.
  const std::size_t complete = bytes.rfind('}') + 1;
  for (std::size_t cut = 0; cut < complete; ++cut) {
    const auto r = run_stream({std::string_view(bytes).substr(0, cut)});
    ASSERT_TRUE(r.error) << "cut at " << cut;
    EXPECT_EQ(r.error->kind, ErrorKind::upstream);
  }
  // Missing only the blank line after the last event: the event is whole.
  EXPECT_EQ(error_text(run_stream({std::string_view(bytes).substr(0, complete)})), "none");
}

// Vertex repeats finishReason STOP on every chunk, so a stream cut between two events cannot
// be told from a whole one; a cut inside any event still is an error.
TEST(GeminiStream, VertexRepeatedFinish_TruncationInsideAnyEvent_IsAnError) {
  const std::string bytes = read_data("vertexai/streaming-success-utf8.txt");
  std::size_t checked = 0;
  for (std::size_t start = bytes.find("data:"); start != std::string::npos;
       start = bytes.find("data:", start + 1)) {
    const std::size_t json_end = bytes.find("\r\n", start);
    for (std::size_t cut = start + 7; cut < json_end; ++cut) {  // after "data: {"
      const auto r = run_stream({std::string_view(bytes).substr(0, cut)});
      ASSERT_TRUE(r.error) << "cut at " << cut;
      ++checked;
    }
  }
  EXPECT_GT(checked, 2000u);
}

TEST(GeminiStream, NoFinishReason_IsTruncated) {
  const auto r =
      whole("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\n\n");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("finishReason"), std::string::npos);
  EXPECT_EQ(r.chunks, (std::vector<std::string>{R"({"role":true,"content":"Hi"})"}));
}

TEST(GeminiStream, UsageComesFromTheLastUsageMetadataAndCallsGetNewIndexes) {
  const auto r = whole(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"a\","
      "\"args\":{\"x\":1}}},{\"functionCall\":{\"name\":\"b\"}}]}}],"
      "\"usageMetadata\":{\"promptTokenCount\":5}}\n\n"
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"c\","
      "\"args\":{},\"id\":\"given\"}}]},\"finishReason\":\"STOP\"}],"
      "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":9,"
      "\"cachedContentTokenCount\":2}}\n\n");
  EXPECT_EQ(error_text(r), "none");
  EXPECT_EQ(
      r.chunks,
      (std::vector<std::string>{
          R"({"role":true,"tool_calls":[{"index":0,"id":"call_req-1_0","name":"a","arguments":"{\"x\":1}"},{"index":1,"id":"call_req-1_1","name":"b","arguments":"{}"}]})",
          R"({"tool_calls":[{"index":2,"id":"given","name":"c","arguments":"{}"}]})",
          R"({"finish":"tool_calls"})",
          R"({"usage":{"prompt":5,"completion":9,"total":14,"reasoning":0,"cached":2}})",
      }));
}

TEST(GeminiStream, GarbageEvent_IsAnError) {
  const auto r = whole("data: {\"candidates\": [\n\n");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ErrorKind::upstream);
}

// ---- embeddings ----

TEST(GeminiEmbeddings, Gemini_OneInputEmbedContent_ManyBatchEmbedContents) {
  api::Embeddings e;
  e.inputs = {"hello"};
  e.dimensions = 8;
  auto one = gemini_adapter().encode_embeddings(e, gemini_deployment());
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.0-flash:embedContent");
  EXPECT_EQ(one->body, R"({"content":{"parts":[{"text":"hello"}]},"outputDimensionality":8})");

  e.inputs = {"a", "b"};
  e.dimensions.reset();
  auto many = gemini_adapter().encode_embeddings(e, gemini_deployment());
  ASSERT_TRUE(many.has_value());
  EXPECT_EQ(many->url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.0-flash:batchEmbedContents");
  EXPECT_EQ(many->body, compact(R"({"requests":[
    {"model":"models/gemini-2.0-flash","content":{"parts":[{"text":"a"}]}},
    {"model":"models/gemini-2.0-flash","content":{"parts":[{"text":"b"}]}}]})"));
  EXPECT_EQ(many->headers, (core::Headers{{"content-type", "application/json"}}));
}

TEST(GeminiEmbeddings, Vertex_Predict) {
  api::Embeddings e;
  e.inputs = {"a", "b"};
  e.dimensions = 256;
  auto r = vertex_adapter().encode_embeddings(e, vertex_deployment());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/"
            "europe-west4/publishers/google/models/gemini-2.0-flash:predict");
  EXPECT_EQ(r->body, compact(R"({"instances":[{"content":"a"},{"content":"b"}],
                                 "parameters":{"outputDimensionality":256}})"));
}

TEST(GeminiEmbeddings, EmptyInput_Is400) {
  api::Embeddings e;
  for (const Adapter* a : {&gemini_adapter(), &vertex_adapter()}) {
    auto r =
        a->encode_embeddings(e, a == &gemini_adapter() ? gemini_deployment() : vertex_deployment());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
    EXPECT_EQ(r.error().param, "input");
  }
}

TEST(GeminiEmbeddings, DecodeAllThreeShapes) {
  auto one = gemini_adapter().decode_embeddings(ok(R"({"embedding":{"values":[0.5,-1,0.25]}})"),
                                                gemini_deployment());
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->vectors, (std::vector<std::vector<float>>{{0.5f, -1.0f, 0.25f}}));
  EXPECT_EQ(one->usage.prompt_tokens, 0);

  auto batch = gemini_adapter().decode_embeddings(
      ok(R"({"embeddings":[{"values":[1,2]},{"values":[3,4]}]})"), gemini_deployment());
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->vectors, (std::vector<std::vector<float>>{{1, 2}, {3, 4}}));

  auto pred = vertex_adapter().decode_embeddings(ok(R"({"predictions":[
        {"embeddings":{"statistics":{"truncated":false,"token_count":3},"values":[0.1,0.2]}},
        {"embeddings":{"statistics":{"truncated":false,"token_count":4.0},"values":[0.3,0.4]}}],
        "metadata":{"billableCharacterCount":9}})"),
                                                 vertex_deployment());
  ASSERT_TRUE(pred.has_value());
  EXPECT_EQ(pred->vectors, (std::vector<std::vector<float>>{{0.1f, 0.2f}, {0.3f, 0.4f}}));
  EXPECT_EQ(pred->usage.prompt_tokens, 7);
  EXPECT_EQ(pred->usage.total_tokens, 7);
}

TEST(GeminiEmbeddings, ErrorsAndUnreadableAnswers) {
  auto err = gemini_adapter().decode_embeddings(
      {429, {}, rpc(429, "RESOURCE_EXHAUSTED", "slow down")}, gemini_deployment());
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().kind, ErrorKind::rate_limit);
  auto bad = gemini_adapter().decode_embeddings(ok(R"({"unexpected":1})"), gemini_deployment());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::upstream);
}

}  // namespace
}  // namespace stratus::providers
