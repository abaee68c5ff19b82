// Helpers shared by the network and data-transport tests: a seeded random
// generator (the seed is printed, so a failure can be replayed) and records
// whose bytes depend on their id, so misplaced bytes show.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace eddy::runtime::testing_util {

inline std::mt19937_64& Rng() {
  static std::mt19937_64 rng = [] {
    const uint64_t seed = std::random_device{}();
    std::printf("random seed: %llu\n", static_cast<unsigned long long>(seed));
    return std::mt19937_64(seed);
  }();
  return rng;
}

inline int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(Rng()); }

// A record of `size` bytes whose content depends on `id`.
inline std::string MakeRecord(uint64_t id, size_t size) {
  std::string s(size, '\0');
  uint64_t x = id * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

}  // namespace eddy::runtime::testing_util
