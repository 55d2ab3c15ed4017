// AWS Signature Version 4: header (Authorization) and query (presigned URL) signing of a
// finished request, and the server side check used by the mock Bedrock dialect. Pure: the
// time is passed in, nothing is read from the environment.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/signer.h"
#include "core/error.h"
#include "core/upstream.h"

namespace stratus::auth {

struct SigV4Options {
  // Canonical URI = the wire path URI-encoded once more, so `%3A` is signed as `%253A`.
  // Every service but S3.
  bool double_encode_path = true;
  // Drop empty and "." segments and resolve ".." before encoding. Every service but S3.
  bool normalize_path = true;
  // Header signing: add and sign `x-amz-content-sha256: <hex sha256(body)>`.
  bool content_sha256_header = false;
  // false: the session token is added after signing (some services want it unsigned).
  bool sign_session_token = true;
  // Query signing: X-Amz-Expires.
  std::chrono::seconds expires{3600};
};

// The options AWS SDKs use for `service` (S3: no double encoding, no normalization).
SigV4Options default_sigv4_options(std::string_view service);

// Who signs, for which scope, when.
struct SigV4Context {
  const AwsCredentials& credentials;
  std::string_view region;
  std::string_view service;
  std::chrono::system_clock::time_point now;
  SigV4Options options = {};
};

// What was signed, for logs and tests.
struct SigV4Signature {
  std::string amz_date;           // 20150830T123600Z
  std::string scope;              // 20150830/us-east-1/service/aws4_request
  std::string signed_headers;     // host;x-amz-date
  std::string canonical_request;  // as hashed into the string to sign
  std::string string_to_sign;
  std::string signature;      // lower-case hex
  std::string authorization;  // header signing: the Authorization value
  std::string query;          // query signing: the query to send, without '?'
};

// Header signing. `path` and `query` are exactly as sent (percent-encoded; query without '?').
// Sets x-amz-security-token (when the credentials have a session token), x-amz-date,
// x-amz-content-sha256 (option) and authorization in `headers`, replacing earlier values in
// place so that signing again (a retry) is idempotent. Every other header is signed except
// user-agent, expect, x-amzn-trace-id and hop-by-hop headers, so `host` must be present.
SigV4Signature sign_sigv4_headers(std::string_view method, std::string_view path,
                                  std::string_view query, core::Headers& headers,
                                  std::string_view body, const SigV4Context& ctx);

// Query signing (presigned URL): `headers` are signed but left unchanged; the X-Amz-* parameters
// follow the original query in the returned `query`.
SigV4Signature presign_sigv4_query(std::string_view method, std::string_view path,
                                   std::string_view query, const core::Headers& headers,
                                   std::string_view body, const SigV4Context& ctx);

// Header signing of a finished request: the `host` header is set to the authority of its URL
// as written there (userinfo dropped; a port kept when the URL has one, as http::Client sends
// it); path and query come from the URL. Fails on a URL that is not absolute http(s).
core::Result<SigV4Signature> sign_sigv4_request(core::UpstreamRequest& req,
                                                const SigV4Context& ctx);

// Building blocks, public for tests and the verifier.
std::string sigv4_amz_date(std::chrono::system_clock::time_point t);  // 20150830T123600Z
std::string sha256_hex(std::string_view data);
// RFC 3986 encoding of everything but unreserved characters (and '/' when keep_slash).
std::string aws_uri_encode(std::string_view s, bool keep_slash);
std::string sigv4_canonical_uri(std::string_view wire_path, const SigV4Options& options);
// Parameters decoded, re-encoded strictly, sorted by name then value, joined with '&'.
std::string sigv4_canonical_query(std::string_view query);

// ---- Verification (server side) -------------------------------------------------------------

struct SigV4Incoming {
  std::string_view method;
  std::string_view target;                                   // path and query as received
  std::function<std::string_view(std::string_view)> header;  // lower-case name → value or ""
  std::string_view body;
};

enum class SigV4Failure {
  none,
  missing_authorization,     // no Authorization header
  malformed_authorization,   // not "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
                             // Signature=..."
  unknown_access_key,        // the secret lookup has no such key
  missing_date,              // no or unparsable x-amz-date
  stale_date,                // x-amz-date too far from `now`
  wrong_scope,               // credential date, region or service not as expected
  unsigned_required_header,  // host or x-amz-date not among the signed headers
  payload_hash_mismatch,     // x-amz-content-sha256 is not the hash of the body
  signature_mismatch,
};

struct SigV4Verdict {
  SigV4Failure failure = SigV4Failure::none;
  std::string message;  // why, worded like AWS's own errors
  // The server's view, once computed (for the mock's error messages and debugging).
  std::string canonical_request;
  std::string string_to_sign;
  bool ok() const { return failure == SigV4Failure::none; }
};

struct SigV4VerifyOptions {
  std::string_view region;                                   // expected; empty: any
  std::string_view service;                                  // expected; empty: any
  std::optional<std::chrono::system_clock::time_point> now;  // empty: no freshness check
  std::chrono::seconds max_skew{900};                        // AWS allows 15 minutes
  bool double_encode_path = true;
  bool normalize_path = true;
};

// The secret access key of an access key id, or nullopt when unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Recomputes the Authorization header of a header-signed request and says why it differs.
SigV4Verdict verify_sigv4(const SigV4Incoming& req, const SecretLookup& secret_for,
                          const SigV4VerifyOptions& options = {});

}  // namespace stratus::auth
