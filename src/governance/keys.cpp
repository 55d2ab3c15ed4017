// Virtual keys: generation, salted hashing, constant-time verification, the key ring snapshot.
#include "governance/keys.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace stratus::governance {

namespace {

constexpr std::size_t kIdChars = 8;
constexpr std::size_t kSecretChars = 40;
constexpr std::size_t kMinSecretChars = 32;
constexpr std::size_t kMaxSecretChars = 128;
constexpr std::size_t kSaltBytes = 16;
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kHex = "0123456789abcdef";

const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

bool random_bytes(unsigned char* out, std::size_t n) {
  return RAND_bytes(out, static_cast<int>(n)) == 1;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string s;
  s.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 0xF];
  }
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly out.size() bytes of hex; false on any other length or a non-hex char.
template <std::size_t N>
bool from_hex(std::string_view hex, std::array<unsigned char, N>& out) {
  if (hex.size() != N * 2) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool is_base62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::array<unsigned char, 32> digest_of(const std::array<unsigned char, kSaltBytes>& salt,
                                        std::string_view secret) {
  std::array<unsigned char, 32> d{};
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  // One context per thread, reinitialised for each digest: no allocation per request.
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d.data(), &len) != 1) {
    d.fill(0);
  }
  return d;
}

}  // namespace

bool KeyInfo::allows_model(std::string_view alias) const {
  if (models.empty()) return true;
  for (const auto& m : models) {
    if (m == "*" || m == alias) return true;
    if (m.size() > 1 && m.back() == '*' &&
        alias.starts_with(std::string_view(m).substr(0, m.size() - 1))) {
      return true;
    }
  }
  return false;
}

std::optional<NewKey> generate_key() {
  std::array<unsigned char, 4> id{};
  std::array<unsigned char, kSaltBytes> salt{};
  if (!random_bytes(id.data(), id.size()) || !random_bytes(salt.data(), salt.size())) {
    return std::nullopt;
  }
  std::string secret;
  secret.reserve(kSecretChars);
  std::array<unsigned char, 64> pool{};
  while (secret.size() < kSecretChars) {
    if (!random_bytes(pool.data(), pool.size())) return std::nullopt;
    for (const auto b : pool) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (b < 248 && secret.size() < kSecretChars) secret += kBase62[b % 62];
    }
  }
  NewKey k;
  k.id = to_hex(id.data(), id.size());
  k.salt = to_hex(salt.data(), salt.size());
  const auto d = digest_of(salt, secret);
  k.hash = to_hex(d.data(), d.size());
  k.key = fmt::format("{}{}-{}", kKeyPrefix, k.id, secret);
  return k;
}

std::optional<ParsedKey> parse_key(std::string_view s) {
  if (!s.starts_with(kKeyPrefix)) return std::nullopt;
  s.remove_prefix(kKeyPrefix.size());
  if (s.size() < kIdChars + 1 || s[kIdChars] != '-') return std::nullopt;
  const auto id = s.substr(0, kIdChars);
  for (const char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  const auto secret = s.substr(kIdChars + 1);
  if (secret.size() < kMinSecretChars || secret.size() > kMaxSecretChars) return std::nullopt;
  for (const char c : secret) {
    if (!is_base62(c)) return std::nullopt;
  }
  return ParsedKey{id, secret};
}

std::string hash_secret(std::string_view salt_hex, std::string_view secret) {
  std::array<unsigned char, kSaltBytes> salt{};
  if (!from_hex(salt_hex, salt)) return {};
  const auto d = digest_of(salt, secret);
  return to_hex(d.data(), d.size());
}

bool verify_secret(std::string_view salt_hex, std::string_view hash_hex, std::string_view secret) {
  std::array<unsigned char, kSaltBytes> salt{};
  std::array<unsigned char, 32> want{};
  if (!from_hex(salt_hex, salt) || !from_hex(hash_hex, want)) return false;
  const auto got = digest_of(salt, secret);
  return CRYPTO_memcmp(got.data(), want.data(), got.size()) == 0;
}

std::string_view auth_failure_message(AuthFailure f) {
  switch (f) {
    case AuthFailure::malformed:
      return "Incorrect API key provided: not a Stratus key (sk-stratus-...).";
    case AuthFailure::unknown_key:
    case AuthFailure::bad_secret:
      return "Incorrect API key provided.";
    case AuthFailure::revoked:
      return "This API key has been revoked.";
    case AuthFailure::expired:
      return "This API key has expired.";
  }
  return "Incorrect API key provided.";
}

core::Error auth_error(AuthFailure f) {
  return core::Error::make(core::ErrorKind::authentication, std::string(auth_failure_message(f)),
                           {}, "invalid_api_key");
}

core::Error model_not_allowed_error(std::string_view key_id, std::string_view alias) {
  return core::Error::make(
      core::ErrorKind::permission,
      fmt::format("The key {} is not allowed to use the model '{}'.", key_id, alias), "model",
      "model_not_allowed");
}

KeyRing::KeyRing(std::vector<KeyInfo> keys) {
  keys_.reserve(keys.size());
  for (auto& k : keys) {
    Entry e;
    e.valid = from_hex(k.salt, e.salt) && from_hex(k.hash, e.digest);
    e.info = std::move(k);
    keys_.push_back(std::move(e));
  }
  // Indexed after the vector is final: the views point into its strings. A duplicate id keeps
  // the first key.
  for (std::size_t i = 0; i < keys_.size(); ++i) index_.emplace(keys_[i].info.id, i);
}

const KeyInfo* KeyRing::find(std::string_view id) const {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &keys_[it->second].info;
}

std::expected<const KeyInfo*, AuthFailure> KeyRing::authenticate(std::string_view presented,
                                                                 std::int64_t now_ms) const {
  const auto parsed = parse_key(presented);
  if (!parsed) return std::unexpected(AuthFailure::malformed);
  const auto it = index_.find(parsed->id);
  if (it == index_.end()) return std::unexpected(AuthFailure::unknown_key);
  const auto& e = keys_[it->second];
  const auto got = digest_of(e.salt, parsed->secret);
  if (!e.valid || CRYPTO_memcmp(got.data(), e.digest.data(), got.size()) != 0) {
    return std::unexpected(AuthFailure::bad_secret);
  }
  if (e.info.revoked_ms != 0 && e.info.revoked_ms <= now_ms) {
    return std::unexpected(AuthFailure::revoked);
  }
  if (e.info.expires_ms != 0 && e.info.expires_ms <= now_ms) {
    return std::unexpected(AuthFailure::expired);
  }
  return &e.info;
}

KeyRingHolder::KeyRingHolder() : ring_(std::make_shared<const KeyRing>(std::vector<KeyInfo>{})) {}

std::shared_ptr<const KeyRing> KeyRingHolder::load() const {
  return ring_.load(std::memory_order_acquire);
}

void KeyRingHolder::store(std::shared_ptr<const KeyRing> ring) {
  if (!ring) ring = std::make_shared<const KeyRing>(std::vector<KeyInfo>{});
  ring_.store(std::move(ring), std::memory_order_release);
}

}  // namespace stratus::governance
