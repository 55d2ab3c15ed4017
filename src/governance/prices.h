// The price table: $ per 1M tokens per (provider type, model), from data/prices.yaml compiled
// into the binary, overridable per deployment; and the cost of one answer's usage.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stratus::governance {

// US$ per 1 million tokens.
struct Price {
  double input = 0;
  double cached_input = 0;  // prompt tokens read from the provider's cache
  double cache_write = 0;   // prompt tokens written to it (Anthropic, Bedrock: 1.25x input)
  double output = 0;
  bool operator==(const Price&) const = default;
};

// A deployment's price from config: each field given wins over the table's.
struct PriceOverride {
  std::optional<double> input;
  std::optional<double> cached_input;
  std::optional<double> cache_write;
  std::optional<double> output;
};

// Token counts of one answer, in OpenAI's usage semantics: `prompt` includes `cached` and
// `cache_write` (that is how every adapter fills api::Usage); reasoning tokens are part of
// `completion`.
struct TokenUsage {
  long prompt = 0;
  long cached = 0;
  long cache_write = 0;
  long completion = 0;
};

// $ for these tokens: uncached prompt tokens at `input`, cached at `cached_input`, cache writes
// at `cache_write`, completion at `output`. Counts that do not add up (cached + cache_write >
// prompt) are taken as given for the cached parts and no uncached prompt tokens; negative
// counts are treated as 0.
double cost_usd(const Price& price, const TokenUsage& usage);
double cost_usd(const Price& price, long prompt_tokens, long cached_tokens, long completion_tokens);

class PriceTable {
 public:
  // The table compiled into the binary from data/prices.yaml.
  static const PriceTable& builtin();

  // Parses the YAML format of data/prices.yaml:
  //   date: ..., source: [urls], prices: {<provider type>|any: {<model>: {input, cached_input,
  //   cache_write, output}}}
  // Errors name the line (1-based) and the offending key. `input` is required; cached_input and
  // cache_write default to input, output to 0; prices must be finite and >= 0.
  static core::Result<PriceTable> parse(std::string_view yaml_text);

  // The price of `model` served by a provider of type `provider_type` ("openai", "bedrock"):
  // an exact entry for that provider type, else an exact provider-agnostic ("any") entry, else
  // the longest listed prefix ending at '-', '@', ':' or '/' (provider's own first at each
  // length). Names are compared without regard to case. Bedrock inference profiles
  // ("us.anthropic.claude-...", "global.", ARNs ending in ".../<profile id>") are looked up as
  // the base model id. nullopt: unknown model.
  std::optional<Price> find(std::string_view provider_type, std::string_view model) const;

  // A deployment's price: the table's, with each field of `over` replacing it. With no table
  // entry, the override alone if it has an input price (cached_input and cache_write default
  // to it, output to 0); otherwise nullopt: the deployment is unpriced (the caller decides; $0
  // means budgets never see its cost).
  std::optional<Price> resolve(std::string_view provider_type, std::string_view model,
                               const std::optional<PriceOverride>& over) const;

  // This table with every entry of `other` added, replacing same-named ones.
  PriceTable merged(const PriceTable& other) const;

  // Adds or replaces one entry; provider_type "" or "any" is provider-agnostic.
  void set(std::string_view provider_type, std::string_view model, const Price& price);

  const std::string& date() const { return date_; }
  const std::vector<std::string>& sources() const { return sources_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::optional<Price> find_one(std::string_view provider, std::string_view model) const;
  const Price* exact(std::string_view provider, std::string_view model) const;

  // Key: "<provider>\x1f<model>" lower-cased; provider "" = any.
  std::map<std::string, Price, std::less<>> entries_;
  std::string date_;
  std::vector<std::string> sources_;
};

}  // namespace stratus::governance
