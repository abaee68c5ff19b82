// User function interfaces of the DataStream API. Every transformation accepts
// either a lambda / callable or an object of one of these classes; the Rich
// variants get open(RuntimeContext&) / close() and the runtime context.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "eddy/internal/runtime_interfaces.h"
#include "eddy/metrics.h"
#include "eddy/state.h"

namespace eddy {

namespace internal {
class KeyedStateBackend;
}

// Collects the records a function emits (flatMap, process, sources).
template <class T>
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(const T& value) = 0;
};

// What a function may ask the runtime about the subtask it runs in.
class RuntimeContext {
 public:
  virtual ~RuntimeContext() = default;
  virtual const std::string& getTaskName() const = 0;
  virtual const std::string& getJobId() const = 0;
  virtual int getIndexOfThisSubtask() const = 0;
  virtual int getNumberOfParallelSubtasks() const = 0;
  virtual int getMaxNumberOfParallelSubtasks() const = 0;
  virtual int getAttemptNumber() const = 0;
  // This subtask's user metrics (counters).
  virtual MetricGroup& getMetricGroup() = 0;

  // Keyed state of the current key; only on a keyed stream (after keyBy).
  template <class V>
  ValueState<V>& getState(const ValueStateDescriptor<V>& descriptor) {
    return internal::GetValueState(RequireKeyedBackend(descriptor.name()), descriptor);
  }
  template <class T>
  ListState<T>& getListState(const ListStateDescriptor<T>& descriptor) {
    return internal::GetListState(RequireKeyedBackend(descriptor.name()), descriptor);
  }
  template <class UK, class UV>
  MapState<UK, UV>& getMapState(const MapStateDescriptor<UK, UV>& descriptor) {
    return internal::GetMapState(RequireKeyedBackend(descriptor.name()), descriptor);
  }
  template <class T>
  ReducingState<T>& getReducingState(const ReducingStateDescriptor<T>& descriptor) {
    return internal::GetReducingState(RequireKeyedBackend(descriptor.name()), descriptor);
  }
  template <class IN, class ACC, class OUT>
  AggregatingState<IN, OUT>& getAggregatingState(const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
    return internal::GetAggregatingState(RequireKeyedBackend(descriptor.name()), descriptor);
  }

 protected:
  // The keyed backend, or a std::logic_error naming the state if not keyed.
  virtual internal::KeyedStateBackend& RequireKeyedBackend(const std::string& state_name) = 0;
};

// Base of every function class; Rich functions override open/close.
class Function {
 public:
  virtual ~Function() = default;
};

class RichFunction : public Function {
 public:
  // Called once per subtask before the first record.
  virtual void open(RuntimeContext& context) {}
  // Called once after the last record (or on cancellation).
  virtual void close() {}
  RuntimeContext& getRuntimeContext() { return *runtime_context_; }
  void setRuntimeContext(RuntimeContext* context) { runtime_context_ = context; }

 private:
  RuntimeContext* runtime_context_ = nullptr;
};

template <class IN, class OUT>
class MapFunction : public Function {
 public:
  using InputType = IN;
  using OutputType = OUT;
  virtual OUT map(const IN& value) = 0;
};

template <class IN, class OUT>
class FlatMapFunction : public Function {
 public:
  using InputType = IN;
  using OutputType = OUT;
  virtual void flatMap(const IN& value, Collector<OUT>& out) = 0;
};

template <class T>
class FilterFunction : public Function {
 public:
  virtual bool filter(const T& value) = 0;
};

template <class T>
class ReduceFunction : public Function {
 public:
  virtual T reduce(const T& accumulated, const T& value) = 0;
};

template <class T, class K>
class KeySelector : public Function {
 public:
  using KeyType = K;
  virtual K getKey(const T& value) = 0;
};

template <class IN1, class IN2, class OUT>
class CoMapFunction : public Function {
 public:
  using OutputType = OUT;
  virtual OUT map1(const IN1& value) = 0;
  virtual OUT map2(const IN2& value) = 0;
};

template <class IN1, class IN2, class OUT>
class CoFlatMapFunction : public Function {
 public:
  using OutputType = OUT;
  virtual void flatMap1(const IN1& value, Collector<OUT>& out) = 0;
  virtual void flatMap2(const IN2& value, Collector<OUT>& out) = 0;
};

template <class IN, class OUT>
class RichMapFunction : public MapFunction<IN, OUT>, public RichFunction {};
template <class IN, class OUT>
class RichFlatMapFunction : public FlatMapFunction<IN, OUT>, public RichFunction {};
template <class T>
class RichFilterFunction : public FilterFunction<T>, public RichFunction {};
template <class T>
class RichReduceFunction : public ReduceFunction<T>, public RichFunction {};
template <class IN1, class IN2, class OUT>
class RichCoMapFunction : public CoMapFunction<IN1, IN2, OUT>, public RichFunction {};
template <class IN1, class IN2, class OUT>
class RichCoFlatMapFunction : public CoFlatMapFunction<IN1, IN2, OUT>, public RichFunction {};

// Names a side output of a process function; the type is the side output's.
template <class T>
class OutputTag {
 public:
  using ValueType = T;
  explicit OutputTag(std::string id) : id_(std::move(id)) {}
  const std::string& getId() const { return id_; }

 private:
  std::string id_;
};

// Which clock a timer belongs to.
enum class TimeDomain { EVENT_TIME, PROCESSING_TIME };

// Timers and clocks of a keyed function, scoped to the current key.
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual int64_t currentProcessingTime() = 0;
  virtual int64_t currentWatermark() = 0;
  // onTimer is called once the watermark (event time) or the wall clock
  // (processing time) reaches `time`; one timer per key and time.
  virtual void registerEventTimeTimer(int64_t time) = 0;
  virtual void registerProcessingTimeTimer(int64_t time) = 0;
  virtual void deleteEventTimeTimer(int64_t time) = 0;
  virtual void deleteProcessingTimeTimer(int64_t time) = 0;
};

// A ProcessFunction sees every element with its timestamp and may emit to side
// outputs: the replacement for the removed split/select.
template <class IN, class OUT>
class ProcessFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  class Context {
   public:
    virtual ~Context() = default;
    // The element's timestamp, if it has one.
    virtual std::optional<int64_t> timestamp() const = 0;
    // Clocks; registering timers needs a keyed stream (KeyedProcessFunction)
    // and throws std::logic_error here.
    virtual TimerService& timerService() = 0;
    // Emits `value` to the side output named by `tag` (dropped if nobody reads it).
    template <class X>
    void output(const OutputTag<X>& tag, const X& value) {
      if (internal::OutputBase* o = SideOutput(tag.getId())) {
        static_cast<internal::Output<X>*>(o)->Collect(value, RawTimestamp());
      }
    }

   protected:
    virtual internal::OutputBase* SideOutput(const std::string& tag) = 0;
    virtual int64_t RawTimestamp() const = 0;
  };
  virtual void processElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
};

// A function on a keyed stream with per-key state and timers.
template <class K, class IN, class OUT>
class KeyedProcessFunction : public RichFunction {
 public:
  using KeyType = K;
  using InputType = IN;
  using OutputType = OUT;
  class Context {
   public:
    virtual ~Context() = default;
    // The element's timestamp (or the timer's, in onTimer), if any.
    virtual std::optional<int64_t> timestamp() const = 0;
    virtual TimerService& timerService() = 0;
    virtual const K& getCurrentKey() const = 0;
    template <class X>
    void output(const OutputTag<X>& tag, const X& value) {
      if (internal::OutputBase* o = SideOutput(tag.getId())) {
        static_cast<internal::Output<X>*>(o)->Collect(value, RawTimestamp());
      }
    }

   protected:
    virtual internal::OutputBase* SideOutput(const std::string& tag) = 0;
    virtual int64_t RawTimestamp() const = 0;
  };
  class OnTimerContext : public Context {
   public:
    virtual TimeDomain timeDomain() const = 0;
  };
  virtual void processElement(const IN& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

// Two inputs with their timestamps and side outputs. On connected keyed
// streams use KeyedCoProcessFunction, which adds keyed state and timers.
template <class IN1, class IN2, class OUT>
class CoProcessFunction : public RichFunction {
 public:
  using OutputType = OUT;
  using Context = typename ProcessFunction<IN1, OUT>::Context;
  virtual void processElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void processElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

template <class K, class IN1, class IN2, class OUT>
class KeyedCoProcessFunction : public RichFunction {
 public:
  using KeyType = K;
  using OutputType = OUT;
  using Context = typename KeyedProcessFunction<K, IN1, OUT>::Context;
  using OnTimerContext = typename KeyedProcessFunction<K, IN1, OUT>::OnTimerContext;
  virtual void processElement1(const IN1& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void processElement2(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

// A source produces records from its own loop until exhausted or cancelled.
//
// Eddy uses the run/cancel model rather than split enumeration: a source owns the
// thread of its task, which keeps user sources a single class with no
// coordinator protocol; sources that must be parallel read their subtask index
// from the runtime context (RichParallelSourceFunction) and divide the work
// deterministically, which is also how they will rewind from checkpoints.
template <class T>
class SourceFunction : public Function {
 public:
  using OutputType = T;
  class SourceContext {
   public:
    virtual ~SourceContext() = default;
    virtual void collect(const T& value) = 0;
    virtual void collectWithTimestamp(const T& value, int64_t timestamp) = 0;
    // Pushes buffered records downstream; call before blocking for a long time.
    virtual void flush() = 0;
    // Emits an event-time watermark from the source itself (sources that track
    // event time per split, such as per Kafka partition). Watermarks must not
    // go backwards; a smaller one than the last is ignored.
    virtual void emitWatermark(int64_t watermark) {}
    // Marks this source subtask idle (it has no partitions or splits to read):
    // downstream operators stop waiting for its watermarks until it emits a
    // record or a watermark again.
    virtual void markAsTemporarilyIdle() {}
    // False once the task is cancelled.
    virtual bool isRunning() const = 0;
  };
  virtual void run(SourceContext& ctx) = 0;
  // Called from another thread; run() must return soon after.
  virtual void cancel() {}
};

// A source whose parallel instances split the work among themselves.
template <class T>
class RichParallelSourceFunction : public SourceFunction<T>, public RichFunction {};
template <class T>
class RichSourceFunction : public SourceFunction<T>, public RichFunction {};

// A sink consumes records; Rich sinks are opened and closed per subtask.
template <class T>
class SinkFunction : public Function {
 public:
  virtual void invoke(const T& value) = 0;
  // Called after the last record of a bounded input: flush what is buffered.
  virtual void finish() {}
};

template <class T>
class RichSinkFunction : public SinkFunction<T>, public RichFunction {};

}  // namespace eddy
