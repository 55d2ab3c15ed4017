// The one table of wire formats: config `type:` → adapter. OpenAI-compatible services (Groq,
// Mistral, vLLM, OCI, ...) are presets in config, not entries here.
#include <algorithm>
#include <iterator>

#include "providers/adapter.h"
#include "providers/anthropic.h"
#include "providers/azure.h"
#include "providers/bedrock.h"
#include "providers/gemini.h"
#include "providers/openai_compatible.h"

namespace stratus::providers {

namespace {

struct Entry {
  std::string_view name;
  const Adapter& (*get)();
};

constexpr Entry kAdapters[] = {
    {"openai", &openai_adapter}, {"azure", &azure_adapter},   {"anthropic", &anthropic_adapter},
    {"gemini", &gemini_adapter}, {"vertex", &vertex_adapter}, {"bedrock", &bedrock_adapter},
};

}  // namespace

const Adapter* find_adapter(std::string_view type) {
  for (auto& e : kAdapters) {
    if (e.name == type && e.get) return &e.get();
  }
  return nullptr;
}

std::vector<std::string_view> adapter_names() {
  std::vector<std::string_view> out;
  for (auto& e : kAdapters) {
    if (e.get) out.push_back(e.name);
  }
  return out;
}

}  // namespace stratus::providers
