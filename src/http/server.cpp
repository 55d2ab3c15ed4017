// HTTP/1.1 server: per-worker io_context and acceptor, a coroutine per connection.
#include "http/server.h"

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/json_text.h"
#include "http/drain_read.h"
#include "http/head.h"
#include "http/head_parser.h"
#include "http/sweeper.h"

namespace stratus::http {

using namespace std::chrono_literals;

// An io_context whose shutdown can be called before its destruction.
class WorkerContext : public net::io_context {
 public:
  WorkerContext() : net::io_context(1) {}
  using net::io_context::shutdown;
};

// Tear-down order matters: suspended coroutines (destroyed by the context's shutdown) still
// use the handler and the session set, while the handler's sockets (upstream pools) must be
// destroyed before the context itself. So: shutdown, then handler, then context.
struct Server::Worker {
  explicit Worker(int index)
      : index(index),
        acceptor(ioc),
        sweeper(std::make_unique<Sweeper>(ioc.get_executor(), std::chrono::milliseconds(100))) {}
  ~Worker() {
    ioc.shutdown();
    handler = nullptr;
  }
  int index;
  std::unordered_set<Session*> sessions;
  bool draining = false;
  WorkerContext ioc;
  tcp::acceptor acceptor;
  std::unique_ptr<Sweeper> sweeper;  // header, idle and write timeouts of every session
  Handler handler;
  std::thread thread;
};

class RequestParser;

class Session : public Deadline {
 public:
  // Shared with the watcher coroutine, which may resume after the session is gone.
  struct Watch {
    bool done = false;
    bool gone = false;
    char peek = 0;  // the byte peeked at (left in the socket)
    std::shared_ptr<net::cancellation_signal> cancel;
  };

  Session(Server& server, Server::Worker& worker, tcp::socket socket,
          std::shared_ptr<net::cancellation_signal> cancel)
      : server_(server),
        worker_(worker),
        stream_(std::move(socket)),
        reactor_(reactor_of(stream_)),
        cancel_(std::move(cancel)),
        watch_later_(*this) {
    buffer_.reserve(8192);  // Beast reads at most the spare capacity (512 bytes when empty)
    worker_.sessions.insert(this);
    worker_.sweeper->add(this);
    worker_.sweeper->add(&watch_later_);
  }
  ~Session() override {
    if (watch_) watch_->done = true;
    worker_.sweeper->remove(&watch_later_);
    worker_.sweeper->remove(this);
    worker_.sessions.erase(this);
  }

  Task<void> run();
  void cancel_if_idle() {
    boost::system::error_code ec;
    if (idle_) stream_.cancel(ec);
  }

 protected:
  void on_expired() override {
    boost::system::error_code ec;
    stream_.cancel(ec);
  }

 public:
 private:
  friend class Exchange;
  void start_watch();
  void stop_watch();
  static void watch(tcp::socket& socket, std::shared_ptr<Watch> w);
  enum class ReadOutcome { ok, close, rejected };
  Task<ReadOutcome> read_request(RequestParser& parser);
  Task<void> reject(unsigned status, core::ErrorKind kind, std::string message);
  Task<void> lingering_close();
  bool keep_alive() const { return keep_alive_ && !worker_.draining; }

  Server& server_;
  Server::Worker& worker_;
  // A plain socket, not beast::tcp_stream: timeouts are the sweeper's (Deadline), and the
  // stream's per-operation timer bookkeeping showed in profiles.
  tcp::socket stream_;
  Reactor reactor_;  // stream_'s, for async_read_drain
  beast::flat_buffer buffer_;
  std::string out_;  // the head of the answer being sent (Exchange::send_now)
  Request request_;  // the one being read or answered
  std::shared_ptr<net::cancellation_signal> cancel_;  // bound to this session's coroutine
  std::shared_ptr<Watch> watch_;
  // The watch starts at the sweeper's next tick (at most 100 ms on), not with the request: most
  // answers come sooner, and a watch costs a receive system call and its bookkeeping.
  struct WatchLater : Deadline {
    explicit WatchLater(Session& s) : session(s) {}
    void on_expired() override { session.start_watch(); }
    Session& session;
  } watch_later_;
  bool idle_ = false;
  bool keep_alive_ = true;
};

namespace {

std::chrono::milliseconds ms(int v) { return std::chrono::milliseconds(v); }

// What a one-byte peek at a client's socket shows, without waiting; the byte stays in the socket.
enum class Peek { data, nothing, gone };
Peek peek_client(tcp::socket& socket, char& byte) {
  ssize_t r = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r > 0) return Peek::data;
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return Peek::nothing;
  return Peek::gone;  // end of stream, or an error such as a reset
}

}  // namespace

StringResponse json_response(unsigned status, std::string body) {
  StringResponse res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

// ---- Request ----

void Request::clear() {
  method_ = bhttp::verb::unknown;
  start_.clear();
  method_len_ = 0;
  version_ = 11;
  keep_alive_ = true;
  fields_.clear();
  // A connection keeps its request between requests; not the room of an unusually large body.
  if (body_.capacity() > 64 * 1024) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
}

// Beast's request parsing (limits, chunked bodies, keep-alive rules) into a Request, without
// Beast's field container.
class RequestParser final : public FieldsParser<true> {
 public:
  explicit RequestParser(Request& req) : FieldsParser<true>(req.fields_), req_(req) {
    req_.clear();
  }

  // The fast path (see head.h): true when `buffer` began with a whole simple request, which
  // is now in the Request and consumed from the buffer. False: nothing was consumed, and this
  // parser is to read the bytes.
  bool take_simple(beast::flat_buffer& buffer, std::size_t max_header, std::size_t max_body) {
    std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
    auto h = parse_simple_request(text, max_header, req_.fields_);
    if (!h || h->content_length > max_body || text.size() - h->size < h->content_length) {
      req_.fields_.clear();
      return false;
    }
    req_.method_ = bhttp::string_to_verb({h->method.data(), h->method.size()});
    req_.start_.append(h->method);
    req_.method_len_ = h->method.size();
    req_.start_.append(h->target);
    req_.version_ = 11;
    req_.keep_alive_ = h->keep_alive;
    req_.body_.assign(text.substr(h->size, static_cast<std::size_t>(h->content_length)));
    buffer.consume(h->size + static_cast<std::size_t>(h->content_length));
    return true;
  }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, boost::system::error_code&) override {
    req_.method_ = method;
    req_.start_.append(method_str.data(), method_str.size());
    req_.method_len_ = method_str.size();
    req_.start_.append(target.data(), target.size());
    req_.version_ = static_cast<unsigned>(version);
  }
  void on_header_impl(boost::system::error_code&) override { req_.keep_alive_ = keep_alive(); }
  void on_body_init_impl(boost::optional<std::uint64_t> const& length,
                         boost::system::error_code&) override {
    // (The body limit was checked against the length already.)
    if (length) req_.body_.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, boost::system::error_code&) override {
    req_.body_.append(body.data(), body.size());
    return body.size();
  }

  Request& req_;
};

// ---- Exchange ----

bool Exchange::peer_is_loopback() const {
  boost::system::error_code ec;
  auto ep = session_.stream_.remote_endpoint(ec);
  if (ec) return false;
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

namespace {

// Beast's fields as wire lines, without the ones the Exchange writes itself.
WireHead wire_head(unsigned status, const bhttp::fields& fields) {
  WireHead head(status);
  for (auto& f : fields) {
    auto name = f.name();
    if (name == bhttp::field::content_length || name == bhttp::field::transfer_encoding ||
        name == bhttp::field::connection) {
      continue;
    }
    head.set(std::string_view(f.name_string().data(), f.name_string().size()),
             std::string_view(f.value().data(), f.value().size()));
  }
  return head;
}

void append_status_line(std::string& out, unsigned status) {
  using namespace std::string_view_literals;
  if (status == 200) {
    out += "HTTP/1.1 200 OK\r\n"sv;
    return;
  }
  out += "HTTP/1.1 "sv;
  core::append_int(out, status);
  out += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
}

}  // namespace

// The head is serialized by hand and sent with the body in one gathered write: Beast's
// serializer showed up in profiles for what is a few header lines.
Task<bool> Exchange::send(StringResponse res) {
  auto head = wire_head(res.result_int(), res.base());
  co_return co_await send(head, std::move(res.body()));
}

Task<bool> Exchange::send(const WireHead& head, std::string body) {
  if (send_now(head, std::move(body))) co_return !broken_;
  co_return co_await finish_send();
}

bool Exchange::send_now(const WireHead& head, std::string body) {
  responded_ = true;
  keep_alive_after_ = session_.keep_alive() && request_.keep_alive();
  auto& out = session_.out_;  // the connection's, reused: no allocation once warm
  out.clear();
  append_status_line(out, head.status());
  out += head.fields();
  using namespace std::string_view_literals;
  if (!keep_alive_after_) out += "Connection: close\r\n"sv;
  out += "Content-Length: "sv;
  core::append_int(out, static_cast<std::int64_t>(body.size()));
  out += "\r\n\r\n"sv;
  body_ = std::move(body);
  std::array<net::const_buffer, 2> bufs{net::buffer(out), net::buffer(body_)};
  session_.arm(ms(session_.server_.options_.write_timeout_ms));
  auto ec = write_now(session_.stream_, bufs, sent_);
  if (!ec && sent_ < net::buffer_size(bufs)) return false;  // finish_send() writes the rest
  end_send(ec);
  return true;
}

Task<bool> Exchange::finish_send() {
  std::array<net::const_buffer, 2> bufs{net::buffer(session_.out_), net::buffer(body_)};
  auto ec = co_await write_rest(session_.stream_, bufs, sent_);
  end_send(ec);
  co_return !ec;
}

void Exchange::end_send(boost::system::error_code ec) {
  session_.disarm();
  if (ec) broken_ = true;
  session_.keep_alive_ = !ec && keep_alive_after_;
}

// The head is kept until the first chunk so that both leave in one write; a stream whose
// events are all ready at once (and its end) costs one system call.
void Exchange::start_chunked(bhttp::response<bhttp::empty_body> head) {
  start_chunked(wire_head(head.result_int(), head.base()));
}

void Exchange::start_chunked(const WireHead& head) {
  responded_ = true;
  chunked_ = true;
  bool keep_alive = session_.keep_alive() && request_.keep_alive();
  session_.keep_alive_ = keep_alive;
  pending_head_.clear();
  append_status_line(pending_head_, head.status());
  pending_head_ += head.fields();
  if (!keep_alive) pending_head_ += "Connection: close\r\n";
  pending_head_ += "Transfer-Encoding: chunked\r\n\r\n";
}

namespace {
// "<size in hex>\r\n" into `out` (room for 16 digits and the line end); returns its length.
std::size_t chunk_size_line(char* out, std::size_t size) {
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[size & 0xF];
    size >>= 4;
  } while (size != 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}
}  // namespace

Task<bool> Exchange::write_out(std::string_view data, bool last) {
  if (broken_) co_return false;
  if (data.empty() && !last && pending_head_.empty()) co_return true;  // nothing to send
  char size_line[18];
  const std::size_t size_len = data.empty() ? 0 : chunk_size_line(size_line, data.size());
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kLast = "0\r\n\r\n";
  std::array<net::const_buffer, 5> bufs{net::buffer(pending_head_),
                                        net::buffer(size_line, size_len),
                                        net::buffer(data.data(), data.size()),
                                        net::buffer(kCrlf.data(), data.empty() ? 0 : kCrlf.size()),
                                        net::buffer(kLast.data(), last ? kLast.size() : 0)};
  session_.arm(ms(session_.server_.options_.write_timeout_ms));
  std::size_t n = 0;
  auto ec = write_now(session_.stream_, bufs, n);
  if (!ec && n < net::buffer_size(bufs)) ec = co_await write_rest(session_.stream_, bufs, n);
  session_.disarm();
  pending_head_.clear();
  if (ec) broken_ = true;
  if (last) finished_ = !ec;
  co_return !ec;
}

// (Not coroutines themselves: each would cost a frame and a resumption per chunk.)
Task<bool> Exchange::write_chunk(std::string_view data, bool last) { return write_out(data, last); }

Task<bool> Exchange::finish_chunked() { return write_out({}, true); }

Task<bool> Exchange::client_gone() {
  auto& sock = session_.stream_;
  for (;;) {
    auto [ec] = co_await sock.async_wait(tcp::socket::wait_read, use_tuple);
    if (ec == net::error::operation_aborted) co_return false;
    if (ec) co_return true;
    char c;
    auto seen = peek_client(sock, c);
    if (seen == Peek::gone) co_return true;
    if (seen == Peek::data) {
      // A pipelined request is waiting: the client is still there, and we can no longer see
      // it leave, so wait until cancelled.
      net::steady_timer forever(sock.get_executor(), net::steady_timer::time_point::max());
      co_await forever.async_wait(use_tuple);
      co_return false;
    }
  }
}

void Exchange::watch_client() {
  session_.watch_later_.reset_expired();  // it fired for an earlier request on this connection
  session_.watch_later_.arm(std::chrono::milliseconds(0));
}

bool Exchange::client_left() const { return session_.watch_ && session_.watch_->gone; }

// ---- Session ----

// A plain completion handler rather than a coroutine: no frame to allocate and no spawn to
// post on every request. A one-byte MSG_PEEK receive, not async_wait: Asio re-arms the socket
// in epoll (one epoll_ctl system call) for every wait, while a receive just queues behind the
// reactor's registration; the peeked byte stays in the socket for the next request.
void Session::watch(tcp::socket& socket, std::shared_ptr<Watch> w) {
  auto seen = [w](boost::system::error_code ec, std::size_t n) {
    if (w->done) return;  // the exchange is over; the socket may be gone: touch nothing
    if (ec == net::error::operation_aborted) return;
    if (!ec && n > 0) return;  // a pipelined request: the client is there
    w->gone = true;            // end of stream or a reset
    w->cancel->emit(net::cancellation_type::terminal);
  };
  // The request's read may have told the reactor the socket was drained (http/drain_read.h),
  // and then the queued peek would not look before waiting: a reset that came before it would
  // never be seen. So look once here (the watch starts at most once per request, at a sweep).
  switch (peek_client(socket, w->peek)) {
    case Peek::data:
      return;  // a pipelined request: the client is there
    case Peek::gone:
      net::post(socket.get_executor(), [seen] { seen(net::error::eof, 0); });
      return;
    case Peek::nothing:
      break;
  }
  socket.async_receive(net::buffer(&w->peek, 1), tcp::socket::message_peek, std::move(seen));
}
void Session::start_watch() {
  if (watch_) return;
  watch_ = std::make_shared<Watch>();
  watch_->cancel = cancel_;
  watch(stream_, watch_);
}

void Session::stop_watch() {
  if (!watch_) return;
  watch_->done = true;
  boost::system::error_code ec;
  stream_.cancel(ec);  // only the watcher's wait is pending now
}

Task<void> Session::reject(unsigned status, core::ErrorKind kind, std::string message) {
  auto res =
      json_response(status, core::to_openai_json(core::Error::make(kind, std::move(message))));
  res.keep_alive(false);
  res.prepare_payload();
  arm(ms(server_.options_.write_timeout_ms));
  co_await bhttp::async_write(stream_, res, use_tuple);
  co_await lingering_close();
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// error response in flight; so shut down our side and discard input for a short while.
Task<void> Session::lingering_close() {
  boost::system::error_code ec;
  stream_.shutdown(tcp::socket::shutdown_send, ec);
  arm(2s);
  std::size_t drained = 0;
  char sink[16384];
  while (drained < 64 * 1024 * 1024) {
    auto [rec, n] = co_await stream_.async_read_some(net::buffer(sink), use_tuple);
    if (rec) break;
    drained += n;
  }
  stream_.close(ec);
}

namespace {
// Parses what is already buffered, so a request that arrived whole (the usual case) costs no
// further asynchronous operation. need_more is not an error here.
boost::system::error_code feed(RequestParser& parser, beast::flat_buffer& buffer) {
  boost::system::error_code ec;
  while (buffer.size() > 0 && !parser.is_done()) {
    std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec == bhttp::error::need_more) return {};
    if (ec || n == 0) return ec;
  }
  return ec;
}
}  // namespace

// The request that the fast path (RequestParser::take_simple) did not take: Beast reads it,
// with its limits and errors.
Task<Session::ReadOutcome> Session::read_request(RequestParser& parser) {
  const auto& o = server_.options_;
  arm(ms(o.header_timeout_ms));
  auto ec = feed(parser, buffer_);
  if (!ec && !parser.is_header_done()) {
    auto [hec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, use_tuple);
    ec = hec;
    if (!ec) ec = feed(parser, buffer_);
  }
  bool body_phase = false;
  if (!ec && !parser.is_done()) {
    body_phase = true;
    if (iequal_ascii(request_[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
      co_await bhttp::async_write(stream_, cont, use_tuple);
    }
    arm(ms(o.body_timeout_ms));
    auto [bec, n] = co_await bhttp::async_read(stream_, buffer_, parser, use_tuple);
    ec = bec;
  }
  disarm();
  if (!ec) co_return ReadOutcome::ok;
  if (ec == bhttp::error::header_limit) {
    co_await reject(431, core::ErrorKind::invalid_request, "request headers too large");
    co_return ReadOutcome::rejected;
  }
  if (ec == bhttp::error::body_limit) {
    co_await reject(413, core::ErrorKind::payload_too_large,
                    "request body larger than " + std::to_string(o.max_body_bytes) + " bytes");
    co_return ReadOutcome::rejected;
  }
  if (expired() || ec == bhttp::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      (body_phase && ec == bhttp::error::partial_message)) {
    co_return ReadOutcome::close;  // the client went away or stalled: nobody to answer
  }
  co_await reject(
      400, core::ErrorKind::invalid_request,
      std::string(body_phase ? "malformed HTTP request body: " : "malformed HTTP request: ") +
          ec.message());
  co_return ReadOutcome::rejected;
}

Task<void> Session::run() {
  // A client that leaves cancels the handler's pending operation (see Exchange::watch_client);
  // the handler sees that as an error value, not an exception.
  co_await net::this_coro::throw_if_cancelled(false);
  const auto& o = server_.options_;
  bool first = true;
  while (!worker_.draining) {
    // (The waits inline, not in coroutines of their own: each would cost a frame and a
    // resumption per request.)
    if (buffer_.size() == 0) {  // wait for the next request's first bytes
      idle_ = true;
      arm(ms(first ? o.header_timeout_ms : o.idle_timeout_ms));
      auto [ec, n] =
          co_await async_read_drain(stream_, reactor_, buffer_.prepare(4096), Try::wait, use_tuple);
      idle_ = false;
      buffer_.commit(n);
      if (ec || n == 0) break;
    }
    first = false;
    RequestParser parser(request_);
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser.body_limit(o.max_body_bytes);
    // A usual request that arrived whole is taken at once; anything else goes to Beast.
    auto outcome = ReadOutcome::ok;
    if (!parser.take_simple(buffer_, o.max_header_bytes, o.max_body_bytes)) {
      outcome = co_await read_request(parser);
    }
    if (outcome == ReadOutcome::close) break;
    if (outcome == ReadOutcome::rejected) co_return;
    disarm();
    Exchange ex(*this, request_);
    server_.busy_.fetch_add(1, std::memory_order_relaxed);
    std::string failure;  // set when the handler threw
    try {
      co_await worker_.handler(ex);
    } catch (const std::exception& e) {
      failure = std::string("internal error: ") + e.what();
      keep_alive_ = false;
    }
    server_.busy_.fetch_sub(1, std::memory_order_relaxed);
    bool left = ex.client_left();
    watch_later_.disarm();
    stop_watch();
    watch_.reset();
    if (left) break;
    if (!ex.responded()) {
      if (failure.empty()) failure = "the handler sent no response";
      co_await ex.send(json_response(
          500, core::to_openai_json(core::Error::make(core::ErrorKind::internal, failure))));
    }
    if (ex.broken() || ex.incomplete() || !keep_alive_) break;
  }
  boost::system::error_code ec;
  stream_.shutdown(tcp::socket::shutdown_send, ec);
  stream_.close(ec);
}

// ---- Server ----

Server::Server(ServerOptions options, HandlerFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  int n = options_.workers > 0
              ? options_.workers
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(i));
}

Server::~Server() { stop(); }

void Server::bind() {
  auto addr = net::ip::make_address(options_.host);
  std::uint16_t port = options_.port;
  for (auto& w : workers_) {
    tcp::endpoint ep(addr, port);
    w->acceptor.open(ep.protocol());
    w->acceptor.set_option(net::socket_base::reuse_address(true));
    int one = 1;
    ::setsockopt(w->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    w->acceptor.bind(ep);
    w->acceptor.listen(4096);
    port = w->acceptor.local_endpoint().port();
  }
  port_ = port;
}

Task<void> Server::accept_loop(Worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor.async_accept(use_tuple);
    if (ec) {
      if (!w.acceptor.is_open() || ec == net::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    if (connections_.load(std::memory_order_relaxed) >= options_.max_connections) {
      static const std::string kFull = [] {
        std::string body = core::to_openai_json(
            core::Error::make(core::ErrorKind::unavailable, "too many connections"));
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
               "Connection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
      }();
      boost::system::error_code wec;
      net::write(socket, net::buffer(kFull), wec);
      socket.close(wec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);  // write_now() writes synchronously first
    enable_drain_read(socket);      // reads see TCP_INQ's count (http/drain_read.h)
    auto cancel = std::make_shared<net::cancellation_signal>();
    auto slot = cancel->slot();
    net::co_spawn(w.ioc, run_session(w, std::move(socket), std::move(cancel)),
                  net::bind_cancellation_slot(slot, net::detached));
  }
}

Task<void> Server::run_session(Worker& w, tcp::socket socket,
                               std::shared_ptr<net::cancellation_signal> cancel) {
  connections_.fetch_add(1, std::memory_order_relaxed);
  try {
    Session s(*this, w, std::move(socket), std::move(cancel));
    co_await s.run();
  } catch (const std::exception&) {
    // A bug in one connection must not take the process down; it only loses that connection.
  }
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

void Server::start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    w->handler = factory_(w->ioc, w->index);
    net::co_spawn(w->ioc, accept_loop(*w), net::detached);
    w->thread = std::thread([&ioc = w->ioc] {
      auto guard = net::make_work_guard(ioc);
      ioc.run();
    });
  }
}

bool Server::drain(int timeout_ms) {
  for (auto& w : workers_) {
    net::post(w->ioc, [&w = *w] {
      w.draining = true;
      boost::system::error_code ec;
      w.acceptor.close(ec);
      for (auto* s : w.sessions) s->cancel_if_idle();
    });
  }
  auto deadline = std::chrono::steady_clock::now() + ms(timeout_ms);
  bool clean = true;
  while (connections_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      clean = false;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  stop();
  return clean;
}

void Server::stop() {
  for (auto& w : workers_) w->ioc.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace stratus::http
