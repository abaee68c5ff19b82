// Throughput of two pipelines on the embedded cluster, each beside a
// hand-written single-threaded loop doing the same work in the same run:
//   chained:  source → map → filter → sink, all in one task (no serialization);
//   keyed:    source → map → keyBy → sum → sink, across a network edge.
// Usage: pipeline_bench [records=20000000] [keys=1000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "eddy/eddy.h"

namespace {

using Clock = std::chrono::steady_clock;
std::atomic<int64_t> g_sink_sum{0};
std::atomic<int64_t> g_sink_count{0};

// Sums what it sees locally; publishes once at the end (no per-record atomics).
template <class T, class F>
class SummingSink : public eddy::SinkFunction<T> {
 public:
  explicit SummingSink(F value) : value_(value) {}
  void invoke(const T& v) override {
    sum_ += value_(v);
    ++count_;
  }
  void finish() override {
    g_sink_sum += sum_;
    g_sink_count += count_;
  }

 private:
  F value_;
  int64_t sum_ = 0;
  int64_t count_ = 0;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Report(const char* name, int64_t records, double engine_s, double baseline_s, bool agree) {
  double engine_rate = static_cast<double>(records) / engine_s;
  double baseline_rate = static_cast<double>(records) / baseline_s;
  std::printf("%-34s %12.0f %14.0f %9.2f  %s\n", name, engine_rate, baseline_rate,
              baseline_rate / engine_rate, agree ? "results agree" : "RESULTS DIFFER");
}

void Chained(int64_t n) {
  auto start = Clock::now();
  int64_t sum = 0, count = 0;
  for (int64_t v = 0; v < n; ++v) {
    int64_t m = v * 3 + 1;
    if (m % 2 == 0) {
      sum += m;
      ++count;
    }
  }
  double baseline = Seconds(start);

  g_sink_sum = 0;
  g_sink_count = 0;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(1);
  auto value = [](const int64_t& v) { return v; };
  env.fromSequence(0, n - 1)
      .map([](const int64_t& v) { return v * 3 + 1; })
      .filter([](const int64_t& v) { return v % 2 == 0; })
      .addSink(SummingSink<int64_t, decltype(value)>(value));
  start = Clock::now();
  env.execute("chained");
  double engine = Seconds(start);
  Report("chained source>map>filter>sink", n, engine, baseline,
         g_sink_sum == sum && g_sink_count == count);
}

using KV = std::pair<int64_t, int64_t>;

// Keeps each key's latest rolling sum; publishes the sum of the finals.
class FinalSumsSink : public eddy::SinkFunction<KV> {
 public:
  void invoke(const KV& kv) override {
    latest_[kv.first] = kv.second;
    ++count_;
  }
  void finish() override {
    int64_t total = 0;
    for (const auto& [k, v] : latest_) total += v;
    g_sink_sum += total;
    g_sink_count += count_;
  }

 private:
  absl::flat_hash_map<int64_t, int64_t> latest_;
  int64_t count_ = 0;
};

void Keyed(int64_t n, int64_t keys, int parallelism) {
  auto start = Clock::now();
  absl::flat_hash_map<int64_t, int64_t> sums;
  absl::flat_hash_map<int64_t, int64_t> latest;  // what the engine's sink keeps
  for (int64_t v = 0; v < n; ++v) {
    int64_t& s = sums[v % keys];
    s += v;
    latest[v % keys] = s;
  }
  int64_t total = 0;
  for (const auto& [k, v] : latest) total += v;
  double baseline = Seconds(start);

  g_sink_sum = 0;
  g_sink_count = 0;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(parallelism);
  env.fromSequence(0, n - 1)
      .map([keys](const int64_t& v) { return KV(v % keys, v); })
      .keyBy([](const KV& kv) { return kv.first; })
      .sum(1)
      .addSink(FinalSumsSink());
  start = Clock::now();
  env.execute("keyed");
  double engine = Seconds(start);
  std::string name = "keyBy+sum across tasks, p=" + std::to_string(parallelism);
  Report(name.c_str(), n, engine, baseline, g_sink_sum == total && g_sink_count == n);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::atoll(argv[1]) : 20000000;
  int64_t keys = argc > 2 ? std::atoll(argv[2]) : 1000;
  std::printf("%lld records, %lld keys; rates in records/s; ratio = baseline / engine\n",
              static_cast<long long>(n), static_cast<long long>(keys));
  std::printf("%-34s %12s %14s %9s\n", "pipeline", "engine", "hand-written", "ratio");
  Chained(n);
  Keyed(n / 4, keys, 1);
  Keyed(n / 4, keys, 2);
  return 0;
}
