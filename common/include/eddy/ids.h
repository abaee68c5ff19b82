// Identifiers: 16 random bytes printed as 32 lower-case hex characters, as Flink's
// JobID / ExecutionAttemptID are.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace eddy {

class Id16 {
 public:
  Id16() = default;
  // A fresh random id.
  static Id16 Generate();
  // A deterministic id derived from a string (for vertex ids computed from uids).
  static Id16 FromHash(std::string_view text);
  // Parses 32 hex characters; anything else is an InvalidArgument error.
  static absl::StatusOr<Id16> FromHex(std::string_view hex);

  std::string ToHex() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  bool operator==(const Id16&) const = default;
  bool IsZero() const;

 private:
  std::array<uint8_t, 16> bytes_{};
};

using JobId = Id16;

}  // namespace eddy
