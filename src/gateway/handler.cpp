// Per-worker request handling: the OpenAI-compatible pass-through path with ordered fallback.
#include "gateway/handler.h"

#include <boost/json.hpp>
#include <chrono>
#include <random>

#include "api/chat.h"
#include "api/openai.h"
#include "auth/signer.h"
#include "codec/sse.h"
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

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

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
  std::unique_ptr<ClientResponse> response;  // head received; body unread (streams)
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
};

// What an attempt at one deployment came to.
enum class Outcome {
  answered,  // the client got its answer (or left): stop
  failed,    // retryable failure before any byte reached the client: try the next deployment
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
      break;
    default:
      failure.kind = ErrorKind::upstream;
  }
  failure.message = "All " + std::to_string(attempts) + " deployment(s) of model `" + model +
                    "` failed; last error: " + failure.message;
  return failure;
}

enum class Endpoint { chat, embeddings };

struct Route {
  std::string_view path;
  bhttp::verb method;
};
constexpr Route kRoutes[] = {{"/v1/chat/completions", bhttp::verb::post},
                             {"/v1/embeddings", bhttp::verb::post},
                             {"/v1/models", bhttp::verb::get},
                             {"/admin/reload", bhttp::verb::post}};

class WorkerHandler {
 public:
  WorkerHandler(Gateway& gw, net::io_context& ioc, int worker)
      : gw_(gw), ioc_(ioc), client_(ioc), log_(gw.access_log().make_shard()) {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x%02x", rd(), worker & 0xff);
    id_prefix_ = std::string("req_") + buf;
  }

  Task<void> operator()(Exchange& ex);

 private:
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

  std::string request_id(const StringRequest& req) {
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

  void finish(AccessRecord& rec, Clock::time_point t0) {
    rec.latency_ms = ms_since(t0);
    log_.write(rec);
  }

  Task<void> proxy(Exchange& ex, Endpoint ep, AccessRecord& rec, Clock::time_point t0);
  Task<core::Result<Attempt>> attempt(const ClientRequest& creq, bool stream);
  Task<Outcome> passthrough(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                            AccessRecord& rec, Clock::time_point t0, Error& failure,
                            std::optional<Attempt>& last_answer);
  Task<Outcome> translated(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                           AccessRecord& rec, Clock::time_point t0, Error& failure);
  Task<Outcome> relay_translated_stream(Exchange& ex, Attempt& a, const Target& t, Inbound& in,
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
  // Sends the head of an SSE answer (with the routing headers); false when the client is gone.
  Task<bool> start_stream(Exchange& ex, const Target& t, AccessRecord& rec, Clock::time_point t0) {
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
    head.set(bhttp::field::cache_control, "no-cache");
    add_route_headers(head, t, rec);
    rec.status = 200;
    rec.error.clear();
    if (!co_await ex.start_chunked(std::move(head))) co_return false;
    rec.ttfb_ms = ms_since(t0);
    co_return true;
  }
  void start_attempt(const Target& t, AccessRecord& rec) {
    ++rec.attempts;
    rec.provider = t.provider;
    rec.deployment = t.id;
  }
  // Records a failed attempt; `failure` is what the next deployment's failure replaces.
  void attempt_failed(const Target& t, AccessRecord& rec, Error& failure, Error e) {
    failure = std::move(e);
    if (failure.upstream_status == 0 && failure.message.find("provider '") == std::string::npos) {
      failure.message = "provider '" + t.provider + "': " + failure.message;
    }
    t.health->record(false, steady_ms());
    rec.error = std::string(core::kind_name(failure.kind)) + ": " + failure.message;
  }
  Task<bool> relay_stream(Exchange& ex, Attempt& a, const Target& t, bool client_wants_usage,
                          AccessRecord& rec, Clock::time_point t0, Error& failure);
  static Task<void> drain_upstream(std::unique_ptr<ClientResponse> response) {
    for (;;) {
      auto piece = co_await response->read_some();
      if (!piece || piece->empty()) co_return;
    }
  }
  void add_route_headers(bhttp::fields& h, const Target& t, const AccessRecord& rec) const {
    h.set("x-request-id", rec.request_id);
    h.set("x-stratus-provider", t.provider);
    h.set("x-stratus-deployment", t.id);
    h.set("x-stratus-attempts", std::to_string(rec.attempts));
  }

  Gateway& gw_;
  net::io_context& ioc_;
  Client client_;
  AccessLog::Shard& log_;
  std::shared_ptr<const Snapshot> snap_;
  std::uint64_t version_ = 0;
  std::string id_prefix_;
  std::uint64_t seq_ = 0;
};

Task<void> WorkerHandler::operator()(Exchange& ex) {
  auto t0 = Clock::now();
  auto& req = ex.request();
  auto path = sv(req.target());
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
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
      auto& alias = snap.aliases.at(name);
      bool any = std::any_of(alias.targets.begin(), alias.targets.end(),
                             [&](const Target& t) { return !t.health->known_bad(now); });
      if (!any) bad += (bad.empty() ? "" : ", ") + name;
    }
    co_await ex.send(readiness_response(bad));
    co_return;
  }

  AccessRecord rec;
  rec.request_id = request_id(req);
  rec.method = std::string(sv(req.method_string()));
  rec.path = std::string(path);

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
  if (path == "/admin/reload") {
    if (!ex.peer_is_loopback()) {
      co_return co_await respond(
          ex,
          error_response(
              Error::make(ErrorKind::permission, "admin endpoints answer loopback clients only")),
          rec, t0);
    }
    auto r = gw_.reload();
    if (!r) {
      co_return co_await respond(ex,
                                 error_response(Error::make(ErrorKind::invalid_request,
                                                            "config not reloaded: " + r.error())),
                                 rec, t0);
    }
    co_return co_await respond(ex, json_response(200, R"({"status":"reloaded"})"), rec, t0);
  }
  co_await proxy(ex, path == "/v1/embeddings" ? Endpoint::embeddings : Endpoint::chat, rec, t0);
}

Task<core::Result<Attempt>> WorkerHandler::attempt(const ClientRequest& creq, bool stream) {
  auto res = co_await client_.send(creq);
  if (!res) co_return std::unexpected(res.error());
  Attempt a;
  a.status = (*res)->status();
  a.content_type = (*res)->header("content-type");
  a.retry_after = (*res)->header("retry-after");
  a.error_type = (*res)->header("x-amzn-errortype");
  a.token_count = (*res)->header("x-amzn-bedrock-input-token-count");
  if (stream && a.status == 200) {
    a.response = std::move(*res);
    co_return a;
  }
  auto body = co_await (*res)->read_all();
  if (!body) co_return std::unexpected(body.error());
  a.body = std::move(*body);
  co_return a;
}

Task<void> WorkerHandler::proxy(Exchange& ex, Endpoint ep, AccessRecord& rec,
                                Clock::time_point t0) {
  auto& req = ex.request();
  Inbound in;
  std::string model;
  if (ep == Endpoint::chat) {
    auto parsed = api::parse_chat_request(req.body());
    if (!parsed) co_return co_await respond(ex, error_response(parsed.error()), rec, t0);
    in.chat = std::move(*parsed);
    model = in.chat.model;
    rec.stream = in.chat.stream;
  } else {
    auto parsed = api::parse_embeddings_request(req.body());
    if (!parsed) co_return co_await respond(ex, error_response(parsed.error()), rec, t0);
    in.emb = std::move(*parsed);
    model = in.emb.model;
  }
  rec.alias = model;
  auto snap = snapshot_ptr();
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

  Error failure = Error::make(ErrorKind::unavailable, "model `" + model + "` has no deployments");
  std::optional<Attempt> last_answer;  // the last failed pass-through answer, relayed if final
  const Target* last_target = nullptr;
  ex.watch_client();  // a client that leaves cancels whatever upstream work is in flight
  for (const Target& t : alias->targets) {
    start_attempt(t, rec);
    last_target = &t;
    if (!t.adapter) {
      attempt_failed(t, rec, failure,
                     Error::make(ErrorKind::unavailable, "provider type '" + t.deployment.type +
                                                             "' is not available in this build"));
      continue;
    }
    t.health->in_flight.fetch_add(1, std::memory_order_relaxed);
    Outcome o = t.passthrough ? co_await passthrough(ex, ep, in, t, rec, t0, failure, last_answer)
                              : co_await translated(ex, ep, in, t, rec, t0, failure);
    t.health->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (o == Outcome::answered) co_return;
    if (!t.passthrough) last_answer.reset();
  }
  // Every deployment failed. A pass-through provider's own rate-limit answer is relayed as is.
  if (last_answer && failure.kind == ErrorKind::rate_limit &&
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

Task<Outcome> WorkerHandler::passthrough(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                                         AccessRecord& rec, Clock::time_point t0, Error& failure,
                                         std::optional<Attempt>& last_answer) {
  ClientRequest creq;
  creq.url = ep == Endpoint::chat ? t.chat_url : t.embeddings_url;
  creq.shared_headers = &t.headers;  // the snapshot outlives the attempt
  creq.headers.emplace_back("x-request-id", rec.request_id);
  creq.body = ep == Endpoint::chat ? api::upstream_chat_body(in.chat, t.model)
                                   : api::upstream_embeddings_body(in.emb, t.model);
  creq.timeouts = {t.timeouts.connect_ms, t.timeouts.first_byte_ms, t.timeouts.idle_ms,
                   t.timeouts.total_ms};
  creq.ca_file = t.ca_file;
  creq.max_connections = t.max_connections;

  auto res = co_await attempt(creq, ep == Endpoint::chat && in.chat.stream);
  if (ex.client_left()) co_return client_left(rec, t0, "client closed the connection");
  if (!res) {
    attempt_failed(t, rec, failure, res.error());
    co_return Outcome::failed;  // the next deployment may answer
  }
  Attempt& a = *res;
  if (a.status / 100 != 2) {
    auto e = t.adapter->decode_error(a.upstream(), t.deployment);
    if (e.retryable) {
      attempt_failed(t, rec, failure, std::move(e));
      last_answer = std::move(a);
      co_return Outcome::failed;
    }
    t.health->record(true, steady_ms());  // the provider works; the request was refused
    if (t.deployment.type != "openai") {
      co_await respond_error(ex, e, &t, rec, t0);  // e.g. Azure's content filter, normalized
      co_return Outcome::answered;
    }
  } else {
    t.health->record(true, steady_ms());
  }
  if (a.response) {
    if (co_await relay_stream(ex, a, t, in.chat.include_usage, rec, t0, failure)) {
      co_return Outcome::answered;
    }
    attempt_failed(t, rec, failure, failure);
    co_return Outcome::failed;
  }
  rec.error.clear();
  StringResponse out{static_cast<bhttp::status>(a.status), 11};
  out.set(bhttp::field::content_type, a.content_type.empty() ? "application/json" : a.content_type);
  if (!a.retry_after.empty()) out.set(bhttp::field::retry_after, a.retry_after);
  add_route_headers(out, t, rec);
  if (a.status == 200) rec.usage = api::usage_of_text(a.body);
  out.body() = std::move(a.body);
  rec.ttfb_ms = ms_since(t0);
  co_await respond(ex, std::move(out), rec, t0);
  co_return Outcome::answered;
}

Task<Outcome> WorkerHandler::translated(Exchange& ex, Endpoint ep, Inbound& in, const Target& t,
                                        AccessRecord& rec, Clock::time_point t0, Error& failure) {
  // The IR is built once, for the first translated deployment.
  if (ep == Endpoint::chat && !in.chat_ir) {
    auto ir = api::parse_chat(in.chat.body);
    if (!ir) {
      co_await respond_error(ex, ir.error(), nullptr, rec, t0);
      co_return Outcome::answered;
    }
    in.chat_ir = std::move(*ir);
  }
  if (ep == Endpoint::embeddings && !in.emb_ir) {
    auto ir = api::parse_embeddings(in.emb.body);
    if (!ir) {
      co_await respond_error(ex, ir.error(), nullptr, rec, t0);
      co_return Outcome::answered;
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
    co_return Outcome::failed;
  }
  core::UpstreamRequest& up = *encoded;
  for (auto& h : t.extra_headers) up.headers.push_back(h);
  up.headers.emplace_back("x-request-id", rec.request_id);
  auth::sign(up, t.credentials, std::chrono::system_clock::now());

  ClientRequest creq;
  creq.method = bhttp::string_to_verb(up.method);
  creq.url = std::move(up.url);
  creq.headers.reserve(up.headers.size());
  for (auto& h : up.headers) {
    if (h.first != "host") creq.headers.push_back(std::move(h));  // the client writes Host
  }
  creq.body = std::move(up.body);
  creq.timeouts = {t.timeouts.connect_ms, t.timeouts.first_byte_ms, t.timeouts.idle_ms,
                   t.timeouts.total_ms};
  creq.ca_file = t.ca_file;
  creq.max_connections = t.max_connections;

  bool stream = ep == Endpoint::chat && in.chat_ir->stream;
  auto res = co_await attempt(creq, stream);
  if (ex.client_left()) co_return client_left(rec, t0, "client closed the connection");
  if (!res) {
    attempt_failed(t, rec, failure, res.error());
    co_return Outcome::failed;
  }
  Attempt& a = *res;
  if (a.status / 100 != 2) {
    auto e = t.adapter->decode_error(a.upstream(), t.deployment);
    if (e.retryable) {
      attempt_failed(t, rec, failure, std::move(e));
      co_return Outcome::failed;
    }
    t.health->record(true, steady_ms());
    co_await respond_error(ex, e, &t, rec, t0);
    co_return Outcome::answered;
  }
  if (a.response) co_return co_await relay_translated_stream(ex, a, t, in, rec, t0, failure);

  std::string body;
  std::optional<api::Usage> usage;
  if (ep == Endpoint::chat) {
    auto decoded = t.adapter->decode_chat(a.upstream(), t.deployment, ctx);
    if (!decoded) {
      attempt_failed(t, rec, failure, decoded.error());
      co_return Outcome::failed;
    }
    usage = decoded->usage;
    api::ResponseMeta meta{"chatcmpl-" + rec.request_id, t.model,
                           static_cast<std::int64_t>(std::time(nullptr))};
    body = api::openai_response_json(*decoded, meta);
  } else {
    auto decoded = t.adapter->decode_embeddings(a.upstream(), t.deployment);
    if (!decoded) {
      attempt_failed(t, rec, failure, decoded.error());
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
  t.health->record(true, steady_ms());
  rec.error.clear();
  rec.usage = usage;
  auto out = json_response(200, std::move(body));
  add_route_headers(out, t, rec);
  rec.ttfb_ms = ms_since(t0);
  co_await respond(ex, std::move(out), rec, t0);
  co_return Outcome::answered;
}

// Decodes a provider's native stream into IR chunks and re-encodes them as OpenAI SSE, one
// write per upstream read. Before the first byte reaches the client a failure lets the next
// deployment try; after it, the stream ends with an OpenAI-shaped error event.
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
  std::optional<Error> error;
  bool ended = false;
  auto& up = *a.response;
  while (!ended) {
    auto piece = co_await up.read_some();
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
    if (!fed) error = fed.error();
    out.clear();
    for (auto& c : chunks) {
      if (c.usage) rec.usage = c.usage;
      bool usage_only = c.usage && !c.role && c.content.empty() && c.tool_calls.empty() &&
                        !c.finish_reason && c.refusal.empty() && c.reasoning.empty();
      if (usage_only && !wants_usage) continue;
      api::append_openai_chunk_event(out, c, meta);
    }
    if (ended && !error) out += "data: [DONE]\n\n";
    if (!out.empty()) {
      if (!started) {
        if (!co_await start_stream(ex, t, rec, t0)) break;
        started = true;
      }
      if (!co_await ex.write_chunk(out, ended && !error)) break;
    }
    if (error) break;
  }
  if (ended && !error && !up.done()) {
    // Read the upstream's end of body in the background so its connection can be pooled.
    net::co_spawn(ioc_, drain_upstream(std::move(a.response)), net::detached);
  }
  if (!started) {
    Error e = error ? *error
                    : Error::make(ErrorKind::upstream, "provider '" + t.provider +
                                                           "' ended the stream before any event");
    if (!e.retryable && e.upstream_status != 0) {
      // The provider refused the request inside the stream (e.g. a validation error event).
      co_await respond_error(ex, e, &t, rec, t0);
      co_return Outcome::answered;
    }
    attempt_failed(t, rec, failure, std::move(e));
    co_return Outcome::failed;
  }
  t.health->record(!error, steady_ms());
  if (ex.broken()) {
    rec.status = 499;
    rec.error = "client closed the stream";
  } else if (error || !ended) {
    auto e =
        error ? *error
              : Error::make(ErrorKind::upstream, "provider '" + t.provider + "' stream broke off");
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    co_await ex.write_chunk(api::sse_error_event(e), true);
  }  // else: the chunk with [DONE] ended the body
  finish(rec, t0);
  co_return Outcome::answered;
}

// Relays an upstream event stream event by event. Returns false, with `failure` set, when the
// upstream failed before anything reached the client: then another deployment may be tried.
Task<bool> WorkerHandler::relay_stream(Exchange& ex, Attempt& a, const Target& t,
                                       bool client_wants_usage, AccessRecord& rec,
                                       Clock::time_point t0, Error& failure) {
  codec::SseReader reader;
  std::vector<codec::SseEvent> events;
  std::string out;
  bool started = false;
  bool saw_done = false;
  const bool azure = t.deployment.type == "azure";
  std::optional<Error> error;
  auto& up = *a.response;
  for (;;) {
    auto piece = co_await up.read_some();
    if (ex.client_left()) {
      rec.status = 499;
      rec.error = "client closed the stream";
      finish(rec, t0);
      co_return true;
    }
    if (!piece) {
      error = piece.error();
      break;
    }
    if (piece->empty()) break;
    events.clear();
    reader.feed(*piece, events);
    out.clear();
    for (auto& e : events) {
      if (e.data == "[DONE]") {
        saw_done = true;
      } else if (api::mentions_usage(e.data)) {
        boost::system::error_code ec;
        auto v = json::parse(e.data, ec);
        if (!ec) {
          if (auto u = api::usage_of(v)) rec.usage = u;
          if (!client_wants_usage && api::is_usage_only_chunk(v)) continue;
        }
      } else if (azure && e.data.find("\"choices\":[]") != std::string::npos) {
        continue;  // Azure's prompt_filter_results chunk: clients that read choices[0] choke on it
      }
      out += e.raw;
    }
    if (out.empty()) continue;
    if (!started) {
      if (!co_await start_stream(ex, t, rec, t0)) break;
      started = true;
    }
    // At [DONE] the client has all it needs: end its body in the same write.
    if (!co_await ex.write_chunk(out, saw_done)) break;
    if (saw_done) break;
  }
  if (saw_done && !up.done()) {
    // Read the upstream's end of body in the background so its connection can be pooled.
    net::co_spawn(ioc_, drain_upstream(std::move(a.response)), net::detached);
  }
  if (!started) {
    failure = error ? *error
                    : Error::make(ErrorKind::upstream, "provider '" + t.provider +
                                                           "' ended the stream before any event");
    co_return false;
  }
  if (ex.broken()) {
    rec.status = 499;
    rec.error = "client closed the stream";
  } else if (error || !saw_done) {
    auto e = error ? *error
                   : Error::make(ErrorKind::upstream,
                                 "provider '" + t.provider + "' ended the stream before [DONE]");
    rec.error = std::string(core::kind_name(e.kind)) + ": " + e.message;
    co_await ex.write_chunk(api::sse_error_event(e), true);
  }  // else: the chunk with [DONE] ended the body
  finish(rec, t0);
  co_return true;
}

}  // namespace

http::HandlerFactory make_handler_factory(Gateway& gateway) {
  return [&gateway](net::io_context& ioc, int worker) -> http::Handler {
    auto h = std::make_shared<WorkerHandler>(gateway, ioc, worker);
    return [h](Exchange& ex) { return (*h)(ex); };
  };
}

}  // namespace stratus::gateway
