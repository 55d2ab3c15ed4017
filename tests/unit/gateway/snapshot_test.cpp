// Tests for the routing snapshot, deployment health and the access-log line.
#include "gateway/snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "gateway/access_log.h"

namespace stratus::gateway {
namespace {

namespace json = boost::json;

config::Provider provider(std::string name, std::string base_url, std::string api_key) {
  config::Provider p;
  p.name = std::move(name);
  p.type = "openai";
  p.base_url = std::move(base_url);
  p.api_key = std::move(api_key);
  return p;
}

config::Model model(std::string name, std::vector<config::Deployment> deployments) {
  return config::Model{std::move(name), std::move(deployments)};
}

config::Config two_provider_config() {
  config::Config cfg;
  auto openai = provider("openai", "https://api.openai.com/v1", "sk-secret");
  openai.headers = {{"openai-organization", "org-1"}, {"x-extra", "v"}};
  openai.timeouts.first_byte_ms = 1234;
  openai.ca_file = "/etc/ca.pem";
  openai.max_connections = 7;
  cfg.providers.push_back(openai);
  cfg.providers.push_back(provider("local", "http://127.0.0.1:8000/v1", ""));
  cfg.models.push_back(model("smart", {{"openai", "gpt-4o"}, {"local", "llama"}}));
  cfg.models.push_back(model("fast", {{"local", "llama"}}));
  return cfg;
}

std::string header(const Target& t, std::string_view name) {
  for (auto& [k, v] : t.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

// ---- build_snapshot ----

TEST(BuildSnapshot, AliasesKeepConfigOrder) {
  config::Config cfg;
  cfg.providers.push_back(provider("p", "http://h/v1", ""));
  for (auto name : {"zeta", "alpha", "mid"}) cfg.models.push_back(model(name, {{"p", "m"}}));
  auto snap = build_snapshot(cfg, nullptr);
  EXPECT_EQ(snap->alias_names, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(snap->known_list, "zeta, alpha, mid");
}

TEST(BuildSnapshot, TargetsInDeploymentOrderWithUrls) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  const auto* smart = snap->find("smart");
  ASSERT_NE(smart, nullptr);
  ASSERT_EQ(smart->targets.size(), 2u);
  const auto& a = smart->targets[0];
  EXPECT_EQ(a.id, "openai/gpt-4o");
  EXPECT_EQ(a.provider, "openai");
  EXPECT_EQ(a.model, "gpt-4o");
  EXPECT_EQ(a.chat_url, "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(a.embeddings_url, "https://api.openai.com/v1/embeddings");
  EXPECT_EQ(a.timeouts.first_byte_ms, 1234);
  EXPECT_EQ(a.ca_file, "/etc/ca.pem");
  EXPECT_EQ(a.max_connections, 7);
  EXPECT_EQ(smart->targets[1].id, "local/llama");
  EXPECT_EQ(smart->targets[1].chat_url, "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(snap->find("nope"), nullptr);
}

TEST(BuildSnapshot, ApiKey_BecomesBearerAuthorization) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  EXPECT_EQ(header(snap->find("smart")->targets[0], "authorization"), "Bearer sk-secret");
}

TEST(BuildSnapshot, EmptyApiKey_NoAuthorizationHeader) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  const auto& local = snap->find("fast")->targets[0];
  for (auto& [k, v] : local.headers) EXPECT_NE(k, "authorization") << v;
  EXPECT_EQ(header(local, "content-type"), "application/json");
}

TEST(BuildSnapshot, ExtraHeaders_AreKept) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  const auto& t = snap->find("smart")->targets[0];
  EXPECT_EQ(header(t, "openai-organization"), "org-1");
  EXPECT_EQ(header(t, "x-extra"), "v");
  EXPECT_EQ(header(t, "content-type"), "application/json");
}

TEST(BuildSnapshot, ModelsJson_ListsAliasesInOrder) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  auto v = json::parse(snap->models_json);
  EXPECT_EQ(v.at("object").as_string(), "list");
  auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("id").as_string(), "smart");
  EXPECT_EQ(data[1].at("id").as_string(), "fast");
  EXPECT_EQ(snap->known_list, "smart, fast");
}

TEST(BuildSnapshot, KeepsConfig) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  EXPECT_EQ(snap->config.providers.size(), 2u);
  EXPECT_NE(snap->config.find_model("fast"), nullptr);
}

TEST(BuildSnapshot, SameDeploymentInTwoAliases_SharesRouterState) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  auto smart_local = snap->find("smart")->targets[1].state;
  auto fast_local = snap->find("fast")->targets[0].state;
  ASSERT_NE(smart_local, nullptr);
  EXPECT_EQ(smart_local, fast_local);
  EXPECT_NE(snap->find("smart")->targets[0].state, smart_local);
  // The router's pool sees the same states, in target order.
  const Alias& smart = *snap->find("smart");
  ASSERT_EQ(smart.pool.members.size(), smart.targets.size());
  EXPECT_EQ(smart.pool.members[1].state, smart_local.get());
  EXPECT_NE(smart.pool.budget, nullptr);
}

TEST(BuildSnapshot, Rebuild_ReusesStateOfSameDeploymentAndFreshForNew) {
  auto first = build_snapshot(two_provider_config(), nullptr);
  auto old_state = first->find("smart")->targets[0].state;
  old_state->on_failure(1000, config::BreakerPolicy{}, true, 0, "boom");
  auto old_budget = first->find("smart")->budget;

  auto cfg = two_provider_config();
  cfg.models[0].deployments.push_back({"openai", "gpt-4o-mini"});
  auto second = build_snapshot(cfg, first.get());

  const auto& targets = second->find("smart")->targets;
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].state, old_state);
  EXPECT_EQ(targets[0].state->consecutive_failures(), 1);
  EXPECT_EQ(targets[1].state, first->find("smart")->targets[1].state);
  ASSERT_NE(targets[2].state, nullptr);
  EXPECT_NE(targets[2].state, old_state);
  EXPECT_NE(targets[2].state, targets[1].state);
  EXPECT_EQ(targets[2].state->consecutive_failures(), 0);
  EXPECT_EQ(second->find("smart")->budget, old_budget);
}

TEST(BuildSnapshot, RebuildWithoutPrevious_StateIsFresh) {
  auto first = build_snapshot(two_provider_config(), nullptr);
  auto second = build_snapshot(two_provider_config(), nullptr);
  EXPECT_NE(first->find("smart")->targets[0].state, second->find("smart")->targets[0].state);
}

TEST(BuildSnapshot, RoutingModel_FallbacksTimeoutsAndPool) {
  auto cfg = two_provider_config();
  cfg.models[0].fallbacks = {"fast"};
  cfg.models[0].context_window_fallbacks = {"fast"};
  cfg.models[0].strategy = config::Strategy::latency;
  cfg.models[0].timeouts.first_token_ms = 700;
  cfg.models[0].timeouts.idle_ms = 900;
  cfg.models[0].hedge_after_ms = 120;
  cfg.models[0].deployments[0].priority = 2;
  cfg.models[0].deployments[0].price =
      config::Price{{}, {}, 7};  // only output: the rest from the table
  cfg.models[0].deployments[1].price = config::Price{1, 0.5, 3};  // not in the table: the override
  auto snap = build_snapshot(cfg, nullptr);
  const Alias& smart = *snap->find("smart");
  ASSERT_EQ(smart.fallbacks.size(), 1u);
  EXPECT_EQ(smart.fallbacks[0], snap->find("fast"));
  EXPECT_EQ(smart.context_fallbacks[0], snap->find("fast"));
  EXPECT_EQ(smart.pool.strategy, config::Strategy::latency);
  EXPECT_EQ(smart.hedge_after_ms, 120);
  EXPECT_EQ(smart.pool.members[0].priority, 2);
  EXPECT_DOUBLE_EQ(smart.pool.members[1].price, 4);
  EXPECT_DOUBLE_EQ(smart.targets[0].price.input,
                   governance::PriceTable::builtin().find("openai", "gpt-4o")->input);
  EXPECT_DOUBLE_EQ(smart.targets[0].price.output, 7);
  EXPECT_DOUBLE_EQ(smart.targets[1].price.cached_input, 0.5);
  EXPECT_EQ(smart.targets[0].first_token_ms, 700);
  EXPECT_EQ(smart.targets[0].timeouts.first_byte_ms, 700);  // capped by the first-token limit
  EXPECT_EQ(smart.targets[0].timeouts.idle_ms, 900);
  EXPECT_EQ(snap->find("fast")->targets[0].first_token_ms, 0);
}

TEST(BuildSnapshot, ReadyWhileSomeBreakerLetsRequestsThrough) {
  auto snap = build_snapshot(two_provider_config(), nullptr);
  const Alias& fast = *snap->find("fast");
  ASSERT_EQ(fast.targets.size(), 1u);
  EXPECT_TRUE(fast.ready(0));
  config::BreakerPolicy p;
  p.failures = 2;
  p.cooldown_ms = 1000;
  for (int i = 0; i < 2; ++i) fast.targets[0].state->on_failure(0, p, true, 0, "down");
  EXPECT_FALSE(fast.ready(500));
  EXPECT_TRUE(fast.ready(1000));  // a probe may go
  auto json = deployments_json(*snap, 500);
  EXPECT_NE(json.find(R"("state":"open")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_error":"down")"), std::string::npos) << json;
}

// ---- AccessLog::format ----

AccessRecord full_record() {
  AccessRecord r;
  r.request_id = "req-1";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.alias = "smart";
  r.provider = "openai";
  r.deployment = "openai/gpt-4o";
  r.status = 200;
  r.attempts = 2;
  r.stream = true;
  r.latency_ms = 12.5;
  r.ttfb_ms = 3.25;
  r.usage = api::Usage{10, 20, 30, 4};
  r.error = "upstream: boom";
  return r;
}

std::set<std::string> keys_of(const json::object& o) {
  std::set<std::string> keys;
  for (auto& kv : o) keys.emplace(kv.key());
  return keys;
}

TEST(AccessLogFormat, OneLineOfJsonWithExactlyTheExpectedKeys) {
  auto line = AccessLog::format(full_record());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto v = json::parse(line).as_object();
  EXPECT_EQ(keys_of(v),
            (std::set<std::string>{"time", "request_id", "method", "path", "status", "alias",
                                   "provider", "deployment", "attempts", "stream", "latency_ms",
                                   "ttfb_ms", "prompt_tokens", "completion_tokens", "total_tokens",
                                   "cached_tokens", "error"}));
  EXPECT_EQ(v.at("request_id").as_string(), "req-1");
  EXPECT_EQ(v.at("method").as_string(), "POST");
  EXPECT_EQ(v.at("path").as_string(), "/v1/chat/completions");
  EXPECT_EQ(v.at("status").as_int64(), 200);
  EXPECT_EQ(v.at("alias").as_string(), "smart");
  EXPECT_EQ(v.at("provider").as_string(), "openai");
  EXPECT_EQ(v.at("deployment").as_string(), "openai/gpt-4o");
  EXPECT_EQ(v.at("attempts").as_int64(), 2);
  EXPECT_EQ(v.at("stream").as_bool(), true);
  EXPECT_DOUBLE_EQ(v.at("latency_ms").to_number<double>(), 12.5);
  EXPECT_DOUBLE_EQ(v.at("ttfb_ms").to_number<double>(), 3.25);
  EXPECT_EQ(v.at("prompt_tokens").as_int64(), 10);
  EXPECT_EQ(v.at("completion_tokens").as_int64(), 20);
  EXPECT_EQ(v.at("total_tokens").as_int64(), 30);
  EXPECT_EQ(v.at("cached_tokens").as_int64(), 4);
  EXPECT_EQ(v.at("error").as_string(), "upstream: boom");
  auto time = v.at("time").as_string();
  EXPECT_EQ(time.size(), std::string_view("2024-01-01T00:00:00.000Z").size()) << time;
  EXPECT_EQ(time.back(), 'Z');
}

TEST(AccessLogFormat, MinimalRecord_OmitsOptionalKeys) {
  AccessRecord r;
  r.request_id = "r";
  r.method = "GET";
  r.path = "/health";
  r.status = 404;
  auto v = json::parse(AccessLog::format(r)).as_object();
  EXPECT_EQ(keys_of(v), (std::set<std::string>{"time", "request_id", "method", "path", "status",
                                               "stream", "latency_ms"}));
  EXPECT_EQ(v.at("stream").as_bool(), false);
}

TEST(AccessLogFormat, LatencyNeverInExponentNotation) {
  for (double ms : {1e-9, 0.0001, 123456789.125, 1e15}) {
    auto r = full_record();
    r.latency_ms = ms;
    r.ttfb_ms = ms;
    auto line = AccessLog::format(r);
    for (std::string key : {"\"latency_ms\":", "\"ttfb_ms\":"}) {
      auto at = line.find(key);
      ASSERT_NE(at, std::string::npos);
      auto end = line.find_first_of(",}", at + key.size());
      auto number = line.substr(at + key.size(), end - at - key.size());
      EXPECT_EQ(number.find_first_not_of("0123456789."), std::string::npos) << number;
    }
    EXPECT_NO_THROW(json::parse(line)) << line;
  }
}

TEST(AccessLogFormat, StringsWithQuotesAndNewlines_StayOneValidLine) {
  auto r = full_record();
  r.error = "upstream: said \"no\"\nand\r\nleft\t\x01";
  r.path = "/v1/\"x\"";
  auto line = AccessLog::format(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  auto v = json::parse(line);
  EXPECT_EQ(v.at("error").as_string(), r.error);
  EXPECT_EQ(v.at("path").as_string(), r.path);
}

// Paths and x-request-id come from the client, and Beast accepts bytes >= 0x80 in both.
TEST(AccessLogFormat, InvalidUtf8FromClient_StillValidJson) {
  auto r = full_record();
  r.path = "/v1/\xff\xfe";
  r.request_id = "id-\xc3";
  auto line = AccessLog::format(r);
  boost::system::error_code ec;
  json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << line;
}

// Byte sequences that have the shape of UTF-8 but are not UTF-8 (RFC 3629 §4).
TEST(AccessLogFormat, Utf8LookalikesFromClient_StillValidJson) {
  for (std::string bad : {
           "\xc0\xaf",          // overlong '/'
           "\xe0\x80\xaf",      // overlong '/', three bytes
           "\xed\xa0\x80",      // UTF-16 surrogate U+D800
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80",  // lead byte never used
       }) {
    auto r = full_record();
    r.path = "/v1/" + bad;
    auto line = AccessLog::format(r);
    boost::system::error_code ec;
    json::parse(line, ec);
    EXPECT_FALSE(ec) << ec.message() << " for " << ::testing::PrintToString(bad);
  }
}

// Valid multi-byte UTF-8 is kept as it is, not replaced.
TEST(AccessLogFormat, ValidUtf8Path_IsKept) {
  auto r = full_record();
  r.path = "/v1/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";
  auto v = json::parse(AccessLog::format(r));
  EXPECT_EQ(v.at("path").as_string(), r.path);
}

// The line is written into room sized beforehand: every text field at its longest escape
// (\u00XX per byte), numbers at their longest, several tries; it must all fit and read back.
TEST(AccessLogFormat, WorstCaseEscapesAndNumbers_FitAndReadBack) {
  const std::string nasty(300, '\x01');
  AccessRecord r;
  for (std::string* s : {&r.request_id, &r.method, &r.path, &r.alias, &r.provider, &r.deployment,
                         &r.key_id, &r.team, &r.task_id, &r.error}) {
    *s = nasty;
  }
  r.status = -2147483647;
  r.attempts = 2147483647;
  r.latency_ms = -1e300;
  r.ttfb_ms = 1e300;
  r.cost_usd = 1e300;
  r.usage = api::Usage{};
  r.usage->prompt_tokens = std::numeric_limits<long>::min();
  r.usage->completion_tokens = std::numeric_limits<long>::max();
  r.usage->total_tokens = std::numeric_limits<long>::max();
  r.usage->cached_tokens = std::numeric_limits<long>::min();
  for (int i = 0; i < 5; ++i) r.tries.push_back({nasty, -1, -1e300, nasty});
  std::string out = "previous line\n";
  AccessLog::format_to(out, r);
  ASSERT_TRUE(out.starts_with("previous line\n"));
  auto v = json::parse(out.substr(14)).as_object();
  EXPECT_EQ(v.at("request_id").as_string(), nasty);
  EXPECT_EQ(v.at("task_id").as_string(), nasty);
  EXPECT_EQ(v.at("error").as_string(), nasty);
  EXPECT_EQ(v.at("completion_tokens").as_int64(), std::numeric_limits<long>::max());
  EXPECT_EQ(v.at("cached_tokens").as_int64(), std::numeric_limits<long>::min());
  ASSERT_EQ(v.at("tries").as_array().size(), 5u);
  EXPECT_EQ(v.at("tries").as_array()[4].at("error").as_string(), nasty);
}

TEST(AccessLogFormat, NeverContainsCredentials) {
  // The record has no field for headers or keys; check that nothing resembling one leaks
  // from the fields it does have.
  auto line = AccessLog::format(full_record());
  EXPECT_EQ(line.find("uthorization"), std::string::npos);
  EXPECT_EQ(line.find("Bearer"), std::string::npos);
  EXPECT_EQ(line.find("api_key"), std::string::npos);
}

// ---- AccessLog buffering ----

// "off" formats nothing and keeps nothing (it used to keep up to 8 MiB of lines per worker).
TEST(AccessLogBuffer, Off_KeepsNothing) {
  AccessLog log("off");
  auto& shard = log.make_shard();
  for (int i = 0; i < 1000; ++i) shard.write(full_record());
  EXPECT_FALSE(log.enabled());
  EXPECT_EQ(log.buffered(), 0u);
}

// A shard that reaches kFlushAt bytes wakes the flusher: with a tick of an hour, the lines
// still reach the file, and what stays buffered is under kFlushAt.
TEST(AccessLogBuffer, FullShard_WrittenBeforeTheTick) {
  auto path = std::filesystem::temp_directory_path() /
              ("stratus-access-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  std::size_t lines = 0, bytes = 0;
  {
    AccessLog log(path.string(), std::chrono::hours(1));
    auto& shard = log.make_shard();
    const auto line = AccessLog::format(full_record()).size() + 1;
    shard.write(full_record());
    ++lines;
    EXPECT_EQ(log.buffered(), line);  // under kFlushAt: kept for the tick
    while (lines * line < 3 * AccessLog::kFlushAt) {
      shard.write(full_record());
      ++lines;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           std::filesystem::file_size(path) < 2 * AccessLog::kFlushAt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    bytes = std::filesystem::file_size(path);
    EXPECT_GE(bytes, 2 * AccessLog::kFlushAt);
    EXPECT_LT(log.buffered(), AccessLog::kFlushAt);
  }  // the destructor writes the rest
  EXPECT_EQ(std::filesystem::file_size(path),
            lines * (AccessLog::format(full_record()).size() + 1));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace stratus::gateway
