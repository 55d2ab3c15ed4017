// The request-head fast path: what it accepts it must read exactly as Beast's parser does, and
// everything unusual must be left to Beast.
#include "http/head.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/asio.h"

namespace stratus::http {
namespace {

struct BeastView {
  bool ok = false;
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> fields;
  bool keep_alive = false;
  std::uint64_t content_length = 0;
  std::size_t head_size = 0;
};

// Beast's reading of the head alone.
BeastView beast_read(std::string_view text) {
  BeastView v;
  bhttp::request_parser<bhttp::empty_body> p;
  p.skip(true);  // the head only
  boost::system::error_code ec;
  v.head_size = p.put(net::buffer(text.data(), text.size()), ec);
  if (ec || !p.is_header_done()) return v;
  v.ok = true;
  auto& m = p.get();
  v.method = std::string(m.method_string());
  v.target = std::string(m.target());
  for (auto& f : m) v.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  v.keep_alive = m.keep_alive();
  if (auto cl = m[bhttp::field::content_length]; !cl.empty())
    v.content_length = std::stoull(std::string(cl));
  return v;
}

void expect_same_as_beast(const std::string& text) {
  SCOPED_TRACE(text);
  HeadFields fields;
  auto h = parse_simple_request(text, 16 * 1024, fields);
  ASSERT_TRUE(h.has_value());
  auto b = beast_read(text);
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(h->method, b.method);
  EXPECT_EQ(h->target, b.target);
  EXPECT_EQ(h->keep_alive, b.keep_alive);
  EXPECT_EQ(h->content_length, b.content_length);
  EXPECT_EQ(h->size, b.head_size);
  std::vector<std::pair<std::string, std::string>> mine;
  fields.for_each([&](std::string_view n, std::string_view v) {
    mine.emplace_back(std::string(n), std::string(v));
  });
  EXPECT_EQ(mine, b.fields);
}

TEST(SimpleHead, ReadsTheUsualRequestsAsBeastDoes) {
  expect_same_as_beast(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "Content-Type: application/json\r\nContent-Length: 42\r\n\r\n{...}");
  expect_same_as_beast(
      "POST /v1/chat/completions?x=1&y=%20 HTTP/1.1\r\nhost: a\r\nconnection: keep-alive\r\n"
      "authorization: Bearer sk-abc\r\nx-request-id:  spaced  \r\nx-empty:\r\n"
      "user-agent: OpenAI/JS 4.0\tx\r\ncontent-length: 0\r\n\r\n");
  expect_same_as_beast("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  expect_same_as_beast("GET /v1/models HTTP/1.1\r\n\r\n");
  expect_same_as_beast("PATCH /admin/x HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\n\r\n");
}

TEST(SimpleHead, LeavesEverythingUnusualToBeast) {
  const std::vector<std::string> declined = {
      "",                                                       // nothing yet
      "POST / HTTP/1.1\r\nHost: x\r\n",                         // incomplete head
      "POST / HTTP/1.1\r\nHost: x\r\n\r",                       // incomplete blank line
      "POST / HTTP/1.0\r\n\r\n",                                // not HTTP/1.1
      "POST  / HTTP/1.1\r\n\r\n",                               // two spaces
      "POST /\x80 HTTP/1.1\r\n\r\n",                            // non-ASCII target
      "POST / HTTP/1.1\nHost: x\n\n",                           // bare LF
      "POST / HTTP/1.1\r\nHost : x\r\n\r\n",                    // space before the colon
      "POST / HTTP/1.1\r\nHo(st: x\r\n\r\n",                    // not a token
      "POST / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",                  // obs-fold
      "POST / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",              // obs-text value
      "POST / HTTP/1.1\r\nX: a\x01z\r\n\r\n",                   // control character
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",  // chunked body
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "POST / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n",
      "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
      "POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
  };
  for (const auto& text : declined) {
    SCOPED_TRACE(text);
    HeadFields fields;
    EXPECT_FALSE(parse_simple_request(text, 16 * 1024, fields).has_value());
  }
}

TEST(SimpleHead, EveryOddByteInALongValueOrTargetIsSeen) {
  // Values are checked eight bytes at a time: an odd byte must count wherever it sits.
  for (unsigned char odd : {0x01, 0x1f, 0x7f, 0x80, 0x9f, 0xa0, 0xfe, 0xff}) {
    for (std::size_t at = 0; at < 19; ++at) {
      for (std::size_t size : {8, 9, 16, 19}) {
        if (at >= size) continue;
        std::string value(size, 'v');
        value[at] = static_cast<char>(odd);
        HeadFields fields;
        EXPECT_FALSE(
            parse_simple_request("GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n", 4096, fields))
            << int(odd) << " at " << at << " of " << size;
      }
      std::string value(19, 'v');
      value[at] = static_cast<char>(odd);
      SCOPED_TRACE(testing::Message() << "byte " << int(odd) << " at " << at);
      HeadFields fields;
      EXPECT_FALSE(
          parse_simple_request("GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n", 4096, fields));
      fields.clear();
      EXPECT_FALSE(parse_simple_request("GET /" + value + " HTTP/1.1\r\n\r\n", 4096, fields));
    }
  }
  // A tab inside a value is fine (and Beast agrees on the value).
  for (std::size_t at = 1; at < 18; ++at) {
    std::string value(19, 'v');
    value[at] = '\t';
    expect_same_as_beast("GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n");
  }
}

TEST(SimpleHead, EveryNonTokenByteInANameIsSeen) {
  // Names are checked four bytes at a time up to the colon.
  for (char odd : {' ', '(', ',', '/', ';', '@', '"', '\x7f', '\x80'}) {
    for (std::size_t at = 0; at < 11; ++at) {
      std::string name(11, 'n');
      name[at] = odd;
      HeadFields fields;
      EXPECT_FALSE(parse_simple_request("GET / HTTP/1.1\r\n" + name + ": v\r\n\r\n", 4096, fields))
          << int(odd) << " at " << at;
    }
  }
}

TEST(SimpleHead, AHeadOverTheLimitIsDeclined) {
  std::string text = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  HeadFields fields;
  EXPECT_FALSE(parse_simple_request(text, text.size() - 1, fields).has_value());
  fields.clear();
  EXPECT_TRUE(parse_simple_request(text, text.size(), fields).has_value());
}

TEST(SimpleHead, ThePipelinedNextRequestIsLeftInTheBuffer) {
  std::string one = "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
  std::string text = one + "{}GET /b HTTP/1.1\r\n\r\n";
  HeadFields fields;
  auto h = parse_simple_request(text, 16 * 1024, fields);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->size, one.size());
  EXPECT_EQ(h->content_length, 2u);
  EXPECT_EQ(h->target, "/a");
}

// ---- upstream response heads ----

struct BeastResponseView {
  bool ok = false;
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  bool keep_alive = false;
  std::uint64_t content_length = 0;
  std::size_t head_size = 0;
};

BeastResponseView beast_read_response(std::string_view text) {
  BeastResponseView v;
  bhttp::response_parser<bhttp::empty_body> p;
  p.skip(true);  // the head only
  boost::system::error_code ec;
  v.head_size = p.put(net::buffer(text.data(), text.size()), ec);
  if (ec || !p.is_header_done()) return v;
  v.ok = true;
  auto& m = p.get();
  v.status = m.result_int();
  for (auto& f : m) v.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  v.keep_alive = m.keep_alive();
  if (auto cl = p.content_length()) v.content_length = *cl;
  return v;
}

void expect_response_as_beast(const std::string& text) {
  SCOPED_TRACE(text);
  HeadFields fields;
  auto h = parse_simple_response(text, 8192, fields);
  ASSERT_TRUE(h.has_value());
  auto b = beast_read_response(text);
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(h->status, b.status);
  EXPECT_EQ(h->keep_alive, b.keep_alive);
  EXPECT_EQ(h->content_length, b.content_length);
  EXPECT_EQ(h->size, b.head_size);
  std::vector<std::pair<std::string, std::string>> mine;
  fields.for_each([&](std::string_view n, std::string_view v) {
    mine.emplace_back(std::string(n), std::string(v));
  });
  EXPECT_EQ(mine, b.fields);
}

TEST(SimpleResponseHead, ReadsTheUsualAnswersAsBeastDoes) {
  expect_response_as_beast(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 310\r\n"
      "x-request-id: abc\r\nopenai-processing-ms: 12\r\n\r\n{...}");
  expect_response_as_beast(
      "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nretry-after:  2 \r\n"
      "Connection: close\r\n\r\n");
  expect_response_as_beast("HTTP/1.1 500 \r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
  expect_response_as_beast(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  expect_response_as_beast("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello");
  expect_response_as_beast(
      "HTTP/1.1 201 Created now\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 1\r\n\r\n");
}

TEST(SimpleResponseHead, LeavesEverythingUnusualToBeast) {
  const std::vector<std::string> declined = {
      "",                                          // nothing yet
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",  // incomplete head
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",  // both
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",     // ends with the connection
      "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",            // not HTTP/1.1
      "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",    // never a body
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",  // never a body
      "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",      // interim
      "HTTP/1.1 2x0 OK\r\nContent-Length: 5\r\n\r\n",            // not a status
      "HTTP/1.1 200OK\r\nContent-Length: 5\r\n\r\n",             // no space
      "HTTP/1.1 200 O\x80K\r\nContent-Length: 5\r\n\r\n",        // non-ASCII reason
      "HTTP/1.1 200 OK\nContent-Length: 5\n\n",                  // bare LF
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: a\r\n b\r\n\r\n",  // obs-fold
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
      "HTTP/1.1 200 O\tK\r\nContent-Length: 5\r\n\r\n",  // a tab in the reason (Beast takes it)
  };
  for (const auto& text : declined) {
    SCOPED_TRACE(text);
    HeadFields fields;
    EXPECT_FALSE(parse_simple_response(text, 8192, fields).has_value());
  }
  HeadFields fields;  // over the limit
  std::string big =
      "HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a') + "\r\nContent-Length: 1\r\n\r\n";
  EXPECT_FALSE(parse_simple_response(big, 8192, fields).has_value());
}

}  // namespace
}  // namespace stratus::http
