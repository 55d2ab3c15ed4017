// HTTP/1.1 server: one io_context, acceptor (SO_REUSEPORT) and thread per worker, one
// coroutine per connection, limits on header/body size and slow clients, graceful drain.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "http/asio.h"
#include "http/fields.h"

namespace stratus::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port, see Server::port()
  int workers = 1;
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 75000;
  int body_timeout_ms = 60000;
  int write_timeout_ms = 60000;
  int max_connections = 10000;
};

class Session;

// A response head written as it goes on the wire ("Name: value\r\n" lines), for the hot paths
// (a proxied answer, a stream's head): no field container, no allocation per field. set()
// appends: unlike beast's fields, nothing is replaced, so each name is given once.
// Content-Length, Transfer-Encoding and Connection are the Exchange's to write.
class WireHead {
 public:
  explicit WireHead(unsigned status = 200) : status_(status) { fields_.reserve(256); }
  void set(std::string_view name, std::string_view value) {
    using namespace std::string_view_literals;
    fields_.append(name);
    fields_.append(": "sv);
    fields_.append(value);
    fields_.append("\r\n"sv);
  }
  // Lines already in wire form ("Name: value\r\n" each), e.g. made once per deployment.
  void append_lines(std::string_view lines) { fields_.append(lines); }
  unsigned status() const { return status_; }
  const std::string& fields() const { return fields_; }

 private:
  unsigned status_;
  std::string fields_;
};

// A client's request: the head's fields in one indexed string (HeadFields), the body as text.
// A connection keeps one and reuses it for each request it reads.
class Request {
 public:
  bhttp::verb method() const { return method_; }
  std::string_view method_string() const { return std::string_view(start_).substr(0, method_len_); }
  // The request target as sent (path and query).
  std::string_view target() const { return std::string_view(start_).substr(method_len_); }
  unsigned version() const { return version_; }  // 11 for HTTP/1.1
  bool keep_alive() const { return keep_alive_; }
  // The first field of that name (case-insensitive); empty when absent.
  std::string_view operator[](std::string_view name) const { return fields_.get(name); }
  std::string_view operator[](bhttp::field f) const {
    auto n = bhttp::to_string(f);
    return fields_.get({n.data(), n.size()});
  }
  bool has(std::string_view name) const { return fields_.contains(name); }
  const HeadFields& fields() const { return fields_; }
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

 private:
  friend class RequestParser;
  void clear();

  bhttp::verb method_ = bhttp::verb::unknown;
  std::string start_;  // the method, then the target
  std::size_t method_len_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  HeadFields fields_;
  std::string body_;
};

// One request/response exchange as a handler sees it. A handler must answer exactly once:
// with send(), or with start_chunked() … write_chunk() … finish_chunked().
class Exchange {
 public:
  Exchange(Session& session, Request& request) : session_(session), request_(request) {}

  Request& request() { return request_; }
  bool peer_is_loopback() const;

  // Whole response; content-length and keep-alive are set here. False: the client is gone.
  Task<bool> send(StringResponse res);
  Task<bool> send(const WireHead& head, std::string body);
  // send() in two halves, for a caller that wants no coroutine frame when the kernel takes the
  // whole answer at once (the usual case): send_now() writes what it can and says whether that
  // was all; if not, co_await finish_send() writes the rest. Either way broken() tells whether
  // the client got it.
  bool send_now(const WireHead& head, std::string body);
  Task<bool> finish_send();
  // The head is kept and sent together with the first chunk.
  void start_chunked(bhttp::response<bhttp::empty_body> head);
  void start_chunked(const WireHead& head);
  // `last`: this chunk ends the body (saves a separate write for the terminator).
  Task<bool> write_chunk(std::string_view data, bool last = false);
  Task<bool> finish_chunked();
  // Completes with true when the client closed the connection, which lets a handler cancel
  // the upstream work it started for it (use with awaitable_operators::operator||).
  Task<bool> client_gone();
  // From now until the handler returns, a client that closes its connection cancels the
  // handler's coroutine: the operation it awaits (an upstream read, a connect, a timer) fails
  // with operation_aborted, and client_left() turns true. The watch begins at the worker's
  // next sweep (within 100 ms: most answers are done by then and never pay for it); one
  // watch per exchange, however long a stream lasts.
  void watch_client();
  bool client_left() const;

  // Fault injection (stratus mock): no answer at all; the connection is closed at once.
  void drop_connection() {
    responded_ = true;
    broken_ = true;
  }

  bool responded() const { return responded_; }
  bool broken() const { return broken_; }
  // A chunked answer whose last chunk was not sent cannot be followed by another response.
  bool incomplete() const { return chunked_ && !finished_; }

 private:
  Task<bool> write_out(std::string_view data, bool last);
  void end_send(boost::system::error_code ec);

  Session& session_;
  Request& request_;
  std::string pending_head_;
  std::string body_;      // send_now: the body being sent
  std::size_t sent_ = 0;  // send_now: bytes of head and body written so far
  bool keep_alive_after_ = false;
  bool responded_ = false;
  bool broken_ = false;
  bool chunked_ = false;
  bool finished_ = false;
};

using Handler = std::function<Task<void>(Exchange&)>;
// Makes the handler of one worker, so each worker owns its state (pools, caches).
using HandlerFactory = std::function<Handler(net::io_context& ioc, int worker_index)>;

// A JSON response with the given status and body.
StringResponse json_response(unsigned status, std::string body);

class Server {
 public:
  Server(ServerOptions options, HandlerFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's acceptor; throws std::system_error when the address is taken.
  void bind();
  // Starts the worker threads (bind() first).
  void start();
  std::uint16_t port() const { return port_; }
  std::size_t workers() const { return workers_.size(); }
  // Stops accepting, closes idle connections, lets requests in flight finish for up to
  // `timeout_ms`, then stops the workers. Returns true when nothing was cut off.
  bool drain(int timeout_ms);
  // Stops at once.
  void stop();
  int open_connections() const { return connections_.load(); }

  struct Worker;

 private:
  friend class Session;
  friend class Exchange;
  Task<void> accept_loop(Worker& w);
  Task<void> run_session(Worker& w, tcp::socket socket,
                         std::shared_ptr<net::cancellation_signal> cancel);

  ServerOptions options_;
  HandlerFactory factory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> busy_{0};  // connections inside a handler
  bool started_ = false;
};

}  // namespace stratus::http
