// User metrics: counters a function registers through
// getRuntimeContext().getMetricGroup(). Every subtask reports its counters to
// the JobManager with its heartbeats; the REST API serves them per vertex
// (/jobs/:jid/vertices/:vid/metrics and .../subtasks/metrics).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace eddy {

// A count that only grows. inc() may be called from any thread.
class Counter {
 public:
  void inc(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t getCount() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// The metrics of one subtask.
class MetricGroup {
 public:
  // The counter named `name`, created on first use; the same name gives the
  // same counter. Names are what the REST API reports (e.g. "numSkippedRecords").
  Counter& counter(const std::string& name) {
    std::lock_guard<std::mutex> guard(mu_);
    auto& slot = counters_[name];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
  }

  // ---- runtime ----
  // Every counter with its current count, by name.
  std::vector<std::pair<std::string, int64_t>> Counters() const {
    std::lock_guard<std::mutex> guard(mu_);
    std::vector<std::pair<std::string, int64_t>> out;
    out.reserve(counters_.size());
    for (const auto& [name, c] : counters_) out.emplace_back(name, c->getCount());
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
};

}  // namespace eddy
