// StableKeyHash(key): the 32-bit key hash that keyBy routing and keyed state
// use to pick a key group (keyGroup = murmur(StableKeyHash(key)) %
// maxParallelism, see key_group.h).
//
// Every TaskManager process, every build and every restore from a savepoint
// must map a key to the same key group, or records reach the wrong subtask and
// restored state is silently lost. So this hash never uses std::hash (which
// differs between standard libraries and is free to change) and is defined
// purely by the key's value:
//
//   integers up to 32 bits   the value (sign-extended), as Java's hashCode
//   64-bit integers          (uint32) (v ^ (v >> 32)), as Java's Long.hashCode
//                            (so, as in Java, a negative x and ~x collide, and
//                            a negative value hashes differently as int32_t
//                            and int64_t: keep a job's key type fixed)
//   bool                     1231 / 1237, as Java's Boolean.hashCode
//   char                     the byte as unsigned (char's signedness varies)
//   float / double           the bit pattern (doubles folded as 64-bit ints),
//                            with -0.0 hashed as 0.0 and every NaN alike, so
//                            keys that compare equal hash equal
//   enums                    the underlying integer
//   strings                  MurmurHash3_x86_32 of the bytes, seed 0
//                            (std::string, std::string_view, const char*)
//   std::optional            the value's hash, 0 when empty
//   std::pair / std::tuple   h = hash(e0); h = 31 * h + hash(ei), as Flink's
//                            Tuple.hashCode
//   EDDY_FIELDS structs,     h = 1; h = 31 * h + hash(e) per field / element,
//   ordered ranges           as Java's List.hashCode and Objects.hash
//   (vector, array, set, map as (key,value) pairs, ...)
//
// Unordered containers are rejected: their iteration order depends on
// std::hash. Other key types can specialize eddy::StableHasher<K> (below).
// Integers are deliberately not scrambled here: key_group.h applies the
// MurmurHash3 finaliser to whatever this returns.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eddy/key_group.h"
#include "eddy/serializer.h"

namespace eddy {

namespace internal {

// MurmurHash3_x86_32 of `size` bytes (the one implementation in key_group.h).
inline uint32_t StableHashBytes(const void* data, size_t size, uint32_t seed = 0) {
  return MurmurHash3_32(data, size, seed);
}

// Base of the primary StableHasher: marks "no user-provided hasher".
struct NoStableHasher {};

}  // namespace internal

// Customization point for key types the rules above do not cover:
//   template <> struct eddy::StableHasher<MyKey> {
//     static uint32_t Hash(const MyKey& key);  // Same value in every process.
//   };
// A specialization takes precedence over the built-in rules.
template <class K, class = void>
struct StableHasher : internal::NoStableHasher {};

namespace internal {

template <class T, template <class...> class Template>
inline constexpr bool kIsHashSpecialization = false;
template <template <class...> class Template, class... Args>
inline constexpr bool kIsHashSpecialization<Template<Args...>, Template> = true;

template <class K>
inline constexpr bool kHasUserStableHasher =
    !std::is_base_of_v<NoStableHasher, StableHasher<K>>;

template <class K>
inline constexpr bool kIsStableHashString =
    std::is_same_v<K, std::string> || std::is_same_v<K, std::string_view> ||
    std::is_same_v<K, const char*> || std::is_same_v<K, char*>;

template <class K>
concept StableHashTupleLike =
    kIsHashSpecialization<K, std::pair> || kIsHashSpecialization<K, std::tuple>;

template <class K>
concept UnorderedContainer = requires {
  typename K::hasher;
};

template <class K>
using RangeValue = std::remove_cvref_t<std::ranges::range_reference_t<const K>>;

template <class K>
constexpr bool IsStableHashable();

template <class Tuple>
struct TupleStableHashable;
template <class... T>
struct TupleStableHashable<std::tuple<T...>> {
  static constexpr bool value = (IsStableHashable<T>() && ...);
};
template <class A, class B>
struct TupleStableHashable<std::pair<A, B>> {
  static constexpr bool value = IsStableHashable<A>() && IsStableHashable<B>();
};

// Mirrors the dispatch in HashValue, recursing into element types.
template <class K>
constexpr bool IsStableHashable() {
  if constexpr (kHasUserStableHasher<K>) {
    return true;
  } else if constexpr (std::is_arithmetic_v<K> || std::is_enum_v<K> ||
                       kIsStableHashString<K>) {
    return !std::is_same_v<K, long double>;
  } else if constexpr (std::is_array_v<K> &&
                       std::is_same_v<std::remove_extent_t<K>, char>) {
    return true;
  } else if constexpr (kIsHashSpecialization<K, std::optional>) {
    return IsStableHashable<typename K::value_type>();
  } else if constexpr (StableHashTupleLike<K>) {
    return TupleStableHashable<K>::value;
  } else if constexpr (kHasFields<K>) {
    return std::apply(
        [](auto... member) {
          return (IsStableHashable<
                      typename MemberPointerTraits<decltype(member)>::type>() &&
                  ...);
        },
        StructFields<K>::members);
  } else if constexpr (std::ranges::input_range<const K> &&
                       !UnorderedContainer<K>) {
    return IsStableHashable<RangeValue<K>>();
  } else {
    return false;
  }
}

inline uint32_t Fold64(uint64_t value) {
  return static_cast<uint32_t>(value ^ (value >> 32));
}

template <class K>
uint32_t HashValue(const K& key) {
  if constexpr (kHasUserStableHasher<K>) {
    return StableHasher<K>::Hash(key);
  } else if constexpr (std::is_same_v<K, bool>) {
    return key ? 1231U : 1237U;
  } else if constexpr (std::is_same_v<K, char>) {
    return static_cast<unsigned char>(key);
  } else if constexpr (std::is_integral_v<K>) {
    if constexpr (sizeof(K) <= sizeof(uint32_t)) {
      using Wide = std::conditional_t<std::is_signed_v<K>, int32_t, uint32_t>;
      return static_cast<uint32_t>(static_cast<Wide>(key));
    } else {
      return Fold64(static_cast<uint64_t>(key));
    }
  } else if constexpr (std::is_same_v<K, float>) {
    if (key == 0.0f) return 0;  // +0.0 and -0.0 are equal keys.
    if (std::isnan(key)) {
      return std::bit_cast<uint32_t>(std::numeric_limits<float>::quiet_NaN());
    }
    return std::bit_cast<uint32_t>(key);
  } else if constexpr (std::is_same_v<K, double>) {
    if (key == 0.0) return 0;
    if (std::isnan(key)) {
      return Fold64(
          std::bit_cast<uint64_t>(std::numeric_limits<double>::quiet_NaN()));
    }
    return Fold64(std::bit_cast<uint64_t>(key));
  } else if constexpr (std::is_enum_v<K>) {
    return HashValue(static_cast<std::underlying_type_t<K>>(key));
  } else if constexpr (std::is_same_v<K, std::string> ||
                       std::is_same_v<K, std::string_view>) {
    return StableHashBytes(key.data(), key.size());
  } else if constexpr (std::is_same_v<K, const char*> ||
                       std::is_same_v<K, char*>) {
    const std::string_view view = key == nullptr ? "" : key;
    return StableHashBytes(view.data(), view.size());
  } else if constexpr (std::is_array_v<K>) {  // A string literal.
    const std::string_view view(key);
    return StableHashBytes(view.data(), view.size());
  } else if constexpr (kIsHashSpecialization<K, std::optional>) {
    return key.has_value() ? HashValue(*key) : 0;
  } else if constexpr (StableHashTupleLike<K>) {
    return std::apply(
        [](const auto&... element) {
          uint32_t h = 0;
          bool first = true;
          [[maybe_unused]] auto mix = [&h, &first](const auto& e) {
            h = first ? HashValue(e) : 31 * h + HashValue(e);
            first = false;
          };
          (mix(element), ...);
          return h;
        },
        key);
  } else if constexpr (kHasFields<K>) {
    uint32_t h = 1;
    StructFields<K>::ForEach(key, [&h](std::string_view, const auto& field) {
      h = 31 * h + HashValue(field);
    });
    return h;
  } else {  // Ordered range.
    uint32_t h = 1;
    for (const auto& element : key) {
      // Through the value type: vector<bool> yields proxies.
      h = 31 * h + HashValue(static_cast<const RangeValue<K>&>(element));
    }
    return h;
  }
}

}  // namespace internal

// True if StableKeyHash accepts K (recursively, for containers and structs).
template <class K>
inline constexpr bool kIsStableHashable =
    internal::IsStableHashable<std::remove_cvref_t<K>>();

// The key's hash, identical in every process and build (see the rules above).
template <class K>
uint32_t StableKeyHash(const K& key) {
  static_assert(kIsStableHashable<K>,
                "type K cannot be used as a key: keys must be integers, "
                "floating point, enums, strings, or optionals, pairs, tuples, "
                "ordered containers or EDDY_FIELDS structs of them; otherwise "
                "specialize eddy::StableHasher<K> (never via std::hash, which "
                "differs between processes and builds)");
  return internal::HashValue(key);
}

}  // namespace eddy
