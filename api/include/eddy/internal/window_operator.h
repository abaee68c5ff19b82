// WindowOperator: keyed windows. For each element it asks the assigner for its
// windows (merging session windows per key), adds it to each window's contents
// in keyed state (namespace = the serialized window), and lets the trigger
// decide when to emit (FIRE) and drop (PURGE) the contents. Timers are keyed
// timers whose namespace is the window; every window is cleaned up when the
// watermark (or clock) passes its end plus the allowed lateness. Late elements
// go to the late-data side output if one is set.
#pragma once

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eddy/internal/keyed_state.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/timers.h"
#include "eddy/windows.h"

namespace eddy::internal {

// Where a window's elements live: all of them (process/apply, evictors) or an
// incremental result (reduce, aggregate). X is what the window function gets.
template <class IN, class X, class W>
class WindowContents {
 public:
  virtual ~WindowContents() = default;
  virtual void Open(KeyedStateBackend& backend) = 0;
  virtual void Add(const IN& value, int64_t timestamp) = 0;
  // The window function's input; empty if the window holds nothing.
  virtual std::vector<X> Get(const W& window) = 0;
  // Runs after the window function (evict-after).
  virtual void AfterFire(const W& window) {}
  virtual void Clear() = 0;
  virtual void Merge(std::string_view target, std::span<const std::string> sources) = 0;
};

template <class IN, class W>
class ListContents final : public WindowContents<IN, IN, W> {
 public:
  using Element = std::pair<IN, int64_t>;
  explicit ListContents(std::shared_ptr<Evictor<IN, W>> evictor) : evictor_(std::move(evictor)) {}
  void Open(KeyedStateBackend& backend) override {
    state_ = &GetListState(backend, ListStateDescriptor<Element>("window-contents"));
  }
  void Add(const IN& value, int64_t ts) override { state_->add(Element(value, ts)); }
  std::vector<IN> Get(const W& window) override {
    std::vector<Element> stored = state_->get();
    std::vector<IN> out;
    if (!evictor_) {
      out.reserve(stored.size());
      for (auto& e : stored) out.push_back(std::move(e.first));
      return out;
    }
    elements_.clear();
    for (auto& e : stored) elements_.push_back({std::move(e.first), e.second});
    evictor_->evictBefore(elements_, window);
    for (const auto& e : elements_) out.push_back(e.value);
    return out;
  }
  void AfterFire(const W& window) override {
    if (!evictor_) return;
    evictor_->evictAfter(elements_, window);
    std::vector<Element> kept;
    for (auto& e : elements_) kept.emplace_back(std::move(e.value), e.timestamp);
    state_->update(kept);
  }
  void Clear() override { state_->clear(); }
  void Merge(std::string_view target, std::span<const std::string> sources) override {
    state_->mergeNamespaces(target, sources);
  }

 private:
  std::shared_ptr<Evictor<IN, W>> evictor_;
  InternalListState<Element>* state_ = nullptr;
  std::vector<TimestampedValue<IN>> elements_;
};

template <class IN, class W>
class ReducingContents final : public WindowContents<IN, IN, W> {
 public:
  explicit ReducingContents(std::function<IN(const IN&, const IN&)> reduce) : reduce_(std::move(reduce)) {}
  void Open(KeyedStateBackend& backend) override {
    state_ = &GetReducingState(backend, ReducingStateDescriptor<IN>("window-contents", reduce_));
  }
  void Add(const IN& value, int64_t) override { state_->add(value); }
  std::vector<IN> Get(const W&) override {
    std::optional<IN> v = state_->get();
    if (!v) return {};
    return {std::move(*v)};
  }
  void Clear() override { state_->clear(); }
  void Merge(std::string_view target, std::span<const std::string> sources) override {
    state_->mergeNamespaces(target, sources);
  }

 private:
  std::function<IN(const IN&, const IN&)> reduce_;
  InternalReducingState<IN>* state_ = nullptr;
};

template <class IN, class ACC, class R, class W>
class AggregatingContents final : public WindowContents<IN, R, W> {
 public:
  explicit AggregatingContents(std::shared_ptr<AggregateFunction<IN, ACC, R>> f) : f_(std::move(f)) {}
  void Open(KeyedStateBackend& backend) override {
    state_ = &GetAggregatingState(backend, AggregatingStateDescriptor<IN, ACC, R>("window-contents", f_));
  }
  void Add(const IN& value, int64_t) override { state_->add(value); }
  std::vector<R> Get(const W&) override {
    std::optional<R> v = state_->get();
    if (!v) return {};
    return {std::move(*v)};
  }
  void Clear() override { state_->clear(); }
  void Merge(std::string_view target, std::span<const std::string> sources) override {
    state_->mergeNamespaces(target, sources);
  }

 private:
  std::shared_ptr<AggregateFunction<IN, ACC, R>> f_;
  InternalAggregatingState<IN, R>* state_ = nullptr;
};

// Emits each element of the window unchanged (reduce/aggregate without a
// window function).
struct PassThroughWindowFunction {};

template <class K, class IN, class X, class OUT, class W, class KeyFn, class WindowFn>
class WindowOperator final : public OneInputOperator<IN, OUT> {
 public:
  using ContentsFactory = std::function<std::unique_ptr<WindowContents<IN, X, W>>()>;

  WindowOperator(KeyFn key_fn, std::shared_ptr<WindowAssigner<IN, W>> assigner,
                 std::shared_ptr<Trigger<IN, W>> trigger, ContentsFactory contents, WindowFn fn,
                 int64_t allowed_lateness, std::string late_tag)
      : key_(std::move(key_fn)),
        assigner_(std::move(assigner)),
        trigger_(std::move(trigger)),
        contents_factory_(std::move(contents)),
        fn_(std::move(fn)),
        allowed_lateness_(allowed_lateness),
        late_tag_(std::move(late_tag)) {}

  void SetSideOutput(const std::string& tag, OutputBase* output) override { side_outputs_.Set(tag, output); }

  void Open(OperatorContext& ctx) override {
    context_ = &ctx;
    backend_ = ctx.keyed_state_backend();
    key_.Bind(backend_);
    contents_ = contents_factory_();
    contents_->Open(*backend_);
    counters_ = &GetMapState(*backend_, MapStateDescriptor<std::string, int64_t>("window-trigger-counters"));
    sessions_ = &GetListState(*backend_, ListStateDescriptor<W>("window-sessions"));
    timers_ = std::make_unique<InternalTimerService>(
        backend_, &ctx, [this](const InternalTimer& t, TimeDomainKind d) { OnTimer(t, d); });
    if constexpr (!std::is_same_v<WindowFn, PassThroughWindowFunction>) OpenFunction(fn_, ctx);
  }
  void Close() override {
    if constexpr (!std::is_same_v<WindowFn, PassThroughWindowFunction>) CloseFunction(fn_);
  }

  void ProcessElement(const IN& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    current_key_ = internal::CallKey(key_.key_fn(), value);
    std::vector<W> windows = assigner_->assignWindows(value, timestamp, context_->CurrentProcessingTime());
    bool handled = false;
    for (W window : windows) {
      if (assigner_->isMerging()) window = MergeSession(window);
      if (IsWindowLate(window)) continue;
      handled = true;
      SetWindow(window);
      contents_->Add(value, timestamp);
      TriggerResult r = trigger_->onElement(value, timestamp, window, trigger_context_);
      if (IsFire(r)) Emit(window);
      if (IsPurge(r)) contents_->Clear();
      RegisterCleanupTimer(window);
    }
    if (!handled && IsElementLate(timestamp)) {
      if (OutputBase* late = late_tag_.empty() ? nullptr : side_outputs_.Get(late_tag_)) {
        static_cast<Output<IN>*>(late)->Collect(value, timestamp);
      }
    }
    backend_->SetCurrentNamespace({});
  }

  void ProcessWatermark(int64_t watermark) override {
    timers_->AdvanceWatermark(watermark);
    this->out_->EmitWatermark(watermark);
  }

 private:
  void SetWindow(const W& window) {
    if (window_bytes_.empty() || !(window == current_window_)) {
      current_window_ = window;
      window_bytes_ = SerializedWindow(window);
    }
    backend_->SetCurrentNamespace(window_bytes_);
  }
  // The serialized window, from a small cache: an element of a sliding window
  // belongs to several windows, and the next element mostly to the same ones.
  std::string_view SerializedWindow(const W& window) {
    for (const CachedWindow& c : window_cache_) {
      if (!c.bytes.empty() && c.window == window) return c.bytes;
    }
    CachedWindow& c = window_cache_[next_cached_window_++ % window_cache_.size()];
    c.window = window;
    c.bytes.clear();
    DataOutput out(&c.bytes);
    TypeSerializer<W>::Serialize(window, out);
    return c.bytes;
  }
  int64_t CleanupTime(const W& window) const {
    int64_t max = window.maxTimestamp();
    if (!assigner_->isEventTime()) return max;
    if (max > std::numeric_limits<int64_t>::max() - allowed_lateness_) return std::numeric_limits<int64_t>::max();
    return max + allowed_lateness_;
  }
  bool IsWindowLate(const W& window) const {
    return assigner_->isEventTime() && CleanupTime(window) <= timers_->current_watermark();
  }
  bool IsElementLate(int64_t ts) const {
    return assigner_->isEventTime() && ts != kNoTimestamp &&
           ts + allowed_lateness_ <= timers_->current_watermark();
  }
  void RegisterCleanupTimer(const W& window) {
    int64_t t = CleanupTime(window);
    if (t == std::numeric_limits<int64_t>::max()) return;  // global windows never end
    if (assigner_->isEventTime()) {
      timers_->RegisterEventTimeTimer(t, window_bytes_);
    } else {
      timers_->RegisterProcessingTimeTimer(t, window_bytes_);
    }
  }

  // Merges `window` with this key's overlapping sessions; returns the window
  // the element belongs to.
  W MergeSession(const W& window) {
    if constexpr (requires(W w) { w.cover(w); }) {
      backend_->SetCurrentNamespace({});
      std::vector<W> sessions = sessions_->get();
      W merged = window;
      bool changed = true;
      std::vector<W> absorbed;
      while (changed) {
        changed = false;
        for (const W& s : sessions) {
          if (s.intersects(merged) && std::find(absorbed.begin(), absorbed.end(), s) == absorbed.end()) {
            merged = merged.cover(s);
            absorbed.push_back(s);
            changed = true;
          }
        }
      }
      std::vector<W> kept;
      for (const W& s : sessions) {
        if (std::find(absorbed.begin(), absorbed.end(), s) == absorbed.end()) kept.push_back(s);
      }
      kept.push_back(merged);
      sessions_->update(kept);
      std::vector<std::string> sources;
      for (const W& s : absorbed) {
        if (s == merged) continue;
        // The absorbed window's timers and trigger state go; its contents move.
        SetWindow(s);
        trigger_->clear(s, trigger_context_);
        int64_t t = CleanupTime(s);
        if (assigner_->isEventTime()) timers_->DeleteEventTimeTimer(t, window_bytes_);
        else timers_->DeleteProcessingTimeTimer(t, window_bytes_);
        MergeCounters(s, merged);
        sources.emplace_back(window_bytes_);
      }
      if (!sources.empty()) {
        std::string target = SerializeToString(merged);
        contents_->Merge(target, sources);
        SetWindow(merged);
        trigger_->onMerge(merged, trigger_context_);
      }
      return merged;
    } else {
      return window;
    }
  }
  void MergeCounters(const W& from, const W& to) {
    SetWindow(from);
    auto entries = counters_->entries();
    counters_->clear();
    SetWindow(to);
    for (const auto& [name, v] : entries) counters_->put(name, counters_->get(name).value_or(0) + v);
    SetWindow(from);
  }

  void Emit(const W& window) {
    std::vector<X> elements = contents_->Get(window);
    if (elements.empty()) return;
    collector_.Reset(this->out_, window.maxTimestamp());
    if constexpr (std::is_same_v<WindowFn, PassThroughWindowFunction>) {
      for (const X& e : elements) collector_.collect(e);
    } else if constexpr (requires { fn_.process(current_key_, window_context_, elements, collector_); }) {
      fn_.process(current_key_, window_context_, elements, collector_);
    } else if constexpr (requires { fn_.apply(current_key_, window, elements, collector_); }) {
      fn_.apply(current_key_, window, elements, collector_);
    } else if constexpr (requires { fn_.process(window_context_, elements, collector_); }) {
      fn_.process(window_context_, elements, collector_);  // windowAll
    } else {
      fn_.apply(window, elements, collector_);  // windowAll
    }
    contents_->AfterFire(window);
  }

  void OnTimer(const InternalTimer& timer, TimeDomainKind domain) {
    DataInput key_in(timer.key);
    TypeSerializer<K>::Deserialize(key_in, current_key_);
    W window{};
    DataInput in(timer.name_space);
    TypeSerializer<W>::Deserialize(in, window);
    SetWindow(window);
    TriggerResult r = domain == TimeDomainKind::kEventTime
                          ? trigger_->onEventTime(timer.timestamp, window, trigger_context_)
                          : trigger_->onProcessingTime(timer.timestamp, window, trigger_context_);
    if (IsFire(r)) Emit(window);
    if (IsPurge(r)) contents_->Clear();
    bool cleanup = (domain == TimeDomainKind::kEventTime) == assigner_->isEventTime() &&
                   timer.timestamp == CleanupTime(window);
    if (cleanup) {
      contents_->Clear();
      trigger_->clear(window, trigger_context_);
      counters_->clear();
      if (assigner_->isMerging()) {
        backend_->SetCurrentNamespace({});
        std::vector<W> sessions = sessions_->get();
        std::erase(sessions, window);
        if (sessions.empty()) sessions_->clear(); else sessions_->update(sessions);
      }
    }
    backend_->SetCurrentNamespace({});
  }

  class TriggerCtx final : public TriggerContext {
   public:
    explicit TriggerCtx(WindowOperator* op) : op_(op) {}
    int64_t getCurrentWatermark() override { return op_->timers_->current_watermark(); }
    int64_t getCurrentProcessingTime() override { return op_->timers_->current_processing_time(); }
    void registerEventTimeTimer(int64_t t) override { op_->timers_->RegisterEventTimeTimer(t, op_->window_bytes_); }
    void registerProcessingTimeTimer(int64_t t) override {
      op_->timers_->RegisterProcessingTimeTimer(t, op_->window_bytes_);
    }
    void deleteEventTimeTimer(int64_t t) override { op_->timers_->DeleteEventTimeTimer(t, op_->window_bytes_); }
    void deleteProcessingTimeTimer(int64_t t) override {
      op_->timers_->DeleteProcessingTimeTimer(t, op_->window_bytes_);
    }
    int64_t getCounter(const std::string& name) override { return op_->counters_->get(name).value_or(0); }
    void setCounter(const std::string& name, int64_t value) override { op_->counters_->put(name, value); }
    void clearCounter(const std::string& name) override { op_->counters_->remove(name); }

   private:
    WindowOperator* op_;
  };

  class WindowCtx final : public ProcessWindowFunction<X, OUT, K, W>::Context {
   public:
    explicit WindowCtx(WindowOperator* op) : op_(op) {}
    const W& window() const override { return op_->current_window_; }
    int64_t currentProcessingTime() override { return op_->timers_->current_processing_time(); }
    int64_t currentWatermark() override { return op_->timers_->current_watermark(); }

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }

   private:
    WindowOperator* op_;
  };

  KeyContext<IN, KeyFn> key_;
  std::shared_ptr<WindowAssigner<IN, W>> assigner_;
  std::shared_ptr<Trigger<IN, W>> trigger_;
  ContentsFactory contents_factory_;
  WindowFn fn_;
  int64_t allowed_lateness_;
  std::string late_tag_;

  OperatorContext* context_ = nullptr;
  KeyedStateBackend* backend_ = nullptr;
  std::unique_ptr<WindowContents<IN, X, W>> contents_;
  MapState<std::string, int64_t>* counters_ = nullptr;
  InternalListState<W>* sessions_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  K current_key_{};
  W current_window_{};
  std::string_view window_bytes_;  // current_window_ serialized, in window_cache_
  struct CachedWindow {
    W window{};
    std::string bytes;  // empty: unused
  };
  std::array<CachedWindow, 8> window_cache_;
  size_t next_cached_window_ = 0;
  TriggerCtx trigger_context_{this};
  WindowCtx window_context_{this};
};

}  // namespace eddy::internal
