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
}  // namespace stratus::http
