// The Bedrock mock dialect against the Bedrock adapter: requests the adapter encodes and signs
// are verified and accepted, bad signatures and unknown keys are refused like AWS does, Converse
// validation catches what a translator can get wrong, and every answer (JSON, event-stream
// frames, errors, embeddings) decodes through the adapter and fits the botocore shapes.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "../providers/botocore_shapes.h"
#include "../providers/stream_util.h"
#include "auth/signer.h"
#include "codec/eventstream.h"
#include "mock/dialect_bedrock.h"
#include "providers/bedrock.h"

namespace stratus::mock {
namespace {

namespace json = boost::json;
using core::ErrorKind;
using providers::bedrock_adapter;

providers::Deployment dep(std::string model = "anthropic.claude-3-5-sonnet-20240620-v1:0") {
  return {.provider = "aws",
          .type = "bedrock",
          .base_url = "http://127.0.0.1:4010",
          .model = std::move(model),
          .region = "us-east-1",
          .project = {},
          .api_version = {}};
}

const providers::testing::ShapeChecker& shapes() {
  static const json::value model = json::parse(
      providers::testing::read_data("bedrock/bedrock-runtime-2023-09-30.botocore-service-2.json"));
  static const providers::testing::ShapeChecker checker(model);
  return checker;
}

auth::Credentials creds(std::string id = "AKIDEXAMPLE",
                        std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") {
  auth::Credentials c;
  c.kind = auth::Credentials::Kind::sigv4;
  c.aws = {std::move(id), std::move(secret), ""};
  c.region = "us-east-1";
  c.service = "bedrock";
  return c;
}

// An UpstreamRequest as the mock's server would see it.
struct Incoming {
  core::UpstreamRequest req;
  std::string target;
  std::string path;

  explicit Incoming(core::UpstreamRequest r) : req(std::move(r)) {
    auto rest = std::string_view(req.url).substr(req.url.find("://") + 3);
    target = std::string(rest.substr(rest.find('/')));
    path = target.substr(0, target.find('?'));
  }
  MockRequest view() const {
    return {.method = req.method,
            .target = target,
            .path = path,
            .query = {},
            .header = [this](std::string_view name) -> std::string_view {
              for (auto& [k, v] : req.headers) {
                if (k == name) return v;
              }
              return {};
            },
            .body = req.body,
            .host = "127.0.0.1:4010"};
  }
};

const auto kNow = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + std::chrono::hours{9};

Incoming signed_chat(std::string_view openai_body, const auth::Credentials& c = creds(),
                     providers::Deployment d = dep()) {
  auto chat = api::parse_chat(json::parse(openai_body));
  EXPECT_TRUE(chat.has_value()) << chat.error().message;
  auto r = bedrock_adapter().encode_chat(*chat, d, {});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  auth::sign(*r, c, kNow);
  return Incoming(std::move(*r));
}

std::string error_type(const Reply& r) {
  for (auto& [k, v] : r.headers) {
    if (k == "x-amzn-ErrorType") return v.substr(0, v.find(':'));
  }
  return {};
}

core::UpstreamResponse as_response(const Reply& r) {
  core::UpstreamResponse res{.status = r.status, .headers = {}, .body = r.body};
  for (auto& [k, v] : r.headers) {
    std::string lower = k;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    res.headers.emplace_back(lower, v);
  }
  return res;
}

TEST(BedrockDialect, Routes) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  EXPECT_EQ(d->route("POST", "/model/anthropic.claude-v2%3A1/converse"), Op::chat);
  EXPECT_EQ(d->route("POST", "/model/m/converse-stream"), Op::chat);
  EXPECT_EQ(d->route("POST", "/model/amazon.titan-embed-text-v2%3A0/invoke"), Op::embeddings);
  EXPECT_EQ(d->route("GET", "/model/m/converse"), std::nullopt);
  EXPECT_EQ(d->route("POST", "/model/m/invoke-with-response-stream"), std::nullopt);
  EXPECT_EQ(d->route("POST", "/v1/chat/completions"), std::nullopt);
  EXPECT_EQ(d->route("POST", "/model//converse"), std::nullopt);
}

TEST(BedrockDialect, SigV4_SignedByTheGatewaySignerIsAccepted) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  auto in = signed_chat(R"({"model":"a","messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_NE(in.target.find("%3A0/converse"), std::string::npos) << in.target;
  EXPECT_EQ(d->check_auth(in.view()), std::nullopt);

  auto other = make_bedrock_dialect({"AKIDOTHER", "s3cret"});
  EXPECT_EQ(
      other->check_auth(signed_chat(R"({"model":"a","messages":[{"role":"user","content":"Hi"}]})",
                                    creds("AKIDOTHER", "s3cret"))
                            .view()),
      std::nullopt);
}

TEST(BedrockDialect, SigV4_RefusedLikeAws_AndTheAdapterReadsItAsAuthentication) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  const std::string body = R"({"model":"a","messages":[{"role":"user","content":"Hi"}]})";

  auto wrong_secret = d->check_auth(signed_chat(body, creds("AKIDEXAMPLE", "wrong")).view());
  ASSERT_TRUE(wrong_secret);
  EXPECT_EQ(wrong_secret->status, 403);
  EXPECT_EQ(error_type(*wrong_secret), "InvalidSignatureException");
  EXPECT_TRUE(json::parse(wrong_secret->body)
                  .at("message")
                  .as_string()
                  .starts_with("The request signature we calculated does not match"))
      << wrong_secret->body;

  auto unknown = d->check_auth(signed_chat(body, creds("AKIDNOBODY", "x")).view());
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 403);
  EXPECT_EQ(error_type(*unknown), "UnrecognizedClientException");
  EXPECT_EQ(unknown->body,
            R"({"message":"The security token included in the request is invalid."})");

  auto tampered = signed_chat(body);
  tampered.req.body += " ";
  auto changed = d->check_auth(tampered.view());
  ASSERT_TRUE(changed);
  EXPECT_EQ(error_type(*changed), "InvalidSignatureException");

  auto unsigned_req = signed_chat(body);
  std::erase_if(unsigned_req.req.headers, [](auto& h) { return h.first == "authorization"; });
  auto missing = d->check_auth(unsigned_req.view());
  ASSERT_TRUE(missing);
  EXPECT_EQ(error_type(*missing), "MissingAuthenticationTokenException");

  for (auto* reply : {&*wrong_secret, &*unknown, &*missing}) {
    auto e = bedrock_adapter().decode_error(as_response(*reply), dep());
    EXPECT_EQ(e.kind, ErrorKind::authentication) << reply->body;
  }
}

ChatCall parse_ok(const Incoming& in) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  Reply error;
  auto call = d->parse_chat(in.view(), error);
  EXPECT_TRUE(call) << error.body;
  return call ? *call : ChatCall{};
}

TEST(BedrockDialect, AcceptsWhatTheAdapterEncodes_AndReadsTheCall) {
  auto call = parse_ok(signed_chat(R"({"model":"a","stream":true,"max_tokens":5,
      "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
      "messages":[
        {"role":"system","content":"You are terse."},
        {"role":"user","content":"Weather twice?"},
        {"role":"assistant","tool_calls":[
          {"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{\"q\":1}"}},
          {"id":"t2","type":"function","function":{"name":"get_weather","arguments":"{\"q\":2}"}}]},
        {"role":"tool","tool_call_id":"t1","content":"{\"temp\":20}"},
        {"role":"tool","tool_call_id":"t2","content":"{\"temp\":21}"}]})",
                                   creds(), dep("m@mock:status=429")));
  EXPECT_EQ(call.model, "m@mock:status=429");
  EXPECT_TRUE(call.stream);
  EXPECT_EQ(call.max_tokens, 5);
  EXPECT_EQ(call.tool_names, (std::vector<std::string>{"get_weather"}));
  EXPECT_TRUE(call.last_is_tool_result);
  EXPECT_EQ(call.system, "You are terse.");
  EXPECT_GT(call.prompt_tokens, 10);

  auto plain =
      parse_ok(signed_chat(R"({"model":"a","messages":[{"role":"user","content":"Hi"}]})"));
  EXPECT_FALSE(plain.stream);
  EXPECT_FALSE(plain.last_is_tool_result);
  EXPECT_EQ(plain.max_tokens, std::nullopt);
}

TEST(BedrockDialect, ValidatesLikeBedrock) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"({"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"x"}]}}]}]})",
       "not a toolUse block of the previous assistant turn"},
      {R"({"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]})",
       "must alternate between user and assistant"},
      {R"({"messages":[{"role":"assistant","content":[{"text":"a"}]}]})",
       "must start with a user message"},
      {R"({"messages":[{"role":"user","content":[{"text":" "}]}]})", "is blank"},
      {R"({"messages":[{"role":"user","content":[{"text":"a"}]},
          {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},
          {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"x"}]}}]}]})",
       "toolConfig field must be defined"},
      {R"({"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]},"messages":[{"role":"user","content":[{"text":"a"}]},
          {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}},{"toolUse":{"toolUseId":"t2","name":"f","input":{}}}]},
          {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"x"}]}}]},
          {"role":"assistant","content":[{"text":"b"}]}]})",
       "Expected toolResult blocks at messages.2.content for the following Ids: t2"},
      {R"({"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}})",
       "inferenceConfig.maxTokens"},
      {R"({"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AAAA"}}}]}]})",
       "image.format"},
      {R"({"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfiguration":{}})",
       "extraneous key [inferenceConfiguration]"},
      {R"(not json)", "Malformed input request"},
  };
  for (auto [body, says] : cases) {
    core::UpstreamRequest r{.method = "POST",
                            .url = "http://127.0.0.1:4010/model/m/converse",
                            .headers = {},
                            .body = std::string(body)};
    Incoming in(std::move(r));
    Reply error;
    auto call = d->parse_chat(in.view(), error);
    EXPECT_FALSE(call) << body;
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error_type(error), "ValidationException") << body;
    EXPECT_NE(error.body.find(says), std::string::npos) << error.body;
    EXPECT_EQ(bedrock_adapter().decode_error(as_response(error), dep()).kind,
              ErrorKind::invalid_request);
  }
}

Script text_script() {
  Script s;
  s.id = "mock-1";
  s.model = "m";
  s.tokens = {"Hello", " there"};
  s.finish = "length";
  s.prompt_tokens = 30;
  s.completion_tokens = 2;
  s.cached_tokens = 10;
  return s;
}

Script tool_script() {
  Script s;
  s.id = "mock-2";
  s.model = "m";
  s.tool_calls = {{"call_a", "get_weather", R"({"query":"weather in Paris","n":1})"},
                  {"call_b", "get_weather", R"({"query":"weather in Paris","n":2})"}};
  s.finish = "tool_calls";
  s.prompt_tokens = 20;
  s.completion_tokens = 24;
  return s;
}

TEST(BedrockDialect, ConverseAnswers_DecodeThroughTheAdapter) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  auto text = d->chat_response({}, text_script());
  EXPECT_EQ(shapes().check(json::parse(text.body), "ConverseResponse"), "") << text.body;
  auto r = bedrock_adapter().decode_chat(as_response(text), dep(), {});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->id, "mock-1");
  EXPECT_EQ(r->content, "Hello there");
  EXPECT_EQ(r->finish_reason, api::FinishReason::length);
  EXPECT_EQ(r->usage.prompt_tokens, 30);
  EXPECT_EQ(r->usage.cached_tokens, 10);
  EXPECT_EQ(r->usage.total_tokens, 32);

  auto tools = d->chat_response({}, tool_script());
  EXPECT_EQ(shapes().check(json::parse(tools.body), "ConverseResponse"), "") << tools.body;
  auto t = bedrock_adapter().decode_chat(as_response(tools), dep(), {});
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->tool_calls.size(), 2u);
  EXPECT_EQ(t->tool_calls[1].id, "call_b");
  EXPECT_EQ(t->tool_calls[1].arguments, R"({"query":"weather in Paris","n":2})");
  EXPECT_EQ(t->finish_reason, api::FinishReason::tool_calls);
}

// Every frame: Bedrock's three headers, and a payload (less the "p" padding) of the event's shape.
void check_frames(const std::vector<std::string>& events) {
  static const std::map<std::string, std::string, std::less<>> kShapes = {
      {"messageStart", "MessageStartEvent"},
      {"contentBlockStart", "ContentBlockStartEvent"},
      {"contentBlockDelta", "ContentBlockDeltaEvent"},
      {"contentBlockStop", "ContentBlockStopEvent"},
      {"messageStop", "MessageStopEvent"},
      {"metadata", "ConverseStreamMetadataEvent"}};
  for (auto& e : events) {
    auto m = codec::decode_event(e);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    ASSERT_EQ(m->headers.size(), 3u);
    EXPECT_EQ(m->headers[0].name, ":event-type");
    EXPECT_EQ(m->content_type(), "application/json");
    EXPECT_EQ(m->message_type(), "event");
    auto payload = json::parse(m->payload).as_object();
    EXPECT_TRUE(payload.contains("p"));
    payload.erase("p");
    auto shape = kShapes.find(m->event_type());
    ASSERT_NE(shape, kShapes.end()) << m->event_type();
    EXPECT_EQ(shapes().check(payload, shape->second), "") << m->payload;
  }
}

providers::testing::DecoderFactory decoder() {
  return [] { return bedrock_adapter().stream_decoder({}, dep(), {}); };
}

std::string joined(const std::vector<std::string>& events) {
  std::string all;
  for (auto& e : events) all += e;
  return all;
}

TEST(BedrockDialect, StreamFrames_RoundTripThroughTheStreamDecoder) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  EXPECT_EQ(d->stream_content_type(), "application/vnd.amazon.eventstream");

  auto text = d->stream_events({}, text_script());
  check_frames(text);
  std::string mismatch;
  auto r = providers::testing::decode_every_way(decoder(), joined(text), &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_EQ(r.text(),
            "role \ncontent=Hello \ncontent= there \nfinish=length \nusage=30/2/32 cached=10\n");

  auto tools = d->stream_events({}, tool_script());
  check_frames(tools);
  auto t = providers::testing::decode_every_way(decoder(), joined(tools), &mismatch);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
  EXPECT_EQ(t.text(),
            "role \n"
            "tool[0] id=call_a name=get_weather args= \n"
            "tool[0] id= name= args={\"query\":\"weather \n"
            "tool[0] id= name= args= in Paris\",\"n\":1} \n"
            "tool[1] id=call_b name=get_weather args= \n"
            "tool[1] id= name= args={\"query\":\"weather \n"
            "tool[1] id= name= args= in Paris\",\"n\":2} \n"
            "finish=tool_calls \n"
            "usage=20/24/44 cached=0\n");
}

TEST(BedrockDialect, StreamErrorEvents_AreExceptionFrames) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  const std::tuple<int, std::string_view, ErrorKind> cases[] = {
      {503, "serviceUnavailableException", ErrorKind::overloaded},
      {429, "throttlingException", ErrorKind::rate_limit},
      {500, "internalServerException", ErrorKind::upstream},
      {424, "modelStreamErrorException", ErrorKind::upstream},
  };
  for (auto [status, type, kind] : cases) {
    auto frame = d->stream_error_event(status, "went wrong");
    auto m = codec::decode_event(frame);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->message_type(), "exception");
    EXPECT_EQ(m->exception_type(), type);
    auto events = d->stream_events({}, text_script());
    events.resize(3);
    events.push_back(frame);
    auto r = providers::testing::decode_whole(decoder(), joined(events));
    ASSERT_TRUE(r.error) << type;
    EXPECT_EQ(r.error->kind, kind) << type;
    EXPECT_NE(r.error->message.find("went wrong"), std::string::npos) << r.error->message;
  }
}

TEST(BedrockDialect, ErrorAnswers_MapToTheRightKinds) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  const std::tuple<int, int, std::string_view, ErrorKind> cases[] = {
      {400, 400, "ValidationException", ErrorKind::invalid_request},
      {401, 403, "UnrecognizedClientException", ErrorKind::authentication},
      {403, 403, "AccessDeniedException", ErrorKind::permission},
      {404, 404, "ResourceNotFoundException", ErrorKind::not_found},
      {429, 429, "ThrottlingException", ErrorKind::rate_limit},
      {500, 500, "InternalServerException", ErrorKind::upstream},
      {503, 503, "ServiceUnavailableException", ErrorKind::overloaded},
  };
  for (auto [asked, status, type, kind] : cases) {
    auto reply = d->error(asked, "injected");
    EXPECT_EQ(reply.status, status) << type;
    EXPECT_EQ(error_type(reply), type);
    EXPECT_EQ(bedrock_adapter().decode_error(as_response(reply), dep()).kind, kind) << type;
  }
  EXPECT_EQ(d->error(429, "slow down").body, R"({"message":"slow down"})");
  EXPECT_EQ(error_type(d->not_found("/nope")), "UnknownOperationException");
}

TEST(BedrockDialect, Embeddings_TitanAndCohere_ThroughTheAdapter) {
  auto d = make_bedrock_dialect(default_aws_test_keys());
  for (auto [model, input, count] :
       {std::tuple{"amazon.titan-embed-text-v2:0", R"("hello world")", 1},
        std::tuple{"cohere.embed-english-v3", R"(["alpha","beta"])", 2}}) {
    auto req =
        api::parse_embeddings(json::parse(R"({"model":"e","input":)" + std::string(input) + "}"));
    ASSERT_TRUE(req.has_value());
    auto enc = bedrock_adapter().encode_embeddings(*req, dep(model));
    ASSERT_TRUE(enc.has_value()) << enc.error().message;
    Incoming in(std::move(*enc));
    EXPECT_EQ(d->route("POST", in.path), Op::embeddings);
    auto reply = d->embeddings(in.view());
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto res = bedrock_adapter().decode_embeddings(as_response(reply), dep(model));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->vectors.size(), static_cast<std::size_t>(count)) << model;
    EXPECT_EQ(res->vectors[0].size(), 1024u) << model;
    EXPECT_GT(res->usage.prompt_tokens, 0) << model;
  }
  Incoming chat_model(core::UpstreamRequest{.method = "POST",
                                            .url = "http://h/model/anthropic.claude-v2/invoke",
                                            .headers = {},
                                            .body = "{}"});
  EXPECT_EQ(error_type(d->embeddings(chat_model.view())), "ValidationException");
}

}  // namespace
}  // namespace stratus::mock
