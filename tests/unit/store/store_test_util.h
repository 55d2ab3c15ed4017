// Helpers for the store tests: a temp dir, event builders, and a Store wrapper that fails on
// demand (to play "the store is down").
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "store/store.h"

namespace stratus::store::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/stratus-store-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// A plausible event; costs are multiples of 1/1024 so sums are exact in any order.
inline LedgerEvent event(std::string request_id, std::int64_t time_ms = 1'700'000'000'000,
                         std::string key = "k_1", double cost = 0.0009765625) {
  LedgerEvent e;
  e.time_ms = time_ms;
  e.request_id = std::move(request_id);
  e.key_id = std::move(key);
  e.team = "team-a";
  e.task_id = "task-1";
  e.alias = "gpt-x";
  e.provider = "openai";
  e.deployment = "openai-east";
  e.status = 200;
  e.attempts = 1;
  e.prompt_tokens = 100;
  e.cached_tokens = 20;
  e.completion_tokens = 7;
  e.cost_usd = cost;
  e.latency_ms = 12.5;
  e.ttft_ms = 3.25;
  return e;
}

// Delegates to a real store; the first `fail_appends` appends fail, either before touching
// the store or after committing (the answer lost on the way back).
class FlakyStore final : public Store {
 public:
  enum class Mode { before, after_commit };
  FlakyStore(std::unique_ptr<Store> inner, std::shared_ptr<std::atomic<int>> fail_appends,
             Mode mode)
      : inner_(std::move(inner)), fail_appends_(std::move(fail_appends)), mode_(mode) {}

  core::Result<void> migrate() override { return inner_->migrate(); }
  core::Result<int> schema_version() override { return inner_->schema_version(); }
  core::Result<void> append(std::span<const LedgerEvent> events) override {
    if (fail_appends_->fetch_sub(1) > 0) {
      if (mode_ == Mode::after_commit) {
        if (auto r = inner_->append(events); !r) return r;
      }
      return core::fail(core::ErrorKind::unavailable, "flaky: append failed");
    }
    return inner_->append(events);
  }
  core::Result<void> put_key(const KeyRecord& k) override { return inner_->put_key(k); }
  core::Result<std::vector<KeyRecord>> keys() override { return inner_->keys(); }
  core::Result<bool> revoke_key(std::string_view id, std::int64_t now) override {
    return inner_->revoke_key(id, now);
  }
  core::Result<std::int64_t> keys_version() override { return inner_->keys_version(); }
  core::Result<std::vector<UsageRow>> usage(GroupBy by, std::int64_t since,
                                            std::size_t limit) override {
    return inner_->usage(by, since, limit);
  }
  core::Result<UsageRow> total(std::string_view c, std::string_view v,
                               std::int64_t since) override {
    return inner_->total(c, v, since);
  }
  core::Result<std::int64_t> count_events() override { return inner_->count_events(); }

 private:
  std::unique_ptr<Store> inner_;
  std::shared_ptr<std::atomic<int>> fail_appends_;
  Mode mode_;
};

// Polls `done` every 10 ms for up to `limit`; true when it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace stratus::store::test
