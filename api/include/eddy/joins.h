// Joins of two streams, with Flink's semantics and fluent builders:
//
//   * Interval join of two keyed streams in event time: every pair (a, b) with
//     equal keys and a.ts + lower <= b.ts <= a.ts + upper goes to a
//     ProcessJoinFunction.
//       intervalJoin(orders.keyBy(id), payments.keyBy(id))
//           .between(std::chrono::milliseconds(-5), std::chrono::milliseconds(10))
//           .process(MyProcessJoinFunction());
//   * Window join: every pair of elements with equal keys in the same window
//     goes to a JoinFunction (or FlatJoinFunction, or a lambda).
//       join(a, b).where(keyA).equalTo(keyB)
//           .window(TumblingEventTimeWindows::of(std::chrono::seconds(5)))
//           .apply([](const A& x, const B& y) { return ...; });
//   * Window coGroup: once per key and window, all elements of each side (one
//     side may be empty) go to a CoGroupFunction.
//
// Window joins and coGroups are built, as in Flink, from existing parts: both
// inputs are mapped to a TaggedUnion<T1, T2>, unioned, keyed by the extracted
// key and windowed; a full-window function splits the window's elements by
// side. The interval join is its own keyed two-input operator that buffers
// both sides in keyed MapState (event timestamp -> elements) and drops an
// element with an event-time timer once no element that may still arrive on
// time could join it.
//
// The same builders are reachable as DataStream::join / coGroup and
// KeyedStream::intervalJoin.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/datastream.h"
#include "eddy/functions.h"
#include "eddy/internal/keyed_state.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/timers.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "eddy/windows.h"

namespace eddy {

// ---------------------------------------------------------------------------
// TaggedUnion: an element of the first or the second input of a coGroup.

// Holds either a T1 ("one", the first input) or a T2 ("two"); T1 and T2 may be
// the same type. Default-constructed it holds a default T1 (deserialization
// needs a value to overwrite).
template <class T1, class T2>
class TaggedUnion {
 public:
  TaggedUnion() = default;
  static TaggedUnion one(T1 value) {
    TaggedUnion u;
    u.value_.template emplace<0>(std::move(value));
    return u;
  }
  static TaggedUnion two(T2 value) {
    TaggedUnion u;
    u.value_.template emplace<1>(std::move(value));
    return u;
  }
  bool isOne() const { return value_.index() == 0; }
  bool isTwo() const { return value_.index() == 1; }
  // The held value; std::bad_variant_access if it is the other side's.
  const T1& getOne() const { return std::get<0>(value_); }
  const T2& getTwo() const { return std::get<1>(value_); }
  bool operator==(const TaggedUnion&) const = default;

 private:
  template <class, class>
  friend struct TypeSerializer;
  std::variant<T1, T2> value_;
};

// A tag byte (0: one, 1: two), then the value with its own serializer.
template <class T1, class T2>
struct TypeSerializer<TaggedUnion<T1, T2>, std::enable_if_t<internal::kAllSerializable<T1, T2>>> {
  static constexpr size_t kMinEncodedSize =
      1 + std::min(internal::MinEncodedSize<T1>(), internal::MinEncodedSize<T2>());
  static void Serialize(const TaggedUnion<T1, T2>& value, DataOutput& out) {
    if (value.isOne()) {
      out.WriteByte(0);
      TypeSerializer<T1>::Serialize(std::get<0>(value.value_), out);
    } else {
      out.WriteByte(1);
      TypeSerializer<T2>::Serialize(std::get<1>(value.value_), out);
    }
  }
  static void Deserialize(DataInput& in, TaggedUnion<T1, T2>& value) {
    const size_t start = in.position();
    const uint8_t tag = in.ReadByte();
    if (tag == 0) {
      // Reuses the held value's storage when the side does not change.
      if (value.value_.index() != 0) value.value_.template emplace<0>();
      TypeSerializer<T1>::Deserialize(in, std::get<0>(value.value_));
    } else if (tag == 1) {
      if (value.value_.index() != 1) value.value_.template emplace<1>();
      TypeSerializer<T2>::Deserialize(in, std::get<1>(value.value_));
    } else {
      in.FailAt(start, internal::Concat("invalid TaggedUnion tag ", tag));
    }
  }
};

// ---------------------------------------------------------------------------
// User functions.

// A window join's function: one output per pair.
template <class IN1, class IN2, class OUT>
class JoinFunction : public Function {
 public:
  using OutputType = OUT;
  virtual OUT join(const IN1& first, const IN2& second) = 0;
};

// A window join's function: any number of outputs per pair.
template <class IN1, class IN2, class OUT>
class FlatJoinFunction : public Function {
 public:
  using OutputType = OUT;
  virtual void join(const IN1& first, const IN2& second, Collector<OUT>& out) = 0;
};

// Called once per key and window with all elements of each side; one of the
// two may be empty, never both.
template <class IN1, class IN2, class OUT>
class CoGroupFunction : public Function {
 public:
  using OutputType = OUT;
  virtual void coGroup(const std::vector<IN1>& first, const std::vector<IN2>& second,
                       Collector<OUT>& out) = 0;
};

template <class IN1, class IN2, class OUT>
class RichJoinFunction : public JoinFunction<IN1, IN2, OUT>, public RichFunction {};
template <class IN1, class IN2, class OUT>
class RichFlatJoinFunction : public FlatJoinFunction<IN1, IN2, OUT>, public RichFunction {};
template <class IN1, class IN2, class OUT>
class RichCoGroupFunction : public CoGroupFunction<IN1, IN2, OUT>, public RichFunction {};

// An interval join's function: called for each joined pair, with both
// timestamps. Output records carry the larger of the two timestamps. Keyed
// state (getRuntimeContext()) is the pair's key's.
template <class IN1, class IN2, class OUT>
class ProcessJoinFunction : public RichFunction {
 public:
  using OutputType = OUT;
  class Context {
   public:
    virtual ~Context() = default;
    // The event timestamps of the left (first) and right (second) element.
    virtual int64_t getLeftTimestamp() const = 0;
    virtual int64_t getRightTimestamp() const = 0;
    // max(left, right): the timestamp of the records this call emits.
    virtual int64_t getTimestamp() const = 0;
    // Emits `value` to the side output named by `tag` (dropped if nobody reads it).
    template <class X>
    void output(const OutputTag<X>& tag, const X& value) {
      if (internal::OutputBase* o = SideOutput(tag.getId())) {
        static_cast<internal::Output<X>*>(o)->Collect(value, getTimestamp());
      }
    }

   protected:
    virtual internal::OutputBase* SideOutput(const std::string& tag) = 0;
  };
  virtual void processElement(const IN1& left, const IN2& right, Context& ctx, Collector<OUT>& out) = 0;
};

template <class T1, class KeyFn1, class T2, class KeyFn2>
class IntervalJoin;
template <class T1, class T2>
class JoinedStreams;
template <class T1, class T2>
class CoGroupedStreams;

// ---------------------------------------------------------------------------
// Entry points (also DataStream::join / coGroup, KeyedStream::intervalJoin).

// Joins `first` and `second` on equal keys within windows:
// join(a, b).where(keyA).equalTo(keyB).window(assigner).apply(function).
template <class T1, class T2>
JoinedStreams<T1, T2> join(const DataStream<T1>& first, const DataStream<T2>& second) {
  return JoinedStreams<T1, T2>(first, second);
}

// Groups `first` and `second` by key within windows:
// coGroup(a, b).where(keyA).equalTo(keyB).window(assigner).apply(function).
template <class T1, class T2>
CoGroupedStreams<T1, T2> coGroup(const DataStream<T1>& first, const DataStream<T2>& second) {
  return CoGroupedStreams<T1, T2>(first, second);
}

// Joins two keyed streams (same key type) on event-time intervals:
// intervalJoin(a, b).between(lower, upper).process(ProcessJoinFunction).
template <class T1, class KeyFn1, class T2, class KeyFn2>
IntervalJoin<T1, KeyFn1, T2, KeyFn2> intervalJoin(const KeyedStream<T1, KeyFn1>& left,
                                                  const KeyedStream<T2, KeyFn2>& right) {
  return IntervalJoin<T1, KeyFn1, T2, KeyFn2>(left, right);
}

namespace internal {

// ---------------------------------------------------------------------------
// Interval join operator.

template <class F, class IN1, class IN2, class OUT, class Context>
void CallProcessJoin(F& f, const IN1& left, const IN2& right, Context& ctx, Collector<OUT>& out) {
  if constexpr (requires { f.processElement(left, right, ctx, out); }) {
    f.processElement(left, right, ctx, out);
  } else {
    f(left, right, ctx, out);
  }
}

// `a + b`, clamped to the int64 range.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// Keyed two-input operator of an interval join. `lower` and `upper` are the
// inclusive bounds of right.ts - left.ts (exclusive bounds already applied).
//
// An element is late, and dropped (or sent to the late-data side output),
// when its timestamp is below the current watermark, as in Flink. Every other
// element joins the other side's buffered elements and is buffered itself
// until the watermark passes its last joinable time: left a until a + upper,
// right b until b - lower. (Flink drops them one millisecond earlier, when the
// watermark reaches that time, so an element at exactly the watermark could
// miss a partner; waiting one more millisecond keeps the result complete for
// every on-time element.)
template <class K, class IN1, class IN2, class OUT, class KeyFn1, class KeyFn2, class F>
class IntervalJoinOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  IntervalJoinOperator(KeyFn1 key1, KeyFn2 key2, int64_t lower, int64_t upper, F f,
                       std::string left_late_tag, std::string right_late_tag)
      : key1_(std::move(key1)),
        key2_(std::move(key2)),
        lower_(lower),
        upper_(upper),
        f_(std::move(f)),
        left_late_tag_(std::move(left_late_tag)),
        right_late_tag_(std::move(right_late_tag)) {}

  // Names of the buffers in keyed state.
  static constexpr const char* kLeftBuffer = "_interval-join-left";
  static constexpr const char* kRightBuffer = "_interval-join-right";

  void SetSideOutput(const std::string& tag, OutputBase* output) override { side_outputs_.Set(tag, output); }
  void Open(OperatorContext& ctx) override {
    KeyedStateBackend* backend = ctx.keyed_state_backend();
    key1_.Bind(backend);
    key2_.Bind(backend);
    left_ = &GetMapState(*backend, MapStateDescriptor<int64_t, std::vector<IN1>>(kLeftBuffer));
    right_ = &GetMapState(*backend, MapStateDescriptor<int64_t, std::vector<IN2>>(kRightBuffer));
    timers_ = std::make_unique<InternalTimerService>(
        backend, &ctx, [this](const InternalTimer& timer, TimeDomainKind) { OnTimer(timer); });
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }

  void ProcessElement1(const IN1& value, int64_t ts) override {
    RequireTimestamp(ts, "left (first)");
    key1_.SetCurrentKey(value);
    if (IsLate(ts)) {
      EmitLate(left_late_tag_, value, ts);
      return;
    }
    AddToBuffer(*left_, value, ts);
    for (int64_t right_ts : right_->keys()) {
      if (!Joinable(ts, right_ts)) continue;
      for (const IN2& right : right_->get(right_ts).value_or(std::vector<IN2>{})) {
        Emit(value, right, ts, right_ts);
      }
    }
    RegisterCleanup(kLeftSide, ts, SaturatingAdd(SaturatingAdd(ts, upper_), 1));
  }

  void ProcessElement2(const IN2& value, int64_t ts) override {
    RequireTimestamp(ts, "right (second)");
    key2_.SetCurrentKey(value);
    if (IsLate(ts)) {
      EmitLate(right_late_tag_, value, ts);
      return;
    }
    AddToBuffer(*right_, value, ts);
    for (int64_t left_ts : left_->keys()) {
      if (!Joinable(left_ts, ts)) continue;
      for (const IN1& left : left_->get(left_ts).value_or(std::vector<IN1>{})) {
        Emit(left, value, left_ts, ts);
      }
    }
    // Left partners of b have a <= b - lower.
    const int64_t last = lower_ == std::numeric_limits<int64_t>::min()
                             ? std::numeric_limits<int64_t>::max()
                             : SaturatingAdd(ts, -lower_);
    RegisterCleanup(kRightSide, ts, SaturatingAdd(last, 1));
  }

 protected:
  void OnCombinedWatermark(int64_t watermark) override { timers_->AdvanceWatermark(watermark); }

 private:
  static constexpr char kLeftSide = 'L';
  static constexpr char kRightSide = 'R';

  static void RequireTimestamp(int64_t ts, const char* side) {
    if (ts != kNoTimestamp) return;
    throw std::runtime_error(std::string("a record of the ") + side +
                             " input of an interval join has no timestamp: interval joins are in "
                             "event time; use assignTimestampsAndWatermarks on both inputs");
  }
  bool IsLate(int64_t ts) const { return ts < timers_->current_watermark(); }
  // lower <= right_ts - left_ts <= upper, without overflow.
  bool Joinable(int64_t left_ts, int64_t right_ts) const {
    int64_t diff;
    if (__builtin_sub_overflow(right_ts, left_ts, &diff)) return false;  // beyond any bound
    return diff >= lower_ && diff <= upper_;
  }
  template <class X>
  static void AddToBuffer(MapState<int64_t, std::vector<X>>& buffer, const X& value, int64_t ts) {
    std::vector<X> bucket = buffer.get(ts).value_or(std::vector<X>{});
    bucket.push_back(value);
    buffer.put(ts, bucket);
  }
  // One timer per (key, side, bucket): its namespace names the bucket, so the
  // timer maps back to it whatever the bounds.
  void RegisterCleanup(char side, int64_t bucket, int64_t time) {
    std::string name_space(1, side);
    DataOutput out(&name_space);
    out.WriteFixed64(static_cast<uint64_t>(bucket));
    timers_->RegisterEventTimeTimer(time, name_space);
  }
  void OnTimer(const InternalTimer& timer) {
    DataInput in(timer.name_space);
    const char side = static_cast<char>(in.ReadByte());
    const int64_t bucket = static_cast<int64_t>(in.ReadFixed64());
    if (side == kLeftSide) {
      left_->remove(bucket);
    } else {
      right_->remove(bucket);
    }
  }
  template <class X>
  void EmitLate(const std::string& tag, const X& value, int64_t ts) {
    if (tag.empty()) return;
    if (OutputBase* o = side_outputs_.Get(tag)) static_cast<Output<X>*>(o)->Collect(value, ts);
  }
  void Emit(const IN1& left, const IN2& right, int64_t left_ts, int64_t right_ts) {
    context_.left_ = left_ts;
    context_.right_ = right_ts;
    collector_.Reset(this->out_, std::max(left_ts, right_ts));
    CallProcessJoin(f_, left, right, context_, collector_);
  }

  class Context final : public ProcessJoinFunction<IN1, IN2, OUT>::Context {
   public:
    explicit Context(IntervalJoinOperator* op) : op_(op) {}
    int64_t getLeftTimestamp() const override { return left_; }
    int64_t getRightTimestamp() const override { return right_; }
    int64_t getTimestamp() const override { return std::max(left_, right_); }
    int64_t left_ = 0;
    int64_t right_ = 0;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }

   private:
    IntervalJoinOperator* op_;
  };

  KeyContext<IN1, KeyFn1> key1_;
  KeyContext<IN2, KeyFn2> key2_;
  int64_t lower_;
  int64_t upper_;
  F f_;
  std::string left_late_tag_;
  std::string right_late_tag_;
  MapState<int64_t, std::vector<IN1>>* left_ = nullptr;
  MapState<int64_t, std::vector<IN2>>* right_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  Context context_{this};
};

// ---------------------------------------------------------------------------
// Window join / coGroup plumbing.

template <class F>
void OpenNested(F& f, RuntimeContext& context) {
  if constexpr (std::is_base_of_v<RichFunction, F>) {
    f.setRuntimeContext(&context);
    f.open(context);
  }
}
template <class F>
void CloseNested(F& f) {
  if constexpr (std::is_base_of_v<RichFunction, F>) f.close();
}

// The key of a tagged element: the first input's key selector for "one", the
// second's for "two".
template <class T1, class T2, class KeyFn1, class KeyFn2>
struct UnionKeySelector {
  using K = std::decay_t<decltype(CallKey(std::declval<KeyFn1&>(), std::declval<const T1&>()))>;
  KeyFn1 key1;
  KeyFn2 key2;
  K operator()(const TaggedUnion<T1, T2>& v) {
    if (v.isOne()) return CallKey(key1, v.getOne());
    return CallKey(key2, v.getTwo());
  }
};

template <class F, class IN1, class IN2, class OUT>
void CallCoGroup(F& f, const std::vector<IN1>& first, const std::vector<IN2>& second, Collector<OUT>& out) {
  if constexpr (requires { f.coGroup(first, second, out); }) {
    f.coGroup(first, second, out);
  } else {
    f(first, second, out);
  }
}

// The full-window function of a coGroup: splits the window's tagged elements
// by side (in arrival order) and calls the user's coGroup function.
template <class T1, class T2, class OUT, class K, class W, class F>
class CoGroupWindowFunction final : public WindowFunction<TaggedUnion<T1, T2>, OUT, K, W> {
 public:
  explicit CoGroupWindowFunction(F f) : f_(std::move(f)) {}
  void open(RuntimeContext& context) override { OpenNested(f_, context); }
  void close() override { CloseNested(f_); }
  void apply(const K&, const W&, const std::vector<TaggedUnion<T1, T2>>& elements, Collector<OUT>& out) override {
    first_.clear();
    second_.clear();
    for (const auto& e : elements) {
      if (e.isOne()) {
        first_.push_back(e.getOne());
      } else {
        second_.push_back(e.getTwo());
      }
    }
    CallCoGroup(f_, first_, second_, out);
  }

 private:
  F f_;
  std::vector<T1> first_;
  std::vector<T2> second_;
};

// A join as a coGroup, as Flink builds it: every (first, second) pair of the
// group, first-major. kFlat: F emits through a Collector (FlatJoinFunction).
template <class F, bool kFlat>
class JoinCoGroupFunction : public RichFunction {
 public:
  explicit JoinCoGroupFunction(F f) : f_(std::move(f)) {}
  void open(RuntimeContext& context) override { OpenNested(f_, context); }
  void close() override { CloseNested(f_); }
  template <class IN1, class IN2, class OUT>
  void coGroup(const std::vector<IN1>& first, const std::vector<IN2>& second, Collector<OUT>& out) {
    for (const IN1& a : first) {
      for (const IN2& b : second) {
        if constexpr (kFlat) {
          if constexpr (requires { f_.join(a, b, out); }) {
            f_.join(a, b, out);
          } else {
            f_(a, b, out);
          }
        } else if constexpr (requires { f_.join(a, b); }) {
          out.collect(f_.join(a, b));
        } else {
          out.collect(f_(a, b));
        }
      }
    }
  }

 private:
  F f_;
};

}  // namespace internal

// ---------------------------------------------------------------------------
// Interval join builders.

// intervalJoin(a, b) after between(lower, upper): bounds and the function.
template <class T1, class KeyFn1, class T2, class KeyFn2>
class IntervalJoined {
 public:
  using K = typename KeyedStream<T1, KeyFn1>::KeyType;

  IntervalJoined(KeyedStream<T1, KeyFn1> left, KeyedStream<T2, KeyFn2> right, int64_t lower, int64_t upper)
      : left_(std::move(left)), right_(std::move(right)), lower_(lower), upper_(upper) {}

  // Excludes b.ts == a.ts + lower (resp. a.ts + upper) from the join.
  IntervalJoined& lowerBoundExclusive() {
    lower_inclusive_ = false;
    return *this;
  }
  IntervalJoined& upperBoundExclusive() {
    upper_inclusive_ = false;
    return *this;
  }
  // Late elements (timestamp below the watermark) of either side go to `tag`
  // (getSideOutput(tag)) instead of being dropped.
  IntervalJoined& sideOutputLeftLateData(const OutputTag<T1>& tag) {
    left_late_tag_ = tag.getId();
    return *this;
  }
  IntervalJoined& sideOutputRightLateData(const OutputTag<T2>& tag) {
    right_late_tag_ = tag.getId();
    return *this;
  }

  // Joins with a ProcessJoinFunction<T1, T2, OUT> or a callable
  // void(const T1&, const T2&, ProcessJoinFunction<T1, T2, OUT>::Context&,
  // Collector<OUT>&) (for a generic lambda write process<OUT>(...)). Throws
  // std::invalid_argument if the exclusive bounds leave an empty interval.
  template <class OUT = void, class F>
  SingleOutputStreamOperator<typename internal::FunctionOutput<OUT, F, 3>::type> process(F f) {
    using O = typename internal::FunctionOutput<OUT, F, 3>::type;
    static_assert(!std::is_void_v<O>,
                  "intervalJoin().process() expects a ProcessJoinFunction<T1, T2, OUT> or a callable "
                  "void(const T1&, const T2&, ProcessJoinFunction<T1, T2, OUT>::Context&, "
                  "Collector<OUT>&); for a generic lambda write process<OUT>(...)");
    using Ctx = typename ProcessJoinFunction<T1, T2, O>::Context;
    static_assert(requires(F& g, const T1& a, const T2& b, Ctx& c, Collector<O>& out) {
                    g.processElement(a, b, c, out);
                  } || std::is_invocable_v<F&, const T1&, const T2&, Ctx&, Collector<O>&>,
                  "intervalJoin().process() expects a ProcessJoinFunction<T1, T2, OUT> or a callable "
                  "void(const T1&, const T2&, ProcessJoinFunction<T1, T2, OUT>::Context&, Collector<OUT>&)");
    static_assert(kIsSerializable<T1> && kIsSerializable<T2>,
                  "an interval join buffers both inputs in keyed state: both element types need a "
                  "TypeSerializer (EDDY_FIELDS or a specialization)");
    // Exclusive bounds as inclusive ones, as Flink's IntervalJoinOperator.
    const int64_t lower = lower_inclusive_ ? lower_ : internal::SaturatingAdd(lower_, 1);
    const int64_t upper = upper_inclusive_ ? upper_ : internal::SaturatingAdd(upper_, -1);
    if (lower > upper) {
      throw std::invalid_argument("intervalJoin: the bounds (" + std::to_string(lower_) + ", " +
                                  std::to_string(upper_) + ") with exclusive ends leave no interval");
    }
    using Op = internal::IntervalJoinOperator<K, T1, T2, O, KeyFn1, KeyFn2, F>;
    StreamExecutionEnvironment& env = left_.getExecutionEnvironment();
    auto& node = env.stream_graph().AddNode(internal::NodeKind::kTwoInput, "Interval Join",
                                            {left_.getId(), right_.getId()}, internal::TypeHandleFor<O>());
    node.keyed = true;
    node.operator_factory = [k1 = left_.key_fn(), k2 = right_.key_fn(), lower, upper, f, lt = left_late_tag_,
                             rt = right_late_tag_]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return std::make_unique<Op>(k1, k2, lower, upper, f, lt, rt);
    };
    return SingleOutputStreamOperator<O>(&env, node.id);
  }

 private:
  KeyedStream<T1, KeyFn1> left_;
  KeyedStream<T2, KeyFn2> right_;
  int64_t lower_;
  int64_t upper_;
  bool lower_inclusive_ = true;
  bool upper_inclusive_ = true;
  std::string left_late_tag_;
  std::string right_late_tag_;
};

// intervalJoin(a, b): waiting for between(lower, upper).
template <class T1, class KeyFn1, class T2, class KeyFn2>
class IntervalJoin {
 public:
  IntervalJoin(const KeyedStream<T1, KeyFn1>& left, const KeyedStream<T2, KeyFn2>& right)
      : left_(left), right_(right) {
    static_assert(std::is_same_v<typename KeyedStream<T1, KeyFn1>::KeyType,
                                 typename KeyedStream<T2, KeyFn2>::KeyType>,
                  "intervalJoin(): both keyed streams must have the same key type");
    if (&left.getExecutionEnvironment() != &right.getExecutionEnvironment()) {
      throw std::invalid_argument("intervalJoin: both streams must belong to the same environment");
    }
  }
  // Joins a with every b of the same key where a.ts + lower <= b.ts <= a.ts +
  // upper (both inclusive until made exclusive). Throws std::invalid_argument
  // unless lower <= upper.
  IntervalJoined<T1, KeyFn1, T2, KeyFn2> between(std::chrono::milliseconds lower,
                                                 std::chrono::milliseconds upper) const {
    if (lower > upper) {
      throw std::invalid_argument("intervalJoin().between(lower, upper): lower (" +
                                  std::to_string(lower.count()) + " ms) must not exceed upper (" +
                                  std::to_string(upper.count()) + " ms)");
    }
    return IntervalJoined<T1, KeyFn1, T2, KeyFn2>(left_, right_, lower.count(), upper.count());
  }

 private:
  KeyedStream<T1, KeyFn1> left_;
  KeyedStream<T2, KeyFn2> right_;
};

// ---------------------------------------------------------------------------
// Window coGroup / join builders.

template <class T1, class T2>
class CoGroupedStreams {
 public:
  using Tagged = TaggedUnion<T1, T2>;

  // coGroup(a, b).where(k1).equalTo(k2).window(assigner): windows, triggers,
  // evictors and lateness as on a WindowedStream of TaggedUnion<T1, T2>.
  template <class KeyFn1, class KeyFn2, class W>
  class WithWindow {
   public:
    using K = typename internal::UnionKeySelector<T1, T2, KeyFn1, KeyFn2>::K;
    using WindowType = W;

    WithWindow(DataStream<T1> first, DataStream<T2> second, KeyFn1 key1, KeyFn2 key2,
               std::shared_ptr<WindowAssigner<Tagged, W>> assigner)
        : first_(std::move(first)),
          second_(std::move(second)),
          key1_(std::move(key1)),
          key2_(std::move(key2)),
          assigner_(std::move(assigner)) {}

    WithWindow& trigger(std::shared_ptr<Trigger<Tagged, W>> trigger) {
      trigger_ = std::move(trigger);
      return *this;
    }
    WithWindow& evictor(std::shared_ptr<Evictor<Tagged, W>> evictor) {
      evictor_ = std::move(evictor);
      return *this;
    }
    WithWindow& allowedLateness(std::chrono::milliseconds lateness) {
      lateness_ = lateness;
      return *this;
    }

    // A CoGroupFunction<T1, T2, OUT> or a callable void(const std::vector<T1>&,
    // const std::vector<T2>&, Collector<OUT>&) (for a generic lambda write
    // apply<OUT>(...)); called once per key and window.
    template <class OUT = void, class F>
    SingleOutputStreamOperator<typename internal::FunctionOutput<OUT, F, 2>::type> apply(F f) {
      using O = typename internal::FunctionOutput<OUT, F, 2>::type;
      static_assert(!std::is_void_v<O>,
                    "coGroup().apply() expects a CoGroupFunction<T1, T2, OUT> or a callable "
                    "void(const std::vector<T1>&, const std::vector<T2>&, Collector<OUT>&); for a "
                    "generic lambda write apply<OUT>(...)");
      static_assert(requires(F& g, const std::vector<T1>& a, const std::vector<T2>& b, Collector<O>& out) {
                      g.coGroup(a, b, out);
                    } || std::is_invocable_v<F&, const std::vector<T1>&, const std::vector<T2>&, Collector<O>&>,
                    "coGroup().apply() expects a CoGroupFunction<T1, T2, OUT> or a callable "
                    "void(const std::vector<T1>&, const std::vector<T2>&, Collector<OUT>&)");
      return Build<O>(std::move(f), "Window(CoGroup)");
    }

    // Used by JoinedStreams: the same pipeline under another operator name.
    template <class O, class F>
    SingleOutputStreamOperator<O> Build(F f, const char* name) {
      static_assert(kIsSerializable<T1> && kIsSerializable<T2>,
                    "a window join/coGroup ships and buffers both inputs: both element types need a "
                    "TypeSerializer (EDDY_FIELDS or a specialization)");
      auto tagged1 = Tag(first_, [](const T1& v) { return Tagged::one(v); });
      auto tagged2 = Tag(second_, [](const T2& v) { return Tagged::two(v); });
      auto keyed = tagged1.union_(tagged2).keyBy(internal::UnionKeySelector<T1, T2, KeyFn1, KeyFn2>{key1_, key2_});
      auto windowed = keyed.window(assigner_);
      if (trigger_) windowed.trigger(trigger_);
      if (evictor_) windowed.evictor(evictor_);
      if (lateness_) windowed.allowedLateness(*lateness_);
      SingleOutputStreamOperator<O> result =
          windowed.apply(internal::CoGroupWindowFunction<T1, T2, O, K, W, F>(std::move(f)));
      result.name(name);
      return result;
    }

   private:
    // Maps an input to the tagged type with the input's parallelism, so that
    // the tagger chains to it (as Flink's Input1Tagger / Input2Tagger).
    template <class T, class Fn>
    static DataStream<Tagged> Tag(DataStream<T> input, Fn fn) {
      auto& graph = input.getExecutionEnvironment().stream_graph();
      const int parallelism = graph.node(input.getId()).parallelism;
      SingleOutputStreamOperator<Tagged> tagged = input.map(fn);
      graph.node(tagged.getId()).parallelism = parallelism;
      return tagged;
    }

    DataStream<T1> first_;
    DataStream<T2> second_;
    KeyFn1 key1_;
    KeyFn2 key2_;
    std::shared_ptr<WindowAssigner<Tagged, W>> assigner_;
    std::shared_ptr<Trigger<Tagged, W>> trigger_;
    std::shared_ptr<Evictor<Tagged, W>> evictor_;
    std::optional<std::chrono::milliseconds> lateness_;
  };

  // coGroup(a, b).where(k1).equalTo(k2): waiting for window(...).
  template <class KeyFn1, class KeyFn2>
  class EqualTo {
   public:
    EqualTo(DataStream<T1> first, DataStream<T2> second, KeyFn1 key1, KeyFn2 key2)
        : first_(std::move(first)), second_(std::move(second)), key1_(std::move(key1)), key2_(std::move(key2)) {}

    // TumblingEventTimeWindows::of(...), SlidingEventTimeWindows::of(...),
    // session and processing-time windows, GlobalWindows::create() (with a
    // trigger), or any WindowAssigner<TaggedUnion<T1, T2>, W>.
    WithWindow<KeyFn1, KeyFn2, TimeWindow> window(const TimeWindowSpec& spec) const {
      return Windowed<TimeWindow>(spec.template Create<Tagged>());
    }
    template <class G>
    WithWindow<KeyFn1, KeyFn2, TimeWindow> window(const DynamicSessionSpec<G>& spec) const {
      return Windowed<TimeWindow>(spec.template Create<Tagged>());
    }
    WithWindow<KeyFn1, KeyFn2, GlobalWindow> window(const GlobalWindowSpec& spec) const {
      return Windowed<GlobalWindow>(spec.template Create<Tagged>());
    }
    template <class W>
    WithWindow<KeyFn1, KeyFn2, W> window(std::shared_ptr<WindowAssigner<Tagged, W>> assigner) const {
      return Windowed<W>(std::move(assigner));
    }

   private:
    template <class W>
    WithWindow<KeyFn1, KeyFn2, W> Windowed(std::shared_ptr<WindowAssigner<Tagged, W>> assigner) const {
      return WithWindow<KeyFn1, KeyFn2, W>(first_, second_, key1_, key2_, std::move(assigner));
    }
    DataStream<T1> first_;
    DataStream<T2> second_;
    KeyFn1 key1_;
    KeyFn2 key2_;
  };

  // coGroup(a, b).where(k1): waiting for equalTo(k2).
  template <class KeyFn1>
  class Where {
   public:
    Where(DataStream<T1> first, DataStream<T2> second, KeyFn1 key1)
        : first_(std::move(first)), second_(std::move(second)), key1_(std::move(key1)) {}

    // The second input's key: a KeySelector<T2, K> or a callable K(const T2&)
    // returning the same type as the first input's key.
    template <class KeyFn2>
    EqualTo<KeyFn1, KeyFn2> equalTo(KeyFn2 key2) const {
      static_assert(internal::kIsKeyFn<KeyFn2, T2>,
                    "equalTo() expects a KeySelector<T2, K> or a callable K(const T2&)");
      using K1 = std::decay_t<decltype(internal::CallKey(std::declval<KeyFn1&>(), std::declval<const T1&>()))>;
      using K2 = std::decay_t<decltype(internal::CallKey(std::declval<KeyFn2&>(), std::declval<const T2&>()))>;
      static_assert(std::is_same_v<K1, K2>, "where(k1).equalTo(k2): both key selectors must return the same type");
      return EqualTo<KeyFn1, KeyFn2>(first_, second_, key1_, std::move(key2));
    }

   private:
    DataStream<T1> first_;
    DataStream<T2> second_;
    KeyFn1 key1_;
  };

  CoGroupedStreams(const DataStream<T1>& first, const DataStream<T2>& second) : first_(first), second_(second) {
    if (&first.getExecutionEnvironment() != &second.getExecutionEnvironment()) {
      throw std::invalid_argument("coGroup/join: both streams must belong to the same environment");
    }
  }

  // The first input's key: a KeySelector<T1, K> or a callable K(const T1&).
  template <class KeyFn1>
  Where<KeyFn1> where(KeyFn1 key1) const {
    static_assert(internal::kIsKeyFn<KeyFn1, T1>, "where() expects a KeySelector<T1, K> or a callable K(const T1&)");
    return Where<KeyFn1>(first_, second_, std::move(key1));
  }

 private:
  DataStream<T1> first_;
  DataStream<T2> second_;
};

template <class T1, class T2>
class JoinedStreams {
 public:
  using Tagged = TaggedUnion<T1, T2>;

  // join(a, b).where(k1).equalTo(k2).window(assigner).
  template <class KeyFn1, class KeyFn2, class W>
  class WithWindow {
   public:
    explicit WithWindow(typename CoGroupedStreams<T1, T2>::template WithWindow<KeyFn1, KeyFn2, W> co_group)
        : co_group_(std::move(co_group)) {}

    WithWindow& trigger(std::shared_ptr<Trigger<Tagged, W>> trigger) {
      co_group_.trigger(std::move(trigger));
      return *this;
    }
    WithWindow& evictor(std::shared_ptr<Evictor<Tagged, W>> evictor) {
      co_group_.evictor(std::move(evictor));
      return *this;
    }
    WithWindow& allowedLateness(std::chrono::milliseconds lateness) {
      co_group_.allowedLateness(lateness);
      return *this;
    }

    // Every pair of a window's elements with equal keys, first-input-major:
    // a JoinFunction<T1, T2, OUT> or callable OUT(const T1&, const T2&) (one
    // output per pair), or a FlatJoinFunction<T1, T2, OUT> or callable
    // void(const T1&, const T2&, Collector<OUT>&) (for a generic lambda write
    // apply<OUT>(...)). Outputs carry the window's max timestamp.
    template <class OUT = void, class F>
    auto apply(F f) {
      constexpr bool kPerPair = requires(F& g, const T1& a, const T2& b) { g.join(a, b); } ||
                                std::is_invocable_v<F&, const T1&, const T2&>;
      if constexpr (kPerPair) {
        using R = decltype([] {
          if constexpr (requires(F& g, const T1& a, const T2& b) { g.join(a, b); }) {
            return std::type_identity<std::decay_t<decltype(std::declval<F&>().join(
                std::declval<const T1&>(), std::declval<const T2&>()))>>{};
          } else {
            return std::type_identity<std::decay_t<std::invoke_result_t<F&, const T1&, const T2&>>>{};
          }
        }())::type;
        static_assert(!std::is_void_v<R>,
                      "join().apply(f): f(const T1&, const T2&) returns nothing; return the joined value, "
                      "or take a Collector<OUT>& as a third parameter");
        return co_group_.template Build<R>(internal::JoinCoGroupFunction<F, false>(std::move(f)), "Window(Join)");
      } else {
        using O = typename internal::FunctionOutput<OUT, F, 2>::type;
        static_assert(!std::is_void_v<O>,
                      "join().apply() expects a JoinFunction<T1, T2, OUT>, a FlatJoinFunction<T1, T2, OUT>, "
                      "a callable OUT(const T1&, const T2&) or a callable void(const T1&, const T2&, "
                      "Collector<OUT>&); for a generic flat lambda write apply<OUT>(...)");
        static_assert(requires(F& g, const T1& a, const T2& b, Collector<O>& out) { g.join(a, b, out); } ||
                          std::is_invocable_v<F&, const T1&, const T2&, Collector<O>&>,
                      "join().apply() expects a FlatJoinFunction<T1, T2, OUT> or a callable "
                      "void(const T1&, const T2&, Collector<OUT>&)");
        return co_group_.template Build<O>(internal::JoinCoGroupFunction<F, true>(std::move(f)), "Window(Join)");
      }
    }

   private:
    typename CoGroupedStreams<T1, T2>::template WithWindow<KeyFn1, KeyFn2, W> co_group_;
  };

  // join(a, b).where(k1).equalTo(k2): waiting for window(...).
  template <class KeyFn1, class KeyFn2>
  class EqualTo {
   public:
    explicit EqualTo(typename CoGroupedStreams<T1, T2>::template EqualTo<KeyFn1, KeyFn2> co_group)
        : co_group_(std::move(co_group)) {}
    // The window assigners of CoGroupedStreams::EqualTo::window.
    template <class Spec>
    auto window(Spec&& spec) const {
      auto co = co_group_.window(std::forward<Spec>(spec));
      return WithWindow<KeyFn1, KeyFn2, typename decltype(co)::WindowType>(std::move(co));
    }

   private:
    typename CoGroupedStreams<T1, T2>::template EqualTo<KeyFn1, KeyFn2> co_group_;
  };

  // join(a, b).where(k1): waiting for equalTo(k2).
  template <class KeyFn1>
  class Where {
   public:
    explicit Where(typename CoGroupedStreams<T1, T2>::template Where<KeyFn1> co_group)
        : co_group_(std::move(co_group)) {}
    template <class KeyFn2>
    EqualTo<KeyFn1, KeyFn2> equalTo(KeyFn2 key2) const {
      return EqualTo<KeyFn1, KeyFn2>(co_group_.equalTo(std::move(key2)));
    }

   private:
    typename CoGroupedStreams<T1, T2>::template Where<KeyFn1> co_group_;
  };

  JoinedStreams(const DataStream<T1>& first, const DataStream<T2>& second) : co_group_(first, second) {}

  // The first input's key: a KeySelector<T1, K> or a callable K(const T1&).
  template <class KeyFn1>
  Where<KeyFn1> where(KeyFn1 key1) const {
    return Where<KeyFn1>(co_group_.where(std::move(key1)));
  }

 private:
  CoGroupedStreams<T1, T2> co_group_;
};

}  // namespace eddy
