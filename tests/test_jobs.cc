// Job programs used only by the end-to-end tests (libeddy-test-jobs.so).
#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>
#include <utility>

#include <eddy/eddy.h>

namespace {
using KV = std::pair<int64_t, int64_t>;
}

// An endless source feeding a deliberately slow sink (1 ms per record per
// subtask) through a keyBy: backpressure must throttle the source.
EDDY_PROGRAM(Throttled, env, args) {
  env.fromSequence(0, std::numeric_limits<int64_t>::max())
      .name("numbers")
      .map([](const int64_t& v) { return KV(v % 100, v); })
      .keyBy([](const KV& kv) { return kv.first; })
      .addSink([](const KV&) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }, "slow");
  env.execute("Throttled");
}

// Keyed sums of [1, n] by v % 7, for checking records that cross TaskManagers.
EDDY_PROGRAM(KeyedSums, env, args) {
  int64_t n = args.getLong("n", 1000000);
  env.fromSequence(1, n)
      .map([](const int64_t& v) { return KV(v % 7, v); })
      .keyBy([](const KV& kv) { return kv.first; })
      .sum(1)
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("Keyed sums");
}
