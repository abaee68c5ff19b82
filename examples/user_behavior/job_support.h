// What every user-behaviour job shares: reading a data set (CSV lines with
// malformed ones counted and skipped, or the seeded generator), event time,
// ranking, and writing named result streams.
#pragma once

#include <absl/status/statusor.h>
#include <eddy/eddy.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "generators.h"
#include "records.h"

namespace user_behavior {

// A data set the jobs read: how to parse one line of its file and how to
// generate it.
template <class T>
struct DataSet {
  std::string name;
  absl::StatusOr<T> (*parse)(std::string_view line);
  std::vector<T> (*generate)(int64_t count, uint64_t seed);
  int64_t default_count;
  int64_t max_delay_ms;  // the generator's out-of-orderness, the default watermark bound
};

DataSet<UserBehavior> UserBehaviorData();
DataSet<ApacheLogEvent> ApacheLogData();
DataSet<AdClickEvent> AdClickData();
DataSet<MarketingUserBehavior> MarketingData();
DataSet<LoginEvent> LoginData();
DataSet<OrderEvent> OrderData();

// Parses lines into records. A malformed line is skipped and counted in the
// numSkippedRecords metric; the first ten of each subtask are reported on
// stderr with the reason, after that at most one report per second.
template <class T>
class ParseOrSkip : public eddy::RichFlatMapFunction<std::string, T> {
 public:
  explicit ParseOrSkip(DataSet<T> data_set) : data_set_(std::move(data_set)) {}
  void open(eddy::RuntimeContext& context) override {
    skipped_ = &context.getMetricGroup().counter("numSkippedRecords");
  }
  void flatMap(const std::string& line, eddy::Collector<T>& out) override {
    absl::StatusOr<T> record = data_set_.parse(line);
    if (record.ok()) {
      out.collect(*record);
      return;
    }
    skipped_->inc();
    const auto now = std::chrono::steady_clock::now();
    if (skipped_->getCount() <= kReportedInFull || now - last_report_ >= std::chrono::seconds(1)) {
      last_report_ = now;
      std::cerr << data_set_.name << ": skipping malformed line " << skipped_->getCount() << " of this reader ("
                << record.status().message() << "): '" << line.substr(0, 200) << "'\n";
    }
  }

 private:
  static constexpr int64_t kReportedInFull = 10;
  DataSet<T> data_set_;
  eddy::Counter* skipped_ = nullptr;
  std::chrono::steady_clock::time_point last_report_{};
};

// The records of `data_set` in file (or generation) order with event-time
// timestamps, read by one subtask so that their order, and so every result,
// is the same at any parallelism:
//   --input PATH   a file or directory of lines (malformed lines are skipped)
//   otherwise      the generator: --events N (default per data set), --seed S (42)
// Watermarks trail the largest timestamp by --out-of-orderness-ms (default:
// the generator's bound) and are emitted after every record that raises them.
template <class T>
eddy::SingleOutputStreamOperator<T> ReadEvents(eddy::StreamExecutionEnvironment& env, const eddy::ParameterTool& args,
                                               const DataSet<T>& data_set);

// Ranks (name, count) pairs: larger counts first, ties by name; at most `n`.
template <class Name>
std::vector<std::pair<Name, int64_t>> TopN(std::vector<std::pair<Name, int64_t>> counts, size_t n) {
  std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (counts.size() > n) counts.resize(n);
  return counts;
}

// Counts the elements of a window.
template <class T>
class CountAggregate : public eddy::AggregateFunction<T, int64_t, int64_t> {
 public:
  int64_t createAccumulator() override { return 0; }
  int64_t add(const T&, int64_t count) override { return count + 1; }
  int64_t getResult(const int64_t& count) override { return count; }
  int64_t merge(int64_t a, int64_t b) override { return a + b; }
};

// Turns a window's count into OUT{key, window end, count}.
template <class K, class OUT>
class WithWindowEnd : public eddy::ProcessWindowFunction<int64_t, OUT, K, eddy::TimeWindow> {
 public:
  using Context = typename eddy::ProcessWindowFunction<int64_t, OUT, K, eddy::TimeWindow>::Context;
  void process(const K& key, Context& ctx, const std::vector<int64_t>& count, eddy::Collector<OUT>& out) override {
    out.collect(OUT{key, ctx.window().getEnd(), count.front()});
  }
};

// Writes `stream` to DIR/<name>/ (part files) if --output DIR is given, or
// prints it prefixed with "<name>: ".
void WriteResults(eddy::DataStream<std::string> stream, const eddy::ParameterTool& args, const std::string& name);

// A watermark after every record that raises the largest timestamp:
// largest - bound - 1. Unlike periodic watermarks, where they fall among the
// records depends on the records alone, so which records are late is the same
// on every run.
template <class T>
class PunctuatedBoundedOutOfOrderness : public eddy::WatermarkGenerator<T> {
 public:
  explicit PunctuatedBoundedOutOfOrderness(int64_t bound_ms) : bound_ms_(bound_ms) {}
  void onEvent(const T&, int64_t timestamp, eddy::WatermarkOutput& output) override {
    if (timestamp <= largest_) return;
    largest_ = timestamp;
    output.emitWatermark(largest_ - bound_ms_ - 1);
  }
  void onPeriodicEmit(eddy::WatermarkOutput&) override {}

 private:
  int64_t bound_ms_;
  int64_t largest_ = std::numeric_limits<int64_t>::min();
};

template <class T>
eddy::SingleOutputStreamOperator<T> ReadEvents(eddy::StreamExecutionEnvironment& env, const eddy::ParameterTool& args,
                                               const DataSet<T>& data_set) {
  std::optional<eddy::SingleOutputStreamOperator<T>> records;
  if (args.has("input")) {
    records = env.readTextFile(args.get("input"))
                  .setParallelism(1)
                  .name(data_set.name + " file")
                  .uid(data_set.name + "-file")
                  .flatMap(ParseOrSkip<T>(data_set))
                  .setParallelism(1)
                  .name("parse " + data_set.name)
                  .uid("parse-" + data_set.name);
  } else {
    auto generated = std::make_shared<const std::vector<T>>(data_set.generate(
        args.getLong("events", data_set.default_count), static_cast<uint64_t>(args.getLong("seed", 42))));
    records = env.addSource(eddy::DataGeneratorSource<T>([generated](int64_t i) { return (*generated)[i]; },
                                                         static_cast<int64_t>(generated->size())),
                            data_set.name + " generator")
                  .setParallelism(1)
                  .uid(data_set.name + "-generator");
  }
  const int64_t bound = args.getLong("out-of-orderness-ms", data_set.max_delay_ms);
  if (bound < 0)
    throw std::invalid_argument("--out-of-orderness-ms must not be negative, got " + std::to_string(bound));
  return records
      ->assignTimestampsAndWatermarks(eddy::WatermarkStrategy<T>::forGenerator([bound] {
                                        return std::make_unique<PunctuatedBoundedOutOfOrderness<T>>(bound);
                                      }).withTimestampAssigner([](const T& r, int64_t) { return r.timestamp; }))
      .setParallelism(1)
      .name("event time")
      .uid(data_set.name + "-event-time");
}

}  // namespace user_behavior
