// The OpenAI dialect of the mock (also what Azure OpenAI and every OpenAI-compatible server
// speak): /chat/completions (plain and SSE), /embeddings, /models.
#include <boost/json.hpp>

#include "core/base64.h"
#include "mock/dialect.h"

namespace stratus::mock {

namespace json = boost::json;

namespace {

std::string openai_error(std::string_view message, std::string_view type, std::string_view code) {
  json::object e{{"message", message}, {"type", type}, {"param", nullptr}};
  e["code"] = code.empty() ? json::value(nullptr) : json::value(code);
  return json::serialize(json::object{{"error", std::move(e)}});
}

Reply bad_request(std::string_view message) {
  return Reply{.status = 400, .body = openai_error(message, "invalid_request_error", "")};
}

std::string escaped(std::string_view s) {
  auto q = json::serialize(json::string(s));
  return q.substr(1, q.size() - 2);
}

int prompt_tokens_of(const json::object& body, std::string& system) {
  int tokens = 3;
  if (auto* msgs = body.if_contains("messages"); msgs && msgs->is_array()) {
    for (auto& m : msgs->get_array()) {
      tokens += 4;
      if (!m.is_object()) continue;
      auto* c = m.as_object().if_contains("content");
      if (!c || !c->is_string()) continue;
      tokens += estimate_tokens(c->get_string());
      if (auto* r = m.as_object().if_contains("role");
          r && r->is_string() && (r->get_string() == "system" || r->get_string() == "developer")) {
        system += c->get_string();
      }
    }
  }
  return tokens;
}

std::string tool_calls_json(const Script& s, bool with_index) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.tool_calls.size(); ++i) {
    auto& c = s.tool_calls[i];
    if (i) out += ',';
    out += '{';
    if (with_index) out += R"("index":)" + std::to_string(i) + ',';
    out += R"("id":")" + c.id + R"(","type":"function","function":{"name":")" + escaped(c.name) +
           R"(","arguments":")" + escaped(c.arguments) + R"("}})";
  }
  return out + "]";
}

class OpenAIDialect : public Dialect {
 public:
  std::string_view name() const override { return "openai"; }

  std::optional<Op> route(std::string_view method, std::string_view path) const override {
    if (method == "POST" && path.ends_with("/chat/completions")) return Op::chat;
    if (method == "POST" && path.ends_with("/embeddings")) return Op::embeddings;
    if (method == "GET" && path.ends_with("/models")) return Op::models;
    return std::nullopt;
  }

  std::optional<ChatCall> parse_chat(const MockRequest& req, Reply& error) const override {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      error = bad_request("We could not parse the JSON body of your request.");
      return std::nullopt;
    }
    auto& obj = body.as_object();
    auto* model = obj.if_contains("model");
    if (!model || !model->is_string()) {
      error = bad_request("you must provide a model parameter");
      return std::nullopt;
    }
    ChatCall call;
    call.model = std::string(model->get_string());
    call.prompt_tokens = prompt_tokens_of(obj, call.system);
    if (auto* mt = obj.if_contains("max_tokens"); mt && mt->is_int64() && mt->get_int64() > 0) {
      call.max_tokens = static_cast<int>(mt->get_int64());
    }
    if (auto* mt = obj.if_contains("max_completion_tokens");
        mt && mt->is_int64() && mt->get_int64() > 0) {
      call.max_tokens = static_cast<int>(mt->get_int64());
    }
    if (auto* s = obj.if_contains("stream"); s && s->is_bool()) call.stream = s->get_bool();
    if (auto* so = obj.if_contains("stream_options"); so && so->is_object()) {
      if (auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool()) {
        call.include_usage = iu->get_bool();
      }
    }
    if (auto* tools = obj.if_contains("tools"); tools && tools->is_array()) {
      for (auto& t : tools->get_array()) {
        if (!t.is_object()) continue;
        auto* fn = t.as_object().if_contains("function");
        if (!fn || !fn->is_object()) continue;
        if (auto* n = fn->as_object().if_contains("name"); n && n->is_string()) {
          call.tool_names.emplace_back(n->get_string());
        }
      }
    }
    if (auto* tc = obj.if_contains("tool_choice"); tc && tc->is_string()) {
      call.tool_choice_none = tc->get_string() == "none";
    }
    if (auto* msgs = obj.if_contains("messages");
        msgs && msgs->is_array() && !msgs->get_array().empty()) {
      auto& last = msgs->get_array().back();
      if (last.is_object()) {
        auto* r = last.as_object().if_contains("role");
        call.last_is_tool_result = r && r->is_string() && r->get_string() == "tool";
      }
    }
    return call;
  }

  Reply chat_response(const ChatCall&, const Script& s) const override {
    std::string text;
    for (auto& t : s.tokens) text += t;
    std::string message = R"({"role":"assistant","content":)";
    if (s.tool_calls.empty()) {
      message += '"' + escaped(text) + '"';
    } else {
      message += "null";
      message += R"(,"tool_calls":)" + tool_calls_json(s, false);
    }
    message += R"(,"refusal":null})";
    std::string out = R"({"id":")" + s.id + R"(","object":"chat.completion","created":)" +
                      std::to_string(s.created) + R"(,"model":")" + escaped(s.model) +
                      R"(","choices":[{"index":0,"message":)" + message +
                      R"(,"logprobs":null,"finish_reason":")" + s.finish + R"("}],"usage":)" +
                      usage_json(s) + R"(,"system_fingerprint":"fp_stratus_mock"})";
    Reply r{.body = std::move(out)};
    r.headers.emplace_back("x-request-id", s.id);
    return r;
  }

  std::string stream_content_type() const override { return "text/event-stream; charset=utf-8"; }

  std::vector<std::string> stream_events(const ChatCall& call, const Script& s) const override {
    std::string prefix = R"(data: {"id":")" + s.id +
                         R"(","object":"chat.completion.chunk","created":)" +
                         std::to_string(s.created) + R"(,"model":")" + escaped(s.model) +
                         R"(","system_fingerprint":"fp_stratus_mock","choices":)";
    auto chunk = [&](std::string_view choices_and_rest) {
      return prefix + std::string(choices_and_rest) + "}\n\n";
    };
    std::vector<std::string> events;
    events.reserve(s.tokens.size() + 4);
    events.push_back(chunk(
        R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}])"));
    for (auto& t : s.tokens) {
      events.push_back(chunk(R"([{"index":0,"delta":{"content":")" + escaped(t) +
                             R"("},"logprobs":null,"finish_reason":null}])"));
    }
    for (std::size_t i = 0; i < s.tool_calls.size(); ++i) {
      auto& c = s.tool_calls[i];
      auto idx = std::to_string(i);
      // Like OpenAI: id and name first, then the arguments in two pieces.
      events.push_back(chunk(R"([{"index":0,"delta":{"tool_calls":[{"index":)" + idx +
                             R"(,"id":")" + c.id + R"(","type":"function","function":{"name":")" +
                             escaped(c.name) +
                             R"(","arguments":""}}]},"logprobs":null,"finish_reason":null}])"));
      auto half = c.arguments.size() / 2;
      for (auto piece : {c.arguments.substr(0, half), c.arguments.substr(half)}) {
        events.push_back(chunk(R"([{"index":0,"delta":{"tool_calls":[{"index":)" + idx +
                               R"(,"function":{"arguments":")" + escaped(piece) +
                               R"("}}]},"logprobs":null,"finish_reason":null}])"));
      }
    }
    events.push_back(
        chunk(R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":")" + s.finish + "\"}]"));
    if (call.include_usage) events.push_back(chunk(R"([],"usage":)" + usage_json(s)));
    events.emplace_back("data: [DONE]\n\n");
    return events;
  }

  Reply error(int status, std::string_view message) const override {
    std::string_view type = "server_error";
    std::string_view code;
    std::string_view text = message;
    switch (status) {
      case 400:
        type = "invalid_request_error";
        if (message.find("context length") != std::string_view::npos)
          code = "context_length_exceeded";
        break;
      case 401:
        text = "Incorrect API key provided.";
        type = "invalid_request_error";
        code = "invalid_api_key";
        break;
      case 404:
        text = "The model does not exist or you do not have access to it.";
        type = "invalid_request_error";
        code = "model_not_found";
        break;
      case 429:
        text = "Rate limit reached for requests. Please try again later.";
        type = "requests";
        code = "rate_limit_exceeded";
        break;
      case 503:
        text = "The engine is currently overloaded, please try again later.";
        break;
      default:
        break;
    }
    Reply r{.status = status, .body = openai_error(text, type, code)};
    r.headers.emplace_back("x-request-id", "req_mock_failure");
    return r;
  }

  std::string stream_error_event(int, std::string_view message) const override {
    return "data: " + openai_error(message, "server_error", "") + "\n\n";
  }

  Reply embeddings(const MockRequest& req) const override {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object())
      return bad_request("We could not parse the JSON body of your request.");
    auto& obj = body.as_object();
    auto* model = obj.if_contains("model");
    auto* input = obj.if_contains("input");
    if (!model || !model->is_string() || !input)
      return bad_request("you must provide model and input");
    std::vector<std::string> inputs;
    if (input->is_string()) {
      inputs.emplace_back(input->get_string());
    } else if (input->is_array()) {
      for (auto& v : input->get_array()) {
        inputs.push_back(v.is_string() ? std::string(v.get_string()) : json::serialize(v));
      }
    } else {
      return bad_request("input must be a string or an array");
    }
    std::size_t dims = 1536;
    if (auto* d = obj.if_contains("dimensions");
        d && d->is_int64() && d->get_int64() > 0 && d->get_int64() <= 8192) {
      dims = static_cast<std::size_t>(d->get_int64());
    }
    bool b64 = false;
    if (auto* f = obj.if_contains("encoding_format"); f && f->is_string())
      b64 = f->get_string() == "base64";
    json::array data;
    int tokens = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      tokens += estimate_tokens(inputs[i]);
      auto v = fake_embedding(inputs[i], dims);
      json::object item{{"object", "embedding"}, {"index", i}};
      if (b64) {
        item["embedding"] = core::base64_encode(
            std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
      } else {
        json::array arr;
        arr.reserve(dims);
        for (float x : v) arr.emplace_back(x);
        item["embedding"] = std::move(arr);
      }
      data.emplace_back(std::move(item));
    }
    json::object out{{"object", "list"},
                     {"data", std::move(data)},
                     {"model", *model},
                     {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
    return Reply{.body = json::serialize(out)};
  }

  Reply models() const override {
    return Reply{
        .body =
            R"({"object":"list","data":[{"id":"mock-small","object":"model","created":1700000000,"owned_by":"stratus-mock"},{"id":"mock-large","object":"model","created":1700000000,"owned_by":"stratus-mock"}]})"};
  }

 protected:
  static std::string usage_json(const Script& s) {
    return R"({"prompt_tokens":)" + std::to_string(s.prompt_tokens) + R"(,"completion_tokens":)" +
           std::to_string(s.completion_tokens) + R"(,"total_tokens":)" +
           std::to_string(s.prompt_tokens + s.completion_tokens) +
           R"(,"prompt_tokens_details":{"cached_tokens":)" + std::to_string(s.cached_tokens) + "}}";
  }
};

// Azure OpenAI: the same JSON behind /openai/deployments/{deployment}/...?api-version=... (with
// an api-key header) or /openai/v1/... (with a bearer token); a first stream chunk that only
// carries prompt_filter_results; string error codes; content-filter errors for 400s.
class AzureDialect final : public OpenAIDialect {
 public:
  std::string_view name() const override { return "azure"; }

  std::optional<Op> route(std::string_view method, std::string_view path) const override {
    bool deployments = path.starts_with("/openai/deployments/");
    bool v1 = path.starts_with("/openai/v1/");
    if (!deployments && !v1) return std::nullopt;
    return OpenAIDialect::route(method, path);
  }

  std::optional<Reply> check_auth(const MockRequest& req) const override {
    bool v1 = req.path.starts_with("/openai/v1/");
    if (!v1 && req.query.find("api-version=") == std::string_view::npos) {
      return Reply{.status = 404,
                   .body = R"({"error":{"code":"404","message":"Resource not found"}})"};
    }
    if (req.header("api-key").empty() && !req.header("authorization").starts_with("Bearer ")) {
      return Reply{
          .status = 401,
          .body =
              R"({"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}})"};
    }
    return std::nullopt;
  }

  std::vector<std::string> stream_events(const ChatCall& call, const Script& s) const override {
    auto events = OpenAIDialect::stream_events(call, s);
    events.insert(
        events.begin(),
        R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]})"
        "\n\n");
    return events;
  }

  Reply error(int status, std::string_view message) const override {
    json::object e{{"message", message}};
    if (status == 400 && message.find("context length") != std::string_view::npos) {
      e["code"] = "context_length_exceeded";
      e["type"] = "invalid_request_error";
    } else if (status == 400) {
      e["message"] =
          "The response was filtered due to the prompt triggering Azure OpenAI's content "
          "management policy.";
      e["type"] = nullptr;
      e["param"] = "prompt";
      e["code"] = "content_filter";
      e["status"] = 400;
      e["innererror"] = json::object{{"code", "ResponsibleAIPolicyViolation"},
                                     {"content_filter_result",
                                      {{"hate", {{"filtered", true}, {"severity", "high"}}},
                                       {"violence", {{"filtered", false}, {"severity", "safe"}}}}}};
    } else {
      e["code"] = std::to_string(status);  // Azure's string codes
    }
    return Reply{.status = status, .body = json::serialize(json::object{{"error", std::move(e)}})};
  }
};

}  // namespace

const Dialect& azure_dialect() {
  static const AzureDialect d;
  return d;
}

const Dialect& openai_dialect() {
  static const OpenAIDialect d;
  return d;
}

}  // namespace stratus::mock
