// Tests for the upstream client against a real loopback http::Server (plain HTTP) and a
// minimal Asio TLS server (certificate, SNI and host name checks).
#include "http/client.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/asio.h"
#include "http/server.h"

namespace stratus::http {
namespace {

using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
using core::ErrorKind;
namespace json = boost::json;
namespace ssl = boost::asio::ssl;

const std::string kTls = std::string(STRATUS_TEST_DATA) + "/tls/";

// Runs one coroutine made by `make` on `ioc` until it and everything it started finish.
template <class F>
auto run(net::io_context& ioc, F make) {
  auto fut = net::co_spawn(ioc, std::move(make), net::use_future);
  ioc.restart();
  ioc.run();
  return fut.get();
}

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

Task<core::Result<Reply>> fetch(Client& client, ClientRequest req) {
  auto res = co_await client.send(req);
  if (!res) co_return std::unexpected(res.error());
  Reply r;
  r.status = (*res)->status();
  r.content_type = std::string((*res)->header("content-type"));
  auto body = co_await (*res)->read_all();
  if (!body) co_return std::unexpected(body.error());
  r.body = std::move(*body);
  co_return r;
}

ClientRequest request(std::string url, bhttp::verb method = bhttp::verb::get) {
  ClientRequest req;
  req.method = method;
  req.url = std::move(url);
  req.timeouts.connect_ms = 2000;
  req.timeouts.first_byte_ms = 2000;
  req.timeouts.idle_ms = 2000;
  req.timeouts.total_ms = 4000;
  return req;
}

int elapsed_ms(Clock::time_point since) {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 2s) {
  auto until = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

Task<void> sleep_for(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

// An http::Server on 127.0.0.1, any free port, one worker, answering with `handler`.
class TestServer {
 public:
  explicit TestServer(Handler handler, ServerOptions options = {})
      : server_(options, [handler](net::io_context&, int) { return handler; }) {
    server_.bind();
    server_.start();
  }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }
  Server& server() { return server_; }

 private:
  Server server_;
};

// Outside the coroutine: GCC 12 miscompiles initializer lists in coroutine bodies.
std::string echo_body(const Request& req) {
  json::object o{{"method", std::string(req.method_string())},
                 {"target", std::string(req.target())},
                 {"host", std::string(req[bhttp::field::host])},
                 {"x_test", std::string(req["x-test"])},
                 {"body", req.body()}};
  return json::serialize(o);
}

Task<void> echo(Exchange& ex) { co_await ex.send(json_response(200, echo_body(ex.request()))); }

// ---- plain HTTP ----

TEST(HttpClient, Send_ReadAll_GetsStatusHeadersAndBody) {
  TestServer srv(echo);
  net::io_context ioc;
  Client client(ioc);
  auto req = request(srv.url("/v1/chat/completions?x=1"), bhttp::verb::post);
  req.headers = {{"x-test", "hello"}, {"content-type", "application/json"}};
  req.body = R"({"model":"m"})";
  auto r = run(ioc, [&] { return fetch(client, req); });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->content_type, "application/json");
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("method").as_string(), "POST");
  EXPECT_EQ(v.at("target").as_string(), "/v1/chat/completions?x=1");
  EXPECT_EQ(v.at("host").as_string(), "127.0.0.1:" + std::to_string(srv.server().port()));
  EXPECT_EQ(v.at("x_test").as_string(), "hello");
  EXPECT_EQ(v.at("body").as_string(), R"({"model":"m"})");
}

TEST(HttpClient, ErrorStatus_IsAResponseNotAnError) {
  TestServer srv([](Exchange& ex) -> Task<void> {
    co_await ex.send(json_response(429, R"({"error":{"message":"slow down"}})"));
  });
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, request(srv.url())); });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 429u);
  EXPECT_EQ(r->body, R"({"error":{"message":"slow down"}})");
}

// An answer larger than the socket buffers: send() writes what the kernel takes at once and
// the rest after (finish_send); the connection is reusable afterwards.
std::string big_body() {
  std::string body(12 * 1024 * 1024, ' ');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  return body;
}

TEST(HttpClient, LargeAnswer_ArrivesWholeAndTheConnectionIsReused) {
  TestServer srv([](Exchange& ex) -> Task<void> {
    if (ex.request().target() == "/big") {
      co_await ex.send(json_response(200, big_body()));
    } else {
      co_await echo(ex);
    }
  });
  net::io_context ioc;
  Client client(ioc);
  auto big = run(ioc, [&] { return fetch(client, request(srv.url("/big"))); });
  ASSERT_TRUE(big.has_value()) << big.error().message;
  EXPECT_EQ(big->status, 200u);
  EXPECT_TRUE(big->body == big_body());
  auto next = run(ioc, [&] { return fetch(client, request(srv.url("/after"))); });
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ(json::parse(next->body).at("target").as_string(), "/after");
  EXPECT_EQ(srv.server().open_connections(), 1);  // the same connection served both
}

TEST(HttpClient, SecondRequest_ReusesPooledConnection) {
  TestServer srv(echo);
  net::io_context ioc;
  Client client(ioc);
  auto first = run(ioc, [&] { return fetch(client, request(srv.url("/one"))); });
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(client.idle_connections(), 1u);
  EXPECT_EQ(srv.server().open_connections(), 1);

  auto second = run(ioc, [&] { return fetch(client, request(srv.url("/two"))); });
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(json::parse(second->body).at("target").as_string(), "/two");
  EXPECT_EQ(client.idle_connections(), 1u);
  EXPECT_EQ(srv.server().open_connections(), 1);  // no second connection was opened
}

TEST(HttpClient, ChunkedStream_ReadSomeYieldsAllBytes) {
  static const std::vector<std::string> kChunks = {std::string(10000, 'a'), "data: {\"x\":1}\n\n",
                                                   std::string(40000, 'b'), "tail"};
  TestServer srv([](Exchange& ex) -> Task<void> {
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
    head.set(bhttp::field::content_type, "text/event-stream");
    ex.start_chunked(std::move(head));
    for (auto& c : kChunks) {
      if (!co_await ex.write_chunk(c)) co_return;
      co_await sleep_for(2ms);
    }
    co_await ex.finish_chunked();
  });
  net::io_context ioc;
  Client client(ioc);
  std::string got;
  int pieces = 0;
  bool done = false;
  auto sent = run(ioc, [&]() -> Task<core::Result<unsigned>> {
    auto res = co_await client.send(request(srv.url()));
    if (!res) co_return std::unexpected(res.error());
    EXPECT_EQ((*res)->header("content-type"), "text/event-stream");
    for (;;) {
      auto piece = co_await (*res)->read_some();
      if (!piece) co_return std::unexpected(piece.error());
      if (piece->empty()) break;
      ++pieces;
      got.append(*piece);
    }
    done = (*res)->done();
    co_return (*res)->status();
  });
  ASSERT_TRUE(sent.has_value()) << sent.error().message;
  EXPECT_EQ(*sent, 200u);
  std::string expected;
  for (auto& c : kChunks) expected += c;
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected);
  EXPECT_GE(pieces, 4);
  EXPECT_TRUE(done);
  EXPECT_EQ(client.idle_connections(), 1u);  // a complete chunked body keeps the connection
}

TEST(HttpClient, ReadAllOverLimit_IsUpstreamError) {
  TestServer srv([](Exchange& ex) -> Task<void> {
    co_await ex.send(json_response(200, std::string(5000, 'x')));
  });
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&]() -> Task<core::Result<std::string>> {
    auto res = co_await client.send(request(srv.url()));
    if (!res) co_return std::unexpected(res.error());
    co_return co_await (*res)->read_all(1000);
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::upstream);
  EXPECT_EQ(client.idle_connections(), 0u);
}

// A raw server for one connection: reads the request head, writes `reply` as given, closes.
class RawOnce {
 public:
  // `later`, when given, follows `reply` after a pause (a body that comes in two reads).
  explicit RawOnce(std::string reply, std::string later = {})
      : acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, reply = std::move(reply), later = std::move(later)] {
      boost::system::error_code ec;
      tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec) return;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        auto n = s.read_some(net::buffer(buf), ec);
        if (ec) return;
        in.append(buf, n);
      }
      net::write(s, net::buffer(reply), ec);
      if (!later.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        net::write(s, net::buffer(later), ec);
      }
      s.shutdown(tcp::socket::shutdown_both, ec);
      s.close(ec);
    });
  }
  ~RawOnce() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
  }

 private:
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// One fetch from a RawOnce server that answers `reply`; also the client's idle connections after.
std::pair<core::Result<Reply>, std::size_t> fetch_raw(std::string reply, std::string later = {}) {
  RawOnce srv(std::move(reply), std::move(later));
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, request(srv.url())); });
  return {std::move(r), client.idle_connections()};
}

// Heads with a Content-Length take the fast path (parse_simple_response); its body is counted
// by the client, across reads, and the connection's keep-alive follows the head.
TEST(HttpClient, ContentLengthBody_InTwoReads_KeepAliveAsTheHeadSays) {
  {
    auto [r, idle] = fetch_raw("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello", " world");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->body, "hello world");
    EXPECT_EQ(idle, 1u);
  }
  {
    auto [r, idle] =
        fetch_raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->body, "ok");
    EXPECT_EQ(idle, 0u);
  }
  {
    // Bytes after the body are not part of it.
    auto [r, idle] = fetch_raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->body, "ok");
  }
}

// Chunked answers take the fast path too: the client undoes the framing itself, whatever the
// split between reads (in a size line, in a CRLF, in data, in the trailer).
TEST(HttpClient, ChunkedBody_AnySplit_DecodedWhole) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body =
      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t split : {1, 3, 7, 9, 11, 16, 17, 20, 30, 49, 50, 51, 55, 60, 66}) {
    SCOPED_TRACE(split);
    auto [r, idle] = fetch_raw(head + body.substr(0, split), body.substr(split));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->body, "helloabcdefghijklmnopqrstuvwxyz");
    EXPECT_EQ(idle, 1u);  // complete: back to the pool
  }
}

TEST(HttpClient, ChunkedBody_BadFramingOrCutShort_IsAnError) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::string body : {"zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
                           "5 x\r\nhello\r\n0\r\n\r\n", "5\r\nhel"}) {
    SCOPED_TRACE(body);
    auto [r, idle] = fetch_raw(head + body);
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(idle, 0u);
  }
}

TEST(HttpClient, BodyThatEndsWithTheConnection_IsComplete) {
  auto [r, idle] =
      fetch_raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello until close");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "hello until close");
  EXPECT_EQ(idle, 0u);  // not reusable
}

TEST(HttpClient, HeadCutShort_IsUpstreamError) {
  auto [r, idle] = fetch_raw("HTTP/1.1 200 OK\r\nContent-Ty");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::upstream) << r.error().message;
  EXPECT_EQ(idle, 0u);
}

TEST(HttpClient, BodyCutShort_IsUpstreamError) {
  auto [r, idle] = fetch_raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::upstream) << r.error().message;
  EXPECT_EQ(idle, 0u);
}

TEST(HttpClient, FinishBuffered_CompletesAStreamWhoseEndIsAlreadyHere) {
  RawOnce srv(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  net::io_context ioc;
  Client client(ioc);
  std::string first;
  bool finished = false;
  auto r = run(ioc, [&]() -> Task<core::Result<bool>> {
    auto res = co_await client.send(request(srv.url()));
    if (!res) co_return std::unexpected(res.error());
    // Let the whole answer arrive, then take one piece: the rest is buffered, unparsed or not.
    co_await sleep_for(100ms);
    auto piece = co_await (*res)->read_some();
    if (!piece) co_return std::unexpected(piece.error());
    first = std::string(*piece);
    finished = (*res)->finish_buffered();
    co_return (*res)->done();
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(first.empty());
  EXPECT_TRUE(finished);
  EXPECT_TRUE(*r);
  EXPECT_EQ(client.idle_connections(), 1u);  // complete: pooled, no drain needed
}

TEST(HttpClient, FinishBuffered_IsFalseWhileTheEndIsStillToCome) {
  RawOnce srv("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&]() -> Task<core::Result<bool>> {
    auto res = co_await client.send(request(srv.url()));
    if (!res) co_return std::unexpected(res.error());
    auto piece = co_await (*res)->read_some();
    if (!piece) co_return std::unexpected(piece.error());
    co_return (*res)->finish_buffered();
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(*r);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpClient, ClosedPort_IsUpstreamErrorMentioningConnect) {
  net::io_context ioc;
  std::uint16_t port;
  {
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    port = a.local_endpoint().port();
  }
  Client client(ioc);
  auto start = Clock::now();
  auto r = run(ioc, [&] {
    return fetch(client, request("http://127.0.0.1:" + std::to_string(port) + "/"));
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::upstream);
  EXPECT_NE(r.error().message.find("connect"), std::string::npos) << r.error().message;
  EXPECT_TRUE(r.error().retryable);
  EXPECT_LT(elapsed_ms(start), 1000);
}

TEST(HttpClient, BadUrl_IsInternalError) {
  net::io_context ioc;
  Client client(ioc);
  for (std::string url : {"ftp://127.0.0.1/x", "not a url", "/relative"}) {
    auto r = run(ioc, [&] { return fetch(client, request(url)); });
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().kind, ErrorKind::internal) << url;
  }
}

Task<void> never_answer(Exchange& ex) {
  co_await sleep_for(5s);
  co_await ex.send(json_response(200, "{}"));
}

TEST(HttpClient, ServerNeverAnswers_FirstByteTimeout) {
  TestServer srv(never_answer);
  net::io_context ioc;
  Client client(ioc);
  auto req = request(srv.url());
  req.timeouts.first_byte_ms = 200;
  auto start = Clock::now();
  auto r = run(ioc, [&] { return fetch(client, req); });
  auto took = elapsed_ms(start);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::timeout);
  EXPECT_NE(r.error().message.find("first byte"), std::string::npos) << r.error().message;
  EXPECT_GE(took, 150);
  EXPECT_LT(took, 1000);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpClient, TotalShorterThanFirstByte_TotalTimeout) {
  TestServer srv(never_answer);
  net::io_context ioc;
  Client client(ioc);
  auto req = request(srv.url());
  req.timeouts.first_byte_ms = 3000;
  req.timeouts.total_ms = 200;
  auto start = Clock::now();
  auto r = run(ioc, [&] { return fetch(client, req); });
  auto took = elapsed_ms(start);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::timeout);
  EXPECT_GE(took, 150);
  EXPECT_LT(took, 1000);
}

// The message must name the budget that ran out, or an operator raises the wrong timeout.
TEST(HttpClient, TotalShorterThanFirstByte_MessageNamesTotal) {
  TestServer srv(never_answer);
  net::io_context ioc;
  Client client(ioc);
  auto req = request(srv.url());
  req.timeouts.first_byte_ms = 3000;
  req.timeouts.total_ms = 100;
  auto r = run(ioc, [&] { return fetch(client, req); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "upstream total timeout");
}

// Sends one chunk, then stalls until the client leaves (or 3 s pass).
struct StallingStream {
  std::atomic<bool> client_gone{false};
  Handler handler() {
    return [this](Exchange& ex) -> Task<void> {
      bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
      ex.start_chunked(std::move(head));
      if (!co_await ex.write_chunk("first")) co_return;
      net::steady_timer limit(co_await net::this_coro::executor, 3s);
      auto which = co_await (ex.client_gone() || limit.async_wait(net::use_awaitable));
      if (which.index() == 0 && std::get<0>(which)) client_gone = true;
    };
  }
};

TEST(HttpClient, StreamStallsBetweenReads_IdleTimeout) {
  StallingStream stall;
  TestServer srv(stall.handler());
  net::io_context ioc;
  Client client(ioc);
  auto req = request(srv.url());
  req.timeouts.idle_ms = 200;
  std::string first;
  auto start = Clock::now();
  auto r = run(ioc, [&]() -> Task<core::Result<std::string_view>> {
    auto res = co_await client.send(req);
    if (!res) co_return std::unexpected(res.error());
    auto piece = co_await (*res)->read_some();
    if (!piece) co_return std::unexpected(piece.error());
    first = std::string(*piece);
    co_return co_await (*res)->read_some();
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(first, "first");
  EXPECT_EQ(r.error().kind, ErrorKind::timeout);
  EXPECT_NE(r.error().message.find("idle"), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed_ms(start), 1000);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST(HttpClient, ResponseDestroyedMidBody_ClosesConnection) {
  StallingStream stall;
  TestServer srv(stall.handler());
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&]() -> Task<core::Result<std::string>> {
    auto res = co_await client.send(request(srv.url()));
    if (!res) co_return std::unexpected(res.error());
    auto piece = co_await (*res)->read_some();
    if (!piece) co_return std::unexpected(piece.error());
    std::string got(*piece);
    EXPECT_FALSE((*res)->done());
    res->reset();  // abandon the body: this is how an upstream request is cancelled
    co_return got;
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, "first");
  EXPECT_EQ(client.idle_connections(), 0u);
  EXPECT_TRUE(eventually([&] { return stall.client_gone.load(); }))
      << "the server never saw the connection close";
}

TEST(HttpClient, IdleConnectionClosedByServer_NextRequestOpensNewOne) {
  ServerOptions opts;
  opts.idle_timeout_ms = 50;
  TestServer srv(echo, opts);
  net::io_context ioc;
  Client client(ioc);
  auto first = run(ioc, [&] { return fetch(client, request(srv.url("/one"))); });
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_EQ(client.idle_connections(), 1u);
  ASSERT_TRUE(eventually([&] { return srv.server().open_connections() == 0; }));
  auto second = run(ioc, [&] { return fetch(client, request(srv.url("/two"))); });
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(json::parse(second->body).at("target").as_string(), "/two");
  EXPECT_EQ(client.idle_connections(), 1u);
}

// "/stall" streams one chunk and stalls; anything else is echoed.
struct StallOrEcho {
  StallingStream stall;
  Handler stall_handler = stall.handler();
  Handler handler() {
    return [this](Exchange& ex) -> Task<void> {
      if (ex.request().target() == "/stall") return stall_handler(ex);
      return echo(ex);
    };
  }
};

TEST(HttpClient, PoolFull_WaitsThenTimesOut) {
  StallOrEcho h;
  TestServer srv(h.handler());
  net::io_context ioc;
  Client client(ioc);
  auto held_req = request(srv.url("/stall"));
  held_req.max_connections = 1;
  auto req = request(srv.url("/echo"));
  req.max_connections = 1;
  req.timeouts.connect_ms = 200;
  auto start = Clock::now();
  auto r = run(ioc, [&]() -> Task<core::Result<Reply>> {
    auto held = co_await client.send(held_req);  // takes the only connection
    EXPECT_TRUE(held.has_value());
    co_return co_await fetch(client, req);
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::timeout);
  EXPECT_NE(r.error().message.find("full"), std::string::npos) << r.error().message;
  EXPECT_GE(elapsed_ms(start), 150);
  EXPECT_LT(elapsed_ms(start), 1000);
}

TEST(HttpClient, PoolFull_ReleasedConnectionWakesWaiter) {
  StallOrEcho h;
  TestServer srv(h.handler());
  net::io_context ioc;
  Client client(ioc);
  auto held_req = request(srv.url("/stall"));
  held_req.max_connections = 1;
  auto req = request(srv.url("/echo"));
  req.max_connections = 1;
  auto start = Clock::now();
  auto r = run(ioc, [&]() -> Task<core::Result<Reply>> {
    auto held = co_await client.send(held_req);
    if (!held) co_return std::unexpected(held.error());
    auto drop_later = [&]() -> Task<void> {
      co_await sleep_for(50ms);
      held->reset();
    };
    co_return co_await (fetch(client, req) && drop_later());
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(json::parse(r->body).at("target").as_string(), "/echo");
  EXPECT_LT(elapsed_ms(start), 1000);
}

// ---- TLS ----

// A minimal HTTPS server on its own thread: handshakes, records the SNI it was sent and
// answers every request on the connection with a fixed response.
class TlsServer {
 public:
  TlsServer(const std::string& cert, const std::string& key, const std::string& host = "127.0.0.1")
      : ctx_(ssl::context::tls_server), acceptor_(ioc_) {
    ctx_.use_certificate_chain_file(kTls + cert);
    ctx_.use_private_key_file(kTls + key, ssl::context::pem);
    tcp::endpoint ep(net::ip::make_address(host), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsServer() {
    ioc_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::vector<std::string> server_names() const {
    std::lock_guard lock(mu_);
    return server_names_;
  }

  static constexpr std::string_view kBody = R"({"tls":true})";

 private:
  Task<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      ++accepted_;
      net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
    }
  }

  Task<void> serve(tcp::socket sock) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), ctx_);
    beast::get_lowest_layer(stream).expires_after(5s);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (hec) co_return;
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    {
      std::lock_guard lock(mu_);
      server_names_.emplace_back(sni ? sni : "");
    }
    static const std::string kResponse =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
    beast::flat_buffer buf;
    for (;;) {
      StringRequest req;
      auto [rec, rn] = co_await bhttp::async_read(stream, buf, req, use_tuple);
      if (rec) co_return;
      auto [wec, wn] = co_await net::async_write(stream, net::buffer(kResponse), use_tuple);
      if (wec) co_return;
    }
  }

  ssl::context ctx_;
  net::io_context ioc_;  // after ctx_: destroying it destroys connections that use ctx_
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  std::vector<std::string> server_names_;
  std::thread thread_;
};

ClientRequest tls_request(std::string host, std::uint16_t port, bool with_ca) {
  auto req = request("https://" + host + ":" + std::to_string(port) + "/v1/models");
  if (with_ca) req.ca_file = kTls + "ca.pem";
  return req;
}

void expect_tls_failure(const core::Result<Reply>& r) {
  ASSERT_FALSE(r.has_value()) << "status " << r->status;
  EXPECT_EQ(r.error().kind, ErrorKind::upstream);
  EXPECT_NE(r.error().message.find("TLS handshake"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("verify"), std::string::npos) << r.error().message;
}

TEST(HttpsClient, CaFileTrusted_VerifiesAndSendsSni) {
  TlsServer srv("server.pem", "server.key");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("localhost", srv.port(), true)); });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, TlsServer::kBody);
  EXPECT_EQ(srv.server_names(), std::vector<std::string>{"localhost"});
}

TEST(HttpsClient, WithoutCaFile_FailsVerification) {
  TlsServer srv("server.pem", "server.key");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("localhost", srv.port(), false)); });
  expect_tls_failure(r);
}

TEST(HttpsClient, SelfSignedServerNotFromCa_FailsVerification) {
  TlsServer srv("selfsigned.pem", "selfsigned.key");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("localhost", srv.port(), true)); });
  expect_tls_failure(r);
}

// The certificate carries IP:127.0.0.1 in its SAN, so an IP URL verifies against it.
TEST(HttpsClient, IpHostMatchingIpSan_Passes) {
  TlsServer srv("server.pem", "server.key");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("127.0.0.1", srv.port(), true)); });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200u);
}

// RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
TEST(HttpsClient, IpHost_SendsNoSni) {
  TlsServer srv("server.pem", "server.key");
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("127.0.0.1", srv.port(), true)); });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(srv.server_names(), std::vector<std::string>{""});
}

// A chain that verifies is not enough: the name must match too. 127.0.0.2 is loopback on
// Linux but is not in the certificate.
TEST(HttpsClient, HostNotInCertificate_FailsHostNameCheck) {
  std::unique_ptr<TlsServer> srv;
  try {
    srv = std::make_unique<TlsServer>("server.pem", "server.key", "127.0.0.2");
  } catch (const std::exception& e) {
    GTEST_SKIP() << "cannot listen on 127.0.0.2: " << e.what();
  }
  net::io_context ioc;
  Client client(ioc);
  auto r = run(ioc, [&] { return fetch(client, tls_request("127.0.0.2", srv->port(), true)); });
  expect_tls_failure(r);
}

TEST(HttpsClient, SecondRequest_ReusesTlsConnection) {
  TlsServer srv("server.pem", "server.key");
  net::io_context ioc;
  Client client(ioc);
  auto req = tls_request("localhost", srv.port(), true);
  auto first = run(ioc, [&] { return fetch(client, req); });
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(client.idle_connections(), 1u);
  auto second = run(ioc, [&] { return fetch(client, req); });
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->body, TlsServer::kBody);
  EXPECT_EQ(srv.accepted(), 1);
  EXPECT_EQ(client.idle_connections(), 1u);
}

}  // namespace
}  // namespace stratus::http
