// Text rendering of records as Flink's print() sink and row-format file sinks
// show them, so that output of a job ported from Flink reads (and diffs) the
// same: strings raw, tuples "(a,b)", lists "[a, b]", maps "{k=v}", optionals
// "Optional[x]", doubles as Java's Double.toString prints them.
//
// Rules, in the order they are tried:
//   std::string / std::string_view / const char*  raw characters (null: "null")
//   bool                                          true / false
//   char                                          the character itself
//   other integers (incl. int8_t, uint8_t)        decimal
//   float / double                                Java style: the shortest
//   digits
//                                                 that round-trip
//                                                 (std::to_chars), "1.0",
//                                                 "0.001", "1.0E7", "1.0E-4",
//                                                 "NaN", "Infinity"
//   std::optional                                 Optional[x] / Optional.empty
//   std::pair / std::tuple                        (a,b) — no space, as Tuple2
//   maps (std::map, std::unordered_map, ...)      {k=v, k2=v2}
//   other ranges (vector, array, set, deque, ...) [a, b]
//   types with operator<<(std::ostream&, const T&) whatever it prints (so a
//                                                 hand-written operator<< wins
//                                                 over the two rules below)
//   structs listed with EDDY_FIELDS               Type{field1=..., field2=...}
//                                                 (Type as written in the
//                                                 macro)
//   enums                                         the underlying integer
//
// Anything else fails to compile with a message naming the rules. The common
// cases append straight into the output string; only the operator<< fallback
// goes through a std::ostringstream.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ostream>
#include <ranges>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eddy/serializer.h"

namespace eddy {

namespace internal {

template <class T, template <class...> class Template>
inline constexpr bool kIsSpecialization = false;
template <template <class...> class Template, class... Args>
inline constexpr bool kIsSpecialization<Template<Args...>, Template> = true;

template <class T>
inline constexpr bool kIsStringLike =
    std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view> ||
    std::is_same_v<T, const char*> || std::is_same_v<T, char*>;

template <class T>
concept Streamable = requires(std::ostream& os, const T& value) {
  { os << value } -> std::convertible_to<std::ostream&>;
};

template <class T>
concept MapLike = std::ranges::input_range<const T> && requires {
  typename T::key_type;
  typename T::mapped_type;
};

template <class T>
concept TupleLike =
    kIsSpecialization<T, std::pair> || kIsSpecialization<T, std::tuple>;

// Java's Double.toString / Float.toString layout over the shortest
// round-trip digits: plain notation with at least one fractional digit for
// 1e-3 <= |v| < 1e7, otherwise "d.dddE[-]n".
template <class F>
void AppendJavaFloatingPoint(std::string& out, F value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (value == 0) {
    out += std::signbit(value) ? "-0.0" : "0.0";
    return;
  }
  // Scientific form gives the shortest digits and the decimal exponent:
  // "-1.2345e+07" (the digits are never more than 17, the exponent 3 long).
  char buffer[48];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                    std::chars_format::scientific);
  const std::string_view sci(buffer, static_cast<size_t>(result.ptr - buffer));
  const size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1),
                  sci.data() + sci.size(), exponent);
  if (mantissa.front() == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  // Digits without the decimal point: "12345" for 1.2345.
  char digits[32];
  size_t num_digits = 0;
  for (char c : mantissa) {
    if (c != '.') digits[num_digits++] = c;
  }
  if (num_digits == 1) {
    // Java prints the closest two-digit decimal when one digit would round
    // trip but is not the closest (Double.MIN_VALUE is "4.9E-324", not
    // "5.0E-324"); for all but the smallest subnormals the two agree.
    char two[48];
    const auto two_end = std::to_chars(two, two + sizeof(two), value,
                                       std::chars_format::scientific, 1);
    const std::string_view two_sci(two, static_cast<size_t>(two_end.ptr - two));
    F parsed{};
    std::from_chars(two_sci.data(), two_sci.data() + two_sci.size(), parsed);
    const size_t digit = two_sci.find('.') + 1;  // "-4.9e-324": the '9'.
    if (parsed == value && two_sci[digit] != '0' &&
        two_sci.substr(digit + 2) == sci.substr(e_pos + 1)) {
      digits[0] = two_sci[digit - 2];
      digits[num_digits++] = two_sci[digit];
    }
  }
  const std::string_view d(digits, num_digits);
  if (exponent >= -3 && exponent < 7) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += d;
    } else {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (d.size() <= int_digits) {
        out += d;
        out.append(int_digits - d.size(), '0');
        out += ".0";
      } else {
        out += d.substr(0, int_digits);
        out += '.';
        out += d.substr(int_digits);
      }
    }
  } else {
    out += d[0];
    out += '.';
    if (d.size() > 1) {
      out += d.substr(1);
    } else {
      out += '0';
    }
    out += 'E';
    char exp_buffer[8];
    const auto exp_end =
        std::to_chars(exp_buffer, exp_buffer + sizeof(exp_buffer), exponent);
    out.append(exp_buffer, exp_end.ptr);
  }
}

template <class T>
constexpr bool IsFormattable();

template <class Tuple>
struct TupleFormattable;
template <class... T>
struct TupleFormattable<std::tuple<T...>> {
  static constexpr bool value = (IsFormattable<T>() && ...);
};
template <class A, class B>
struct TupleFormattable<std::pair<A, B>> {
  static constexpr bool value = IsFormattable<A>() && IsFormattable<B>();
};

// Mirrors the dispatch in AppendToString, recursing into element types, so
// that an unprintable element is reported at the outermost call.
template <class T>
constexpr bool IsFormattable() {
  if constexpr (kIsStringLike<T> || std::is_arithmetic_v<T>) {
    return true;
  } else if constexpr (kIsSpecialization<T, std::optional>) {
    return IsFormattable<typename T::value_type>();
  } else if constexpr (TupleLike<T>) {
    return TupleFormattable<T>::value;
  } else if constexpr (MapLike<T>) {
    return IsFormattable<typename T::key_type>() &&
           IsFormattable<typename T::mapped_type>();
  } else if constexpr (std::is_array_v<T> &&
                       std::is_same_v<std::remove_extent_t<T>, char>) {
    return true;
  } else if constexpr (std::ranges::input_range<const T>) {
    return IsFormattable<
        std::remove_cvref_t<std::ranges::range_reference_t<const T>>>();
  } else if constexpr (Streamable<T>) {
    return true;
  } else if constexpr (kHasFields<T>) {
    return std::apply(
        [](auto... member) {
          return (IsFormattable<
                      typename MemberPointerTraits<decltype(member)>::type>() &&
                  ...);
        },
        StructFields<T>::members);
  } else {
    return std::is_enum_v<T>;
  }
}

}  // namespace internal

// True if AppendToString accepts T (recursively, for containers and structs).
template <class T>
inline constexpr bool kIsFormattable =
    internal::IsFormattable<std::remove_cvref_t<T>>();

// Appends the printed form of `value` to `out` (see the rules above).
template <class T>
void AppendToString(std::string& out, const T& value) {
  static_assert(kIsFormattable<T>,
                "type T is not printable: list its fields with "
                "EDDY_FIELDS(Type, field...) or define "
                "std::ostream& operator<<(std::ostream&, const Type&)");
  if constexpr (std::is_same_v<T, std::string> ||
                std::is_same_v<T, std::string_view>) {
    out += value;
  } else if constexpr (std::is_same_v<T, const char*> ||
                       std::is_same_v<T, char*>) {
    out += value == nullptr ? "null" : value;
  } else if constexpr (std::is_array_v<T> &&
                       std::is_same_v<std::remove_extent_t<T>, char>) {
    // A string literal: stop at the terminator, not the array bound.
    out += std::string_view(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char>) {
    out += value;
  } else if constexpr (std::is_integral_v<T>) {
    char buffer[24];
    const auto result = std::to_chars(
        buffer, buffer + sizeof(buffer),
        static_cast<std::conditional_t<std::is_signed_v<T>, long long,
                                       unsigned long long>>(value));
    out.append(buffer, result.ptr);
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    internal::AppendJavaFloatingPoint(out, value);
  } else if constexpr (std::is_floating_point_v<T>) {  // long double
    internal::AppendJavaFloatingPoint(out, static_cast<double>(value));
  } else if constexpr (internal::kIsSpecialization<T, std::optional>) {
    if (value.has_value()) {
      out += "Optional[";
      AppendToString(out, *value);
      out += ']';
    } else {
      out += "Optional.empty";
    }
  } else if constexpr (internal::TupleLike<T>) {
    out += '(';
    std::apply(
        [&out](const auto&... element) {
          bool first = true;
          [[maybe_unused]] auto append = [&out, &first](const auto& e) {
            if (!first) out += ',';
            first = false;
            AppendToString(out, e);
          };
          (append(element), ...);
        },
        value);
    out += ')';
  } else if constexpr (internal::MapLike<T>) {
    out += '{';
    bool first = true;
    for (const auto& [key, mapped] : value) {
      if (!first) out += ", ";
      first = false;
      AppendToString(out, key);
      out += '=';
      AppendToString(out, mapped);
    }
    out += '}';
  } else if constexpr (std::ranges::input_range<const T>) {
    out += '[';
    bool first = true;
    for (const auto& element : value) {
      if (!first) out += ", ";
      first = false;
      // Through the value type: vector<bool> yields proxies.
      AppendToString(out,
                     static_cast<const std::remove_cvref_t<
                         std::ranges::range_reference_t<const T>>&>(element));
    }
    out += ']';
  } else if constexpr (internal::Streamable<T>) {
    std::ostringstream stream;
    stream << value;
    out += std::move(stream).str();
  } else if constexpr (kHasFields<T>) {
    using Fields = StructFields<T>;
    out += Fields::type_name;
    out += '{';
    bool first = true;
    Fields::ForEach(value,
                    [&out, &first](std::string_view name, const auto& field) {
                      if (!first) out += ", ";
                      first = false;
                      out += name;
                      out += '=';
                      AppendToString(out, field);
                    });
    out += '}';
  } else if constexpr (std::is_enum_v<T>) {  // Without operator<<.
    AppendToString(out, static_cast<std::underlying_type_t<T>>(value));
  }
}

// The printed form of `value` as a new string.
template <class T>
std::string ToString(const T& value) {
  std::string out;
  AppendToString(out, value);
  return out;
}

}  // namespace eddy
