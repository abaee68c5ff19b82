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

namespace {
// Keeps a payload of --payload bytes per key in keyed ValueState, rewritten
// by every record of that key.
class PayloadState : public eddy::KeyedProcessFunction<int64_t, KV, int64_t> {
 public:
  explicit PayloadState(int64_t bytes) : bytes_(bytes) {}
  void open(eddy::RuntimeContext& ctx) override {
    state_ = &ctx.getState(eddy::ValueStateDescriptor<std::string>("payload"));
  }
  void processElement(const KV& kv, Context&, eddy::Collector<int64_t>& out) override {
    // Pseudo-random bytes, so that RocksDB's compression does not shrink the state.
    value_.resize(static_cast<size_t>(bytes_));
    uint64_t x = static_cast<uint64_t>(kv.second) * 0x9E3779B97F4A7C15ull + 1;
    for (char& c : value_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    state_->update(value_);
    if (kv.second % 1000000 == 0) out.collect(kv.second);
  }

 private:
  int64_t bytes_;
  std::string value_;
  eddy::ValueState<std::string>* state_ = nullptr;
};
}  // namespace

// Stateful throughput and checkpoint cost: records 1..n; record v < keys
// creates key v, later records rewrite one of the first --hot keys (so after
// the first pass only a small part of the state changes).
EDDY_PROGRAM(StatefulPayload, env, args) {
  const int64_t n = args.getLong("n", 20000000);
  const int64_t keys = args.getLong("keys", 100000);
  const int64_t hot = args.getLong("hot", keys);
  const int64_t payload = args.getLong("payload", 100);
  env.fromSequence(0, n - 1)
      .map([keys, hot](const int64_t& v) { return KV(v < keys ? v : v % hot, v); })
      .name("pairs")
      .keyBy([](const KV& kv) { return kv.first; })
      .process(PayloadState(payload))
      .name("state")
      .addSink([](const int64_t&) {}, "discard");
  env.execute("Stateful payload");
}
