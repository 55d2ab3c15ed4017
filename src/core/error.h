// The error vocabulary shared by every module: a kind the router can act on, and the
// OpenAI-shaped fields a client sees.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace stratus::core {

enum class ErrorKind {
  invalid_request,     // 400
  authentication,      // 401
  permission,          // 403
  not_found,           // 404
  method_not_allowed,  // 405
  payload_too_large,   // 413
  context_length,      // 400, code context_length_exceeded
  rate_limit,          // 429
  overloaded,          // 503
  upstream,            // 502
  timeout,             // 504
  unavailable,         // 503: nothing left to try
  internal,            // 500
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string param;  // empty: null in the JSON body
  std::string code;   // empty: null in the JSON body
  bool retryable = false;
  std::optional<int> retry_after_s;
  int upstream_status = 0;  // the provider's own status, when there was one
  // The request never reached the provider (resolving, connecting or the TLS handshake
  // failed, or the pool to it stayed full): trying elsewhere adds no load to it.
  bool not_sent = false;

  static Error make(ErrorKind kind, std::string message, std::string param = {},
                    std::string code = {});
};

// HTTP status a client gets for this kind.
int http_status(ErrorKind kind);
// OpenAI's `error.type` string for this kind.
std::string_view openai_type(ErrorKind kind);
// Whether the router may try another deployment after this kind by default.
bool retryable_by_default(ErrorKind kind);
std::string_view kind_name(ErrorKind kind);

// OpenAI's error body: {"error":{"message","type","param","code"}}.
std::string to_openai_json(const Error& e);

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message, std::string param = {},
                                   std::string code = {}) {
  return std::unexpected(Error::make(kind, std::move(message), std::move(param), std::move(code)));
}

}  // namespace stratus::core
