// Server side SigV4 check (see sigv4.h): recomputes the signature of a header-signed request
// from the headers it names and says why it differs.
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "auth/sigv4.h"
#include "auth/sigv4_detail.h"

namespace stratus::auth {
namespace {

struct ParsedAuthorization {
  std::string_view access_key_id;
  std::string_view date;
  std::string_view region;
  std::string_view service;
  std::string_view signed_headers;
  std::string_view signature;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (true) {
    const std::size_t end = s.find(sep, pos);
    parts.push_back(
        s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (end == std::string_view::npos) return parts;
    pos = end + 1;
  }
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<ParsedAuthorization> parse_authorization(std::string_view value) {
  const std::string_view prefix = sigv4_detail::kAlgorithm;
  if (!value.starts_with(prefix) || value.size() == prefix.size() || value[prefix.size()] != ' ') {
    return std::nullopt;
  }
  ParsedAuthorization out;
  std::string_view credential;
  for (const std::string_view part : split(value.substr(prefix.size() + 1), ',')) {
    const std::string_view field = trim(part);
    if (field.starts_with("Credential=")) {
      credential = field.substr(11);
    } else if (field.starts_with("SignedHeaders=")) {
      out.signed_headers = field.substr(14);
    } else if (field.starts_with("Signature=")) {
      out.signature = field.substr(10);
    } else {
      return std::nullopt;
    }
  }
  const auto scope = split(credential, '/');
  if (scope.size() != 5 || scope[0].empty() || scope[1].size() != 8 || scope[2].empty() ||
      scope[3].empty() || scope[4] != "aws4_request") {
    return std::nullopt;
  }
  out.access_key_id = scope[0];
  out.date = scope[1];
  out.region = scope[2];
  out.service = scope[3];
  if (out.signed_headers.empty() || out.signature.size() != 64 || !is_lower_hex(out.signature)) {
    return std::nullopt;
  }
  return out;
}

// "20150830T123600Z" → time point, or nullopt.
std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (std::size_t i = 0; i < 15; ++i) {
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  using namespace std::chrono;
  const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(4, 2))},
                           day{static_cast<unsigned>(num(6, 2))}};
  if (!ymd.ok() || num(9, 2) > 23 || num(11, 2) > 59 || num(13, 2) > 60) return std::nullopt;
  return sys_days{ymd} + hours{num(9, 2)} + minutes{num(11, 2)} + seconds{num(13, 2)};
}

SigV4Verdict failed(SigV4Failure failure, std::string message) {
  SigV4Verdict v;
  v.failure = failure;
  v.message = std::move(message);
  return v;
}

// AWS's wording for a request signed too long before or after `now`.
std::optional<SigV4Verdict> check_freshness(std::string_view amz_date,
                                            std::chrono::system_clock::time_point signed_at,
                                            const SigV4VerifyOptions& options) {
  if (!options.now) return std::nullopt;
  const auto now = *options.now;
  const auto minutes = std::to_string(options.max_skew.count() / 60);
  if (signed_at < now - options.max_skew) {
    return failed(SigV4Failure::stale_date, "Signature expired: " + std::string(amz_date) +
                                                " is now earlier than " +
                                                sigv4_amz_date(now - options.max_skew) + " (" +
                                                sigv4_amz_date(now) + " - " + minutes + " min.)");
  }
  if (signed_at > now + options.max_skew) {
    return failed(SigV4Failure::stale_date, "Signature not yet current: " + std::string(amz_date) +
                                                " is still later than " +
                                                sigv4_amz_date(now + options.max_skew) + " (" +
                                                sigv4_amz_date(now) + " + " + minutes + " min.)");
  }
  return std::nullopt;
}

std::optional<SigV4Verdict> check_scope(const ParsedAuthorization& auth, std::string_view amz_date,
                                        const SigV4VerifyOptions& options) {
  if (auth.date != amz_date.substr(0, 8)) {
    return failed(SigV4Failure::wrong_scope,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '" +
                      std::string(auth.date) + "' != '" + std::string(amz_date.substr(0, 8)) +
                      "', from '" + std::string(amz_date) + "'.");
  }
  if (!options.region.empty() && auth.region != options.region) {
    return failed(
        SigV4Failure::wrong_scope,
        "Credential should be scoped to a valid region, not '" + std::string(auth.region) + "'.");
  }
  if (!options.service.empty() && auth.service != options.service) {
    return failed(SigV4Failure::wrong_scope, "Credential should be scoped to correct service: '" +
                                                 std::string(options.service) + "'.");
  }
  return std::nullopt;
}

}  // namespace

SigV4Verdict verify_sigv4(const SigV4Incoming& req, const SecretLookup& secret_for,
                          const SigV4VerifyOptions& options) {
  const std::string_view authorization = req.header("authorization");
  if (authorization.empty()) {
    return failed(SigV4Failure::missing_authorization, "Missing Authentication Token");
  }
  const auto auth = parse_authorization(authorization);
  if (!auth) {
    return failed(SigV4Failure::malformed_authorization,
                  "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                  "parameters with algorithm AWS4-HMAC-SHA256.");
  }
  const auto secret = secret_for(auth->access_key_id);
  if (!secret) {
    return failed(SigV4Failure::unknown_access_key,
                  "The security token included in the request is invalid.");
  }
  const std::string_view amz_date = req.header("x-amz-date");
  const auto signed_at = parse_amz_date(amz_date);
  if (!signed_at) {
    return failed(SigV4Failure::missing_date,
                  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                  "header.");
  }
  if (auto v = check_scope(*auth, amz_date, options)) return *v;
  if (auto v = check_freshness(amz_date, *signed_at, options)) return *v;

  const auto names = split(auth->signed_headers, ';');
  for (const std::string_view required :
       {std::string_view("host"), std::string_view("x-amz-date")}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      std::string message(1, '\'');
      message += required;
      message += "' must be a 'SignedHeader' in the AWS Authorization.";
      return failed(SigV4Failure::unsigned_required_header, std::move(message));
    }
  }
  std::string payload_hash = sha256_hex(req.body);
  if (const std::string_view claimed = req.header("x-amz-content-sha256"); !claimed.empty()) {
    if (claimed != payload_hash) {
      return failed(SigV4Failure::payload_hash_mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.");
    }
  }

  std::string headers;
  for (const std::string_view name : names) {
    headers += name;
    headers += ':';
    sigv4_detail::append_canonical_value(headers, req.header(name));
    headers += '\n';
  }
  const std::size_t q = req.target.find('?');
  SigV4Options canon;
  canon.double_encode_path = options.double_encode_path;
  canon.normalize_path = options.normalize_path;
  const std::string_view path = req.target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);

  SigV4Verdict verdict;
  verdict.canonical_request = sigv4_detail::canonical_request(
      req.method, sigv4_canonical_uri(path, canon), sigv4_canonical_query(query), headers,
      auth->signed_headers, payload_hash);
  verdict.string_to_sign = sigv4_detail::string_to_sign(
      amz_date, sigv4_detail::scope(auth->date, auth->region, auth->service),
      verdict.canonical_request);
  const std::string expected = sigv4_detail::signature(*secret, auth->date, auth->region,
                                                       auth->service, verdict.string_to_sign);
  if (CRYPTO_memcmp(expected.data(), auth->signature.data(), expected.size()) != 0) {
    verdict.failure = SigV4Failure::signature_mismatch;
    verdict.message =
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.";
  }
  return verdict;
}

}  // namespace stratus::auth
