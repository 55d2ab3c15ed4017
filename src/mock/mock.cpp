// OpenAI-dialect provider emulator: chat (plain and streamed), embeddings, models, faults.
#include "mock/mock.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>

#include "core/base64.h"
#include "http/asio.h"
#include "http/server.h"

namespace stratus::mock {

namespace json = boost::json;
using namespace http;
using namespace net::experimental::awaitable_operators;

namespace {

constexpr std::string_view kWords[] = {
    "Hello", "from", "the", "Stratus", "mock", "provider.", "This", "answer", "is",
    "simulated", "token", "by", "token", "so", "clients", "can", "see", "streaming", "work",
    "end", "to", "end."};

std::string token_text(int i) {
  std::string t = i == 0 ? "" : " ";
  t += kWords[static_cast<std::size_t>(i) % std::size(kWords)];
  return t;
}

// Request-scoped view of the options after x-mock-* header overrides.
MockOptions effective(const MockOptions& base, const StringRequest& req) {
  MockOptions o = base;
  auto num = [&](std::string_view name, auto& field) {
    auto it = req.find(beast::string_view(name.data(), name.size()));
    if (it == req.end()) return;
    std::string v(it->value());
    try {
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, double>) {
        field = std::stod(v);
      } else {
        field = static_cast<T>(std::stol(v));
      }
    } catch (const std::exception&) {
    }
  };
  num("x-mock-status", o.fail_status);
  if (req.find("x-mock-status") != req.end()) o.fail_rate = 1.0;
  num("x-mock-fail-rate", o.fail_rate);
  num("x-mock-retry-after", o.retry_after_s);
  num("x-mock-ttft-ms", o.ttft_ms);
  num("x-mock-tokens-per-sec", o.tokens_per_sec);
  num("x-mock-tokens", o.tokens);
  num("x-mock-close-after-chunks", o.close_after_chunks);
  num("x-mock-hang-after-chunks", o.hang_after_chunks);
  if (auto it = req.find("x-mock-hang"); it != req.end()) o.hang = it->value() != "0";
  return o;
}

std::string error_body(int status) {
  std::string_view message = "The server had an error while processing your request.";
  std::string_view type = "server_error";
  std::string_view code = "null";
  switch (status) {
    case 400:
      message = "Invalid request (injected by stratus mock).";
      type = "invalid_request_error";
      break;
    case 401:
      message = "Incorrect API key provided.";
      type = "invalid_request_error";
      code = "\"invalid_api_key\"";
      break;
    case 404:
      message = "The model does not exist or you do not have access to it.";
      type = "invalid_request_error";
      code = "\"model_not_found\"";
      break;
    case 429:
      message = "Rate limit reached for requests. Please try again later.";
      type = "requests";
      code = "\"rate_limit_exceeded\"";
      break;
    case 503:
      message = "The engine is currently overloaded, please try again later.";
      break;
    default:
      break;
  }
  return std::string(R"({"error":{"message":")") + std::string(message) + R"(","type":")" +
         std::string(type) + R"(","param":null,"code":)" + std::string(code) + "}}";
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

int estimate_prompt_tokens(const json::value& body) {
  int tokens = 3;
  if (auto* msgs = body.as_object().if_contains("messages"); msgs && msgs->is_array()) {
    for (auto& m : msgs->get_array()) {
      tokens += 4;
      if (!m.is_object()) continue;
      if (auto* c = m.as_object().if_contains("content"); c && c->is_string()) {
        tokens += static_cast<int>((c->get_string().size() + 3) / 4);
      }
    }
  }
  return tokens;
}

class Handler {
 public:
  struct LastRequest {
    std::mutex mutex;
    std::string text;
  };
  Handler(const MockOptions& options, MockStats& stats, net::io_context& ioc,
          std::shared_ptr<LastRequest> last)
      : options_(options), stats_(stats), ioc_(ioc), last_(std::move(last)) {}

  Task<void> operator()(Exchange& ex) {
    auto& req = ex.request();
    stats_.requests.fetch_add(1, std::memory_order_relaxed);
    auto target = std::string_view(req.target().data(), req.target().size());
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (req.method() == bhttp::verb::post && target.ends_with("/chat/completions")) {
      co_await chat(ex);
    } else if (req.method() == bhttp::verb::post && target.ends_with("/embeddings")) {
      co_await embeddings(ex);
    } else if (req.method() == bhttp::verb::get && target.ends_with("/models")) {
      co_await ex.send(json_response(200, models_body()));
    } else if (target == "/mock/last-request") {
      co_await ex.send(json_response(200, last_request()));
    } else if (target == "/mock/stats") {
      co_await ex.send(json_response(200, stats_body()));
    } else if (target == "/healthz") {
      co_await ex.send(json_response(200, R"({"status":"ok"})"));
    } else {
      co_await ex.send(json_response(
          404, R"({"error":{"message":"Unknown path","type":"invalid_request_error","param":null,"code":null}})"));
    }
  }

 private:
  // Sleeps; true when the client left meanwhile.
  Task<bool> sleep_or_gone(Exchange& ex, std::chrono::steady_clock::duration d) {
    net::steady_timer t(ioc_, d);
    auto r = co_await (t.async_wait(use_tuple) || ex.client_gone());
    co_return r.index() == 1 && std::get<1>(r);
  }

  // Injected faults common to every endpoint; true when the request was answered.
  Task<bool> inject(Exchange& ex, const MockOptions& o) {
    if (o.hang) {
      if (co_await sleep_or_gone(ex, std::chrono::hours(24))) {
        stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      }
      co_return true;
    }
    if (o.fail_status > 0 && (o.fail_rate >= 1.0 || dist_(rng_) < o.fail_rate)) {
      stats_.failures.fetch_add(1, std::memory_order_relaxed);
      auto res = json_response(static_cast<unsigned>(o.fail_status), error_body(o.fail_status));
      if (o.retry_after_s > 0) res.set(bhttp::field::retry_after, std::to_string(o.retry_after_s));
      res.set("x-request-id", "req_mock_failure");
      co_await ex.send(std::move(res));
      co_return true;
    }
    co_return false;
  }

  Task<void> bad_request(Exchange& ex, std::string_view message) {
    co_await ex.send(json_response(
        400, R"({"error":{"message":")" + std::string(message) +
                 R"(","type":"invalid_request_error","param":null,"code":null}})"));
  }

  // Tests read back what the gateway sent: headers (minus credentials) and the body.
  void remember(const StringRequest& req) {
    json::object headers;
    for (auto& f : req) {
      auto name = std::string(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      headers[name] = name == "authorization" || name == "api-key" || name == "x-api-key"
                          ? json::value("<redacted:" + std::to_string(f.value().size()) + " bytes>")
                          : json::value(std::string(f.value()));
    }
    json::object o{{"method", std::string(req.method_string())},
                   {"target", std::string(req.target())},
                   {"headers", std::move(headers)},
                   {"body", std::string(req.body())}};
    std::lock_guard lock(last_->mutex);
    last_->text = json::serialize(o);
  }
  std::string last_request() const {
    std::lock_guard lock(last_->mutex);
    return last_->text.empty() ? "{}" : last_->text;
  }

  Task<void> chat(Exchange& ex) {
    stats_.chat.fetch_add(1, std::memory_order_relaxed);
    remember(ex.request());
    auto o = effective(options_, ex.request());
    if (co_await inject(ex, o)) co_return;
    boost::system::error_code ec;
    auto body = json::parse(ex.request().body(), ec);
    if (ec || !body.is_object()) co_return co_await bad_request(ex, "We could not parse the JSON body of your request.");
    auto& obj = body.as_object();
    auto* model = obj.if_contains("model");
    if (!model || !model->is_string()) co_return co_await bad_request(ex, "you must provide a model parameter");
    std::string model_json = json::serialize(*model);
    int prompt_tokens = estimate_prompt_tokens(body);
    int n = std::max(1, o.tokens);
    if (auto* mt = obj.if_contains("max_tokens"); mt && mt->is_int64() && mt->get_int64() > 0) {
      n = std::min<int>(n, static_cast<int>(mt->get_int64()));
    }
    std::string id = "chatcmpl-mock" + std::to_string(++counter_);
    bool stream = false;
    if (auto* s = obj.if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
    if (!stream) {
      std::string text;
      for (int i = 0; i < n; ++i) text += token_text(i);
      std::string out = R"({"id":")" + id + R"(","object":"chat.completion","created":)" +
                        std::to_string(std::time(nullptr)) + R"(,"model":)" + model_json +
                        R"(,"choices":[{"index":0,"message":{"role":"assistant","content":")" + text +
                        R"(","refusal":null},"logprobs":null,"finish_reason":")" +
                        (n < o.tokens ? "length" : "stop") + R"("}],"usage":{"prompt_tokens":)" +
                        std::to_string(prompt_tokens) + R"(,"completion_tokens":)" +
                        std::to_string(n) + R"(,"total_tokens":)" + std::to_string(prompt_tokens + n) +
                        R"(},"system_fingerprint":"fp_stratus_mock"})";
      auto res = json_response(200, std::move(out));
      res.set("x-request-id", id);
      co_await ex.send(std::move(res));
      co_return;
    }
    bool include_usage = false;
    if (auto* so = obj.if_contains("stream_options"); so && so->is_object()) {
      if (auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool()) {
        include_usage = iu->get_bool();
      }
    }
    co_await stream_chat(ex, o, id, model_json, prompt_tokens, n, include_usage);
  }

  Task<void> stream_chat(Exchange& ex, const MockOptions& o, const std::string& id,
                         const std::string& model_json, int prompt_tokens, int n,
                         bool include_usage) {
    stats_.streams.fetch_add(1, std::memory_order_relaxed);
    std::string prefix = R"(data: {"id":")" + id +
                         R"(","object":"chat.completion.chunk","created":)" +
                         std::to_string(std::time(nullptr)) + R"(,"model":)" + model_json +
                         R"(,"system_fingerprint":"fp_stratus_mock","choices":)";
    auto chunk = [&](std::string_view choices_and_rest) {
      return prefix + std::string(choices_and_rest) + "}\n\n";
    };
    std::vector<std::string> events;
    events.push_back(chunk(
        R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}])"));
    for (int i = 0; i < n; ++i) {
      events.push_back(chunk(R"([{"index":0,"delta":{"content":")" + token_text(i) +
                             R"("},"logprobs":null,"finish_reason":null}])"));
    }
    events.push_back(chunk(std::string(R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":")") +
                           (n < o.tokens ? "length" : "stop") + "\"}]"));
    if (include_usage) {
      events.push_back(chunk(R"([],"usage":{"prompt_tokens":)" + std::to_string(prompt_tokens) +
                             R"(,"completion_tokens":)" + std::to_string(n) +
                             R"(,"total_tokens":)" + std::to_string(prompt_tokens + n) + "}"));
    }
    events.push_back("data: [DONE]\n\n");

    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
    head.set(bhttp::field::cache_control, "no-cache");
    head.set("x-request-id", id);
    if (o.ttft_ms > 0 && co_await sleep_or_gone(ex, std::chrono::milliseconds(o.ttft_ms))) {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    if (!co_await ex.start_chunked(std::move(head))) {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    bool paced = o.tokens_per_sec > 0;
    auto gap = std::chrono::microseconds(paced ? static_cast<long>(1e6 / o.tokens_per_sec) : 0);
    bool faults = o.close_after_chunks >= 0 || o.hang_after_chunks >= 0;
    if (!paced && !faults) {
      std::string all;
      for (auto& e : events) all += e;
      if (!co_await ex.write_chunk(all, true)) {
        stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }
      stats_.completed_streams.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    // Like a real provider, send the head at once; the tokens follow at their pace.
    if (!co_await ex.write_chunk({})) {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (static_cast<int>(i) == o.close_after_chunks) co_return;  // the connection is dropped
      if (static_cast<int>(i) == o.hang_after_chunks) {
        if (co_await sleep_or_gone(ex, std::chrono::hours(24))) {
          stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
        }
        co_return;
      }
      // Pace the content tokens: the role chunk goes at once, then one token per gap.
      if (paced && i > 1 && co_await sleep_or_gone(ex, gap)) {
        stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }
      if (!co_await ex.write_chunk(events[i])) {
        stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }
    }
    if (co_await ex.finish_chunked()) {
      stats_.completed_streams.fetch_add(1, std::memory_order_relaxed);
    }
  }

  Task<void> embeddings(Exchange& ex) {
    stats_.embeddings.fetch_add(1, std::memory_order_relaxed);
    remember(ex.request());
    auto o = effective(options_, ex.request());
    if (co_await inject(ex, o)) co_return;
    boost::system::error_code ec;
    auto body = json::parse(ex.request().body(), ec);
    if (ec || !body.is_object()) co_return co_await bad_request(ex, "We could not parse the JSON body of your request.");
    auto& obj = body.as_object();
    auto* model = obj.if_contains("model");
    auto* input = obj.if_contains("input");
    if (!model || !model->is_string() || !input) {
      co_return co_await bad_request(ex, "you must provide model and input");
    }
    std::vector<std::string> inputs;
    if (input->is_string()) {
      inputs.emplace_back(input->get_string());
    } else if (input->is_array()) {
      for (auto& v : input->get_array()) inputs.push_back(v.is_string() ? std::string(v.get_string()) : json::serialize(v));
    } else {
      co_return co_await bad_request(ex, "input must be a string or an array");
    }
    std::size_t dims = 1536;
    if (auto* d = obj.if_contains("dimensions"); d && d->is_int64() && d->get_int64() > 0 && d->get_int64() <= 8192) {
      dims = static_cast<std::size_t>(d->get_int64());
    }
    bool b64 = false;
    if (auto* f = obj.if_contains("encoding_format"); f && f->is_string()) b64 = f->get_string() == "base64";
    json::array data;
    int tokens = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      tokens += static_cast<int>((inputs[i].size() + 3) / 4);
      std::vector<float> v(dims);
      auto h = fnv1a(inputs[i]);
      double norm = 0;
      for (std::size_t k = 0; k < dims; ++k) {
        v[k] = static_cast<float>(std::sin(static_cast<double>((h % 100003) + k * 7919)));
        norm += double(v[k]) * v[k];
      }
      norm = std::sqrt(norm);
      for (auto& x : v) x = static_cast<float>(x / norm);
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
    co_await ex.send(json_response(200, json::serialize(out)));
  }

  std::string models_body() const {
    return R"({"object":"list","data":[{"id":"mock-small","object":"model","created":1700000000,"owned_by":")" +
           options_.name + R"("},{"id":"mock-large","object":"model","created":1700000000,"owned_by":")" +
           options_.name + R"("}]})";
  }

  std::string stats_body() const {
    json::object o{{"name", options_.name},
                   {"requests", stats_.requests.load()},
                   {"chat", stats_.chat.load()},
                   {"streams", stats_.streams.load()},
                   {"completed_streams", stats_.completed_streams.load()},
                   {"embeddings", stats_.embeddings.load()},
                   {"failures", stats_.failures.load()},
                   {"cancelled", stats_.cancelled.load()}};
    return json::serialize(o);
  }

  const MockOptions& options_;
  MockStats& stats_;
  net::io_context& ioc_;
  std::shared_ptr<LastRequest> last_;
  std::uint64_t counter_ = 0;
  std::minstd_rand rng_{std::random_device{}()};
  std::uniform_real_distribution<double> dist_{0.0, 1.0};
};

}  // namespace

struct MockServer::Impl {
  explicit Impl(MockOptions o)
      : options(std::move(o)),
        server(ServerOptions{.host = options.host,
                             .port = options.port,
                             .workers = options.workers,
                             .max_body_bytes = 64 * 1024 * 1024,
                             .idle_timeout_ms = 600000},
               [this](net::io_context& ioc, int) -> http::Handler {
                 auto h = std::make_shared<Handler>(options, stats, ioc, last);
                 return [h](Exchange& ex) { return (*h)(ex); };
               }) {}
  MockOptions options;
  MockStats stats;
  std::shared_ptr<Handler::LastRequest> last = std::make_shared<Handler::LastRequest>();
  Server server;
};

MockServer::MockServer(MockOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
MockServer::~MockServer() = default;

void MockServer::start() {
  impl_->server.bind();
  impl_->server.start();
}
std::uint16_t MockServer::port() const { return impl_->server.port(); }
bool MockServer::drain(int timeout_ms) { return impl_->server.drain(timeout_ms); }
const MockStats& MockServer::stats() const { return impl_->stats; }

}  // namespace stratus::mock
