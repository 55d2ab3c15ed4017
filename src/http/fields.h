// The fields of one HTTP head, without a field container: their bytes in one string and an
// index into it. Kept by a connection and cleared per message, so once warm a head costs no
// allocation (Beast's basic_fields allocates a node per field, which showed in profiles).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::http {

// ASCII case-insensitive equality, as field names compare.
inline bool iequal_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
  }
  return true;
}

class HeadFields {
 public:
  void add(std::string_view name, std::string_view value) {
    auto at = static_cast<std::uint32_t>(text_.size());
    // One size change for both (the room is kept from one head to the next).
    text_.resize_and_overwrite(at + name.size() + value.size(), [&](char* p, std::size_t n) {
      std::memcpy(p + at, name.data(), name.size());
      std::memcpy(p + at + name.size(), value.data(), value.size());
      return n;
    });
    auto name_len = static_cast<std::uint32_t>(name.size());
    index_.push_back({at, name_len, at + name_len, static_cast<std::uint32_t>(value.size())});
  }
  // The first field of that name (case-insensitive); empty when absent.
  std::string_view get(std::string_view name) const {
    const Entry* e = find(name);
    return e ? value(*e) : std::string_view{};
  }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // f(name, value) for each field, in arrival order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& e : index_) f(name(e), value(e));
  }
  std::size_t size() const { return index_.size(); }
  void clear() {
    text_.clear();
    index_.clear();
  }

 private:
  struct Entry {
    std::uint32_t name_at, name_len, value_at, value_len;
  };
  std::string_view name(const Entry& e) const {
    return std::string_view(text_).substr(e.name_at, e.name_len);
  }
  std::string_view value(const Entry& e) const {
    return std::string_view(text_).substr(e.value_at, e.value_len);
  }
  const Entry* find(std::string_view n) const {
    for (const auto& e : index_) {
      if (e.name_len == n.size() && iequal_ascii(name(e), n)) return &e;
    }
    return nullptr;
  }

  std::string text_;
  std::vector<Entry> index_;
};

}  // namespace stratus::http
