// A receive on a plain TCP socket that tells Asio's reactor when it drained the socket, so the
// next receive waits for epoll instead of trying the socket first and finding nothing.
//
// Why: Asio's reactor tries a read before it queues one ("speculative" read) unless it knows the
// socket is empty, and it learns that only from an end of stream. On a keep-alive connection
// every request's first read (the client's next request, the upstream's answer) comes while
// the peer is still busy, so each one cost a recv that said EAGAIN: 1.86 per proxied request at
// 64 connections, half of all receives. nginx avoids them by noting that a read drained the
// socket ("ready = 0"); this does the same through the reactor's own mechanism: an operation
// that reports `done_and_exhausted` clears the descriptor's speculative flag under its lock, in
// the same step as the read, and the next edge from epoll sets it again.
//
// "Drained" is the kernel's word, not a guess from a short read: with TCP_INQ on the socket
// (enable_drain_read), every recvmsg returns how many bytes are still queued, and a nonzero
// count when an end of stream is waiting. A short read alone would not do: data and
// the peer's FIN can come in one epoll edge, and after reading the data nothing would ever
// wake the read that should see the end. Without the count (TCP_INQ refused) the read is an
// ordinary one. Any byte that arrives after the count was taken raises a new edge.
//
// A reset is the one thing the count does not show: bytes and then a reset that the reactor
// saw before the bytes were read leave a count of zero and no edge to come. So a read in the
// middle of a message (`Try::first`) tries the socket itself before it waits, as Asio's own
// read does; only the read that starts a message (a client's next request, an upstream's
// answer) waits at once, and a reset there shows on the next write.
//
// The operation follows Asio's own receive operation (handler allocation, outstanding work,
// per-operation cancellation), with Boost 1.81's epoll reactor; anything else (another Boost,
// io_uring, no epoll) uses async_read_some unchanged.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "http/asio.h"

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define STRATUS_DRAIN_READ 1
#else
#define STRATUS_DRAIN_READ 0
#endif

namespace stratus::http {

// Receive calls made by async_read_drain on this thread (for tests: a read that waits for epoll
// after a drained read makes one call, not two).
inline thread_local std::uint64_t drain_recv_calls = 0;

// Whether a read tries the socket before it waits, when the last read drained it.
enum class Try { wait, first };

#if STRATUS_DRAIN_READ
namespace drain_detail {
namespace ad = boost::asio::detail;

// The socket's reactor registration, through basic_socket's protected member (a pointer to a
// member named through a derived class, which the access rules allow).
struct SocketAccess : tcp::socket {
  static auto& impl(tcp::socket& s) { return (s.*(&SocketAccess::impl_)).get_implementation(); }
};

// Per-operation cancellation (a cancellation slot on the handler, as awaitable operators and
// the gateway's client-left signal use), as Asio's own receive does it.
class Cancel {
 public:
  Cancel(ad::reactor* r, ad::reactor::per_descriptor_data* d, int fd)
      : reactor_(r), data_(d), fd_(fd) {}
  void operator()(net::cancellation_type_t type) {
    if (!!(type & (net::cancellation_type::terminal | net::cancellation_type::partial |
                   net::cancellation_type::total))) {
      reactor_->cancel_ops_by_key(fd_, *data_, ad::reactor::read_op, this);
    }
  }

 private:
  ad::reactor* reactor_;
  ad::reactor::per_descriptor_data* data_;
  int fd_;
};

template <class Handler, class IoExecutor>
class RecvOp : public ad::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(RecvOp);

  RecvOp(int fd, net::mutable_buffer buf, Handler& handler, const IoExecutor& io_ex)
      : ad::reactor_op(boost::system::error_code(), &RecvOp::perform_recv, &RecvOp::complete_recv),
        fd_(fd),
        buf_(buf),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status perform_recv(ad::reactor_op* base) {
    auto* o = static_cast<RecvOp*>(base);
    iovec iov{o->buf_.data(), o->buf_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    for (;;) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ++drain_recv_calls;
      ssize_t n = ::recvmsg(o->fd_, &msg, MSG_DONTWAIT);
      if (n > 0) {
        o->bytes_transferred_ = static_cast<std::size_t>(n);
        return queued_bytes(msg) == 0 ? done_and_exhausted : done;
      }
      if (n == 0) {
        if (o->buf_.size() > 0) o->ec_ = net::error::eof;
        return done;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      o->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
      return done;
    }
  }

  // TCP_INQ's count, or -1 when the socket does not send it.
  static int queued_bytes(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
        int inq;
        std::memcpy(&inq, CMSG_DATA(c), sizeof inq);
        return inq;
      }
    }
    return -1;
  }

  static void complete_recv(void* owner, ad::operation* base, const boost::system::error_code&,
                            std::size_t) {
    auto* o = static_cast<RecvOp*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    ad::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The handler is moved out before the operation's memory is freed: it may own that memory.
    ad::binder2<Handler, boost::system::error_code, std::size_t> handler(o->handler_, o->ec_,
                                                                         o->bytes_transferred_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) {
      ad::fenced_block b(ad::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  int fd_;
  net::mutable_buffer buf_;
  Handler handler_;
  ad::handler_work<Handler, IoExecutor> work_;
};

struct Initiate {
  tcp::socket* socket;
  ad::reactor* reactor_ptr;
  template <class Handler>
  void operator()(Handler&& handler, net::mutable_buffer buf, bool try_first) const {
    using H = std::decay_t<Handler>;
    using Op = RecvOp<H, tcp::socket::executor_type>;
    auto& impl = SocketAccess::impl(*socket);
    auto& reactor = *reactor_ptr;
    bool continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = net::get_associated_cancellation_slot(handler);
    typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) Op(impl.socket_, buf, handler, socket->get_executor());
    if (slot.is_connected()) {
      p.p->cancellation_key_ =
          &slot.template emplace<Cancel>(&reactor, &impl.reactor_data_, impl.socket_);
    }
    if (try_first && impl.reactor_data_ != nullptr &&
        Op::perform_recv(p.p) != ad::reactor_op::not_done) {
      reactor.post_immediate_completion(p.p, continuation);
    } else {
      reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, continuation,
                       true);
    }
    p.v = p.p = nullptr;
  }
};
}  // namespace drain_detail

// Asks the kernel for TCP_INQ's count on every read of this socket (see above); once per
// connection, after it is open. Without it async_read_drain is an ordinary read.
inline void enable_drain_read(tcp::socket& socket) {
  int on = 1;
  (void)::setsockopt(socket.native_handle(), SOL_TCP, TCP_INQ, &on, sizeof on);
}

// The reactor behind a socket's io_context. use_service takes a lock and walks a list, so a
// connection looks it up once and hands it to every read.
using Reactor = drain_detail::ad::reactor*;
inline Reactor reactor_of(tcp::socket& socket) {
  return &net::use_service<drain_detail::ad::reactor>(
      net::query(socket.get_executor(), net::execution::context));
}

// As socket.async_read_some(buf, token), for a plain TCP socket whose io_context's reactor is
// `reactor`. `Try::wait` for the read that starts a message, `Try::first` for the reads after
// it (see above).
template <class Token>
auto async_read_drain(tcp::socket& socket, Reactor reactor, net::mutable_buffer buf, Try how,
                      Token&& token) {
  return net::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
      drain_detail::Initiate{&socket, reactor}, token, buf, how == Try::first);
}
#else
inline void enable_drain_read(tcp::socket&) {}
using Reactor = void*;
inline Reactor reactor_of(tcp::socket&) { return nullptr; }
template <class Token>
auto async_read_drain(tcp::socket& socket, Reactor, net::mutable_buffer buf, Try, Token&& token) {
  return socket.async_read_some(buf, std::forward<Token>(token));
}
#endif

}  // namespace stratus::http
