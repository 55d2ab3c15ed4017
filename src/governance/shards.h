// Sharded string-keyed maps for the governance counters: a scope hashes to one of N shards,
// each with its own mutex, so requests of different keys rarely contend. An operation over
// several scopes locks the shards involved in ascending index order (each once), which makes
// it atomic across them without deadlock.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stratus::governance {

// Most scopes one admission may name (key, team, model, ... ); more is a caller bug.
inline constexpr std::size_t kMaxScopes = 8;

// A key with its hash already computed (StringHash's value), to look up without hashing again.
struct HashedKey {
  std::string_view name;
  std::size_t hash;
  friend bool operator==(const HashedKey& k, std::string_view s) { return k.name == s; }
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
  std::size_t operator()(const HashedKey& k) const noexcept { return k.hash; }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

template <class V, std::size_t N = 64>
class Shards {
 public:
  struct alignas(64) Shard {
    std::mutex mu;
    StringMap<V> map;

    // The value for `key`, made with `make()` when absent.
    template <class Make>
    V& get(std::string_view key, Make&& make) {
      return get(HashedKey{key, StringHash{}(key)}, make);
    }
    template <class Make>
    V& get(const HashedKey& key, Make&& make) {
      if (auto it = map.find(key); it != map.end()) return it->second;
      return map.emplace(std::string(key.name), make()).first->second;
    }
  };

  static std::size_t index_of(std::string_view key) { return StringHash{}(key) % N; }
  Shard& shard_of(std::string_view key) { return shards_[index_of(key)]; }
  Shard& shard(std::size_t i) { return shards_[i]; }
  static constexpr std::size_t size() { return N; }

  // Holds the locks of every shard that `keys` hash to, taken in ascending order. Each key is
  // hashed once, here; get(i) finds the value of keys[i] with that hash.
  class MultiLock {
   public:
    MultiLock(Shards& s, std::span<const std::string_view> keys) : shards_(s) {
      for (const auto k : keys) {
        keys_[size_] = {k, StringHash{}(k)};
        idx_[size_] = keys_[size_].hash % N;
        ++size_;
      }
      std::sort(idx_.begin(), idx_.begin() + size_);
      count_ =
          static_cast<std::size_t>(std::unique(idx_.begin(), idx_.begin() + size_) - idx_.begin());
      for (std::size_t i = 0; i < count_; ++i) shards_.shard(idx_[i]).mu.lock();
    }
    ~MultiLock() {
      for (std::size_t i = count_; i-- > 0;) shards_.shard(idx_[i]).mu.unlock();
    }
    MultiLock(const MultiLock&) = delete;
    MultiLock& operator=(const MultiLock&) = delete;

    // The value of the i-th key given to the constructor, made with `make()` when absent.
    template <class Make>
    V& get(std::size_t i, Make&& make) const {
      return shards_.shard(keys_[i].hash % N).get(keys_[i], make);
    }

   private:
    Shards& shards_;
    std::array<HashedKey, kMaxScopes> keys_{};
    std::array<std::size_t, kMaxScopes> idx_{};
    std::size_t size_ = 0;   // keys
    std::size_t count_ = 0;  // distinct shards locked
  };

 private:
  std::array<Shard, N> shards_;
};

}  // namespace stratus::governance
