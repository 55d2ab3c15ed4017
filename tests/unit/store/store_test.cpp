// The Store contract, run on SQLite and PostgreSQL alike: migrations, idempotent appends,
// usage and totals, virtual keys and their version counter.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "store/libpq.h"
#include "store/sql.h"
#include "unit/store/backend.h"

namespace stratus::store::test {
namespace {

class StoreTest : public BackendTest {};
STRATUS_STORE_BACKENDS(StoreTest);

constexpr std::int64_t kDay1 = 1'709'251'200'000;  // 2024-03-01T00:00:00Z
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

LedgerEvent row(std::string id, std::int64_t t, std::string key, std::string team,
                std::string alias, std::string provider, std::string task, double cost,
                std::int64_t prompt, std::int64_t cached, std::int64_t completion) {
  LedgerEvent e = event(std::move(id), t, std::move(key), cost);
  e.team = std::move(team);
  e.alias = std::move(alias);
  e.provider = std::move(provider);
  e.task_id = std::move(task);
  e.prompt_tokens = prompt;
  e.cached_tokens = cached;
  e.completion_tokens = completion;
  return e;
}

// Four requests over three UTC days; costs are exact binary fractions.
std::vector<LedgerEvent> dataset() {
  return {
      row("r1", kDay1 + 10 * kHour, "k_a", "red", "m1", "p1", "t1", 1.0, 100, 10, 5),
      row("r2", kDay1 + kDay - 1, "k_b", "red", "m2", "p2", "t1", 0.25, 200, 0, 50),
      row("r3", kDay1 + kDay, "k_a", "blue", "m1", "p2", "t2", 2.5, 300, 30, 7),
      row("r4", kDay1 + 2 * kDay + 12 * kHour, "k_b", "blue", "m1", "p1", "", 0.125, 1, 0, 1),
  };
}

std::vector<std::pair<std::string, double>> groups(const std::vector<UsageRow>& rows) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& r : rows) out.emplace_back(r.group, r.cost_usd);
  return out;
}

using Groups = std::vector<std::pair<std::string, double>>;

TEST_P(StoreTest, Migrate_FreshThenAgain_AtLatestVersion) {
  auto s = open_store(url_);
  ASSERT_TRUE(s) << s.error().message;
  auto before = (*s)->schema_version();
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(*before, 0);
  ASSERT_TRUE((*s)->migrate());
  EXPECT_EQ((*s)->schema_version().value(), detail::latest_version());
  auto again = (*s)->migrate();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ((*s)->schema_version().value(), detail::latest_version());
  EXPECT_EQ((*s)->count_events().value(), 0);
  EXPECT_EQ((*s)->keys_version().value(), 0);
}

TEST_P(StoreTest, Migrate_ConcurrentProcesses_EachStepOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto s = open_store(url_);
      if (s && (*s)->migrate()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version().value(), detail::latest_version());
}

TEST_P(StoreTest, Append_ReplayedRequestIds_CountedOnce) {
  auto s = open();
  ASSERT_TRUE(s);
  std::vector<LedgerEvent> batch = {event("a"), event("b"), event("a")};
  ASSERT_TRUE(s->append(batch));
  ASSERT_TRUE(s->append(batch));  // the whole batch again, as a journal replay would
  EXPECT_EQ(s->count_events().value(), 2);
  auto t = s->total("key_id", "k_1", 0).value();
  EXPECT_EQ(t.requests, 2);
  EXPECT_EQ(t.prompt_tokens, 200);
  EXPECT_EQ(t.cost_usd, 2 * 0.0009765625);
}

TEST_P(StoreTest, Append_EmptyRequestId_NeverMerged) {
  auto s = open();
  ASSERT_TRUE(s);
  std::vector<LedgerEvent> batch = {event(""), event("")};
  ASSERT_TRUE(s->append(batch));
  EXPECT_EQ(s->count_events().value(), 2);
}

TEST_P(StoreTest, Append_InvalidUtf8AndNul_StoredAsQuestionMarks) {
  auto s = open();
  ASSERT_TRUE(s);
  auto e = event(std::string("bad\xff\0id", 7), 1, std::string("k\xc3(", 3));
  e.team = "équipe";  // valid UTF-8 is kept as is
  ASSERT_TRUE(s->append(std::span(&e, 1)));
  EXPECT_EQ(s->count_events().value(), 1);
  EXPECT_EQ(s->total("key_id", "k?(", 0).value().requests, 1);
  EXPECT_EQ(s->total("team", "équipe", 0).value().requests, 1);
  ASSERT_TRUE(s->append(std::span(&e, 1)));  // cleaned the same way: still a duplicate
  EXPECT_EQ(s->count_events().value(), 1);
}

TEST_P(StoreTest, Append_LargeBatch_OneTransactionAllRows) {
  auto s = open();
  ASSERT_TRUE(s);
  std::vector<LedgerEvent> batch;
  for (int i = 0; i < 2500; ++i) batch.push_back(event("r" + std::to_string(i), 1000 + i));
  ASSERT_TRUE(s->append(batch));
  EXPECT_EQ(s->count_events().value(), 2500);
  auto t = s->total("task_id", "task-1", 0).value();
  EXPECT_EQ(t.requests, 2500);
  EXPECT_EQ(t.completion_tokens, 2500 * 7);
  EXPECT_EQ(t.cost_usd, 2500 * 0.0009765625);
  EXPECT_EQ(t.first_ms, 1000);
  EXPECT_EQ(t.last_ms, 3499);
}

TEST_P(StoreTest, Append_DoublesAndBooleans_ReadBackExactly) {
  auto s = open();
  ASSERT_TRUE(s);
  auto e = event("x", 5, "k_exact", 0.1 + 0.2);
  e.stream = true;
  ASSERT_TRUE(s->append(std::span(&e, 1)));
  EXPECT_EQ(s->total("key_id", "k_exact", 0).value().cost_usd, 0.1 + 0.2);
}

TEST_P(StoreTest, Usage_GroupedByKey_AllSumsByCostDescending) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(dataset()));
  auto rows = s->usage(GroupBy::key, 0, 0);
  ASSERT_TRUE(rows) << rows.error().message;
  std::vector<UsageRow> want = {
      {"k_a", 2, 400, 40, 12, 3.5, kDay1 + 10 * kHour, kDay1 + kDay},
      {"k_b", 2, 201, 0, 51, 0.375, kDay1 + kDay - 1, kDay1 + 2 * kDay + 12 * kHour},
  };
  EXPECT_EQ(*rows, want);
}

TEST_P(StoreTest, Usage_EachGrouping_GroupsAndOrder) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(dataset()));
  EXPECT_EQ(groups(s->usage(GroupBy::team, 0, 0).value()),
            (Groups{{"blue", 2.625}, {"red", 1.25}}));
  EXPECT_EQ(groups(s->usage(GroupBy::model, 0, 0).value()), (Groups{{"m1", 3.625}, {"m2", 0.25}}));
  EXPECT_EQ(groups(s->usage(GroupBy::provider, 0, 0).value()),
            (Groups{{"p2", 2.75}, {"p1", 1.125}}));
  EXPECT_EQ(groups(s->usage(GroupBy::task, 0, 0).value()),
            (Groups{{"t2", 2.5}, {"t1", 1.25}, {"", 0.125}}));
  // Days are UTC and ascending; the last millisecond of a day stays in it.
  auto days = s->usage(GroupBy::day, 0, 0).value();
  EXPECT_EQ(groups(days),
            (Groups{{"2024-03-01", 1.25}, {"2024-03-02", 2.5}, {"2024-03-03", 0.125}}));
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(days[0].requests, 2);
}

TEST_P(StoreTest, Usage_SinceAndLimit_Applied) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(dataset()));
  auto since = s->usage(GroupBy::key, kDay1 + kDay, 0).value();
  EXPECT_EQ(groups(since), (Groups{{"k_a", 2.5}, {"k_b", 0.125}}));
  ASSERT_EQ(since.size(), 2u);
  EXPECT_EQ(since[0].requests, 1);
  EXPECT_EQ(groups(s->usage(GroupBy::model, 0, 1).value()), (Groups{{"m1", 3.625}}));
  EXPECT_TRUE(s->usage(GroupBy::key, kDay1 + 3 * kDay, 0).value().empty());
}

TEST_P(StoreTest, Total_ByColumnSince_AndUnknownColumnRefused) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(dataset()));
  EXPECT_EQ(s->total("team", "red", 0).value(),
            (UsageRow{"red", 2, 300, 10, 55, 1.25, kDay1 + 10 * kHour, kDay1 + kDay - 1}));
  EXPECT_EQ(s->total("task_id", "t1", kDay1 + 11 * kHour).value().requests, 1);
  EXPECT_EQ(s->total("task_id", "", 0).value().requests, 0);  // r4 is untagged: not a task
  EXPECT_EQ(s->total("key_id", "nobody", 0).value(), (UsageRow{"nobody", 0, 0, 0, 0, 0, 0, 0}));
  auto bad = s->total("alias; DROP TABLE ledger", "x", 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, core::ErrorKind::invalid_request);
  EXPECT_EQ(s->count_events().value(), 4);
}

KeyRecord key(std::string id, std::string name) {
  KeyRecord k;
  k.id = std::move(id);
  k.name = std::move(name);
  k.team = "red";
  k.salt = "00ff10";
  k.hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  k.created_ms = 1000;
  return k;
}

TEST_P(StoreTest, Keys_PutReplaceList_AllFieldsAndVersionBumps) {
  auto s = open();
  ASSERT_TRUE(s);
  auto v0 = s->keys_version().value();
  auto k1 = key("k_1", "alice");
  k1.models = {"m1", "m,2"};
  k1.rpm = 60;
  k1.tpm = 100000;
  k1.budget_usd = 10.5;
  k1.budget_period = "month";
  k1.max_task_calls = 200;
  k1.max_task_usd = 2.25;
  k1.expires_ms = 99999;
  ASSERT_TRUE(s->put_key(k1));
  auto v1 = s->keys_version().value();
  EXPECT_GT(v1, v0);
  auto k2 = key("k_0", "bob");
  ASSERT_TRUE(s->put_key(k2));
  auto v2 = s->keys_version().value();
  EXPECT_GT(v2, v1);
  EXPECT_EQ(s->keys().value(), (std::vector<KeyRecord>{k2, k1}));  // by id
  EXPECT_EQ(s->keys_version().value(), v2);                        // reads change nothing
  k1.rpm = 120;
  k1.models.clear();
  ASSERT_TRUE(s->put_key(k1));  // same id: replaced
  EXPECT_GT(s->keys_version().value(), v2);
  EXPECT_EQ(s->keys().value(), (std::vector<KeyRecord>{k2, k1}));
}

TEST_P(StoreTest, Keys_Revoke_ByIdThenByNameAndUnknown) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_key(key("k_1", "alice")));
  ASSERT_TRUE(s->put_key(key("k_2", "ci")));
  ASSERT_TRUE(s->put_key(key("k_3", "ci")));
  ASSERT_TRUE(s->put_key(key("ci", "carol")));  // an id equal to another key's name
  auto v = s->keys_version().value();

  EXPECT_TRUE(s->revoke_key("k_1", 5000).value());
  auto v1 = s->keys_version().value();
  EXPECT_GT(v1, v);
  EXPECT_TRUE(s->revoke_key("k_1", 6000).value());  // already revoked: first time kept
  EXPECT_EQ(s->keys_version().value(), v1);
  EXPECT_TRUE(s->revoke_key("ci", 7000).value());  // the id wins over the name
  EXPECT_TRUE(s->revoke_key("carol", 8000).value());
  EXPECT_FALSE(s->revoke_key("nobody", 9000).value());

  auto keys = s->keys().value();
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0].id, "ci");
  EXPECT_EQ(keys[0].revoked_ms, 7000);
  EXPECT_EQ(keys[1].revoked_ms, 5000);  // k_1
  EXPECT_EQ(keys[2].revoked_ms, 0);     // k_2 "ci": not revoked by the id match
  EXPECT_EQ(keys[3].revoked_ms, 0);
}

TEST_P(StoreTest, Keys_RevokeByName_EveryActiveKeyOfThatName) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_key(key("k_2", "ci")));
  ASSERT_TRUE(s->put_key(key("k_3", "ci")));
  EXPECT_TRUE(s->revoke_key("ci", 7000).value());
  auto keys = s->keys().value();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].revoked_ms, 7000);
  EXPECT_EQ(keys[1].revoked_ms, 7000);
}

TEST_P(StoreTest, Keys_WriteOnOneConnection_SeenOnAnother) {
  auto writer = open();
  auto reader = open();
  ASSERT_TRUE(writer && reader);
  auto before = reader->keys_version().value();
  ASSERT_TRUE(writer->put_key(key("k_9", "dave")));
  EXPECT_NE(reader->keys_version().value(), before);
  ASSERT_EQ(reader->keys().value().size(), 1u);
  ASSERT_TRUE(writer->revoke_key("dave", 42));
  EXPECT_EQ(reader->keys().value()[0].revoked_ms, 42);
}

// One SQL statement's rows as text, on a raw connection (what the store does not expose).
std::vector<std::string> sqlite_rows(sqlite3* db, const std::string& sql, int column) {
  std::vector<std::string> out;
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (s && sqlite3_step(s) == SQLITE_ROW) {
    const auto* t = sqlite3_column_text(s, column);
    out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  sqlite3_finalize(s);
  return out;
}

// A ledger made by version 1 moves to version 2: its rows stay, the team and task indexes hold
// tagged rows only, and the total queries use them.
TEST(StoreSqlite, Migration2_FromVersion1_PartialIndexesThatTotalsUse) {
  TempDir dir;
  const auto path = dir.file("v1.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  const std::string v1 = std::string(detail::migrations()[0].sqlite) +
                         ";CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms "
                         "INTEGER NOT NULL);INSERT INTO schema_version VALUES (1, 0);";
  ASSERT_EQ(sqlite3_exec(raw, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  {
    auto s = open_store("sqlite://" + path);
    ASSERT_TRUE(s);
    ASSERT_EQ((*s)->schema_version().value(), 1);
    ASSERT_TRUE((*s)->append(dataset()));
    ASSERT_TRUE((*s)->migrate());
    EXPECT_EQ((*s)->schema_version().value(), detail::latest_version());
    EXPECT_EQ((*s)->count_events().value(), 4);
    EXPECT_EQ((*s)->total("team", "blue", 0).value().requests, 2);
    EXPECT_EQ((*s)->total("task_id", "t1", 0).value().requests, 2);
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  for (const auto& [index, column] :
       {std::pair{"ledger_team", "team"}, {"ledger_task", "task_id"}}) {
    const auto def = sqlite_rows(
        raw, std::string("SELECT sql FROM sqlite_master WHERE name = '") + index + "'", 0);
    ASSERT_EQ(def.size(), 1u) << index;
    EXPECT_NE(def[0].find(std::string("WHERE ") + column + " <> ''"), std::string::npos) << def[0];
    const auto plan = sqlite_rows(
        raw, "EXPLAIN QUERY PLAN " + detail::to_sqlite_placeholders(*detail::total_sql(column)), 3);
    ASSERT_FALSE(plan.empty()) << column;
    EXPECT_NE(plan[0].find(std::string("USING INDEX ") + index), std::string::npos)
        << column << ": " << plan[0];
  }
  // Only tagged rows are in them: r4 has no task, every row has a team.
  EXPECT_EQ(
      sqlite_rows(raw, "SELECT count(*) FROM ledger INDEXED BY ledger_task WHERE task_id <> ''", 0),
      std::vector<std::string>{"3"});
  sqlite3_close(raw);
}

TEST(StoreOpen, UnknownSchemeOrEmptyPath_ClearError) {
  auto a = open_store("mysql://root@localhost/x");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().kind, core::ErrorKind::invalid_request);
  EXPECT_NE(a.error().message.find("sqlite://"), std::string::npos);
  EXPECT_FALSE(open_store("sqlite://"));
}

TEST(StoreOpen, PostgresUnreachable_UnavailableNotHang) {
  auto start = std::chrono::steady_clock::now();
  auto s = open_store("postgres://nobody@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, core::ErrorKind::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// The PostgreSQL store loads libpq itself (store/libpq.h): every function it uses is found,
// once, and is libpq's own (this test binary also links libpq, so both name one function).
TEST(StoreOpen, LibPq_LoadedOnceWithEveryFunction) {
  auto lib = detail::load_libpq();
  ASSERT_TRUE(lib) << lib.error().message;
  auto again = detail::load_libpq();
  ASSERT_TRUE(again);
  EXPECT_EQ(*lib, *again);
  EXPECT_EQ(*lib, &detail::pq());
#define STRATUS_EXPECT_RESOLVED(name) EXPECT_NE((*lib)->name, nullptr) << "PQ" #name;
  STRATUS_LIBPQ_FUNCTIONS(STRATUS_EXPECT_RESOLVED)
#undef STRATUS_EXPECT_RESOLVED
  EXPECT_EQ((*lib)->ntuples, &::PQntuples);
  EXPECT_EQ((*lib)->execPrepared, &::PQexecPrepared);
}

TEST(StoreOpen, GroupByNames_RoundTrip) {
  for (auto by : {GroupBy::key, GroupBy::team, GroupBy::model, GroupBy::provider, GroupBy::day,
                  GroupBy::task}) {
    EXPECT_EQ(parse_group_by(group_by_name(by)).value(), by);
  }
  EXPECT_FALSE(parse_group_by("alias"));
}

}  // namespace
}  // namespace stratus::store::test
