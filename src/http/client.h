// Upstream HTTP/1.1 client: per-worker keep-alive pools keyed by origin, TLS with
// certificate and host name verification, cached asynchronous DNS, and the four timeouts
// (connect, first byte, idle between reads, total). Not thread-safe: one per worker.
#pragma once

#include <boost/asio/ssl.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "http/asio.h"

namespace stratus::http {

struct ClientTimeouts {
  int connect_ms = 5000;
  int first_byte_ms = 60000;
  int idle_ms = 30000;
  int total_ms = 600000;
};

struct ClientRequest {
  bhttp::verb method = bhttp::verb::post;
  std::string url;  // absolute http:// or https:// URL
  std::vector<std::pair<std::string, std::string>> headers;
  // Headers shared by every request to a target (auth, content type), sent before `headers`;
  // borrowed, so the request path does not copy them. Must outlive send().
  const std::vector<std::pair<std::string, std::string>>* shared_headers = nullptr;
  std::string body;
  ClientTimeouts timeouts;
  std::string ca_file;        // extra trust anchors (PEM); empty = the system store
  int max_connections = 512;  // per origin on this worker
};

class Connection;
class Client;
class Sweeper;

// A response whose head has arrived; the body is read with read_some() or read_all().
// Destroying it before the body is complete closes the connection (that is how an upstream
// request is cancelled); a complete keep-alive response returns it to the pool.
class ClientResponse {
 public:
  ClientResponse(Client& client, std::unique_ptr<Connection> conn,
                 std::chrono::steady_clock::time_point deadline, int idle_ms);
  ~ClientResponse();
  ClientResponse(const ClientResponse&) = delete;
  ClientResponse& operator=(const ClientResponse&) = delete;

  unsigned status() const;
  // The first field of that name (case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const;
  bool done() const;
  // Next piece of the body; an empty view once the body is complete.
  Task<core::Result<std::string_view>> read_some();
  // Sets the timeout of the following reads (and what a timeout is called in its error), e.g.
  // a first-token deadline before the idle timeout between chunks takes over.
  void set_read_timeout(int ms, const char* phase = "idle") {
    idle_ms_ = ms;
    read_phase_ = phase;
  }
  // The whole body, up to `limit` bytes (after `out`, what read_buffered gave so far).
  static constexpr std::size_t kMaxBody = 64 * 1024 * 1024;
  Task<core::Result<std::string>> read_all(std::size_t limit = kMaxBody, std::string out = {});
  // The part of read_all that needs no waiting: appends the body bytes already buffered to
  // `out`. True when the body is complete (or failed: `error` says why); false when more must
  // be read, with read_all(limit, std::move(out)). A small answer that came with its head
  // takes no coroutine at all.
  bool read_buffered(std::string& out, std::size_t limit, std::optional<core::Error>& error);
  // Parses what is already buffered, dropping any body bytes (e.g. a stream's end after the
  // last event the caller wanted), without waiting; true when the response is now complete,
  // so the connection can go back to the pool without a drain.
  bool finish_buffered();
  // The part of read_some that needs no waiting: what the bytes already buffered give (a
  // piece of the body, its end as an empty view, or an error); nullopt when more bytes must
  // be read first, with read_some().
  std::optional<core::Result<std::string_view>> next_buffered();

 private:
  Client& client_;
  std::unique_ptr<Connection> conn_;
  std::chrono::steady_clock::time_point deadline_;
  int idle_ms_;
  const char* read_phase_ = "idle";
  bool abandoned_ = false;  // the caller gave up on the body: never pool the connection
};

class Client {
 public:
  explicit Client(net::io_context& ioc);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request and waits for the response head. Errors: kind `upstream` for
  // connection failures (refused, reset, TLS), `timeout` for expired timeouts.
  Task<core::Result<std::unique_ptr<ClientResponse>>> send(const ClientRequest& req);

  std::size_t idle_connections() const;

 private:
  friend class ClientResponse;
  struct Origin;
  struct Pool;
  static core::Result<Origin> parse_origin(const std::string& url);
  // A pooled connection that is still open, or null.
  std::unique_ptr<Connection> take_idle(Pool& pool);
  Task<core::Result<std::unique_ptr<Connection>>> acquire(
      const ClientRequest& req, Pool& pool, const Origin& origin,
      std::chrono::steady_clock::time_point deadline);
  Task<core::Result<std::unique_ptr<Connection>>> connect(
      const ClientRequest& req, const Origin& origin,
      std::chrono::steady_clock::time_point deadline);
  Task<core::Result<tcp::resolver::results_type>> resolve(const Origin& origin);
  net::ssl::context& tls_context(const std::string& ca_file);
  void release(std::unique_ptr<Connection> conn, bool reusable);

  net::io_context& ioc_;
  std::unique_ptr<Sweeper> sweeper_;  // declared before the pools: connections use it
  tcp::resolver resolver_;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  std::unordered_map<std::string, Origin> origins_;  // parsed upstream URLs
  std::unordered_map<std::string, std::unique_ptr<net::ssl::context>> tls_;
  struct DnsEntry {
    tcp::resolver::results_type results;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, DnsEntry> dns_;
};

}  // namespace stratus::http
