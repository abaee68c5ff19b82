// Tests for key-group math: ranges partition [0, max) and agree with
// OperatorIndexForKeyGroup, assignment spreads keys evenly, and the Murmur
// functions match the reference algorithm.
#include "eddy/key_group.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy {
namespace {

using ::testing::HasSubstr;

// Debian's absl::string_view is not std::string_view and gtest prints it as a
// char array; matching on std::string keeps failure messages readable.
std::string Msg(const absl::Status& status) {
  return std::string(status.message());
}

std::vector<std::pair<int, int>> MaxAndParallelismPairs() {
  std::vector<std::pair<int, int>> pairs;
  for (int max : {1, 2, 3, 7, 10, 128, 129, 1000, 4096, 32768}) {
    for (int p : {1, 2, 3, 5, 7, 10, 13, 64, 100, 127, 128, 1000, 32768}) {
      if (p <= max) pairs.emplace_back(max, p);
    }
    pairs.emplace_back(max, max);  // one key group per instance
  }
  return pairs;
}

TEST(KeyGroupRangeTest, RangesPartitionAllKeyGroups) {
  for (auto [max, p] : MaxAndParallelismPairs()) {
    SCOPED_TRACE(testing::Message() << "max=" << max << " p=" << p);
    int next = 0;  // the first key group not yet covered
    for (int index = 0; index < p; ++index) {
      KeyGroupRange range = KeyGroupRangeForOperator(max, p, index);
      ASSERT_EQ(range.start, next)
          << "gap or overlap before instance " << index;
      // With p <= max every instance owns at least one key group.
      ASSERT_GE(range.size(), 1);
      ASSERT_EQ(range.size(), range.end - range.start + 1);
      next = range.end + 1;
    }
    EXPECT_EQ(next, max);
  }
}

TEST(KeyGroupRangeTest, OperatorIndexAgreesWithRanges) {
  for (auto [max, p] : MaxAndParallelismPairs()) {
    SCOPED_TRACE(testing::Message() << "max=" << max << " p=" << p);
    for (int index = 0; index < p; ++index) {
      KeyGroupRange range = KeyGroupRangeForOperator(max, p, index);
      for (int kg = range.start; kg <= range.end; ++kg) {
        ASSERT_EQ(OperatorIndexForKeyGroup(max, p, kg), index) << "kg=" << kg;
        ASSERT_TRUE(range.Contains(kg));
      }
      EXPECT_FALSE(range.Contains(range.start - 1));
      EXPECT_FALSE(range.Contains(range.end + 1));
    }
  }
}

TEST(KeyGroupRangeTest, KnownRanges) {
  // 128 key groups over 3 instances: ceil(128/3) = 43, ceil(256/3) = 86.
  EXPECT_EQ(KeyGroupRangeForOperator(128, 3, 0), (KeyGroupRange{0, 42}));
  EXPECT_EQ(KeyGroupRangeForOperator(128, 3, 1), (KeyGroupRange{43, 85}));
  EXPECT_EQ(KeyGroupRangeForOperator(128, 3, 2), (KeyGroupRange{86, 127}));
  EXPECT_EQ(KeyGroupRangeForOperator(128, 1, 0), (KeyGroupRange{0, 127}));
  EXPECT_EQ(KeyGroupRangeForOperator(128, 128, 5), (KeyGroupRange{5, 5}));
}

TEST(KeyGroupRangeTest, EmptyAndIntersection) {
  KeyGroupRange empty = KeyGroupRange::Empty();
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0);
  EXPECT_FALSE(empty.Contains(0));
  EXPECT_EQ((KeyGroupRange{5, 3}), empty);

  KeyGroupRange a{0, 42};
  KeyGroupRange b{40, 90};
  EXPECT_EQ(a.Intersection(b), (KeyGroupRange{40, 42}));
  EXPECT_TRUE(a.Intersection(KeyGroupRange{43, 50}).empty());
  EXPECT_EQ(b.IndexOf(41), 1);
  EXPECT_EQ(a.ToString(), "KeyGroupRange{startKeyGroup=0, endKeyGroup=42}");
}

TEST(AssignToKeyGroupTest, StaysInRange) {
  for (int max : {1, 2, 7, 128, 32768}) {
    for (uint32_t hash : {0u, 1u, 42u, 0x7fffffffu, 0x80000000u, 0xffffffffu}) {
      int kg = AssignToKeyGroup(hash, max);
      EXPECT_GE(kg, 0);
      EXPECT_LT(kg, max);
    }
  }
}

TEST(AssignToKeyGroupTest, SpreadsConsecutiveHashesEvenly) {
  // Consecutive integers are the worst realistic input (std::hash<int> is the
  // identity), so they are what the avalanche has to spread.
  constexpr int kMax = 128;
  constexpr int kKeys = 100000;
  std::vector<int> counts(kMax, 0);
  for (int i = 0; i < kKeys; ++i) {
    ++counts[AssignToKeyGroup(static_cast<uint32_t>(i), kMax)];
  }
  const double mean = static_cast<double>(kKeys) / kMax;
  for (int kg = 0; kg < kMax; ++kg) {
    EXPECT_GE(counts[kg], mean * 0.7) << "key group " << kg;
    EXPECT_LE(counts[kg], mean * 1.3) << "key group " << kg;
  }
}

// fmix32 written out from the MurmurHash3 reference, independently of the
// header, to check MurmurMix32 against.
uint32_t ReferenceFmix32(uint32_t h) {
  h ^= h >> 16;
  h = static_cast<uint32_t>(static_cast<uint64_t>(h) * 0x85ebca6bULL);
  h ^= h >> 13;
  h = static_cast<uint32_t>(static_cast<uint64_t>(h) * 0xc2b2ae35ULL);
  h ^= h >> 16;
  return h;
}

TEST(MurmurTest, MurmurMix32MatchesFmix32) {
  for (uint32_t v : {0u, 1u, 2u, 42u, 0xdeadbeefu, 0xffffffffu}) {
    EXPECT_EQ(MurmurMix32(v), ReferenceFmix32(v)) << v;
  }
  // Worked by hand for 1: 1 ^ (1 >> 16) = 1; * 0x85ebca6b = 0x85ebca6b;
  // ^ (>> 13 = 0x42f5e) = 0x85efe535; * 0xc2b2ae35 = 0x514e79f9 (mod 2^32);
  // ^ (>> 16 = 0x514e) = 0x514e28b7.
  EXPECT_EQ(MurmurMix32(1), 0x514e28b7u);
  EXPECT_EQ(MurmurMix32(0), 0u);
  EXPECT_EQ(MurmurMix32(42), 0x087fcd5cu);
  EXPECT_EQ(MurmurMix32(0xdeadbeefu), 0x0de5c6a9u);
}

TEST(MurmurTest, MurmurHash3_32ReferenceVectors) {
  auto hash = [](const std::string& s, uint32_t seed) {
    return MurmurHash3_32(s.data(), s.size(), seed);
  };
  EXPECT_EQ(hash("", 0), 0u);
  EXPECT_EQ(hash("", 1), 0x514e28b7u);
  EXPECT_EQ(hash("hello", 0), 0x248bfa47u);
  EXPECT_EQ(hash("Hello, world!", 1234), 0xfaf6cdb3u);
  EXPECT_EQ(hash("The quick brown fox jumps over the lazy dog", 0),
            0x2e4ff723u);
}

TEST(CheckParallelismTest, Bounds) {
  EXPECT_TRUE(CheckParallelism(1, 1).ok());
  EXPECT_TRUE(CheckParallelism(4, 128).ok());
  EXPECT_TRUE(CheckParallelism(32768, 32768).ok());

  absl::Status s = CheckParallelism(1, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), HasSubstr("max parallelism 0"));
  EXPECT_THAT(Msg(CheckParallelism(1, 32769)), HasSubstr("32768"));

  s = CheckParallelism(200, 128);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), HasSubstr("parallelism 200"));
  EXPECT_THAT(Msg(s), HasSubstr("128"));
  EXPECT_FALSE(CheckParallelism(0, 128).ok());
  EXPECT_FALSE(CheckParallelism(-1, 128).ok());
}

TEST(CheckParallelismTest, DefaultMaxParallelism) {
  EXPECT_EQ(ComputeDefaultMaxParallelism(1), 128);
  EXPECT_EQ(ComputeDefaultMaxParallelism(100), 256);    // 150 -> 256
  EXPECT_EQ(ComputeDefaultMaxParallelism(1000), 2048);  // 1500 -> 2048
  EXPECT_EQ(ComputeDefaultMaxParallelism(30000), 32768);
  EXPECT_EQ(ComputeDefaultMaxParallelism(1 << 30), 32768);
}

}  // namespace
}  // namespace eddy
