// Windowed throughput on the embedded cluster, for both state backends, beside
// a hand-written single-threaded loop doing the same windowing in the same run:
//   tumbling: keyBy → 1 s tumbling event-time windows → count per key and window;
//   sliding:  keyBy → 4 s windows sliding by 1 s → sum via an AggregateFunction.
// Records carry event time (1 record per 10 µs of event time, in order), keys
// spread over `keys`. Rates are records/s and records/s per core of CPU time.
// Usage: window_bench [records=2000000] [keys=1000]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "eddy/eddy.h"

namespace {

using Clock = std::chrono::steady_clock;
using Event = std::pair<int64_t, int64_t>;  // key, timestamp (ms*100: 10 µs units → ms below)
std::atomic<int64_t> g_results{0};
std::atomic<int64_t> g_checksum{0};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class CountingSink : public eddy::SinkFunction<std::pair<int64_t, int64_t>> {
 public:
  void invoke(const std::pair<int64_t, int64_t>& v) override {
    ++n_;
    sum_ += v.second;
  }
  void finish() override {
    g_results += n_;
    g_checksum += sum_;
  }

 private:
  int64_t n_ = 0, sum_ = 0;
};

class SumAgg : public eddy::AggregateFunction<Event, int64_t, int64_t> {
 public:
  int64_t createAccumulator() override { return 0; }
  int64_t add(const Event& e, int64_t acc) override { return acc + e.first; }
  int64_t getResult(const int64_t& acc) override { return acc; }
  int64_t merge(int64_t a, int64_t b) override { return a + b; }
};

class CountAgg : public eddy::AggregateFunction<Event, int64_t, int64_t> {
 public:
  int64_t createAccumulator() override { return 0; }
  int64_t add(const Event&, int64_t acc) override { return acc + 1; }
  int64_t getResult(const int64_t& acc) override { return acc; }
  int64_t merge(int64_t a, int64_t b) override { return a + b; }
};

class KeyAndResult : public eddy::ProcessWindowFunction<int64_t, std::pair<int64_t, int64_t>, int64_t, eddy::TimeWindow> {
 public:
  void process(const int64_t& key, Context&, const std::vector<int64_t>& r,
               eddy::Collector<std::pair<int64_t, int64_t>>& out) override {
    out.collect({key, r.front()});
  }
};

int64_t TimeOf(int64_t i) { return i / 100; }  // ms: 100 records per ms

void Report(const char* name, const char* backend, int64_t n, double s, double cpu, double base_s, bool agree) {
  std::printf("%-10s %-8s %12.0f %14.0f %14.0f %8.1f  %s\n", name, backend, n / s, n / cpu, n / base_s,
              (n / base_s) / (n / s), agree ? "results agree" : "RESULTS DIFFER");
}

void Run(const std::string& backend, int64_t n, int64_t keys, bool sliding) {
  // Hand-written reference: the same windows in a hash map, fired in time order.
  auto start = Clock::now();
  int64_t ref_results = 0, ref_checksum = 0;
  {
    std::map<int64_t, absl::flat_hash_map<int64_t, int64_t>> windows;  // window start → key → value
    const int64_t size = sliding ? 4000 : 1000, slide = 1000;
    for (int64_t i = 0; i < n; ++i) {
      int64_t key = i % keys, ts = TimeOf(i);
      for (int64_t s = ts - ts % slide; s > ts - size; s -= slide) {
        if (sliding) windows[s][key] += key; else windows[s][key] += 1;
      }
      // Fire windows that ended (watermark = ts).
      while (!windows.empty() && windows.begin()->first + size - 1 < ts) {
        for (const auto& [k, v] : windows.begin()->second) {
          ++ref_results;
          ref_checksum += v;
        }
        windows.erase(windows.begin());
      }
    }
    for (const auto& [s, m] : windows) {
      for (const auto& [k, v] : m) {
        ++ref_results;
        ref_checksum += v;
      }
    }
  }
  double base_s = std::chrono::duration<double>(Clock::now() - start).count();

  g_results = 0;
  g_checksum = 0;
  eddy::StreamExecutionEnvironment env({{"state.backend.type", backend}});
  env.setParallelism(1);
  auto events = env.fromSequence(0, n - 1)
                    .map([keys](const int64_t& i) { return Event(i % keys, TimeOf(i)); })
                    .assignTimestampsAndWatermarks(
                        eddy::WatermarkStrategy<Event>::forMonotonousTimestamps().withTimestampAssigner(
                            [](const Event& e, int64_t) { return e.second; }))
                    .keyBy([](const Event& e) { return e.first; });
  using std::chrono::milliseconds;
  if (sliding) {
    events.window(eddy::SlidingEventTimeWindows::of(milliseconds(4000), milliseconds(1000)))
        .aggregate(SumAgg(), KeyAndResult())
        .addSink(CountingSink());
  } else {
    events.window(eddy::TumblingEventTimeWindows::of(milliseconds(1000)))
        .aggregate(CountAgg(), KeyAndResult())
        .addSink(CountingSink());
  }
  double cpu0 = CpuSeconds();
  start = Clock::now();
  env.execute("window bench");
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = CpuSeconds() - cpu0;
  Report(sliding ? "sliding" : "tumbling", backend.c_str(), n, s, cpu, base_s,
         g_results == ref_results && g_checksum == ref_checksum);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::atoll(argv[1]) : 2000000;
  int64_t keys = argc > 2 ? std::atoll(argv[2]) : 1000;
  std::printf("%lld records, %lld keys, parallelism 1; ratio = hand-written / engine records/s\n",
              static_cast<long long>(n), static_cast<long long>(keys));
  std::printf("%-10s %-8s %12s %14s %14s %8s\n", "windows", "backend", "records/s", "rec/s per core",
              "hand-written", "ratio");
  for (const char* backend : {"hashmap", "rocksdb"}) {
    Run(backend, n, keys, false);
    Run(backend, n, keys, true);
  }
  return 0;
}
