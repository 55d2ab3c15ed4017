// Tests for async_read_drain (http/drain_read.h): the same results as async_read_some on a
// loopback TCP pair (data, pieces, end of stream, cancellation), and no receive that finds
// nothing after a short read.
#include "http/drain_read.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace stratus::http {
namespace {

using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using boost::system::error_code;

struct Got {
  bool done = false;
  error_code ec;
  std::size_t n = 0;
};

// A connected loopback pair: `a` is read with async_read_drain, `b` is the peer, written
// synchronously. One read at a time: start() it, wait() for it, text() is what it read.
struct Pair {
  net::io_context ioc{1};
  tcp::socket a{ioc};
  tcp::socket b{ioc};
  Reactor reactor{};
  // Keeps poll() and run_for() running the reactor (epoll) even with no operation queued.
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::string out;  // the current read's room
  Got got;          // and its result

  Pair() {
    tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    b.connect(acc.local_endpoint());
    acc.accept(a);
    a.non_blocking(true);
    enable_drain_read(a);
    reactor = reactor_of(a);
  }
  void send(std::string_view s) { net::write(b, net::buffer(s)); }

  // Starts one read of up to `room` bytes.
  void start(Try how = Try::wait, std::size_t room = 64) {
    out.assign(room, '\0');
    got = {};
    async_read_drain(a, reactor, net::buffer(out), how, [this](error_code ec, std::size_t n) {
      got = {true, ec, n};
    });
  }
  // Runs the context until the read completes or `limit` passes.
  bool wait(std::chrono::milliseconds limit = 2000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!got.done && std::chrono::steady_clock::now() < end) {
      ioc.restart();
      ioc.run_one_for(5ms);
    }
    return got.done;
  }
  // Runs what is ready now (the reactor takes pending epoll edges), without waiting.
  void poll() {
    ioc.restart();
    ioc.poll();
  }
  std::string text() const { return out.substr(0, got.n); }
};

TEST(DrainRead, ReadsWhatThePeerSent) {
  Pair p;
  p.send("hello");
  p.start();
  ASSERT_TRUE(p.wait());
  EXPECT_FALSE(p.got.ec);
  EXPECT_EQ(p.text(), "hello");
}

TEST(DrainRead, WaitsForBytesSentLater) {
  Pair p;
  p.start();
  p.ioc.run_for(20ms);
  EXPECT_FALSE(p.got.done);
  p.send("late");
  ASSERT_TRUE(p.wait());
  EXPECT_FALSE(p.got.ec);
  EXPECT_EQ(p.text(), "late");
}

TEST(DrainRead, AReadThatFillsTheBufferLeavesTheRestForTheNext) {
  Pair p;
  p.send("0123456789");
  p.start(Try::wait, 4);
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.text(), "0123");
  std::string all = p.text();
  while (all.size() < 10) {  // no new edge comes for the rest: the reads must try at once
    p.start(Try::wait, 4);
    ASSERT_TRUE(p.wait(500ms)) << "stuck after " << all;
    ASSERT_FALSE(p.got.ec);
    all += p.text();
  }
  EXPECT_EQ(all, "0123456789");
}

// The point of it: after a short read, the next read waits for epoll without a receive that
// finds nothing, so it costs one recv() call, not two.
TEST(DrainRead, AfterAShortReadTheNextReadMakesOneReceive) {
  Pair p;
  p.send("request 1");
  p.start();
  ASSERT_TRUE(p.wait());
  ASSERT_EQ(p.got.n, 9u);
  for (int i = 0; i < 5; ++i) {
    auto before = drain_recv_calls;
    p.start();
    p.poll();
    EXPECT_FALSE(p.got.done);
    p.send("request 2");
    ASSERT_TRUE(p.wait());
    EXPECT_EQ(p.text(), "request 2");
#if STRATUS_DRAIN_READ
    EXPECT_EQ(drain_recv_calls - before, 1u) << "round " << i;
#endif
  }
}

// Bytes that arrive after a short read, and whose epoll edge the reactor took while no read
// was queued, must still be read: the edge sets the reactor's flag again.
TEST(DrainRead, BytesThatArriveBetweenReadsAreNotLost) {
  Pair p;
  p.send("head");
  p.start();
  ASSERT_TRUE(p.wait());
  ASSERT_EQ(p.text(), "head");
  p.send("body");
  for (int i = 0; i < 5; ++i) {  // let the reactor see the edge with nothing queued
    p.ioc.restart();
    p.ioc.run_for(2ms);
  }
  p.start();
  ASSERT_TRUE(p.wait(500ms)) << "the read waited for an edge already taken";
  EXPECT_EQ(p.text(), "body");
}

TEST(DrainRead, EndOfStreamIsEof) {
  Pair p;
  p.send("last");
  p.b.shutdown(tcp::socket::shutdown_send);
  p.start();
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.text(), "last");
  p.start();
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.got.ec, net::error::eof);
  EXPECT_EQ(p.got.n, 0u);
}

// The peer's data and its end can come in one epoll edge: reading the data must not leave the
// next read waiting for an edge that will never come (TCP_INQ counts a waiting end).
TEST(DrainRead, AnEndAlreadySeenByTheReactorIsStillRead) {
  Pair p;
  p.send("last");
  p.b.shutdown(tcp::socket::shutdown_send);
  std::this_thread::sleep_for(5ms);
  p.ioc.poll();  // the reactor takes the edge with no read queued
  p.start();
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.text(), "last");
  p.start();
  ASSERT_TRUE(p.wait(500ms)) << "the end of stream was never read";
  EXPECT_EQ(p.got.ec, net::error::eof);
}

// A reset is not in TCP_INQ's count: a read in the middle of a message (Try::first) looks at the
// socket before it waits, so a reset the reactor saw before the bytes ahead of it is still read.
TEST(DrainRead, AResetAlreadySeenByTheReactorIsReadInTheMiddleOfAMessage) {
  Pair p;
  p.send("last");
  p.b.set_option(net::socket_base::linger(true, 0));
  p.b.close();  // a reset right behind the data
  std::this_thread::sleep_for(5ms);
  p.ioc.poll();  // the reactor takes the edge with no read queued
  p.start();
  ASSERT_TRUE(p.wait());
  if (!p.got.ec) {  // the data before the reset, then the reset
    EXPECT_EQ(p.text(), "last");
    p.start(Try::first);
    ASSERT_TRUE(p.wait(500ms)) << "the reset was never read";
  }
  EXPECT_TRUE(p.got.ec);
}

TEST(DrainRead, TryFirstTakesWhatIsThereAndWaitsForTheRest) {
  Pair p;
  p.send("part 1");
  p.start();
  ASSERT_TRUE(p.wait());
  p.send("part 2");
  p.start(Try::first);
  ASSERT_TRUE(p.wait(500ms));
  EXPECT_EQ(p.text(), "part 2");
  p.start(Try::first);
  p.poll();
  EXPECT_FALSE(p.got.done);
  p.send("part 3");
  ASSERT_TRUE(p.wait(500ms));
  EXPECT_EQ(p.text(), "part 3");
}

TEST(DrainRead, CancelAndCloseAbortAWaitingRead) {
  Pair p;
  p.start();
  p.ioc.poll();
  p.a.cancel();
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.got.ec, net::error::operation_aborted);
  p.start();
  p.ioc.poll();
  p.a.close();
  ASSERT_TRUE(p.wait());
  EXPECT_EQ(p.got.ec, net::error::operation_aborted);
  p.start();  // on a closed socket: an error, not a crash
  ASSERT_TRUE(p.wait());
  EXPECT_TRUE(p.got.ec);
}

// In a coroutine, raced against a timer with awaitable operators: the losing read is
// cancelled through its cancellation slot.
TEST(DrainRead, PerOperationCancellationInACoroutine) {
  Pair p;
  bool timer_won = false;
  std::string late;
  net::co_spawn(
      p.ioc,
      [&]() -> Task<void> {
        char buf[64];
        net::steady_timer t(p.ioc, 20ms);
        auto r =
            co_await (async_read_drain(p.a, p.reactor, net::buffer(buf), Try::wait, use_tuple) ||
                      t.async_wait(use_tuple));
        timer_won = r.index() == 1;
        p.send("after");  // the socket still reads after the cancelled read
        auto [ec, n] =
            co_await async_read_drain(p.a, p.reactor, net::buffer(buf), Try::wait, use_tuple);
        if (!ec) late.assign(buf, n);
      },
      net::detached);
  p.work.reset();  // run until the coroutine ends
  p.ioc.run_for(2s);
  EXPECT_TRUE(timer_won);
  EXPECT_EQ(late, "after");
}

// Many messages, each in two pieces with a pause between, as a client that sends a head and
// then a body does.
TEST(DrainRead, ManyMessagesInPieces) {
  Pair p;
  std::thread peer([&] {
    for (int i = 0; i < 200; ++i) {
      net::write(p.b, net::buffer(std::string("ab")));
      if (i % 20 == 0) std::this_thread::sleep_for(1ms);
      net::write(p.b, net::buffer(std::string("cd")));
    }
  });
  std::string all;
  while (all.size() < 800) {
    p.start(Try::wait, 3);
    if (!p.wait(2000ms)) break;
    if (p.got.ec) break;
    all += p.text();
  }
  peer.join();
  ASSERT_EQ(all.size(), 800u);
  for (std::size_t i = 0; i < all.size(); i += 4) ASSERT_EQ(all.substr(i, 4), "abcd") << i;
}

}  // namespace
}  // namespace stratus::http
