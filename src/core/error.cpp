// Error kinds → HTTP status, OpenAI type strings and the OpenAI error body.
#include "core/error.h"

#include <boost/json.hpp>

namespace stratus::core {

Error Error::make(ErrorKind kind, std::string message, std::string param, std::string code) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  e.retryable = retryable_by_default(kind);
  return e;
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
    case ErrorKind::context_length:
      return 400;
    case ErrorKind::authentication:
      return 401;
    case ErrorKind::permission:
      return 403;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::method_not_allowed:
      return 405;
    case ErrorKind::payload_too_large:
      return 413;
    case ErrorKind::rate_limit:
      return 429;
    case ErrorKind::overloaded:
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::upstream:
      return 502;
    case ErrorKind::timeout:
      return 504;
    case ErrorKind::internal:
      return 500;
  }
  return 500;
}

std::string_view openai_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
    case ErrorKind::context_length:
    case ErrorKind::not_found:
    case ErrorKind::method_not_allowed:
    case ErrorKind::payload_too_large:
      return "invalid_request_error";
    case ErrorKind::authentication:
      return "authentication_error";
    case ErrorKind::permission:
      return "permission_error";
    case ErrorKind::rate_limit:
      return "rate_limit_error";
    case ErrorKind::overloaded:
    case ErrorKind::unavailable:
    case ErrorKind::upstream:
    case ErrorKind::internal:
      return "server_error";
    case ErrorKind::timeout:
      return "timeout_error";
  }
  return "server_error";
}

bool retryable_by_default(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::rate_limit:
    case ErrorKind::overloaded:
    case ErrorKind::upstream:
    case ErrorKind::timeout:
    case ErrorKind::unavailable:
      return true;
    default:
      return false;
  }
}

std::string_view kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
      return "invalid_request";
    case ErrorKind::authentication:
      return "authentication";
    case ErrorKind::permission:
      return "permission";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::method_not_allowed:
      return "method_not_allowed";
    case ErrorKind::payload_too_large:
      return "payload_too_large";
    case ErrorKind::context_length:
      return "context_length";
    case ErrorKind::rate_limit:
      return "rate_limit";
    case ErrorKind::overloaded:
      return "overloaded";
    case ErrorKind::upstream:
      return "upstream";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::unavailable:
      return "unavailable";
    case ErrorKind::internal:
      return "internal";
  }
  return "internal";
}

std::string to_openai_json(const Error& e) {
  boost::json::object err;
  err["message"] = e.message;
  err["type"] = openai_type(e.kind);
  err["param"] = e.param.empty() ? boost::json::value(nullptr) : boost::json::value(e.param);
  std::string code = e.code;
  if (code.empty() && e.kind == ErrorKind::context_length) code = "context_length_exceeded";
  err["code"] = code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
  boost::json::object root;
  root["error"] = std::move(err);
  return boost::json::serialize(root);
}

}  // namespace stratus::core
