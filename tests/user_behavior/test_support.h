// Running a user-behaviour pipeline on the embedded cluster from a list of
// records, and collecting its result lines.
#pragma once

#include <eddy/eddy.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "job_support.h"

namespace user_behavior::testing {

// Result lines by stream name, filled by the sinks of Collect().
class Results {
 public:
  static void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.clear();
  }
  static void Add(const std::string& stream, const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_[stream].insert(line);
  }
  // The lines of `stream`, sorted (the order across subtasks is not fixed).
  static std::multiset<std::string> Of(const std::string& stream) {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_[stream];
  }

 private:
  static inline std::mutex mu_;
  static inline std::map<std::string, std::multiset<std::string>> lines_;
};

inline void Collect(eddy::DataStream<std::string> stream, const std::string& name) {
  stream.addSink([name](const std::string& line) { Results::Add(name, line); });
}

// `records` in this order, from one subtask, with punctuated watermarks
// `bound_ms` behind the largest timestamp (as ReadEvents gives them).
template <class T>
eddy::DataStream<T> EventTimeStream(eddy::StreamExecutionEnvironment& env, std::vector<T> records, int64_t bound_ms) {
  return env.fromCollection(std::move(records))
      .assignTimestampsAndWatermarks(eddy::WatermarkStrategy<T>::forGenerator([bound_ms] {
                                       return std::make_unique<PunctuatedBoundedOutOfOrderness<T>>(bound_ms);
                                     }).withTimestampAssigner([](const T& r, int64_t) { return r.timestamp; }))
      .setParallelism(1);
}

}  // namespace user_behavior::testing
