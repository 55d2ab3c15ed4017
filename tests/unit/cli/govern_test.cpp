// `stratus keys` and `stratus usage` without the binary: flag validation into key records, the
// printed tables and JSON, store URLs and the config loading the commands do.
#include "cli/govern.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace stratus::cli {
namespace {

constexpr std::int64_t kNow = 1'717'245'296'789;  // 2024-06-01 12:34:56.789 UTC
constexpr std::int64_t kDay = 86'400'000;

::testing::AssertionResult contains(std::string_view text, std::string_view part) {
  if (text.find(part) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

config::Config test_config() {
  config::Config c;
  c.models.push_back({.name = "gpt-4o", .deployments = {}});
  c.models.push_back({.name = "claude-sonnet", .deployments = {}});
  c.teams.push_back({.name = "research", .limits = {}, .budget_usd = 0, .budget_period = ""});
  return c;
}

KeyFlags named(std::string name) {
  KeyFlags f;
  f.name = std::move(name);
  return f;
}

store::KeyRecord record(std::string id, std::string name) {
  store::KeyRecord k;
  k.id = std::move(id);
  k.name = std::move(name);
  k.salt = "00112233445566778899aabbccddeeff";
  k.hash = std::string(64, 'a');
  k.created_ms = kNow;
  return k;
}

std::string plan_error(const KeyFlags& f, std::span<const store::KeyRecord> existing = {}) {
  auto p = plan_key(f, test_config(), existing, kNow);
  return p ? "(accepted)" : p.error();
}

TEST(CliPlanKey, EveryFlag_FillsTheRecord) {
  KeyFlags f = named("ci-bot");
  f.team = "research";
  f.models = "gpt-4o, claude-*";
  f.rpm = "60";
  f.tpm = "100000";
  f.budget_usd = "50";
  f.budget_period = "day";
  f.max_task_calls = "200";
  f.max_task_usd = "2.5";
  f.expires = "30d";
  const auto p = plan_key(f, test_config(), {}, kNow);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->warnings.empty());
  store::KeyRecord want;
  want.name = "ci-bot";
  want.team = "research";
  want.models = {"gpt-4o", "claude-*"};
  want.rpm = 60;
  want.tpm = 100000;
  want.budget_usd = 50;
  want.budget_period = "day";
  want.max_task_calls = 200;
  want.max_task_usd = 2.5;
  want.created_ms = kNow;
  want.expires_ms = kNow + 30 * kDay;
  EXPECT_EQ(p->record, want);
}

TEST(CliPlanKey, NameOnly_NoLimitsNeverExpires) {
  const auto p = plan_key(named("app"), test_config(), {}, kNow);
  ASSERT_TRUE(p);
  store::KeyRecord want;
  want.name = "app";
  want.created_ms = kNow;
  EXPECT_EQ(p->record, want);
}

TEST(CliPlanKey, BudgetWithoutPeriod_Monthly) {
  KeyFlags f = named("app");
  f.budget_usd = "0.5";
  const auto p = plan_key(f, test_config(), {}, kNow);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->record.budget_usd, 0.5);
  EXPECT_EQ(p->record.budget_period, "month");
}

TEST(CliPlanKey, BadValues_ErrorNamesTheFlag) {
  const auto with = [](auto member, std::string value) {
    KeyFlags f = named("app");
    f.*member = std::move(value);
    return plan_error(f);
  };
  EXPECT_EQ(with(&KeyFlags::budget_usd, "-5"),
            "--budget-usd needs a positive amount in US$: '-5' is not a positive number");
  EXPECT_EQ(with(&KeyFlags::budget_usd, "0"),
            "--budget-usd needs a positive amount in US$: '0' is not a positive number");
  EXPECT_EQ(with(&KeyFlags::budget_usd, "2e9"), "--budget-usd must be at most 1000000000");
  EXPECT_EQ(with(&KeyFlags::rpm, "fast"),
            "--rpm needs a positive whole number: 'fast' is not a positive whole number");
  EXPECT_EQ(with(&KeyFlags::tpm, "1.5"),
            "--tpm needs a positive whole number: '1.5' is not a positive whole number");
  EXPECT_EQ(with(&KeyFlags::max_task_calls, "0"),
            "--max-task-calls needs a positive whole number: '0' is not a positive whole number");
  EXPECT_EQ(with(&KeyFlags::max_task_usd, "nan"),
            "--max-task-usd needs a positive amount in US$: 'nan' is not a positive number");
  EXPECT_TRUE(contains(with(&KeyFlags::expires, "30"), "--expires: '30' is not a duration"));
  EXPECT_EQ(with(&KeyFlags::models, " , "),
            "--models needs at least one model alias (a,b; '*' for all)");
  EXPECT_EQ(with(&KeyFlags::team, ""), "--team must not be empty");
  EXPECT_EQ(plan_error(named("  ")), "--name must not be empty");
  EXPECT_EQ(plan_error(named("a\nb")), "--name must not contain control characters");
  EXPECT_EQ(plan_error(named(std::string(129, 'n'))), "--name is longer than 128 characters");
}

TEST(CliPlanKey, BudgetPeriod_DayOrMonthAndOnlyWithABudget) {
  KeyFlags f = named("app");
  f.budget_period = "month";
  EXPECT_EQ(plan_error(f), "--budget-period needs --budget-usd");
  f.budget_usd = "10";
  f.budget_period = "week";
  EXPECT_EQ(plan_error(f), "--budget-period must be day or month, not 'week'");
}

TEST(CliPlanKey, NameOfAKeyNotRevoked_Refused_RevokedOneFreesIt) {
  const std::vector<store::KeyRecord> existing = {record("0a1b2c3d", "app")};
  EXPECT_EQ(plan_error(named("app"), existing),
            "a key named 'app' already exists (id 0a1b2c3d, active); revoke it first or choose "
            "another name");
  auto expired = existing;
  expired[0].expires_ms = kNow - 1;
  EXPECT_TRUE(contains(plan_error(named("app"), expired), "(id 0a1b2c3d, expired)"));
  auto revoked = existing;
  revoked[0].revoked_ms = kNow - 1;
  EXPECT_EQ(plan_error(named("app"), revoked), "(accepted)");
  EXPECT_EQ(plan_error(named("0a1b2c3d"), revoked), "--name '0a1b2c3d' is the id of another key");
}

TEST(CliPlanKey, UnknownTeamOrAlias_AcceptedWithAWarning) {
  KeyFlags f = named("app");
  f.team = "marketing";
  f.models = "gpt-4o,gpt-5,claude-*,mistral-*,*";
  const auto p = plan_key(f, test_config(), {}, kNow);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->record.team, "marketing");
  EXPECT_EQ(p->warnings,
            (std::vector<std::string>{
                "team 'marketing' is not listed under teams: in the config, so no team limits "
                "or budget apply to it",
                "model 'gpt-5' matches no alias of the config",
                "model 'mistral-*' matches no alias of the config"}));
}

TEST(CliKeys, Status_RevokedBeatsExpired) {
  auto k = record("0a1b2c3d", "app");
  EXPECT_EQ(key_status(k, kNow), "active");
  k.expires_ms = kNow + 1;
  EXPECT_EQ(key_status(k, kNow), "active");
  k.expires_ms = kNow;
  EXPECT_EQ(key_status(k, kNow), "expired");
  k.revoked_ms = kNow - 5;
  EXPECT_EQ(key_status(k, kNow), "revoked");
}

TEST(CliKeys, Json_PublicFieldsOnly_PlainNumbers) {
  auto k = record("0a1b2c3d", "app");
  k.team = "research";
  k.models = {"gpt-4o"};
  k.budget_usd = 50;
  k.budget_period = "month";
  k.max_task_usd = 0.25;
  const std::string fields =
      R"("id":"0a1b2c3d","name":"app","team":"research","models":["gpt-4o"],"rpm":0,"tpm":0,)"
      R"("budget_usd":50,"budget_period":"month","max_task_calls":0,"max_task_usd":0.25,)"
      R"("created_ms":1717245296789,"expires_ms":0,"revoked_ms":0,"status":"active")";
  EXPECT_EQ(key_json(k, kNow), "{" + fields + "}");
  EXPECT_EQ(keys_json(std::vector{k}, kNow), R"({"keys":[{)" + fields + "}]}");
  EXPECT_EQ(created_key_json("sk-stratus-0a1b2c3d-secret", k, kNow),
            R"({"key":"sk-stratus-0a1b2c3d-secret",)" + fields + "}");
  EXPECT_FALSE(contains(keys_json(std::vector{k}, kNow), "salt"));
  EXPECT_FALSE(contains(keys_json(std::vector{k}, kNow), k.hash));
}

TEST(CliKeys, Table_OldestFirst_EveryColumn) {
  auto a = record("ffff0001", "ci-bot");
  a.team = "research";
  a.models = {"gpt-4o", "claude-*"};
  a.rpm = 60;
  a.tpm = 100000;
  a.budget_usd = 50;
  a.budget_period = "day";
  a.max_task_calls = 200;
  a.max_task_usd = 2.5;
  a.expires_ms = kNow + 30 * kDay;
  auto b = record("0000aaaa", "old");
  b.created_ms = kNow - kDay;
  b.revoked_ms = kNow - 1000;
  auto c = record("1234abcd", "gone");
  c.expires_ms = kNow - 1;
  EXPECT_EQ(keys_table(std::vector{a, b, c}, kNow),
            "ID        NAME    TEAM      MODELS           RPM     TPM      BUDGET  TASK LIMITS     "
            "  CREATED (UTC)     EXPIRES (UTC)     STATUS\n"
            "0000aaaa  old     -         all                -       -           -  -               "
            "  2024-05-31 12:34  never             revoked\n"
            "ffff0001  ci-bot  research  gpt-4o,claude-*   60  100000  $50.00/day  200 calls, "
            "$2.50  2024-06-01 12:34  2024-07-01 12:34  active\n"
            "1234abcd  gone    -         all                -       -           -  -               "
            "  2024-06-01 12:34  2024-06-01 12:34  expired\n");
}

TEST(CliKeys, Summary_OneKeyInThreeLines) {
  auto k = record("0a1b2c3d", "app");
  k.max_task_calls = 20;
  EXPECT_EQ(key_summary(k),
            "id 0a1b2c3d  name app  team -\n"
            "models all  rpm -  tpm -  budget -  task limits 20 calls\n"
            "expires never\n");
  k.expires_ms = kNow + kDay;
  EXPECT_TRUE(contains(key_summary(k), "expires 2024-06-02 12:34 UTC\n"));
}

store::UsageRow row(std::string group, std::int64_t requests, double cost,
                    std::int64_t first_ms = kNow - 60'000, std::int64_t last_ms = kNow) {
  return {.group = std::move(group),
          .requests = requests,
          .prompt_tokens = requests * 100,
          .cached_tokens = requests * 10,
          .completion_tokens = requests * 20,
          .cost_usd = cost,
          .first_ms = first_ms,
          .last_ms = last_ms};
}

TEST(CliUsage, ByKey_NamesTheKeys_TotalLine) {
  UsageReport r;
  r.key_names = {{"0a1b2c3d", "ci-bot"}};
  const std::vector rows{row("0a1b2c3d", 3, 0.0123456), row("", 1, 0.5)};
  EXPECT_EQ(usage_table(r, rows),
            "KEY               NAME    REQUESTS  PROMPT  CACHED  COMPLETION  COST USD\n"
            "0a1b2c3d          ci-bot         3     300      30          60  0.012346\n"
            "(none)                           1     100      10          20  0.500000\n"
            "------------------------------------------------------------------------\n"
            "total (2 groups)                 4     400      40          80  0.512346\n");
}

TEST(CliUsage, EmptyLedger_ZeroTotal) {
  UsageReport r;
  r.by = store::GroupBy::model;
  EXPECT_EQ(usage_table(r, {}),
            "MODEL             REQUESTS  PROMPT  CACHED  COMPLETION  COST USD\n"
            "----------------------------------------------------------------\n"
            "total (0 groups)         0       0       0           0  0.000000\n");
  EXPECT_EQ(usage_json(r, {}),
            R"({"group_by":"model","since_ms":0,"groups":0,"rows":[],"total":{"requests":0,)"
            R"("prompt_tokens":0,"cached_tokens":0,"completion_tokens":0,"cost_usd":0,)"
            R"("first_ms":0,"last_ms":0}})");
}

TEST(CliUsage, Top_OthersLineKeepsTheTotal) {
  UsageReport r;
  r.by = store::GroupBy::team;
  r.top = 1;
  const std::vector rows{row("a", 2, 2), row("b", 1, 1), row("c", 1, 0.5)};
  EXPECT_EQ(usage_table(r, rows),
            "TEAM              REQUESTS  PROMPT  CACHED  COMPLETION  COST USD\n"
            "a                        2     200      20          40  2.000000\n"
            "others (2)               2     200      20          40  1.500000\n"
            "----------------------------------------------------------------\n"
            "total (3 groups)         4     400      40          80  3.500000\n");
  const auto j = usage_json(r, rows);
  EXPECT_TRUE(contains(j, R"("groups":3,"rows":[{"group":"a","requests":2,)")) << j;
  EXPECT_TRUE(contains(j, R"("others":{"group":"others","requests":2,)")) << j;
  EXPECT_TRUE(contains(j, R"("total":{"requests":4,)")) << j;
}

TEST(CliUsage, DaysTop_KeepsTheLatest) {
  UsageReport r;
  r.by = store::GroupBy::day;
  r.top = 2;
  const std::vector rows{row("2024-05-30", 1, 1), row("2024-05-31", 1, 1), row("2024-06-01", 1, 1)};
  const auto t = usage_table(r, rows);
  EXPECT_FALSE(contains(t, "2024-05-30")) << t;
  EXPECT_TRUE(contains(t, "2024-05-31")) << t;
  EXPECT_TRUE(contains(t, "2024-06-01")) << t;
  EXPECT_TRUE(contains(t, "others (1)")) << t;
}

TEST(CliUsage, Tasks_WallTime_CallsWithoutTaskLeftOut) {
  UsageReport r;
  r.by = store::GroupBy::task;
  const std::vector rows{row("", 50, 9), row("run-42", 120, 1.25, kNow - 192'000, kNow)};
  EXPECT_EQ(usage_table(r, rows),
            "TASK             REQUESTS  PROMPT  CACHED  COMPLETION   WALL  COST USD\n"
            "run-42                120   12000    1200        2400  3m12s  1.250000\n"
            "----------------------------------------------------------------------\n"
            "total (1 group)       120   12000    1200        2400         1.250000\n");
}

TEST(CliUsage, Json_RowsLikeTheAdminApi) {
  UsageReport r;
  r.since_ms = kNow - 7 * kDay;
  r.key_names = {{"0a1b2c3d", "ci-bot"}};
  const std::vector rows{row("0a1b2c3d", 3, 0.0015)};
  EXPECT_EQ(usage_json(r, rows),
            R"({"group_by":"key","since_ms":1716640496789,"groups":1,"rows":[{"group":"0a1b2c3d",)"
            R"("requests":3,"prompt_tokens":300,"cached_tokens":30,"completion_tokens":60,)"
            R"("cost_usd":0.0015,"first_ms":1717245236789,"last_ms":1717245296789,)"
            R"("name":"ci-bot"}],"total":{"requests":3,"prompt_tokens":300,"cached_tokens":30,)"
            R"("completion_tokens":60,"cost_usd":0.0015,"first_ms":1717245236789,)"
            R"("last_ms":1717245296789}})");
}

TEST(CliUsage, Json_CostsRoundedToNanoDollars) {
  UsageReport r;
  r.by = store::GroupBy::provider;
  const std::vector rows{row("cloud", 1, 0.1 + 0.2), row("other", 1, 0.0008399999999999998)};
  const auto j = usage_json(r, rows);
  EXPECT_TRUE(contains(j, R"("group":"cloud","requests":1,"prompt_tokens":100,"cached_tokens":10,)"
                          R"("completion_tokens":20,"cost_usd":0.3,)"))
      << j;
  EXPECT_TRUE(contains(j, R"("cost_usd":0.00084,)")) << j;
  EXPECT_TRUE(contains(j, R"("total":{"requests":2,"prompt_tokens":200,"cached_tokens":20,)"
                          R"("completion_tokens":40,"cost_usd":0.30084,)"))
      << j;
}

TEST(CliStore, DefaultUrl_AndPasswordsRedacted) {
  config::Config c;
  EXPECT_EQ(store_url(c), "sqlite://stratus.db");
  c.store.url = "postgres://app@db/x";
  EXPECT_EQ(store_url(c), "postgres://app@db/x");
  EXPECT_EQ(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
  EXPECT_EQ(redact_url("postgresql://db/x?user=a&password=s3cret&sslmode=require"),
            "postgresql://db/x?user=a&password=***&sslmode=require");
  EXPECT_EQ(redact_url("postgres://app@db/x"), "postgres://app@db/x");
  EXPECT_EQ(redact_url("sqlite://data/a@b:c.db"), "sqlite://data/a@b:c.db");
}

class CliConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("stratus-cli-test-" + std::to_string(::getpid()) + ".yaml");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string write(std::string_view store_url) {
    std::ofstream(path_) << "providers:\n"
                            "  - {name: p1, type: openai, base_url: 'https://api.example.com/v1', "
                            "api_key: '${TEST_PROVIDER_KEY}'}\n"
                            "models:\n"
                            "  - {name: m1, deployments: [{provider: p1, model: up}]}\n"
                            "store: {url: '"
                         << store_url << "'}\n";
    return path_.string();
  }
  std::filesystem::path path_;
};

config::EnvLookup env_of(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST_F(CliConfigFile, EveryVariableSet_Loaded) {
  const auto c = load_cli_config(write("sqlite://x.db"), env_of({{"TEST_PROVIDER_KEY", "k"}}));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->unset.empty());
  EXPECT_EQ(c->config.providers[0].api_key, "k");
}

TEST_F(CliConfigFile, UnsetProviderSecret_LoadedAndNamed) {
  const auto c = load_cli_config(write("sqlite://x.db"), env_of({}));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->unset, (std::vector<std::string>{"TEST_PROVIDER_KEY"}));
  EXPECT_EQ(c->config.store.url, "sqlite://x.db");
}

TEST_F(CliConfigFile, StoreUrlFromAnUnsetVariable_TheProblemIsReported) {
  const auto file = write("${TEST_STORE_URL}");
  const auto c = load_cli_config(file, env_of({{"TEST_PROVIDER_KEY", "k"}}));
  ASSERT_FALSE(c);
  EXPECT_TRUE(contains(c.error(), file + ":")) << c.error();
  EXPECT_TRUE(contains(c.error(), "environment variable 'TEST_STORE_URL' is not set")) << c.error();
  const auto inside = load_cli_config(write("sqlite://${TEST_DB}.db"), env_of({}));
  ASSERT_FALSE(inside);
  EXPECT_TRUE(contains(inside.error(), "'TEST_DB' is not set")) << inside.error();
}

TEST_F(CliConfigFile, OtherProblems_StillReported) {
  const auto c = load_cli_config(write("mysql://x"), env_of({}));
  ASSERT_FALSE(c);
  EXPECT_TRUE(contains(c.error(), "must start with sqlite://")) << c.error();
}

}  // namespace
}  // namespace stratus::cli
