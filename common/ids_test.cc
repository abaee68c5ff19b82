// Tests for Id16: hex round trips, randomness of generated ids, determinism
// of hash-derived ids and rejection of malformed hex.
#include "eddy/ids.h"

#include <set>
#include <string>

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

TEST(Id16Test, DefaultIsZero) {
  Id16 id;
  EXPECT_TRUE(id.IsZero());
  EXPECT_EQ(id.ToHex(), std::string(32, '0'));
}

TEST(Id16Test, GeneratedIdsAreNonZeroAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Id16 id = Id16::Generate();
    EXPECT_FALSE(id.IsZero());
    EXPECT_TRUE(seen.insert(id.ToHex()).second) << "duplicate " << id.ToHex();
  }
}

TEST(Id16Test, HexRoundTrip) {
  for (int i = 0; i < 100; ++i) {
    Id16 id = Id16::Generate();
    std::string hex = id.ToHex();
    ASSERT_EQ(hex.size(), 32u);
    absl::StatusOr<Id16> parsed = Id16::FromHex(hex);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, id);
  }
}

TEST(Id16Test, ToHexIsLowerCaseAndFromHexIgnoresCase) {
  absl::StatusOr<Id16> upper =
      Id16::FromHex("0123456789ABCDEFFEDCBA9876543210");
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->ToHex(), "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(upper->bytes()[0], 0x01);
  EXPECT_EQ(upper->bytes()[7], 0xef);
  EXPECT_EQ(upper->bytes()[15], 0x10);
  absl::StatusOr<Id16> lower =
      Id16::FromHex("0123456789abcdeffedcba9876543210");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(*upper, *lower);
}

TEST(Id16Test, FromHashIsDeterministic) {
  EXPECT_EQ(Id16::FromHash("map-operator"), Id16::FromHash("map-operator"));
  EXPECT_NE(Id16::FromHash("map-operator"), Id16::FromHash("map-operator2"));
  EXPECT_FALSE(Id16::FromHash("source").IsZero());
}

TEST(Id16Test, FromHashIsMurmurHash3X64_128WithSeedZero) {
  // Reference values of MurmurHash3_x64_128 (seed 0) as printed by other
  // implementations (h1 then h2, each little-endian); they cover an input
  // shorter than a block, several blocks, and a tail longer than 8 bytes.
  EXPECT_EQ(Id16::FromHash("hello").ToHex(),
            "029bbd41b3a7d8cb191dae486a901e5b");
  EXPECT_EQ(
      Id16::FromHash("The quick brown fox jumps over the lazy dog").ToHex(),
      "6c1b07bc7bbc4be347939ac4a93c437a");
  EXPECT_EQ(Id16::FromHash("0123456789abcdefXYZ").ToHex(),
            "1d904a6c0275d399f39cf8ea56e2694e");
}

TEST(Id16Test, BadHexIsRejected) {
  for (const char* bad : {
           "",                                   // empty
           "0123456789abcdef",                   // too short
           "0123456789abcdef0123456789abcdef0",  // too long
           "0123456789abcdef0123456789abcdeg",   // non-hex character
           " 123456789abcdef0123456789abcdef",   // leading space
           "0x23456789abcdef0123456789abcdef",   // prefix
       }) {
    absl::StatusOr<Id16> parsed = Id16::FromHex(bad);
    ASSERT_FALSE(parsed.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(parsed.status()),
                HasSubstr(std::string("invalid id '") + bad +
                          "': expected 32 hex characters"));
  }
}

}  // namespace
}  // namespace eddy
