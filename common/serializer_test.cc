// Tests for eddy/serializer.h (and serializer_protobuf.h): round trips of every
// supported type, the exact wire format, and — because decoded bytes may come
// from corrupted checkpoints or a buggy peer — that malformed input of any
// shape fails cleanly with a useful message, never crashes and never makes a
// huge allocation.
#include "eddy/serializer.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "eddy/serializer_protobuf.h"
#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"

// Allocation counting: the hot-path and "giant count" tests need to see heap
// allocations, which only a replaced global operator new can observe.
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<size_t> g_allocations{0};
std::atomic<size_t> g_allocated_bytes{0};
}  // namespace

// GCC inlines these into std containers' code and then mistakes the free()
// of an operator-new pointer for a mismatch; the pair is consistent.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

// A record type in a namespace, with EDDY_FIELDS in that namespace.
namespace shop {

enum class Channel : uint8_t { kWeb = 1, kApp = 2, kStore = 200 };

struct Order {
  int64_t id = 0;
  std::string item;
  std::vector<double> prices;
  Channel channel = Channel::kWeb;
  bool operator==(const Order&) const = default;
};
EDDY_FIELDS(Order, id, item, prices, channel);

struct Basket {
  std::string customer;
  std::vector<Order> orders;
  std::optional<Order> favourite;
  bool operator==(const Basket&) const = default;
};
EDDY_FIELDS(Basket, customer, orders, favourite);

}  // namespace shop

// A namespaced type whose EDDY_FIELDS sits at global scope.
namespace geo {
struct Point {
  double x = 0;
  double y = 0;
  bool operator==(const Point&) const = default;
};
}  // namespace geo
EDDY_FIELDS(geo::Point, x, y);

// Sixteen fields of mixed types, the minimum the macro promises.
struct Wide {
  int8_t f1 = 0;
  uint8_t f2 = 0;
  int16_t f3 = 0;
  uint16_t f4 = 0;
  int32_t f5 = 0;
  uint32_t f6 = 0;
  int64_t f7 = 0;
  uint64_t f8 = 0;
  float f9 = 0;
  double f10 = 0;
  bool f11 = false;
  char f12 = 0;
  std::string f13;
  std::vector<int> f14;
  std::optional<std::string> f15;
  std::pair<int, std::string> f16;
  bool operator==(const Wide&) const = default;
};
EDDY_FIELDS(Wide, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14,
            f15, f16);

// Types that must not be serializable.
struct NotListed {
  int a = 0;
};
struct HoldsUnserializable {
  NotListed inner;
};
EDDY_FIELDS(HoldsUnserializable, inner);

// A hand-written specialization that encodes to nothing, declaring so.
struct Marker {
  bool operator==(const Marker&) const = default;
};
template <>
struct eddy::TypeSerializer<Marker> {
  static constexpr size_t kMinEncodedSize = 0;
  static void Serialize(const Marker&, DataOutput&) {}
  static void Deserialize(DataInput&, Marker&) {}
};

namespace eddy {
namespace {

using ::testing::HasSubstr;

// Tests in an anonymous namespace can use EDDY_FIELDS there too.
struct Local {
  int a = 0;
  std::string b;
  bool operator==(const Local&) const = default;
};
EDDY_FIELDS(Local, a, b);

static_assert(kIsSerializable<int>);
static_assert(kIsSerializable<shop::Order>);
static_assert(kIsSerializable<geo::Point>);
static_assert(kIsSerializable<Local>);
static_assert(kIsSerializable<Marker>);
static_assert(
    kIsSerializable<std::map<
        std::string, std::vector<std::pair<int64_t, std::optional<double>>>>>);
static_assert(!kIsSerializable<NotListed>);
static_assert(!kIsSerializable<HoldsUnserializable>);
static_assert(!kIsSerializable<std::vector<NotListed>>);
static_assert(!kIsSerializable<std::map<int, NotListed>>);
static_assert(!kIsSerializable<std::optional<NotListed>>);
static_assert(!kIsSerializable<std::pair<int, NotListed>>);
static_assert(!kIsSerializable<std::tuple<int, NotListed>>);
static_assert(!kIsSerializable<long double>);
static_assert(!kIsSerializable<int*>);
static_assert(kIsSerializable<google::protobuf::Timestamp>);
static_assert(kHasFields<shop::Order> && !kHasFields<NotListed>);

template <class T>
std::string Bytes(const T& value) {
  return SerializeToString(value);
}

// Round trip into a fresh value and into a reused one holding other data.
template <class T>
void ExpectRoundTrip(const T& value, T reused = T{}) {
  const std::string bytes = SerializeToString(value);
  T fresh{};
  ASSERT_TRUE(DeserializeFromString(bytes, fresh).ok());
  EXPECT_EQ(fresh, value);
  ASSERT_TRUE(DeserializeFromString(bytes, reused).ok());
  EXPECT_EQ(reused, value);
}

// The error message of decoding `bytes` as T ("" if it succeeds).
template <class T>
std::string DecodeError(std::string_view bytes) {
  T out{};
  return std::string(DeserializeFromString(bytes, out).message());
}

// Every strict prefix of a valid encoding must be reported as malformed.
template <class T>
void ExpectEveryPrefixFails(const T& value) {
  const std::string bytes = SerializeToString(value);
  for (size_t n = 0; n < bytes.size(); ++n) {
    T out{};
    const absl::Status status =
        DeserializeFromString(std::string_view(bytes.data(), n), out);
    EXPECT_FALSE(status.ok()) << "prefix of " << n << " of " << bytes.size();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  }
}

TEST(SerializerTest, Booleans) {
  ExpectRoundTrip(true);
  ExpectRoundTrip(false, true);
  EXPECT_EQ(Bytes(true), std::string("\x01", 1));
  EXPECT_EQ(Bytes(false), std::string("\x00", 1));
}

TEST(SerializerTest, CharsAndBytesAreOneRawByte) {
  ExpectRoundTrip('x');
  ExpectRoundTrip(static_cast<char>(-1));
  ExpectRoundTrip(static_cast<signed char>(-128));
  ExpectRoundTrip(static_cast<unsigned char>(255));
  ExpectRoundTrip(std::byte{0xab});
  EXPECT_EQ(Bytes(static_cast<int8_t>(-1)), "\xff");
  EXPECT_EQ(Bytes(static_cast<uint8_t>(200)), "\xc8");
}

template <class T>
void RoundTripLimits() {
  ExpectRoundTrip<T>(0);
  ExpectRoundTrip<T>(1);
  ExpectRoundTrip<T>(std::numeric_limits<T>::min());
  ExpectRoundTrip<T>(std::numeric_limits<T>::max());
  ExpectRoundTrip<T>(std::numeric_limits<T>::max() / 3);
  if constexpr (std::is_signed_v<T>) ExpectRoundTrip<T>(-1);
}

TEST(SerializerTest, IntegersAtTheirLimits) {
  RoundTripLimits<int16_t>();
  RoundTripLimits<uint16_t>();
  RoundTripLimits<int32_t>();
  RoundTripLimits<uint32_t>();
  RoundTripLimits<int64_t>();
  RoundTripLimits<uint64_t>();
  RoundTripLimits<long long>();
  RoundTripLimits<unsigned long long>();
  RoundTripLimits<char16_t>();
  RoundTripLimits<char32_t>();
  ExpectRoundTrip<int64_t>(INT64_MIN);
  ExpectRoundTrip<int64_t>(INT64_MAX);
  EXPECT_EQ(Bytes<int64_t>(INT64_MIN).size(), 10u);
  EXPECT_EQ(Bytes<uint64_t>(UINT64_MAX).size(), 10u);
}

TEST(SerializerTest, VarintSizes) {
  EXPECT_EQ(Bytes<uint32_t>(0).size(), 1u);
  EXPECT_EQ(Bytes<uint32_t>(127).size(), 1u);
  EXPECT_EQ(Bytes<uint32_t>(128).size(), 2u);
  EXPECT_EQ(Bytes<uint32_t>(16383).size(), 2u);
  EXPECT_EQ(Bytes<uint32_t>(16384).size(), 3u);
  EXPECT_EQ(Bytes<uint32_t>(UINT32_MAX).size(), 5u);
  // Zigzag keeps small negative numbers small.
  EXPECT_EQ(Bytes<int32_t>(-1).size(), 1u);
  EXPECT_EQ(Bytes<int32_t>(63).size(), 1u);
  EXPECT_EQ(Bytes<int32_t>(-64).size(), 1u);
  EXPECT_EQ(Bytes<int32_t>(64).size(), 2u);
  EXPECT_EQ(Bytes<int32_t>(-65).size(), 2u);
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t v = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    EXPECT_EQ(VarintSize64(v), Bytes(v).size()) << bits;
  }
}

TEST(SerializerTest, WireFormatIsExact) {
  EXPECT_EQ(Bytes<uint32_t>(300), "\xac\x02");  // LEB128, low group first.
  EXPECT_EQ(Bytes<int32_t>(-2), "\x03");        // zigzag(-2) = 3.
  EXPECT_EQ(Bytes(std::string("ab")),
            "\x02"
            "ab");
  EXPECT_EQ(Bytes(1.0f), std::string("\x00\x00\x80\x3f", 4));
  EXPECT_EQ(Bytes(std::vector<uint16_t>{1, 2}), "\x02\x01\x02");
  EXPECT_EQ(Bytes(std::optional<int>()), std::string("\x00", 1));
  EXPECT_EQ(Bytes(std::optional<int>(1)), "\x01\x02");
  EXPECT_EQ(Bytes(std::make_pair(std::string("a"), int64_t{1})),
            "\x01"
            "a\x02");
  EXPECT_EQ(Bytes(geo::Point{1.0, 2.0}), Bytes(1.0) + Bytes(2.0));

  std::string buffer = "prefix";
  DataOutput out(&buffer);
  out.WriteFixed32(0x04030201);
  out.WriteFixed64(0x0807060504030201);
  EXPECT_EQ(buffer, "prefix\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08");
  EXPECT_EQ(out.size(), buffer.size());
}

TEST(SerializerTest, DataOutputAndInputPrimitives) {
  std::string buffer;
  DataOutput out(&buffer);
  out.WriteByte(7);
  out.WriteVarint32(UINT32_MAX);
  out.WriteVarint64(UINT64_MAX);
  out.WriteZigZag64(INT64_MIN);
  out.WriteFixed32(123);
  out.WriteFixed64(456);
  out.WriteFloat(-0.0f);
  out.WriteDouble(std::numeric_limits<double>::infinity());
  out.WriteBytes("xyz", 3);
  out.WriteString("hello");
  out.WriteString("");
  std::memcpy(out.AppendUninitialized(2), "ok", 2);

  DataInput in(buffer);
  EXPECT_EQ(in.size(), buffer.size());
  EXPECT_EQ(in.ReadByte(), 7);
  EXPECT_EQ(in.ReadVarint32(), UINT32_MAX);
  EXPECT_EQ(in.ReadVarint64(), UINT64_MAX);
  EXPECT_EQ(in.ReadZigZag64(), INT64_MIN);
  EXPECT_EQ(in.ReadFixed32(), 123u);
  EXPECT_EQ(in.ReadFixed64(), 456u);
  const float negative_zero = in.ReadFloat();
  EXPECT_TRUE(negative_zero == 0.0f && std::signbit(negative_zero));
  EXPECT_EQ(in.ReadDouble(), std::numeric_limits<double>::infinity());
  char xyz[3];
  in.ReadBytes(xyz, 3);
  EXPECT_EQ(std::string_view(xyz, 3), "xyz");
  std::string s;
  in.ReadString(s);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(in.ReadStringView(), "");
  EXPECT_EQ(in.remaining(), 2u);
  EXPECT_EQ(in.ReadBytesView(2), "ok");
  EXPECT_TRUE(in.AtEnd());
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.error(), "");
}

TEST(SerializerTest, FloatingPointIsBitExact) {
  ExpectRoundTrip(0.0);
  ExpectRoundTrip(-1.5f);
  ExpectRoundTrip(std::numeric_limits<double>::denorm_min());
  ExpectRoundTrip(std::numeric_limits<double>::max());
  ExpectRoundTrip(-std::numeric_limits<double>::infinity());
  for (double v : {-0.0, std::numeric_limits<double>::quiet_NaN(),
                   std::bit_cast<double>(uint64_t{0x7ff0000000000123})}) {
    double out = 1;
    ASSERT_TRUE(DeserializeFromString(Bytes(v), out).ok());
    EXPECT_EQ(std::bit_cast<uint64_t>(out), std::bit_cast<uint64_t>(v));
  }
}

TEST(SerializerTest, Enums) {
  ExpectRoundTrip(shop::Channel::kStore);
  enum Unscoped : int { kMinusOne = -1, kBig = 1 << 20 };
  ExpectRoundTrip(kMinusOne);
  ExpectRoundTrip(kBig);
  EXPECT_EQ(Bytes(shop::Channel::kStore), "\xc8");  // uint8_t: one raw byte.
}

TEST(SerializerTest, Strings) {
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string("hello"), std::string("a much longer old value"));
  ExpectRoundTrip(std::string("nul\0inside", 10));
  ExpectRoundTrip(std::string(100000, 'z'));
  EXPECT_EQ(Bytes(std::string()), std::string("\x00", 1));
}

TEST(SerializerTest, PairsAndTuples) {
  ExpectRoundTrip(std::make_pair(std::string("key"), int64_t{-5}));
  ExpectRoundTrip(std::make_tuple(1, std::string(), 2.5, true, 'c'));
  ExpectRoundTrip(std::tuple<>());
  EXPECT_EQ(Bytes(std::tuple<>()), "");
}

TEST(SerializerTest, Vectors) {
  ExpectRoundTrip(std::vector<int>());
  ExpectRoundTrip(std::vector<int>{1, -1, INT32_MIN, INT32_MAX},
                  std::vector<int>{9, 9, 9, 9, 9, 9});
  ExpectRoundTrip(std::vector<uint8_t>{0, 1, 255});
  ExpectRoundTrip(std::vector<char>{'a', '\0', 'b'});
  ExpectRoundTrip(std::vector<bool>{true, false, true});
  ExpectRoundTrip(std::vector<std::string>{"", "a", "bc"},
                  std::vector<std::string>{"old"});
  ExpectRoundTrip(std::vector<std::vector<int64_t>>{{}, {INT64_MIN}, {1, 2}});
  // Elements that encode to nothing still round-trip.
  ExpectRoundTrip(std::vector<std::tuple<>>(5));
  ExpectRoundTrip(std::vector<Marker>(7));
  EXPECT_EQ(Bytes(std::vector<uint8_t>{1, 2}), "\x02\x01\x02");
}

TEST(SerializerTest, Arrays) {
  ExpectRoundTrip(std::array<int, 3>{1, -2, 3});
  ExpectRoundTrip(std::array<uint8_t, 4>{1, 2, 3, 4});
  ExpectRoundTrip(std::array<std::string, 2>{"x", ""});
  ExpectRoundTrip(std::array<int, 0>{});
  EXPECT_EQ(Bytes(std::array<uint8_t, 2>{7, 8}), "\x07\x08");  // No count.
}

TEST(SerializerTest, Optionals) {
  ExpectRoundTrip(std::optional<int>());
  ExpectRoundTrip(std::optional<int>(0));
  ExpectRoundTrip(std::optional<std::string>("x"),
                  std::optional<std::string>("old"));
  ExpectRoundTrip(std::optional<std::string>(),
                  std::optional<std::string>("y"));
  ExpectRoundTrip(std::optional<std::optional<int>>(std::optional<int>()));
}

TEST(SerializerTest, MapsAndSets) {
  ExpectRoundTrip(std::map<std::string, int>{{"a", 1}, {"b", 2}},
                  std::map<std::string, int>{{"zzz", 3}});
  ExpectRoundTrip(std::map<int, int>());
  ExpectRoundTrip(std::unordered_map<int64_t, std::string>{{1, "x"}, {-7, ""}});
  ExpectRoundTrip(std::set<std::string>{"", "b", "a"});
  ExpectRoundTrip(std::unordered_set<int>{3, 1, 2});
  ExpectRoundTrip(std::map<int, std::tuple<>>{{1, {}}, {2, {}}});
}

TEST(SerializerTest, DeeplyNested) {
  using Nested =
      std::map<std::string,
               std::vector<std::pair<int64_t, std::optional<double>>>>;
  const Nested value = {
      {"", {}},
      {"a", {{INT64_MIN, std::nullopt}, {INT64_MAX, 2.5}, {0, -0.0}}},
      {"b", {{1, std::numeric_limits<double>::infinity()}}},
  };
  ExpectRoundTrip(value, Nested{{"old", {{1, 1.0}}}});
  ExpectEveryPrefixFails(value);
}

TEST(SerializerTest, EddyFieldsStructs) {
  const shop::Order order{42, "book", {9.99, 0.5}, shop::Channel::kApp};
  ExpectRoundTrip(order);
  ExpectRoundTrip(geo::Point{1.5, -2.5});
  ExpectRoundTrip(Local{7, "seven"});
  const shop::Basket basket{"ann", {order, shop::Order{}}, order};
  ExpectRoundTrip(basket, shop::Basket{"bob", {order, order, order}, {}});
  ExpectEveryPrefixFails(basket);

  Wide wide;
  wide.f1 = -128;
  wide.f2 = 255;
  wide.f3 = INT16_MIN;
  wide.f4 = UINT16_MAX;
  wide.f5 = INT32_MIN;
  wide.f6 = UINT32_MAX;
  wide.f7 = INT64_MIN;
  wide.f8 = UINT64_MAX;
  wide.f9 = 1.25f;
  wide.f10 = -1e300;
  wide.f11 = true;
  wide.f12 = 'q';
  wide.f13 = "thirteen";
  wide.f14 = {1, 4};
  wide.f15 = "fifteen";
  wide.f16 = {16, "sixteen"};
  ExpectRoundTrip(wide);
  ExpectEveryPrefixFails(wide);
}

TEST(SerializerTest, StructFieldsReflection) {
  using Fields = StructFields<shop::Order>;
  static_assert(Fields::size == 4);
  static_assert(Fields::names[0] == "id" && Fields::names[3] == "channel");
  static_assert(Fields::type_name == "Order");
  static_assert(StructFields<geo::Point>::type_name == "geo::Point");
  static_assert(StructFields<Wide>::names[15] == "f16");

  shop::Order order{1, "pen", {}, shop::Channel::kWeb};
  auto [id, item, prices, channel] = Fields::Tie(order);
  id = 2;
  item = "ink";
  EXPECT_EQ(order.id, 2);
  EXPECT_EQ(order.item, "ink");
  const shop::Order& const_order = order;
  static_assert(std::is_same_v<
                decltype(Fields::Tie(const_order)),
                std::tuple<const int64_t&, const std::string&,
                           const std::vector<double>&, const shop::Channel&>>);
  std::string visited;
  Fields::ForEach(const_order, [&](std::string_view name, const auto&) {
    visited += name;
    visited += ';';
  });
  EXPECT_EQ(visited, "id;item;prices;channel;");
}

TEST(SerializerTest, ProtobufMessages) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(1700000000);
  ts.set_nanos(123);
  google::protobuf::Timestamp out;
  out.set_seconds(5);
  ASSERT_TRUE(DeserializeFromString(SerializeToString(ts), out).ok());
  EXPECT_EQ(out.seconds(), 1700000000);
  EXPECT_EQ(out.nanos(), 123);

  // Empty messages, and messages nested in containers.
  std::vector<google::protobuf::StringValue> values(3);
  values[1].set_value("middle");
  std::vector<google::protobuf::StringValue> decoded;
  ASSERT_TRUE(DeserializeFromString(SerializeToString(values), decoded).ok());
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(decoded[0].value(), "");
  EXPECT_EQ(decoded[1].value(), "middle");

  // Bytes that are not a valid message: field 1 as a truncated varint.
  const std::string bad = std::string("\x02\x08\x80", 3);
  const absl::Status status = DeserializeFromString(bad, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("invalid protobuf message google.protobuf.Timestamp "
                        "at byte 0 of 3"));
  ExpectEveryPrefixFails(ts);
}

TEST(SerializerMalformedTest, TruncatedVarintMessage) {
  // Seven valid one-byte values, then a varint cut off after two bytes.
  const std::string bytes = std::string(7, '\x01') + "\x80\x80";
  std::tuple<int, int, int, int, int, int, int, uint64_t> out;
  const absl::Status status = DeserializeFromString(bytes, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("malformed record of type std::tuple<"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(": truncated varint at byte 7 of 9"));
}

TEST(SerializerMalformedTest, FailureIsStickyAndReadsReturnZero) {
  const std::string bytes = "\x05\xff";
  DataInput in(bytes);
  EXPECT_EQ(in.ReadByte(), 5);
  EXPECT_EQ(in.ReadFixed32(), 0u);
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.error(),
            "truncated fixed32: need 4 bytes, 1 remain at byte 1 of 2");
  EXPECT_EQ(in.ReadByte(), 0);
  EXPECT_EQ(in.ReadVarint64(), 0u);
  EXPECT_EQ(in.ReadDouble(), 0.0);
  EXPECT_EQ(in.ReadStringView(), "");
  char buffer[2] = {'x', 'y'};
  in.ReadBytes(buffer, 2);
  EXPECT_EQ(buffer[0], 0);
  EXPECT_EQ(buffer[1], 0);
  in.Fail("a later failure");
  EXPECT_EQ(in.error(),
            "truncated fixed32: need 4 bytes, 1 remain at byte 1 of 2");
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(SerializerMalformedTest, OverlongVarints) {
  // Eleven bytes with continuation bits.
  const std::string eleven_bytes = std::string(10, '\xff') + "\x01";
  DataInput eleven(eleven_bytes);
  EXPECT_EQ(eleven.ReadVarint64(), 0u);
  EXPECT_EQ(eleven.error(),
            "malformed varint: more than 64 bits at byte 0 of 11");
  // Ten bytes whose last carries more than bit 63.
  const std::string too_wide_bytes = std::string(9, '\xff') + "\x02";
  DataInput too_wide(too_wide_bytes);
  EXPECT_EQ(too_wide.ReadVarint64(), 0u);
  EXPECT_FALSE(too_wide.ok());
  // The largest value is fine.
  const std::string max_bytes = std::string(9, '\xff') + "\x01";
  DataInput max(max_bytes);
  EXPECT_EQ(max.ReadVarint64(), UINT64_MAX);
  EXPECT_TRUE(max.ok());
  // Varint32 rejects values above 32 bits.
  const std::string wide_bytes = Bytes(uint64_t{1} << 32);
  DataInput wide(wide_bytes);
  EXPECT_EQ(wide.ReadVarint32(), 0u);
  EXPECT_EQ(wide.error(), "varint32 out of range at byte 0 of 5");
}

TEST(SerializerMalformedTest, InvalidValues) {
  using IntMap = std::map<int, int>;
  EXPECT_THAT(DecodeError<bool>("\x02"),
              HasSubstr("invalid bool byte 2 at byte 0 of 1"));
  EXPECT_THAT(DecodeError<std::optional<int>>(std::string("\x07\x00", 2)),
              HasSubstr("invalid optional flag 7 at byte 0 of 2"));
  EXPECT_THAT(DecodeError<int32_t>(Bytes(int64_t{1} << 40)),
              HasSubstr("value 1099511627776 out of range for int at byte 0"));
  EXPECT_THAT(DecodeError<uint16_t>(Bytes(uint32_t{70000})),
              HasSubstr("value 70000 out of range for short unsigned int"));
  EXPECT_THAT(DecodeError<IntMap>(std::string("\x02\x02\x00\x02\x01", 5)),
              HasSubstr("duplicate key at byte 3 of 5"));
  EXPECT_THAT(DecodeError<std::set<int>>("\x02\x02\x02"),
              HasSubstr("duplicate key at byte 2 of 3"));
  EXPECT_THAT(DecodeError<int>("\x02\x03\x04"),
              HasSubstr(": 2 trailing byte(s) after byte 1 of 3"));
}

TEST(SerializerMalformedTest, EveryPrefixFails) {
  ExpectEveryPrefixFails(std::string("hello"));
  ExpectEveryPrefixFails(int64_t{INT64_MIN});
  ExpectEveryPrefixFails(1.5);
  ExpectEveryPrefixFails(std::make_pair(std::string("k"), int64_t{300}));
  ExpectEveryPrefixFails(std::vector<std::string>{"a", "", "bc"});
  ExpectEveryPrefixFails(std::vector<uint8_t>{1, 2, 3});
  ExpectEveryPrefixFails(std::array<int, 3>{1, 2, 3});
  ExpectEveryPrefixFails(std::optional<std::string>("x"));
  ExpectEveryPrefixFails(
      std::unordered_map<int, std::string>{{1, "a"}, {2, ""}});
  ExpectEveryPrefixFails(std::set<int>{1, 2, 3});
  ExpectEveryPrefixFails(std::vector<std::tuple<>>(3));
}

// Runs `decode` with allocation counting on and returns the bytes allocated.
template <class F>
size_t BytesAllocatedBy(F decode) {
  g_allocated_bytes = 0;
  g_allocations = 0;
  g_count_allocations = true;
  decode();
  g_count_allocations = false;
  return g_allocated_bytes;
}

TEST(SerializerMalformedTest, GiantCountsFailWithoutAllocating) {
  std::string giant;
  DataOutput out(&giant);
  out.WriteVarint64(uint64_t{1} << 60);
  out.WriteBytes("abc", 3);

  absl::Status status;
  std::vector<int64_t> vector_out;
  std::vector<std::string> strings_out;
  std::string string_out;
  std::map<int, int> map_out;
  std::unordered_map<int, int> unordered_out;
  std::vector<std::tuple<>> empty_elements_out;
  std::vector<uint8_t> bytes_out;
  google::protobuf::Timestamp proto_out;
  // Each attempt may allocate its error message, nothing of the count's size.
  const size_t allocated = BytesAllocatedBy([&] {
    status.Update(DeserializeFromString(giant, vector_out));
    status.Update(DeserializeFromString(giant, strings_out));
    status.Update(DeserializeFromString(giant, string_out));
    status.Update(DeserializeFromString(giant, map_out));
    status.Update(DeserializeFromString(giant, unordered_out));
    status.Update(DeserializeFromString(giant, empty_elements_out));
    status.Update(DeserializeFromString(giant, bytes_out));
    status.Update(DeserializeFromString(giant, proto_out));
  });
  EXPECT_LT(allocated, 64 * 1024u);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("count 1152921504606846976 needs at least 1 byte(s) "
                        "each but only 3 remain at byte 0 of 12"));
  EXPECT_TRUE(vector_out.empty());
  EXPECT_TRUE(string_out.empty());
  EXPECT_TRUE(unordered_out.empty());

  // Counts are checked against the element's minimum size, not just 1.
  std::string doubles;
  DataOutput doubles_out(&doubles);
  doubles_out.WriteVarint64(2);
  doubles_out.WriteDouble(1.0);
  doubles_out.WriteByte(0);
  EXPECT_THAT(DecodeError<std::vector<double>>(doubles),
              HasSubstr("count 2 needs at least 8 byte(s) each but only 9 "
                        "remain"));
  // Elements with an empty encoding are capped rather than trusted.
  EXPECT_THAT(DecodeError<std::vector<std::tuple<>>>(giant.substr(0, 9)),
              HasSubstr("elements with an empty encoding"));
}

TEST(SerializerTest, WarmHotPathDoesNotAllocate) {
  using Record = std::pair<std::string, int64_t>;
  const Record record{"a key longer than the small string buffer", 12345};
  const shop::Order order{42,
                          "a long item name beyond SSO capacity",
                          {1, 2, 3},
                          shop::Channel::kApp};
  std::string buffer;
  Record decoded_record;
  shop::Order decoded_order;
  auto once = [&] {
    buffer.clear();
    DataOutput out(&buffer);
    TypeSerializer<Record>::Serialize(record, out);
    TypeSerializer<shop::Order>::Serialize(order, out);
    DataInput in(buffer);
    TypeSerializer<Record>::Deserialize(in, decoded_record);
    TypeSerializer<shop::Order>::Deserialize(in, decoded_order);
    ASSERT_TRUE(in.ok() && in.AtEnd());
  };
  once();  // Warms the buffer and the targets.
  g_allocations = 0;
  g_count_allocations = true;
  for (int i = 0; i < 100; ++i) once();
  g_count_allocations = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_EQ(decoded_record, record);
  EXPECT_EQ(decoded_order, order);
}

// Decodes `bytes` as T, which must fail or succeed without crashing; a
// success must re-encode to the same bytes unless T's encoding is not unique.
template <class T>
void DecodeArbitrary(std::string_view bytes, bool canonical) {
  T out{};
  const absl::Status status = DeserializeFromString(bytes, out);
  if (status.ok() && canonical) {
    EXPECT_EQ(SerializeToString(out), bytes);
  } else if (!status.ok()) {
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("malformed record of type"));
  }
}

void DecodeAsEverything(std::string_view bytes) {
  // Overlong varints and unordered containers re-encode differently, so the
  // canonical check is limited to types without either.
  DecodeArbitrary<std::map<
      std::string, std::vector<std::pair<int64_t, std::optional<double>>>>>(
      bytes, false);
  DecodeArbitrary<shop::Basket>(bytes, false);
  DecodeArbitrary<Wide>(bytes, false);
  DecodeArbitrary<std::vector<std::string>>(bytes, false);
  DecodeArbitrary<std::unordered_map<int, std::string>>(bytes, false);
  DecodeArbitrary<std::tuple<bool, char, std::array<uint8_t, 3>>>(bytes, true);
  DecodeArbitrary<std::vector<std::tuple<>>>(bytes, false);
  DecodeArbitrary<std::set<uint32_t>>(bytes, false);
  DecodeArbitrary<google::protobuf::Timestamp>(bytes, false);
}

TEST(SerializerFuzzTest, RandomBuffersNeverCrash) {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 10000; ++i) {
    const size_t size = rng() % 64;
    std::string bytes(size, '\0');
    // Bias towards small bytes so counts and lengths are often plausible.
    for (char& c : bytes) {
      c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 8);
    }
    DecodeAsEverything(bytes);
  }
}

TEST(SerializerFuzzTest, MutatedValidRecordsNeverCrash) {
  const shop::Order order{42, "book", {9.99, 0.5}, shop::Channel::kApp};
  const std::string valid =
      SerializeToString(shop::Basket{"ann", {order, order}, order});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    bytes.resize(rng() % (bytes.size() + 1));
    DecodeAsEverything(bytes);
  }
}

}  // namespace
}  // namespace eddy
