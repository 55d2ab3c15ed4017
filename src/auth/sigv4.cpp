// AWS Signature Version 4 signing (see sigv4.h).
#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <vector>

#include "auth/sigv4_detail.h"

namespace stratus::auth {
namespace {

using Digest = std::array<unsigned char, 32>;
using sigv4_detail::kAlgorithm;

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// SHA-256 fetched once: OpenSSL 3 otherwise looks the algorithm up again for every digest,
// which costs more than hashing a small message. An immutable handle, shared by all threads.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

// One digest context reused for the digests of one signature.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {}

  Digest digest(std::string_view a, std::string_view b = {}) {
    Digest d{};
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr);
    EVP_DigestUpdate(ctx_.get(), a.data(), a.size());
    EVP_DigestUpdate(ctx_.get(), b.data(), b.size());
    EVP_DigestFinal_ex(ctx_.get(), d.data(), &len);
    return d;
  }

  // RFC 2104 over SHA-256 (block size 64).
  Digest hmac(std::string_view key, std::string_view data) {
    constexpr std::size_t kBlock = 64;
    std::array<char, kBlock> pad{};
    if (key.size() > kBlock) {
      const Digest k = digest(key);
      std::copy(k.begin(), k.end(), pad.begin());
    } else {
      std::copy(key.begin(), key.end(), pad.begin());
    }
    for (char& c : pad) c ^= 0x36;
    const Digest inner = digest({pad.data(), kBlock}, data);
    for (char& c : pad) c ^= 0x36 ^ 0x5c;
    const Digest outer = digest({pad.data(), kBlock}, as_view(inner));
    OPENSSL_cleanse(pad.data(), pad.size());
    return outer;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string hex(const Digest& d) {
  std::string out(d.size() * 2, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return out;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// Encodes all but unreserved characters and those in `keep`.
std::string encode_except(std::string_view s, std::string_view keep) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || keep.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a '%' not followed by two hex digits is kept as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view seg = path.substr(pos, slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string out;
  for (const auto seg : segments) {
    out += '/';
    out += seg;
  }
  if (out.empty() || path.ends_with('/')) out += '/';
  return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// Headers a proxy or the HTTP client may add or rewrite: never signed.
bool never_signed(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "authorization", "connection",        "expect",  "keep-alive", "proxy-authorization", "te",
      "trailer",       "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};
  return std::find(kNames.begin(), kNames.end(), lower_name) != kNames.end();
}

struct CanonicalHeaders {
  std::string text;          // "name:value\n" per signed name
  std::string signed_names;  // "host;x-amz-date"
};

CanonicalHeaders canonical_headers(const core::Headers& headers, std::string_view skip) {
  struct Entry {
    std::string name;
    std::string_view value;
  };
  std::vector<Entry> entries;
  entries.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    std::string n = to_lower(name);
    if (never_signed(n) || (!skip.empty() && n == skip)) continue;
    entries.push_back({std::move(n), value});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.name < b.name; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool same_as_previous = i > 0 && entries[i].name == entries[i - 1].name;
    if (same_as_previous) {
      out.text.back() = ',';  // the '\n' of the previous value
    } else {
      if (!out.signed_names.empty()) out.signed_names += ';';
      out.signed_names += entries[i].name;
      out.text += entries[i].name;
      out.text += ':';
    }
    sigv4_detail::append_canonical_value(out.text, entries[i].value);
    out.text += '\n';
  }
  return out;
}

// Sets the first header called `name` to `value` (dropping later ones) or appends it.
void set_header(core::Headers& headers, std::string_view name, std::string value) {
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const auto& h) { return iequals(h.first, name); });
  if (it == headers.end()) {
    headers.emplace_back(std::string(name), std::move(value));
    return;
  }
  it->second = std::move(value);
  headers.erase(std::remove_if(std::next(it), headers.end(),
                               [&](const auto& h) { return iequals(h.first, name); }),
                headers.end());
}

void erase_header(core::Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

std::string credential(const SigV4Context& ctx, std::string_view scope) {
  std::string out = ctx.credentials.access_key_id;
  out += '/';
  out += scope;
  return out;
}

struct UrlParts {
  std::string_view scheme;
  std::string_view authority;
  std::string_view path;
  std::string_view query;
};

std::optional<UrlParts> split_url(std::string_view url) {
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  UrlParts parts;
  parts.scheme = url.substr(0, sep);
  if (!iequals(parts.scheme, "http") && !iequals(parts.scheme, "https")) return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const std::size_t auth_end = std::min(rest.find('/'), rest.find('?'));
  parts.authority = rest.substr(0, std::min(auth_end, rest.size()));
  if (const std::size_t at = parts.authority.rfind('@'); at != std::string_view::npos) {
    parts.authority.remove_prefix(at + 1);
  }
  if (parts.authority.empty()) return std::nullopt;
  rest.remove_prefix(std::min(auth_end, rest.size()));
  const std::size_t q = rest.find('?');
  parts.path = rest.substr(0, q);
  if (q != std::string_view::npos) parts.query = rest.substr(q + 1);
  return parts;
}

}  // namespace

namespace sigv4_detail {

void append_canonical_value(std::string& out, std::string_view value) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  bool pending_space = false;
  bool started = false;
  for (const char c : value) {
    if (is_space(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    started = true;
    out += c;
  }
}

std::string canonical_request(std::string_view method, std::string_view uri, std::string_view query,
                              std::string_view canonical_headers, std::string_view signed_headers,
                              std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + uri.size() + query.size() + canonical_headers.size() +
              signed_headers.size() + payload_hash.size() + 5);
  out += method;
  out += '\n';
  out += uri;
  out += '\n';
  out += query;
  out += '\n';
  out += canonical_headers;
  out += '\n';
  out += signed_headers;
  out += '\n';
  out += payload_hash;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += hex(Sha256().digest(canonical_request));
  return out;
}

// The signing key depends only on the secret, the day, the region and the service: like the AWS
// SDKs, each thread keeps the last one it derived and skips 4 of the 5 HMACs while they match.
struct SigningKeyCache {
  std::string secret;
  std::string date;
  std::string region;
  std::string service;
  Digest key{};
  bool valid = false;

  ~SigningKeyCache() {
    OPENSSL_cleanse(secret.data(), secret.size());
    OPENSSL_cleanse(key.data(), key.size());
  }
  bool matches(std::string_view s, std::string_view d, std::string_view r,
               std::string_view v) const {
    return valid && secret == s && date == d && region == r && service == v;
  }
};

std::string signature(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign) {
  thread_local SigningKeyCache cache;
  Sha256 sha;
  if (!cache.matches(secret, date, region, service)) {
    std::string key = "AWS4";
    key += secret;
    const Digest k_date = sha.hmac(key, date);
    OPENSSL_cleanse(key.data(), key.size());
    const Digest k_region = sha.hmac(as_view(k_date), region);
    const Digest k_service = sha.hmac(as_view(k_region), service);
    OPENSSL_cleanse(cache.secret.data(), cache.secret.size());
    cache.secret.assign(secret);
    cache.date.assign(date);
    cache.region.assign(region);
    cache.service.assign(service);
    cache.key = sha.hmac(as_view(k_service), "aws4_request");
    cache.valid = true;
  }
  return hex(sha.hmac(as_view(cache.key), string_to_sign));
}

std::string scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string out(date);
  out += '/';
  out += region;
  out += '/';
  out += service;
  out += "/aws4_request";
  return out;
}

}  // namespace sigv4_detail

SigV4Options default_sigv4_options(std::string_view service) {
  SigV4Options options;
  if (service == "s3") {
    options.double_encode_path = false;
    options.normalize_path = false;
  }
  return options;
}

std::string sigv4_amz_date(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string sha256_hex(std::string_view data) { return hex(Sha256().digest(data)); }

std::string aws_uri_encode(std::string_view s, bool keep_slash) {
  return encode_except(s, keep_slash ? "/" : "");
}

std::string sigv4_canonical_uri(std::string_view wire_path, const SigV4Options& options) {
  std::string path = options.normalize_path ? normalize_path(wire_path) : std::string(wire_path);
  if (path.empty()) path = "/";
  // Without double encoding the wire path is taken as already encoded: its escapes stay.
  return encode_except(path, options.double_encode_path ? "/" : "/%");
}

std::string sigv4_canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view param = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (param.empty()) continue;
    const std::size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    params.emplace_back(aws_uri_encode(percent_decode(key), false),
                        aws_uri_encode(percent_decode(value), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

SigV4Signature sign_sigv4_headers(std::string_view method, std::string_view path,
                                  std::string_view query, core::Headers& headers,
                                  std::string_view body, const SigV4Context& ctx) {
  SigV4Signature sig;
  sig.amz_date = sigv4_amz_date(ctx.now);
  const std::string_view date = std::string_view(sig.amz_date).substr(0, 8);
  sig.scope = sigv4_detail::scope(date, ctx.region, ctx.service);

  const std::string& token = ctx.credentials.session_token;
  if (!token.empty()) set_header(headers, "x-amz-security-token", token);
  set_header(headers, "x-amz-date", sig.amz_date);
  const std::string payload_hash = sha256_hex(body);
  if (ctx.options.content_sha256_header) set_header(headers, "x-amz-content-sha256", payload_hash);
  erase_header(headers, "authorization");

  const bool skip_token = !token.empty() && !ctx.options.sign_session_token;
  const CanonicalHeaders canonical =
      canonical_headers(headers, skip_token ? "x-amz-security-token" : "");
  sig.signed_headers = canonical.signed_names;
  sig.canonical_request = sigv4_detail::canonical_request(
      method, sigv4_canonical_uri(path, ctx.options), sigv4_canonical_query(query), canonical.text,
      canonical.signed_names, payload_hash);
  sig.string_to_sign = sigv4_detail::string_to_sign(sig.amz_date, sig.scope, sig.canonical_request);
  sig.signature = sigv4_detail::signature(ctx.credentials.secret_access_key, date, ctx.region,
                                          ctx.service, sig.string_to_sign);
  sig.authorization = std::string(kAlgorithm) + " Credential=" + credential(ctx, sig.scope) +
                      ", SignedHeaders=" + sig.signed_headers + ", Signature=" + sig.signature;
  headers.emplace_back("authorization", sig.authorization);
  return sig;
}

SigV4Signature presign_sigv4_query(std::string_view method, std::string_view path,
                                   std::string_view query, const core::Headers& headers,
                                   std::string_view body, const SigV4Context& ctx) {
  SigV4Signature sig;
  sig.amz_date = sigv4_amz_date(ctx.now);
  const std::string_view date = std::string_view(sig.amz_date).substr(0, 8);
  sig.scope = sigv4_detail::scope(date, ctx.region, ctx.service);
  const CanonicalHeaders canonical = canonical_headers(headers, "");
  sig.signed_headers = canonical.signed_names;

  // In the order AWS SDKs send them; the canonical query sorts them anyway.
  std::string added = "X-Amz-Algorithm=" + std::string(kAlgorithm);
  added += "&X-Amz-Credential=" + aws_uri_encode(credential(ctx, sig.scope), false);
  added += "&X-Amz-Date=" + sig.amz_date;
  added += "&X-Amz-SignedHeaders=" + aws_uri_encode(sig.signed_headers, false);
  added += "&X-Amz-Expires=" + std::to_string(ctx.options.expires.count());
  std::string token_param;
  if (!ctx.credentials.session_token.empty()) {
    token_param = "&X-Amz-Security-Token=" + aws_uri_encode(ctx.credentials.session_token, false);
  }
  std::string to_sign(query);
  if (!to_sign.empty()) to_sign += '&';
  to_sign += added;
  if (ctx.options.sign_session_token) to_sign += token_param;

  sig.canonical_request = sigv4_detail::canonical_request(
      method, sigv4_canonical_uri(path, ctx.options), sigv4_canonical_query(to_sign),
      canonical.text, canonical.signed_names, sha256_hex(body));
  sig.string_to_sign = sigv4_detail::string_to_sign(sig.amz_date, sig.scope, sig.canonical_request);
  sig.signature = sigv4_detail::signature(ctx.credentials.secret_access_key, date, ctx.region,
                                          ctx.service, sig.string_to_sign);
  sig.query = std::string(query);
  if (!sig.query.empty()) sig.query += '&';
  sig.query += added + token_param + "&X-Amz-Signature=" + sig.signature;
  return sig;
}

core::Result<SigV4Signature> sign_sigv4_request(core::UpstreamRequest& req,
                                                const SigV4Context& ctx) {
  const auto url = split_url(req.url);
  if (!url)
    return core::fail(core::ErrorKind::internal, "cannot sign: bad upstream URL " + req.url);
  // Exactly the authority http::Client writes as Host (Boost.URL's encoded host and port, an
  // explicit default port included), so what is signed is what is sent.
  set_header(req.headers, "host", std::string(url->authority));
  return sign_sigv4_headers(req.method, url->path, url->query, req.headers, req.body, ctx);
}

}  // namespace stratus::auth
