// The Gemini / Vertex mock dialects: routes, credentials, Google-style validation, and every
// answer read back through the Gemini adapters (the round trip the gateway makes).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <map>

#include "mock/dialect.h"
#include "providers/gemini.h"

namespace stratus::mock {
namespace {

namespace json = boost::json;
using core::ErrorKind;
using providers::gemini_adapter;
using providers::vertex_adapter;

constexpr std::string_view kGeminiChat = "/v1beta/models/gemini-2.0-flash:generateContent";
constexpr std::string_view kVertexChat =
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:"
    "generateContent";

const Dialect& gemini() {
  const Dialect* d = find_dialect("gemini");
  EXPECT_NE(d, nullptr);
  return *d;
}

// Owns what a MockRequest points to.
struct Request {
  std::string method = "POST";
  std::string path = {};
  std::string query = {};
  std::map<std::string, std::string> headers = {};
  std::string body = {};

  MockRequest view() const {
    return MockRequest{.method = method,
                       .target = path,
                       .path = path,
                       .query = query,
                       .header = [this](std::string_view name) -> std::string_view {
                         auto it = headers.find(std::string(name));
                         return it == headers.end() ? std::string_view() : it->second;
                       },
                       .body = body,
                       .host = "127.0.0.1"};
  }
};

api::ContentPart text_part(std::string text) {
  api::ContentPart p;
  p.text = std::move(text);
  return p;
}

json::object error_of(const Reply& r) {
  return json::parse(r.body).as_object().at("error").as_object();
}

Script text_script(std::vector<std::string> tokens, std::string finish = "stop") {
  Script s;
  s.id = "mock-1";
  s.model = "gemini-2.0-flash";
  s.tokens = std::move(tokens);
  s.finish = std::move(finish);
  s.prompt_tokens = 11;
  s.completion_tokens = static_cast<int>(s.tokens.size());
  s.cached_tokens = 4;
  return s;
}

Script tool_script() {
  Script s = text_script({}, "tool_calls");
  s.tool_calls = {{"call_mock1_0", "get_weather", R"({"query":"weather in Paris","n":1})"},
                  {"call_mock1_1", "now", R"({"n":2})"}};
  s.completion_tokens = 24;
  return s;
}

providers::Deployment deployment() {
  providers::Deployment d;
  d.provider = "mock";
  d.base_url = "http://127.0.0.1:1";
  d.model = "gemini-2.0-flash";
  d.project = "p";
  d.region = "us-central1";
  return d;
}

core::UpstreamResponse as_response(const Reply& r) {
  return {r.status, {{"content-type", r.content_type}}, r.body};
}

// ---- registry, routes, credentials ----

TEST(MockGemini, BothNamesAreRegistered) {
  ASSERT_NE(find_dialect("gemini"), nullptr);
  ASSERT_NE(find_dialect("vertex"), nullptr);
  EXPECT_EQ(find_dialect("gemini")->name(), "gemini");
  EXPECT_EQ(find_dialect("vertex")->name(), "vertex");
}

TEST(MockGemini, Routes) {
  const auto& d = gemini();
  EXPECT_EQ(d.route("POST", kGeminiChat), Op::chat);
  EXPECT_EQ(d.route("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent"), Op::chat);
  EXPECT_EQ(d.route("POST", kVertexChat), Op::chat);
  EXPECT_EQ(d.route("POST", "/v1beta/models/text-embedding-004:embedContent"), Op::embeddings);
  EXPECT_EQ(d.route("POST", "/v1beta/models/text-embedding-004:batchEmbedContents"),
            Op::embeddings);
  EXPECT_EQ(
      d.route("POST",
              "/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict"),
      Op::embeddings);
  EXPECT_EQ(d.route("GET", "/v1beta/models"), Op::models);
  EXPECT_EQ(d.route("POST", "/v1beta/models/gemini-2.0-flash:countTokens"), std::nullopt);
  EXPECT_EQ(d.route("GET", kGeminiChat), std::nullopt);
  EXPECT_EQ(d.route("POST", "/v1/chat/completions"), std::nullopt);
  const auto nf = d.not_found("/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(error_of(nf).at("status"), "NOT_FOUND");
}

TEST(MockGemini, GeminiPaths_NeedAnApiKeyHeaderOrKeyParameter) {
  Request r{.path = std::string(kGeminiChat)};
  auto denied = gemini().check_auth(r.view());
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(error_of(*denied).at("status"), "PERMISSION_DENIED");
  EXPECT_EQ(error_of(*denied).at("code"), 403);

  r.query = "alt=sse&keyx=1";
  EXPECT_TRUE(gemini().check_auth(r.view()));
  r.query = "alt=sse&key=abc";
  EXPECT_FALSE(gemini().check_auth(r.view()));
  r.query.clear();
  r.headers["x-goog-api-key"] = "abc";
  EXPECT_FALSE(gemini().check_auth(r.view()));
}

TEST(MockGemini, VertexPaths_NeedABearerToken) {
  Request r{.path = std::string(kVertexChat)};
  r.headers["x-goog-api-key"] = "abc";  // not enough on Vertex
  auto denied = gemini().check_auth(r.view());
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(error_of(*denied).at("status"), "UNAUTHENTICATED");
  r.headers["authorization"] = "Bearer ";
  EXPECT_TRUE(gemini().check_auth(r.view()));
  r.headers["authorization"] = "Bearer ya29.token";
  EXPECT_FALSE(gemini().check_auth(r.view()));
  // And the same rule under the other name.
  EXPECT_FALSE(find_dialect("vertex")->check_auth(r.view()));
}

// ---- request validation ----

std::optional<ChatCall> parse(std::string body, Reply& error,
                              std::string path = std::string(kGeminiChat)) {
  Request r{.path = std::move(path), .body = std::move(body)};
  return gemini().parse_chat(r.view(), error);
}

std::string rejection(std::string body) {
  Reply error;
  auto call = parse(std::move(body), error);
  EXPECT_FALSE(call);
  if (call) return "accepted";
  EXPECT_EQ(error.status, 400);
  auto e = error_of(error);
  EXPECT_EQ(e.at("status"), "INVALID_ARGUMENT");
  return std::string(e.at("message").as_string());
}

TEST(MockGemini, ParseChat_ReadsWhatTheMockNeeds) {
  Reply error;
  auto call = parse(R"({
    "contents":[{"role":"user","parts":[{"text":"What is the weather in Paris today?"}]},
                {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}}]},
                {"role":"user","parts":[{"functionResponse":{"name":"get_weather",
                                                            "response":{"t":21}}}]}],
    "systemInstruction":{"parts":[{"text":"Be brief."}]},
    "tools":[{"functionDeclarations":[{"name":"get_weather"},{"name":"now"}]}],
    "toolConfig":{"functionCallingConfig":{"mode":"NONE"}},
    "generationConfig":{"maxOutputTokens":5}})",
                    error, "/v1beta/models/gemini-2.5-pro:streamGenerateContent");
  ASSERT_TRUE(call) << error.body;
  EXPECT_EQ(call->model, "gemini-2.5-pro");
  EXPECT_TRUE(call->stream);
  EXPECT_EQ(call->tool_names, (std::vector<std::string>{"get_weather", "now"}));
  EXPECT_TRUE(call->tool_choice_none);
  EXPECT_TRUE(call->last_is_tool_result);
  EXPECT_EQ(call->max_tokens, 5);
  EXPECT_EQ(call->system, "Be brief. ");
  EXPECT_GT(call->prompt_tokens, 10);

  // The gateway percent-encodes the model id in the path.
  call = parse(R"({"contents":[{"parts":[{"text":"hi"}]}]})", error,
               "/v1beta/models/m%40mock%3Astatus%3D429%2Cretry-after%3D3:generateContent");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->model, "m@mock:status=429,retry-after=3");

  call = parse(R"({"contents":[{"parts":[{"text":"hi"}]}]})", error);  // role is optional
  ASSERT_TRUE(call);
  EXPECT_FALSE(call->stream);
  EXPECT_FALSE(call->last_is_tool_result);
  EXPECT_FALSE(call->max_tokens);
}

TEST(MockGemini, ParseChat_RejectsLikeGoogle) {
  EXPECT_EQ(rejection("{"), "Invalid JSON payload received. Unexpected token.");
  EXPECT_EQ(rejection("{}"), "* GenerateContentRequest.contents: contents is not specified\n");
  EXPECT_EQ(rejection(R"({"contents":[]})"),
            "* GenerateContentRequest.contents: contents is not specified\n");
  EXPECT_EQ(rejection(R"({"contents":[{"role":"assistant","parts":[{"text":"x"}]}]})"),
            "Please use a valid role: user, model.");
  EXPECT_EQ(rejection(R"({"contents":[{"role":"user","parts":[]}]})"),
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n");
  EXPECT_EQ(rejection(R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],"messages":[]})"),
            "Invalid JSON payload received. Unknown name \"messages\": Cannot find field.");
  EXPECT_EQ(rejection(R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],
                          "tools":[{"functionDeclarations":[{"name":"f","parameters":{
                            "type":"object","properties":{"a":{"type":"string",
                            "additionalProperties":false}}}}]}]})"),
            "Invalid JSON payload received. Unknown name \"additionalProperties\" at "
            "'tools[0].function_declarations[0].parameters.properties[a].value': Cannot find "
            "field.");
}

TEST(MockGemini, AcceptsWhatTheAdaptersSend) {
  api::Chat chat;
  api::Message system;
  system.role = api::Role::system;
  system.content.push_back(text_part("Be brief."));
  api::Message user;
  user.content.push_back(text_part("Weather?"));
  api::Message assistant;
  assistant.role = api::Role::assistant;
  assistant.tool_calls = {{"c1", "get_weather", R"({"city":"Paris"})"}};
  api::Message result;
  result.role = api::Role::tool;
  result.tool_call_id = "c1";
  result.content.push_back(text_part("sunny"));
  chat.messages = {system, user, assistant, result};
  chat.tools = {{"get_weather", "weather",
                 json::parse(R"({"$schema":"x","type":"object","additionalProperties":false,
                     "properties":{"city":{"type":"string","format":"uri"}},"strict":true})"),
                 true}};
  chat.stream = true;
  for (const auto* a : {&gemini_adapter(), &vertex_adapter()}) {
    SCOPED_TRACE(a->name());
    auto req = a->encode_chat(chat, deployment(), {"r"});
    ASSERT_TRUE(req.has_value());
    const std::string target = req->url.substr(std::string("http://127.0.0.1:1").size());
    const auto q = target.find('?');
    Request r{.path = target.substr(0, q), .query = target.substr(q + 1), .body = req->body};
    EXPECT_EQ(gemini().route("POST", r.path), Op::chat);
    Reply error;
    auto call = gemini().parse_chat(r.view(), error);
    ASSERT_TRUE(call) << error.body;
    EXPECT_TRUE(call->stream);
    EXPECT_TRUE(call->last_is_tool_result);
    EXPECT_EQ(call->tool_names, (std::vector<std::string>{"get_weather"}));
  }
}

// ---- answers, read back by the adapters ----

TEST(MockGemini, ChatResponse_DecodesToTheScript) {
  const auto reply = gemini().chat_response({}, text_script({"Hello", " there"}, "length"));
  EXPECT_EQ(reply.status, 200);
  auto r = gemini_adapter().decode_chat(as_response(reply), deployment(), {"req"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->content, "Hello there");
  EXPECT_EQ(r->finish_reason, api::FinishReason::length);
  EXPECT_EQ(r->id, "mock-1");
  EXPECT_EQ(r->model, "gemini-2.0-flash");
  EXPECT_EQ(r->usage.prompt_tokens, 11);
  EXPECT_EQ(r->usage.completion_tokens, 2);
  EXPECT_EQ(r->usage.cached_tokens, 4);
}

TEST(MockGemini, ChatResponse_ToolCallsDecodeAsToolCalls) {
  auto r = vertex_adapter().decode_chat(as_response(gemini().chat_response({}, tool_script())),
                                        deployment(), {"req"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->finish_reason, api::FinishReason::tool_calls);
  ASSERT_EQ(r->tool_calls.size(), 2u);
  EXPECT_EQ(r->tool_calls[0].id, "call_req_0");
  EXPECT_EQ(r->tool_calls[0].name, "get_weather");
  EXPECT_EQ(r->tool_calls[0].arguments, R"({"query":"weather in Paris","n":1})");
  EXPECT_EQ(r->tool_calls[1].name, "now");
  EXPECT_EQ(r->usage.completion_tokens, 24);
}

struct Decoded {
  std::vector<api::ChatChunk> chunks;
  std::optional<core::Error> error;
};

Decoded decode_stream(const std::vector<std::string>& events, bool bytewise) {
  std::string all;
  for (const auto& e : events) all += e;
  auto dec = gemini_adapter().stream_decoder({}, deployment(), {"req"});
  Decoded d;
  const std::size_t step = bytewise ? 1 : all.size();
  for (std::size_t i = 0; i < all.size() && !d.error; i += step) {
    if (auto r = dec->feed(std::string_view(all).substr(i, step), d.chunks); !r)
      d.error = r.error();
  }
  if (!d.error) {
    if (auto r = dec->finish(d.chunks); !r) d.error = r.error();
  }
  return d;
}

TEST(MockGemini, Stream_RoundTripsThroughTheDecoder) {
  const auto& d = gemini();
  EXPECT_EQ(d.stream_content_type(), "text/event-stream");
  const auto events = d.stream_events({}, text_script({"One", " two", " three"}));
  ASSERT_EQ(events.size(), 3u);
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise);
    const auto out = decode_stream(events, bytewise);
    ASSERT_FALSE(out.error) << out.error->message;
    ASSERT_EQ(out.chunks.size(), 5u);
    EXPECT_TRUE(out.chunks[0].role);
    EXPECT_EQ(out.chunks[0].content + out.chunks[1].content + out.chunks[2].content,
              "One two three");
    EXPECT_EQ(out.chunks[3].finish_reason, api::FinishReason::stop);
    ASSERT_TRUE(out.chunks[4].usage);
    EXPECT_EQ(out.chunks[4].usage->prompt_tokens, 11);
    EXPECT_EQ(out.chunks[4].usage->completion_tokens, 3);
    EXPECT_EQ(out.chunks[4].usage->cached_tokens, 4);
  }
  // Only the last event carries finishReason: cut after the first, the stream is truncated.
  EXPECT_TRUE(decode_stream({events[0]}, false).error);
}

TEST(MockGemini, Stream_ToolCallsAndEmptyAnswers) {
  auto out = decode_stream(gemini().stream_events({}, tool_script()), false);
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.chunks.size(), 3u);
  ASSERT_EQ(out.chunks[0].tool_calls.size(), 2u);
  EXPECT_EQ(out.chunks[0].tool_calls[1].index, 1);
  EXPECT_EQ(out.chunks[0].tool_calls[1].name, "now");
  EXPECT_EQ(out.chunks[0].tool_calls[1].arguments, R"({"n":2})");
  EXPECT_EQ(out.chunks[1].finish_reason, api::FinishReason::tool_calls);

  out = decode_stream(gemini().stream_events({}, text_script({})), false);
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.chunks.size(), 2u);
  EXPECT_EQ(out.chunks[0].finish_reason, api::FinishReason::stop);
}

TEST(MockGemini, StreamErrorEvent_IsABareObjectTheDecoderMaps) {
  auto events = gemini().stream_events({}, text_script({"a", "b", "c"}));
  events.resize(2);
  events.push_back(gemini().stream_error_event(503, "The model is \"overloaded\"."));
  EXPECT_TRUE(events.back().starts_with("{\n  \"error\": {"));
  for (bool bytewise : {false, true}) {
    const auto out = decode_stream(events, bytewise);
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->kind, ErrorKind::overloaded);
    EXPECT_EQ(out.error->message,
              "provider 'mock' reported an error in its stream: The model is \"overloaded\".");
    EXPECT_EQ(out.chunks.size(), 2u);
  }
}

TEST(MockGemini, Errors_MapToTheRightKinds) {
  const std::vector<std::pair<int, ErrorKind>> cases = {
      {400, ErrorKind::invalid_request}, {401, ErrorKind::authentication},
      {403, ErrorKind::permission},      {404, ErrorKind::not_found},
      {429, ErrorKind::rate_limit},      {500, ErrorKind::upstream},
      {503, ErrorKind::overloaded},      {504, ErrorKind::timeout},
  };
  for (auto [status, kind] : cases) {
    SCOPED_TRACE(status);
    const auto reply = gemini().error(status, "injected");
    EXPECT_EQ(reply.status, status);
    const auto e = gemini_adapter().decode_error(as_response(reply), deployment());
    EXPECT_EQ(e.kind, kind);
    EXPECT_EQ(e.message, "provider 'mock' answered " + std::to_string(status) + ": injected");
    EXPECT_EQ(e.retry_after_s, status == 429 ? std::optional<int>(1) : std::nullopt);
  }
}

// ---- embeddings and models ----

void expect_unit_vectors(const api::EmbeddingsResponse& r, std::size_t n, std::size_t dims) {
  ASSERT_EQ(r.vectors.size(), n);
  for (const auto& v : r.vectors) {
    ASSERT_EQ(v.size(), dims);
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-4);
  }
}

Reply embed(const core::UpstreamRequest& req) {
  const std::string target = req.url.substr(std::string("http://127.0.0.1:1").size());
  Request r{.path = target, .body = req.body};
  EXPECT_EQ(gemini().route("POST", r.path), Op::embeddings);
  return gemini().embeddings(r.view());
}

TEST(MockGemini, Embeddings_AllThreeShapesRoundTrip) {
  api::Embeddings e;
  e.inputs = {"hello"};
  e.dimensions = 16;
  auto one = gemini_adapter().encode_embeddings(e, deployment());
  ASSERT_TRUE(one.has_value());
  auto r = gemini_adapter().decode_embeddings(as_response(embed(*one)), deployment());
  ASSERT_TRUE(r.has_value());
  expect_unit_vectors(*r, 1, 16);

  e.inputs = {"a", "b", "c"};
  auto batch = gemini_adapter().encode_embeddings(e, deployment());
  ASSERT_TRUE(batch.has_value());
  r = gemini_adapter().decode_embeddings(as_response(embed(*batch)), deployment());
  ASSERT_TRUE(r.has_value());
  expect_unit_vectors(*r, 3, 16);
  EXPECT_NE(r->vectors[0], r->vectors[1]);

  e.dimensions.reset();
  auto predict = vertex_adapter().encode_embeddings(e, deployment());
  ASSERT_TRUE(predict.has_value());
  r = vertex_adapter().decode_embeddings(as_response(embed(*predict)), deployment());
  ASSERT_TRUE(r.has_value());
  expect_unit_vectors(*r, 3, 768);
  EXPECT_EQ(r->usage.prompt_tokens, 3);
}

TEST(MockGemini, Embeddings_BadBodiesAre400) {
  Request r{.path = "/v1beta/models/m:embedContent", .body = "{}"};
  EXPECT_EQ(gemini().embeddings(r.view()).status, 400);
  r.path = "/v1beta/models/m:batchEmbedContents";
  EXPECT_EQ(gemini().embeddings(r.view()).status, 400);
  r.path = "/v1/projects/p/locations/l/publishers/google/models/m:predict";
  EXPECT_EQ(gemini().embeddings(r.view()).status, 400);
  r.body = "nope";
  EXPECT_EQ(error_of(gemini().embeddings(r.view())).at("status"), "INVALID_ARGUMENT");
}

TEST(MockGemini, Models_ListsGeminiModels) {
  auto body = json::parse(gemini().models().body).as_object();
  ASSERT_TRUE(body.contains("models"));
  EXPECT_EQ(body.at("models").as_array()[0].as_object().at("name"), "models/gemini-2.0-flash");
}

}  // namespace
}  // namespace stratus::mock
