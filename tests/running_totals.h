// The keyed function the fault-tolerance jobs share (test job libraries only).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <eddy/eddy.h>

namespace eddy_test {

using KV = std::pair<int64_t, int64_t>;

// Running count and sum per key, in keyed ValueState: every input record
// yields "key,count,sum", so a lost or replayed record changes the output.
class RunningTotals : public eddy::KeyedProcessFunction<int64_t, KV, std::string> {
 public:
  void open(eddy::RuntimeContext& ctx) override {
    totals_ = &ctx.getState(eddy::ValueStateDescriptor<KV>("totals"));
  }
  void processElement(const KV& v, Context&, eddy::Collector<std::string>& out) override {
    KV t = totals_->value().value_or(KV(0, 0));
    t.first += 1;
    t.second += v.second;
    totals_->update(t);
    out.collect(std::to_string(v.first) + "," + std::to_string(t.first) + "," + std::to_string(t.second));
  }

 private:
  eddy::ValueState<KV>* totals_ = nullptr;
};

}  // namespace eddy_test
