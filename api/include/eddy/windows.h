// Windows: the window types, assigners (tumbling, sliding, session, global, in
// event and processing time), triggers and evictors of the DataStream API.
// The WindowOperator that drives them is in eddy/internal/window_operator.h.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/functions.h"
#include "eddy/serializer.h"

namespace eddy {

// [start, end): a window of time. Elements with timestamps up to end - 1 belong to it.
struct TimeWindow {
  int64_t start = 0;
  int64_t end = 0;
  int64_t maxTimestamp() const { return end - 1; }
  int64_t getStart() const { return start; }
  int64_t getEnd() const { return end; }
  bool intersects(const TimeWindow& o) const { return start <= o.end && end >= o.start; }
  TimeWindow cover(const TimeWindow& o) const { return {std::min(start, o.start), std::max(end, o.end)}; }
  bool operator==(const TimeWindow&) const = default;
  bool operator<(const TimeWindow& o) const { return start != o.start ? start < o.start : end < o.end; }
  // The start of the window of `size` (shifted by `offset`) holding `timestamp`.
  static int64_t getWindowStartWithOffset(int64_t timestamp, int64_t offset, int64_t size) {
    int64_t remainder = (timestamp - offset) % size;
    if (remainder < 0) remainder += size;
    return timestamp - remainder;
  }
};
EDDY_FIELDS(TimeWindow, start, end);

// The one window of GlobalWindows: it never ends on its own.
struct GlobalWindow {
  int64_t maxTimestamp() const { return std::numeric_limits<int64_t>::max(); }
  bool operator==(const GlobalWindow&) const = default;
  bool operator<(const GlobalWindow&) const { return false; }
  uint8_t tag = 0;
};
EDDY_FIELDS(GlobalWindow, tag);

enum class TriggerResult { CONTINUE, FIRE, PURGE, FIRE_AND_PURGE };
inline bool IsFire(TriggerResult r) { return r == TriggerResult::FIRE || r == TriggerResult::FIRE_AND_PURGE; }
inline bool IsPurge(TriggerResult r) { return r == TriggerResult::PURGE || r == TriggerResult::FIRE_AND_PURGE; }

// What a trigger may do: timers for its window and per-window counters.
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  virtual int64_t getCurrentWatermark() = 0;
  virtual int64_t getCurrentProcessingTime() = 0;
  virtual void registerEventTimeTimer(int64_t time) = 0;
  virtual void registerProcessingTimeTimer(int64_t time) = 0;
  virtual void deleteEventTimeTimer(int64_t time) = 0;
  virtual void deleteProcessingTimeTimer(int64_t time) = 0;
  // A named int64 kept per key and window (e.g. CountTrigger's count).
  virtual int64_t getCounter(const std::string& name) = 0;
  virtual void setCounter(const std::string& name, int64_t value) = 0;
  virtual void clearCounter(const std::string& name) = 0;
};

// When a window's contents are emitted (FIRE) and/or dropped (PURGE).
// One trigger object is shared by every window and subtask: keep per-window
// state in the TriggerContext's counters, not in members.
template <class T, class W>
class Trigger {
 public:
  virtual ~Trigger() = default;
  virtual TriggerResult onElement(const T& element, int64_t timestamp, const W& window, TriggerContext& ctx) = 0;
  virtual TriggerResult onEventTime(int64_t time, const W& window, TriggerContext& ctx) = 0;
  virtual TriggerResult onProcessingTime(int64_t time, const W& window, TriggerContext& ctx) = 0;
  // The window is gone: delete its timers and counters.
  virtual void clear(const W& window, TriggerContext& ctx) = 0;
  // Session windows: `window` replaced merged ones (their counters are merged
  // by the operator; re-register timers here).
  virtual bool canMerge() const { return false; }
  virtual void onMerge(const W& window, TriggerContext& ctx) {}
};

// Fires once the watermark passes the window's end.
template <class T, class W>
class EventTimeTrigger : public Trigger<T, W> {
 public:
  static std::shared_ptr<Trigger<T, W>> create() { return std::make_shared<EventTimeTrigger>(); }
  TriggerResult onElement(const T&, int64_t, const W& w, TriggerContext& ctx) override {
    if (w.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult::FIRE;  // late but allowed
    ctx.registerEventTimeTimer(w.maxTimestamp());
    return TriggerResult::CONTINUE;
  }
  TriggerResult onEventTime(int64_t time, const W& w, TriggerContext&) override {
    return time == w.maxTimestamp() ? TriggerResult::FIRE : TriggerResult::CONTINUE;
  }
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::CONTINUE; }
  void clear(const W& w, TriggerContext& ctx) override { ctx.deleteEventTimeTimer(w.maxTimestamp()); }
  bool canMerge() const override { return true; }
  void onMerge(const W& w, TriggerContext& ctx) override {
    if (w.maxTimestamp() > ctx.getCurrentWatermark()) ctx.registerEventTimeTimer(w.maxTimestamp());
  }
};

// Fires when the wall clock passes the window's end.
template <class T, class W>
class ProcessingTimeTrigger : public Trigger<T, W> {
 public:
  static std::shared_ptr<Trigger<T, W>> create() { return std::make_shared<ProcessingTimeTrigger>(); }
  TriggerResult onElement(const T&, int64_t, const W& w, TriggerContext& ctx) override {
    ctx.registerProcessingTimeTimer(w.maxTimestamp());
    return TriggerResult::CONTINUE;
  }
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::CONTINUE; }
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::FIRE; }
  void clear(const W& w, TriggerContext& ctx) override { ctx.deleteProcessingTimeTimer(w.maxTimestamp()); }
  bool canMerge() const override { return true; }
  void onMerge(const W& w, TriggerContext& ctx) override { ctx.registerProcessingTimeTimer(w.maxTimestamp()); }
};

// Fires every `count` elements of a window.
template <class T, class W>
class CountTrigger : public Trigger<T, W> {
 public:
  explicit CountTrigger(int64_t count) : count_(count) {
    if (count <= 0) throw std::invalid_argument("CountTrigger: the count must be positive, got " + std::to_string(count));
  }
  static std::shared_ptr<Trigger<T, W>> of(int64_t count) { return std::make_shared<CountTrigger>(count); }
  TriggerResult onElement(const T&, int64_t, const W&, TriggerContext& ctx) override {
    int64_t n = ctx.getCounter("count") + 1;
    if (n >= count_) {
      ctx.clearCounter("count");
      return TriggerResult::FIRE;
    }
    ctx.setCounter("count", n);
    return TriggerResult::CONTINUE;
  }
  TriggerResult onEventTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::CONTINUE; }
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::CONTINUE; }
  void clear(const W&, TriggerContext& ctx) override { ctx.clearCounter("count"); }
  bool canMerge() const override { return true; }

 private:
  int64_t count_;
};

// Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE.
template <class T, class W>
class PurgingTrigger : public Trigger<T, W> {
 public:
  explicit PurgingTrigger(std::shared_ptr<Trigger<T, W>> inner) : inner_(std::move(inner)) {}
  static std::shared_ptr<Trigger<T, W>> of(std::shared_ptr<Trigger<T, W>> inner) {
    return std::make_shared<PurgingTrigger>(std::move(inner));
  }
  TriggerResult onElement(const T& e, int64_t ts, const W& w, TriggerContext& ctx) override {
    return Purge(inner_->onElement(e, ts, w, ctx));
  }
  TriggerResult onEventTime(int64_t t, const W& w, TriggerContext& ctx) override {
    return Purge(inner_->onEventTime(t, w, ctx));
  }
  TriggerResult onProcessingTime(int64_t t, const W& w, TriggerContext& ctx) override {
    return Purge(inner_->onProcessingTime(t, w, ctx));
  }
  void clear(const W& w, TriggerContext& ctx) override { inner_->clear(w, ctx); }
  bool canMerge() const override { return inner_->canMerge(); }
  void onMerge(const W& w, TriggerContext& ctx) override { inner_->onMerge(w, ctx); }

 private:
  static TriggerResult Purge(TriggerResult r) { return IsFire(r) ? TriggerResult::FIRE_AND_PURGE : r; }
  std::shared_ptr<Trigger<T, W>> inner_;
};

// Fires every `interval` of event time within a window, and at its end.
template <class T, class W>
class ContinuousEventTimeTrigger : public Trigger<T, W> {
 public:
  explicit ContinuousEventTimeTrigger(int64_t interval) : interval_(interval) {
    if (interval <= 0) throw std::invalid_argument("ContinuousEventTimeTrigger: the interval must be positive");
  }
  static std::shared_ptr<Trigger<T, W>> of(std::chrono::milliseconds interval) {
    return std::make_shared<ContinuousEventTimeTrigger>(interval.count());
  }
  TriggerResult onElement(const T&, int64_t ts, const W& w, TriggerContext& ctx) override {
    if (w.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult::FIRE;
    ctx.registerEventTimeTimer(w.maxTimestamp());
    if (ctx.getCounter("next-fire") == 0) {
      int64_t start = ts - ((ts % interval_) + interval_) % interval_;
      int64_t next = start + interval_;
      ctx.registerEventTimeTimer(next);
      ctx.setCounter("next-fire", next);
    }
    return TriggerResult::CONTINUE;
  }
  TriggerResult onEventTime(int64_t time, const W& w, TriggerContext& ctx) override {
    if (time == w.maxTimestamp()) return TriggerResult::FIRE;
    if (ctx.getCounter("next-fire") == time) {
      ctx.registerEventTimeTimer(time + interval_);
      ctx.setCounter("next-fire", time + interval_);
      return TriggerResult::FIRE;
    }
    return TriggerResult::CONTINUE;
  }
  TriggerResult onProcessingTime(int64_t, const W&, TriggerContext&) override { return TriggerResult::CONTINUE; }
  void clear(const W& w, TriggerContext& ctx) override {
    int64_t next = ctx.getCounter("next-fire");
    if (next != 0) ctx.deleteEventTimeTimer(next);
    ctx.clearCounter("next-fire");
  }

 private:
  int64_t interval_;
};

// An element in a window with its timestamp (what evictors see).
template <class T>
struct TimestampedValue {
  T value;
  int64_t timestamp;
};

// Removes elements from a window before and/or after the window function runs.
// Shared by every subtask, like triggers: no mutable members.
template <class T, class W>
class Evictor {
 public:
  virtual ~Evictor() = default;
  virtual void evictBefore(std::vector<TimestampedValue<T>>& elements, const W& window) {}
  virtual void evictAfter(std::vector<TimestampedValue<T>>& elements, const W& window) {}
};

// Keeps the last `count` elements.
template <class T, class W>
class CountEvictor : public Evictor<T, W> {
 public:
  explicit CountEvictor(int64_t count, bool after = false) : count_(count), after_(after) {
    if (count <= 0) throw std::invalid_argument("CountEvictor: the count must be positive");
  }
  static std::shared_ptr<Evictor<T, W>> of(int64_t count, bool doEvictAfter = false) {
    return std::make_shared<CountEvictor>(count, doEvictAfter);
  }
  void evictBefore(std::vector<TimestampedValue<T>>& e, const W&) override {
    if (!after_) Evict(e);
  }
  void evictAfter(std::vector<TimestampedValue<T>>& e, const W&) override {
    if (after_) Evict(e);
  }

 private:
  void Evict(std::vector<TimestampedValue<T>>& e) {
    if (static_cast<int64_t>(e.size()) > count_) e.erase(e.begin(), e.end() - count_);
  }
  int64_t count_;
  bool after_;
};

// Keeps the elements within `size` of the newest element's timestamp.
template <class T, class W>
class TimeEvictor : public Evictor<T, W> {
 public:
  explicit TimeEvictor(int64_t size, bool after = false) : size_(size), after_(after) {
    if (size <= 0) throw std::invalid_argument("TimeEvictor: the size must be positive");
  }
  static std::shared_ptr<Evictor<T, W>> of(std::chrono::milliseconds size, bool doEvictAfter = false) {
    return std::make_shared<TimeEvictor>(size.count(), doEvictAfter);
  }
  void evictBefore(std::vector<TimestampedValue<T>>& e, const W&) override {
    if (!after_) Evict(e);
  }
  void evictAfter(std::vector<TimestampedValue<T>>& e, const W&) override {
    if (after_) Evict(e);
  }

 private:
  void Evict(std::vector<TimestampedValue<T>>& e) {
    if (e.empty()) return;
    int64_t newest = std::numeric_limits<int64_t>::min();
    for (const auto& v : e) newest = std::max(newest, v.timestamp);
    std::erase_if(e, [&](const TimestampedValue<T>& v) { return v.timestamp <= newest - size_; });
  }
  int64_t size_;
  bool after_;
};

// ---- Assigners ----

// Which windows an element belongs to, and the trigger a window uses unless
// the user sets one.
template <class T, class W>
class WindowAssigner {
 public:
  using WindowType = W;
  virtual ~WindowAssigner() = default;
  // `now` is the current processing time (processing-time assigners use it).
  virtual std::vector<W> assignWindows(const T& element, int64_t timestamp, int64_t now) const = 0;
  virtual std::shared_ptr<Trigger<T, W>> getDefaultTrigger() const = 0;
  virtual bool isEventTime() const = 0;
  // Session windows merge overlapping windows.
  virtual bool isMerging() const { return false; }
};

namespace internal {
inline int64_t PositiveMillis(std::chrono::milliseconds d, const char* what) {
  if (d.count() <= 0) {
    throw std::invalid_argument(std::string(what) + " must be positive, got " + std::to_string(d.count()) + " ms");
  }
  return d.count();
}
// The time an element is assigned by: its timestamp (event time, which it must
// have) or the clock.
inline int64_t AssignmentTime(int64_t timestamp, int64_t now, bool event_time) {
  if (!event_time) return now;
  if (timestamp == std::numeric_limits<int64_t>::min()) {
    throw std::runtime_error(
        "a record has no timestamp in an event-time window: use assignTimestampsAndWatermarks "
        "or a processing-time window assigner");
  }
  return timestamp;
}
}  // namespace internal

template <class T>
class TumblingWindows : public WindowAssigner<T, TimeWindow> {
 public:
  TumblingWindows(int64_t size, int64_t offset, bool event_time) : size_(size), offset_(offset), event_time_(event_time) {
    if (std::abs(offset) >= size) throw std::invalid_argument("tumbling window offset must be smaller than the size");
  }
  std::vector<TimeWindow> assignWindows(const T&, int64_t ts, int64_t now) const override {
    int64_t t = internal::AssignmentTime(ts, now, event_time_);
    int64_t start = TimeWindow::getWindowStartWithOffset(t, offset_, size_);
    return {TimeWindow{start, start + size_}};
  }
  std::shared_ptr<Trigger<T, TimeWindow>> getDefaultTrigger() const override {
    if (event_time_) return EventTimeTrigger<T, TimeWindow>::create();
    return ProcessingTimeTrigger<T, TimeWindow>::create();
  }
  bool isEventTime() const override { return event_time_; }

 private:
  int64_t size_, offset_;
  bool event_time_;
};

template <class T>
class SlidingWindows : public WindowAssigner<T, TimeWindow> {
 public:
  SlidingWindows(int64_t size, int64_t slide, int64_t offset, bool event_time)
      : size_(size), slide_(slide), offset_(offset), event_time_(event_time) {}
  std::vector<TimeWindow> assignWindows(const T&, int64_t ts, int64_t now) const override {
    int64_t t = internal::AssignmentTime(ts, now, event_time_);
    std::vector<TimeWindow> windows;
    int64_t last_start = TimeWindow::getWindowStartWithOffset(t, offset_, slide_);
    for (int64_t start = last_start; start > t - size_; start -= slide_) windows.push_back({start, start + size_});
    return windows;
  }
  std::shared_ptr<Trigger<T, TimeWindow>> getDefaultTrigger() const override {
    if (event_time_) return EventTimeTrigger<T, TimeWindow>::create();
    return ProcessingTimeTrigger<T, TimeWindow>::create();
  }
  bool isEventTime() const override { return event_time_; }

 private:
  int64_t size_, slide_, offset_;
  bool event_time_;
};

template <class T>
class SessionWindows : public WindowAssigner<T, TimeWindow> {
 public:
  using GapExtractor = std::function<int64_t(const T&)>;
  SessionWindows(GapExtractor gap, bool event_time) : gap_(std::move(gap)), event_time_(event_time) {}
  std::vector<TimeWindow> assignWindows(const T& e, int64_t ts, int64_t now) const override {
    int64_t t = internal::AssignmentTime(ts, now, event_time_);
    int64_t gap = gap_(e);
    if (gap <= 0) throw std::runtime_error("a dynamic session gap must be positive, got " + std::to_string(gap));
    return {TimeWindow{t, t + gap}};
  }
  std::shared_ptr<Trigger<T, TimeWindow>> getDefaultTrigger() const override {
    if (event_time_) return EventTimeTrigger<T, TimeWindow>::create();
    return ProcessingTimeTrigger<T, TimeWindow>::create();
  }
  bool isEventTime() const override { return event_time_; }
  bool isMerging() const override { return true; }

 private:
  GapExtractor gap_;
  bool event_time_;
};

template <class T>
class GlobalWindowAssigner : public WindowAssigner<T, GlobalWindow> {
 public:  std::vector<GlobalWindow> assignWindows(const T&, int64_t, int64_t) const override { return {GlobalWindow{}}; }
  // Never fires: give global windows a trigger.
  std::shared_ptr<Trigger<T, GlobalWindow>> getDefaultTrigger() const override {
    struct Never : Trigger<T, GlobalWindow> {
      TriggerResult onElement(const T&, int64_t, const GlobalWindow&, TriggerContext&) override {
        return TriggerResult::CONTINUE;
      }
      TriggerResult onEventTime(int64_t, const GlobalWindow&, TriggerContext&) override { return TriggerResult::CONTINUE; }
      TriggerResult onProcessingTime(int64_t, const GlobalWindow&, TriggerContext&) override {
        return TriggerResult::CONTINUE;
      }
      void clear(const GlobalWindow&, TriggerContext&) override {}
    };
    return std::make_shared<Never>();
  }
  bool isEventTime() const override { return false; }
};

// ---- Window functions ----

// Sees all elements of a window (or its incremental result) with the window.
template <class IN, class OUT, class KEY, class W>
class ProcessWindowFunction : public RichFunction {
 public:
  using OutputType = OUT;
  using InputType = IN;
  class Context {
   public:
    virtual ~Context() = default;
    virtual const W& window() const = 0;
    virtual int64_t currentProcessingTime() = 0;
    virtual int64_t currentWatermark() = 0;
    template <class X>
    void output(const OutputTag<X>& tag, const X& value) {
      if (internal::OutputBase* o = SideOutput(tag.getId())) {
        static_cast<internal::Output<X>*>(o)->Collect(value, window().maxTimestamp());
      }
    }

   protected:
    virtual internal::OutputBase* SideOutput(const std::string& tag) = 0;
  };
  virtual void process(const KEY& key, Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

// The older form: the window function gets the key and the window.
template <class IN, class OUT, class KEY, class W>
class WindowFunction : public RichFunction {
 public:
  using OutputType = OUT;
  using InputType = IN;
  virtual void apply(const KEY& key, const W& window, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

// windowAll: the same without a key.
template <class IN, class OUT, class W>
class ProcessAllWindowFunction : public RichFunction {
 public:
  using OutputType = OUT;
  using InputType = IN;
  using Context = typename ProcessWindowFunction<IN, OUT, uint8_t, W>::Context;
  virtual void process(Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

template <class IN, class OUT, class W>
class AllWindowFunction : public RichFunction {
 public:
  using OutputType = OUT;
  using InputType = IN;
  virtual void apply(const W& window, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

// ---- Factories with Flink's names ----
// They return specifications; window() turns them into assigners for the
// stream's element type, so no template argument is needed:
//   keyed.window(TumblingEventTimeWindows::of(std::chrono::seconds(5)))

struct TimeWindowSpec {
  enum class Kind { kTumbling, kSliding, kSession };
  Kind kind;
  bool event_time;
  int64_t size = 0;
  int64_t slide = 0;
  int64_t offset = 0;
  template <class T>
  std::shared_ptr<WindowAssigner<T, TimeWindow>> Create() const {
    switch (kind) {
      case Kind::kTumbling: return std::make_shared<TumblingWindows<T>>(size, offset, event_time);
      case Kind::kSliding: return std::make_shared<SlidingWindows<T>>(size, slide, offset, event_time);
      case Kind::kSession: {
        int64_t gap = size;
        return std::make_shared<SessionWindows<T>>([gap](const T&) { return gap; }, event_time);
      }
    }
    return nullptr;
  }
};

// A session gap computed from each element: F is int64_t(const T&) in ms.
template <class F>
struct DynamicSessionSpec {
  F gap;
  bool event_time;
  template <class T>
  std::shared_ptr<WindowAssigner<T, TimeWindow>> Create() const {
    F g = gap;
    return std::make_shared<SessionWindows<T>>([g](const T& e) mutable { return static_cast<int64_t>(g(e)); },
                                               event_time);
  }
};

struct GlobalWindowSpec {
  template <class T>
  std::shared_ptr<WindowAssigner<T, GlobalWindow>> Create() const {
    return std::make_shared<GlobalWindowAssigner<T>>();
  }
};

struct TumblingEventTimeWindows {
  static TimeWindowSpec of(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return Tumbling(size, offset, true);
  }
  static TimeWindowSpec Tumbling(std::chrono::milliseconds size, std::chrono::milliseconds offset, bool event) {
    TimeWindowSpec s{TimeWindowSpec::Kind::kTumbling, event};
    s.size = internal::PositiveMillis(size, "a tumbling window size");
    s.offset = offset.count();
    if (std::abs(s.offset) >= s.size) throw std::invalid_argument("a window offset must be smaller than its size");
    return s;
  }
};
struct TumblingProcessingTimeWindows {
  static TimeWindowSpec of(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return TumblingEventTimeWindows::Tumbling(size, offset, false);
  }
};
struct SlidingEventTimeWindows {
  static TimeWindowSpec of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                           std::chrono::milliseconds offset = {}) {
    return Sliding(size, slide, offset, true);
  }
  static TimeWindowSpec Sliding(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                                std::chrono::milliseconds offset, bool event) {
    TimeWindowSpec s{TimeWindowSpec::Kind::kSliding, event};
    s.size = internal::PositiveMillis(size, "a sliding window size");
    s.slide = internal::PositiveMillis(slide, "a sliding window slide");
    s.offset = offset.count();
    if (std::abs(s.offset) >= s.slide) throw std::invalid_argument("a window offset must be smaller than its slide");
    return s;
  }
};
struct SlidingProcessingTimeWindows {
  static TimeWindowSpec of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                           std::chrono::milliseconds offset = {}) {
    return SlidingEventTimeWindows::Sliding(size, slide, offset, false);
  }
};
struct EventTimeSessionWindows {
  static TimeWindowSpec withGap(std::chrono::milliseconds gap) {
    TimeWindowSpec s{TimeWindowSpec::Kind::kSession, true};
    s.size = internal::PositiveMillis(gap, "a session gap");
    return s;
  }
  template <class F>
  static DynamicSessionSpec<F> withDynamicGap(F gap) {
    return {std::move(gap), true};
  }
};
struct ProcessingTimeSessionWindows {
  static TimeWindowSpec withGap(std::chrono::milliseconds gap) {
    TimeWindowSpec s = EventTimeSessionWindows::withGap(gap);
    s.event_time = false;
    return s;
  }
  template <class F>
  static DynamicSessionSpec<F> withDynamicGap(F gap) {
    return {std::move(gap), false};
  }
};
struct GlobalWindows {
  static GlobalWindowSpec create() { return {}; }
};

}  // namespace eddy
