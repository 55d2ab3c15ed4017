// Price table: YAML parsing, lookup with provider-agnostic and prefix fallbacks, cost.
#include "governance/prices.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "governance/prices_data.h"

namespace stratus::governance {

namespace {

constexpr char kSep = '\x1f';
constexpr std::string_view kFields[] = {"input", "cached_input", "cache_write", "output"};
// Bedrock cross-region inference profile prefixes ("us.anthropic.claude-...").
constexpr std::string_view kRegionPrefixes[] = {"us.", "us-gov.", "eu.", "apac.", "global.",
                                                "jp.", "au.",     "ca.", "ap."};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string key_of(std::string_view provider, std::string_view model) {
  std::string k;
  k.reserve(provider.size() + model.size() + 1);
  k += provider;
  k += kSep;
  k += model;
  return k;
}

std::string_view provider_key(std::string_view p) { return p == "any" ? std::string_view{} : p; }

bool is_boundary(char c) { return c == '-' || c == '@' || c == ':' || c == '/'; }

// The base model id of a Bedrock inference profile or ARN; the name itself otherwise.
std::string_view base_model(std::string_view m) {
  if (m.starts_with("arn:")) {
    if (const auto slash = m.rfind('/'); slash != std::string_view::npos) m = m.substr(slash + 1);
  }
  for (const auto p : kRegionPrefixes) {
    if (m.starts_with(p) && m.find('.', p.size()) != std::string_view::npos) {
      return m.substr(p.size());
    }
  }
  return m;
}

std::string at_line(const YAML::Node& n) { return fmt::format("line {}", n.Mark().line + 1); }

core::Result<double> price_field(const YAML::Node& n, std::string_view what) {
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: {}: {} must be a number", at_line(n), what));
  }
  if (!std::isfinite(v) || v < 0) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: {}: {} must be a number >= 0", at_line(n), what));
  }
  return v;
}

core::Result<Price> parse_price(const YAML::Node& n, std::string_view model) {
  if (!n.IsMap()) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: {}: {} must be a map of input, cached_input, "
                                  "cache_write, output",
                                  at_line(n), model));
  }
  std::array<std::optional<double>, 4> got;
  for (const auto& kv : n) {
    const auto name = kv.first.as<std::string>();
    const auto* f = std::find(std::begin(kFields), std::end(kFields), name);
    if (f == std::end(kFields)) {
      return core::fail(core::ErrorKind::invalid_request,
                        fmt::format("prices: {}: {}: unknown field '{}' (known: input, "
                                    "cached_input, cache_write, output)",
                                    at_line(kv.first), model, name));
    }
    auto v = price_field(kv.second, fmt::format("{}.{}", model, name));
    if (!v) return std::unexpected(v.error());
    got[static_cast<std::size_t>(f - std::begin(kFields))] = *v;
  }
  if (!got[0]) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: {}: {}: input is required", at_line(n), model));
  }
  Price p;
  p.input = *got[0];
  p.cached_input = got[1].value_or(p.input);
  p.cache_write = got[2].value_or(p.input);
  p.output = got[3].value_or(0);
  return p;
}

core::Result<void> parse_prices(const YAML::Node& prices, PriceTable& table) {
  if (!prices.IsMap()) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: {}: prices must be a map of provider type -> models",
                                  at_line(prices)));
  }
  for (const auto& prov : prices) {
    const auto provider = prov.first.as<std::string>();
    if (!prov.second.IsMap()) {
      return core::fail(core::ErrorKind::invalid_request,
                        fmt::format("prices: {}: prices.{} must be a map of model -> price",
                                    at_line(prov.second), provider));
    }
    for (const auto& m : prov.second) {
      const auto model = m.first.as<std::string>();
      auto p = parse_price(m.second, model);
      if (!p) return std::unexpected(p.error());
      table.set(provider, model, *p);
    }
  }
  return {};
}

}  // namespace

double cost_usd(const Price& price, const TokenUsage& u) {
  const double prompt = static_cast<double>(std::max(0L, u.prompt));
  const double cached = static_cast<double>(std::max(0L, u.cached));
  const double write = static_cast<double>(std::max(0L, u.cache_write));
  const double uncached = std::max(0.0, prompt - cached - write);
  const double completion = static_cast<double>(std::max(0L, u.completion));
  return (uncached * price.input + cached * price.cached_input + write * price.cache_write +
          completion * price.output) /
         1e6;
}

double cost_usd(const Price& price, long prompt_tokens, long cached_tokens,
                long completion_tokens) {
  return cost_usd(price, TokenUsage{.prompt = prompt_tokens,
                                    .cached = cached_tokens,
                                    .cache_write = 0,
                                    .completion = completion_tokens});
}

const PriceTable& PriceTable::builtin() {
  static const PriceTable table = [] {
    auto t = parse(detail::kPricesYaml);
    // The file is checked by a unit test; a broken build-time table is a bug, not input.
    if (!t) throw std::logic_error("built-in data/prices.yaml: " + t.error().message);
    return std::move(*t);
  }();
  return table;
}

core::Result<PriceTable> PriceTable::parse(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: line {}: {}", e.mark.line + 1, e.msg));
  }
  if (!root.IsMap()) {
    return core::fail(core::ErrorKind::invalid_request,
                      "prices: the file must be a map with date, source and prices");
  }
  PriceTable table;
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      if (key == "date") {
        table.date_ = kv.second.as<std::string>();
      } else if (key == "source") {
        if (kv.second.IsSequence()) {
          for (const auto& s : kv.second) table.sources_.push_back(s.as<std::string>());
        } else {
          table.sources_.push_back(kv.second.as<std::string>());
        }
      } else if (key == "prices") {
        if (auto r = parse_prices(kv.second, table); !r) return std::unexpected(r.error());
      } else {
        return core::fail(core::ErrorKind::invalid_request,
                          fmt::format("prices: {}: unknown key '{}' (known: date, source, prices)",
                                      at_line(kv.first), key));
      }
    }
  } catch (const YAML::Exception& e) {
    return core::fail(core::ErrorKind::invalid_request,
                      fmt::format("prices: line {}: {}", e.mark.line + 1, e.msg));
  }
  if (!root["prices"]) {
    return core::fail(core::ErrorKind::invalid_request, "prices: the file has no prices");
  }
  return table;
}

void PriceTable::set(std::string_view provider_type, std::string_view model, const Price& price) {
  entries_.insert_or_assign(key_of(lower(provider_key(provider_type)), lower(model)), price);
}

const Price* PriceTable::exact(std::string_view provider, std::string_view model) const {
  const auto it = entries_.find(key_of(provider, model));
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<Price> PriceTable::find_one(std::string_view provider, std::string_view model) const {
  if (const auto* p = exact(provider, model)) return *p;
  if (const auto* p = exact({}, model)) return *p;
  for (auto i = model.size(); i-- > 1;) {
    if (!is_boundary(model[i])) continue;
    const auto prefix = model.substr(0, i);
    if (const auto* p = exact(provider, prefix)) return *p;
    if (const auto* p = exact({}, prefix)) return *p;
  }
  return std::nullopt;
}

std::optional<Price> PriceTable::find(std::string_view provider_type,
                                      std::string_view model) const {
  const auto provider = lower(provider_key(provider_type));
  const auto name = lower(model);
  if (auto p = find_one(provider, name)) return p;
  const auto base = base_model(name);
  if (base.size() != name.size()) return find_one(provider, base);
  return std::nullopt;
}

std::optional<Price> PriceTable::resolve(std::string_view provider_type, std::string_view model,
                                         const std::optional<PriceOverride>& over) const {
  auto found = find(provider_type, model);
  if (!over) return found;
  if (!found) {
    if (!over->input) return std::nullopt;
    found = Price{.input = *over->input,
                  .cached_input = *over->input,
                  .cache_write = *over->input,
                  .output = 0};
  }
  Price p = *found;
  if (over->input) p.input = *over->input;
  if (over->cached_input) p.cached_input = *over->cached_input;
  if (over->cache_write) p.cache_write = *over->cache_write;
  if (over->output) p.output = *over->output;
  return p;
}

PriceTable PriceTable::merged(const PriceTable& other) const {
  PriceTable out = *this;
  for (const auto& [k, v] : other.entries_) out.entries_.insert_or_assign(k, v);
  if (!other.date_.empty()) out.date_ = other.date_;
  out.sources_.insert(out.sources_.end(), other.sources_.begin(), other.sources_.end());
  return out;
}

}  // namespace stratus::governance
