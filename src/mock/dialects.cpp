// The one table of mock dialects (`stratus mock --dialect NAME`) and helpers they share.
#include <cmath>

#include "mock/dialect.h"

namespace stratus::mock {

const Dialect& openai_dialect();
const Dialect& azure_dialect();
const Dialect& anthropic_dialect();
const Dialect& gemini_dialect();
const Dialect& vertex_dialect();
const Dialect& bedrock_dialect();

namespace {

struct Entry {
  std::string_view name;
  const Dialect& (*get)();
};

constexpr Entry kDialects[] = {
    {"openai", &openai_dialect}, {"azure", &azure_dialect},   {"anthropic", &anthropic_dialect},
    {"gemini", &gemini_dialect}, {"vertex", &vertex_dialect}, {"bedrock", &bedrock_dialect},
};

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

const Dialect* find_dialect(std::string_view name) {
  for (auto& e : kDialects) {
    if (e.name == name && e.get) return &e.get();
  }
  return nullptr;
}

std::vector<std::string_view> dialect_names() {
  std::vector<std::string_view> out;
  for (auto& e : kDialects) {
    if (e.get) out.push_back(e.name);
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

int estimate_tokens(std::string_view text) { return static_cast<int>((text.size() + 3) / 4); }

std::vector<float> fake_embedding(std::string_view text, std::size_t dims) {
  std::vector<float> v(dims);
  auto h = fnv1a(text);
  double norm = 0;
  for (std::size_t k = 0; k < dims; ++k) {
    v[k] = static_cast<float>(std::sin(static_cast<double>((h % 100003) + k * 7919)));
    norm += double(v[k]) * v[k];
  }
  norm = std::sqrt(norm);
  for (auto& x : v) x = static_cast<float>(x / norm);
  return v;
}

}  // namespace stratus::mock
