// Process-wide governance: virtual keys (loaded from the store and re-read when they change),
// the Governor (rate limits, budgets, agent tasks), the usage ledger writer, and the blocking
// store calls of the admin API, run on their own thread. Shared by every worker.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "governance/governor.h"
#include "governance/keys.h"
#include "store/store.h"

namespace stratus::gateway {

class Governance {
 public:
  // nullptr when the config asks for no keys (auth.master_key), no ledger (store.url) and no
  // alias limits. Keys and a ledger need the store; alias limits alone do not.
  static std::unique_ptr<Governance> start(const config::Config& cfg);
  explicit Governance(const config::Config& cfg);
  ~Governance();  // stops the key poller; flushes the ledger (store, else journal)
  Governance(const Governance&) = delete;
  Governance& operator=(const Governance&) = delete;

  governance::Governor& governor() { return governor_; }
  std::shared_ptr<const governance::KeyRing> keys() const { return ring_.load(); }
  // nullptr without a store (open mode with alias limits only).
  store::LedgerWriter* ledger() { return ledger_.get(); }
  boost::asio::thread_pool& admin_pool() { return admin_pool_; }
  const std::string& store_url() const { return url_; }

  // Admin calls: blocking store I/O, to run on admin_pool().
  // POST /admin/keys: the new key (shown once) and its record, or an error.
  core::Result<boost::json::object> create_key(const boost::json::object& request);
  core::Result<boost::json::array> list_keys();
  core::Result<std::string> revoke_key(std::string_view id_or_name);  // the id
  core::Result<boost::json::object> usage(std::string_view group_by, std::string_view since,
                                          std::size_t limit);
  boost::json::object flush();

  // Reads the keys from the store now and publishes them to every worker.
  core::Result<void> refresh_keys();

 private:
  void poll_loop();
  core::Result<void> refresh_keys_locked();

  std::string url_;
  std::vector<config::Team> teams_;
  governance::Governor governor_;
  governance::KeyRingHolder ring_;
  std::unique_ptr<store::LedgerWriter> ledger_;
  boost::asio::thread_pool admin_pool_{1};

  std::mutex store_mutex_;  // the admin / poller connection
  std::unique_ptr<store::Store> store_;
  std::int64_t keys_version_ = -1;
  std::set<std::string> preloaded_;  // budget scopes loaded from the ledger

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread poller_;
};

// "7d", "24h", "30m", "90s", "all" → milliseconds (all = everything); nullopt when malformed.
std::optional<std::int64_t> parse_since(std::string_view text);
std::int64_t unix_ms();

}  // namespace stratus::gateway
