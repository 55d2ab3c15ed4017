// Upstream HTTP/1.1 client with per-origin keep-alive pools and TLS.
#include "http/client.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <cstring>
#include <variant>

#include "core/json_text.h"
#include "http/drain_read.h"
#include "http/head.h"
#include "http/head_parser.h"
#include "http/sweeper.h"

namespace stratus::http {

using Clock = std::chrono::steady_clock;
using core::ErrorKind;
using core::Result;

namespace {

// Plain sockets under TLS too: timeouts are the sweeper's (Deadline), so beast::tcp_stream's
// per-operation timer bookkeeping would be paid for nothing.
using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;

std::chrono::milliseconds until(Clock::time_point deadline, int phase_ms) {
  // Rounded up, so a phase cut short by the total budget expires at or after the deadline
  // and is reported as the total timeout.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  auto phase = std::chrono::milliseconds(phase_ms);
  if (left < std::chrono::milliseconds(1)) left = std::chrono::milliseconds(1);
  return std::min(left, phase);
}

core::Error transport_error(const boost::system::error_code& ec, std::string_view phase,
                            Clock::time_point deadline, bool expired) {
  if (expired || ec == beast::error::timeout) {
    bool total = Clock::now() >= deadline;
    auto e = core::Error::make(
        ErrorKind::timeout,
        std::string("upstream ") + (total ? "total" : std::string(phase)) + " timeout");
    return e;
  }
  if (ec == net::error::operation_aborted) {
    return core::Error::make(ErrorKind::upstream, "upstream request cancelled");
  }
  return core::Error::make(ErrorKind::upstream,
                           "upstream " + std::string(phase) + " failed: " + ec.message());
}

}  // namespace

struct Client::Origin {
  bool tls = false;
  std::string host;  // without IPv6 brackets, for DNS, SNI and certificate checks
  std::string port;
  std::string host_header;  // as in the URL, for the Host header
  std::string target;       // path and query of the request
  std::string key;          // pool key: scheme, host and port
};

Result<Client::Origin> Client::parse_origin(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https")) {
    return std::unexpected(core::Error::make(ErrorKind::internal, "bad upstream URL: " + url));
  }
  Origin origin;
  origin.tls = parsed->scheme() == "https";
  origin.host = parsed->encoded_host();
  if (origin.host.size() > 2 && origin.host.front() == '[') {
    origin.host = origin.host.substr(1, origin.host.size() - 2);
  }
  origin.port = parsed->has_port() ? std::string(parsed->port()) : (origin.tls ? "443" : "80");
  origin.host_header = parsed->encoded_host_and_port();
  origin.target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) origin.target += "?" + std::string(parsed->encoded_query());
  origin.key = (origin.tls ? "https://" : "http://") + origin.host + ":" + origin.port;
  return origin;
}

struct Client::Pool {
  std::vector<std::unique_ptr<Connection>> idle;
  int open = 0;  // connections in use or idle
  std::deque<net::steady_timer*> waiters;
};

// An upstream response head without a field container (see FieldsParser). The body is
// copied into the caller's buffer, as Beast's buffer_body does.
//
// The usual head (complete in the buffer, plain, with a Content-Length: see
// parse_simple_response) is parsed by take_simple() instead, and its body then counted here;
// the functions below that hide Beast's answer for either way.
class UpstreamParser final : public FieldsParser<false> {
  using Base = FieldsParser<false>;

 public:
  explicit UpstreamParser(HeadFields& fields) : Base(fields) {}

  // Before any put(): the whole head if it is in `buf` and simple, consumed from it.
  bool take_simple(beast::flat_buffer& buf) {
    auto data = buf.data();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    auto head = parse_simple_response(text, kMaxHead, fields_);
    if (!head) {
      fields_.clear();  // Beast reads the same bytes again
      return false;
    }
    simple_ = true;
    status_ = head->status;
    chunked_ = head->chunked;
    length_ = head->content_length;
    left_ = head->content_length;
    phase_ = Phase::size;
    keep_alive_ = head->keep_alive;
    buf.consume(head->size);
    return true;
  }
  bool is_header_done() const { return simple_ || Base::is_header_done(); }
  bool is_done() const {
    if (!simple_) return Base::is_done();
    return chunked_ ? phase_ == Phase::done : left_ == 0;
  }
  bool got_some() const { return simple_ || Base::got_some(); }
  bool keep_alive() const { return simple_ ? keep_alive_ : Base::keep_alive(); }
  boost::optional<std::uint64_t> content_length() const {
    if (!simple_) return Base::content_length();
    return chunked_ ? boost::none : boost::optional<std::uint64_t>(length_);
  }
  // Body bytes, as Beast's put gives them: need_buffer when the body room is full first,
  // need_more when a chunk's framing is not all there yet.
  std::size_t put(net::const_buffer b, boost::system::error_code& ec) {
    if (!simple_) return Base::put(b, ec);
    ec = {};
    const char* p = static_cast<const char*>(b.data());
    if (!chunked_) return take_data(p, b.size(), ec);
    return put_chunked(p, p + b.size(), ec);
  }
  void put_eof(boost::system::error_code& ec) {
    if (!simple_) return Base::put_eof(ec);
    ec = is_done() ? boost::system::error_code()
                   : boost::system::error_code(bhttp::error::partial_message);
  }

  unsigned status() const { return status_; }
  std::string_view field(std::string_view name) const { return fields_.get(name); }
  // Where the next body bytes go; buffer_left() is what is still free of it.
  void set_buffer(char* data, std::size_t size) {
    data_ = data;
    size_ = size;
  }
  std::size_t buffer_left() const { return size_; }

 private:
  void on_response_impl(int code, beast::string_view, int, boost::system::error_code&) override {
    status_ = static_cast<unsigned>(code);
  }
  std::size_t on_body_impl(beast::string_view body, boost::system::error_code& ec) override {
    std::size_t n = std::min(size_, body.size());
    if (n > 0) std::memcpy(data_, body.data(), n);
    data_ += n;
    size_ -= n;
    if (n < body.size()) ec = bhttp::error::need_buffer;
    return n;
  }

  static constexpr std::size_t kMaxHead = 8192;  // Beast's default for a response head
  static constexpr std::size_t kMaxLine = 8192;  // a chunk-size line or a trailer field

  // Up to left_ bytes of body from p into the room; need_buffer when the room ran out first.
  std::size_t take_data(const char* p, std::size_t n, boost::system::error_code& ec) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, left_));
    const std::size_t taken = std::min(n, size_);
    if (taken > 0) std::memcpy(data_, p, taken);
    data_ += taken;
    size_ -= taken;
    left_ -= taken;
    if (taken < n) ec = bhttp::error::need_buffer;
    return taken;
  }

  // Chunked framing (RFC 9112 §7.1): "hex-size [;ext] CRLF data CRLF" ..., "0 CRLF", trailer
  // fields (skipped), CRLF. Framing is taken only when complete: need_more leaves it in place.
  std::size_t put_chunked(const char* const begin, const char* const end,
                          boost::system::error_code& ec) {
    const char* p = begin;
    while (p < end && phase_ != Phase::done) {
      if (phase_ == Phase::data) {
        std::size_t n = take_data(p, static_cast<std::size_t>(end - p), ec);
        p += n;
        if (ec) break;  // the room is full
        if (left_ == 0) phase_ = Phase::data_end;
        continue;
      }
      // A line: a chunk size, the CRLF after data, or a trailer field (or the final CRLF).
      const auto* cr =
          static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)));
      if (!cr || cr + 1 == end) {
        if (end - p > static_cast<std::ptrdiff_t>(kMaxLine)) {
          ec = bhttp::error::bad_chunk;
        } else {
          ec = bhttp::error::need_more;
        }
        break;
      }
      if (cr[1] != '\n') {
        ec = bhttp::error::bad_chunk;
        break;
      }
      std::string_view line(p, static_cast<std::size_t>(cr - p));
      if (phase_ == Phase::data_end) {
        if (!line.empty()) {
          ec = bhttp::error::bad_chunk;
          break;
        }
        phase_ = Phase::size;
      } else if (phase_ == Phase::size) {
        std::uint64_t size = 0;
        std::size_t digits = 0;
        for (; digits < line.size(); ++digits) {
          const char c = line[digits];
          int v = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
          if (v < 0) break;
          if (digits == 15) {  // over 2^60 bytes: not a size anyone sends
            ec = bhttp::error::bad_chunk;
            return static_cast<std::size_t>(p - begin);
          }
          size = size * 16 + static_cast<std::uint64_t>(v);
        }
        auto rest = line.substr(digits);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
          rest.remove_prefix(1);
        if (digits == 0 || (!rest.empty() && rest.front() != ';')) {  // extensions are ignored
          ec = bhttp::error::bad_chunk;
          break;
        }
        left_ = size;
        phase_ = size == 0 ? Phase::trailer : Phase::data;
      } else if (line.empty()) {  // the end of the trailer: the body is complete
        phase_ = Phase::done;
      }
      p = cr + 2;
    }
    return static_cast<std::size_t>(p - begin);
  }

  enum class Phase { size, data, data_end, trailer, done };

  unsigned status_ = 0;
  char* data_ = nullptr;
  std::size_t size_ = 0;
  bool simple_ = false;  // the head was take_simple()'s: the body is counted here
  bool chunked_ = false;
  bool keep_alive_ = true;
  std::uint64_t length_ = 0;  // Content-Length
  std::uint64_t left_ = 0;    // of the body, or of the current chunk
  Phase phase_ = Phase::size;
};

// The connection ended: what that means for the response being read, as Beast's reads say it
// (end_of_stream: nothing had come; partial_message: cut short; none: a body that ends with
// the connection is complete).
boost::system::error_code at_eof(UpstreamParser& parser) {
  if (!parser.got_some()) return bhttp::error::end_of_stream;
  boost::system::error_code ec;
  parser.put_eof(ec);
  return ec;
}

class Connection : public Deadline {
 public:
  Connection(std::string pool_key, Sweeper& sweeper, PlainStream s)
      : pool_key_(std::move(pool_key)),
        sweeper_(sweeper),
        stream_(std::in_place_type<PlainStream>, std::move(s)),
        reactor_(reactor_of(std::get<PlainStream>(stream_))) {
    // Beast reads at most the buffer's spare capacity (512 bytes for an empty one): a stream
    // would arrive in slivers, each relayed with its own write.
    buffer_.reserve(kBodyBuf);
    sweeper_.add(this);
  }
  ~Connection() override { sweeper_.remove(this); }

  // Wraps the connected socket in TLS (the handshake is the caller's).
  TlsStream& start_tls(net::ssl::context& ctx) {
    auto plain = std::move(std::get<PlainStream>(stream_));
    return stream_.emplace<TlsStream>(std::move(plain), ctx);
  }
  // The socket when the connection is not TLS (write_now() needs a plain one).
  PlainStream* plain() { return std::get_if<PlainStream>(&stream_); }
  tcp::socket& lowest() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream_);
  }
  // True when the idle connection was not closed by the peer meanwhile.
  bool still_open() {
    auto& sock = lowest();
    if (!sock.is_open()) return false;
    char c;
    ssize_t r = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  void close() {
    boost::system::error_code ec;
    lowest().close(ec);
  }

  template <class F>
  auto visit(F&& f) {
    return std::visit(std::forward<F>(f), stream_);
  }

  const std::string& pool_key() const { return pool_key_; }
  beast::flat_buffer& buffer() { return buffer_; }
  std::optional<UpstreamParser>& parser() { return parser_; }
  // A fresh parser for the next response on this connection.
  UpstreamParser& new_parser() {
    parser_.reset();
    return parser_.emplace(fields_);
  }
  // One read into the buffer's free room (bytes to commit()); not a coroutine, so no frame.
  // `how`: Try::wait for the first read of an answer, Try::first after (http/drain_read.h).
  auto read_more(Try how) {
    std::size_t room = buffer_.capacity() - buffer_.size();
    auto space = buffer_.prepare(room >= 1024 ? room : 4096);
    return visit([this, space, how](auto& s) {
      if constexpr (std::is_same_v<std::decay_t<decltype(s)>, PlainStream>) {
        return async_read_drain(s, reactor_, space, how, use_tuple);
      } else {
        return s.async_read_some(space, use_tuple);
      }
    });
  }
  char* body_buf() { return body_buf_; }
  static constexpr std::size_t kBodyBuf = 16 * 1024;
  bool reused = false;
  Clock::time_point idle_since;

 protected:
  void on_expired() override {
    boost::system::error_code ec;
    lowest().cancel(ec);
  }

 private:
  std::string pool_key_;
  Sweeper& sweeper_;
  std::variant<PlainStream, TlsStream> stream_;
  Reactor reactor_;  // for async_read_drain (plain streams)
  beast::flat_buffer buffer_;
  HeadFields fields_;  // the current response's (see UpstreamParser)
  std::optional<UpstreamParser> parser_;
  char body_buf_[kBodyBuf];
};

// ---- ClientResponse ----

ClientResponse::ClientResponse(Client& client, std::unique_ptr<Connection> conn,
                               Clock::time_point deadline, int idle_ms)
    : client_(client), conn_(std::move(conn)), deadline_(deadline), idle_ms_(idle_ms) {}

ClientResponse::~ClientResponse() {
  if (conn_) {
    bool reusable = !abandoned_ && done() && conn_->parser()->keep_alive();
    client_.release(std::move(conn_), reusable);
  }
}

unsigned ClientResponse::status() const { return conn_->parser()->status(); }

std::string_view ClientResponse::header(std::string_view name) const {
  return conn_->parser()->field(name);
}

bool ClientResponse::done() const { return conn_->parser()->is_done(); }

std::optional<Result<std::string_view>> ClientResponse::next_buffered() {
  auto& parser = *conn_->parser();
  auto& buf = conn_->buffer();
  for (;;) {
    if (parser.is_done()) return std::string_view{};
    if (buf.size() == 0) return std::nullopt;
    parser.set_buffer(conn_->body_buf(), Connection::kBodyBuf);
    boost::system::error_code pec;
    std::size_t used = parser.put(buf.data(), pec);
    buf.consume(used);
    if (pec == bhttp::error::need_buffer || pec == bhttp::error::need_more) pec = {};
    if (pec) {
      return std::unexpected(
          core::Error::make(ErrorKind::upstream, "malformed upstream response: " + pec.message()));
    }
    std::size_t got = Connection::kBodyBuf - parser.buffer_left();
    if (got > 0) return std::string_view(conn_->body_buf(), got);
    if (used == 0) return std::nullopt;  // a part of a chunk header, say: wait for more
  }
}

Task<Result<std::string_view>> ClientResponse::read_some() {
  for (;;) {
    // Bytes already buffered are parsed at once: no asynchronous operation to post.
    if (auto piece = next_buffered()) co_return std::move(*piece);
    conn_->arm(until(deadline_, idle_ms_));
    auto [ec, n] = co_await conn_->read_more(Try::first);
    conn_->disarm();
    if (ec == net::error::eof) {
      ec = at_eof(*conn_->parser());
      if (!ec) continue;  // complete
    }
    if (ec)
      co_return std::unexpected(transport_error(ec, read_phase_, deadline_, conn_->expired()));
    conn_->buffer().commit(n);
  }
}

bool ClientResponse::finish_buffered() {
  auto& parser = *conn_->parser();
  auto& buf = conn_->buffer();
  while (!parser.is_done() && buf.size() > 0) {
    parser.set_buffer(conn_->body_buf(), Connection::kBodyBuf);
    boost::system::error_code ec;
    std::size_t used = parser.put(buf.data(), ec);
    buf.consume(used);
    if (ec == bhttp::error::need_buffer) continue;  // the body room is full: dropped, go on
    if (ec && ec != bhttp::error::need_more) {
      abandoned_ = true;  // malformed: never pooled
      return false;
    }
    if (used == 0) break;
  }
  return parser.is_done();
}

bool ClientResponse::read_buffered(std::string& out, std::size_t limit,
                                   std::optional<core::Error>& error) {
  if (auto cl = conn_->parser()->content_length(); cl && *cl <= limit && out.capacity() < *cl) {
    out.reserve(*cl);
  }
  for (;;) {
    auto piece = next_buffered();
    if (!piece) return false;
    if (!*piece) {
      error = piece->error();
      return true;
    }
    if ((*piece)->empty()) return true;
    if (out.size() + (*piece)->size() > limit) {
      abandoned_ = true;
      error = core::Error::make(ErrorKind::upstream, "upstream response body too large");
      return true;
    }
    out.append(**piece);
  }
}

Task<Result<std::string>> ClientResponse::read_all(std::size_t limit, std::string out) {
  std::optional<core::Error> error;
  while (!read_buffered(out, limit, error)) {
    // Nothing more buffered: read_some waits for bytes and hands back the next piece.
    auto piece = co_await read_some();
    if (!piece) co_return std::unexpected(piece.error());
    if (piece->empty()) break;
    if (out.size() + piece->size() > limit) {
      abandoned_ = true;
      co_return std::unexpected(
          core::Error::make(ErrorKind::upstream, "upstream response body too large"));
    }
    out.append(*piece);
  }
  if (error) co_return std::unexpected(std::move(*error));
  co_return out;
}

// ---- Client ----

Client::Client(net::io_context& ioc)
    : ioc_(ioc),
      sweeper_(std::make_unique<Sweeper>(ioc.get_executor(), std::chrono::milliseconds(50))),
      resolver_(ioc) {}
Client::~Client() = default;

std::size_t Client::idle_connections() const {
  std::size_t n = 0;
  for (auto& [k, p] : pools_) n += p->idle.size();
  return n;
}

net::ssl::context& Client::tls_context(const std::string& ca_file) {
  auto& slot = tls_[ca_file];
  if (!slot) {
    slot = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    slot->set_default_verify_paths();
    if (!ca_file.empty()) {
      boost::system::error_code ec;
      slot->load_verify_file(ca_file, ec);  // a bad file shows up as a verification failure
    }
    slot->set_verify_mode(net::ssl::verify_peer);
  }
  return *slot;
}

Task<Result<tcp::resolver::results_type>> Client::resolve(const Origin& origin) {
  auto key = origin.host + ":" + origin.port;
  auto it = dns_.find(key);
  if (it != dns_.end() && it->second.expires > Clock::now()) co_return it->second.results;
  auto [ec, results] = co_await resolver_.async_resolve(origin.host, origin.port, use_tuple);
  if (ec) {
    co_return std::unexpected(core::Error::make(
        ErrorKind::upstream, "cannot resolve " + origin.host + ": " + ec.message()));
  }
  dns_[key] = DnsEntry{results, Clock::now() + std::chrono::seconds(30)};
  co_return results;
}

Task<Result<std::unique_ptr<Connection>>> Client::connect(const ClientRequest& req,
                                                          const Origin& origin,
                                                          Clock::time_point deadline) {
  auto endpoints = co_await resolve(origin);
  if (!endpoints) co_return std::unexpected(endpoints.error());
  auto conn = std::make_unique<Connection>(origin.key, *sweeper_, PlainStream(ioc_));
  conn->arm(until(deadline, req.timeouts.connect_ms));
  auto [ec, ep] = co_await net::async_connect(conn->lowest(), *endpoints, use_tuple);
  conn->disarm();
  if (ec) {
    dns_.erase(origin.host + ":" + origin.port);
    co_return std::unexpected(transport_error(ec, "connect", deadline, conn->expired()));
  }
  conn->lowest().set_option(tcp::no_delay(true), ec);
  conn->lowest().non_blocking(true, ec);  // write_now() writes synchronously first
  if (!origin.tls) {
    enable_drain_read(conn->lowest());  // reads see TCP_INQ's count (http/drain_read.h)
    co_return conn;
  }

  auto& tls = conn->start_tls(tls_context(req.ca_file));
  boost::system::error_code ip_ec;
  net::ip::make_address(origin.host, ip_ec);
  bool is_ip = !ip_ec;  // RFC 6066: no SNI for an IP literal
  if (!is_ip && !SSL_set_tlsext_host_name(tls.native_handle(), origin.host.c_str())) {
    co_return std::unexpected(core::Error::make(ErrorKind::upstream, "TLS: cannot set SNI"));
  }
  tls.set_verify_callback(net::ssl::host_name_verification(origin.host));
  conn->arm(until(deadline, req.timeouts.connect_ms));
  auto [hec] = co_await tls.async_handshake(net::ssl::stream_base::client, use_tuple);
  conn->disarm();
  if (hec)
    co_return std::unexpected(transport_error(hec, "TLS handshake", deadline, conn->expired()));
  co_return conn;
}

std::unique_ptr<Connection> Client::take_idle(Pool& pool) {
  while (!pool.idle.empty()) {
    auto conn = std::move(pool.idle.back());
    pool.idle.pop_back();
    // A connection idle for a moment is almost surely open; one that sat longer is checked
    // with a peek (a server's keep-alive timeout may have closed it). Either way a request
    // that finds it closed is sent again on a new one.
    bool fresh = Clock::now() - conn->idle_since < std::chrono::seconds(2);
    if (fresh || conn->still_open()) {
      conn->reused = true;
      return conn;
    }
    --pool.open;
  }
  return nullptr;
}

Task<Result<std::unique_ptr<Connection>>> Client::acquire(const ClientRequest& req, Pool& pool,
                                                          const Origin& origin,
                                                          Clock::time_point deadline) {
  if (auto conn = take_idle(pool)) co_return conn;
  while (pool.open >= req.max_connections) {
    net::steady_timer wait(ioc_, until(deadline, req.timeouts.connect_ms));
    pool.waiters.push_back(&wait);
    auto [ec] = co_await wait.async_wait(use_tuple);
    std::erase(pool.waiters, &wait);
    if (!pool.idle.empty()) co_return co_await acquire(req, pool, origin, deadline);
    if (!ec) {
      co_return std::unexpected(core::Error::make(
          ErrorKind::timeout, "upstream connection pool for " + origin.key + " is full"));
    }
  }
  ++pool.open;
  auto conn = co_await connect(req, origin, deadline);
  if (!conn) {
    --pool.open;
    if (!pool.waiters.empty()) pool.waiters.front()->cancel();
  }
  co_return conn;
}

void Client::release(std::unique_ptr<Connection> conn, bool reusable) {
  auto it = pools_.find(conn->pool_key());
  if (it == pools_.end()) return;
  auto& pool = *it->second;
  if (reusable) {
    conn->parser().reset();
    conn->idle_since = Clock::now();
    pool.idle.push_back(std::move(conn));
  } else {
    conn->close();
    --pool.open;
  }
  if (!pool.waiters.empty()) pool.waiters.front()->cancel();
}

Task<Result<std::unique_ptr<ClientResponse>>> Client::send(const ClientRequest& req) {
  auto origin_it = origins_.find(req.url);
  if (origin_it == origins_.end()) {
    auto o = parse_origin(req.url);
    if (!o) co_return std::unexpected(o.error());
    origin_it = origins_.emplace(req.url, std::move(*o)).first;
  }
  const Origin& origin = origin_it->second;

  auto deadline = Clock::now() + std::chrono::milliseconds(req.timeouts.total_ms);
  auto& pool_slot = pools_[origin.key];
  if (!pool_slot) pool_slot = std::make_unique<Pool>();
  auto& pool = *pool_slot;

  // Serialized by hand into one buffer: one gathered write, no Beast serializer.
  using namespace std::string_view_literals;
  std::string out;
  out.reserve(512);
  auto method = bhttp::to_string(req.method);
  out.append(method.data(), method.size());
  out += ' ';
  out += origin.target;
  out += " HTTP/1.1\r\nHost: "sv;
  out += origin.host_header;
  out += "\r\n"sv;
  auto append = [&out](const auto& list) {
    for (auto& [k, v] : list) {
      out += k;
      out += ": "sv;
      out += v;
      out += "\r\n"sv;
    }
  };
  if (req.shared_headers) append(*req.shared_headers);
  append(req.headers);
  out += "Content-Length: "sv;
  core::append_int(out, static_cast<long>(req.body.size()));
  out += "\r\n\r\n"sv;
  std::array<net::const_buffer, 2> out_bufs{net::buffer(out), net::buffer(req.body)};

  // A pooled connection may have been closed by the server just as we reused it; then the
  // request is sent once more on a new connection, as browsers and SDK clients do.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // An idle pooled connection is taken here, without a coroutine of its own.
    Result<std::unique_ptr<Connection>> conn{take_idle(pool)};
    if (!*conn) conn = co_await acquire(req, pool, origin, deadline);
    if (!conn) {
      auto e = conn.error();
      e.not_sent = true;  // no connection: nothing reached the provider
      co_return std::unexpected(std::move(e));
    }
    auto& c = **conn;
    bool reused = c.reused;
    c.reset_expired();
    c.arm(until(deadline, req.timeouts.first_byte_ms));
    boost::system::error_code wec;
    if (auto* plain = c.plain()) {
      std::size_t n = 0;
      wec = write_now(*plain, out_bufs, n);
      if (!wec && n < net::buffer_size(out_bufs)) wec = co_await write_rest(*plain, out_bufs, n);
    } else {
      auto [tec, tn] =
          co_await c.visit([&](auto& s) { return net::async_write(s, out_bufs, use_tuple); });
      wec = tec;
    }
    if (!wec) {
      auto& parser = c.new_parser();
      parser.body_limit(boost::none);
      // The head: read and parsed here rather than by Beast's async_read_header, whose
      // composed operation cost more than the parsing.
      auto& buf = c.buffer();
      boost::system::error_code rec;
      auto how = Try::wait;  // the answer's first read: it waits for epoll at once
      for (;;) {
        if (buf.size() > 0) {
          // (A HEAD request's answer has no body whatever its Content-Length: Beast's.)
          if (!parser.got_some() && req.method != bhttp::verb::head && parser.take_simple(buf)) {
            break;
          }
          std::size_t used = parser.put(buf.data(), rec);
          buf.consume(used);
          if (rec == bhttp::error::need_more) rec = {};
          if (rec || parser.is_header_done()) break;
          if (used > 0) continue;
        }
        auto [ec, n] = co_await c.read_more(how);
        how = Try::first;
        if (ec == net::error::eof) ec = at_eof(parser);
        if (ec) {
          rec = ec;
          break;
        }
        buf.commit(n);
      }
      c.disarm();
      if (!rec) {
        co_return std::make_unique<ClientResponse>(*this, std::move(*conn), deadline,
                                                   req.timeouts.idle_ms);
      }
      wec = rec;
    }
    c.disarm();
    bool expired = c.expired();
    release(std::move(*conn), false);
    bool stale = !expired && reused &&
                 (wec == bhttp::error::end_of_stream || wec == net::error::eof ||
                  wec == net::error::connection_reset || wec == net::error::broken_pipe);
    if (!stale) co_return std::unexpected(transport_error(wec, "first byte", deadline, expired));
  }
  co_return std::unexpected(
      core::Error::make(ErrorKind::upstream, "upstream closed the connection"));
}

}  // namespace stratus::http
