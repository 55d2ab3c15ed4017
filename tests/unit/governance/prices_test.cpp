// Price table: the built-in data file, lookup fallbacks, overrides, parse errors, cost.
#include "governance/prices.h"

#include <gtest/gtest.h>

namespace g = stratus::governance;

namespace {

g::Price price(std::string_view provider, std::string_view model) {
  auto p = g::PriceTable::builtin().find(provider, model);
  EXPECT_TRUE(p.has_value()) << provider << " " << model;
  return p.value_or(g::Price{});
}

g::PriceTable parse_ok(std::string_view yaml) {
  auto t = g::PriceTable::parse(yaml);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message);
  return t ? std::move(*t) : g::PriceTable{};
}

std::string parse_error(std::string_view yaml) {
  auto t = g::PriceTable::parse(yaml);
  EXPECT_FALSE(t.has_value());
  return t ? "" : t.error().message;
}

}  // namespace

TEST(PriceTable, Builtin_HasDateSourcesAndListPrices) {
  const auto& t = g::PriceTable::builtin();
  EXPECT_EQ(t.date(), "2026-11-26");
  ASSERT_GE(t.sources().size(), 7u);
  EXPECT_EQ(t.sources()[0], "https://platform.openai.com/docs/pricing");
  EXPECT_GE(t.size(), 55u);
  EXPECT_EQ(price("openai", "gpt-4o"), (g::Price{2.50, 1.25, 2.50, 10.00}));
  EXPECT_EQ(price("anthropic", "claude-sonnet-4-5"), (g::Price{3.00, 0.30, 3.75, 15.00}));
  EXPECT_EQ(price("gemini", "gemini-2.5-flash"), (g::Price{0.30, 0.03, 0.30, 2.50}));
  EXPECT_EQ(price("openai", "text-embedding-3-small"), (g::Price{0.02, 0.02, 0.02, 0}));
}

TEST(PriceTable, DatedVersion_FallsBackToLongestPrefix) {
  EXPECT_EQ(price("openai", "gpt-4o-2024-08-06").input, 2.50);
  EXPECT_EQ(price("openai", "gpt-4o-mini-2024-07-18").input, 0.15);  // not gpt-4o
  EXPECT_EQ(price("openai", "gpt-4.1-nano-2025-04-14").input, 0.10);
  EXPECT_EQ(price("openai", "o3-mini-2025-01-31").input, 1.10);  // not o3
  EXPECT_EQ(price("openai", "o3-2025-04-16").input, 2.00);
  EXPECT_EQ(price("anthropic", "claude-opus-4-1-20250805").input, 15.00);
  EXPECT_EQ(price("anthropic", "claude-opus-4-5-20251101").input, 5.00);  // not opus-4
  EXPECT_EQ(price("anthropic", "claude-opus-4-20250514").input, 15.00);
  EXPECT_EQ(price("gemini", "gemini-2.5-flash-lite-preview-06-17").input, 0.10);
}

TEST(PriceTable, ExactDatedEntry_WinsOverPrefix) {
  EXPECT_EQ(price("openai", "gpt-4o-2024-05-13"), (g::Price{5.00, 5.00, 5.00, 15.00}));
}

TEST(PriceTable, Bedrock_ModelIdsProfilesAndArns) {
  EXPECT_EQ(price("bedrock", "anthropic.claude-sonnet-4-20250514-v1:0").output, 15.00);
  EXPECT_EQ(price("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0").output, 15.00);
  EXPECT_EQ(price("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0").input, 3.00);
  EXPECT_EQ(price("bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0").input, 1.00);
  EXPECT_EQ(price("bedrock", "apac.anthropic.claude-3-5-haiku-20241022-v1:0").input, 0.80);
  EXPECT_EQ(price("bedrock", "anthropic.claude-opus-4-5-20251101-v1:0").input, 5.00);
  EXPECT_EQ(price("bedrock", "amazon.titan-embed-text-v2:0").input, 0.02);
  EXPECT_EQ(price("bedrock", "amazon.titan-embed-text-v1").input, 0.10);
  EXPECT_EQ(price("bedrock", "cohere.embed-multilingual-v3").input, 0.10);
  EXPECT_EQ(price("bedrock",
                  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                  "us.anthropic.claude-opus-4-1-20250805-v1:0")
                .output,
            75.00);
  // A Bedrock id is not a provider-agnostic name.
  EXPECT_FALSE(g::PriceTable::builtin().find("openai", "anthropic.claude-sonnet-4-20250514-v1:0"));
}

TEST(PriceTable, VertexAndAzure_UseProviderAgnosticNames) {
  EXPECT_EQ(price("vertex", "claude-sonnet-4@20250514").input, 3.00);
  EXPECT_EQ(price("vertex", "gemini-2.5-pro").output, 10.00);
  EXPECT_EQ(price("azure", "gpt-4.1-mini").output, 1.60);
}

TEST(PriceTable, OpenAICompatibleProviders_OwnSections) {
  EXPECT_EQ(price("groq", "llama-3.3-70b-versatile"), (g::Price{0.59, 0.59, 0.59, 0.79}));
  EXPECT_EQ(price("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo").input, 0.88);  // case
  EXPECT_EQ(price("mistral", "mistral-large-latest").output, 6.00);
  EXPECT_EQ(price("mistral", "mistral-small-2506").input, 0.10);
  EXPECT_FALSE(g::PriceTable::builtin().find("openai", "llama-3.3-70b-versatile"));
}

TEST(PriceTable, CaseInsensitive) { EXPECT_EQ(price("OpenAI", "GPT-4o").input, 2.50); }

TEST(PriceTable, UnknownOrFineTuned_IsNullopt) {
  const auto& t = g::PriceTable::builtin();
  EXPECT_FALSE(t.find("openai", "gpt-5-turbo-ultra"));
  EXPECT_FALSE(t.find("openai", "ft:gpt-4o-mini-2024-07-18:org::abc123"));
  EXPECT_FALSE(t.find("openai", ""));
  EXPECT_FALSE(t.find("openai", "gpt-4ox"));  // a prefix must end at - @ : /
}

TEST(PriceTable, LookupOrder_ProviderExactThenAnyExactThenPrefix) {
  auto t = parse_ok(R"(
prices:
  any:
    m: {input: 1}
    m-long: {input: 2}
  azure:
    m: {input: 3}
    m-long-x: {input: 4}
)");
  EXPECT_EQ(t.find("azure", "m")->input, 3);           // provider exact
  EXPECT_EQ(t.find("openai", "m")->input, 1);          // any exact
  EXPECT_EQ(t.find("azure", "m-long")->input, 2);      // any exact before provider prefix
  EXPECT_EQ(t.find("azure", "m-long-x-1")->input, 4);  // longest prefix, provider's
  EXPECT_EQ(t.find("azure", "m-long-y")->input, 2);    // longest prefix, any's
  EXPECT_EQ(t.find("azure", "m-other")->input, 3);     // provider's at equal length
  EXPECT_EQ(t.find("openai", "m-other")->input, 1);
}

TEST(PriceTable, Defaults_CachedAndWriteAreInputOutputZero) {
  auto t = parse_ok("prices:\n  any:\n    e: {input: 0.5}\n    c: {input: 2, cached_input: 1}\n");
  EXPECT_EQ(*t.find("x", "e"), (g::Price{0.5, 0.5, 0.5, 0}));
  EXPECT_EQ(*t.find("x", "c"), (g::Price{2, 1, 2, 0}));
}

TEST(PriceTable, ParseErrors_NameTheLine) {
  EXPECT_EQ(parse_error("date: x\nprices:\n  any:\n    m: {input: 1, outptu: 2}\n"),
            "prices: line 4: m: unknown field 'outptu' (known: input, cached_input, cache_write, "
            "output)");
  EXPECT_EQ(parse_error("prices:\n  any:\n    m: {output: 2}\n"),
            "prices: line 3: m: input is required");
  EXPECT_EQ(parse_error("prices:\n  any:\n\n    m: {input: -1}\n"),
            "prices: line 4: m.input must be a number >= 0");
  EXPECT_EQ(parse_error("prices:\n  any:\n    m: {input: cheap}\n"),
            "prices: line 3: m.input must be a number");
  EXPECT_EQ(parse_error("prices:\n  any:\n    m: 3\n"),
            "prices: line 3: m must be a map of input, cached_input, cache_write, output");
  EXPECT_EQ(parse_error("prices:\n  any: [1]\n"),
            "prices: line 2: prices.any must be a map of model -> price");
  EXPECT_EQ(parse_error("date: x\nprice: {}\n"),
            "prices: line 2: unknown key 'price' (known: date, source, prices)");
  EXPECT_EQ(parse_error("date: x\n"), "prices: the file has no prices");
  EXPECT_EQ(parse_error("[1, 2]"), "prices: the file must be a map with date, source and prices");
  EXPECT_TRUE(parse_error("prices:\n  any: {m: {input: 1}\n").starts_with("prices: line "));
}

TEST(PriceTable, Resolve_OverrideFieldsWin) {
  const auto& t = g::PriceTable::builtin();
  EXPECT_EQ(t.resolve("openai", "gpt-4o", std::nullopt), price("openai", "gpt-4o"));
  g::PriceOverride o;
  o.output = 7;
  EXPECT_EQ(*t.resolve("openai", "gpt-4o", o), (g::Price{2.50, 1.25, 2.50, 7}));
  o = {};
  o.input = 1;
  o.cached_input = 0.1;
  o.output = 2;
  EXPECT_EQ(*t.resolve("vllm", "my-local-model", o), (g::Price{1, 0.1, 1, 2}));
  EXPECT_FALSE(t.resolve("vllm", "my-local-model", std::nullopt));
  o = {};
  o.output = 2;  // no input and no table entry: not enough to price
  EXPECT_FALSE(t.resolve("vllm", "my-local-model", o));
}

TEST(PriceTable, Merged_OtherReplacesEntries) {
  auto a = parse_ok("date: a\nprices:\n  any:\n    m: {input: 1}\n    n: {input: 5}\n");
  auto b = parse_ok("date: b\nprices:\n  any:\n    m: {input: 2}\n  azure:\n    m: {input: 3}\n");
  const auto c = a.merged(b);
  EXPECT_EQ(c.find("openai", "m")->input, 2);
  EXPECT_EQ(c.find("azure", "m")->input, 3);
  EXPECT_EQ(c.find("openai", "n")->input, 5);
  EXPECT_EQ(c.date(), "b");
  EXPECT_EQ(a.find("openai", "m")->input, 1);  // unchanged
}

TEST(Cost, OpenAIUsage_CachedTokensArePartOfPrompt) {
  const g::Price gpt4o{2.50, 1.25, 2.50, 10.00};
  // 600 uncached + 400 cached prompt tokens, 200 completion.
  EXPECT_DOUBLE_EQ(g::cost_usd(gpt4o, 1000, 400, 200),
                   (600 * 2.50 + 400 * 1.25 + 200 * 10.0) / 1e6);
  EXPECT_DOUBLE_EQ(g::cost_usd(gpt4o, 1'000'000, 0, 0), 2.50);
  EXPECT_DOUBLE_EQ(g::cost_usd(gpt4o, 0, 0, 1'000'000), 10.00);
}

TEST(Cost, AnthropicUsage_CacheWritesAtCacheWritePrice) {
  const g::Price sonnet{3.00, 0.30, 3.75, 15.00};
  // prompt 1000 = 100 uncached + 500 read from the cache + 400 written to it.
  const g::TokenUsage u{.prompt = 1000, .cached = 500, .cache_write = 400, .completion = 100};
  EXPECT_DOUBLE_EQ(g::cost_usd(sonnet, u),
                   (100 * 3.0 + 500 * 0.30 + 400 * 3.75 + 100 * 15.0) / 1e6);
}

TEST(Cost, InconsistentOrNegativeCounts_NeverNegative) {
  const g::Price p{1, 0.5, 2, 4};
  EXPECT_DOUBLE_EQ(g::cost_usd(p, 10, 30, 0), 30 * 0.5 / 1e6);  // cached > prompt
  EXPECT_DOUBLE_EQ(g::cost_usd(p, -5, -1, -7), 0);
}
