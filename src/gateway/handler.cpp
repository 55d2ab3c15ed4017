// Per-worker request handling: the OpenAI-compatible pass-through path with ordered fallback.
#include "gateway/handler.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <deque>
#include <random>
#include <type_traits>
#include <unordered_map>

#include "api/chat.h"
#include "api/openai.h"
#include "auth/signer.h"
#include "codec/sse.h"
#include "core/json_text.h"
#include "gateway/governance.h"
#include "governance/tokens.h"
#include "http/client.h"

namespace stratus::gateway {

namespace json = boost::json;
using namespace http;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

StringResponse error_response(const Error& e) {
  auto res =
      json_response(static_cast<unsigned>(core::http_status(e.kind)), core::to_openai_json(e));
  if (e.retry_after_s) res.set(bhttp::field::retry_after, std::to_string(*e.retry_after_s));
  return res;
}

StringResponse readiness_response(const std::string& unavailable) {
  if (unavailable.empty()) return json_response(200, R"({"status":"ready"})");
  return json_response(503, json::serialize(json::object{{"status", "not ready"},
                                                         {"unavailable_models", unavailable}}));
}

// What one attempt against one deployment produced before any byte reached the client.
struct Attempt {
  std::unique_ptr<ClientResponse> response;  // head received (streams)
  std::optional<std::string> first_piece;    // streams: the first body bytes, read already
  double ms = 0;                             // from the attempt's start to its first byte
  unsigned status = 0;
  std::string body;  // read already (plain answers and errors)
  std::string content_type;
  std::string retry_after;
  std::string error_type;   // x-amzn-errortype (Bedrock)
  std::string token_count;  // x-amzn-bedrock-input-token-count (Bedrock InvokeModel)

  core::UpstreamResponse upstream() const {
    core::UpstreamResponse r;
    r.status = static_cast<int>(status);
    r.body = body;
    if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
    if (!retry_after.empty()) r.headers.emplace_back("retry-after", retry_after);
    if (!error_type.empty()) r.headers.emplace_back("x-amzn-errortype", error_type);
    if (!token_count.empty())
      r.headers.emplace_back("x-amzn-bedrock-input-token-count", token_count);
    return r;
  }
};

// The request as parsed, plus its IR, built only when a translated provider needs it.
struct Inbound {
  api::ChatRequest chat;
  api::EmbeddingsRequest emb;
  std::optional<api::Chat> chat_ir;
  std::optional<api::Embeddings> emb_ir;
  bool stream = false;
  std::shared_ptr<const Snapshot> snapshot;  // the one this request routes by
  // A context-length refusal goes to the alias's context_window_fallbacks, not to the client.
  bool escalate = false;
};

// One attempt in flight at one deployment.
struct Leg {
  const Target* target = nullptr;
  ClientRequest request;
  Clock::time_point start;
  std::optional<core::Result<Attempt>> result;
  net::cancellation_signal cancel;
};

// Hedged attempts racing for the first byte; shared with the legs' coroutines, which may
// outlive the request (a cancelled loser finishes in the background).
struct Race {
  Race(net::io_context& ioc, std::shared_ptr<const Snapshot> snap)
      : wake(ioc), snapshot(std::move(snap)) {}
  net::steady_timer wake;
  std::shared_ptr<const Snapshot> snapshot;  // the legs' targets live in it
  std::deque<Leg> legs;
};

// Counts an attempt in its deployment's in-flight number while it lives.
class InFlight {
 public:
  explicit InFlight(routing::DeploymentState& s) : s_(s) {
    s_.in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  ~InFlight() { s_.in_flight.fetch_sub(1, std::memory_order_relaxed); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  routing::DeploymentState& s_;
};

// One request's governance: its key (the ring keeps it alive) and admission.
struct Governed {
  Governance* gov = nullptr;
  std::shared_ptr<const governance::KeyRing> ring;
  const governance::KeyInfo* key = nullptr;
  std::optional<governance::Admission> admission;
  governance::Headers refusal_headers;
  long prompt_estimate = 0;
};

// An admin answer computed off the worker threads.
struct AdminReply {
  unsigned status = 200;
  std::string body;
};

// A blocking admin call's result, handed back to the worker that waits for it.
struct AdminWait {
  explicit AdminWait(net::io_context& ioc) : timer(ioc, net::steady_timer::time_point::max()) {}
  net::steady_timer timer;
  AdminReply reply;
};

std::string_view presented_key(const http::Request& req) {
  auto auth = req[bhttp::field::authorization];
  if (auth.size() > 7 && (auth.starts_with("Bearer ") || auth.starts_with("bearer "))) {
    auth.remove_prefix(7);
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    return auth;
  }
  return req["x-api-key"];
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<double> header_number(const http::Request& req, std::string_view name) {
  auto v = req[name];
  if (v.empty()) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || end != v.data() + v.size() || d < 0) return std::nullopt;
  return d;
}

std::string cost_text(double usd) {
  std::string out;
  core::append_fixed(out, usd, 8);
  return out;
}

// %XX and '+' in a query value or path segment.
std::string url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

// GET /admin/tasks/{id}: the task's totals over the keys that used it, and each key's part.
std::string tasks_json(const std::string& task, const std::vector<governance::TaskInfo>& infos) {
  json::array parts;
  long calls = 0, refused = 0, prompt = 0, completion = 0;
  double cost = 0;
  std::int64_t first = 0, last = 0;
  for (const auto& t : infos) {
    calls += t.calls;
    refused += t.refused;
    prompt += t.prompt_tokens;
    completion += t.completion_tokens;
    cost += t.cost_usd;
    if (first == 0 || t.first_ms < first) first = t.first_ms;
    last = std::max(last, t.last_ms);
    parts.emplace_back(json::object{{"key_id", t.key_id},
                                    {"calls", t.calls},
                                    {"refused", t.refused},
                                    {"in_flight", t.in_flight},
                                    {"prompt_tokens", t.prompt_tokens},
                                    {"completion_tokens", t.completion_tokens},
                                    {"cost_usd", t.cost_usd},
                                    {"max_calls", t.limits.max_calls},
                                    {"max_usd", t.limits.max_usd}});
  }
  return json::serialize(json::object{{"task_id", task},
                                      {"key_id", infos.front().key_id},
                                      {"calls", calls},
                                      {"refused", refused},
                                      {"prompt_tokens", prompt},
                                      {"completion_tokens", completion},
                                      {"cost_usd", cost},
                                      {"first_ms", first},
                                      {"last_ms", last},
                                      {"wall_ms", last - first},
                                      {"keys", std::move(parts)}});
}

// What an attempt at one deployment came to.
enum class Outcome {
  answered,        // the client got its answer (or left): stop
  failed,          // retryable failure before any byte reached the client: try the next one
  context_length,  // too long for this model: try the context window fallbacks
};

// The last error after every deployment failed, as the client sees it: rate limits and
// overload keep their status (with Retry-After), timeouts are 504, client errors (a provider
// that cannot take this request) keep theirs, everything else is 502.
Error final_error(Error failure, int attempts, const std::string& model) {
  switch (failure.kind) {
    case ErrorKind::rate_limit:
    case ErrorKind::overloaded:
    case ErrorKind::timeout:
    case ErrorKind::invalid_request:
    case ErrorKind::context_length:
    case ErrorKind::authentication:
    case ErrorKind::permission:
    case ErrorKind::not_found:
    case ErrorKind::unavailable:
      break;
    default:
      // No deployment could be reached at all (refused, reset, DNS): the service is unavailable.
      // One that answered with something unusable: a bad gateway.
      failure.kind = failure.upstream_status == 0 && failure.kind == ErrorKind::upstream
                         ? ErrorKind::unavailable
                         : ErrorKind::upstream;
  }
  failure.message = "Model `" + model + "` failed after " + std::to_string(attempts) +
                    " attempt(s); last error: " + failure.message;
  return failure;
}

enum class Endpoint { chat, embeddings };

struct Route {
  std::string_view path;
  bhttp::verb method;
};
constexpr Route kRoutes[] = {
    {"/v1/chat/completions", bhttp::verb::post},
    {"/v1/embeddings", bhttp::verb::post},
    {"/v1/models", bhttp::verb::get},
};

// The request's path, without its query.
std::string_view path_of(const http::Request& req) {
  auto path = req.target();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  return path;
}

// Pads a worker's random seed so two workers never share a sequence.
std::uint64_t seed_for(int worker) {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(worker);
}

// Does the SSE event carry model output (not just a role, an empty delta or usage)? The first
// such event ends the time-to-first-token clock.
bool chunk_has_content(const api::ChatChunk& c) {
  return !c.content.empty() || !c.tool_calls.empty() || !c.reasoning.empty() || !c.refusal.empty();
}

class WorkerHandler {
 public:
  WorkerHandler(Gateway& gw, net::io_context& ioc, int worker)
      : gw_(gw),
        ioc_(ioc),
        client_(ioc),
        log_(gw.access_log().make_shard()),
        rng_(seed_for(worker)) {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x%02x", rd(), worker & 0xff);
    id_prefix_ = std::string("req_") + buf;
  }

  Task<void> operator()(Exchange& ex);

  // Active health checks (worker 0 only): a one-token chat request to each provider that asks
  // for it, every interval, fed to the checked deployment's breaker.
  Task<void> health_loop();

 private:
  Task<void> check_health(const Target& t, int timeout_ms);
  // Keeps the snapshot (and so the target) alive for the check.
  Task<void> check_health_kept(std::shared_ptr<const Snapshot> /*kept*/, const Target& t,
                               int timeout_ms) {
    co_await check_health(t, timeout_ms);
  }
  const Snapshot& snapshot() {
    auto v = gw_.version();
    if (v != version_ || !snap_) {
      snap_ = gw_.snapshot();
      version_ = v;
    }
    return *snap_;
  }
  // A request keeps its snapshot alive while it waits, even if a reload replaces it.
  std::shared_ptr<const Snapshot> snapshot_ptr() {
    snapshot();
    return snap_;
  }

  std::string request_id(const http::Request& req) {
    auto given = req["x-request-id"];
    if (!given.empty() && given.size() <= 200) return std::string(given);
    return id_prefix_ + std::to_string(++seq_);
  }

  Task<void> respond(Exchange& ex, StringResponse res, AccessRecord& rec, Clock::time_point t0) {
    rec.status = res.result_int();
    res.set("x-request-id", rec.request_id);
    co_await ex.send(std::move(res));
    finish(rec, t0);
  }
  // The hot path's answer: `head` carries x-request-id already (add_route_headers).
  Task<void> respond(Exchange& ex, const http::WireHead& head, std::string body, AccessRecord& rec,
                     Clock::time_point t0) {
    rec.status = static_cast<int>(head.status());
    if (!ex.send_now(head, std::move(body))) co_await ex.finish_send();
    finish(rec, t0);
  }

  void finish(AccessRecord& rec, Clock::time_point t0) {
    rec.latency_ms = ms_since(t0);
    if (rec.on_finish) {
      auto settle = std::move(rec.on_finish);
      rec.on_finish = nullptr;
      settle(rec);
    }
    log_.write(rec);
  }

  // The pools an alias routes over (itself, then its fallbacks), with this worker's memory.
  void route_of(const Alias& alias, const std::vector<const Alias*>& extra,
                routing::Few<const Alias*>& aliases, routing::Few<const routing::Pool*>& pools,
                routing::Few<routing::LocalState*>& locals) {
    aliases.clear();
    pools.clear();
    locals.clear();
    aliases.push_back(&alias);
    for (const auto* f : extra) aliases.push_back(f);
    for (const auto* a : aliases) {
      pools.push_back(&a->pool);
      locals.push_back(&locals_[a->name]);
    }
  }

  Task<void> proxy(Exchange& ex, Endpoint ep, Clock::time_point t0);
  Task<void> serve(Exchange& ex, std::string_view path, Clock::time_point t0);
  void begin_record(AccessRecord& rec, const http::Request& req, std::string_view path);
  // One attempt at `t` (hedged when the alias says so): its outcome.
  Task<Outcome> try_target(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                           const Alias& head, routing::Plan& plan,
                           const routing::Few<const Alias*>& aliases, AccessRecord& rec,
                           Clock::time_point t0, Error& failure,
                           std::optional<Attempt>& last_answer);
  // The upstream request for `t`; nullopt when this deployment cannot take it (`failure` set)
  // or the request itself is bad (`reject` set: answer the client).
  std::optional<ClientRequest> prepare(Endpoint ep, Inbound& in, const Target& t, AccessRecord& rec,
                                       Error& failure, std::optional<Error>& reject);
  Task<core::Result<Attempt>> attempt(const ClientRequest& creq, bool stream, const Target& t,
                                      Clock::time_point start);
  // attempt() after the head came, in two halves: take_answer() takes what needs no waiting
  // (the fields, a body or a stream's first bytes already buffered) and says whether that
  // completed `out`; if not, read_rest(std::move(*out), ...) reads the rest.
  bool take_answer(std::unique_ptr<ClientResponse> res, bool stream, const Target& t,
                   Clock::time_point start, core::Result<Attempt>& out);
  Task<core::Result<Attempt>> read_rest(Attempt a, bool stream, Clock::time_point start);
  static Task<void> run_leg(WorkerHandler* self, std::shared_ptr<Race> race, std::size_t i,
                            bool stream);
  Task<Outcome> conclude(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                         core::Result<Attempt> res, AccessRecord& rec, Clock::time_point t0,
                         Error& failure, std::optional<Attempt>& last_answer);
  Task<Outcome> relay_translated_stream(Exchange& ex, Attempt& a, const Target& t, Inbound& in,
                                        AccessRecord& rec, Clock::time_point t0, Error& failure);
  Task<Outcome> relay_stream(Exchange& ex, Attempt& a, const Target& t, bool client_wants_usage,
                             AccessRecord& rec, Clock::time_point t0, Error& failure);
  Task<void> respond_error(Exchange& ex, const Error& e, const Target* t, AccessRecord& rec,
                           Clock::time_point t0) {
    auto res = error_response(e);
    if (t) add_route_headers(res, *t, rec);
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    co_await respond(ex, std::move(res), rec, t0);
  }
  // The client went away mid-request: account for it as 499.
  Outcome client_left(AccessRecord& rec, Clock::time_point t0, std::string_view why) {
    rec.status = 499;
    rec.error = std::string(why);
    finish(rec, t0);
    return Outcome::answered;
  }
  // Starts an SSE answer (with the routing headers): its head leaves with the first chunk.
  void start_stream(Exchange& ex, const Target& t, AccessRecord& rec, Clock::time_point t0) {
    http::WireHead head(200);
    head.set("Content-Type", "text/event-stream; charset=utf-8");
    head.set("Cache-Control", "no-cache");
    add_route_headers(head, t, rec);
    rec.status = 200;
    rec.error.clear();
    ex.start_chunked(head);  // (the head leaves with the first chunk)
    rec.ttfb_ms = ms_since(t0);
  }
  void start_attempt(const Target& t, AccessRecord& rec) {
    ++rec.attempts;
    rec.provider = t.provider;
    rec.deployment = t.id;
  }
  // The attempt at `t` is the one whose answer the client gets (hedging may have started others).
  void answer_from(const Target& t, AccessRecord& rec) {
    rec.provider = t.provider;
    rec.deployment = t.id;
  }
  void note_try(AccessRecord& rec, const Target& t, int status, double ms, std::string error) {
    rec.tries.push_back({t.id, status, ms, std::move(error)});
  }
  // The deployment answered (even if it refused the request): it works.
  void attempt_ok(const Target& t, AccessRecord& rec, const Attempt& a) {
    t.state->on_success(steady_ms(), a.ms);
    note_try(rec, t, static_cast<int>(a.status), a.ms, {});
  }
  // Records a failed attempt; `failure` is what the next deployment's failure replaces.
  void attempt_failed(const Target& t, AccessRecord& rec, Error& failure, Error e, double ms = 0) {
    failure = std::move(e);
    if (failure.upstream_status == 0 && failure.message.find("provider '") == std::string::npos) {
      failure.message = "provider '" + t.provider + "': " + failure.message;
    }
    // Rate limits cool the deployment down for its Retry-After (1 s when it gave none) instead
    // of counting toward its breaker: it is up, only busy.
    const bool limited = failure.kind == ErrorKind::rate_limit;
    const std::int64_t cooldown = failure.retry_after_s
                                      ? static_cast<std::int64_t>(*failure.retry_after_s) * 1000
                                      : (limited ? 1000 : 0);
    rec.error = std::string(core::kind_name(failure.kind)) + ": " + failure.message;
    t.state->on_failure(steady_ms(), t.breaker, !limited, cooldown, rec.error);
    note_try(rec, t, failure.upstream_status, ms, rec.error);
  }
  static Task<void> drain_upstream(std::unique_ptr<ClientResponse> response) {
    for (;;) {
      auto piece = co_await response->read_some();
      if (!piece || piece->empty()) co_return;
    }
  }
  // `Head`: beast's fields (set replaces) or a WireHead (set appends; none of these names is
  // set twice on that path).
  template <class Head>
  static void add_route_headers(Head& h, const Target& t, AccessRecord& rec) {
    rec.price = &t.price;
    add_governance_headers(h, rec);
    h.set("x-request-id", rec.request_id);
    if constexpr (std::is_same_v<Head, http::WireHead>) {
      h.append_lines(t.route_lines);
    } else {
      h.set("x-stratus-provider", t.provider);
      h.set("x-stratus-deployment", t.id);
    }
    char attempts[16];
    auto [end, ec] = std::to_chars(attempts, attempts + sizeof attempts, rec.attempts);
    h.set("x-stratus-attempts",
          std::string_view(attempts, static_cast<std::size_t>(end - attempts)));
  }
  template <class Head>
  static void add_governance_headers(Head& h, const AccessRecord& rec) {
    if (!rec.extra_headers) return;
    for (const auto& [name, value] : *rec.extra_headers) {
      h.set(std::string_view(name), std::string_view(value));
    }
  }
  // A streamed chunk with content went out: count it (a cut stream is billed by it) and, now and
  // then, stop a stream whose cost would take a budget past its limit.
  bool content_sent(AccessRecord& rec) {
    ++rec.content_events;
    return rec.over_budget && rec.content_events % 8 == 0 && rec.over_budget(rec);
  }
  // A stream whose cost would cross its budget ends here, with an error event.
  Task<void> end_over_budget(Exchange& ex, AccessRecord& rec) {
    auto e = Error::make(ErrorKind::rate_limit,
                         "The stream was stopped: its cost would exceed the budget", "",
                         "insufficient_quota");
    rec.error = "rate_limit: budget exceeded mid-stream";
    co_await ex.write_chunk(api::sse_error_event(e), true);
  }
  // Governance before routing: the key, its model allow-list, rate limits, budgets and task
  // limits. A refusal is the answer to send; nullopt lets the request through.
  std::optional<StringResponse> admit(Exchange& ex, const Snapshot& snap, const Alias& alias,
                                      Endpoint ep, Inbound& in, AccessRecord& rec, Governed& g);
  void settle(Governed& g, AccessRecord& rec);
  Task<void> admin(Exchange& ex, std::string_view path, AccessRecord& rec, Clock::time_point t0);
  Task<AdminReply> off_worker(std::function<AdminReply()> work);
  // Until the first content, reads wait at most what is left of the first-token time.
  static void arm_first_token(ClientResponse& up, const Target& t, Clock::time_point start) {
    if (t.first_token_ms <= 0) return;
    auto left = t.first_token_ms - static_cast<int>(ms_since(start));
    up.set_read_timeout(std::max(1, std::min(left, t.timeouts.idle_ms)), "first token");
  }
  static void disarm_first_token(ClientResponse& up, const Target& t) {
    if (t.first_token_ms > 0) up.set_read_timeout(t.timeouts.idle_ms);
  }
  Task<void> sleep_ms(int ms) {
    net::steady_timer timer(ioc_, std::chrono::milliseconds(ms));
    co_await timer.async_wait(use_tuple);
  }

  Gateway& gw_;
  net::io_context& ioc_;
  Client client_;
  AccessLog::Shard& log_;
  std::shared_ptr<const Snapshot> snap_;
  std::uint64_t version_ = 0;
  std::string id_prefix_;
  std::uint64_t seq_ = 0;
  routing::Rng rng_;
  // The balancer's memory per alias name; kept across reloads (a request in flight may still
  // use it), and reshaped by the balancer when an alias's deployments change.
  std::unordered_map<std::string, routing::LocalState> locals_;
};

// Not a coroutine: the hot routes go straight to proxy(), whose frame holds the access
// record, and everything else to serve().
Task<void> WorkerHandler::operator()(Exchange& ex) {
  auto t0 = Clock::now();
  auto path = path_of(ex.request());
  if (ex.request().method() == bhttp::verb::post) {
    if (path == "/v1/chat/completions") return proxy(ex, Endpoint::chat, t0);
    if (path == "/v1/embeddings") return proxy(ex, Endpoint::embeddings, t0);
  }
  return serve(ex, path, t0);
}

void WorkerHandler::begin_record(AccessRecord& rec, const http::Request& req,
                                 std::string_view path) {
  rec.request_id = request_id(req);
  if (gw_.governance() && !req["x-request-id"].empty()) {
    rec.ledger_id = id_prefix_ + "-l" + std::to_string(++seq_);  // a client's id may repeat
  }
  rec.method = std::string(req.method_string());
  rec.path = std::string(path);
}

Task<void> WorkerHandler::serve(Exchange& ex, std::string_view path, Clock::time_point t0) {
  auto& req = ex.request();
  auto method = req.method();

  if (path == "/healthz") {
    co_await ex.send(json_response(200, R"({"status":"ok"})"));
    co_return;
  }
  if (path == "/readyz") {
    const auto& snap = snapshot();
    auto now = steady_ms();
    std::string bad;
    for (auto& name : snap.alias_names) {
      if (!snap.aliases.at(name).ready(now)) bad += (bad.empty() ? "" : ", ") + name;
    }
    co_await ex.send(readiness_response(bad));
    co_return;
  }

  AccessRecord rec;
  begin_record(rec, req, path);
  if (path.starts_with("/admin/")) co_return co_await admin(ex, path, rec, t0);

  auto route = std::find_if(std::begin(kRoutes), std::end(kRoutes),
                            [&](const Route& r) { return r.path == path; });
  if (route == std::end(kRoutes)) {
    co_return co_await respond(
        ex,
        error_response(Error::make(ErrorKind::not_found,
                                   "Unknown request URL: " + rec.method + " " + rec.path)),
        rec, t0);
  }
  if (route->method != method) {
    auto res =
        error_response(Error::make(ErrorKind::method_not_allowed,
                                   "Method " + rec.method + " is not allowed on " + rec.path +
                                       "; use " + std::string(bhttp::to_string(route->method))));
    res.set(bhttp::field::allow, bhttp::to_string(route->method));
    co_return co_await respond(ex, std::move(res), rec, t0);
  }
  if (path == "/v1/models") {
    co_return co_await respond(ex, json_response(200, snapshot().models_json), rec, t0);
  }
  co_await proxy(ex, path == "/v1/embeddings" ? Endpoint::embeddings : Endpoint::chat, t0);
}

// The admin API: with a master key, only its bearer may call it; without one, loopback clients.
Task<void> WorkerHandler::admin(Exchange& ex, std::string_view path, AccessRecord& rec,
                                Clock::time_point t0) {
  auto& req = ex.request();
  auto snap = snapshot_ptr();
  const auto& master = snap->config.auth.master_key;
  if (!master.empty()) {
    if (!same_secret(presented_key(req), master)) {
      co_return co_await respond(
          ex,
          error_response(Error::make(ErrorKind::authentication,
                                     "The admin API needs the master key: Authorization: Bearer "
                                     "<auth.master_key>",
                                     "", "invalid_api_key")),
          rec, t0);
    }
  } else if (!ex.peer_is_loopback()) {
    co_return co_await respond(
        ex,
        error_response(
            Error::make(ErrorKind::permission, "admin endpoints answer loopback clients only")),
        rec, t0);
  }
  const auto method = req.method();
  auto wrong_method = [&](bhttp::verb allowed) {
    auto res = error_response(Error::make(
        ErrorKind::method_not_allowed, "Method " + rec.method + " is not allowed on " + rec.path +
                                           "; use " + std::string(bhttp::to_string(allowed))));
    res.set(bhttp::field::allow, bhttp::to_string(allowed));
    return res;
  };
  auto reply = [](AdminReply r) { return json_response(r.status, std::move(r.body)); };
  auto failed = [](const Error& e) {
    return AdminReply{static_cast<unsigned>(core::http_status(e.kind)), core::to_openai_json(e)};
  };
  std::string_view query;
  if (auto q = req.target().find('?'); q != std::string_view::npos) {
    query = req.target().substr(q + 1);
  }
  auto param = [&](std::string_view name) -> std::string {
    for (std::string_view rest = query; !rest.empty();) {
      auto amp = rest.find('&');
      auto pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      auto eq = pair.find('=');
      if (pair.substr(0, eq) == name) {
        return eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
      }
    }
    return {};
  };

  if (path == "/admin/deployments") {
    if (method != bhttp::verb::get)
      co_return co_await respond(ex, wrong_method(bhttp::verb::get), rec, t0);
    co_return co_await respond(ex, json_response(200, deployments_json(*snap, steady_ms())), rec,
                               t0);
  }
  if (path == "/admin/reload") {
    if (method != bhttp::verb::post)
      co_return co_await respond(ex, wrong_method(bhttp::verb::post), rec, t0);
    auto r = gw_.reload();
    if (!r) {
      co_return co_await respond(ex,
                                 error_response(Error::make(ErrorKind::invalid_request,
                                                            "config not reloaded: " + r.error())),
                                 rec, t0);
    }
    co_return co_await respond(ex, json_response(200, R"({"status":"reloaded"})"), rec, t0);
  }
  Governance* gov = gw_.governance();
  const bool governed_path = path == "/admin/keys" || path.starts_with("/admin/keys/") ||
                             path.starts_with("/admin/tasks/") || path == "/admin/usage" ||
                             path == "/admin/flush";
  if (!governed_path) {
    co_return co_await respond(
        ex,
        error_response(Error::make(ErrorKind::not_found,
                                   "Unknown request URL: " + rec.method + " " + rec.path)),
        rec, t0);
  }
  if (!gov) {
    co_return co_await respond(
        ex,
        error_response(Error::make(ErrorKind::not_found,
                                   "governance is off: set auth.master_key or store.url in the "
                                   "config to use " +
                                       rec.path)),
        rec, t0);
  }
  if (path == "/admin/keys") {
    if (method == bhttp::verb::get) {
      // (A named function: GCC 12 mishandles temporaries inside co_await.)
      std::function<AdminReply()> work = [gov, failed] {
        auto keys = gov->list_keys();
        if (!keys) return failed(keys.error());
        return AdminReply{200, json::serialize(json::object{{"keys", std::move(*keys)}})};
      };
      auto r = co_await off_worker(std::move(work));
      co_return co_await respond(ex, reply(std::move(r)), rec, t0);
    }
    if (method != bhttp::verb::post)
      co_return co_await respond(ex, wrong_method(bhttp::verb::post), rec, t0);
    boost::system::error_code ec;
    auto body = json::parse(req.body(), ec);
    if (ec || !body.is_object()) {
      co_return co_await respond(
          ex,
          error_response(Error::make(ErrorKind::invalid_request,
                                     "POST /admin/keys takes a JSON object: {\"name\": ...}")),
          rec, t0);
    }
    // (A named function: GCC 12 mishandles temporaries inside co_await.)
    std::function<AdminReply()> work = [gov, failed, request = std::move(body.as_object())] {
      auto made = gov->create_key(request);
      if (!made) return failed(made.error());
      return AdminReply{200, json::serialize(*made)};
    };
    auto r = co_await off_worker(std::move(work));
    co_return co_await respond(ex, reply(std::move(r)), rec, t0);
  }
  if (path.starts_with("/admin/keys/")) {
    if (method != bhttp::verb::delete_)
      co_return co_await respond(ex, wrong_method(bhttp::verb::delete_), rec, t0);
    auto which = url_decode(path.substr(std::string_view("/admin/keys/").size()));
    // (A named function: GCC 12 mishandles temporaries inside co_await.)
    std::function<AdminReply()> work = [gov, failed, which] {
      auto id = gov->revoke_key(which);
      if (!id) return failed(id.error());
      return AdminReply{200, json::serialize(json::object{{"revoked", *id}})};
    };
    auto r = co_await off_worker(std::move(work));
    co_return co_await respond(ex, reply(std::move(r)), rec, t0);
  }
  if (path.starts_with("/admin/tasks/")) {
    if (method != bhttp::verb::get)
      co_return co_await respond(ex, wrong_method(bhttp::verb::get), rec, t0);
    auto task = url_decode(path.substr(std::string_view("/admin/tasks/").size()));
    auto infos = gov->governor().tasks().find(task);
    if (infos.empty()) {
      co_return co_await respond(
          ex, error_response(Error::make(ErrorKind::not_found, "no task '" + task + "'")), rec, t0);
    }
    co_return co_await respond(ex, json_response(200, tasks_json(task, infos)), rec, t0);
  }
  if (path == "/admin/usage") {
    if (method != bhttp::verb::get)
      co_return co_await respond(ex, wrong_method(bhttp::verb::get), rec, t0);
    std::size_t limit = 100;
    if (auto l = param("limit"); !l.empty())
      limit = static_cast<std::size_t>(std::max(1L, std::atol(l.c_str())));
    // (A named function: GCC 12 mishandles temporaries inside co_await.)
    std::function<AdminReply()> work = [gov, failed, by = param("group_by"), since = param("since"),
                                        limit] {
      auto u = gov->usage(by, since, limit);
      if (!u) return failed(u.error());
      return AdminReply{200, json::serialize(*u)};
    };
    auto r = co_await off_worker(std::move(work));
    co_return co_await respond(ex, reply(std::move(r)), rec, t0);
  }
  // /admin/flush
  if (method != bhttp::verb::post)
    co_return co_await respond(ex, wrong_method(bhttp::verb::post), rec, t0);
  // (A named function: GCC 12 mishandles temporaries inside co_await.)
  std::function<AdminReply()> work = [gov] {
    return AdminReply{200, json::serialize(gov->flush())};
  };
  auto r = co_await off_worker(std::move(work));
  co_await respond(ex, reply(std::move(r)), rec, t0);
}

Task<AdminReply> WorkerHandler::off_worker(std::function<AdminReply()> work) {
  auto wait = std::make_shared<AdminWait>(ioc_);
  net::post(gw_.governance()->admin_pool(), [wait, work = std::move(work), &ioc = ioc_] {
    wait->reply = work();
    net::post(ioc, [wait] { wait->timer.cancel(); });
  });
  co_await wait->timer.async_wait(use_tuple);
  co_return std::move(wait->reply);
}

std::optional<StringResponse> WorkerHandler::admit(Exchange& ex, const Snapshot& snap,
                                                   const Alias& alias, Endpoint ep, Inbound& in,
                                                   AccessRecord& rec, Governed& g) {
  auto& req = ex.request();
  const auto now = unix_ms();
  // Every request from here on is one ledger event, refused or not.
  rec.on_finish = [this, &g](AccessRecord& r) { settle(g, r); };
  auto refuse = [&](const Error& e, const governance::Headers* headers) {
    auto res = error_response(e);
    if (headers) {
      for (const auto& [name, value] : *headers) {
        res.set(beast::string_view(name.data(), name.size()), value);
      }
    }
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    return std::optional<StringResponse>(std::move(res));
  };
  const auto& master = snap.config.auth.master_key;
  if (!master.empty()) {
    auto presented = presented_key(req);
    if (presented.empty()) {
      return refuse(Error::make(ErrorKind::authentication,
                                "Missing API key: send Authorization: Bearer <key> (or x-api-key)",
                                "", "invalid_api_key"),
                    nullptr);
    }
    if (same_secret(presented, master)) {
      rec.key_id = "master";
    } else {
      g.ring = g.gov->keys();
      auto key = g.ring->authenticate(presented, now);
      if (!key) return refuse(governance::auth_error(key.error()), nullptr);
      g.key = *key;
      rec.key_id = g.key->id;
      rec.team = g.key->team;
    }
  }
  const governance::TeamLimits* team = nullptr;
  if (!rec.team.empty()) {
    if (auto it = snap.teams.find(rec.team); it != snap.teams.end()) team = &it->second;
  }
  rec.task_id = std::string(req["x-stratus-task-id"]).substr(0, 200);
  std::optional<long> task_calls;
  if (auto v = header_number(req, "x-stratus-task-max-calls")) task_calls = static_cast<long>(*v);
  // The usual chat body is estimated from its text in one pass; the tree is built only for the
  // rest (it is built anyway for a translating provider).
  long max_output = 0;
  if (ep != Endpoint::chat) {
    g.prompt_estimate = governance::estimate_embeddings_tokens(in.emb.body);
  } else if (auto e = governance::estimate_chat_text(in.chat.text)) {
    g.prompt_estimate = e->prompt;
    max_output = e->max_output;
  } else {
    const auto& body = api::chat_json(in.chat);
    g.prompt_estimate = governance::estimate_chat_prompt_tokens(body);
    max_output = governance::worst_case_output_tokens(body);
  }
  governance::AdmitRequest r{.key = g.key,
                             .team = team,
                             .model = alias.name,
                             .model_limits = alias.limits,
                             .price = alias.worst_price,
                             .prompt_tokens = g.prompt_estimate,
                             .max_output_tokens = max_output,
                             .task_id = rec.task_id,
                             .task_max_calls = task_calls,
                             .task_max_usd = header_number(req, "x-stratus-task-max-usd"),
                             .now_ms = now};
  auto admission = g.gov->governor().admit(r);
  if (!admission) {
    g.refusal_headers = std::move(admission.error().headers);
    return refuse(admission.error().error, &g.refusal_headers);
  }
  g.admission = std::move(*admission);
  if (!g.admission->headers.empty()) rec.extra_headers = &g.admission->headers;
  if (g.admission->budget_reserved > 0 || g.admission->task_reserved > 0) {
    rec.over_budget = [&g](const AccessRecord& r) {
      const governance::Price price = r.price ? *r.price : governance::Price{};
      return g.gov->governor().would_exceed(
          *g.admission, governance::cost_usd(price, g.prompt_estimate, 0, r.content_events),
          unix_ms());
    };
  }
  return std::nullopt;
}

// The request is over: charge what it used (limits, budgets, task) and write its ledger event.
void WorkerHandler::settle(Governed& g, AccessRecord& rec) {
  const auto now = unix_ms();
  governance::TokenUsage used;
  if (rec.usage) {
    used = {rec.usage->prompt_tokens, rec.usage->cached_tokens, rec.usage->cache_creation_tokens,
            rec.usage->completion_tokens};
  } else if (rec.content_events > 0) {
    // A stream cut before its usage arrived: the provider produced about a token per chunk.
    used = {g.prompt_estimate, 0, 0, rec.content_events};
  }
  const governance::Price price = rec.price ? *rec.price : governance::Price{};
  double cost = 0;
  if (g.admission) {
    cost = g.gov->governor().settle(*g.admission, price, used, now);
  } else if (rec.usage) {
    cost = governance::cost_usd(price, used);
  }
  rec.cost_usd = cost;
  store::LedgerEvent e;
  e.time_ms = now;
  e.request_id = rec.ledger_id.empty() ? rec.request_id : rec.ledger_id;
  e.key_id = rec.key_id;
  e.team = rec.team;
  e.task_id = rec.task_id;
  e.alias = rec.alias;
  e.provider = rec.provider;
  e.deployment = rec.deployment;
  e.status = rec.status;
  e.attempts = rec.attempts;
  e.stream = rec.stream;
  e.prompt_tokens = used.prompt;
  e.cached_tokens = used.cached;
  e.completion_tokens = used.completion;
  e.cost_usd = cost;
  e.latency_ms = rec.latency_ms;
  e.ttft_ms = rec.ttfb_ms;
  if (auto* ledger = g.gov->ledger()) ledger->submit(std::move(e));
}

Task<core::Result<Attempt>> WorkerHandler::attempt(const ClientRequest& creq, bool stream,
                                                   const Target& t, Clock::time_point start) {
  auto res = co_await client_.send(creq);
  if (!res) co_return std::unexpected(res.error());
  core::Result<Attempt> out;
  if (take_answer(std::move(*res), stream, t, start, out)) co_return out;
  co_return co_await read_rest(std::move(*out), stream, start);
}

bool WorkerHandler::take_answer(std::unique_ptr<ClientResponse> res, bool stream, const Target& t,
                                Clock::time_point start, core::Result<Attempt>& out) {
  Attempt a;
  a.status = res->status();
  a.content_type = res->header("content-type");
  a.retry_after = res->header("retry-after");
  a.error_type = res->header("x-amzn-errortype");
  a.token_count = res->header("x-amzn-bedrock-input-token-count");
  if (stream && a.status == 200) {
    // A stream's first byte is its first body bytes, not its head.
    arm_first_token(*res, t, start);
    auto first = res->next_buffered();
    a.response = std::move(res);
    if (first && !*first) {
      out = std::unexpected(first->error());
      return true;
    }
    if (first) {
      a.first_piece.emplace(**first);
      a.ms = ms_since(start);
    }
    out = std::move(a);
    return first.has_value();
  }
  // A small answer is most often buffered whole with its head.
  std::optional<core::Error> error;
  if (!res->read_buffered(a.body, ClientResponse::kMaxBody, error)) {
    a.response = std::move(res);  // (read_rest reads the body from it, then lets it go)
    out = std::move(a);
    return false;
  }
  if (error) {
    out = std::unexpected(std::move(*error));
  } else {
    a.ms = ms_since(start);
    out = std::move(a);
  }
  return true;
}

Task<core::Result<Attempt>> WorkerHandler::read_rest(Attempt a, bool stream,
                                                     Clock::time_point start) {
  if (stream && a.status == 200) {
    auto first = co_await a.response->read_some();
    if (!first) co_return std::unexpected(first.error());
    a.first_piece.emplace(*first);
  } else {
    auto body = co_await a.response->read_all(ClientResponse::kMaxBody, std::move(a.body));
    if (!body) co_return std::unexpected(body.error());
    a.body = std::move(*body);
    a.response.reset();  // complete: its connection goes back to the pool
  }
  a.ms = ms_since(start);
  co_return a;
}

Task<void> WorkerHandler::proxy(Exchange& ex, Endpoint ep, Clock::time_point t0) {
  auto& req = ex.request();
  AccessRecord rec;
  begin_record(rec, req, path_of(req));
  Inbound in;
  std::string model;
  if (ep == Endpoint::chat) {
    auto parsed = api::parse_chat_request(req.body());
    if (!parsed) co_return co_await respond(ex, error_response(parsed.error()), rec, t0);
    in.chat = std::move(*parsed);
    model = in.chat.model;
    rec.stream = in.chat.stream;
    in.stream = in.chat.stream;
  } else {
    auto parsed = api::parse_embeddings_request(req.body());
    if (!parsed) co_return co_await respond(ex, error_response(parsed.error()), rec, t0);
    in.emb = std::move(*parsed);
    model = in.emb.model;
  }
  rec.alias = model;
  auto snap = snapshot_ptr();
  in.snapshot = snap;
  const Alias* alias = snap->find(model);
  if (!alias) {
    co_return co_await respond(
        ex,
        error_response(Error::make(
            ErrorKind::not_found,
            "The model `" + model + "` does not exist. Known models: " + snap->known_list, "model",
            "model_not_found")),
        rec, t0);
  }

  Governed governed;
  if (Governance* gov = gw_.governance()) {
    governed.gov = gov;
    if (auto refused = admit(ex, *snap, *alias, ep, in, rec, governed)) {
      co_return co_await respond(ex, std::move(*refused), rec, t0);
    }
  }

  Error failure;  // the last attempt's; its message is built only if no attempt is made
  failure.kind = ErrorKind::unavailable;
  std::optional<Attempt> last_answer;  // the last failed pass-through answer, relayed if final
  const Target* last_target = nullptr;
  routing::Few<const Alias*> aliases;
  routing::Few<const routing::Pool*> pools;
  routing::Few<routing::LocalState*> locals;
  route_of(*alias, alias->fallbacks, aliases, pools, locals);
  routing::Plan plan(pools, locals, rng_);
  in.escalate = !alias->context_fallbacks.empty();
  ex.watch_client();  // a client that leaves cancels whatever upstream work is in flight
  while (auto pick = plan.next(steady_ms())) {
    if (pick->backoff_ms > 0) {
      co_await sleep_ms(pick->backoff_ms);
      if (ex.client_left()) {
        client_left(rec, t0, "client closed the connection");
        co_return;
      }
    }
    const Target& t = aliases[pick->pool]->targets[pick->member];
    last_target = &t;
    Outcome o =
        co_await try_target(ex, ep, in, t, *alias, plan, aliases, rec, t0, failure, last_answer);
    if (o == Outcome::answered) co_return;
    if (failure.not_sent) plan.requeue();
    if (o == Outcome::context_length) {
      // Too long for this model: the larger ones take over (the attempt count carries on).
      in.escalate = false;
      const Alias& first = *alias->context_fallbacks.front();
      std::vector<const Alias*> rest(alias->context_fallbacks.begin() + 1,
                                     alias->context_fallbacks.end());
      route_of(first, rest, aliases, pools, locals);
      plan.switch_to(pools, locals);
      last_answer.reset();
      continue;
    }
    if (!t.passthrough) last_answer.reset();
  }
  if (plan.stop() == routing::Plan::Stop::unavailable) {
    // No deployment could be tried: every breaker is open or every one asked us to wait.
    auto wait_s = std::max<std::int64_t>(1, (plan.back_at_ms() - steady_ms() + 999) / 1000);
    Error e =
        plan.cooling()
            ? Error::make(ErrorKind::rate_limit,
                          "Every deployment of model `" + model +
                              "` is rate limited; retry after " + std::to_string(wait_s) + " s",
                          "", "rate_limit_exceeded")
            : Error::make(ErrorKind::unavailable,
                          "Every deployment of model `" + model +
                              "` is unavailable (circuit breakers open); retry after " +
                              std::to_string(wait_s) + " s");
    e.retry_after_s = static_cast<int>(wait_s);
    auto res = error_response(e);
    res.set("x-stratus-attempts", "0");
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    co_return co_await respond(ex, std::move(res), rec, t0);
  }
  if (rec.attempts == 0) failure.message = "model `" + model + "` has no deployments";
  if (plan.stop() == routing::Plan::Stop::budget) failure.message += " (retry budget exhausted)";
  // Every deployment failed. A pass-through provider's own rate-limit answer is relayed as is.
  if (last_answer && failure.kind == ErrorKind::rate_limit && last_target &&
      last_target->deployment.type == "openai") {
    StringResponse out{static_cast<bhttp::status>(last_answer->status), 11};
    out.set(bhttp::field::content_type,
            last_answer->content_type.empty() ? "application/json" : last_answer->content_type);
    if (!last_answer->retry_after.empty())
      out.set(bhttp::field::retry_after, last_answer->retry_after);
    add_route_headers(out, *last_target, rec);
    out.body() = std::move(last_answer->body);
    co_return co_await respond(ex, std::move(out), rec, t0);
  }
  co_await respond_error(ex, final_error(std::move(failure), rec.attempts, model), last_target, rec,
                         t0);
}

std::optional<ClientRequest> WorkerHandler::prepare(Endpoint ep, Inbound& in, const Target& t,
                                                    AccessRecord& rec, Error& failure,
                                                    std::optional<Error>& reject) {
  ClientRequest creq;
  creq.timeouts = {t.timeouts.connect_ms, t.timeouts.first_byte_ms, t.timeouts.idle_ms,
                   t.timeouts.total_ms};
  creq.ca_file = t.ca_file;
  creq.max_connections = t.max_connections;
  if (t.passthrough) {
    creq.url = ep == Endpoint::chat ? t.chat_url : t.embeddings_url;
    creq.shared_headers = &t.headers;  // the snapshot outlives the attempt
    creq.headers.emplace_back("x-request-id", rec.request_id);
    creq.body = ep == Endpoint::chat ? api::upstream_chat_body(in.chat, t.model)
                                     : api::upstream_embeddings_body(in.emb, t.model);
    return creq;
  }
  // The IR is built once, for the first translated deployment.
  if (ep == Endpoint::chat && !in.chat_ir) {
    auto ir = api::parse_chat(api::chat_json(in.chat));
    if (!ir) {
      reject = ir.error();
      return std::nullopt;
    }
    in.chat_ir = std::move(*ir);
  }
  if (ep == Endpoint::embeddings && !in.emb_ir) {
    auto ir = api::parse_embeddings(in.emb.body);
    if (!ir) {
      reject = ir.error();
      return std::nullopt;
    }
    in.emb_ir = std::move(*ir);
  }
  providers::CallContext ctx{.request_id = rec.request_id};
  auto encoded = ep == Endpoint::chat ? t.adapter->encode_chat(*in.chat_ir, t.deployment, ctx)
                                      : t.adapter->encode_embeddings(*in.emb_ir, t.deployment);
  if (!encoded) {
    // This provider cannot take this request (e.g. no JSON schema support): another may.
    failure = encoded.error();
    rec.error = std::string(core::kind_name(failure.kind)) + ": " + failure.message;
    note_try(rec, t, 0, 0, rec.error);
    return std::nullopt;
  }
  core::UpstreamRequest& up = *encoded;
  for (auto& h : t.extra_headers) up.headers.push_back(h);
  up.headers.emplace_back("x-request-id", rec.request_id);
  auth::sign(up, t.credentials, std::chrono::system_clock::now());
  creq.method = bhttp::string_to_verb(up.method);
  creq.url = std::move(up.url);
  creq.headers.reserve(up.headers.size());
  for (auto& h : up.headers) {
    if (h.first != "host") creq.headers.push_back(std::move(h));  // the client writes Host
  }
  creq.body = std::move(up.body);
  return creq;
}

Task<void> WorkerHandler::run_leg(WorkerHandler* self, std::shared_ptr<Race> race, std::size_t i,
                                  bool stream) {
  co_await net::this_coro::throw_if_cancelled(false);
  Leg& leg = race->legs[i];
  {
    InFlight counted(*leg.target->state);
    leg.result = co_await self->attempt(leg.request, stream, *leg.target, leg.start);
  }
  race->wake.cancel();
}

Task<Outcome> WorkerHandler::try_target(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                                        const Alias& head, routing::Plan& plan,
                                        const routing::Few<const Alias*>& aliases,
                                        AccessRecord& rec, Clock::time_point t0, Error& failure,
                                        std::optional<Attempt>& last_answer) {
  start_attempt(t, rec);
  if (!t.adapter) {
    attempt_failed(t, rec, failure,
                   Error::make(ErrorKind::unavailable, "provider type '" + t.deployment.type +
                                                           "' is not available in this build"));
    co_return Outcome::failed;
  }
  std::optional<Error> reject;
  auto creq = prepare(ep, in, t, rec, failure, reject);
  if (reject) {
    co_await respond_error(ex, *reject, nullptr, rec, t0);
    co_return Outcome::answered;
  }
  if (!creq) co_return Outcome::failed;
  const bool stream = in.stream;
  if (head.hedge_after_ms <= 0) {
    auto start = Clock::now();
    core::Result<Attempt> res;
    {
      // (attempt() inlined: a usual answer then costs no frame of its own.)
      InFlight counted(*t.state);
      auto sent = co_await client_.send(*creq);
      if (!sent) {
        res = std::unexpected(sent.error());
      } else if (!take_answer(std::move(*sent), stream, t, start, res)) {
        res = co_await read_rest(std::move(*res), stream, start);
      }
    }
    co_return co_await conclude(ex, ep, in, t, std::move(res), rec, t0, failure, last_answer);
  }

  // Hedging: when the first attempt has no byte after hedge_after_ms, a second one goes to
  // another deployment; the first to answer wins and the other is cancelled (and not billed).
  auto race = std::make_shared<Race>(ioc_, in.snapshot);
  auto launch = [&](const Target& target, ClientRequest request) {
    auto& leg = race->legs.emplace_back();
    leg.target = &target;
    leg.request = std::move(request);
    leg.start = Clock::now();
    net::co_spawn(ioc_, run_leg(this, race, race->legs.size() - 1, stream),
                  net::bind_cancellation_slot(leg.cancel.slot(), net::detached));
  };
  launch(t, std::move(*creq));
  // A leg that ended without an answer the client can have: another leg may still give one.
  auto failed = [](const Leg& leg) {
    const auto& r = *leg.result;
    if (!r) return true;
    if (r->status / 100 == 2) return false;
    return leg.target->adapter->decode_error(r->upstream(), leg.target->deployment).retryable;
  };
  bool hedged = false;
  std::vector<bool> settled;
  for (;;) {
    settled.resize(race->legs.size(), false);
    std::optional<std::size_t> done;
    for (std::size_t i = 0; i < race->legs.size() && !done; ++i) {
      if (!settled[i] && race->legs[i].result) done = i;
    }
    if (!done) {
      race->wake.expires_after(hedged ? std::chrono::milliseconds(24 * 3600 * 1000)
                                      : std::chrono::milliseconds(head.hedge_after_ms));
      auto [ec] = co_await race->wake.async_wait(use_tuple);
      if (ex.client_left()) {
        for (auto& leg : race->legs) leg.cancel.emit(net::cancellation_type::terminal);
        co_return client_left(rec, t0, "client closed the connection");
      }
      if (ec || hedged) continue;  // a leg finished (it cancelled the wait)
      // The hedge delay passed with no byte: a second attempt goes elsewhere.
      hedged = true;
      auto pick = plan.next(steady_ms());
      if (!pick || pick->backoff_ms > 0) continue;
      const Target& second = aliases[pick->pool]->targets[pick->member];
      if (&second == &t || !second.adapter) continue;
      start_attempt(second, rec);
      std::optional<Error> bad;
      if (auto creq2 = prepare(ep, in, second, rec, failure, bad)) {
        launch(second, std::move(*creq2));
      }
      continue;
    }
    Leg& leg = race->legs[*done];
    bool others_running = false;
    for (std::size_t i = 0; i < race->legs.size(); ++i) {
      if (i != *done && !settled[i] && !race->legs[i].result) others_running = true;
    }
    if (others_running && failed(leg)) {
      settled[*done] = true;
      const auto& r = *leg.result;
      attempt_failed(
          *leg.target, rec, failure,
          r ? leg.target->adapter->decode_error(r->upstream(), leg.target->deployment) : r.error(),
          ms_since(leg.start));
      continue;
    }
    for (std::size_t i = 0; i < race->legs.size(); ++i) {
      if (i == *done || settled[i]) continue;
      auto& loser = race->legs[i];
      loser.cancel.emit(net::cancellation_type::terminal);
      loser.result.reset();  // an answer it got already is dropped (its connection closed)
      note_try(rec, *loser.target, 0, ms_since(loser.start), "hedge lost");
    }
    answer_from(*leg.target, rec);
    co_return co_await conclude(ex, ep, in, *leg.target, std::move(*leg.result), rec, t0, failure,
                                last_answer);
  }
}

Task<Outcome> WorkerHandler::conclude(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                                      core::Result<Attempt> res, AccessRecord& rec,
                                      Clock::time_point t0, Error& failure,
                                      std::optional<Attempt>& last_answer) {
  if (ex.client_left()) co_return client_left(rec, t0, "client closed the connection");
  if (!res) {
    attempt_failed(t, rec, failure, res.error());
    co_return Outcome::failed;  // the next deployment may answer
  }
  InFlight counted(*t.state);
  Attempt& a = *res;
  if (a.status / 100 != 2) {
    auto e = t.adapter->decode_error(a.upstream(), t.deployment);
    if (e.retryable) {
      attempt_failed(t, rec, failure, std::move(e), a.ms);
      if (t.passthrough) last_answer = std::move(a);
      co_return Outcome::failed;
    }
    attempt_ok(t, rec, a);  // the provider works; it refused this request
    if (e.kind == ErrorKind::context_length && in.escalate) {
      failure = std::move(e);
      co_return Outcome::context_length;
    }
    if (!t.passthrough || t.deployment.type != "openai") {
      co_await respond_error(ex, e, &t, rec, t0);  // normalized to OpenAI's shape
      co_return Outcome::answered;
    }
    // An OpenAI-compatible provider's own error answer is relayed as is, below.
  } else if (!a.response) {
    attempt_ok(t, rec, a);
  }
  if (a.response) {
    // (No conditional expression around co_await: GCC 12 miscompiles it.)
    if (t.passthrough) {
      co_return co_await relay_stream(ex, a, t, in.chat.include_usage, rec, t0, failure);
    }
    co_return co_await relay_translated_stream(ex, a, t, in, rec, t0, failure);
  }
  std::string body;
  std::optional<api::Usage> usage;
  if (t.passthrough) {
    if (a.status == 200) usage = api::usage_of_text(a.body);
    body = std::move(a.body);
  } else if (ep == Endpoint::chat) {
    providers::CallContext ctx{.request_id = rec.request_id};
    auto decoded = t.adapter->decode_chat(a.upstream(), t.deployment, ctx);
    if (!decoded) {
      attempt_failed(t, rec, failure, decoded.error(), a.ms);
      co_return Outcome::failed;
    }
    usage = decoded->usage;
    api::ResponseMeta meta{"chatcmpl-" + rec.request_id, t.model,
                           static_cast<std::int64_t>(std::time(nullptr))};
    body = api::openai_response_json(*decoded, meta);
  } else {
    auto decoded = t.adapter->decode_embeddings(a.upstream(), t.deployment);
    if (!decoded) {
      attempt_failed(t, rec, failure, decoded.error(), a.ms);
      co_return Outcome::failed;
    }
    usage = decoded->usage;
    if (usage->prompt_tokens == 0) {
      // Some providers (Gemini) count no tokens for embeddings: estimate, ~4 bytes a token.
      for (auto& s : in.emb_ir->inputs)
        usage->prompt_tokens += static_cast<long>((s.size() + 3) / 4);
      usage->total_tokens = usage->prompt_tokens;
      decoded->usage = *usage;
    }
    body = api::openai_embeddings_json(*decoded, *in.emb_ir, t.model);
  }
  rec.error.clear();
  rec.usage = usage;
  http::WireHead out(a.status);
  if (usage) {
    out.set("x-stratus-cost-usd",
            cost_text(governance::cost_usd(
                t.price, {usage->prompt_tokens, usage->cached_tokens, usage->cache_creation_tokens,
                          usage->completion_tokens})));
  }
  out.set("Content-Type", t.passthrough && !a.content_type.empty()
                              ? std::string_view(a.content_type)
                              : std::string_view("application/json"));
  if (!a.retry_after.empty()) out.set("Retry-After", a.retry_after);
  add_route_headers(out, t, rec);
  rec.ttfb_ms = ms_since(t0);
  // (respond() inlined: the answer usually leaves at once, with no frame for the write.)
  rec.status = static_cast<int>(out.status());
  if (!ex.send_now(out, std::move(body))) co_await ex.finish_send();
  finish(rec, t0);
  co_return Outcome::answered;
}

// Decodes a provider's native stream into IR chunks and re-encodes them as OpenAI SSE, one
// write per upstream read. Until the first content chunk nothing reaches the client, so a
// failure (or the first-token timeout) lets the next deployment try; after it, the stream ends
// with an OpenAI-shaped error event.
Task<Outcome> WorkerHandler::relay_translated_stream(Exchange& ex, Attempt& a, const Target& t,
                                                     Inbound& in, AccessRecord& rec,
                                                     Clock::time_point t0, Error& failure) {
  providers::CallContext ctx{.request_id = rec.request_id};
  auto decoder = t.adapter->stream_decoder(*in.chat_ir, t.deployment, ctx);
  api::ResponseMeta meta{"chatcmpl-" + rec.request_id, t.model,
                         static_cast<std::int64_t>(std::time(nullptr))};
  bool wants_usage = in.chat_ir->include_usage;
  std::vector<api::ChatChunk> chunks;
  std::string out;
  bool started = false;
  bool content = false;
  bool over_budget = false;
  std::optional<Error> error;
  bool ended = false;
  auto& up = *a.response;
  const auto start = Clock::now() - std::chrono::microseconds(static_cast<long>(a.ms * 1000));
  while (!ended) {
    core::Result<std::string_view> piece = std::string_view{};
    if (a.first_piece) {
      piece = std::string_view(*a.first_piece);
    } else {
      if (!content) arm_first_token(up, t, start);
      if (auto buffered = up.next_buffered()) {
        piece = std::move(*buffered);
      } else {
        piece = co_await up.read_some();
      }
    }
    if (ex.client_left()) co_return client_left(rec, t0, "client closed the stream");
    if (!piece) {
      error = piece.error();
      break;
    }
    chunks.clear();
    core::Result<void> fed;
    if (piece->empty()) {
      fed = decoder->finish(chunks);
      ended = true;
    } else {
      fed = decoder->feed(*piece, chunks);
      if (fed && decoder->done()) {
        // The terminal event is in: end the client's stream in this same write.
        fed = decoder->finish(chunks);
        ended = true;
      }
    }
    a.first_piece.reset();
    if (!fed) error = fed.error();
    for (auto& c : chunks) {
      if (c.usage) rec.usage = c.usage;
      if (chunk_has_content(c)) {
        content = true;
        over_budget |= content_sent(rec);
      }
      bool usage_only = c.usage && !c.role && c.content.empty() && c.tool_calls.empty() &&
                        !c.finish_reason && c.refusal.empty() && c.reasoning.empty();
      if (usage_only && !wants_usage) continue;
      api::append_openai_chunk_event(out, c, meta);
    }
    if (ended && !error) out += "data: [DONE]\n\n";
    if (!started && !content && !ended) continue;  // hold the role chunk until content comes
    if (content) disarm_first_token(up, t);
    if (!out.empty() && !error) {
      if (!started) {
        start_stream(ex, t, rec, t0);
        started = true;
        t.state->on_success(steady_ms(), a.ms);
        note_try(rec, t, 200, a.ms, {});
      }
      if (!co_await ex.write_chunk(out, ended)) break;
      out.clear();
    }
    if (error || (over_budget && started && !ended)) break;
  }
  if (ended && !error && !up.done() && !up.finish_buffered()) {
    // Read the upstream's end of body in the background so its connection can be pooled.
    net::co_spawn(ioc_, drain_upstream(std::move(a.response)), net::detached);
  }
  if (!started) {
    Error e = error ? *error
                    : Error::make(ErrorKind::upstream, "provider '" + t.provider +
                                                           "' ended the stream before any event");
    if (!e.retryable && e.upstream_status != 0) {
      // The provider refused the request inside the stream (e.g. a validation error event).
      t.state->on_success(steady_ms(), a.ms);
      co_await respond_error(ex, e, &t, rec, t0);
      co_return Outcome::answered;
    }
    attempt_failed(t, rec, failure, std::move(e), a.ms);
    co_return Outcome::failed;
  }
  if (ex.broken()) {
    rec.status = 499;
    rec.error = "client closed the stream";
  } else if (over_budget && !ended && !error) {
    co_await end_over_budget(ex, rec);
  } else if (error || !ended) {
    auto e =
        error ? *error
              : Error::make(ErrorKind::upstream, "provider '" + t.provider + "' stream broke off");
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    if (!out.empty()) co_await ex.write_chunk(out, false);
    co_await ex.write_chunk(api::sse_error_event(e), true);
  }  // else: the chunk with [DONE] ended the body
  finish(rec, t0);
  co_return Outcome::answered;
}

// Relays an upstream event stream event by event. Until the first content event nothing
// reaches the client: a failure before it (or the first-token timeout) lets another
// deployment try.
Task<Outcome> WorkerHandler::relay_stream(Exchange& ex, Attempt& a, const Target& t,
                                          bool client_wants_usage, AccessRecord& rec,
                                          Clock::time_point t0, Error& failure) {
  codec::SseReader reader;
  codec::SseView e;
  std::string out;
  bool started = false;
  bool content = false;
  bool saw_done = false;
  bool over_budget = false;
  const bool azure = t.deployment.type == "azure";
  std::optional<Error> error;
  auto& up = *a.response;
  const auto start = Clock::now() - std::chrono::microseconds(static_cast<long>(a.ms * 1000));
  for (;;) {
    core::Result<std::string_view> piece = std::string_view{};
    if (a.first_piece) {
      piece = std::string_view(*a.first_piece);
    } else {
      if (!content) arm_first_token(up, t, start);
      if (auto buffered = up.next_buffered()) {
        piece = std::move(*buffered);
      } else {
        piece = co_await up.read_some();
      }
    }
    if (ex.client_left()) co_return client_left(rec, t0, "client closed the stream");
    if (!piece) {
      error = piece.error();
      break;
    }
    if (piece->empty()) break;
    // Events whole in the piece are views into it; only one cut by the piece's end is copied.
    reader.push(*piece);
    if (out.capacity() < piece->size()) out.reserve(piece->size());
    while (reader.next(e)) {
      auto traits = api::scan_event(e.data);
      if (e.data == "[DONE]") {
        saw_done = true;
      } else if (traits.usage) {
        // (SAX passes, no tree: this is the last chunk of every stream.)
        auto u = api::usage_of_text(e.data);
        if (u) rec.usage = u;
        if (u && !client_wants_usage && api::has_empty_choices_text(e.data)) continue;
      } else if (azure && e.data.find("\"choices\":[]") != std::string_view::npos) {
        continue;  // Azure's prompt_filter_results chunk: clients that read choices[0] choke on it
      }
      if (traits.content) {
        if (!content) {
          content = true;
          disarm_first_token(up, t);
        }
        over_budget |= content_sent(rec);
      }
      out += e.raw;
    }
    a.first_piece.reset();
    if (out.empty() || (!started && !content && !saw_done)) continue;
    if (!started) {
      start_stream(ex, t, rec, t0);
      started = true;
      t.state->on_success(steady_ms(), a.ms);
      note_try(rec, t, 200, a.ms, {});
    }
    // At [DONE] the client has all it needs: end its body in the same write.
    if (!co_await ex.write_chunk(out, saw_done)) break;
    out.clear();
    if (saw_done || over_budget) break;
  }
  if (saw_done && !up.done() && !up.finish_buffered()) {
    // Read the upstream's end of body in the background so its connection can be pooled.
    net::co_spawn(ioc_, drain_upstream(std::move(a.response)), net::detached);
  }
  if (!started) {
    attempt_failed(
        t, rec, failure,
        error ? *error
              : Error::make(ErrorKind::upstream,
                            "provider '" + t.provider + "' ended the stream before any content"),
        a.ms);
    co_return Outcome::failed;
  }
  if (ex.broken()) {
    rec.status = 499;
    rec.error = "client closed the stream";
  } else if (over_budget && !saw_done) {
    co_await end_over_budget(ex, rec);
  } else if (error || !saw_done) {
    auto e = error ? *error
                   : Error::make(ErrorKind::upstream,
                                 "provider '" + t.provider + "' ended the stream before [DONE]");
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    co_await ex.write_chunk(api::sse_error_event(e), true);
  }  // else: the chunk with [DONE] ended the body
  finish(rec, t0);
  co_return Outcome::answered;
}

}  // namespace

Task<void> WorkerHandler::health_loop() {
  std::unordered_map<std::string, Clock::time_point> due;  // provider → next check
  net::steady_timer tick(ioc_);
  for (;;) {
    auto snap = snapshot_ptr();
    auto now = Clock::now();
    for (const auto& p : snap->config.providers) {
      const auto& hc = p.health_check;
      if (hc.interval_ms <= 0) continue;
      auto [it, fresh] = due.try_emplace(p.name, now);
      if (!fresh && now < it->second) continue;
      it->second = now + std::chrono::milliseconds(hc.interval_ms);
      // The checked deployment: the configured model, else the provider's first one.
      const Target* target = nullptr;
      for (const auto& name : snap->alias_names) {
        for (const auto& t : snap->aliases.at(name).targets) {
          if (t.provider != p.name || !t.adapter) continue;
          if (!target && (hc.model.empty() || t.model == hc.model)) target = &t;
        }
      }
      if (target) {
        net::co_spawn(ioc_, check_health_kept(snap, *target, hc.timeout_ms), net::detached);
      }
    }
    tick.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await tick.async_wait(use_tuple);
    if (ec) co_return;
  }
}

Task<void> WorkerHandler::check_health(const Target& t, int timeout_ms) {
  Inbound in;
  auto parsed = api::parse_chat_request(
      R"({"model":"health-check","max_tokens":1,"messages":[{"role":"user","content":"ping"}]})");
  if (!parsed) co_return;
  in.chat = std::move(*parsed);
  AccessRecord rec;
  rec.request_id = id_prefix_ + "-health-" + std::to_string(++seq_);
  Error failure;
  std::optional<Error> reject;
  auto creq = prepare(Endpoint::chat, in, t, rec, failure, reject);
  if (!creq) co_return;
  creq->timeouts.first_byte_ms = std::min(creq->timeouts.first_byte_ms, timeout_ms);
  creq->timeouts.total_ms = timeout_ms;
  auto start = Clock::now();
  auto res = co_await attempt(*creq, false, t, start);
  std::optional<Error> e;
  if (!res) {
    e = res.error();
  } else if (res->status / 100 != 2) {
    auto decoded = t.adapter->decode_error(res->upstream(), t.deployment);
    if (decoded.retryable) e = std::move(decoded);
  }
  if (!e) {
    t.state->on_success(steady_ms(), res ? res->ms : -1);
    co_return;
  }
  const bool limited = e->kind == ErrorKind::rate_limit;
  t.state->on_failure(steady_ms(), t.breaker, !limited,
                      e->retry_after_s ? *e->retry_after_s * 1000 : 0,
                      "health check: " + std::string(core::kind_name(e->kind)) + ": " + e->message);
}

http::HandlerFactory make_handler_factory(Gateway& gateway) {
  return [&gateway](net::io_context& ioc, int worker) -> http::Handler {
    auto h = std::make_shared<WorkerHandler>(gateway, ioc, worker);
    if (worker == 0) net::co_spawn(ioc, h->health_loop(), net::detached);
    return [h](Exchange& ex) { return (*h)(ex); };
  };
}

}  // namespace stratus::gateway
