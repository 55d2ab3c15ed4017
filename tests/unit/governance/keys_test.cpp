// Virtual keys: generation, parsing, salted hash, verification, the key ring and its swap.
#include "governance/keys.h"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <set>
#include <thread>

namespace g = stratus::governance;

namespace {

g::KeyInfo info_for(const g::NewKey& k, std::string name = "app") {
  g::KeyInfo i;
  i.id = k.id;
  i.name = std::move(name);
  i.salt = k.salt;
  i.hash = k.hash;
  return i;
}

}  // namespace

TEST(Keys, Generate_FormatAndStoredParts) {
  const auto k = g::generate_key();
  ASSERT_TRUE(k);
  EXPECT_TRUE(std::regex_match(k->key, std::regex("sk-stratus-[0-9a-f]{8}-[0-9A-Za-z]{40}")))
      << k->key;
  EXPECT_EQ(k->key.substr(11, 8), k->id);
  EXPECT_TRUE(std::regex_match(k->salt, std::regex("[0-9a-f]{32}")));
  EXPECT_TRUE(std::regex_match(k->hash, std::regex("[0-9a-f]{64}")));
  const auto secret = k->key.substr(20);
  EXPECT_EQ(g::hash_secret(k->salt, secret), k->hash);
  EXPECT_TRUE(g::verify_secret(k->salt, k->hash, secret));
  EXPECT_EQ(k->key.find(k->hash), std::string::npos);
}

TEST(Keys, Generate_EveryKeyDifferentAndAllBase62CharactersUsed) {
  std::set<std::string> keys;
  std::set<std::string> salts;
  std::set<char> chars;
  for (int i = 0; i < 200; ++i) {
    const auto k = g::generate_key();
    ASSERT_TRUE(k);
    keys.insert(k->key);
    salts.insert(k->salt);
    for (const char c : k->key.substr(20)) chars.insert(c);
  }
  EXPECT_EQ(keys.size(), 200u);
  EXPECT_EQ(salts.size(), 200u);
  EXPECT_EQ(chars.size(), 62u);  // 8000 draws: each of the 62 characters appears
}

TEST(Keys, HashSecret_IsSha256OfSaltBytesThenSecret) {
  // python3: hashlib.sha256(bytes(range(16)) + b"AbCd...ABCD").hexdigest()
  EXPECT_EQ(g::hash_secret("000102030405060708090a0b0c0d0e0f",
                           "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCD"),
            "6a7b32d7d753ad21d2f84f5a45a9669bd8c71e29a4df741f3f8e1b889963d9b8");
  EXPECT_EQ(g::hash_secret("00010203", "x"), "");  // salt must be 16 bytes
  EXPECT_EQ(g::hash_secret("zz0102030405060708090a0b0c0d0e0f", "x"), "");
}

TEST(Keys, VerifySecret_RejectsWrongSecretAndBadStoredValues) {
  const std::string salt = "000102030405060708090a0b0c0d0e0f";
  const std::string secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCD";
  const auto hash = g::hash_secret(salt, secret);
  EXPECT_TRUE(g::verify_secret(salt, hash, secret));
  EXPECT_FALSE(g::verify_secret(salt, hash, secret + "x"));
  EXPECT_FALSE(g::verify_secret(salt, hash, "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCd"));
  EXPECT_FALSE(g::verify_secret(salt, hash.substr(1), secret));
  EXPECT_FALSE(g::verify_secret("nothex", hash, secret));
}

TEST(Keys, Parse_AcceptsOnlyTheKeyForm) {
  const std::string secret(32, 'a');
  const std::string key = "sk-stratus-0123abcd-" + secret;
  const auto p = g::parse_key(key);  // views into `key`
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "0123abcd");
  EXPECT_EQ(p->secret, secret);
  EXPECT_FALSE(g::parse_key("sk-proj-0123abcd-" + secret));
  EXPECT_FALSE(g::parse_key("sk-stratus-0123ABCD-" + secret));  // id is lower-case hex
  EXPECT_FALSE(g::parse_key("sk-stratus-0123abc-" + secret));
  EXPECT_FALSE(g::parse_key("sk-stratus-0123abcd" + secret));
  EXPECT_FALSE(g::parse_key("sk-stratus-0123abcd-" + secret.substr(1)));  // 31 chars
  EXPECT_FALSE(g::parse_key("sk-stratus-0123abcd-" + secret + "-"));
  EXPECT_FALSE(g::parse_key("sk-stratus-0123abcd-" + std::string(129, 'a')));
  EXPECT_FALSE(g::parse_key(""));
}

TEST(Keys, AllowsModel_EmptyStarExactPrefix) {
  g::KeyInfo k;
  EXPECT_TRUE(k.allows_model("anything"));
  k.models = {"gpt-4o", "claude-*"};
  EXPECT_TRUE(k.allows_model("gpt-4o"));
  EXPECT_FALSE(k.allows_model("gpt-4o-mini"));
  EXPECT_TRUE(k.allows_model("claude-sonnet"));
  EXPECT_FALSE(k.allows_model("claude"));
  k.models = {"*"};
  EXPECT_TRUE(k.allows_model("x"));
}

TEST(KeyRing, Authenticate_EveryOutcome) {
  const auto a = *g::generate_key();
  const auto b = *g::generate_key();
  const auto c = *g::generate_key();
  const auto d = *g::generate_key();
  auto ib = info_for(b);
  ib.revoked_ms = 5000;
  auto ic = info_for(c);
  ic.expires_ms = 5000;
  auto id = info_for(d);
  id.hash = std::string(64, '0');  // a stored hash that matches nothing
  const g::KeyRing ring({info_for(a, "alpha"), ib, ic, id});
  EXPECT_EQ(ring.size(), 4u);

  const auto ok = ring.authenticate(a.key, 10'000);
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->name, "alpha");
  EXPECT_EQ(ring.find(a.id), *ok);

  EXPECT_EQ(ring.authenticate("Bearer " + a.key, 0).error(), g::AuthFailure::malformed);
  auto wrong = a.key;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(ring.authenticate(wrong, 0).error(), g::AuthFailure::bad_secret);
  auto unknown = a.key;
  unknown.replace(11, 8, a.id == "00000000" ? "00000001" : "00000000");
  EXPECT_EQ(ring.authenticate(unknown, 0).error(), g::AuthFailure::unknown_key);

  EXPECT_TRUE(ring.authenticate(b.key, 4999));  // revoked from 5000 on
  EXPECT_EQ(ring.authenticate(b.key, 5000).error(), g::AuthFailure::revoked);
  EXPECT_TRUE(ring.authenticate(c.key, 4999));
  EXPECT_EQ(ring.authenticate(c.key, 5000).error(), g::AuthFailure::expired);
  EXPECT_EQ(ring.authenticate(d.key, 0).error(), g::AuthFailure::bad_secret);
}

TEST(KeyRing, Errors_OpenAIShape) {
  const auto e = g::auth_error(g::AuthFailure::revoked);
  EXPECT_EQ(e.kind, stratus::core::ErrorKind::authentication);
  EXPECT_EQ(e.code, "invalid_api_key");
  EXPECT_EQ(e.message, "This API key has been revoked.");
  const auto f = g::model_not_allowed_error("0123abcd", "gpt-4o");
  EXPECT_EQ(stratus::core::http_status(f.kind), 403);
  EXPECT_EQ(f.code, "model_not_allowed");
  EXPECT_EQ(f.message, "The key 0123abcd is not allowed to use the model 'gpt-4o'.");
}

TEST(KeyRingHolder, Swap_NewRequestsSeeRevocationOldSnapshotStaysValid) {
  const auto k = *g::generate_key();
  g::KeyRingHolder holder;
  EXPECT_EQ(holder.load()->size(), 0u);
  holder.store(std::make_shared<const g::KeyRing>(std::vector<g::KeyInfo>{info_for(k)}));
  const auto before = holder.load();
  const auto* info = *before->authenticate(k.key, 100);

  auto revoked = info_for(k);
  revoked.revoked_ms = 50;
  holder.store(std::make_shared<const g::KeyRing>(std::vector<g::KeyInfo>{revoked}));
  EXPECT_EQ(holder.load()->authenticate(k.key, 100).error(), g::AuthFailure::revoked);
  EXPECT_EQ(info->id, k.id);  // the request in flight keeps its snapshot
  holder.store(nullptr);
  EXPECT_EQ(holder.load()->size(), 0u);
}

TEST(KeyRingHolder, ConcurrentReadersDuringSwaps_AlwaysSeeAWholeRing) {
  const auto k = *g::generate_key();
  g::KeyRingHolder holder;
  holder.store(std::make_shared<const g::KeyRing>(std::vector<g::KeyInfo>{info_for(k)}));
  std::atomic<bool> stop{false};
  std::atomic<long> checks{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const auto ring = holder.load();
        const auto r = ring->authenticate(k.key, 0);
        // Either snapshot is whole: the key is valid in one, revoked in the other.
        if (!r && r.error() != g::AuthFailure::revoked) std::abort();
        checks.fetch_add(1);
      }
    });
  }
  // Swap until the readers have checked a good number of times across swaps.
  for (int i = 0; i < 2000 || checks.load() < 2000; ++i) {
    auto ki = info_for(k);
    ki.revoked_ms = i % 2 == 0 ? -1 : 0;
    holder.store(std::make_shared<const g::KeyRing>(std::vector<g::KeyInfo>{ki}));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GE(checks.load(), 2000);
}
