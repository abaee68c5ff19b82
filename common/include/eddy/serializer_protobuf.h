// TypeSerializer for protobuf messages: lets protobuf types be records, keys'
// payloads and state values. A separate header (and link dependency on
// protobuf::libprotobuf) so that jobs that do not use protobuf never include
// or link it; include it in every translation unit that serializes messages.
//
// Encoding: varint byte length, then the message's standard wire format, so
// the payload is readable by any protobuf implementation. Protobuf's own
// encoding is not canonical (map and unknown-field order may vary), which is
// why messages are not accepted as StableKeyHash keys.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "eddy/serializer.h"
#include "google/protobuf/message_lite.h"

namespace eddy {

template <class T>
struct TypeSerializer<
    T, std::enable_if_t<std::is_base_of_v<google::protobuf::MessageLite, T>>> {
  static constexpr size_t kMinEncodedSize = 1;  // The length varint.

  static void Serialize(const T& value, DataOutput& out) {
    // ByteSizeLong() caches sub-message sizes, which the serialization below
    // reuses; writing straight into the output avoids a temporary string.
    const size_t size = value.ByteSizeLong();
    out.WriteVarint64(size);
    if (size == 0) return;
    auto* target = reinterpret_cast<uint8_t*>(out.AppendUninitialized(size));
    value.SerializeWithCachedSizesToArray(target);
  }

  static void Deserialize(DataInput& in, T& value) {
    const size_t start = in.position();
    const size_t size = in.ReadCount(1);  // Validated against the input.
    if (size > static_cast<size_t>(INT_MAX)) {
      in.FailAt(start,
                internal::Concat("protobuf message of ", size,
                                 " bytes exceeds protobuf's 2 GiB limit"));
      return;
    }
    const std::string_view bytes = in.ReadBytesView(size);
    if (!in.ok()) return;
    // ParseFromArray clears the message first and reuses its storage.
    if (!value.ParseFromArray(bytes.data(), static_cast<int>(size))) {
      in.FailAt(start, internal::Concat("invalid protobuf message ",
                                        value.GetTypeName()));
    }
  }
};

}  // namespace eddy
