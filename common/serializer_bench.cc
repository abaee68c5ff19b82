// Cost of TypeSerializer on the per-record hot path: serialize into a reused
// buffer and deserialize into a reused value, as NetworkOutput and
// RecordDeserializer do between operator chains. One record per iteration, so
// the Time column and the time/record counter are ns/record.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "eddy/serializer.h"

namespace bench {

struct Event {
  int64_t user_id = 0;
  std::string page;
  double dwell_seconds = 0;
  int32_t status = 0;
};
EDDY_FIELDS(Event, user_id, page, dwell_seconds, status);

}  // namespace bench

namespace eddy {
namespace {

// Round-trips records drawn from a small pool so the branch predictor does
// not see one constant value.
template <class T>
void RoundTrip(benchmark::State& state, const std::vector<T>& records) {
  std::string buffer;
  T decoded{};
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const T& record = records[i++ % records.size()];
    buffer.clear();
    DataOutput out(&buffer);
    TypeSerializer<T>::Serialize(record, out);
    DataInput in(buffer);
    TypeSerializer<T>::Deserialize(in, decoded);
    if (!in.ok()) state.SkipWithError("deserialization failed");
    bytes += static_cast<int64_t>(buffer.size());
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
  // Shown as seconds with an SI prefix, e.g. "15.8n" = 15.8 ns/record.
  state.counters["time/record"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetBytesProcessed(bytes);
}

void BM_PairStringInt64(benchmark::State& state) {
  std::vector<std::pair<std::string, int64_t>> records;
  const char* words[] = {"flink", "stream", "checkpoint", "watermark",
                         "a-rather-long-word-that-exceeds-sso"};
  for (int i = 0; i < 64; ++i) {
    records.emplace_back(words[i % 5], int64_t{i} * 7919 - 100000);
  }
  RoundTrip(state, records);
}
BENCHMARK(BM_PairStringInt64);

void BM_EddyFieldsStruct4(benchmark::State& state) {
  std::vector<bench::Event> records;
  for (int i = 0; i < 64; ++i) {
    records.push_back(bench::Event{int64_t{i} * 1000003,
                                   "/products/item-" + std::to_string(i),
                                   i * 0.25, i % 5 == 0 ? 404 : 200});
  }
  RoundTrip(state, records);
}
BENCHMARK(BM_EddyFieldsStruct4);

}  // namespace
}  // namespace eddy
