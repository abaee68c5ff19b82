// Tests for eddy/key_hash.h. Expected values are computed independently of
// the header (a second, deliberately plain MurmurHash3_x86_32 below, published
// test vectors, Java's hashCode rules), because a hash that silently changes
// would send restored state to the wrong key groups.
#include "eddy/key_hash.h"

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace trades {
struct TradeKey {
  std::string symbol;
  int32_t venue = 0;
};
EDDY_FIELDS(TradeKey, symbol, venue);

enum class Side : int16_t { kBuy = 1, kSell = -1 };
}  // namespace trades

struct CustomKey {
  int id = 0;
};
template <>
struct eddy::StableHasher<CustomKey> {
  static uint32_t Hash(const CustomKey& key) { return 1000u + key.id; }
};

struct NotAKey {};

namespace eddy {
namespace {

static_assert(kIsStableHashable<int>);
static_assert(kIsStableHashable<std::string>);
static_assert(kIsStableHashable<trades::TradeKey>);
static_assert(kIsStableHashable<std::tuple<int, std::string, double>>);
static_assert(kIsStableHashable<std::vector<std::optional<trades::Side>>>);
static_assert(kIsStableHashable<std::map<std::string, int>>);
static_assert(kIsStableHashable<CustomKey>);
static_assert(!kIsStableHashable<NotAKey>);
static_assert(!kIsStableHashable<std::pair<int, NotAKey>>);
static_assert(!kIsStableHashable<std::unordered_set<int>>);
static_assert(!kIsStableHashable<std::unordered_map<int, int>>);
static_assert(!kIsStableHashable<long double>);

// The reference algorithm again, written from the published description
// (byte-at-a-time, no shared helpers) as an independent check.
uint32_t ReferenceMurmur3(std::string_view data, uint32_t seed) {
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t h = seed;
  const size_t blocks = data.size() / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k = 0;
    for (int b = 3; b >= 0; --b) {
      k = (k << 8) | static_cast<uint8_t>(data[4 * i + b]);
    }
    k *= 0xcc9e2d51;
    k = rotl(k, 15);
    k *= 0x1b873593;
    h ^= k;
    h = rotl(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  uint32_t k = 0;
  const size_t rest = data.size() % 4;
  for (size_t b = rest; b > 0; --b) {
    k = (k << 8) | static_cast<uint8_t>(data[4 * blocks + b - 1]);
  }
  if (rest > 0) {
    k *= 0xcc9e2d51;
    k = rotl(k, 15);
    k *= 0x1b873593;
    h ^= k;
  }
  h ^= static_cast<uint32_t>(data.size());
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

TEST(StableHashBytesTest, PublishedTestVectors) {
  EXPECT_EQ(internal::StableHashBytes("", 0, 0), 0u);
  EXPECT_EQ(internal::StableHashBytes("", 0, 1), 0x514e28b7u);
  EXPECT_EQ(internal::StableHashBytes("", 0, 0xffffffff), 0x81f16f39u);
  EXPECT_EQ(internal::StableHashBytes("hello", 5, 0), 0x248bfa47u);
  EXPECT_EQ(internal::StableHashBytes("hello, world", 12, 0), 0x149bbb7fu);
  const std::string_view fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(internal::StableHashBytes(fox.data(), fox.size(), 0), 0x2e4ff723u);
  EXPECT_EQ(internal::StableHashBytes("\0\0\0\0", 4, 0), 0x2362f9deu);
}

TEST(StableHashBytesTest, MatchesReferenceForEveryTailLength) {
  std::string data;
  for (int i = 0; i < 64; ++i) {
    for (uint32_t seed : {0u, 42u}) {
      EXPECT_EQ(internal::StableHashBytes(data.data(), data.size(), seed),
                ReferenceMurmur3(data, seed))
          << "length " << i;
    }
    data += static_cast<char>(i * 37 + 200);  // Includes bytes >= 0x80.
  }
}

TEST(StableKeyHashTest, StringsAreMurmurOfTheirBytes) {
  EXPECT_EQ(StableKeyHash(std::string("hello")), 0x248bfa47u);
  EXPECT_EQ(StableKeyHash(std::string_view("hello")), 0x248bfa47u);
  EXPECT_EQ(StableKeyHash("hello"), 0x248bfa47u);
  const char* c_string = "hello";
  EXPECT_EQ(StableKeyHash(c_string), 0x248bfa47u);
  EXPECT_EQ(StableKeyHash(std::string()), 0u);
  EXPECT_EQ(StableKeyHash(std::string("a\0b", 3)),
            ReferenceMurmur3({"a\0b", 3}, 0));
}

TEST(StableKeyHashTest, IntegersFollowJavaHashCode) {
  EXPECT_EQ(StableKeyHash(0), 0u);
  EXPECT_EQ(StableKeyHash(42), 42u);
  EXPECT_EQ(StableKeyHash(-1), 0xffffffffu);
  EXPECT_EQ(StableKeyHash(static_cast<int16_t>(-2)), 0xfffffffeu);
  EXPECT_EQ(StableKeyHash(uint32_t{0x80000000}), 0x80000000u);
  // Long.hashCode: (int) (v ^ (v >>> 32)).
  EXPECT_EQ(StableKeyHash(int64_t{42}), 42u);
  EXPECT_EQ(StableKeyHash(int64_t{-1}), 0u);
  EXPECT_EQ(StableKeyHash(int64_t{0x0000000100000002}), 3u);
  EXPECT_EQ(StableKeyHash(std::numeric_limits<int64_t>::min()), 0x80000000u);
  EXPECT_EQ(StableKeyHash(uint64_t{0xffffffff00000000}), 0xffffffffu);
  // The same value hashes alike whatever its integer type.
  EXPECT_EQ(StableKeyHash(int64_t{123456}), StableKeyHash(123456));
  EXPECT_EQ(StableKeyHash(uint16_t{7}), StableKeyHash(7));
  EXPECT_EQ(StableKeyHash(true), 1231u);
  EXPECT_EQ(StableKeyHash(false), 1237u);
  EXPECT_EQ(StableKeyHash('A'), 65u);
  EXPECT_EQ(StableKeyHash(static_cast<char>(0xe9)),
            0xe9u);  // Not sign-extended.
  EXPECT_EQ(StableKeyHash(trades::Side::kSell), 0xffffffffu);
}

TEST(StableKeyHashTest, FloatingPointByBitPattern) {
  EXPECT_EQ(StableKeyHash(1.0f), 0x3f800000u);
  EXPECT_EQ(StableKeyHash(1.0), 0x3ff00000u);  // 0x3ff0000000000000 folded.
  EXPECT_EQ(StableKeyHash(-0.0), StableKeyHash(0.0));
  EXPECT_EQ(StableKeyHash(-0.0f), StableKeyHash(0.0f));
  EXPECT_EQ(StableKeyHash(0.0), 0u);
  EXPECT_EQ(StableKeyHash(std::numeric_limits<double>::quiet_NaN()),
            StableKeyHash(-std::numeric_limits<double>::quiet_NaN()));
  EXPECT_NE(StableKeyHash(1.5), StableKeyHash(2.5));
}

TEST(StableKeyHashTest, CompositesCombineAsJavaDoes) {
  const uint32_t hello = 0x248bfa47u;
  // Flink's Tuple2.hashCode: 31 * hash(f0) + hash(f1).
  EXPECT_EQ(StableKeyHash(std::make_pair(std::string("hello"), 5)),
            31u * hello + 5u);
  EXPECT_EQ(StableKeyHash(std::make_tuple(1, 2, 3)), (31u * 1 + 2) * 31u + 3);
  EXPECT_EQ(StableKeyHash(std::tuple<>()), 0u);
  // List.hashCode: starts from 1.
  EXPECT_EQ(StableKeyHash(std::vector<int>{1, 2}), (31u * 1 + 1) * 31u + 2);
  EXPECT_EQ(StableKeyHash(std::vector<int>()), 1u);
  EXPECT_EQ(StableKeyHash(std::array<int, 2>{1, 2}),
            StableKeyHash(std::vector<int>{1, 2}));
  EXPECT_EQ(StableKeyHash(std::set<int>{2, 1}),
            StableKeyHash(std::vector<int>{1, 2}));
  EXPECT_EQ(StableKeyHash(std::vector<bool>{true}), 31u + 1231u);
  // Optional.hashCode: the value's, or 0.
  EXPECT_EQ(StableKeyHash(std::optional<int>(9)), 9u);
  EXPECT_EQ(StableKeyHash(std::optional<int>()), 0u);
  // Objects.hash(fields...) for EDDY_FIELDS structs.
  EXPECT_EQ(StableKeyHash(trades::TradeKey{"hello", 4}),
            (31u * 1 + hello) * 31u + 4);
  EXPECT_EQ(StableKeyHash(CustomKey{5}), 1005u);
  EXPECT_EQ(StableKeyHash(std::make_pair(CustomKey{1}, 0)), 31u * 1001u);
}

TEST(StableKeyHashTest, EqualKeysHashEqual) {
  const trades::TradeKey a{"AAPL", 1};
  const trades::TradeKey b{std::string("AA") + "PL", 1};
  EXPECT_EQ(StableKeyHash(a), StableKeyHash(b));
  EXPECT_NE(StableKeyHash(a), StableKeyHash(trades::TradeKey{"AAPL", 2}));
  EXPECT_EQ(StableKeyHash(std::map<std::string, int>{{"x", 1}, {"y", 2}}),
            StableKeyHash(std::map<std::string, int>{{"y", 2}, {"x", 1}}));
}

TEST(StableKeyHashTest, DifferentValuesSpread) {
  // Distinct short strings should practically never collide, and their hashes
  // should fill the 128 default key groups roughly evenly.
  std::set<uint32_t> hashes;
  std::array<int, 128> buckets{};
  constexpr int kKeys = 12800;
  for (int i = 0; i < kKeys; ++i) {
    const uint32_t h = StableKeyHash("user-" + std::to_string(i));
    hashes.insert(h);
    ++buckets[h % buckets.size()];
  }
  EXPECT_GE(hashes.size(), static_cast<size_t>(kKeys - 2));
  for (int count : buckets) {
    EXPECT_GT(count, 50);
    EXPECT_LT(count, 150);
  }
  // Integer keys are distinct per value (key_group.h scrambles them further).
  std::set<uint32_t> ints;
  for (int32_t i = -1000; i < 1000; ++i) ints.insert(StableKeyHash(i));
  EXPECT_EQ(ints.size(), 2000u);
  std::set<uint32_t> longs;  // High halves matter too.
  for (int64_t i = 0; i < 2000; ++i) longs.insert(StableKeyHash(i << 33));
  EXPECT_EQ(longs.size(), 2000u);
  // As with Java's Long.hashCode, a negative 64-bit x and ~x fold alike.
  EXPECT_EQ(StableKeyHash(int64_t{-6}), StableKeyHash(int64_t{5}));
}

}  // namespace
}  // namespace eddy
