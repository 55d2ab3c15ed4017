// A fast path for the usual request (and upstream response) head: complete in the buffer, HTTP/1.1,
// plain and unambiguous. It accepts a strict subset of what Beast's parser accepts and reads it the
// same way; anything else (incomplete, unusual or invalid) is declined, and the caller lets Beast
// parse the same bytes, with its rules and its errors. Beast's general parser cost about
// 3k instructions for a four-field request head, a tenth of a proxied request.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/fields.h"

namespace stratus::http {

struct SimpleHead {
  std::string_view method;
  std::string_view target;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  std::size_t size = 0;  // bytes of the head, its blank line included
};

// Accepted: "METHOD SP target SP HTTP/1.1 CRLF", then fields "name: value CRLF" with token
// names and values of printable ASCII (SP and HTAB too), then CRLF; at most one Content-Length
// (digits only), Connection only "keep-alive" or "close", and no Transfer-Encoding, Upgrade or
// Expect; the whole head within `max_size` bytes. Fields go to `fields` (also when declined:
// the caller clears them).
std::optional<SimpleHead> parse_simple_request(std::string_view text, std::size_t max_size,
                                               HeadFields& fields);

// The same for an upstream response head: "HTTP/1.1 ddd reason CRLF" (a status of 200-599
// other than 204 and 304; a reason of printable ASCII), the same field rules, and either one
// Content-Length or one "Transfer-Encoding: chunked", not both. Anything else
// (close-delimited, 1xx, HTTP/1.0, incomplete) is declined for Beast.
struct SimpleResponseHead {
  unsigned status = 0;
  bool chunked = false;
  std::uint64_t content_length = 0;  // when not chunked
  bool keep_alive = true;
  std::size_t size = 0;  // bytes of the head, its blank line included
};
std::optional<SimpleResponseHead> parse_simple_response(std::string_view text, std::size_t max_size,
                                                        HeadFields& fields);

}  // namespace stratus::http
