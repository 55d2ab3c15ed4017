// Provider emulator: I/O, fault injection and pacing around a pure Dialect (dialect_*.cpp).
#include "mock/mock.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

#include "core/base64.h"
#include "http/asio.h"
#include "http/server.h"
#include "mock/dialect.h"

namespace stratus::mock {

namespace json = boost::json;
using namespace http;
using namespace net::experimental::awaitable_operators;

namespace {

constexpr std::string_view kWords[] = {
    "Hello", "from",      "the",   "Stratus", "mock",  "provider.", "This",    "answer",
    "is",    "simulated", "token", "by",      "token", "so",        "clients", "can",
    "see",   "streaming", "work",  "end",     "to",    "end."};

std::string token_text(int i) {
  std::string t = i == 0 ? "" : " ";
  t += kWords[static_cast<std::size_t>(i) % std::size(kWords)];
  return t;
}

// Faults can also ride in the model name, so that a gateway (which never forwards x-mock-*
// headers) can be configured with one faulty deployment per scenario:
// "claude@mock:status=429,retry-after=7". The directive is found in the body or in the
// (percent-decoded) URL, where Bedrock and Gemini carry the model.
std::map<std::string, std::string, std::less<>> model_directives(const Request& req) {
  std::map<std::string, std::string, std::less<>> out;
  constexpr std::string_view kMarker = "@mock:";
  std::string target = percent_decode(std::string_view(req.target().data(), req.target().size()));
  std::string_view body = req.body();
  std::string_view text = body;
  auto at = text.find(kMarker);
  if (at == std::string_view::npos) {
    text = target;
    at = text.find(kMarker);
  }
  if (at == std::string_view::npos) return out;
  auto rest = text.substr(at + kMarker.size());
  std::size_t end = 0;
  while (end < rest.size() &&
         (std::isalnum(static_cast<unsigned char>(rest[end])) ||
          std::string_view("=,._-").find(rest[end]) != std::string_view::npos)) {
    ++end;
  }
  rest = rest.substr(0, end);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    auto eq = item.find('=');
    out.emplace(std::string(item.substr(0, eq)),
                eq == std::string_view::npos ? "1" : std::string(item.substr(eq + 1)));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

// Request-scoped view of the options after x-mock-* header (or model directive) overrides.
MockOptions effective(const MockOptions& base, const Request& req) {
  MockOptions o = base;
  auto directives = model_directives(req);
  auto num = [&](std::string_view name, auto& field) {
    std::string v;
    if (auto d = directives.find(name.substr(7)); d != directives.end()) {
      v = d->second;
    } else {
      if (!req.has(name)) return;
      v = std::string(req[name]);
    }
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
  if (req.has("x-mock-status") || directives.contains("status")) o.fail_rate = 1.0;
  num("x-mock-fail-rate", o.fail_rate);
  num("x-mock-retry-after", o.retry_after_s);
  num("x-mock-ttft-ms", o.ttft_ms);
  num("x-mock-first-byte-ms", o.first_byte_ms);
  num("x-mock-tokens-per-sec", o.tokens_per_sec);
  num("x-mock-tokens", o.tokens);
  num("x-mock-close-after-chunks", o.close_after_chunks);
  num("x-mock-hang-after-chunks", o.hang_after_chunks);
  num("x-mock-error-after-chunks", o.error_after_chunks);
  num("x-mock-tool-calls", o.tool_calls);
  num("x-mock-cached-tokens", o.cached_tokens);
  if (req.has("x-mock-hang")) o.hang = req["x-mock-hang"] != "0";
  if (auto d = directives.find("hang"); d != directives.end()) o.hang = d->second != "0";
  // (A directive cannot carry spaces: "message=context-length" stands for the usual text.)
  if (auto d = directives.find("message"); d != directives.end() && d->second == "context-length") {
    o.error_message = "prompt is too long: 210000 tokens > 200000 maximum context length";
  }
  if (req.has("x-mock-error-message")) o.error_message = std::string(req["x-mock-error-message"]);
  return o;
}

std::string_view default_error_message(int status) {
  switch (status) {
    case 400:
      return "Invalid request (injected by stratus mock).";
    case 401:
      return "Invalid API key (injected by stratus mock).";
    case 403:
      return "Permission denied (injected by stratus mock).";
    case 404:
      return "Model not found (injected by stratus mock).";
    case 429:
      return "Rate limit exceeded, please retry later (injected by stratus mock).";
    case 503:
    case 529:
      return "The service is overloaded, please retry later (injected by stratus mock).";
    default:
      return "The server had an error while processing your request (injected by stratus mock).";
  }
}

// What to answer: text tokens, or tool calls when tools are offered and the conversation does
// not already end with their results.
Script make_script(const ChatCall& call, const MockOptions& o, std::uint64_t seq) {
  Script s;
  s.id = "mock-" + std::to_string(seq);
  s.model = call.model;
  s.created = std::time(nullptr);
  s.prompt_tokens = call.prompt_tokens;
  s.cached_tokens = std::min(o.cached_tokens, call.prompt_tokens);
  bool tools = !call.tool_names.empty() && !call.tool_choice_none && !call.last_is_tool_result;
  if (tools) {
    int n = std::max(1, o.tool_calls);
    for (int i = 0; i < n; ++i) {
      auto& name = call.tool_names[static_cast<std::size_t>(i) % call.tool_names.size()];
      s.tool_calls.push_back(MockToolCall{
          .id = "call_mock" + std::to_string(seq) + "_" + std::to_string(i),
          .name = name,
          .arguments = R"({"query":"weather in Paris","n":)" + std::to_string(i + 1) + "}"});
    }
    s.finish = "tool_calls";
    s.completion_tokens = 12 * n;
    return s;
  }
  int n = std::max(1, o.tokens);
  if (call.max_tokens) n = std::min(n, *call.max_tokens);
  s.tokens.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) s.tokens.push_back(token_text(i));
  s.finish = n < o.tokens ? "length" : "stop";
  s.completion_tokens = n;
  return s;
}

class Handler {
 public:
  struct LastRequest {
    std::mutex mutex;
    std::string text;
  };
  Handler(const MockOptions& options, const Dialect& dialect, MockStats& stats,
          net::io_context& ioc, std::shared_ptr<LastRequest> last,
          std::chrono::steady_clock::time_point epoch)
      : options_(options),
        dialect_(dialect),
        stats_(stats),
        ioc_(ioc),
        last_(std::move(last)),
        epoch_(epoch) {}

  Task<void> operator()(Exchange& ex) {
    auto& req = ex.request();
    stats_.requests.fetch_add(1, std::memory_order_relaxed);
    auto target = std::string_view(req.target().data(), req.target().size());
    auto path = target;
    std::string_view query;
    if (auto q = path.find('?'); q != std::string_view::npos) {
      query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    if (path == "/mock/last-request" || path == "/mock/stats" || path == "/healthz") {
      // (No conditional expression inside co_await: GCC 12 destroys its temporary twice.)
      std::string body = R"({"status":"ok"})";
      if (path == "/mock/stats") body = stats_body();
      if (path == "/mock/last-request") body = last_request();
      co_await ex.send(json_response(200, std::move(body)));
      co_return;
    }
    if (flapped_down()) {
      drop(ex);
      co_return;
    }
    auto method = std::string_view(req.method_string().data(), req.method_string().size());
    auto op = dialect_.route(method, path);
    if (!op) co_return co_await send(ex, dialect_.not_found(path));
    auto host = req[bhttp::field::host];
    MockRequest mr{.method = method,
                   .target = target,
                   .path = path,
                   .query = query,
                   .header = [&req](std::string_view name) { return req[name]; },
                   .body = req.body(),
                   .host = {host.data(), host.size()}};
    if (*op != Op::models) remember(req);
    if (auto denied = dialect_.check_auth(mr)) co_return co_await send(ex, std::move(*denied));
    switch (*op) {
      case Op::chat:
        co_await chat(ex, mr);
        break;
      case Op::embeddings:
        stats_.embeddings.fetch_add(1, std::memory_order_relaxed);
        if (co_await inject(ex, effective(options_, req))) co_return;
        co_await send(ex, dialect_.embeddings(mr));
        break;
      case Op::models:
        co_await send(ex, dialect_.models());
        break;
    }
  }

 private:
  Task<void> send(Exchange& ex, Reply r) {
    auto res = json_response(static_cast<unsigned>(r.status), std::move(r.body));
    res.set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    co_await ex.send(std::move(res));
  }

  // --flap-ms: the server is down during every other period, starting up.
  bool flapped_down() const {
    if (options_.flap_ms <= 0) return false;
    auto since = std::chrono::steady_clock::now() - epoch_;
    return (since / std::chrono::milliseconds(options_.flap_ms)) % 2 == 1;
  }

  void drop(Exchange& ex) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    ex.drop_connection();
  }

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
      auto reply = dialect_.error(o.fail_status, o.error_message.empty()
                                                     ? default_error_message(o.fail_status)
                                                     : std::string_view(o.error_message));
      if (o.retry_after_s > 0)
        reply.headers.emplace_back("retry-after", std::to_string(o.retry_after_s));
      co_await send(ex, std::move(reply));
      co_return true;
    }
    co_return false;
  }

  // Tests read back what the gateway sent: headers (minus credentials) and the body.
  void remember(const Request& req) {
    json::object headers;
    req.fields().for_each([&](std::string_view field, std::string_view value) {
      auto name = std::string(field);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      headers[name] = name == "authorization" || name == "api-key" || name == "x-api-key" ||
                              name == "x-goog-api-key"
                          ? json::value("<redacted:" + std::to_string(value.size()) + " bytes>")
                          : json::value(std::string(value));
    });
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

  Task<void> chat(Exchange& ex, const MockRequest& mr) {
    stats_.chat.fetch_add(1, std::memory_order_relaxed);
    auto o = effective(options_, ex.request());
    if (o.first_byte_ms > 0 &&
        co_await sleep_or_gone(ex, std::chrono::milliseconds(o.first_byte_ms))) {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    if (co_await inject(ex, o)) co_return;
    Reply bad;
    auto call = dialect_.parse_chat(mr, bad);
    if (!call) co_return co_await send(ex, std::move(bad));
    auto script = make_script(*call, o, ++counter_);
    if (!call->stream) {
      if (o.close_after_chunks == 0) {
        drop(ex);
        co_return;
      }
      co_return co_await send(ex, dialect_.chat_response(*call, script));
    }
    co_await stream_chat(ex, o, dialect_.stream_events(*call, script), script.id);
  }

  Task<void> stream_chat(Exchange& ex, const MockOptions& o, std::vector<std::string> events,
                         std::string id) {
    stats_.streams.fetch_add(1, std::memory_order_relaxed);
    if (o.error_after_chunks >= 0 &&
        static_cast<std::size_t>(o.error_after_chunks) < events.size()) {
      events.resize(static_cast<std::size_t>(o.error_after_chunks));
      events.push_back(dialect_.stream_error_event(503, o.error_message.empty()
                                                            ? default_error_message(503)
                                                            : std::string_view(o.error_message)));
    }
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, dialect_.stream_content_type());
    head.set(bhttp::field::cache_control, "no-cache");
    head.set("x-request-id", id);
    if (o.ttft_ms > 0 && co_await sleep_or_gone(ex, std::chrono::milliseconds(o.ttft_ms))) {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    ex.start_chunked(std::move(head));
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
      // Pace the content: the first event goes at once, then one event per gap.
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

  std::string stats_body() const {
    json::object o{{"name", options_.name},
                   {"dialect", dialect_.name()},
                   {"requests", stats_.requests.load()},
                   {"chat", stats_.chat.load()},
                   {"streams", stats_.streams.load()},
                   {"completed_streams", stats_.completed_streams.load()},
                   {"embeddings", stats_.embeddings.load()},
                   {"failures", stats_.failures.load()},
                   {"cancelled", stats_.cancelled.load()},
                   {"dropped", stats_.dropped.load()}};
    return json::serialize(o);
  }

  const MockOptions& options_;
  const Dialect& dialect_;
  MockStats& stats_;
  net::io_context& ioc_;
  std::shared_ptr<LastRequest> last_;
  std::chrono::steady_clock::time_point epoch_;  // when the server started (--flap-ms)
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
                 auto h = std::make_shared<Handler>(options, *dialect, stats, ioc, last, epoch);
                 return [h](Exchange& ex) { return (*h)(ex); };
               }) {}
  MockOptions options;
  const Dialect* dialect = find_dialect(options.dialect);
  MockStats stats;
  std::shared_ptr<Handler::LastRequest> last = std::make_shared<Handler::LastRequest>();
  std::chrono::steady_clock::time_point epoch;  // set by start(), before the handlers are made
  Server server;
};

MockServer::MockServer(MockOptions options) {
  if (!find_dialect(options.dialect)) {
    std::string known;
    for (auto n : dialect_names()) known += (known.empty() ? "" : ", ") + std::string(n);
    throw std::invalid_argument("unknown mock dialect '" + options.dialect + "' (known: " + known +
                                ")");
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}
MockServer::~MockServer() = default;

void MockServer::start() {
  impl_->epoch = std::chrono::steady_clock::now();
  impl_->server.bind();
  impl_->server.start();
}
std::uint16_t MockServer::port() const { return impl_->server.port(); }
bool MockServer::drain(int timeout_ms) { return impl_->server.drain(timeout_ms); }
const MockStats& MockServer::stats() const { return impl_->stats; }

}  // namespace stratus::mock
