// The ledger writer thread: drains the submit shards, writes batches to the store, journals
// them while the store is down and replays the journal once it is back.
#include <chrono>

#include "store/journal.h"
#include "store/store.h"

namespace stratus::store {

namespace {

using Clock = std::chrono::steady_clock;

// Each thread keeps to one shard, so workers rarely share a mutex.
std::size_t thread_shard(std::size_t shards) {
  thread_local const std::size_t mine = [] {
    std::uint64_t x = std::hash<std::thread::id>{}(std::this_thread::get_id());
    x ^= x >> 33;  // thread ids are aligned addresses: mix the high bits down
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<std::size_t>(x);
  }();
  return mine % shards;
}

}  // namespace

class LedgerWriter::Worker {
 public:
  explicit Worker(LedgerWriter& w) : w_(w), o_(w.options_) {
    if (!o_.journal_path.empty()) {
      journal_.emplace(o_.journal_path);
      if (auto n = journal_->count_lines()) {
        stats_.in_journal = *n;
      } else {
        stats_.last_error = n.error().message;
        stats_.in_journal = 1;  // unknown: try a replay anyway
      }
    }
  }

  // One pass: take what was submitted, replay the journal if the store is up, write, and
  // journal whatever could not be written.
  void round(bool stopping) {
    auto taken = w_.take_queued();
    if (held_.empty()) {
      held_ = std::move(taken);
    } else {
      held_.insert(held_.end(), std::make_move_iterator(taken.begin()),
                   std::make_move_iterator(taken.end()));
    }
    ensure_store();
    if (store_ && stats_.in_journal > 0) replay();
    if (store_ && stats_.in_journal == 0) write_held();
    if (!held_.empty() && journal_) journal_held();
    if (held_.size() > o_.max_queued) {
      auto extra = held_.size() - o_.max_queued;
      held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(extra));
      w_.dropped_ += extra;
    }
    if (stopping && !held_.empty()) {  // no store, no journal: nowhere left to put them
      w_.dropped_ += held_.size();
      held_.clear();
    }
  }

  Stats stats() const {
    Stats s = stats_;
    s.pending = held_.size();
    s.store_up = store_ != nullptr;
    return s;
  }

 private:
  void fail(const core::Error& e) {
    stats_.last_error = e.message;
    store_.reset();
    next_connect_ = Clock::now() + std::chrono::milliseconds(o_.retry_ms);
  }

  // Connects (and migrates) at the first round, then every retry_ms while the store is down.
  void ensure_store() {
    if (store_) return;
    // Within retry_ms of a failure, even when stopping, the journal takes the events.
    if (Clock::now() < next_connect_) return;
    core::Result<std::unique_ptr<Store>> s =
        core::fail(core::ErrorKind::unavailable, "ledger store: connect threw");
    try {
      s = w_.connect_();
    } catch (const std::exception& e) {
      s = core::fail(core::ErrorKind::unavailable, std::string("ledger store: ") + e.what());
    }
    if (!s) return fail(s.error());
    if (!*s) return fail(core::Error::make(core::ErrorKind::unavailable, "ledger store: null"));
    if (auto m = (*s)->migrate(); !m) return fail(m.error());
    store_ = std::move(*s);
  }

  void replay() {
    std::uint64_t bad = 0, replayed = 0;
    auto r = journal_->replay(
        static_cast<std::size_t>(std::max(1, o_.batch_max)),
        [&](std::span<const LedgerEvent> b) {
          auto a = store_->append(b);
          if (a) replayed += b.size();
          return a;
        },
        bad);
    if (!r) return fail(r.error());
    if (auto t = journal_->truncate(); !t) {
      // Replayed but still on disk: harmless (replays are idempotent); try again next round.
      stats_.last_error = t.error().message;
      return;
    }
    // Counted once the whole journal is through, so an interrupted replay done again later
    // does not count twice.
    stats_.replayed += replayed;
    w_.dropped_ += bad;
    stats_.in_journal = 0;
  }

  void write_held() {
    std::size_t batch = static_cast<std::size_t>(std::max(1, o_.batch_max));
    std::size_t done = 0;
    while (done < held_.size()) {
      auto n = std::min(batch, held_.size() - done);
      auto a = store_->append(std::span<const LedgerEvent>(held_).subspan(done, n));
      if (!a) {
        fail(a.error());
        break;
      }
      done += n;
      stats_.written += n;
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void journal_held() {
    if (auto j = journal_->append(held_); !j) {
      stats_.last_error = j.error().message;  // kept in memory; tried again next round
      return;
    }
    stats_.journaled += held_.size();
    stats_.in_journal += held_.size();
    held_.clear();
  }

  LedgerWriter& w_;
  const Options& o_;
  std::unique_ptr<Store> store_;
  Clock::time_point next_connect_{};
  std::optional<Journal> journal_;
  std::vector<LedgerEvent> held_;  // taken from the shards, not yet in the store or journal
  Stats stats_;
};

LedgerWriter::LedgerWriter(Connect connect, Options o)
    : connect_(std::move(connect)), options_(std::move(o)) {
  thread_ = std::thread([this] { run(); });
}

LedgerWriter::~LedgerWriter() { stop(); }

void LedgerWriter::submit(LedgerEvent e) {
  if (stopped_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Counted before it is pushed: take_queued() subtracts what it takes, and an event taken
  // before its count was added would wrap the counter below zero. Every other submit would
  // then see a full queue and drop its event until this one's count came in (a submitter
  // preempted there dropped thousands in a test).
  const auto queued = queued_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (queued > options_.max_queued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& shard = shards_[thread_shard(kShards)];
  {
    std::lock_guard lock(shard.mutex);
    shard.events.push_back(std::move(e));
  }
  submitted_.fetch_add(1, std::memory_order_relaxed);
  auto batch = static_cast<std::uint64_t>(std::max(1, options_.batch_max));
  if (queued % batch == 0) {  // a full batch: wake the writer before its timer
    {
      std::lock_guard lock(mutex_);
      wake_requested_ = true;
    }
    wake_.notify_one();
  }
}

std::vector<LedgerEvent> LedgerWriter::take_queued() {
  std::vector<LedgerEvent> out;
  for (std::size_t i = 0; i < kShards; ++i) {
    // The shard gets back an empty vector that keeps its capacity, so submit() rarely
    // reallocates under the lock.
    auto& taken = spare_[i];
    taken.clear();
    {
      std::lock_guard lock(shards_[i].mutex);
      taken.swap(shards_[i].events);
    }
    queued_.fetch_sub(taken.size(), std::memory_order_relaxed);
    out.insert(out.end(), std::make_move_iterator(taken.begin()),
               std::make_move_iterator(taken.end()));
  }
  return out;
}

void LedgerWriter::run() {
  Worker worker(*this);
  auto period = std::chrono::milliseconds(std::max(1, options_.flush_ms));
  auto deadline = Clock::now();  // the first round connects and replays at once
  for (;;) {
    std::uint64_t generation;
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, deadline, [&] {
        return stop_requested_ || wake_requested_ || flush_requested_ > flush_done_;
      });
      wake_requested_ = false;
      stopping = stop_requested_;
      generation = flush_requested_;
    }
    deadline = Clock::now() + period;
    worker.round(stopping);
    {
      std::lock_guard lock(mutex_);
      stats_ = worker.stats();
      flush_done_ = generation;
    }
    flushed_.notify_all();
    if (stopping) return;
  }
}

void LedgerWriter::flush() {
  std::unique_lock lock(mutex_);
  if (stop_requested_) return;
  auto generation = ++flush_requested_;
  wake_.notify_one();
  // The writer's last round (after stop) still answers this generation.
  flushed_.wait(lock, [&] { return flush_done_ >= generation; });
}

void LedgerWriter::stop() {
  stopped_.store(true);
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // Whatever raced past the stopped_ check after the last round cannot be written any more.
  dropped_ += take_queued().size();
}

LedgerWriter::Stats LedgerWriter::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.submitted = submitted_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.pending += queued_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace stratus::store
