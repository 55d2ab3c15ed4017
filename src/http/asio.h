// The one place that names the Asio/Beast namespaces used across the http, mock and gateway
// modules; including it is what makes a translation unit slow to compile, so few do.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace stratus::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
template <class T = void>
using Task = net::awaitable<T>;
using StringRequest = bhttp::request<bhttp::string_body>;
using StringResponse = bhttp::response<bhttp::string_body>;
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Writing to a non-blocking socket in two steps: first straight away, from the caller's own
// frame (the usual case: the kernel takes it all, and nothing is queued, posted, resumed or
// allocated), then, only for what the kernel did not take, asynchronously:
//   auto ec = write_now(socket, buffers, n);
//   if (!ec && n < net::buffer_size(buffers)) ec = co_await write_rest(socket, buffers, n);
// An Asio async_write that completes at once still posts its completion, which costs a trip
// through the scheduler (and an epoll_wait) per write.
template <class ConstBuffers>
boost::system::error_code write_now(tcp::socket& socket, const ConstBuffers& buffers,
                                    std::size_t& written) {
  boost::system::error_code ec;
  written = socket.write_some(buffers, ec);
  if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
  return ec;
}
template <class ConstBuffers>
Task<boost::system::error_code> write_rest(tcp::socket& socket, const ConstBuffers& buffers,
                                           std::size_t written) {
  beast::buffers_suffix<ConstBuffers> rest(buffers);
  rest.consume(written);
  auto [ec, n] = co_await net::async_write(socket, rest, use_tuple);
  co_return ec;
}
}  // namespace stratus::http
