// Shared adapter helpers.
#include "providers/common.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "providers/adapter.h"

namespace stratus::providers {

using core::ErrorKind;

ErrorKind kind_for_status(int status) {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return ErrorKind::invalid_request;
    case 401:
      return ErrorKind::authentication;
    case 403:
      return ErrorKind::permission;
    case 404:
      return ErrorKind::not_found;
    case 408:
    case 504:
      return ErrorKind::timeout;
    case 409:  // a conflict at the provider (e.g. a lock timeout): transient, worth a retry
      return ErrorKind::upstream;
    case 429:
      return ErrorKind::rate_limit;
    case 503:
    case 529:
      return ErrorKind::overloaded;
    default:
      return status >= 500 ? ErrorKind::upstream : ErrorKind::invalid_request;
  }
}

std::optional<int> retry_after_seconds(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  double secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec != std::errc() || p != v.data() + v.size() || secs < 0) return std::nullopt;
  return static_cast<int>(secs + 0.999);
}

bool mentions_context_length(std::string_view message) {
  std::string m(message);
  std::transform(m.begin(), m.end(), m.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view needle :
       {std::string_view("context length"), std::string_view("context window"),
        std::string_view("context_length"), std::string_view("prompt is too long"),
        std::string_view("input is too long"), std::string_view("too many input tokens"),
        std::string_view("maximum context"), std::string_view("input token count")}) {
    if (m.find(needle) != std::string::npos) return true;
  }
  return false;
}

core::Error provider_error(const core::UpstreamResponse& res, std::string_view provider,
                           std::string message, std::optional<ErrorKind> kind) {
  ErrorKind k = kind ? *kind : kind_for_status(res.status);
  if ((k == ErrorKind::invalid_request) && mentions_context_length(message)) {
    k = ErrorKind::context_length;
  }
  std::string text = "provider '" + std::string(provider) + "'";
  text += res.status / 100 == 2 ? " reported an error in its stream: "
                                : " answered " + std::to_string(res.status) + ": ";
  text += message;
  auto e = core::Error::make(k, std::move(text));
  if (k == ErrorKind::context_length) {
    e.code = "context_length_exceeded";
    e.param = "messages";
  }
  e.upstream_status = res.status;
  e.retry_after_s = retry_after_seconds(res.header("retry-after"));
  if (!e.retry_after_s)
    e.retry_after_s = retry_after_seconds(res.header("x-ratelimit-reset-requests"));
  return e;
}

std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

std::optional<boost::json::value> JsonScratch::parse(std::string_view text) {
  resource_.release();  // the previous value is gone: reuse the buffer from its start
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec, &resource_);
  if (ec) return std::nullopt;
  return v;
}

std::string encode_path_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

core::Result<core::UpstreamRequest> Adapter::encode_embeddings(const api::Embeddings&,
                                                               const Deployment& d) const {
  return core::fail(
      ErrorKind::invalid_request,
      "provider '" + d.provider + "' (" + std::string(name()) + ") does not offer embeddings",
      "model", "embeddings_not_supported");
}

core::Result<api::EmbeddingsResponse> Adapter::decode_embeddings(const core::UpstreamResponse&,
                                                                 const Deployment& d) const {
  return core::fail(ErrorKind::internal, "provider '" + d.provider + "' has no embeddings decoder");
}

}  // namespace stratus::providers
