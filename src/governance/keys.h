// Virtual keys: `sk-stratus-<id>-<secret>`, id = 8 lower-case hex, secret = 40 base62 chars
// (~238 bits) from OpenSSL's RAND_bytes. Only a salted hash is stored: hex(SHA-256(salt ||
// secret)) where salt is 16 random bytes (stored as 32 hex chars; the raw bytes are hashed) and
// secret is the key's secret part as text. Verification compares digests in constant time.
//
// A KeyRing is an immutable snapshot of every key (id -> KeyInfo); KeyRingHolder publishes a
// new snapshot with one atomic store, so every worker sees a revocation or change on its next
// request while requests in flight keep the snapshot they started with.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "governance/budget.h"

namespace stratus::governance {

inline constexpr std::string_view kKeyPrefix = "sk-stratus-";

// What the gateway knows of one virtual key (the lead maps the store's record into it).
struct KeyInfo {
  std::string id;                   // 8 hex
  std::string name;                 // shown in listings
  std::string team;                 // "" = none
  std::string salt;                 // 32 hex (16 bytes)
  std::string hash;                 // 64 hex: SHA-256(salt bytes || secret)
  std::vector<std::string> models;  // allowed model aliases; empty = all ("*" = all, "gpt-4o*" =
                                    // prefix)
  long rpm = 0;                     // 0 = no limit
  long tpm = 0;
  double budget_usd = 0;  // 0 = no budget
  Period budget_period = Period::month;
  long max_task_calls = 0;  // task ceilings; 0 = none
  double max_task_usd = 0;
  std::int64_t expires_ms = 0;  // 0 = never (unix ms)
  std::int64_t revoked_ms = 0;  // 0 = not revoked (unix ms)

  // Whether this key may use the model alias.
  bool allows_model(std::string_view alias) const;
};

// A freshly generated key: `key` is shown to its owner once and never stored.
struct NewKey {
  std::string key;  // sk-stratus-<id>-<secret>
  std::string id;
  std::string salt;
  std::string hash;
};

// A new random key (RAND_bytes); nullopt only when OpenSSL's generator fails.
std::optional<NewKey> generate_key();

// The parts of a presented key; nullopt when it does not have the form above.
struct ParsedKey {
  std::string_view id;
  std::string_view secret;
};
std::optional<ParsedKey> parse_key(std::string_view presented);

// hex(SHA-256(unhex(salt_hex) || secret)); "" when salt_hex is not valid hex.
std::string hash_secret(std::string_view salt_hex, std::string_view secret);

// Constant-time check of `secret` against a stored salt and hash.
bool verify_secret(std::string_view salt_hex, std::string_view hash_hex, std::string_view secret);

enum class AuthFailure { malformed, unknown_key, bad_secret, revoked, expired };
std::string_view auth_failure_message(AuthFailure f);
// 401 in OpenAI's shape (code invalid_api_key; revoked/expired keys say so).
core::Error auth_error(AuthFailure f);
// 403 for a model the key may not use (code model_not_allowed).
core::Error model_not_allowed_error(std::string_view key_id, std::string_view alias);

class KeyRing {
 public:
  explicit KeyRing(std::vector<KeyInfo> keys);
  KeyRing(const KeyRing&) = delete;  // the index points into this ring's own strings
  KeyRing& operator=(const KeyRing&) = delete;

  // The key with this id, or nullptr.
  const KeyInfo* find(std::string_view id) const;

  // The key a client presented, if it exists, matches, and is neither revoked nor expired at
  // `now_ms`. The pointer lives as long as this ring.
  std::expected<const KeyInfo*, AuthFailure> authenticate(std::string_view presented,
                                                          std::int64_t now_ms) const;

  std::size_t size() const { return keys_.size(); }

 private:
  struct Entry {
    KeyInfo info;
    std::array<unsigned char, 16> salt{};
    std::array<unsigned char, 32> digest{};
    bool valid = false;  // salt and hash decoded
  };
  std::unordered_map<std::string_view, std::size_t> index_;
  std::vector<Entry> keys_;
};

// The published snapshot: readers load() it once per request (libstdc++ guards the pointer
// with a short spin lock; tens of nanoseconds), a writer store()s a new ring.
class KeyRingHolder {
 public:
  KeyRingHolder();
  std::shared_ptr<const KeyRing> load() const;
  void store(std::shared_ptr<const KeyRing> ring);

 private:
  std::atomic<std::shared_ptr<const KeyRing>> ring_;
};

}  // namespace stratus::governance
