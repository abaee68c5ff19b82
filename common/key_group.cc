// The out-of-line parts of key-group math: validation and formatting, which
// are called when jobs are built and logged, not per record.
#include "eddy/key_group.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace eddy {

std::string KeyGroupRange::ToString() const {
  return absl::StrFormat("KeyGroupRange{startKeyGroup=%d, endKeyGroup=%d}",
                         start, end);
}

absl::Status CheckParallelism(int parallelism, int max_parallelism) {
  if (max_parallelism < 1 || max_parallelism > kUpperBoundMaxParallelism) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid max parallelism %d: it must be between 1 and %d "
        "(pipeline.max-parallelism)",
        max_parallelism, kUpperBoundMaxParallelism));
  }
  if (parallelism < 1 || parallelism > max_parallelism) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid parallelism %d: it must be between 1 and the max parallelism "
        "%d; raise pipeline.max-parallelism to run with more instances",
        parallelism, max_parallelism));
  }
  return absl::OkStatus();
}

int ComputeDefaultMaxParallelism(int parallelism) {
  // 64-bit so that huge parallelisms clamp instead of overflowing.
  const int64_t wanted = static_cast<int64_t>(std::max(parallelism, 0)) +
                         std::max(parallelism, 0) / 2;
  const uint64_t rounded =
      std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(wanted, 1)));
  return static_cast<int>(std::clamp<uint64_t>(
      rounded, kDefaultLowerBoundMaxParallelism, kUpperBoundMaxParallelism));
}

}  // namespace eddy
