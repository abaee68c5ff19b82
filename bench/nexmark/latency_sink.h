// A sink that discards results and records their end-to-end latency: now
// minus the result's created_us (when the source emitted the newest event it
// depends on). Latencies go into a log-linear histogram (8 buckets per power
// of two, so within 12.5%), written to <dir>/latency-<subtask>-<attempt>.txt
// as lines "<lower us> <upper us> <count>" when the input ends and at most
// every 200 ms while results arrive (so a cancelled job leaves its figures);
// run_nexmark.py merges the subtasks' files into percentiles.
#pragma once

#include <eddy/eddy.h>

#include <bit>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "generator.h"

namespace nexmark {

class LatencyHistogram {
 public:
  void Add(int64_t micros) {
    const size_t i = Bucket(static_cast<uint64_t>(std::max<int64_t>(micros, 0)));
    if (i >= counts_.size()) counts_.resize(i + 1);
    ++counts_[i];
  }
  // Writes the non-empty buckets; throws std::runtime_error naming the file.
  void WriteTo(const std::string& path) const {
    std::ofstream out(path);
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] != 0) out << Lower(i) << ' ' << Lower(i + 1) << ' ' << counts_[i] << '\n';
    }
    if (!out) throw std::runtime_error("cannot write the latency file " + path);
  }

 private:
  static constexpr int kSubBits = 3;                  // 8 sub-buckets per power of two
  static constexpr uint64_t kLinear = 2 << kSubBits;  // below 16 µs: one bucket per µs
  static size_t Bucket(uint64_t v) {
    if (v < kLinear) return v;
    const int e = std::bit_width(v) - 1;  // >= 4
    const uint64_t sub = (v >> (e - kSubBits)) & ((1 << kSubBits) - 1);
    return kLinear + (e - kSubBits - 1) * (1 << kSubBits) + sub;
  }
  static uint64_t Lower(size_t i) {
    if (i < kLinear) return i;
    const size_t e = (i - kLinear) / (1 << kSubBits) + kSubBits + 1;
    const uint64_t sub = (i - kLinear) % (1 << kSubBits);
    return ((1ull << kSubBits) + sub) << (e - kSubBits);
  }
  std::vector<int64_t> counts_;
};

template <class R>
class LatencySink : public eddy::RichSinkFunction<R> {
 public:
  // `dir` empty: latencies are not recorded.
  explicit LatencySink(std::string dir) : dir_(std::move(dir)) {}
  void invoke(const R& result) override {
    if (dir_.empty()) return;
    const int64_t now = NowMicros();
    histogram_.Add(now - result.created_us);
    if (now - last_write_us_ >= kWriteIntervalUs) {
      Write();
      last_write_us_ = now;
    }
  }
  void finish() override {
    if (!dir_.empty()) Write();
  }

 private:
  static constexpr int64_t kWriteIntervalUs = 200'000;
  void Write() {
    eddy::RuntimeContext& ctx = this->getRuntimeContext();
    histogram_.WriteTo(dir_ + "/latency-" + std::to_string(ctx.getIndexOfThisSubtask()) + "-" +
                       std::to_string(ctx.getAttemptNumber()) + ".txt");
  }
  std::string dir_;
  LatencyHistogram histogram_;
  int64_t last_write_us_ = 0;
};

}  // namespace nexmark
