// Tests for eddy/format.h: each printing rule against the literal text Flink's
// print() shows for the equivalent Java value.
#include "eddy/format.h"

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sensors {

struct Reading {
  std::string id;
  int64_t timestamp = 0;
  double temperature = 0;
};
EDDY_FIELDS(Reading, id, timestamp, temperature);

struct Batch {
  std::vector<Reading> readings;
  std::optional<std::string> note;
};
EDDY_FIELDS(Batch, readings, note);

// A hand-written operator<< wins over EDDY_FIELDS.
struct Alarm {
  int level = 0;
};
EDDY_FIELDS(Alarm, level);
inline std::ostream& operator<<(std::ostream& os, const Alarm& alarm) {
  return os << "ALARM(" << alarm.level << ")";
}

enum class Color { kRed = 1, kGreen = 2 };
enum class Named { kOn, kOff };
inline std::ostream& operator<<(std::ostream& os, Named named) {
  return os << (named == Named::kOn ? "ON" : "OFF");
}

}  // namespace sensors

namespace geo {
struct Point {
  int x = 0;
  int y = 0;
};
}  // namespace geo
EDDY_FIELDS(geo::Point, x, y);

struct Unprintable {};

namespace eddy {
namespace {

static_assert(kIsFormattable<sensors::Batch>);
static_assert(!kIsFormattable<Unprintable>);
static_assert(!kIsFormattable<std::vector<Unprintable>>);
static_assert(!kIsFormattable<std::pair<int, Unprintable>>);

TEST(FormatTest, Strings) {
  EXPECT_EQ(ToString(std::string("hello world")), "hello world");
  EXPECT_EQ(ToString(std::string_view("view")), "view");
  EXPECT_EQ(ToString("literal"), "literal");
  const char* c_string = "c-string";
  EXPECT_EQ(ToString(c_string), "c-string");
  const char* null_string = nullptr;
  EXPECT_EQ(ToString(null_string), "null");
  EXPECT_EQ(ToString(std::string()), "");
}

TEST(FormatTest, IntegersBoolsAndChars) {
  EXPECT_EQ(ToString(0), "0");
  EXPECT_EQ(ToString(-42), "-42");
  EXPECT_EQ(ToString(std::numeric_limits<int64_t>::min()),
            "-9223372036854775808");
  EXPECT_EQ(ToString(std::numeric_limits<uint64_t>::max()),
            "18446744073709551615");
  EXPECT_EQ(ToString(static_cast<int8_t>(-5)),
            "-5");  // A number, as Java byte.
  EXPECT_EQ(ToString(static_cast<uint8_t>(200)), "200");
  EXPECT_EQ(ToString(true), "true");
  EXPECT_EQ(ToString(false), "false");
  EXPECT_EQ(ToString('x'), "x");
}

TEST(FormatTest, FloatingPointAsJavaPrintsIt) {
  EXPECT_EQ(ToString(1.0), "1.0");
  EXPECT_EQ(ToString(35.8), "35.8");
  EXPECT_EQ(ToString(-2.5), "-2.5");
  EXPECT_EQ(ToString(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(ToString(100.0), "100.0");
  EXPECT_EQ(ToString(1234567.0), "1234567.0");
  EXPECT_EQ(ToString(1e7), "1.0E7");
  EXPECT_EQ(ToString(1.5e10), "1.5E10");
  EXPECT_EQ(ToString(0.001), "0.001");
  EXPECT_EQ(ToString(0.00123), "0.00123");
  EXPECT_EQ(ToString(1e-4), "1.0E-4");
  EXPECT_EQ(ToString(-1.25e-7), "-1.25E-7");
  EXPECT_EQ(ToString(1e300), "1.0E300");
  EXPECT_EQ(ToString(0.0), "0.0");
  EXPECT_EQ(ToString(-0.0), "-0.0");
  EXPECT_EQ(ToString(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(ToString(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(ToString(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(ToString(std::numeric_limits<double>::max()),
            "1.7976931348623157E308");
  EXPECT_EQ(ToString(std::numeric_limits<double>::denorm_min()), "4.9E-324");
  // Floats use float's shortest digits, not double's.
  EXPECT_EQ(ToString(0.1f), "0.1");
  EXPECT_EQ(ToString(3.0f), "3.0");
  EXPECT_EQ(ToString(1.0e10f), "1.0E10");
  EXPECT_EQ(ToString(std::numeric_limits<float>::denorm_min()), "1.4E-45");
  EXPECT_EQ(ToString(std::numeric_limits<float>::max()), "3.4028235E38");
}

TEST(FormatTest, TuplesHaveNoSpaces) {
  EXPECT_EQ(ToString(std::make_pair(std::string("hello"), 3)), "(hello,3)");
  EXPECT_EQ(ToString(std::make_tuple(1, 2.5, true, 'c', std::string("s"))),
            "(1,2.5,true,c,s)");
  EXPECT_EQ(ToString(std::tuple<>()), "()");
  EXPECT_EQ(ToString(std::make_pair(std::make_pair(1, 2), 3)), "((1,2),3)");
}

TEST(FormatTest, ListsAndSets) {
  EXPECT_EQ(ToString(std::vector<int>{1, 2, 3}), "[1, 2, 3]");
  EXPECT_EQ(ToString(std::vector<int>()), "[]");
  EXPECT_EQ(ToString(std::vector<std::string>{"a", "b"}), "[a, b]");
  EXPECT_EQ(ToString(std::array<double, 2>{1.0, 0.5}), "[1.0, 0.5]");
  EXPECT_EQ(ToString(std::set<int>{3, 1, 2}), "[1, 2, 3]");
  EXPECT_EQ(ToString(std::deque<char>{'x', 'y'}), "[x, y]");
  EXPECT_EQ(ToString(std::vector<bool>{true, false}), "[true, false]");
  EXPECT_EQ(ToString(std::vector<uint8_t>{7, 255}), "[7, 255]");
  EXPECT_EQ(
      ToString(std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 2}}),
      "[(a,1), (b,2)]");
}

TEST(FormatTest, Maps) {
  EXPECT_EQ(ToString(std::map<std::string, int>{{"b", 2}, {"a", 1}}),
            "{a=1, b=2}");
  EXPECT_EQ(ToString(std::map<int, int>()), "{}");
  EXPECT_EQ(ToString(std::unordered_map<int, std::string>{{1, "one"}}),
            "{1=one}");
  EXPECT_EQ(ToString(std::map<int, std::vector<int>>{{1, {2, 3}}}),
            "{1=[2, 3]}");
}

TEST(FormatTest, Optionals) {
  EXPECT_EQ(ToString(std::optional<int>(5)), "Optional[5]");
  EXPECT_EQ(ToString(std::optional<int>()), "Optional.empty");
  EXPECT_EQ(ToString(std::optional<std::string>("x")), "Optional[x]");
}

TEST(FormatTest, EddyFieldsStructs) {
  EXPECT_EQ(ToString(sensors::Reading{"sensor_1", 1547718199, 35.8}),
            "Reading{id=sensor_1, timestamp=1547718199, temperature=35.8}");
  EXPECT_EQ(ToString(sensors::Batch{{sensors::Reading{"s", 1, 2.0}}, "n"}),
            "Batch{readings=[Reading{id=s, timestamp=1, temperature=2.0}], "
            "note=Optional[n]}");
  // The name is printed as the macro was given it.
  EXPECT_EQ(ToString(geo::Point{1, -2}), "geo::Point{x=1, y=-2}");
  EXPECT_EQ(ToString(std::make_pair(std::string("k"), geo::Point{0, 0})),
            "(k,geo::Point{x=0, y=0})");
}

TEST(FormatTest, OperatorLeftShiftFallbackAndEnums) {
  EXPECT_EQ(ToString(sensors::Alarm{3}), "ALARM(3)");
  EXPECT_EQ(ToString(sensors::Named::kOff), "OFF");
  EXPECT_EQ(ToString(sensors::Color::kGreen), "2");
  EXPECT_EQ(ToString(std::vector<sensors::Named>{sensors::Named::kOn}), "[ON]");
}

TEST(FormatTest, AppendToStringAppends) {
  std::string out = "1> ";
  AppendToString(out, std::make_pair(std::string("word"), int64_t{7}));
  EXPECT_EQ(out, "1> (word,7)");
}

}  // namespace
}  // namespace eddy
