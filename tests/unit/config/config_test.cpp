// Tests for YAML config parsing and validation: values, locations and wording of problems.
#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

namespace stratus::config {
namespace {

// gmock is not linked, so no HasSubstr; this keeps the failure message just as readable.
::testing::AssertionResult contains(std::string_view text, std::string_view part) {
  if (text.find(part) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

EnvLookup fake_env(std::map<std::string, std::string, std::less<>> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Valid providers/models sections to append a server section (or more) to.
constexpr std::string_view kRest = R"(providers:
  - name: p1
    type: openai
    base_url: https://api.example.com/v1
models:
  - name: m1
    deployments:
      - {provider: p1, model: upstream-1}
)";

Config parse_ok(std::string_view yaml, const EnvLookup& env = fake_env()) {
  auto result = parse(yaml, env);
  if (!result) {
    std::string all;
    for (const auto& p : result.error()) all += format_problem("test", p) + "\n";
    ADD_FAILURE() << "unexpected problems:\n" << all;
    return {};
  }
  return *result;
}

std::vector<Problem> problems_of(std::string_view yaml, const EnvLookup& env = fake_env()) {
  auto result = parse(yaml, env);
  if (result) {
    ADD_FAILURE() << "expected problems, got a valid config";
    return {};
  }
  return result.error();
}

TEST(Config, Parse_MinimalConfig_DefaultsServerAndReadsProvider) {
  const Config c = parse_ok(kRest);
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.max_body_bytes, 4u * 1024 * 1024);
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].type, "openai");
  EXPECT_EQ(c.providers[0].api_key, "");
  EXPECT_EQ(c.providers[0].timeouts.total_ms, 600000);
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].deployments[0].model, "upstream-1");
}

TEST(Config, Parse_FullServerSection_ReadsEveryField) {
  const Config c = parse_ok(std::string(R"(server:
  listen: 0.0.0.0:0
  workers: 3
  max_body_bytes: 100
  max_header_bytes: 200
  header_timeout_ms: 1
  idle_timeout_ms: 2
  max_connections: 4
  drain_timeout_ms: 0
  access_log: off
)") + std::string(kRest));
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.server.workers, 3);
  EXPECT_EQ(c.server.max_body_bytes, 100u);
  EXPECT_EQ(c.server.max_header_bytes, 200u);
  EXPECT_EQ(c.server.header_timeout_ms, 1);
  EXPECT_EQ(c.server.idle_timeout_ms, 2);
  EXPECT_EQ(c.server.max_connections, 4);
  EXPECT_EQ(c.server.drain_timeout_ms, 0);
  EXPECT_EQ(c.server.access_log, "off");
}

TEST(Config, Parse_ListenIpv6InBrackets_SplitsHostAndPort) {
  const Config c = parse_ok("server: {listen: \"[::1]:9090\"}\n" + std::string(kRest));
  EXPECT_EQ(c.server.host, "::1");
  EXPECT_EQ(c.server.port, 9090);
}

TEST(Config, ParseListen_Malformed_Fails) {
  for (const char* bad : {"localhost", "host:65536", "host:", ":80", "::1:80", "[::1]80", "h:8o",
                          "[zz]:80", "a b:80"}) {
    EXPECT_FALSE(parse_listen(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_listen("localhost:65535")->port, 65535);
}

TEST(Config, Parse_ListenWithoutPort_ReportsValueLocation) {
  const auto problems = problems_of("server:\n  listen: localhost\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, 11);
  EXPECT_TRUE(contains(problems[0].message, "server.listen"));
}

TEST(Config, Parse_UnknownKey_ReportsLineColumnAndSuggestion) {
  const auto problems = problems_of("server:\n  lisen: 1.2.3.4:80\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, 3);
  EXPECT_EQ(problems[0].message, "unknown key 'lisen' in server; did you mean 'listen'?");
}

TEST(Config, Parse_UnknownKeyFarFromAnyKnown_NoSuggestion) {
  const auto problems = problems_of("colour: blue\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "unknown key 'colour' in the top level");
}

TEST(Config, Parse_UnknownKeyInProviderTimeouts_NamesThePath) {
  const auto problems = problems_of(R"(providers:
  - name: p1
    type: openai
    base_url: https://a.example
    timeouts: {connect_ms: 5, idle_s: 7}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 5);
  EXPECT_TRUE(contains(problems[0].message, "unknown key 'idle_s' in providers[0].timeouts"));
  EXPECT_TRUE(contains(problems[0].message, "did you mean 'idle_ms'?"));
}

TEST(Config, Parse_DuplicateKey_NamesFirstLine) {
  const auto problems = problems_of("server:\n  workers: 1\n  workers: 2\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].message, "duplicate key 'workers' in server (first at line 2)");
}

TEST(Config, Parse_WorkersNotANumber_ReportsValueLocation) {
  const auto problems = problems_of("server:\n  workers: abc\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, 12);
  EXPECT_TRUE(contains(problems[0].message, "server.workers must be an integer"));
  EXPECT_TRUE(contains(problems[0].message, "'abc'"));
}

TEST(Config, Parse_OutOfRangeNumbers_AllReported) {
  const auto problems = problems_of(
      "server: {workers: -1, max_body_bytes: 0, header_timeout_ms: 1.5, max_connections: 1e3}\n" +
      std::string(kRest));
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_TRUE(contains(problems[0].message, "server.workers"));
  EXPECT_TRUE(contains(problems[1].message, "server.max_body_bytes must be an integer >= 1"));
  EXPECT_TRUE(contains(problems[2].message, "server.header_timeout_ms"));
  EXPECT_TRUE(contains(problems[3].message, "server.max_connections"));
}

TEST(Config, Parse_MappingWhereStringExpected_Reported) {
  const auto problems = problems_of("server: {access_log: {a: b}}\n" + std::string(kRest));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "server.access_log must be a string");
}

TEST(Config, Interpolate_FullPartialAndEscaped) {
  const auto env = fake_env({{"A", "1"}, {"TOKEN", "xyz"}, {"EMPTY", ""}});
  EXPECT_EQ(interpolate("${A}", env), "1");
  EXPECT_EQ(interpolate("Bearer ${TOKEN}!", env), "Bearer xyz!");
  EXPECT_EQ(interpolate("${A}${A}-${EMPTY}", env), "11-");
  EXPECT_EQ(interpolate("$${A} costs $5", env), "${A} costs $5");
  EXPECT_EQ(interpolate("no vars", env), "no vars");
}

TEST(Config, Interpolate_BadReferences_ExplainWhy) {
  const auto env = fake_env();
  EXPECT_EQ(interpolate("x ${MISSING} y", env).error(),
            "environment variable 'MISSING' is not set");
  EXPECT_TRUE(contains(interpolate("${OPEN", env).error(), "unterminated"));
  EXPECT_TRUE(contains(interpolate("${}", env).error(), "invalid variable name"));
  EXPECT_TRUE(contains(interpolate("${1X}", env).error(), "invalid variable name"));
}

TEST(Config, Parse_MissingEnvVar_ProblemNamesVariableAndPlace) {
  const auto problems = problems_of(R"(providers:
  - name: p1
    type: openai
    base_url: https://api.example.com/v1
    api_key: ${OPENAI_API_KEY}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 5);
  EXPECT_EQ(problems[0].column, 14);
  EXPECT_EQ(problems[0].message,
            "providers[0].api_key: environment variable 'OPENAI_API_KEY' is not set");
}

TEST(Config, Parse_InterpolationBeforeConversion_NumberAndUrlFromEnv) {
  const auto env = fake_env({{"WORKERS", "6"}, {"PORT", "8001"}, {"KEY", "sk-1"}});
  const Config c = parse_ok(R"(server: {workers: "${WORKERS}"}
providers:
  - name: p1
    type: openai
    base_url: http://127.0.0.1:${PORT}/v1/
    headers: {Authorization: "Bearer ${KEY}", X-Lit: "$${KEY}"}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)",
                            env);
  EXPECT_EQ(c.server.workers, 6);
  EXPECT_EQ(c.providers[0].base_url, "http://127.0.0.1:8001/v1");
  EXPECT_EQ(c.providers[0].headers.at("Authorization"), "Bearer sk-1");
  EXPECT_EQ(c.providers[0].headers.at("X-Lit"), "${KEY}");
}

TEST(Config, Parse_ProviderOptionalFields_Read) {
  const Config c = parse_ok(R"(providers:
  - name: p1
    type: openai
    base_url: https://api.example.com/v1
    api_key: sk
    headers: {OpenAI-Organization: org-1}
    ca_file: /etc/ca.pem
    max_connections: 8
    timeouts: {first_byte_ms: 100}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  const Provider& p = c.providers[0];
  EXPECT_EQ(p.api_key, "sk");
  EXPECT_EQ(p.headers.at("OpenAI-Organization"), "org-1");
  EXPECT_EQ(p.ca_file, "/etc/ca.pem");
  EXPECT_EQ(p.max_connections, 8);
  EXPECT_EQ(p.timeouts.first_byte_ms, 100);
  EXPECT_EQ(p.timeouts.connect_ms, Timeouts{}.connect_ms);
}

TEST(Config, Parse_HeaderValueWithNewlineFromEnv_Rejected) {
  const auto env = fake_env({{"ORG", "a\r\nX-Injected: 1"}});
  const auto problems = problems_of(R"(providers:
  - {name: p1, type: openai, base_url: "https://a.example", headers: {X-Org: "${ORG}"}}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)",
                                    env);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(contains(problems[0].message, "providers[0].headers.X-Org must not contain CR"));
}

TEST(Config, Parse_UnknownProviderType_ListsKnownTypesAndSuggests) {
  EXPECT_TRUE(is_known_provider_type("openai"));
  EXPECT_FALSE(is_known_provider_type("OpenAI"));
  const auto problems = problems_of(R"(providers:
  - {name: p1, type: opnai, base_url: "https://a.example"}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_TRUE(problems[0].message.starts_with(
      "providers[0].type: unknown provider type 'opnai' (known: openai, azure, bedrock, "))
      << problems[0].message;
  EXPECT_TRUE(problems[0].message.ends_with("); did you mean 'openai'?")) << problems[0].message;
}

TEST(Config, Parse_ProviderMissingRequiredKeys_EachReported) {
  const auto problems = problems_of(R"(providers:
  - api_key: x
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 3u);  // name, type, then the dangling reference
  EXPECT_EQ(problems[0].message, "providers[0] is missing required key 'name'");
  EXPECT_EQ(problems[1].message, "providers[0] is missing required key 'type'");
  EXPECT_EQ(problems[2].message, "unknown provider 'p1' (known: none)");
}

// Provider types are data: each has a wire format, an auth style and a default base URL.
TEST(Config, Parse_ProviderTypes_FillDefaults) {
  const auto env = fake_env({{"AWS_ACCESS_KEY_ID", "AKID"},
                             {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                             {"AWS_SESSION_TOKEN", "TOKEN"},
                             {"AWS_REGION", "eu-west-1"}});
  const auto r = parse(R"(providers:
  - {name: a, type: anthropic, api_key: k}
  - {name: b, type: bedrock}
  - {name: g, type: gemini, api_key: k}
  - {name: v, type: vertex, region: us-central1, project: proj, api_key: tok}
  - {name: z, type: azure, resource: myres, api_key: k}
  - {name: z1, type: azure, base_url: "https://r.openai.azure.com", api_version: v1, api_key: k}
  - {name: o, type: oci, region: us-chicago-1, api_key: k}
  - {name: q, type: groq, api_key: k}
  - {name: l, type: ollama}
  - {name: vg, type: vertex, region: global, project: proj, api_key: tok}
models: [{name: m, deployments: [{provider: a, model: x}]}]
)",
                       env);
  ASSERT_TRUE(r.has_value()) << (r ? "" : r.error()[0].message);
  const auto& ps = r->providers;
  EXPECT_EQ(ps[0].base_url, "https://api.anthropic.com");
  EXPECT_EQ(ps[0].wire, "anthropic");
  EXPECT_EQ(ps[0].auth, AuthStyle::x_api_key);
  EXPECT_EQ(ps[0].api_version, "2023-06-01");
  EXPECT_EQ(ps[1].base_url, "https://bedrock-runtime.eu-west-1.amazonaws.com");
  EXPECT_EQ(ps[1].region, "eu-west-1");
  EXPECT_EQ(ps[1].aws.access_key_id, "AKID");
  EXPECT_EQ(ps[1].aws.secret_access_key, "SECRET");
  EXPECT_EQ(ps[1].aws.session_token, "TOKEN");
  EXPECT_EQ(ps[1].auth, AuthStyle::sigv4);
  EXPECT_EQ(ps[2].base_url, "https://generativelanguage.googleapis.com");
  EXPECT_EQ(ps[2].auth, AuthStyle::goog_key);
  EXPECT_EQ(ps[3].base_url, "https://us-central1-aiplatform.googleapis.com");
  EXPECT_EQ(ps[3].wire, "vertex");
  EXPECT_EQ(ps[4].base_url, "https://myres.openai.azure.com");
  EXPECT_EQ(ps[4].api_version, "2024-10-21");
  EXPECT_EQ(ps[4].auth, AuthStyle::api_key);
  EXPECT_EQ(ps[5].auth, AuthStyle::bearer);
  EXPECT_EQ(ps[6].base_url,
            "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/openai/v1");
  EXPECT_EQ(ps[6].wire, "openai");
  EXPECT_EQ(ps[7].base_url, "https://api.groq.com/openai/v1");
  EXPECT_EQ(ps[8].base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(ps[9].base_url, "https://aiplatform.googleapis.com");
}

TEST(Config, Parse_ProviderTypes_ReportWhatIsMissing) {
  const auto problems = problems_of(R"(providers:
  - {name: b, type: bedrock}
  - {name: v, type: vertex}
  - {name: z, type: azure, api_key: k}
models: [{name: m, deployments: [{provider: b, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_TRUE(contains(problems[0].message, "needs AWS credentials")) << problems[0].message;
  EXPECT_TRUE(contains(problems[1].message, "type 'bedrock' needs 'region'"))
      << problems[1].message;
  EXPECT_TRUE(contains(problems[2].message, "type 'vertex' needs 'region'")) << problems[2].message;
  EXPECT_TRUE(contains(problems[3].message, "type 'vertex' needs 'project'"))
      << problems[3].message;
  EXPECT_EQ(problems[4].message, "providers[2] is missing required key 'base_url'");
}

TEST(Config, Parse_DuplicateProviderName_NamesFirstLine) {
  const auto problems = problems_of(R"(providers:
  - {name: p1, type: openai, base_url: "https://a.example"}
  - {name: p1, type: openai, base_url: "https://b.example"}
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].message, "duplicate provider 'p1' (first defined at line 2)");
}

TEST(Config, NormalizeBaseUrl_TrimsTrailingSlashesOnly) {
  EXPECT_EQ(normalize_base_url("https://api.openai.com/v1/"), "https://api.openai.com/v1");
  EXPECT_EQ(normalize_base_url("http://h:8000//"), "http://h:8000");
  EXPECT_EQ(normalize_base_url("http://[::1]:8000/v1"), "http://[::1]:8000/v1");
  EXPECT_EQ(normalize_base_url("HTTPS://H.example"), "HTTPS://H.example");
}

TEST(Config, NormalizeBaseUrl_RejectsWhatIsNotAnHttpOrigin) {
  for (const char* bad :
       {"api.openai.com/v1", "ftp://h/x", "https://", "https:///v1", "https://h:/v1",
        "https://h:99999", "https://h:0", "https://h/v1?x=1", "https://h/v1#f", "https://u:p@h/",
        "https://h /v1", "http://[::1/v1", "http://[::1]x/"}) {
    EXPECT_FALSE(normalize_base_url(bad).has_value()) << bad;
  }
}

TEST(Config, Parse_BadBaseUrl_ReportedAtValue) {
  const auto problems = problems_of(R"(providers:
  - name: p1
    type: openai
    base_url: https://h/v1?x=1
models: [{name: m, deployments: [{provider: p1, model: x}]}]
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].column, 15);
  EXPECT_TRUE(contains(problems[0].message, "must not have a query"));
}

TEST(Config, Parse_DeploymentUnknownProvider_ListsKnown) {
  const auto problems = problems_of(R"(providers:
  - {name: b, type: openai, base_url: "https://b.example"}
  - {name: a, type: openai, base_url: "https://a.example"}
models:
  - name: m
    deployments:
      - {provider: c, model: x}
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 7);
  EXPECT_EQ(problems[0].column, 20);
  EXPECT_EQ(problems[0].message, "unknown provider 'c' (known: a, b)");
}

TEST(Config, Parse_ModelProblems_DuplicateAliasEmptyAndRepeatedDeployments) {
  const auto problems = problems_of(R"(providers:
  - {name: p1, type: openai, base_url: "https://a.example"}
models:
  - {name: m, deployments: [{provider: p1, model: x}, {provider: p1, model: x}]}
  - {name: m, deployments: []}
  - {name: n}
)");
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_TRUE(contains(problems[0].message, "duplicate deployment p1/x"));
  EXPECT_EQ(problems[1].message, "duplicate model 'm' (first defined at line 4)");
  EXPECT_TRUE(contains(problems[2].message, "models[1].deployments is empty"));
  EXPECT_EQ(problems[3].message, "models[2] is missing required key 'deployments'");
}

TEST(Config, Parse_RoutingModel_ReadsEveryField) {
  const Config c = parse_ok(R"(providers:
  - name: p1
    type: openai
    base_url: https://api.example.com/v1
    health_check: {interval_ms: 1000, timeout_ms: 300, model: tiny}
  - {name: p2, type: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - name: big
    deployments: [{provider: p2, model: b}]
  - name: m1
    strategy: least-busy
    deployments:
      - {provider: p1, model: a, priority: 0, weight: 3, price: {input: 2.5, output: 10}}
      - {provider: p2, model: a, priority: 1, weight: 1}
    fallbacks: [big]
    context_window_fallbacks: [big]
    retry: {attempts: 4, backoff_ms: 20, max_backoff_ms: 500, budget_ratio: 0.1, budget_min: 3, budget_window_s: 5}
    breaker: {failures: 2, failure_ratio: 0.25, min_requests: 8, window_s: 3, cooldown_ms: 700}
    timeouts: {connect_ms: 100, first_token_ms: 900}
    hedge: {after_ms: 150}
)");
  ASSERT_EQ(c.models.size(), 2U);
  const Model& m = c.models[1];
  EXPECT_EQ(m.strategy, Strategy::least_busy);
  EXPECT_EQ(strategy_name(m.strategy), "least-busy");
  EXPECT_EQ(m.deployments[0].weight, 3);
  EXPECT_EQ(m.deployments[1].priority, 1);
  ASSERT_TRUE(m.deployments[0].price);
  EXPECT_EQ(m.deployments[0].price->input, 2.5);
  EXPECT_FALSE(m.deployments[0].price->cached_input);  // not given: the price table's
  EXPECT_EQ(m.deployments[0].price->output, 10);
  EXPECT_FALSE(m.deployments[1].price);
  EXPECT_EQ(m.fallbacks, std::vector<std::string>{"big"});
  EXPECT_EQ(m.context_window_fallbacks, std::vector<std::string>{"big"});
  EXPECT_EQ(m.retry.attempts, 4);
  EXPECT_EQ(m.retry.backoff_ms, 20);
  EXPECT_EQ(m.retry.max_backoff_ms, 500);
  EXPECT_DOUBLE_EQ(m.retry.budget_ratio, 0.1);
  EXPECT_EQ(m.retry.budget_min, 3);
  EXPECT_EQ(m.retry.budget_window_s, 5);
  EXPECT_EQ(m.breaker.failures, 2);
  EXPECT_DOUBLE_EQ(m.breaker.failure_ratio, 0.25);
  EXPECT_EQ(m.breaker.min_requests, 8);
  EXPECT_EQ(m.breaker.window_s, 3);
  EXPECT_EQ(m.breaker.cooldown_ms, 700);
  EXPECT_EQ(m.timeouts.connect_ms, 100);
  EXPECT_EQ(m.timeouts.first_token_ms, 900);
  EXPECT_FALSE(m.timeouts.idle_ms);
  EXPECT_EQ(m.hedge_after_ms, 150);
  EXPECT_EQ(c.providers[0].health_check.interval_ms, 1000);
  EXPECT_EQ(c.providers[0].health_check.timeout_ms, 300);
  EXPECT_EQ(c.providers[0].health_check.model, "tiny");
  EXPECT_EQ(c.providers[1].health_check.interval_ms, 0);
  EXPECT_EQ(c.models[0].strategy, Strategy::priority);
}

TEST(Config, Parse_RoutingProblems_UnknownStrategyFallbackAndCycle) {
  const auto problems = problems_of(R"(providers:
  - {name: p1, type: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - name: a
    strategy: fastest
    deployments: [{provider: p1, model: x}]
    fallbacks: [b, nope]
  - name: b
    deployments: [{provider: p1, model: x}]
    context_window_fallbacks: [a]
  - name: c
    deployments: []
    retry: {budget_ratio: lots}
)");
  ASSERT_EQ(problems.size(), 5U);
  EXPECT_EQ(problems[0].line, 5);
  EXPECT_TRUE(contains(problems[0].message, "unknown strategy 'fastest'"));
  EXPECT_TRUE(contains(problems[0].message, "least-busy"));
  EXPECT_EQ(problems[1].line, 7);
  EXPECT_TRUE(contains(problems[1].message, "unknown fallback model 'nope'"));
  EXPECT_EQ(problems[2].line, 8);  // the cycle, at the model that closes it
  EXPECT_TRUE(contains(problems[2].message, "fallback cycle a -> b -> a"));
  EXPECT_EQ(problems[3].line, 12);
  EXPECT_TRUE(contains(problems[3].message, "empty"));
  EXPECT_EQ(problems[4].line, 13);
  EXPECT_TRUE(contains(problems[4].message, "budget_ratio must be a number"));
}

TEST(Config, Parse_Governance_AuthStoreTeamsAndModelLimits) {
  const Config c = parse_ok(std::string(kRest) + R"(  - name: m2
    limits: {rpm: 60, tpm: 10000}
    deployments: [{provider: p1, model: x}]
auth: {master_key: "${MK}"}
store: {url: "postgres://stratus@127.0.0.1:5432/stratus", journal: /tmp/j.jsonl}
teams:
  - {name: research, rpm: 600, tpm: 200000, budget_usd: 100}
  - {name: ops, budget_usd: 5, budget_period: day}
)",
                            fake_env({{"MK", "sk-master-0123456789abcdef"}}));
  EXPECT_EQ(c.auth.master_key, "sk-master-0123456789abcdef");
  EXPECT_EQ(c.store.url, "postgres://stratus@127.0.0.1:5432/stratus");
  EXPECT_EQ(c.store.journal, "/tmp/j.jsonl");
  ASSERT_EQ(c.teams.size(), 2U);
  EXPECT_EQ(c.teams[0].limits.rpm, 600);
  EXPECT_EQ(c.teams[0].limits.tpm, 200000);
  EXPECT_DOUBLE_EQ(c.teams[0].budget_usd, 100);
  EXPECT_EQ(c.teams[0].budget_period, "month");  // the default period of a budget
  EXPECT_EQ(c.teams[1].budget_period, "day");
  EXPECT_EQ(c.find_team("ops"), &c.teams[1]);
  EXPECT_EQ(c.find_team("nope"), nullptr);
  EXPECT_EQ(c.models[1].limits.rpm, 60);
  EXPECT_EQ(c.models[1].limits.tpm, 10000);
  EXPECT_EQ(c.models[0].limits.rpm, 0);
}

TEST(Config, Parse_GovernanceProblems_Reported) {
  const auto problems = problems_of(std::string(kRest) + R"(auth: {master_key: short}
store: {url: "mysql://x"}
teams:
  - {name: a, budget_period: week}
  - {name: a}
)");
  ASSERT_EQ(problems.size(), 4U);
  EXPECT_TRUE(contains(problems[0].message, "at least 16 characters"));
  EXPECT_TRUE(contains(problems[1].message, "must start with sqlite://"));
  EXPECT_TRUE(contains(problems[2].message, "budget_period must be day or month"));
  EXPECT_TRUE(contains(problems[3].message, "duplicate team 'a'"));
}

TEST(Config, Parse_EmptyDocument_AsksForProvidersAndModels) {
  const auto problems = problems_of("");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 0);
  EXPECT_TRUE(contains(problems[0].message, "no providers defined"));
  EXPECT_TRUE(contains(problems[1].message, "no models defined"));
}

TEST(Config, Parse_ManyProblems_AllReportedInFileOrder) {
  const auto problems = problems_of(R"(models:
  - {name: m, deployments: [{provider: nope, model: x}]}
server: {workers: many}
providers:
  - {name: p1, type: openai, base_url: "ftp://a", extra: 1}
)");
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_EQ(problems[2].line, 5);
  EXPECT_EQ(problems[3].line, 5);
  EXPECT_LT(problems[2].column, problems[3].column);
}

TEST(Config, Parse_YamlSyntaxError_OneProblemWithPlace) {
  const auto problems = problems_of("server:\n  listen: [1, 2\nproviders: []\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_GT(problems[0].line, 0);
  EXPECT_GT(problems[0].column, 0);
  EXPECT_TRUE(contains(problems[0].message, "invalid YAML"));
}

TEST(Config, FormatProblem_WithAndWithoutPlace) {
  EXPECT_EQ(format_problem("a.yaml", {3, 7, "bad"}), "a.yaml:3:7: bad");
  EXPECT_EQ(format_problem("a.yaml", {0, 0, "bad"}), "a.yaml: bad");
}

TEST(Config, FindProviderAndModel_ByName) {
  const Config c = parse_ok(kRest);
  ASSERT_NE(c.find_provider("p1"), nullptr);
  EXPECT_EQ(c.find_provider("p1")->base_url, "https://api.example.com/v1");
  EXPECT_EQ(c.find_provider("p2"), nullptr);
  ASSERT_NE(c.find_model("m1"), nullptr);
  EXPECT_EQ(c.find_model("m1")->deployments.size(), 1u);
  EXPECT_EQ(c.find_model("upstream-1"), nullptr);
}

TEST(Config, ProcessEnv_ReadsTheRealEnvironment) {
  ::setenv("STRATUS_CONFIG_TEST_VAR", "v", 1);
  ::unsetenv("STRATUS_CONFIG_TEST_UNSET");
  const auto env = process_env();
  EXPECT_EQ(env("STRATUS_CONFIG_TEST_VAR"), "v");
  EXPECT_EQ(env("STRATUS_CONFIG_TEST_UNSET"), std::nullopt);
}

TEST(Config, LoadFile_Unreadable_OneProblemWithoutPlace) {
  const auto result = load_file("/nonexistent/stratus.yaml", fake_env());
  ASSERT_FALSE(result.has_value());
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].line, 0);
  EXPECT_EQ(result.error()[0].message,
            "cannot read /nonexistent/stratus.yaml: No such file or directory");
  EXPECT_TRUE(
      contains(load_file(STRATUS_TEST_DATA, fake_env()).error()[0].message, "is a directory"));
}

constexpr const char* kExample = STRATUS_TEST_DATA "/../../config/example.yaml";

TEST(Config, LoadFile_ExampleConfigWithKey_IsValid) {
  const auto result = load_file(kExample, fake_env({{"OPENAI_API_KEY", "sk-test"}}));
  ASSERT_TRUE(result.has_value()) << format_problem(kExample, result.error()[0]);
  EXPECT_EQ(result->find_provider("openai")->api_key, "sk-test");
  EXPECT_EQ(result->find_provider("local")->base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(result->find_provider("local")->api_key, "");
  const Model* fallback = result->find_model("chat");
  ASSERT_NE(fallback, nullptr);
  ASSERT_EQ(fallback->deployments.size(), 2u);
  EXPECT_EQ(fallback->deployments[0].provider, "local");
  EXPECT_EQ(fallback->deployments[1].provider, "openai");
}

TEST(Config, LoadFile_ExampleConfigWithoutKey_OnlyTheVariableIsMissing) {
  const auto result = load_file(kExample, fake_env());
  ASSERT_FALSE(result.has_value());
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_TRUE(contains(result.error()[0].message, "'OPENAI_API_KEY' is not set"));
}

}  // namespace
}  // namespace stratus::config
