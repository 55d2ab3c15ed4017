// The small public surface of the config module: lookups, problem formatting, the environment,
// ${VAR} interpolation, provider types and reading a config file.
#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace stratus::config {
namespace {

// Every provider type the gateway knows. Adding an OpenAI-compatible service is one row.
constexpr ProviderType kProviderTypes[] = {
    {"openai", "openai", "https://api.openai.com/v1", AuthStyle::bearer},
    {"azure", "azure", "", AuthStyle::api_key},
    {"bedrock", "bedrock", "https://bedrock-runtime.{region}.amazonaws.com", AuthStyle::sigv4,
     true},
    {"anthropic", "anthropic", "https://api.anthropic.com", AuthStyle::x_api_key},
    {"gemini", "gemini", "https://generativelanguage.googleapis.com", AuthStyle::goog_key},
    {"vertex", "vertex", "https://{region}-aiplatform.googleapis.com", AuthStyle::bearer, true,
     true},
    {"oci", "openai", "https://inference.generativeai.{region}.oci.oraclecloud.com/openai/v1",
     AuthStyle::bearer, true},
    {"groq", "openai", "https://api.groq.com/openai/v1", AuthStyle::bearer},
    {"together", "openai", "https://api.together.xyz/v1", AuthStyle::bearer},
    {"mistral", "openai", "https://api.mistral.ai/v1", AuthStyle::bearer},
    {"deepseek", "openai", "https://api.deepseek.com/v1", AuthStyle::bearer},
    {"xai", "openai", "https://api.x.ai/v1", AuthStyle::bearer},
    {"fireworks", "openai", "https://api.fireworks.ai/inference/v1", AuthStyle::bearer},
    {"openrouter", "openai", "https://openrouter.ai/api/v1", AuthStyle::bearer},
    {"vllm", "openai", "http://127.0.0.1:8000/v1", AuthStyle::bearer},
    {"ollama", "openai", "http://127.0.0.1:11434/v1", AuthStyle::bearer},
    {"llamacpp", "openai", "http://127.0.0.1:8080/v1", AuthStyle::bearer},
};

std::unexpected<std::string> fail(std::string message) {
  return std::unexpected(std::move(message));
}

bool is_variable_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::ranges::all_of(
      name, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

const ProviderType* find_provider_type(std::string_view name) {
  for (const auto& t : kProviderTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool is_known_provider_type(std::string_view type) { return find_provider_type(type) != nullptr; }

std::vector<std::string_view> known_provider_types() {
  std::vector<std::string_view> out;
  for (const auto& t : kProviderTypes) out.push_back(t.name);
  return out;
}

std::expected<std::string, std::string> interpolate(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto rest = text.substr(i);
    if (rest.starts_with("$${")) {
      out += "${";
      i += 3;
      continue;
    }
    if (!rest.starts_with("${")) {
      out += text[i++];
      continue;
    }
    const auto close = rest.find('}');
    if (close == std::string_view::npos) {
      return fail("unterminated '${' (write '$${' for a literal '${')");
    }
    const auto name = rest.substr(2, close - 2);
    if (!is_variable_name(name)) return fail(fmt::format("invalid variable name '{}'", name));
    const auto value = env(name);
    if (!value) return fail(fmt::format("environment variable '{}' is not set", name));
    out += *value;
    i += close + 1;
  }
  return out;
}

const Provider* Config::find_provider(std::string_view name) const {
  const auto it = std::ranges::find(providers, name, &Provider::name);
  return it == providers.end() ? nullptr : &*it;
}

const Team* Config::find_team(std::string_view name) const {
  for (const auto& t : teams) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const Model* Config::find_model(std::string_view name) const {
  const auto it = std::ranges::find(models, name, &Model::name);
  return it == models.end() ? nullptr : &*it;
}

std::string format_problem(std::string_view file, const Problem& p) {
  if (p.line == 0) return fmt::format("{}: {}", file, p.message);
  return fmt::format("{}:{}:{}: {}", file, p.line, p.column, p.message);
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::expected<Config, std::vector<Problem>> load_file(const std::string& path,
                                                      const EnvLookup& env) {
  const auto cannot_read = [&](std::string_view reason) {
    return std::unexpected(
        std::vector{Problem{0, 0, fmt::format("cannot read {}: {}", path, reason)}});
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return cannot_read("is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return cannot_read(std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return cannot_read(std::strerror(errno));
  return parse(text.str(), env);
}

}  // namespace stratus::config

namespace stratus::config {
std::string_view strategy_name(Strategy s) {
  switch (s) {
    case Strategy::priority:
      return "priority";
    case Strategy::weighted:
      return "weighted";
    case Strategy::least_busy:
      return "least-busy";
    case Strategy::latency:
      return "latency";
    case Strategy::cost:
      return "cost";
  }
  return "priority";
}
}  // namespace stratus::config
