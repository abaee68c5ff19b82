// Eddy's compile-time serialization: the TypeSerializer<T> that moves records
// between operator chains, network buffers and state backends.
//
// This header is public API because user job code instantiates it: every
// record type that crosses a chain boundary or lands in keyed state needs a
// TypeSerializer. Encodings are compact (LEB128 varints, zigzag for signed
// integers, little-endian fixed-width floats) and the hot path performs no heap
// allocation once the output buffer and the deserialization target are warm:
// DataOutput appends into a caller-owned std::string that is reused between
// records, and Deserialize() overwrites an existing value in place, reusing the
// capacity of its strings and vectors.
//
// Decoding is defensive because bytes may come from a corrupted checkpoint or
// a buggy peer: DataInput never reads out of bounds, a failure is sticky and
// carries a message with the byte offset, and a length or count that the
// remaining bytes could not possibly hold fails before anything is allocated.
//
// User structs become serializable (and printable through <eddy/format.h> and
// hashable through <eddy/key_hash.h>) with one macro after the definition:
//
//   namespace shop {
//   struct Order {
//     int64_t id;
//     std::string item;
//     std::vector<double> prices;
//   };
//   EDDY_FIELDS(Order, id, item, prices);
//   }  // namespace shop
//
// Rules for EDDY_FIELDS (it defines a constexpr function found by
// argument-dependent lookup):
//   * Use it at namespace scope, after the struct definition, either in the
//     namespace that declares the type (then the plain name will do) or at
//     global scope (then write the qualified name:
//     EDDY_FIELDS(shop::Order, ...)). It cannot be used inside a class or a
//     function body, so types local to a function cannot use it.
//   * The first argument is printed as the type's name by ToString(), exactly
//     as written. A template instance must be named through an alias without
//     commas (using IntPair = Pair<int, int>; EDDY_FIELDS(IntPair, a, b);).
//   * List every data member that makes up the record's value, in a fixed order
//     (the order is the wire format; reordering breaks savepoints). Up to 64
//     fields; members must be public, non-reference, non-bit-field.
//   * Deserialization requires the type to be default-constructible.
//
// Other types: specialize eddy::TypeSerializer<T> (see the contract on the
// primary template below). Protobuf messages are supported by including
// <eddy/serializer_protobuf.h>.
#pragma once

#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"

// Lookup anchor for EDDY_FIELDS. The hook the macro defines takes a pointer to
// this global-namespace type so that argument-dependent lookup also searches
// the global namespace; that is what lets the macro be written either in the
// type's own namespace or at global scope. Never used otherwise.
struct EddyFieldsAdlAnchor {};

namespace eddy {

namespace internal {

// Error-message assembly. Not absl::StrCat: Debian's Abseil has its own
// string_view type, which does not accept std::string_view arguments.
template <class Part>
void AppendPart(std::string& out, const Part& part) {
  if constexpr (std::is_integral_v<Part>) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof(digits), part);
    out.append(digits, result.ptr);
  } else {
    out += std::string_view(part);
  }
}
template <class... Parts>
std::string Concat(const Parts&... parts) {
  std::string out;
  (AppendPart(out, parts), ...);
  return out;
}

}  // namespace internal

// Encodes `value` so that small magnitudes of either sign use few varint bytes.
constexpr uint64_t ZigZagEncode64(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^
         static_cast<uint64_t>(value >> 63);
}
constexpr int64_t ZigZagDecode64(uint64_t value) {
  return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
}

// Number of bytes WriteVarint64(value) appends (1..10).
constexpr size_t VarintSize64(uint64_t value) {
  // Each byte carries 7 bits; (bit_width * 9 + 64) / 64 is ceil(width / 7)
  // for widths 1..64 without a division, and 1 for zero.
  return static_cast<size_t>((std::bit_width(value | 1) * 9 + 64) / 64);
}

// Appends encoded values to a caller-owned std::string. Reusing one string
// (clear() keeps its capacity) makes writing allocation-free after warm-up.
class DataOutput {
 public:
  static constexpr size_t kMaxVarint64Bytes = 10;

  // `buffer` must outlive this object; bytes are appended after its contents.
  explicit DataOutput(std::string* buffer) : buffer_(buffer) {}

  void WriteByte(uint8_t byte) { buffer_->push_back(static_cast<char>(byte)); }

  // Unsigned LEB128: 7 bits per byte, low groups first, high bit = "more".
  void WriteVarint64(uint64_t value) {
    if (value < 0x80) {  // The overwhelmingly common case: one byte.
      WriteByte(static_cast<uint8_t>(value));
      return;
    }
    char bytes[kMaxVarint64Bytes];
    size_t n = 0;
    while (value >= 0x80) {
      bytes[n++] = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    bytes[n++] = static_cast<char>(value);
    buffer_->append(bytes, n);
  }
  void WriteVarint32(uint32_t value) { WriteVarint64(value); }
  void WriteZigZag64(int64_t value) { WriteVarint64(ZigZagEncode64(value)); }

  // Fixed-width little-endian, independent of the host's byte order.
  void WriteFixed32(uint32_t value) {
    char bytes[4];
    StoreLittleEndian(value, bytes);
    buffer_->append(bytes, sizeof(bytes));
  }
  void WriteFixed64(uint64_t value) {
    char bytes[8];
    StoreLittleEndian(value, bytes);
    buffer_->append(bytes, sizeof(bytes));
  }
  // Bit-exact: NaN payloads and -0.0 survive the round trip.
  void WriteFloat(float value) { WriteFixed32(std::bit_cast<uint32_t>(value)); }
  void WriteDouble(double value) {
    WriteFixed64(std::bit_cast<uint64_t>(value));
  }

  void WriteBytes(const void* data, size_t size) {
    buffer_->append(static_cast<const char*>(data), size);
  }
  // Varint length followed by the bytes.
  void WriteString(std::string_view value) {
    WriteVarint64(value.size());
    WriteBytes(value.data(), value.size());
  }

  // Appends `size` bytes for the caller to fill (e.g. a serializer that knows
  // its exact size up front) and returns where they start. The pointer is
  // invalidated by the next write.
  char* AppendUninitialized(size_t size) {
    const size_t old_size = buffer_->size();
    buffer_->resize(old_size + size);
    return buffer_->data() + old_size;
  }

  // Total size of the underlying buffer, including bytes that were there
  // before this DataOutput was created.
  size_t size() const { return buffer_->size(); }
  std::string* buffer() const { return buffer_; }

 private:
  template <class U>
  static void StoreLittleEndian(U value, char* out) {
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out, &value, sizeof(U));
    } else {
      for (size_t i = 0; i < sizeof(U); ++i) {
        out[i] = static_cast<char>(value >> (8 * i));
      }
    }
  }

  std::string* buffer_;
};

// Reads values written by DataOutput from a byte range it does not own.
//
// Failure model: the first malformed or truncated read records an error
// ("truncated varint at byte 7 of 9"), after which the input is exhausted:
// every further read returns a zero value (0, 0.0, empty) and ok() stays
// false. Callers can therefore decode a whole record and check ok() once.
class DataInput {
 public:
  // Largest count ReadCount() accepts for elements whose encoding may be
  // empty (e.g. std::tuple<>): such counts cannot be checked against the
  // remaining bytes, so they are capped instead of trusted.
  static constexpr uint64_t kMaxEmptyElements = uint64_t{1} << 20;

  // [begin, end) must stay valid while this object is read.
  DataInput(const char* begin, const char* end)
      : begin_(begin), pos_(begin), end_(end) {}
  explicit DataInput(std::string_view bytes)
      : DataInput(bytes.data(), bytes.data() + bytes.size()) {}
  // A temporary string would dangle before the first read.
  explicit DataInput(std::string&&) = delete;

  bool ok() const { return !failed_; }
  // Empty while ok().
  const std::string& error() const { return error_; }
  // Records `why`, followed by the current byte offset, as the error unless an
  // earlier failure is already recorded; exhausts the input.
  void Fail(std::string_view why) { FailAt(position(), why); }
  // As Fail(), reporting `position` (e.g. where the offending value started).
  void FailAt(size_t position, std::string_view why) {
    if (!failed_) {
      failed_ = true;
      error_ = internal::Concat(why, " at byte ", position, " of ", size());
    }
    pos_ = end_;
  }

  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }
  bool AtEnd() const { return pos_ == end_; }
  // Offset of the next byte to read from the start of the input.
  size_t position() const { return static_cast<size_t>(pos_ - begin_); }
  // Total input size.
  size_t size() const { return static_cast<size_t>(end_ - begin_); }

  uint8_t ReadByte() {
    if (pos_ == end_) {
      Fail("truncated input: expected 1 more byte");
      return 0;
    }
    return static_cast<uint8_t>(*pos_++);
  }

  uint64_t ReadVarint64() {
    if (pos_ != end_ && static_cast<uint8_t>(*pos_) < 0x80) {
      return static_cast<uint8_t>(*pos_++);
    }
    return ReadVarint64Slow();
  }
  // Fails if the encoded value does not fit in 32 bits.
  uint32_t ReadVarint32() {
    const size_t start = position();
    const uint64_t value = ReadVarint64();
    if (value > std::numeric_limits<uint32_t>::max()) {
      FailAt(start, "varint32 out of range");
      return 0;
    }
    return static_cast<uint32_t>(value);
  }
  int64_t ReadZigZag64() { return ZigZagDecode64(ReadVarint64()); }

  uint32_t ReadFixed32() { return ReadLittleEndian<uint32_t>("fixed32"); }
  uint64_t ReadFixed64() { return ReadLittleEndian<uint64_t>("fixed64"); }
  float ReadFloat() { return std::bit_cast<float>(ReadFixed32()); }
  double ReadDouble() { return std::bit_cast<double>(ReadFixed64()); }

  // Copies `size` bytes to `out`; on failure fills `out` with zeros.
  void ReadBytes(void* out, size_t size) {
    if (!Require(size, "bytes")) {
      if (size > 0) std::memset(out, 0, size);
      return;
    }
    if (size > 0) std::memcpy(out, pos_, size);
    pos_ += size;
  }
  // The next `size` bytes, without copying: valid as long as the input is.
  std::string_view ReadBytesView(size_t size) {
    if (!Require(size, "bytes")) return {};
    std::string_view view(pos_, size);
    pos_ += size;
    return view;
  }
  void Skip(size_t size) { static_cast<void>(ReadBytesView(size)); }

  // A string written by WriteString(); overwrites `out`, reusing its capacity.
  void ReadString(std::string& out) {
    const std::string_view view = ReadStringView();
    out.assign(view.data(), view.size());
  }
  // As ReadString(), but a view into the input instead of a copy.
  std::string_view ReadStringView() {
    const size_t size = ReadCount(1);
    return ReadBytesView(size);
  }

  // Reads a varint element count (or byte length) and validates it before
  // the caller allocates anything: the remaining bytes must be able to hold
  // `count` elements of at least `min_element_bytes` each (counts of elements
  // that may encode to nothing are capped at kMaxEmptyElements). Returns 0 on
  // failure.
  size_t ReadCount(size_t min_element_bytes) {
    const size_t start = position();
    const uint64_t count = ReadVarint64();
    if (count == 0) return 0;
    const size_t left = remaining();
    const bool impossible = min_element_bytes == 0
                                ? count > kMaxEmptyElements
                                : count > left / min_element_bytes;
    if (impossible) {
      if (min_element_bytes == 0) {
        FailAt(start,
               internal::Concat("count ", count, " exceeds the limit of ",
                                kMaxEmptyElements,
                                " elements with an empty encoding"));
      } else {
        FailAt(start,
               internal::Concat("count ", count, " needs at least ",
                                min_element_bytes, " byte(s) each but only ",
                                left, " remain"));
      }
      return 0;
    }
    return static_cast<size_t>(count);
  }

 private:
  bool Require(size_t size, std::string_view what) {
    if (size <= remaining()) return true;
    Fail(internal::Concat("truncated ", what, ": need ", size, " bytes, ",
                          remaining(), " remain"));
    return false;
  }

  template <class U>
  U ReadLittleEndian(std::string_view what) {
    if (!Require(sizeof(U), what)) return 0;
    U value;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&value, pos_, sizeof(U));
    } else {
      value = 0;
      for (size_t i = 0; i < sizeof(U); ++i) {
        value |= static_cast<U>(static_cast<uint8_t>(pos_[i])) << (8 * i);
      }
    }
    pos_ += sizeof(U);
    return value;
  }

  uint64_t ReadVarint64Slow() {
    const char* p = pos_;
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end_) {
        Fail("truncated varint");
        return 0;
      }
      const uint8_t byte = static_cast<uint8_t>(*p++);
      if (shift == 63 && byte > 1) {  // The 10th byte may only hold bit 63.
        Fail("malformed varint: more than 64 bits");
        return 0;
      }
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) {
        pos_ = p;
        return result;
      }
    }
    Fail("malformed varint");  // Unreachable: the 10th byte ends the loop.
    return 0;
  }

  const char* begin_;
  const char* pos_;
  const char* end_;
  bool failed_ = false;
  std::string error_;
};

// ---------------------------------------------------------------------------
// Struct reflection for EDDY_FIELDS.

namespace internal {

// The first argument of the EDDY_FIELDS hook: an empty tag whose template
// argument makes the struct's namespace an associated namespace for lookup.
template <class T>
struct FieldsTag {};

template <class T, class... Members>
struct FieldsInfo {
  std::string_view type_name;
  std::array<std::string_view, sizeof...(Members)> names;
  std::tuple<Members...> members;
};

constexpr std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits the stringified field list "id, item, prices" at compile time.
template <size_t N>
constexpr std::array<std::string_view, N> SplitFieldNames(
    std::string_view list) {
  std::array<std::string_view, N> names{};
  size_t index = 0;
  size_t start = 0;
  for (size_t pos = 0; pos <= list.size() && index < N; ++pos) {
    if (pos == list.size() || list[pos] == ',') {
      names[index++] = TrimSpaces(list.substr(start, pos - start));
      start = pos + 1;
    }
  }
  return names;
}

template <class T, class... Members>
constexpr FieldsInfo<T, Members...> MakeFieldsInfo(std::string_view type_name,
                                                   std::string_view field_list,
                                                   Members... members) {
  static_assert((std::is_member_object_pointer_v<Members> && ...),
                "EDDY_FIELDS(Type, fields...): every field must name a data "
                "member of Type (not a member function)");
  return {type_name, SplitFieldNames<sizeof...(Members)>(field_list),
          std::tuple<Members...>(members...)};
}

template <class MemberPointer>
struct MemberPointerTraits;
template <class Class, class Field>
struct MemberPointerTraits<Field Class::*> {
  using type = Field;
};

// Unqualified call: found only by argument-dependent lookup, in the struct's
// namespace or (through the anchor) the global namespace.
template <class T>
using FieldsHookResult = decltype(EddyStructFieldsInfo(
    FieldsTag<T>{}, static_cast<::EddyFieldsAdlAnchor*>(nullptr)));

}  // namespace internal

// Reflection over a struct listed with EDDY_FIELDS. For other types only
// `defined` (false) exists.
template <class T, class = void>
struct StructFields {
  static constexpr bool defined = false;
};

template <class T>
struct StructFields<T, std::void_t<internal::FieldsHookResult<T>>> {
 private:
  static constexpr auto kInfo = EddyStructFieldsInfo(
      internal::FieldsTag<T>{}, static_cast<::EddyFieldsAdlAnchor*>(nullptr));

 public:
  static constexpr bool defined = true;
  // The macro's first argument, as written.
  static constexpr std::string_view type_name = kInfo.type_name;
  static constexpr size_t size = kInfo.names.size();
  static constexpr std::array<std::string_view, size> names = kInfo.names;
  // A std::tuple of pointers to the data members, in the listed order.
  static constexpr auto members = kInfo.members;
  // std::tuple<Field&...> over `value`'s fields, in the listed order.
  static auto Tie(T& value) {
    return std::apply(
        [&value](auto... member) { return std::tie(value.*member...); },
        members);
  }
  static auto Tie(const T& value) {
    return std::apply(
        [&value](auto... member) { return std::tie(value.*member...); },
        members);
  }
  // Calls f(name, field) for each field in order.
  template <class U, class F>
  static void ForEach(U& value, F&& f) {
    ForEachImpl(value, f, std::make_index_sequence<size>());
  }

 private:
  template <class U, class F, size_t... I>
  static void ForEachImpl(U& value, F& f, std::index_sequence<I...>) {
    (f(names[I], value.*std::get<I>(members)), ...);
  }
};

// True for structs listed with EDDY_FIELDS.
template <class T>
inline constexpr bool kHasFields = StructFields<T>::defined;

namespace internal {

// std::tuple<Field...> of a struct's listed field types. Only for structs
// listed with EDDY_FIELDS.
template <class T>
struct FieldTypes {
  template <class Tuple>
  struct Strip;
  template <class... M>
  struct Strip<std::tuple<M...>> {
    using type = std::tuple<typename MemberPointerTraits<M>::type...>;
  };
  using type = typename Strip<
      std::remove_cv_t<decltype(StructFields<T>::members)>>::type;
};

// The name the compiler gives T, for error messages ("std::pair<int, long>").
template <class T>
std::string_view TypeName() {
  // GCC: "... TypeName() [with T = X; ...]"; Clang: "... [T = X]".
  const std::string_view pretty = __PRETTY_FUNCTION__;
  const size_t start = pretty.find("T = ");
  if (start == std::string_view::npos) return pretty;
  size_t end = pretty.find(';', start);
  if (end == std::string_view::npos) end = pretty.rfind(']');
  if (end == std::string_view::npos || end < start) return pretty;
  return pretty.substr(start + 4, end - start - 4);
}

template <class T>
inline constexpr bool kAlwaysFalse = false;

}  // namespace internal

// ---------------------------------------------------------------------------
// TypeSerializer.

namespace internal {
// Base of the primary template: marks "no serializer for this type".
struct NoTypeSerializer {};
}  // namespace internal

// The binary codec for T. A specialization provides:
//   static void Serialize(const T& value, DataOutput& out);
//   // Overwrites `value` (reusing its storage); reports malformed input
//   // through in.Fail() and then leaves `value` valid but unspecified.
//   static void Deserialize(DataInput& in, T& value);
// and optionally
//   // Fewest bytes any value encodes to; bounds element counts on decode.
//   // Declare 0 if some value encodes to nothing. Assumed 1 if absent.
//   static constexpr size_t kMinEncodedSize = ...;
//
// Specializations must be visible wherever T is serialized; the primary
// template below means "T is not serializable".
template <class T, class = void>
struct TypeSerializer : internal::NoTypeSerializer {
  static void Serialize(const T&, DataOutput&) {
    static_assert(internal::kAlwaysFalse<T>,
                  "type T has no TypeSerializer: list its fields with "
                  "EDDY_FIELDS(Type, field...) or specialize "
                  "eddy::TypeSerializer");
  }
  static void Deserialize(DataInput&, T&) {
    static_assert(internal::kAlwaysFalse<T>,
                  "type T has no TypeSerializer: list its fields with "
                  "EDDY_FIELDS(Type, field...) or specialize "
                  "eddy::TypeSerializer");
  }
};

// True if T (and, for containers and structs, every element and field type)
// has a TypeSerializer. APIs static_assert on it.
template <class T>
inline constexpr bool kIsSerializable =
    !std::is_base_of_v<internal::NoTypeSerializer, TypeSerializer<T>>;

namespace internal {

template <class T>
constexpr size_t MinEncodedSize() {
  if constexpr (requires { TypeSerializer<T>::kMinEncodedSize; }) {
    return TypeSerializer<T>::kMinEncodedSize;
  } else {
    return 1;
  }
}

// Single-byte types are stored as one raw byte: never larger than a varint.
template <class T>
inline constexpr bool kIsByteSized =
    std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
    std::is_same_v<T, unsigned char> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, std::byte>;

template <class T>
inline constexpr bool kIsVarintInteger =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !kIsByteSized<T>;

template <class... T>
inline constexpr bool kAllSerializable = (kIsSerializable<T> && ...);

template <class Tuple>
inline constexpr bool kTupleSerializable = false;
template <class... T>
inline constexpr bool kTupleSerializable<std::tuple<T...>> =
    kAllSerializable<T...>;

template <class T>
constexpr bool StructSerializable() {
  if constexpr (kHasFields<T>) {
    return kTupleSerializable<typename FieldTypes<T>::type>;
  } else {
    return false;
  }
}

// Shared decode loop for map-like and set-like containers: inserts in wire
// order (sorted for std::map/std::set, so emplace_hint at end() is O(1)) and
// rejects duplicates, which a valid encoding never contains.
template <class Container, class Insert>
void DeserializeUnique(DataInput& in, size_t count, Container& container,
                       Insert insert) {
  for (size_t i = 0; i < count && in.ok(); ++i) {
    const size_t start = in.position();
    const size_t before = container.size();
    insert();
    if (in.ok() && container.size() == before) {
      in.FailAt(start, "duplicate key");
    }
  }
}

}  // namespace internal

template <>
struct TypeSerializer<bool> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(bool value, DataOutput& out) {
    out.WriteByte(value ? 1 : 0);
  }
  static void Deserialize(DataInput& in, bool& value) {
    const size_t start = in.position();
    const uint8_t byte = in.ReadByte();
    if (byte > 1) {
      in.FailAt(start, internal::Concat("invalid bool byte ", byte));
    }
    value = byte == 1;
  }
};

// char, signed/unsigned char, char8_t, std::byte: one raw byte.
template <class T>
struct TypeSerializer<T, std::enable_if_t<internal::kIsByteSized<T>>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(T value, DataOutput& out) {
    out.WriteByte(static_cast<uint8_t>(value));
  }
  static void Deserialize(DataInput& in, T& value) {
    value = static_cast<T>(in.ReadByte());
  }
};

// Other integers: zigzag varint if signed, varint if unsigned; decoding checks
// the value fits T.
template <class T>
struct TypeSerializer<T, std::enable_if_t<internal::kIsVarintInteger<T>>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(T value, DataOutput& out) {
    if constexpr (std::is_signed_v<T>) {
      out.WriteZigZag64(static_cast<int64_t>(value));
    } else {
      out.WriteVarint64(static_cast<uint64_t>(value));
    }
  }
  static void Deserialize(DataInput& in, T& value) {
    const size_t start = in.position();
    if constexpr (std::is_signed_v<T>) {
      const int64_t decoded = in.ReadZigZag64();
      if constexpr (sizeof(T) < sizeof(int64_t)) {
        if (decoded < std::numeric_limits<T>::min() ||
            decoded > std::numeric_limits<T>::max()) {
          in.FailAt(start,
                    internal::Concat("value ", decoded, " out of range for ",
                                     internal::TypeName<T>()));
          value = 0;
          return;
        }
      }
      value = static_cast<T>(decoded);
    } else {
      const uint64_t decoded = in.ReadVarint64();
      if constexpr (sizeof(T) < sizeof(uint64_t)) {
        if (decoded > std::numeric_limits<T>::max()) {
          in.FailAt(start,
                    internal::Concat("value ", decoded, " out of range for ",
                                     internal::TypeName<T>()));
          value = 0;
          return;
        }
      }
      value = static_cast<T>(decoded);
    }
  }
};

template <>
struct TypeSerializer<float> {
  static constexpr size_t kMinEncodedSize = 4;
  static void Serialize(float value, DataOutput& out) { out.WriteFloat(value); }
  static void Deserialize(DataInput& in, float& value) {
    value = in.ReadFloat();
  }
};

template <>
struct TypeSerializer<double> {
  static constexpr size_t kMinEncodedSize = 8;
  static void Serialize(double value, DataOutput& out) {
    out.WriteDouble(value);
  }
  static void Deserialize(DataInput& in, double& value) {
    value = in.ReadDouble();
  }
};

// Enums: as their underlying integer. Decoding does not check that the value
// names an enumerator (C++ cannot tell); validate in the consumer if needed.
template <class T>
struct TypeSerializer<
    T, std::enable_if_t<std::is_enum_v<T> && !internal::kIsByteSized<T>>> {
  using Underlying = std::underlying_type_t<T>;
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(T value, DataOutput& out) {
    TypeSerializer<Underlying>::Serialize(static_cast<Underlying>(value), out);
  }
  static void Deserialize(DataInput& in, T& value) {
    Underlying raw{};
    TypeSerializer<Underlying>::Deserialize(in, raw);
    value = static_cast<T>(raw);
  }
};

template <>
struct TypeSerializer<std::string> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const std::string& value, DataOutput& out) {
    out.WriteString(value);
  }
  static void Deserialize(DataInput& in, std::string& value) {
    in.ReadString(value);
  }
};

template <class A, class B>
struct TypeSerializer<std::pair<A, B>,
                      std::enable_if_t<internal::kAllSerializable<A, B>>> {
  static constexpr size_t kMinEncodedSize =
      internal::MinEncodedSize<A>() + internal::MinEncodedSize<B>();
  static void Serialize(const std::pair<A, B>& value, DataOutput& out) {
    TypeSerializer<A>::Serialize(value.first, out);
    TypeSerializer<B>::Serialize(value.second, out);
  }
  static void Deserialize(DataInput& in, std::pair<A, B>& value) {
    TypeSerializer<A>::Deserialize(in, value.first);
    TypeSerializer<B>::Deserialize(in, value.second);
  }
};

template <class... T>
struct TypeSerializer<std::tuple<T...>,
                      std::enable_if_t<internal::kAllSerializable<T...>>> {
  static constexpr size_t kMinEncodedSize =
      (size_t{0} + ... + internal::MinEncodedSize<T>());
  static void Serialize(const std::tuple<T...>& value, DataOutput& out) {
    std::apply(
        [&out](const T&... element) {
          (TypeSerializer<T>::Serialize(element, out), ...);
        },
        value);
  }
  static void Deserialize(DataInput& in, std::tuple<T...>& value) {
    std::apply(
        [&in](T&... element) {
          (TypeSerializer<T>::Deserialize(in, element), ...);
        },
        value);
  }
};

// Varint count, then the elements. Decoding resizes and overwrites in place,
// so a reused vector keeps both its buffer and its elements' buffers.
template <class T, class Alloc>
struct TypeSerializer<std::vector<T, Alloc>,
                      std::enable_if_t<kIsSerializable<T>>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const std::vector<T, Alloc>& value, DataOutput& out) {
    out.WriteVarint64(value.size());
    if constexpr (internal::kIsByteSized<T>) {
      out.WriteBytes(value.data(), value.size());
    } else {
      for (const auto& element : value) {  // auto: vector<bool>'s proxy.
        TypeSerializer<T>::Serialize(element, out);
      }
    }
  }
  static void Deserialize(DataInput& in, std::vector<T, Alloc>& value) {
    static_assert(std::is_default_constructible_v<T>,
                  "deserializing std::vector<T> needs a default-constructible "
                  "T");
    const size_t count = in.ReadCount(internal::MinEncodedSize<T>());
    value.resize(count);
    if constexpr (internal::kIsByteSized<T>) {
      in.ReadBytes(value.data(), count);  // ReadCount checked the length.
    } else if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < count && in.ok(); ++i) {
        bool element = false;
        TypeSerializer<bool>::Deserialize(in, element);
        value[i] = element;
      }
    } else {
      for (size_t i = 0; i < count && in.ok(); ++i) {
        TypeSerializer<T>::Deserialize(in, value[i]);
      }
    }
  }
};

template <class T, size_t N>
struct TypeSerializer<std::array<T, N>, std::enable_if_t<kIsSerializable<T>>> {
  static constexpr size_t kMinEncodedSize = N * internal::MinEncodedSize<T>();
  static void Serialize(const std::array<T, N>& value, DataOutput& out) {
    if constexpr (internal::kIsByteSized<T>) {
      out.WriteBytes(value.data(), N);
    } else {
      for (const T& element : value) TypeSerializer<T>::Serialize(element, out);
    }
  }
  static void Deserialize(DataInput& in, std::array<T, N>& value) {
    if constexpr (internal::kIsByteSized<T>) {
      in.ReadBytes(value.data(), N);
    } else {
      for (T& element : value) TypeSerializer<T>::Deserialize(in, element);
    }
  }
};

// One flag byte (0 = empty, 1 = present), then the value if present.
template <class T>
struct TypeSerializer<std::optional<T>, std::enable_if_t<kIsSerializable<T>>> {
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const std::optional<T>& value, DataOutput& out) {
    out.WriteByte(value.has_value() ? 1 : 0);
    if (value.has_value()) TypeSerializer<T>::Serialize(*value, out);
  }
  static void Deserialize(DataInput& in, std::optional<T>& value) {
    const size_t start = in.position();
    const uint8_t flag = in.ReadByte();
    if (flag == 0) {
      value.reset();
      return;
    }
    if (flag != 1) {
      in.FailAt(start, internal::Concat("invalid optional flag ", flag));
      value.reset();
      return;
    }
    if (!value.has_value()) value.emplace();  // Else reuse the old storage.
    TypeSerializer<T>::Deserialize(in, *value);
  }
};

// Maps and sets: varint count, then the entries in iteration order.
template <class K, class V, class Compare, class Alloc>
struct TypeSerializer<std::map<K, V, Compare, Alloc>,
                      std::enable_if_t<internal::kAllSerializable<K, V>>> {
  using Map = std::map<K, V, Compare, Alloc>;
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const Map& value, DataOutput& out) {
    out.WriteVarint64(value.size());
    for (const auto& [key, mapped] : value) {
      TypeSerializer<K>::Serialize(key, out);
      TypeSerializer<V>::Serialize(mapped, out);
    }
  }
  static void Deserialize(DataInput& in, Map& value) {
    const size_t count = in.ReadCount(internal::MinEncodedSize<K>() +
                                      internal::MinEncodedSize<V>());
    value.clear();
    internal::DeserializeUnique(in, count, value, [&in, &value] {
      K key{};
      V mapped{};
      TypeSerializer<K>::Deserialize(in, key);
      TypeSerializer<V>::Deserialize(in, mapped);
      if (in.ok())
        value.emplace_hint(value.end(), std::move(key), std::move(mapped));
    });
  }
};

template <class K, class V, class Hash, class Equal, class Alloc>
struct TypeSerializer<std::unordered_map<K, V, Hash, Equal, Alloc>,
                      std::enable_if_t<internal::kAllSerializable<K, V>>> {
  using Map = std::unordered_map<K, V, Hash, Equal, Alloc>;
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const Map& value, DataOutput& out) {
    out.WriteVarint64(value.size());
    for (const auto& [key, mapped] : value) {
      TypeSerializer<K>::Serialize(key, out);
      TypeSerializer<V>::Serialize(mapped, out);
    }
  }
  static void Deserialize(DataInput& in, Map& value) {
    const size_t count = in.ReadCount(internal::MinEncodedSize<K>() +
                                      internal::MinEncodedSize<V>());
    value.clear();
    value.reserve(count);  // Bounded: ReadCount checked it against the input.
    internal::DeserializeUnique(in, count, value, [&in, &value] {
      K key{};
      V mapped{};
      TypeSerializer<K>::Deserialize(in, key);
      TypeSerializer<V>::Deserialize(in, mapped);
      if (in.ok()) value.emplace(std::move(key), std::move(mapped));
    });
  }
};

template <class K, class Compare, class Alloc>
struct TypeSerializer<std::set<K, Compare, Alloc>,
                      std::enable_if_t<kIsSerializable<K>>> {
  using Set = std::set<K, Compare, Alloc>;
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const Set& value, DataOutput& out) {
    out.WriteVarint64(value.size());
    for (const K& key : value) TypeSerializer<K>::Serialize(key, out);
  }
  static void Deserialize(DataInput& in, Set& value) {
    const size_t count = in.ReadCount(internal::MinEncodedSize<K>());
    value.clear();
    internal::DeserializeUnique(in, count, value, [&in, &value] {
      K key{};
      TypeSerializer<K>::Deserialize(in, key);
      if (in.ok()) value.emplace_hint(value.end(), std::move(key));
    });
  }
};

template <class K, class Hash, class Equal, class Alloc>
struct TypeSerializer<std::unordered_set<K, Hash, Equal, Alloc>,
                      std::enable_if_t<kIsSerializable<K>>> {
  using Set = std::unordered_set<K, Hash, Equal, Alloc>;
  static constexpr size_t kMinEncodedSize = 1;
  static void Serialize(const Set& value, DataOutput& out) {
    out.WriteVarint64(value.size());
    for (const K& key : value) TypeSerializer<K>::Serialize(key, out);
  }
  static void Deserialize(DataInput& in, Set& value) {
    const size_t count = in.ReadCount(internal::MinEncodedSize<K>());
    value.clear();
    value.reserve(count);
    internal::DeserializeUnique(in, count, value, [&in, &value] {
      K key{};
      TypeSerializer<K>::Deserialize(in, key);
      if (in.ok()) value.emplace(std::move(key));
    });
  }
};

// Structs listed with EDDY_FIELDS: the fields in the listed order, no header.
template <class T>
struct TypeSerializer<T, std::enable_if_t<internal::StructSerializable<T>()>> {
  using Fields = StructFields<T>;
  static constexpr size_t kMinEncodedSize = std::apply(
      [](auto... member) {
        return (size_t{0} + ... +
                internal::MinEncodedSize<typename internal::MemberPointerTraits<
                    decltype(member)>::type>());
      },
      Fields::members);
  static void Serialize(const T& value, DataOutput& out) {
    std::apply(
        [&](auto... member) {
          (TypeSerializer<std::remove_cvref_t<decltype(value.*member)>>::
               Serialize(value.*member, out),
           ...);
        },
        Fields::members);
  }
  static void Deserialize(DataInput& in, T& value) {
    std::apply(
        [&](auto... member) {
          (TypeSerializer<std::remove_cvref_t<decltype(value.*member)>>::
               Deserialize(in, value.*member),
           ...);
        },
        Fields::members);
  }
};

// ---------------------------------------------------------------------------
// Whole-record convenience functions (tests, state snapshots, tools). The
// per-record hot path uses TypeSerializer<T> with a reused DataOutput.

// The encoding of `value` as a fresh string.
template <class T>
std::string SerializeToString(const T& value) {
  static_assert(
      kIsSerializable<T>,
      "type T has no TypeSerializer: list its fields with "
      "EDDY_FIELDS(Type, field...) or specialize eddy::TypeSerializer");
  std::string bytes;
  DataOutput out(&bytes);
  TypeSerializer<T>::Serialize(value, out);
  return bytes;
}

// Decodes `bytes` into `out`, requiring every byte to be consumed. On failure
// returns DataLossError("malformed record of type <T>: <why> at byte P of N")
// and leaves `out` valid but unspecified.
template <class T>
absl::Status DeserializeFromString(std::string_view bytes, T& out) {
  static_assert(
      kIsSerializable<T>,
      "type T has no TypeSerializer: list its fields with "
      "EDDY_FIELDS(Type, field...) or specialize eddy::TypeSerializer");
  DataInput in(bytes);
  TypeSerializer<T>::Deserialize(in, out);
  if (!in.ok()) {
    return absl::DataLossError(internal::Concat("malformed record of type ",
                                                internal::TypeName<T>(), ": ",
                                                in.error()));
  }
  if (!in.AtEnd()) {
    return absl::DataLossError(
        internal::Concat("malformed record of type ", internal::TypeName<T>(),
                         ": ", in.remaining(), " trailing byte(s) after byte ",
                         in.position(), " of ", in.size()));
  }
  return absl::OkStatus();
}

}  // namespace eddy

// ---------------------------------------------------------------------------
// EDDY_FIELDS(Type, field1, field2, ...): see the rules at the top of this
// file. Defines the lookup hook StructFields<Type> reads; the trailing
// static_assert makes the macro require a semicolon like a declaration.
#define EDDY_FIELDS(Type, ...)                                          \
  [[maybe_unused]] constexpr auto EddyStructFieldsInfo(                 \
      ::eddy::internal::FieldsTag<Type>, ::EddyFieldsAdlAnchor*) {      \
    return ::eddy::internal::MakeFieldsInfo<Type>(                      \
        #Type, #__VA_ARGS__, EDDY_INTERNAL_MEMBERS(Type, __VA_ARGS__)); \
  }                                                                     \
  static_assert(::std::is_class_v<Type>,                                \
                "EDDY_FIELDS(Type, fields...) needs a struct or class type")

#define EDDY_INTERNAL_CAT(a, b) EDDY_INTERNAL_CAT_I(a, b)
#define EDDY_INTERNAL_CAT_I(a, b) a##b
// &Type::f1, &Type::f2, ...
#define EDDY_INTERNAL_MEMBERS(T, ...)                                         \
  EDDY_INTERNAL_CAT(EDDY_INTERNAL_MEMBERS_, EDDY_INTERNAL_NARGS(__VA_ARGS__)) \
  (T, __VA_ARGS__)
#define EDDY_INTERNAL_NARGS(...)                                             \
  EDDY_INTERNAL_NARGS_I(__VA_ARGS__, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, \
                        54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,  \
                        41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29,  \
                        28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,  \
                        15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define EDDY_INTERNAL_NARGS_I(                                                 \
    _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16,     \
    _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, \
    _32, _33, _34, _35, _36, _37, _38, _39, _40, _41, _42, _43, _44, _45, _46, \
    _47, _48, _49, _50, _51, _52, _53, _54, _55, _56, _57, _58, _59, _60, _61, \
    _62, _63, _64, N, ...)                                                     \
  N
#define EDDY_INTERNAL_MEMBERS_1(T, f) &T::f
#define EDDY_INTERNAL_MEMBERS_2(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_1(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_3(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_2(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_4(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_3(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_5(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_4(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_6(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_5(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_7(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_6(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_8(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_7(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_9(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_8(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_10(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_9(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_11(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_10(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_12(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_11(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_13(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_12(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_14(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_13(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_15(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_14(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_16(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_15(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_17(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_16(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_18(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_17(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_19(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_18(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_20(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_19(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_21(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_20(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_22(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_21(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_23(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_22(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_24(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_23(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_25(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_24(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_26(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_25(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_27(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_26(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_28(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_27(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_29(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_28(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_30(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_29(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_31(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_30(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_32(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_31(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_33(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_32(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_34(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_33(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_35(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_34(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_36(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_35(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_37(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_36(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_38(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_37(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_39(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_38(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_40(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_39(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_41(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_40(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_42(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_41(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_43(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_42(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_44(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_43(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_45(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_44(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_46(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_45(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_47(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_46(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_48(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_47(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_49(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_48(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_50(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_49(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_51(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_50(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_52(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_51(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_53(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_52(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_54(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_53(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_55(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_54(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_56(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_55(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_57(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_56(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_58(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_57(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_59(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_58(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_60(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_59(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_61(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_60(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_62(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_61(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_63(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_62(T, __VA_ARGS__)
#define EDDY_INTERNAL_MEMBERS_64(T, f, ...) \
  &T::f, EDDY_INTERNAL_MEMBERS_63(T, __VA_ARGS__)
