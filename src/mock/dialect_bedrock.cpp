// The Bedrock Runtime dialect of the mock (see dialect_bedrock.h): routes, SigV4 verification,
// Converse answers, ConverseStream event frames, InvokeModel embeddings and Bedrock's errors.
#include "mock/dialect_bedrock.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "auth/sigv4.h"
#include "codec/eventstream.h"

namespace stratus::mock {

namespace json = boost::json;
using codec::EventHeader;

namespace {

constexpr std::string_view kBedrockFault = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
constexpr std::string_view kCoralFault =
    ":http://internal.amazon.com/coral/com.amazon.coral.service/";
// Bedrock pads every stream event with a "p" member of varying length (so sizes do not leak
// content); the mock does the same so that decoders are tested on it.
constexpr std::string_view kPadding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123";

// "/model/{id}/{op}" → id (still encoded) and op.
std::optional<std::pair<std::string_view, std::string_view>> split_model_path(
    std::string_view path) {
  constexpr std::string_view kPrefix = "/model/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  auto rest = path.substr(kPrefix.size());
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  return std::pair{rest.substr(0, slash), rest.substr(slash + 1)};
}

Reply aws_error(int status, std::string_view type, std::string_view fault,
                std::string_view message) {
  Reply r{.status = status, .body = json::serialize(json::object{{"message", message}})};
  r.headers.emplace_back("x-amzn-ErrorType", std::string(type) + std::string(fault));
  r.headers.emplace_back("x-amzn-RequestId", "mock-request-failure");
  return r;
}

Reply validation(std::string_view message) {
  return aws_error(400, "ValidationException", kBedrockFault, message);
}

// The Bedrock error type a status stands for (401: AWS answers bad keys with 403).
std::string_view error_type_for(int status) {
  switch (status) {
    case 400:
      return "ValidationException";
    case 401:
      return "UnrecognizedClientException";
    case 403:
      return "AccessDeniedException";
    case 404:
      return "ResourceNotFoundException";
    case 408:
      return "ModelTimeoutException";
    case 424:
      return "ModelErrorException";
    case 429:
      return "ThrottlingException";
    case 503:
      return "ServiceUnavailableException";
    default:
      return status >= 500 ? "InternalServerException" : "ValidationException";
  }
}

std::string_view stop_reason(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls") return "tool_use";
  return "end_turn";
}

json::object usage_json(const Script& s) {
  json::object u{{"inputTokens", s.prompt_tokens - s.cached_tokens},
                 {"outputTokens", s.completion_tokens},
                 {"totalTokens", s.prompt_tokens + s.completion_tokens}};
  if (s.cached_tokens > 0) u["cacheReadInputTokens"] = s.cached_tokens;
  return u;
}

json::value tool_input(const MockToolCall& c) {
  boost::system::error_code ec;
  auto v = json::parse(c.arguments, ec);
  return ec ? json::value(json::object()) : v;
}

std::string frame(std::string_view event, json::object payload, std::size_t n) {
  payload["p"] = kPadding.substr(0, 1 + (n * 7) % kPadding.size());
  return codec::encode_event({EventHeader::of_string(":event-type", std::string(event)),
                              EventHeader::of_string(":content-type", "application/json"),
                              EventHeader::of_string(":message-type", "event")},
                             json::serialize(payload));
}

class BedrockDialect final : public Dialect {
 public:
  explicit BedrockDialect(AwsKeyPair keys) : keys_(std::move(keys)) {}

  std::string_view name() const override { return "bedrock"; }

  std::optional<Op> route(std::string_view method, std::string_view path) const override {
    auto parts = split_model_path(path);
    if (method != "POST" || !parts) return std::nullopt;
    if (parts->second == "converse" || parts->second == "converse-stream") return Op::chat;
    if (parts->second == "invoke") return Op::embeddings;
    return std::nullopt;
  }

  std::optional<Reply> check_auth(const MockRequest& req) const override {
    // No freshness check: a dialect reads no clock.
    auth::SigV4VerifyOptions options;
    options.service = "bedrock";
    auth::SigV4Incoming in{
        .method = req.method, .target = req.target, .header = req.header, .body = req.body};
    auto verdict = auth::verify_sigv4(
        in,
        [this](std::string_view id) -> std::optional<std::string> {
          if (id == keys_.access_key_id) return keys_.secret_access_key;
          return std::nullopt;
        },
        options);
    using F = auth::SigV4Failure;
    switch (verdict.failure) {
      case F::none:
        return std::nullopt;
      case F::missing_authorization:
        return aws_error(403, "MissingAuthenticationTokenException", kCoralFault, verdict.message);
      case F::unknown_access_key:
        return aws_error(403, "UnrecognizedClientException", kCoralFault, verdict.message);
      case F::malformed_authorization:
      case F::missing_date:
      case F::unsigned_required_header:
        return aws_error(403, "IncompleteSignatureException", kCoralFault, verdict.message);
      case F::signature_mismatch:
        return aws_error(
            403, "InvalidSignatureException", kCoralFault,
            verdict.message + "\n\nThe Canonical String for this request should have been\n'" +
                verdict.canonical_request + "'\n\nThe String-to-Sign should have been\n'" +
                verdict.string_to_sign + "'\n");
      default:
        return aws_error(403, "InvalidSignatureException", kCoralFault, verdict.message);
    }
  }

  std::optional<ChatCall> parse_chat(const MockRequest& req, Reply& error) const override {
    auto parts = split_model_path(req.path);
    if (!parts) {
      error = not_found(req.path);
      return std::nullopt;
    }
    auto v = bedrock_detail::validate_converse(req.body, percent_decode(parts->first),
                                               parts->second == "converse-stream");
    if (!v.call) error = validation(v.error);
    return v.call;
  }

  Reply chat_response(const ChatCall&, const Script& s) const override {
    json::array content;
    std::string text;
    for (auto& t : s.tokens) text += t;
    if (!text.empty()) content.push_back(json::object{{"text", text}});
    for (auto& c : s.tool_calls) {
      content.push_back(json::object{
          {"toolUse", {{"toolUseId", c.id}, {"name", c.name}, {"input", tool_input(c)}}}});
    }
    json::object out{
        {"output", {{"message", {{"role", "assistant"}, {"content", std::move(content)}}}}},
        {"stopReason", stop_reason(s.finish)},
        {"usage", usage_json(s)},
        {"metrics", {{"latencyMs", 42}}}};
    Reply r{.body = json::serialize(out)};
    r.headers.emplace_back("x-amzn-RequestId", s.id);
    return r;
  }

  std::string stream_content_type() const override { return "application/vnd.amazon.eventstream"; }

  std::vector<std::string> stream_events(const ChatCall&, const Script& s) const override {
    std::vector<std::string> events;
    std::size_t n = 0;
    events.push_back(frame("messageStart", {{"role", "assistant"}}, n++));
    std::int64_t block = 0;
    if (!s.tokens.empty()) {
      for (auto& t : s.tokens) {
        events.push_back(frame("contentBlockDelta",
                               {{"contentBlockIndex", block}, {"delta", {{"text", t}}}}, n++));
      }
      events.push_back(frame("contentBlockStop", {{"contentBlockIndex", block}}, n++));
      ++block;
    }
    for (auto& c : s.tool_calls) {
      events.push_back(frame("contentBlockStart",
                             {{"contentBlockIndex", block},
                              {"start", {{"toolUse", {{"toolUseId", c.id}, {"name", c.name}}}}}},
                             n++));
      // Like Bedrock: the input arrives as JSON text in pieces.
      auto half = c.arguments.size() / 2;
      for (auto piece : {c.arguments.substr(0, half), c.arguments.substr(half)}) {
        events.push_back(frame(
            "contentBlockDelta",
            {{"contentBlockIndex", block}, {"delta", {{"toolUse", {{"input", piece}}}}}}, n++));
      }
      events.push_back(frame("contentBlockStop", {{"contentBlockIndex", block}}, n++));
      ++block;
    }
    events.push_back(frame("messageStop", {{"stopReason", stop_reason(s.finish)}}, n++));
    events.push_back(
        frame("metadata", {{"usage", usage_json(s)}, {"metrics", {{"latencyMs", 42}}}}, n++));
    return events;
  }

  Reply error(int status, std::string_view message) const override {
    if (status == 401) {
      return aws_error(403, "UnrecognizedClientException", kCoralFault,
                       "The security token included in the request is invalid.");
    }
    return aws_error(status, error_type_for(status), kBedrockFault, message);
  }

  std::string stream_error_event(int status, std::string_view message) const override {
    // :exception-type is the ConverseStreamOutput union member.
    std::string type = "modelStreamErrorException";
    if (status == 400) type = "validationException";
    if (status == 429) type = "throttlingException";
    if (status == 500) type = "internalServerException";
    if (status == 503) type = "serviceUnavailableException";
    return codec::encode_event({EventHeader::of_string(":exception-type", type),
                                EventHeader::of_string(":content-type", "application/json"),
                                EventHeader::of_string(":message-type", "exception")},
                               json::serialize(json::object{{"message", message}}));
  }

  Reply not_found(std::string_view path) const override {
    return aws_error(404, "UnknownOperationException", kCoralFault,
                     "Unknown operation: " + std::string(path));
  }

  Reply embeddings(const MockRequest& req) const override;

 private:
  AwsKeyPair keys_;
};

// InvokeModel for the embedding models the adapter supports.
Reply BedrockDialect::embeddings(const MockRequest& req) const {
  auto parts = split_model_path(req.path);
  if (!parts) return not_found(req.path);
  std::string model = percent_decode(parts->first);
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    return validation("Malformed input request, please reformat your input and try again.");
  }
  auto& o = v.get_object();
  json::object out;
  int tokens = 0;
  if (model.find("amazon.titan-embed") != std::string::npos) {
    auto* text = o.if_contains("inputText");
    if (!text || !text->is_string() || text->get_string().empty()) {
      return validation(
          "Malformed input request: #: required key [inputText] not found, please "
          "reformat your input and try again.");
    }
    std::size_t dims = model.find("-v2") != std::string::npos ? 1024 : 1536;
    if (auto* d = o.if_contains("dimensions")) {
      if (!d->is_int64() ||
          (d->get_int64() != 256 && d->get_int64() != 512 && d->get_int64() != 1024) ||
          dims != 1024) {
        return validation("Malformed input request: #/dimensions: " + json::serialize(*d) +
                          " is not a valid enum value, please reformat your input and try again.");
      }
      dims = static_cast<std::size_t>(d->get_int64());
    }
    tokens = estimate_tokens(text->get_string());
    json::array e;
    for (float x : fake_embedding(text->get_string(), dims)) e.emplace_back(x);
    out = {{"embedding", std::move(e)}, {"inputTextTokenCount", tokens}};
  } else if (model.find("cohere.embed") != std::string::npos) {
    auto* texts = o.if_contains("texts");
    auto* type = o.if_contains("input_type");
    if (!texts || !texts->is_array() || texts->get_array().empty() ||
        texts->get_array().size() > 96 || !type || !type->is_string()) {
      return validation(
          "Malformed input request: texts (1 to 96 strings) and input_type are "
          "required, please reformat your input and try again.");
    }
    json::array embeddings;
    for (auto& t : texts->get_array()) {
      if (!t.is_string()) return validation("Malformed input request: texts must be strings.");
      tokens += estimate_tokens(t.get_string());
      json::array e;
      for (float x : fake_embedding(t.get_string(), 1024)) e.emplace_back(x);
      embeddings.emplace_back(std::move(e));
    }
    out = {{"embeddings", std::move(embeddings)},
           {"id", "mock-embed"},
           {"response_type", "embeddings_floats"},
           {"texts", *texts}};
  } else {
    return validation(
        "The stratus mock answers InvokeModel for amazon.titan-embed-* and "
        "cohere.embed-* models only, not '" +
        model + "'.");
  }
  Reply r{.body = json::serialize(out)};
  r.headers.emplace_back("x-amzn-RequestId", "mock-embed");
  r.headers.emplace_back("X-Amzn-Bedrock-Input-Token-Count", std::to_string(tokens));
  r.headers.emplace_back("X-Amzn-Bedrock-Invocation-Latency", "7");
  return r;
}

std::string env_or(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

AwsKeyPair default_aws_test_keys() {
  return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
}

std::unique_ptr<Dialect> make_bedrock_dialect(AwsKeyPair keys) {
  return std::make_unique<BedrockDialect>(std::move(keys));
}

const Dialect& bedrock_dialect() {
  static const BedrockDialect d([] {
    AwsKeyPair keys{env_or("AWS_ACCESS_KEY_ID"), env_or("AWS_SECRET_ACCESS_KEY")};
    if (keys.access_key_id.empty() || keys.secret_access_key.empty()) {
      keys = default_aws_test_keys();
    }
    return keys;
  }());
  return d;
}

}  // namespace stratus::mock
