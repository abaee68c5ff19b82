// Key groups, as in Flink: keyed state is split into `max_parallelism` key
// groups, and each parallel operator instance owns one contiguous range of
// them. Rescaling then moves whole key groups instead of rehashing every key.
// The hash and range functions are on the per-record hot path (keyBy
// partitioning, state access), so they are inline here.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace eddy {

// Flink's upper bound for max parallelism (1 << 15): key groups are written
// as 16-bit-safe indices in savepoints, and the bound keeps per-key-group
// bookkeeping small.
inline constexpr int kUpperBoundMaxParallelism = 1 << 15;
// Lower bound for a derived default max parallelism, as Flink's.
inline constexpr int kDefaultLowerBoundMaxParallelism = 1 << 7;

namespace key_group_internal {

inline uint32_t RotateLeft32(uint32_t x, int r) { return std::rotl(x, r); }

// Reads four bytes as a little-endian word, which is how MurmurHash3 defines
// its blocks; going through bytes keeps results equal on big-endian hosts.
inline uint32_t LoadLittleEndian32(const unsigned char* p) {
  if constexpr (std::endian::native == std::endian::little) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  } else {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
  }
}

}  // namespace key_group_internal

// MurmurHash3's 32-bit finaliser (fmix32). Key hashes produced by weak hash
// functions (std::hash of an int is the identity) cluster in their low bits;
// the avalanche spreads them before the modulo in AssignToKeyGroup.
inline uint32_t MurmurMix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// MurmurHash3_x86_32 (Austin Appleby's reference algorithm) of `len` bytes.
inline uint32_t MurmurHash3_32(const void* data, size_t len,
                               uint32_t seed = 0) {
  using key_group_internal::LoadLittleEndian32;
  using key_group_internal::RotateLeft32;
  constexpr uint32_t c1 = 0xcc9e2d51U;
  constexpr uint32_t c2 = 0x1b873593U;
  const auto* bytes = static_cast<const unsigned char*>(data);
  const size_t num_blocks = len / 4;
  uint32_t h1 = seed;

  for (size_t i = 0; i < num_blocks; ++i) {
    uint32_t k1 = LoadLittleEndian32(bytes + i * 4);
    k1 *= c1;
    k1 = RotateLeft32(k1, 15);
    k1 *= c2;
    h1 ^= k1;
    h1 = RotateLeft32(h1, 13);
    h1 = h1 * 5 + 0xe6546b64U;
  }

  const unsigned char* tail = bytes + num_blocks * 4;
  uint32_t k1 = 0;
  switch (len & 3) {
    case 3:
      k1 ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= static_cast<uint32_t>(tail[0]);
      k1 *= c1;
      k1 = RotateLeft32(k1, 15);
      k1 *= c2;
      h1 ^= k1;
  }

  // The reference mixes in the length as a 32-bit value.
  h1 ^= static_cast<uint32_t>(len);
  return MurmurMix32(h1);
}

// The key group a key belongs to, from the key's hash. Unsigned arithmetic
// keeps the result in [0, max_parallelism) without Flink's abs() dance.
// Requires max_parallelism >= 1 (see CheckParallelism).
//
// Note: Flink applies a full one-block MurmurHash3 here; Eddy applies only the
// finaliser. Both avalanche; key hashes differ from Java's anyway, so
// bit-compatibility with Flink's assignment is not a goal.
inline int AssignToKeyGroup(uint32_t key_hash, int max_parallelism) {
  return static_cast<int>(MurmurMix32(key_hash) %
                          static_cast<uint32_t>(max_parallelism));
}

// The index of the parallel operator instance that owns `key_group`. This is
// the inverse of KeyGroupRangeForOperator; with both bounded by 2^15 the
// product cannot overflow an int.
inline int OperatorIndexForKeyGroup(int max_parallelism, int parallelism,
                                    int key_group) {
  return key_group * parallelism / max_parallelism;
}

// An inclusive range [start, end] of key groups; empty when end < start.
struct KeyGroupRange {
  int start = 0;
  int end = -1;

  // The canonical empty range, as Flink's KeyGroupRange.EMPTY_KEY_GROUP_RANGE.
  static constexpr KeyGroupRange Empty() { return KeyGroupRange{0, -1}; }

  constexpr bool empty() const { return end < start; }
  constexpr int size() const { return empty() ? 0 : end - start + 1; }
  constexpr bool Contains(int key_group) const {
    return key_group >= start && key_group <= end;
  }
  // Position of `key_group` inside this range, for per-range arrays indexed
  // from zero. Requires Contains(key_group).
  constexpr int IndexOf(int key_group) const { return key_group - start; }
  // The key groups both ranges own; used when restoring state after rescaling
  // to find which parts of an old snapshot a new instance must read.
  constexpr KeyGroupRange Intersection(const KeyGroupRange& other) const {
    const int s = start > other.start ? start : other.start;
    const int e = end < other.end ? end : other.end;
    return e < s ? Empty() : KeyGroupRange{s, e};
  }
  // All empty ranges are equal, whatever their bounds.
  constexpr bool operator==(const KeyGroupRange& other) const {
    if (empty() || other.empty()) return empty() && other.empty();
    return start == other.start && end == other.end;
  }

  // "KeyGroupRange{startKeyGroup=0, endKeyGroup=127}", as Flink prints it, so
  // logs read the same for people who know Flink's.
  std::string ToString() const;
};

// The key groups owned by parallel instance `operator_index` of an operator
// with `parallelism` instances. Ranges of consecutive instances are
// contiguous, disjoint, cover [0, max_parallelism) and agree with
// OperatorIndexForKeyGroup. Requires 0 <= operator_index < parallelism and
// CheckParallelism(parallelism, max_parallelism) to be OK.
inline KeyGroupRange KeyGroupRangeForOperator(int max_parallelism,
                                              int parallelism,
                                              int operator_index) {
  // start = ceil(index * max / p), end = ceil((index + 1) * max / p) - 1.
  const int start =
      (operator_index * max_parallelism + parallelism - 1) / parallelism;
  const int end =
      ((operator_index + 1) * max_parallelism + parallelism - 1) / parallelism -
      1;
  return KeyGroupRange{start, end};
}

// OK when 1 <= max_parallelism <= kUpperBoundMaxParallelism and
// 1 <= parallelism <= max_parallelism; otherwise InvalidArgument saying which
// bound was broken and how to fix it.
absl::Status CheckParallelism(int parallelism, int max_parallelism);

// Flink's default max parallelism for an operator whose user did not set one:
// 1.5 x parallelism rounded up to a power of two, clamped to
// [kDefaultLowerBoundMaxParallelism, kUpperBoundMaxParallelism], leaving
// headroom to scale up later without losing state.
int ComputeDefaultMaxParallelism(int parallelism);

}  // namespace eddy
