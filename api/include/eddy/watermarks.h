// Event time: WatermarkStrategy (timestamp assigner + watermark generator +
// idleness) and assignTimestampsAndWatermarks' operator. Watermarks are emitted
// periodically, every pipeline.auto-watermark-interval (200 ms by default).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "eddy/functions.h"
#include "eddy/internal/runtime_interfaces.h"

namespace eddy {

// Where a generator emits watermarks.
class WatermarkOutput {
 public:
  virtual ~WatermarkOutput() = default;
  virtual void emitWatermark(int64_t watermark) = 0;
  // No events for a while: downstream stops waiting for this input.
  virtual void markIdle() = 0;
  virtual void markActive() = 0;
};

template <class T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void onEvent(const T& event, int64_t timestamp, WatermarkOutput& output) = 0;
  virtual void onPeriodicEmit(WatermarkOutput& output) = 0;
};

// Watermark = max timestamp seen - bound - 1: events up to `bound` late are on time.
template <class T>
class BoundedOutOfOrdernessWatermarks : public WatermarkGenerator<T> {
 public:
  explicit BoundedOutOfOrdernessWatermarks(std::chrono::milliseconds bound)
      : bound_(bound.count()), max_(std::numeric_limits<int64_t>::min() + bound_ + 1) {
    if (bound_ < 0) throw std::invalid_argument("the out-of-orderness bound must not be negative");
  }
  void onEvent(const T&, int64_t timestamp, WatermarkOutput&) override { max_ = std::max(max_, timestamp); }
  void onPeriodicEmit(WatermarkOutput& output) override { output.emitWatermark(max_ - bound_ - 1); }

 private:
  int64_t bound_;
  int64_t max_;
};

template <class T>
class WatermarkStrategy {
 public:
  using TimestampAssigner = std::function<int64_t(const T& event, int64_t record_timestamp)>;
  using GeneratorFactory = std::function<std::unique_ptr<WatermarkGenerator<T>>()>;

  static WatermarkStrategy forBoundedOutOfOrderness(std::chrono::milliseconds bound) {
    if (bound.count() < 0) {
      throw std::invalid_argument("forBoundedOutOfOrderness: the bound must not be negative, got " +
                                  std::to_string(bound.count()) + " ms");
    }
    return WatermarkStrategy([bound] { return std::make_unique<BoundedOutOfOrdernessWatermarks<T>>(bound); });
  }
  // Timestamps never decrease: the watermark is the latest timestamp - 1.
  static WatermarkStrategy forMonotonousTimestamps() {
    return forBoundedOutOfOrderness(std::chrono::milliseconds(0));
  }
  static WatermarkStrategy forGenerator(GeneratorFactory factory) { return WatermarkStrategy(std::move(factory)); }
  // Timestamps only (e.g. for processing-time pipelines that still need them).
  static WatermarkStrategy noWatermarks() {
    struct None : WatermarkGenerator<T> {
      void onEvent(const T&, int64_t, WatermarkOutput&) override {}
      void onPeriodicEmit(WatermarkOutput&) override {}
    };
    return WatermarkStrategy([] { return std::make_unique<None>(); });
  }

  // Takes each event's timestamp from the event (the second argument is the
  // timestamp the record already had, or INT64_MIN).
  WatermarkStrategy withTimestampAssigner(TimestampAssigner assigner) const {
    WatermarkStrategy copy = *this;
    copy.assigner_ = std::move(assigner);
    return copy;
  }
  // After `timeout` without events the input is marked idle.
  WatermarkStrategy withIdleness(std::chrono::milliseconds timeout) const {
    if (timeout.count() <= 0) throw std::invalid_argument("withIdleness: the timeout must be positive");
    WatermarkStrategy copy = *this;
    copy.idle_timeout_ = timeout.count();
    return copy;
  }

  const TimestampAssigner& assigner() const { return assigner_; }
  const GeneratorFactory& factory() const { return factory_; }
  int64_t idle_timeout() const { return idle_timeout_; }

 private:
  explicit WatermarkStrategy(GeneratorFactory factory) : factory_(std::move(factory)) {}
  GeneratorFactory factory_;
  TimestampAssigner assigner_;
  int64_t idle_timeout_ = 0;
};

namespace internal {

template <class T>
class TimestampsAndWatermarksOperator final : public StreamOperatorBase, public Input<T>, public WatermarkOutput {
 public:
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy) : strategy_(std::move(strategy)) {}
  void SetOutput(OutputBase* output) override { out_ = static_cast<Output<T>*>(output); }
  InputBase* GetInput(int index) override { return index == 0 ? this : nullptr; }
  void Open(OperatorContext& ctx) override {
    context_ = &ctx;
    generator_ = strategy_.factory()();
    auto it = ctx.job_config().find("pipeline.auto-watermark-interval");
    interval_ = it == ctx.job_config().end() ? 200 : ParseMillis(it->second);
    last_event_ = ctx.CurrentProcessingTime();
    if (interval_ > 0) Schedule();
  }
  void ProcessElement(const T& value, int64_t timestamp) override {
    int64_t ts = strategy_.assigner() ? strategy_.assigner()(value, timestamp) : timestamp;
    if (ts == kNoTimestamp) {
      throw std::runtime_error(
          "a record has no timestamp: give the WatermarkStrategy a timestamp assigner "
          "(withTimestampAssigner) or emit records with collectWithTimestamp");
    }
    if (strategy_.idle_timeout() > 0) last_event_ = context_->CurrentProcessingTime();
    if (idle_) markActive();
    out_->Collect(value, ts);
    generator_->onEvent(value, ts, *this);  // a punctuated watermark follows its record
  }
  // Watermarks from upstream are replaced by ours, except the final one.
  void ProcessWatermark(int64_t watermark) override {
    if (watermark == kMaxWatermark) emitWatermark(kMaxWatermark);
  }
  void Finish() override { emitWatermark(kMaxWatermark); }

  void emitWatermark(int64_t watermark) override {
    if (watermark <= emitted_) return;
    emitted_ = watermark;
    if (idle_) markActive();
    out_->EmitWatermark(watermark);
  }
  void markIdle() override {
    if (idle_) return;
    idle_ = true;
    out_->EmitWatermarkStatus(true);
  }
  void markActive() override {
    if (!idle_) return;
    idle_ = false;
    out_->EmitWatermarkStatus(false);
  }

 private:
  static int64_t ParseMillis(const std::string& text) {
    // Accepts "200", "200 ms", "1 s"; anything else keeps the default.
    try {
      size_t pos = 0;
      int64_t v = std::stoll(text, &pos);
      std::string unit = text.substr(pos);
      unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
      if (unit.empty() || unit == "ms") return v;
      if (unit == "s") return v * 1000;
    } catch (const std::exception&) {
    }
    return 200;
  }
  void Schedule() {
    context_->RegisterProcessingTimer(context_->CurrentProcessingTime() + interval_, [this](int64_t now) {
      if (strategy_.idle_timeout() > 0 && now - last_event_ >= strategy_.idle_timeout()) markIdle();
      if (!idle_) generator_->onPeriodicEmit(*this);
      Schedule();
    });
  }

  WatermarkStrategy<T> strategy_;
  std::unique_ptr<WatermarkGenerator<T>> generator_;
  Output<T>* out_ = nullptr;
  OperatorContext* context_ = nullptr;
  int64_t interval_ = 200;
  int64_t emitted_ = kNoTimestamp;
  int64_t last_event_ = 0;
  bool idle_ = false;
};

}  // namespace internal
}  // namespace eddy
