// The governance store: the usage ledger and virtual keys, on SQLite or PostgreSQL, and the
// writer that moves ledger events off the request path in batches (journaling them while the
// store is down).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace stratus::store {

struct LedgerEvent {         // one per client request
  std::int64_t time_ms = 0;  // unix ms when the request finished
  // Text is stored as valid UTF-8 without NUL bytes: other bytes become '?'. An empty
  // request_id is stored as NULL, so such events are never merged (nor deduplicated).
  std::string request_id, key_id, team, task_id, alias, provider, deployment;
  int status = 0;
  int attempts = 0;
  bool stream = false;
  std::int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;  // cached ⊂ prompt
  double cost_usd = 0;
  double latency_ms = 0;
  double ttft_ms = -1;  // -1: no first token
  bool operator==(const LedgerEvent&) const = default;
};

struct KeyRecord {  // a virtual key; the secret itself is never stored
  std::string id;   // public id, e.g. "k_3f9a1c2b" (in lists and the ledger)
  std::string name, team;
  std::string salt, hash;           // hex; hash = SHA-256(salt || secret)
  std::vector<std::string> models;  // allowed aliases; empty = all
  std::int64_t rpm = 0, tpm = 0;    // 0 = unlimited
  double budget_usd = 0;
  std::string budget_period;        // "day" | "month" | "" (none)
  std::int64_t max_task_calls = 0;  // 0 = unlimited
  double max_task_usd = 0;          // 0 = unlimited
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;  // 0: never
  std::int64_t revoked_ms = 0;  // 0: active
  bool operator==(const KeyRecord&) const = default;
};

enum class GroupBy { key, team, model, provider, day, task };

struct UsageRow {
  std::string group;  // the key id, team, alias, provider, task id, or UTC day "YYYY-MM-DD"
  std::int64_t requests = 0, prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  double cost_usd = 0;
  std::int64_t first_ms = 0, last_ms = 0;  // 0 when there are no events
  bool operator==(const UsageRow&) const = default;
};

// One connection to one database. Every method takes an internal mutex, so one instance may be
// shared by threads, but calls block on I/O: keep them off the request path.
class Store {
 public:
  virtual ~Store() = default;
  // Brings the schema to the latest version: each step once, in its own transaction, safe
  // when several processes migrate the same database at once.
  virtual core::Result<void> migrate() = 0;
  virtual core::Result<int> schema_version() = 0;  // 0 before the first migration
  // One transaction per batch; idempotent on request_id (a replayed event is not counted twice).
  virtual core::Result<void> append(std::span<const LedgerEvent> events) = 0;
  virtual core::Result<void> put_key(const KeyRecord& k) = 0;  // insert or replace by id
  virtual core::Result<std::vector<KeyRecord>> keys() = 0;     // all, revoked included, by id
  // Revokes the key with this id or, when no id matches, every active key with this name.
  // false: no such key. A key already revoked keeps its first revocation time.
  virtual core::Result<bool> revoke_key(std::string_view id_or_name, std::int64_t now_ms) = 0;
  // Changes on every key write, whichever process made it (a counter bumped in the key
  // write's transaction); one indexed read, cheap enough to poll every 250 ms.
  virtual core::Result<std::int64_t> keys_version() = 0;
  // Events with time_ms >= since_ms grouped; by cost descending (ties by group), except day:
  // by day ascending. model groups by alias. limit 0: all rows.
  virtual core::Result<std::vector<UsageRow>> usage(GroupBy by, std::int64_t since_ms,
                                                    std::size_t limit) = 0;
  // The sums for one key_id, team or task_id (column) since since_ms; invalid_request for any
  // other column. An empty team or task matches nothing (untagged rows are not indexed by them).
  // For preloading budgets at start.
  virtual core::Result<UsageRow> total(std::string_view column, std::string_view value,
                                       std::int64_t since_ms) = 0;
  virtual core::Result<std::int64_t> count_events() = 0;
};

// "sqlite://relative/or/absolute/path.db" (sqlite:///abs/path.db also works; WAL mode,
// synchronous=NORMAL, 5 s busy timeout) or "postgres://user@host:port/db" / "postgresql://..."
// (any libpq URI; connect_timeout defaults to 5 s). Connects, does not migrate.
core::Result<std::unique_ptr<Store>> open_store(const std::string& url);

std::string_view group_by_name(GroupBy by);  // "key", "team", "model", "provider", "day", "task"
core::Result<GroupBy> parse_group_by(std::string_view name);

// Writes events in batches on its own thread; the request path never blocks on I/O.
// Store down (connect, migrate or append fails): the batch is appended to the journal file
// (JSON lines, fsync'ed per batch) and the store is retried every retry_ms with a fresh
// connection; once it answers, the journal is replayed (idempotent on request_id) and
// truncated. A journal left by a previous run is replayed the same way.
class LedgerWriter {
 public:
  struct Options {
    int batch_max = 1000;      // events per store transaction; also wakes the writer early
    int flush_ms = 200;        // the longest an event waits before its batch is written
    int retry_ms = 500;        // between connection attempts while the store is down
    std::string journal_path;  // empty: no journal; while the store is down events wait in memory
    std::size_t max_queued = 1'000'000;  // events waiting in memory beyond this are dropped
  };
  // Called on the writer thread for every (re)connection; the writer migrates what it gets.
  using Connect = std::function<core::Result<std::unique_ptr<Store>>()>;

  LedgerWriter(Connect connect, Options o);
  ~LedgerWriter();  // = stop()
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Thread-safe; takes one of a few sharded mutexes for a push_back, never does I/O.
  void submit(LedgerEvent e);
  // Blocks until everything submitted before the call is in the store or the journal (or, with
  // no journal, waiting in memory because the store is down).
  void flush();
  // Flushes (one last store attempt if the retry delay has passed, else the journal), then ends
  // the thread. Events submitted after stop() are dropped (counted).
  void stop();

  struct Stats {
    std::uint64_t submitted = 0;   // accepted by submit()
    std::uint64_t written = 0;     // appended to the store straight from memory
    std::uint64_t journaled = 0;   // appended to the journal
    std::uint64_t replayed = 0;    // journal lines through to the store (whole replays only)
    std::uint64_t pending = 0;     // in memory, not yet in the store or the journal
    std::uint64_t in_journal = 0;  // journal lines awaiting replay (found at start + journaled)
    std::uint64_t dropped = 0;     // over max_queued, after stop(), or unreadable journal lines
    bool store_up = false;
    std::string last_error;  // the latest store or journal failure, "" if none yet
  };
  Stats stats() const;

 private:
  struct Shard {
    std::mutex mutex;
    std::vector<LedgerEvent> events;
  };
  static constexpr std::size_t kShards = 16;
  class Worker;  // the writer thread's state: the connection, the journal, events in hand

  void run();
  std::vector<LedgerEvent> take_queued();

  Connect connect_;
  Options options_;
  Shard shards_[kShards];
  std::vector<LedgerEvent> spare_[kShards];  // the writer thread's, swapped into the shards
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<std::uint64_t> queued_{0};  // in the shards
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> stopped_{false};

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_done_ = 0;
  bool stop_requested_ = false;
  bool wake_requested_ = false;
  Stats stats_;  // the writer's counters, published after each round

  std::thread thread_;
};

}  // namespace stratus::store
