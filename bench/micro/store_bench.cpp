// Ledger write throughput: Store::append batches into SQLite (and PostgreSQL when
// STRATUS_BENCH_PG_URL names a database), the LedgerWriter end to end, and the cost of
// submit() on the request path.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "store/store.h"

namespace {

using stratus::store::LedgerEvent;
using stratus::store::LedgerWriter;
using stratus::store::open_store;
using stratus::store::Store;

LedgerEvent make_event(std::int64_t n) {
  LedgerEvent e;
  e.time_ms = 1'700'000'000'000 + n;
  e.request_id = "chatcmpl-" + std::to_string(n) + "-9f86d081884c7d65";
  e.key_id = "k_" + std::to_string(n % 50);
  e.team = "team-" + std::to_string(n % 5);
  e.task_id = "task-" + std::to_string(n / 150);
  e.alias = "gpt-4o";
  e.provider = "openai";
  e.deployment = "openai-east";
  e.status = 200;
  e.attempts = 1;
  e.prompt_tokens = 1200;
  e.cached_tokens = 300;
  e.completion_tokens = 250;
  e.cost_usd = 0.004125;
  e.latency_ms = 812.5;
  e.ttft_ms = 140.25;
  return e;
}

class TempDb {
 public:
  TempDb() {
    char tmpl[] = "/tmp/stratus-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  ~TempDb() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string url() const { return "sqlite://" + dir_ + "/ledger.db"; }
  std::string journal() const { return dir_ + "/ledger.journal"; }

 private:
  std::string dir_;
};

std::unique_ptr<Store> open_migrated(const std::string& url, benchmark::State& state) {
  auto s = open_store(url);
  if (!s || !(*s)->migrate()) {
    state.SkipWithError(("cannot open " + url).c_str());
    return nullptr;
  }
  return std::move(*s);
}

void append_batches(benchmark::State& state, const std::string& url, bool tagged = true) {
  auto store = open_migrated(url, state);
  if (!store) return;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<LedgerEvent> events(batch);
  // Continues after what earlier runs of this benchmark left in the same database.
  std::int64_t n = store->count_events().value_or(0) + 1'000'000'000;
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& e : events) {
      e = make_event(n++);
      if (!tagged) e.team.clear(), e.task_id.clear();
    }
    state.ResumeTiming();
    if (!store->append(events)) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

// One transaction per batch of `range(0)` events.
void BM_SqliteAppend(benchmark::State& state) {
  TempDb db;
  append_batches(state, db.url());
}
BENCHMARK(BM_SqliteAppend)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same with no team and no task (a key without a team, not an agent task): those rows stay
// out of the team and task indexes.
void BM_SqliteAppend_Untagged(benchmark::State& state) {
  TempDb db;
  append_batches(state, db.url(), false);
}
BENCHMARK(BM_SqliteAppend_Untagged)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// submit() from one thread until everything is in SQLite (flush): the sustained rate.
void BM_LedgerWriterSqlite(benchmark::State& state) {
  TempDb db;
  LedgerWriter::Options o;
  o.journal_path = db.journal();
  LedgerWriter writer([url = db.url()] { return open_store(url); }, o);
  writer.flush();
  const std::int64_t per_iteration = 10'000;
  std::int64_t n = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < per_iteration; ++i) writer.submit(make_event(n++));
    writer.flush();
  }
  state.SetItemsProcessed(state.iterations() * per_iteration);
  if (writer.stats().written != static_cast<std::uint64_t>(n)) state.SkipWithError("lost events");
}
BENCHMARK(BM_LedgerWriterSqlite)->Unit(benchmark::kMillisecond)->UseRealTime();

// What a worker thread pays per request: submit() of a ready event, in steady state (the
// writer drains the shards during the pauses, which keeps their capacity).
void BM_LedgerWriterSubmit(benchmark::State& state) {
  TempDb db;
  LedgerWriter writer([url = db.url()] { return open_store(url); }, {});
  std::vector<LedgerEvent> ready(10'000);
  std::size_t next = ready.size();
  std::int64_t n = 0;
  for (auto _ : state) {
    if (next == ready.size()) {
      state.PauseTiming();
      writer.flush();
      for (auto& e : ready) e = make_event(n++);
      next = 0;
      state.ResumeTiming();
    }
    writer.submit(std::move(ready[next++]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LedgerWriterSubmit);

// PostgreSQL only when asked for: it needs a running server.
const bool kPostgresRegistered = [] {
  const char* url = std::getenv("STRATUS_BENCH_PG_URL");
  if (!url || !*url) return false;
  benchmark::RegisterBenchmark(
      "BM_PostgresAppend", [u = std::string(url)](benchmark::State& s) { append_batches(s, u); })
      ->Arg(1000)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  return true;
}();

}  // namespace
