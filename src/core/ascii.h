// Byte classes checked eight bytes at a time (SWAR), for the hot scans of heads and log text.
#pragma once

#include <cstdint>
#include <cstring>

namespace stratus::core {

inline constexpr std::uint64_t kOnes = 0x0101010101010101ull;
inline constexpr std::uint64_t kHighs = 0x8080808080808080ull;

inline std::uint64_t load8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

// True when all eight bytes are printable ASCII (0x20-0x7e): x - 0x20 sets a byte's high bit
// below 0x20 (and from 0xa0), x + 1 from 0x7f; a borrow or carry comes only from a byte that
// is flagged itself, so nothing outside the range goes unseen.
inline bool printable8(std::uint64_t x) {
  return (((x - 0x20 * kOnes) | (x + kOnes)) & kHighs) == 0;
}

// True when one of the eight bytes equals `c` (the classic zero-byte test on x ^ c...c).
inline bool has_byte8(std::uint64_t x, unsigned char c) {
  const std::uint64_t y = x ^ (c * kOnes);
  return ((y - kOnes) & ~y & kHighs) != 0;
}

}  // namespace stratus::core
