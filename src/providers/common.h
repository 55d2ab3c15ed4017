// Pieces every adapter shares: HTTP status → error kind, Retry-After, JSON helpers.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/upstream.h"

namespace stratus::providers {

// The error kind for a provider's HTTP status: 400 invalid_request, 401 authentication,
// 403 permission, 404 not_found, 408/504 timeout, 413 invalid_request, 429 rate_limit,
// 503/529 overloaded, other 5xx upstream.
core::ErrorKind kind_for_status(int status);

// An error for a provider answer: kind from the status (unless `kind` is given), the provider's
// message prefixed with the provider name, retryable by kind, Retry-After (seconds) read from the
// response, upstream_status set. A message that says the context is too long becomes
// context_length with code context_length_exceeded.
core::Error provider_error(const core::UpstreamResponse& res, std::string_view provider,
                           std::string message, std::optional<core::ErrorKind> kind = std::nullopt);

// Retry-After as seconds (delta-seconds only; HTTP dates are ignored); nullopt when absent.
std::optional<int> retry_after_seconds(std::string_view value);

// Whether a provider message means the prompt did not fit the model's context window.
bool mentions_context_length(std::string_view message);

// Parses a JSON body; nullopt when it is not JSON.
std::optional<boost::json::value> parse_json(std::string_view text);

// Parses many small JSON documents (stream events) without a heap allocation each: values live
// in an inline buffer that the next parse() reuses, so a value must not outlive that call.
class JsonScratch {
 public:
  JsonScratch() : resource_(buffer_, sizeof buffer_) {}
  JsonScratch(const JsonScratch&) = delete;
  JsonScratch& operator=(const JsonScratch&) = delete;
  std::optional<boost::json::value> parse(std::string_view text);

 private:
  alignas(std::max_align_t) unsigned char buffer_[8192];
  boost::json::monotonic_resource resource_;
};

// Percent-encodes a URL path segment (RFC 3986 unreserved characters kept): "a:b/c" → "a%3Ab%2Fc".
std::string encode_path_segment(std::string_view s);

}  // namespace stratus::providers
