// Programs the benchmarks run on a cluster (libeddy-bench-jobs.so).
#include <cstdint>
#include <utility>

#include <eddy/eddy.h>

namespace {
using KV = std::pair<int64_t, int64_t>;

// Counts what it receives; a sink that costs next to nothing.
class CountingSink : public eddy::SinkFunction<KV> {
 public:
  void invoke(const KV& kv) override { sum_ += kv.second; }

 private:
  int64_t sum_ = 0;
};
}  // namespace

// fromSequence(1, n) → (v % keys, v) → keyBy → sink: at parallelism 2 on two
// TaskManagers with one slot each, half the records cross TCP.
EDDY_PROGRAM(KeyedThroughput, env, args) {
  int64_t n = args.getLong("n", 50000000);
  int64_t keys = args.getLong("keys", 1000);
  env.fromSequence(1, n)
      .map([keys](const int64_t& v) { return KV(v % keys, v); })
      .name("pairs")
      .keyBy([](const KV& kv) { return kv.first; })
      .addSink(CountingSink(), "count");
  env.execute("Keyed throughput");
}

namespace {
using KeyedPayload = std::pair<int64_t, std::string>;
class PayloadSink : public eddy::SinkFunction<KeyedPayload> {
 public:
  void invoke(const KeyedPayload& kv) override { bytes_ += static_cast<int64_t>(kv.second.size()); }

 private:
  int64_t bytes_ = 0;
};
}  // namespace

// The same shape with a --payload byte string per record: bandwidth-bound.
EDDY_PROGRAM(PayloadThroughput, env, args) {
  int64_t n = args.getLong("n", 2000000);
  int64_t keys = args.getLong("keys", 1000);
  std::string payload(static_cast<size_t>(args.getLong("payload", 1000)), 'p');
  env.fromSequence(1, n)
      .map([keys, payload](const int64_t& v) { return KeyedPayload(v % keys, payload); })
      .name("pairs")
      .keyBy([](const KeyedPayload& kv) { return kv.first; })
      .addSink(PayloadSink(), "count");
  env.execute("Payload throughput");
}
