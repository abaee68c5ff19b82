// Operator templates: the typed objects a task chain is made of. Each wraps one
// user function (lambda or Function subclass, called through the adapters
// below) and is instantiated in the job library that uses it.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/internal/timers.h"
#include "eddy/internal/runtime_interfaces.h"
#include "eddy/key_group.h"
#include "eddy/key_hash.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy::internal {

// ---- Calling user functions: a Function subclass or a plain callable. ----

// Flink's order: runtime context, initializeState (restoring operator state),
// then open(). Checkpoint hooks are registered with the task.
template <class F>
void OpenFunction(F& f, OperatorContext& ctx) {
  if constexpr (std::is_base_of_v<RichFunction, F>) f.setRuntimeContext(&ctx.runtime_context());
  if constexpr (std::is_base_of_v<CheckpointedFunction, F>) {
    ctx.RegisterCheckpointedFunction(&f);
    FunctionInitializationContext init(&ctx.operator_state_store());
    f.initializeState(init);
  }
  if constexpr (std::is_base_of_v<CheckpointListener, F>) ctx.RegisterCheckpointListener(&f);
  if constexpr (std::is_base_of_v<RichFunction, F>) f.open(ctx.runtime_context());
}
template <class F>
void CloseFunction(F& f) {
  if constexpr (std::is_base_of_v<RichFunction, F>) f.close();
}

template <class F, class IN>
decltype(auto) CallMap(F& f, const IN& v) {
  if constexpr (requires { f.map(v); }) {
    return f.map(v);
  } else {
    return f(v);
  }
}
template <class F, class IN, class OUT>
void CallFlatMap(F& f, const IN& v, Collector<OUT>& out) {
  if constexpr (requires { f.flatMap(v, out); }) {
    f.flatMap(v, out);
  } else {
    f(v, out);
  }
}
template <class F, class IN>
bool CallFilter(F& f, const IN& v) {
  if constexpr (requires { f.filter(v); }) {
    return f.filter(v);
  } else {
    return f(v);
  }
}
template <class F, class IN>
decltype(auto) CallKey(F& f, const IN& v) {
  if constexpr (requires { f.getKey(v); }) {
    return f.getKey(v);
  } else {
    return f(v);
  }
}
template <class F, class T>
T CallReduce(F& f, const T& a, const T& b) {
  if constexpr (requires { f.reduce(a, b); }) {
    return f.reduce(a, b);
  } else {
    return f(a, b);
  }
}
template <class F, class T>
void CallSink(F& f, const T& v) {
  if constexpr (requires { f.invoke(v); }) {
    f.invoke(v);
  } else {
    f(v);
  }
}

[[noreturn]] inline void NoTimers() {
  throw std::logic_error(
      "setting timers is only supported on keyed streams: use keyBy(...).process(KeyedProcessFunction)");
}

// ---- Bases ----

template <class OUT>
class OneOutputOperator : public StreamOperatorBase {
 public:
  void SetOutput(OutputBase* output) override { out_ = static_cast<Output<OUT>*>(output); }

 protected:
  Output<OUT>* out_ = nullptr;
};

template <class IN, class OUT>
class OneInputOperator : public OneOutputOperator<OUT>, public Input<IN> {
 public:
  InputBase* GetInput(int index) override { return index == 0 ? this : nullptr; }
  void ProcessWatermark(int64_t watermark) override { this->out_->EmitWatermark(watermark); }
};

// A Collector that stamps emitted records with the input record's timestamp.
template <class OUT>
class TimestampedCollector final : public Collector<OUT> {
 public:
  void Reset(Output<OUT>* out, int64_t timestamp) {
    out_ = out;
    timestamp_ = timestamp;
  }
  void collect(const OUT& value) override { out_->Collect(value, timestamp_); }

 private:
  Output<OUT>* out_ = nullptr;
  int64_t timestamp_ = kNoTimestamp;
};

// ---- Sources ----

template <class T, class S>
class SourceOperator final : public OneOutputOperator<T> {
 public:
  explicit SourceOperator(S source) : source_(std::move(source)) {}
  bool IsSource() const override { return true; }
  void Open(OperatorContext& ctx) override { OpenFunction(source_, ctx); }
  void Run(OperatorContext& ctx) override {
    Context context(this, &ctx);
    source_.run(context);
    // A bounded source that ran out ends event time: every window may fire.
    if (ctx.IsRunning() && (!stopped_ || drain_)) this->out_->EmitWatermark(kMaxWatermark);
  }
  void Cancel() override { source_.cancel(); }
  void Stop(bool drain) override {
    stopped_ = true;
    drain_ = drain;
    source_.cancel();
  }
  void Close() override { CloseFunction(source_); }

 private:
  class Context final : public SourceFunction<T>::SourceContext {
   public:
    Context(SourceOperator* op, OperatorContext* ctx) : op_(op), out_(op->out_), ctx_(ctx) {}
    // Checkpoints are taken here, before the record is emitted (see
    // eddy/checkpoint.h for what that asks of a source). After a
    // stop-with-savepoint nothing more is emitted.
    void collect(const T& value) override {
      if (ctx_->HasPendingActions()) [[unlikely]] ctx_->RunPendingActions();
      if (op_->stopped_) [[unlikely]] return;
      if (idle_) [[unlikely]] MarkActive();
      out_->Collect(value, kNoTimestamp);
      Tick();
    }
    void collectWithTimestamp(const T& value, int64_t timestamp) override {
      if (ctx_->HasPendingActions()) [[unlikely]] ctx_->RunPendingActions();
      if (op_->stopped_) [[unlikely]] return;
      if (idle_) [[unlikely]] MarkActive();
      out_->Collect(value, timestamp);
      Tick();
    }
    void flush() override {
      ctx_->FlushOutputs();
      if (ctx_->HasPendingActions()) ctx_->RunPendingActions();
    }
    bool isRunning() const override { return ctx_->IsRunning() && !op_->stopped_; }
    void emitWatermark(int64_t watermark) override {
      if (op_->stopped_ || watermark <= watermark_) return;
      if (idle_) MarkActive();
      watermark_ = watermark;
      out_->EmitWatermark(watermark);
    }
    void markAsTemporarilyIdle() override {
      if (idle_ || op_->stopped_) return;
      idle_ = true;
      out_->EmitWatermarkStatus(true);
    }

   private:
    void MarkActive() {
      idle_ = false;
      out_->EmitWatermarkStatus(false);
    }
    // Processing-time callbacks (e.g. periodic watermarks) run between records.
    void Tick() {
      if (++emitted_ % 128 == 0) ctx_->FireDueProcessingTimers();
    }
    SourceOperator* op_;
    Output<T>* out_;
    OperatorContext* ctx_;
    uint64_t emitted_ = 0;
    int64_t watermark_ = kNoTimestamp;
    bool idle_ = false;
  };
  S source_;
  bool stopped_ = false;
  bool drain_ = false;
};

// ---- One-input transformations ----

template <class IN, class OUT, class F>
class MapOperator final : public OneInputOperator<IN, OUT> {
 public:
  explicit MapOperator(F f) : f_(std::move(f)) {}
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement(const IN& value, int64_t timestamp) override {
    this->out_->Collect(CallMap(f_, value), timestamp);
  }

 private:
  F f_;
};

template <class IN, class OUT, class F>
class FlatMapOperator final : public OneInputOperator<IN, OUT> {
 public:
  explicit FlatMapOperator(F f) : f_(std::move(f)) {}
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement(const IN& value, int64_t timestamp) override {
    collector_.Reset(this->out_, timestamp);
    CallFlatMap(f_, value, collector_);
  }

 private:
  F f_;
  TimestampedCollector<OUT> collector_;
};

template <class T, class F>
class FilterOperator final : public OneInputOperator<T, T> {
 public:
  explicit FilterOperator(F f) : f_(std::move(f)) {}
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement(const T& value, int64_t timestamp) override {
    if (CallFilter(f_, value)) this->out_->Collect(value, timestamp);
  }

 private:
  F f_;
};

// Side outputs of an operator, by tag.
class SideOutputTable {
 public:
  void Set(const std::string& tag, OutputBase* output) { outputs_[tag] = output; }
  OutputBase* Get(const std::string& tag) const {
    auto it = outputs_.find(tag);
    return it == outputs_.end() ? nullptr : it->second;
  }

 private:
  absl::flat_hash_map<std::string, OutputBase*> outputs_;
};

template <class IN, class OUT, class F>
class ProcessOperator final : public OneInputOperator<IN, OUT> {
 public:
  explicit ProcessOperator(F f) : f_(std::move(f)) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override {
    side_outputs_.Set(tag, output);
  }
  void Open(OperatorContext& ctx) override {
    context_.operator_context_ = &ctx;
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }
  void ProcessWatermark(int64_t watermark) override {
    context_.watermark_ = watermark;
    this->out_->EmitWatermark(watermark);
  }
  void ProcessElement(const IN& value, int64_t timestamp) override {
    collector_.Reset(this->out_, timestamp);
    context_.timestamp_ = timestamp;
    if constexpr (requires { f_.processElement(value, context_, collector_); }) {
      f_.processElement(value, context_, collector_);
    } else {
      f_(value, context_, collector_);
    }
  }

 private:
  class Context final : public ProcessFunction<IN, OUT>::Context, public TimerService {
   public:
    explicit Context(ProcessOperator* op) : op_(op) {}
    std::optional<int64_t> timestamp() const override {
      if (timestamp_ == kNoTimestamp) return std::nullopt;
      return timestamp_;
    }
    TimerService& timerService() override { return *this; }
    int64_t currentProcessingTime() override { return operator_context_->CurrentProcessingTime(); }
    int64_t currentWatermark() override { return watermark_; }
    void registerEventTimeTimer(int64_t) override { NoTimers(); }
    void registerProcessingTimeTimer(int64_t) override { NoTimers(); }
    void deleteEventTimeTimer(int64_t) override { NoTimers(); }
    void deleteProcessingTimeTimer(int64_t) override { NoTimers(); }
    int64_t timestamp_ = kNoTimestamp;
    int64_t watermark_ = kNoTimestamp;
    OperatorContext* operator_context_ = nullptr;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }
    int64_t RawTimestamp() const override { return timestamp_; }

   private:
    ProcessOperator* op_;
  };
  F f_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  Context context_{this};
};

// Sets the keyed backend's current key from a record, as every keyed operator
// must before touching state.
template <class T, class KeyFn>
class KeyContext {
 public:
  explicit KeyContext(KeyFn key_fn) : key_fn_(std::move(key_fn)) {}
  void Bind(KeyedStateBackend* backend) { backend_ = backend; }
  KeyFn& key_fn() { return key_fn_; }
  void SetCurrentKey(const T& value) {
    decltype(auto) key = CallKey(key_fn_, value);
    scratch_.clear();
    DataOutput out(&scratch_);
    TypeSerializer<std::decay_t<decltype(key)>>::Serialize(key, out);
    backend_->SetCurrentKey(
        scratch_, AssignToKeyGroup(StableKeyHash(key), backend_->max_parallelism()));
  }

 private:
  KeyFn key_fn_;
  KeyedStateBackend* backend_ = nullptr;
  std::string scratch_;
};

// Rolling keyed aggregation: folds each record into its key's value in place and
// emits the updated value (keyBy().reduce / sum / min / max / minBy / maxBy).
template <class T, class KeyFn, class Combine>
class KeyedReduceOperator final : public OneInputOperator<T, T> {
 public:
  KeyedReduceOperator(KeyFn key_fn, Combine combine)
      : key_(std::move(key_fn)), combine_(std::move(combine)) {}
  void Open(OperatorContext& ctx) override {
    OpenFunction(combine_, ctx);
    key_.Bind(ctx.keyed_state_backend());
    state_ = &GetValueState(*ctx.keyed_state_backend(), ValueStateDescriptor<T>("_reduce"));
  }
  void Close() override { CloseFunction(combine_); }
  void ProcessElement(const T& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    if (T* current = state_->mutableValue()) {
      combine_(*current, value);
      this->out_->Collect(*current, timestamp);
    } else {
      state_->update(value);
      this->out_->Collect(value, timestamp);
    }
  }

 private:
  KeyContext<T, KeyFn> key_;
  Combine combine_;
  ValueState<T>* state_ = nullptr;
};

// A keyed operator around a function that uses keyed state itself (a map,
// flatMap, filter or process function applied after keyBy).
template <class T, class KeyFn, class Inner>
class KeyedOperator final : public StreamOperatorBase, public Input<T> {
 public:
  KeyedOperator(KeyFn key_fn, Inner inner) : key_(std::move(key_fn)), inner_(std::move(inner)) {}
  void SetOutput(OutputBase* output) override { inner_.SetOutput(output); }
  void SetSideOutput(const std::string& tag, OutputBase* output) override {
    inner_.SetSideOutput(tag, output);
  }
  InputBase* GetInput(int index) override { return index == 0 ? this : nullptr; }
  void Open(OperatorContext& ctx) override {
    key_.Bind(ctx.keyed_state_backend());
    inner_.Open(ctx);
  }
  void Finish() override { inner_.Finish(); }
  void Close() override { inner_.Close(); }
  void ProcessElement(const T& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    inner_.ProcessElement(value, timestamp);
  }
  void ProcessWatermark(int64_t watermark) override { inner_.ProcessWatermark(watermark); }

 private:
  KeyContext<T, KeyFn> key_;
  Inner inner_;
};

// The Context / OnTimerContext / TimerService of keyed functions with timers
// (KeyedProcessFunction, KeyedCoProcessFunction): the element's or timer's
// timestamp, the current key, the timers, side outputs.
template <class K, class IN, class OUT>
class KeyedTimerContext final : public KeyedProcessFunction<K, IN, OUT>::OnTimerContext, public TimerService {
 public:
  KeyedTimerContext(std::unique_ptr<InternalTimerService>* timers, SideOutputTable* side_outputs)
      : timers_(timers), side_outputs_(side_outputs) {}
  std::optional<int64_t> timestamp() const override {
    if (timestamp_ == kNoTimestamp) return std::nullopt;
    return timestamp_;
  }
  TimerService& timerService() override { return *this; }
  const K& getCurrentKey() const override { return key_; }
  TimeDomain timeDomain() const override { return domain_; }
  int64_t currentProcessingTime() override { return (*timers_)->current_processing_time(); }
  int64_t currentWatermark() override { return (*timers_)->current_watermark(); }
  void registerEventTimeTimer(int64_t time) override { (*timers_)->RegisterEventTimeTimer(time); }
  void registerProcessingTimeTimer(int64_t time) override { (*timers_)->RegisterProcessingTimeTimer(time); }
  void deleteEventTimeTimer(int64_t time) override { (*timers_)->DeleteEventTimeTimer(time); }
  void deleteProcessingTimeTimer(int64_t time) override { (*timers_)->DeleteProcessingTimeTimer(time); }

  // Prepares for a firing timer; returns the timestamp its output carries.
  int64_t EnterTimer(const InternalTimer& timer, TimeDomainKind domain) {
    DataInput in(timer.key);
    TypeSerializer<K>::Deserialize(in, key_);
    timestamp_ = timer.timestamp;
    domain_ = domain == TimeDomainKind::kEventTime ? TimeDomain::EVENT_TIME : TimeDomain::PROCESSING_TIME;
    // Output of event-time timers carries the timer's time; processing-time none.
    return domain == TimeDomainKind::kEventTime ? timer.timestamp : kNoTimestamp;
  }

  K key_{};
  int64_t timestamp_ = kNoTimestamp;
  TimeDomain domain_ = TimeDomain::EVENT_TIME;

 protected:
  OutputBase* SideOutput(const std::string& tag) override { return side_outputs_->Get(tag); }
  int64_t RawTimestamp() const override { return timestamp_; }

 private:
  std::unique_ptr<InternalTimerService>* timers_;
  SideOutputTable* side_outputs_;
};

// A KeyedProcessFunction: elements and timers of the current key, with state.
template <class K, class IN, class OUT, class KeyFn, class F>
class KeyedProcessOperator final : public OneInputOperator<IN, OUT> {
 public:
  KeyedProcessOperator(KeyFn key_fn, F f) : key_(std::move(key_fn)), f_(std::move(f)) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override { side_outputs_.Set(tag, output); }
  void Open(OperatorContext& ctx) override {
    backend_ = ctx.keyed_state_backend();
    key_.Bind(backend_);
    timers_ = std::make_unique<InternalTimerService>(
        backend_, &ctx, [this](const InternalTimer& timer, TimeDomainKind domain) { OnTimer(timer, domain); });
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }
  void ProcessElement(const IN& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    context_.key_ = internal::CallKey(key_.key_fn(), value);
    context_.timestamp_ = timestamp;
    collector_.Reset(this->out_, timestamp);
    f_.processElement(value, context_, collector_);
  }
  void ProcessWatermark(int64_t watermark) override {
    timers_->AdvanceWatermark(watermark);
    this->out_->EmitWatermark(watermark);
  }

 private:
  void OnTimer(const InternalTimer& timer, TimeDomainKind domain) {
    collector_.Reset(this->out_, context_.EnterTimer(timer, domain));
    f_.onTimer(timer.timestamp, context_, collector_);
  }


  KeyContext<IN, KeyFn> key_;
  F f_;
  KeyedStateBackend* backend_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  KeyedTimerContext<K, IN, OUT> context_{&timers_, &side_outputs_};
};

// ---- Two inputs ----

template <class IN1, class IN2, class OUT>
class TwoInputOperator : public OneOutputOperator<OUT> {
 public:
  InputBase* GetInput(int index) override {
    if (index == 0) return &first_;
    if (index == 1) return &second_;
    return nullptr;
  }
  virtual void ProcessElement1(const IN1& value, int64_t timestamp) = 0;
  virtual void ProcessElement2(const IN2& value, int64_t timestamp) = 0;

 private:
  // The operator's watermark is the minimum of its active inputs'.
  void OnWatermark(int input, int64_t watermark) {
    watermarks_[input] = watermark;
    Combine();
  }
  void OnWatermarkStatus(int input, bool idle) {
    idle_[input] = idle;
    Combine();
  }
  void Combine() {
    int64_t combined = kMaxWatermark;
    bool any = false;
    for (int i = 0; i < 2; ++i) {
      if (idle_[i]) continue;
      combined = std::min(combined, watermarks_[i]);
      any = true;
    }
    if (any && combined > emitted_) {
      emitted_ = combined;
      OnCombinedWatermark(combined);
      this->out_->EmitWatermark(combined);
    }
  }

 protected:
  // Called with the operator's new watermark before it is forwarded.
  virtual void OnCombinedWatermark(int64_t watermark) {}

 private:
  template <class X, int kIndex>
  class Side final : public Input<X> {
   public:
    explicit Side(TwoInputOperator* op) : op_(op) {}
    void ProcessElement(const X& value, int64_t timestamp) override {
      if constexpr (kIndex == 0) {
        op_->ProcessElement1(value, timestamp);
      } else {
        op_->ProcessElement2(value, timestamp);
      }
    }
    void ProcessWatermark(int64_t watermark) override { op_->OnWatermark(kIndex, watermark); }
    void ProcessWatermarkStatus(bool idle) override { op_->OnWatermarkStatus(kIndex, idle); }

   private:
    TwoInputOperator* op_;
  };
  Side<IN1, 0> first_{this};
  Side<IN2, 1> second_{this};
  int64_t watermarks_[2] = {kNoTimestamp, kNoTimestamp};
  bool idle_[2] = {false, false};
  int64_t emitted_ = kNoTimestamp;
};

template <class IN1, class IN2, class OUT, class F>
class CoMapOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  explicit CoMapOperator(F f) : f_(std::move(f)) {}
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& v, int64_t ts) override { this->out_->Collect(f_.map1(v), ts); }
  void ProcessElement2(const IN2& v, int64_t ts) override { this->out_->Collect(f_.map2(v), ts); }

 private:
  F f_;
};

template <class IN1, class IN2, class OUT, class F>
class CoFlatMapOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  explicit CoFlatMapOperator(F f) : f_(std::move(f)) {}
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& v, int64_t ts) override {
    collector_.Reset(this->out_, ts);
    f_.flatMap1(v, collector_);
  }
  void ProcessElement2(const IN2& v, int64_t ts) override {
    collector_.Reset(this->out_, ts);
    f_.flatMap2(v, collector_);
  }

 private:
  F f_;
  TimestampedCollector<OUT> collector_;
};

// CoProcessFunction on two (non-keyed) inputs.
template <class IN1, class IN2, class OUT, class F>
class CoProcessOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  explicit CoProcessOperator(F f) : f_(std::move(f)) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override { side_outputs_.Set(tag, output); }
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& v, int64_t ts) override {
    Prepare(ts);
    f_.processElement1(v, context_, collector_);
  }
  void ProcessElement2(const IN2& v, int64_t ts) override {
    Prepare(ts);
    f_.processElement2(v, context_, collector_);
  }

 private:
  void Prepare(int64_t ts) {
    context_.timestamp_ = ts;
    collector_.Reset(this->out_, ts);
  }
  class Context final : public ProcessFunction<IN1, OUT>::Context {
   public:
    explicit Context(CoProcessOperator* op) : op_(op) {}
    std::optional<int64_t> timestamp() const override {
      if (timestamp_ == kNoTimestamp) return std::nullopt;
      return timestamp_;
    }
    int64_t timestamp_ = kNoTimestamp;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }
    int64_t RawTimestamp() const override { return timestamp_; }

   private:
    CoProcessOperator* op_;
  };
  F f_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  Context context_{this};
};

// KeyedCoProcessFunction: both inputs keyed by the same key type, with keyed
// state and timers shared by the two sides.
template <class K, class IN1, class IN2, class OUT, class KeyFn1, class KeyFn2, class F>
class KeyedCoProcessOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  KeyedCoProcessOperator(KeyFn1 k1, KeyFn2 k2, F f) : key1_(std::move(k1)), key2_(std::move(k2)), f_(std::move(f)) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override { side_outputs_.Set(tag, output); }
  void Open(OperatorContext& ctx) override {
    key1_.Bind(ctx.keyed_state_backend());
    key2_.Bind(ctx.keyed_state_backend());
    timers_ = std::make_unique<InternalTimerService>(
        ctx.keyed_state_backend(), &ctx,
        [this](const InternalTimer& timer, TimeDomainKind domain) { OnTimer(timer, domain); });
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& v, int64_t ts) override {
    key1_.SetCurrentKey(v);
    context_.key_ = internal::CallKey(key1_.key_fn(), v);
    Prepare(ts);
    f_.processElement1(v, context_, collector_);
  }
  void ProcessElement2(const IN2& v, int64_t ts) override {
    key2_.SetCurrentKey(v);
    context_.key_ = internal::CallKey(key2_.key_fn(), v);
    Prepare(ts);
    f_.processElement2(v, context_, collector_);
  }

 protected:
  void OnCombinedWatermark(int64_t watermark) override { timers_->AdvanceWatermark(watermark); }

 private:
  void Prepare(int64_t ts) {
    context_.timestamp_ = ts;
    collector_.Reset(this->out_, ts);
  }
  void OnTimer(const InternalTimer& timer, TimeDomainKind domain) {
    collector_.Reset(this->out_, context_.EnterTimer(timer, domain));
    f_.onTimer(timer.timestamp, context_, collector_);
  }
  KeyContext<IN1, KeyFn1> key1_;
  KeyContext<IN2, KeyFn2> key2_;
  F f_;
  std::unique_ptr<InternalTimerService> timers_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  KeyedTimerContext<K, IN1, OUT> context_{&timers_, &side_outputs_};
};

// Adapts two callables to the CoMapFunction / CoFlatMapFunction shape.
template <class F1, class F2>
struct CoMapPair {
  F1 f1;
  F2 f2;
  template <class X>
  decltype(auto) map1(const X& v) { return f1(v); }
  template <class X>
  decltype(auto) map2(const X& v) { return f2(v); }
  template <class X, class C>
  void flatMap1(const X& v, C& out) { f1(v, out); }
  template <class X, class C>
  void flatMap2(const X& v, C& out) { f2(v, out); }
};

// ---- Sinks ----

template <class T, class F>
class SinkOperator final : public StreamOperatorBase, public Input<T> {
 public:
  explicit SinkOperator(F f) : f_(std::move(f)) {}
  void SetOutput(OutputBase*) override {}
  InputBase* GetInput(int index) override { return index == 0 ? this : nullptr; }
  void Open(OperatorContext& ctx) override { OpenFunction(f_, ctx); }
  void ProcessElement(const T& value, int64_t) override { CallSink(f_, value); }
  void ProcessWatermark(int64_t) override {}
  void Finish() override {
    if constexpr (requires { f_.finish(); }) f_.finish();
  }
  void OnIdle() override {
    if constexpr (requires { f_.onIdle(); }) f_.onIdle();
  }
  void Close() override { CloseFunction(f_); }

 private:
  F f_;
};

}  // namespace eddy::internal
