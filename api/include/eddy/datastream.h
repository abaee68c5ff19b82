// The DataStream API: typed handles on the StreamGraph a program is building.
// Every method records a node; nothing runs until execute().
#pragma once

#include <concepts>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/environment.h"
#include "eddy/functions.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/internal/type_handle.h"
#include "eddy/sinks.h"
#include "eddy/sources.h"
#include "eddy/watermarks.h"
#include "eddy/windows.h"
#include "eddy/internal/window_operator.h"

namespace eddy {

template <class T, class KeyFn>
class KeyedStream;
template <class T1, class T2>
class ConnectedStreams;
template <class T1, class T2, class KeyFn1, class KeyFn2>
class KeyedConnectedStreams;
template <class T, class KeyFn, class W>
class WindowedStream;
template <class T>
class SingleOutputStreamOperator;
template <class T>
class DataStreamSink;
template <class T>
class BroadcastStream;
template <class T1, class T2>
class JoinedStreams;
template <class T1, class T2>
class CoGroupedStreams;
template <class T1, class KeyFn1, class T2, class KeyFn2>
class IntervalJoin;
template <class IN1, class IN2>
class BroadcastConnectedStream;
template <class IN1, class KeyFn, class IN2>
class KeyedBroadcastConnectedStream;

namespace internal {

// ---- Compile-time checks of user function signatures ----

template <class F, class T>
inline constexpr bool kIsMapFn =
    requires(F& f, const T& v) { f.map(v); } || std::is_invocable_v<F&, const T&>;
template <class F, class T>
inline constexpr bool kIsFilterFn = requires(F& f, const T& v) {
  { f.filter(v) } -> std::convertible_to<bool>;
} || std::is_invocable_r_v<bool, F&, const T&>;
template <class F, class T>
inline constexpr bool kIsKeyFn =
    requires(F& f, const T& v) { f.getKey(v); } || std::is_invocable_v<F&, const T&>;
template <class F, class T>
inline constexpr bool kIsReduceFn = requires(F& f, const T& a) {
  { f.reduce(a, a) } -> std::convertible_to<T>;
} || std::is_invocable_r_v<T, F&, const T&, const T&>;
template <class F, class T>
inline constexpr bool kIsSinkFn =
    requires(F& f, const T& v) { f.invoke(v); } || std::is_invocable_v<F&, const T&>;

template <class F, class T>
struct MapResult {
  using type = std::decay_t<decltype(CallMap(std::declval<F&>(), std::declval<const T&>()))>;
};

// The X of a Collector<X>& parameter at position N of a callable's operator().
template <class M>
struct MemberFnArgs;
template <class R, class C, class... A>
struct MemberFnArgs<R (C::*)(A...) const> {
  using Args = std::tuple<A...>;
};
template <class R, class C, class... A>
struct MemberFnArgs<R (C::*)(A...)> {
  using Args = std::tuple<A...>;
};
template <class C>
struct CollectorValue {
  using type = void;
};
template <class X>
struct CollectorValue<Collector<X>&> {
  using type = X;
};
template <class F, size_t N, class = void>
struct CollectorArg {
  using type = void;
};
template <class F, size_t N>
struct CollectorArg<F, N, std::void_t<decltype(&F::operator())>> {
  using Args = typename MemberFnArgs<decltype(&F::operator())>::Args;
  using type = typename CollectorValue<std::tuple_element_t<N, Args>>::type;
};
// OUT of a flatMap/process function: explicit, F::OutputType, or the lambda's
// Collector<OUT>& parameter.
template <class Explicit, class F, size_t N>
struct FunctionOutput {
  using type = Explicit;
};
template <class F, size_t N>
struct FunctionOutput<void, F, N> {
  using type = decltype([] {
    if constexpr (requires { typename F::OutputType; }) {
      return std::type_identity<typename F::OutputType>{};
    } else {
      return std::type_identity<typename CollectorArg<F, N>::type>{};
    }
  }())::type;
};

// Combines a field of `acc` with the same field of `v` for sum/min/max and
// picks whole records for minBy/maxBy.
enum class Aggregation { kSum, kMin, kMax, kMinBy, kMaxBy };

template <class V>
bool AggregateValue(V& acc, const V& v, Aggregation agg) {
  if constexpr (std::is_arithmetic_v<V>) {
    switch (agg) {
      case Aggregation::kSum: acc = static_cast<V>(acc + v); return false;
      case Aggregation::kMin: if (v < acc) acc = v; return false;
      case Aggregation::kMax: if (v > acc) acc = v; return false;
      case Aggregation::kMinBy: return v < acc;
      case Aggregation::kMaxBy: return v > acc;
    }
  }
  return false;
}

template <class T>
std::function<void(T&, const T&)> FieldAggregator(int position, Aggregation agg,
                                                   const char* what) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string(what) + "(" + std::to_string(position) + "): " + why);
  };
  if constexpr (std::is_arithmetic_v<T>) {
    if (position != 0) fail("a stream of a basic type only has position 0");
    return [agg](T& acc, const T& v) {
      if (AggregateValue(acc, v, agg)) acc = v;
    };
  } else if constexpr (requires { std::tuple_size<T>::value; }) {
    constexpr int n = static_cast<int>(std::tuple_size_v<T>);
    if (position < 0 || position >= n) {
      fail("position out of range for a tuple of " + std::to_string(n) + " fields");
    }
    bool numeric = false;
    [&]<size_t... I>(std::index_sequence<I...>) {
      ((static_cast<int>(I) == position
            ? (numeric = std::is_arithmetic_v<std::tuple_element_t<I, T>>, 0)
            : 0),
       ...);
    }(std::make_index_sequence<n>{});
    if (!numeric) fail("the field at this position is not numeric");
    return [position, agg](T& acc, const T& v) {
      [&]<size_t... I>(std::index_sequence<I...>) {
        ((static_cast<int>(I) == position
              ? (AggregateValue(std::get<I>(acc), std::get<I>(v), agg) ? (acc = v, 0) : 0)
              : 0),
         ...);
      }(std::make_index_sequence<n>{});
    };
  } else {
    fail("positions need a tuple, pair or basic type; use a member pointer for structs");
    return {};
  }
}

}  // namespace internal

template <class T>
class DataStream {
 public:
  using ValueType = T;
  DataStream(StreamExecutionEnvironment* env, int node_id) : env_(env), id_(node_id) {}
  int getId() const { return id_; }
  StreamExecutionEnvironment& getExecutionEnvironment() const { return *env_; }

  // map(f): one output per input. f is a MapFunction<T, OUT> or OUT(const T&).
  template <class F>
  auto map(F f) {
    static_assert(internal::kIsMapFn<F, T>,
                  "map() expects a MapFunction<T, OUT> or a callable OUT(const T&)");
    using OUT = typename internal::MapResult<F, T>::type;
    return OneInput<OUT>("Map", [f] { return std::make_unique<internal::MapOperator<T, OUT, F>>(f); });
  }

  // flatMap(f): zero or more outputs per input, through a Collector<OUT>.
  template <class OUT = void, class F>
  auto flatMap(F f) {
    using O = typename internal::FunctionOutput<OUT, F, 1>::type;
    static_assert(!std::is_void_v<O>,
                  "flatMap() expects a FlatMapFunction<T, OUT> or a callable "
                  "void(const T&, Collector<OUT>&); for a generic lambda write flatMap<OUT>(...)");
    static_assert(std::is_invocable_v<F&, const T&, Collector<O>&> ||
                      requires(F& f2, const T& v, Collector<O>& c) { f2.flatMap(v, c); },
                  "flatMap() expects a callable void(const T&, Collector<OUT>&)");
    return OneInput<O>("Flat Map",
                       [f] { return std::make_unique<internal::FlatMapOperator<T, O, F>>(f); });
  }

  // filter(f): keeps the records for which f returns true.
  template <class F>
  SingleOutputStreamOperator<T> filter(F f) {
    static_assert(internal::kIsFilterFn<F, T>,
                  "filter() expects a FilterFunction<T> or a callable bool(const T&)");
    return OneInput<T>("Filter", [f] { return std::make_unique<internal::FilterOperator<T, F>>(f); });
  }

  // process(f): a ProcessFunction<T, OUT> or a callable
  // void(const T&, ProcessFunction<T, OUT>::Context&, Collector<OUT>&); the
  // context's output(tag, value) feeds getSideOutput(tag).
  template <class OUT = void, class F>
  auto process(F f) {
    using O = typename internal::FunctionOutput<OUT, F, 2>::type;
    static_assert(!std::is_void_v<O>,
                  "process() expects a ProcessFunction<T, OUT> or a callable "
                  "void(const T&, Context&, Collector<OUT>&); for a generic lambda write "
                  "process<OUT>(...)");
    return OneInput<O>("Process",
                       [f] { return std::make_unique<internal::ProcessOperator<T, O, F>>(f); });
  }

  // Gives records event-time timestamps and emits watermarks as `strategy` says.
  SingleOutputStreamOperator<T> assignTimestampsAndWatermarks(WatermarkStrategy<T> strategy) {
    return OneInput<T>("Timestamps/Watermarks", [strategy] {
      return std::make_unique<internal::TimestampsAndWatermarksOperator<T>>(strategy);
    });
  }

  // keyBy(f): partitions by the key f returns (by key group); a KeySelector<T, K>
  // or a callable K(const T&).
  template <class F>
  auto keyBy(F key_fn) {
    static_assert(internal::kIsKeyFn<F, T>,
                  "keyBy() expects a KeySelector<T, K> or a callable K(const T&)");
    using K = std::decay_t<decltype(internal::CallKey(std::declval<F&>(), std::declval<const T&>()))>;
    static_assert(kIsSerializable<K>, "the key type of keyBy() needs a TypeSerializer");
    auto& node = Partition(internal::PartitionKind::kKeyGroup, "keyBy");
    node.selector_factory = [key_fn](int channels, int max_parallelism) {
      auto fn = [key_fn](const T& v) mutable { return internal::CallKey(key_fn, v); };
      return std::unique_ptr<internal::ChannelSelectorBase>(
          std::make_unique<internal::KeyGroupSelector<T, decltype(fn)>>(fn, channels,
                                                                        max_parallelism));
    };
    return KeyedStream<T, F>(env_, node.id, key_fn);
  }

  // Windows over the whole stream (one parallel instance, as in Flink).
  template <class Spec>
  auto windowAll(const Spec& spec) {
    auto keyed = keyBy([](const T&) { return uint8_t{0}; });
    graph().node(keyed.getId()).parallelism = 1;
    return keyed.window(spec).AllWindows();
  }

  // union_(others...): one stream of the records of all (union is a keyword).
  template <class... Others>
  DataStream<T> union_(const Others&... others) {
    auto& node = graph().AddNode(internal::NodeKind::kUnion, "union",
                                 {id_, others.getId()...}, internal::TypeHandleFor<T>());
    return DataStream<T>(env_, node.id);
  }

  // broadcast(descriptors...): every record to every parallel instance, with
  // broadcast state under those MapStateDescriptors (eddy/broadcast.h).
  template <class D, class... More>
  BroadcastStream<T> broadcast(const D& descriptor, const More&... more) { return Broadcast(*this, descriptor, more...); }
  // connect(broadcastStream): a BroadcastProcessFunction sees both.
  template <class B>
  BroadcastConnectedStream<T, B> connect(const BroadcastStream<B>& other) { return ConnectBroadcast(*this, other); }

  // join(other).where(k1).equalTo(k2).window(...).apply(f): pairs per key and
  // window; coGroup(...) the same with both sides' lists (eddy/joins.h).
  template <class U>
  JoinedStreams<T, U> join(const DataStream<U>& other) const { return JoinedStreams<T, U>(*this, other); }
  template <class U>
  CoGroupedStreams<T, U> coGroup(const DataStream<U>& other) const { return CoGroupedStreams<T, U>(*this, other); }

  // connect(other): two streams of different types into one two-input function.
  template <class U>
  ConnectedStreams<T, U> connect(const DataStream<U>& other) {
    return ConnectedStreams<T, U>(env_, id_, other.getId());
  }

  DataStream<T> rebalance() { return DataStream<T>(env_, Partition(internal::PartitionKind::kRebalance, "rebalance").id); }
  DataStream<T> rescale() { return DataStream<T>(env_, Partition(internal::PartitionKind::kRescale, "rescale").id); }
  DataStream<T> shuffle() { return DataStream<T>(env_, Partition(internal::PartitionKind::kShuffle, "shuffle").id); }
  DataStream<T> broadcast() { return DataStream<T>(env_, Partition(internal::PartitionKind::kBroadcast, "broadcast").id); }
  DataStream<T> global() { return DataStream<T>(env_, Partition(internal::PartitionKind::kGlobal, "global").id); }
  DataStream<T> forward() { return DataStream<T>(env_, Partition(internal::PartitionKind::kForward, "forward").id); }

  // Sinks.
  DataStreamSink<T> print() { return AddSink(PrintSinkFunction<T>(false), "Print to Std. Out"); }
  DataStreamSink<T> printToErr() { return AddSink(PrintSinkFunction<T>(true), "Print to Std. Err"); }
  DataStreamSink<T> sinkTo(const FileSink& sink) {
    return AddSink(RowFileSinkFunction<T>(sink), "FileSink");
  }
  // A SinkFunction<T> (Rich or not) or a callable void(const T&).
  template <class F>
  DataStreamSink<T> addSink(F sink, const std::string& name = "Unnamed") {
    static_assert(internal::kIsSinkFn<F, T>,
                  "addSink() expects a SinkFunction<T> or a callable void(const T&)");
    return AddSink(std::move(sink), name);
  }

 protected:
  internal::StreamGraph& graph() const { return env_->stream_graph(); }

  template <class OUT, class Factory>
  SingleOutputStreamOperator<OUT> OneInput(const char* name, Factory factory, bool keyed = false) {
    auto& node = graph().AddNode(internal::NodeKind::kOneInput, name, {id_},
                                 internal::TypeHandleFor<OUT>());
    node.keyed = keyed;
    node.operator_factory = [factory]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return factory();
    };
    return SingleOutputStreamOperator<OUT>(env_, node.id);
  }

  internal::StreamNode& Partition(internal::PartitionKind kind, const char* name) {
    auto& node = graph().AddNode(internal::NodeKind::kPartition, name, {id_},
                                 internal::TypeHandleFor<T>());
    node.partition = kind;
    return node;
  }

  template <class F>
  DataStreamSink<T> AddSink(F sink, const std::string& name) {
    auto& node = graph().AddNode(internal::NodeKind::kSink, "sink", {id_}, nullptr);
    node.name = "Sink: " + name;
    node.operator_factory = [sink]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return std::make_unique<internal::SinkOperator<T, F>>(sink);
    };
    return DataStreamSink<T>(env_, node.id);
  }

  StreamExecutionEnvironment* env_;
  int id_;
};

// Settings that apply to one operator: name, uid, parallelism.
template <class Self>
class OperatorSettings {
 public:
  // The operator's display name (vertex names join chained names with " -> ").
  Self& name(const std::string& name) {
    self().node().name = name;
    return self();
  }
  // A stable identity, used to match state on restore; unique per job.
  Self& uid(const std::string& uid) {
    self().node().uid = uid;
    self().node().uid_is_user_set = true;
    return self();
  }
  Self& setParallelism(int parallelism) {
    auto& n = self().node();
    if (parallelism < 1) {
      throw std::invalid_argument("parallelism must be at least 1, got " + std::to_string(parallelism));
    }
    if (n.parallelism_is_fixed && parallelism != 1) {
      throw std::invalid_argument("the parallelism of non-parallel operator '" + n.name + "' must be 1");
    }
    n.parallelism = parallelism;
    return self();
  }
  Self& setMaxParallelism(int max_parallelism) {
    self().node().max_parallelism = max_parallelism;
    return self();
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

template <class T>
class SingleOutputStreamOperator : public DataStream<T>,
                                   public OperatorSettings<SingleOutputStreamOperator<T>> {
 public:
  using DataStream<T>::DataStream;
  internal::StreamNode& node() { return this->graph().node(this->id_); }

  // The records a process function emitted to `tag`.
  template <class X>
  DataStream<X> getSideOutput(const OutputTag<X>& tag) {
    auto& n = this->graph().AddNode(internal::NodeKind::kSideOutput, "side-output", {this->id_},
                                    internal::TypeHandleFor<X>());
    n.side_output_tag = tag.getId();
    return DataStream<X>(this->env_, n.id);
  }
};

template <class T>
class DataStreamSource : public SingleOutputStreamOperator<T> {
 public:
  using SingleOutputStreamOperator<T>::SingleOutputStreamOperator;
};

template <class T>
class DataStreamSink : public OperatorSettings<DataStreamSink<T>> {
 public:
  DataStreamSink(StreamExecutionEnvironment* env, int id) : env_(env), id_(id) {}
  internal::StreamNode& node() { return env_->stream_graph().node(id_); }

 private:
  StreamExecutionEnvironment* env_;
  int id_;
};

// A stream partitioned by key: rolling aggregations and keyed functions.
template <class T, class KeyFn>
class KeyedStream : public DataStream<T> {
 public:
  using KeyType = std::decay_t<decltype(internal::CallKey(std::declval<KeyFn&>(), std::declval<const T&>()))>;
  KeyedStream(StreamExecutionEnvironment* env, int id, KeyFn key_fn)
      : DataStream<T>(env, id), key_fn_(std::move(key_fn)) {}

  const KeyFn& key_fn() const { return key_fn_; }

  // Windows of each key: window(TumblingEventTimeWindows::of(...)), sliding,
  // session, GlobalWindows::create(), or any WindowAssigner<T, W>.
  auto window(const TimeWindowSpec& spec) { return Windowed<TimeWindow>(spec.template Create<T>()); }
  template <class F>
  auto window(const DynamicSessionSpec<F>& spec) { return Windowed<TimeWindow>(spec.template Create<T>()); }
  auto window(const GlobalWindowSpec& spec) { return Windowed<GlobalWindow>(spec.template Create<T>()); }
  template <class W>
  auto window(std::shared_ptr<WindowAssigner<T, W>> assigner) { return Windowed<W>(std::move(assigner)); }
  // Tumbling count windows: every `size` elements of a key.
  auto countWindow(int64_t size) {
    return Windowed<GlobalWindow>(GlobalWindows::create().template Create<T>())
        .trigger(PurgingTrigger<T, GlobalWindow>::of(CountTrigger<T, GlobalWindow>::of(size)));
  }
  // Sliding count windows: the last `size` elements, every `slide` elements.
  auto countWindow(int64_t size, int64_t slide) {
    return Windowed<GlobalWindow>(GlobalWindows::create().template Create<T>())
        .evictor(CountEvictor<T, GlobalWindow>::of(size))
        .trigger(CountTrigger<T, GlobalWindow>::of(slide));
  }

  // Connects two keyed streams (same key type) for a KeyedCoProcessFunction.
  template <class U, class KeyFn2>
  KeyedConnectedStreams<T, U, KeyFn, KeyFn2> connect(const KeyedStream<U, KeyFn2>& other) {
    static_assert(std::is_same_v<KeyType, typename KeyedStream<U, KeyFn2>::KeyType>,
                  "connect(): both keyed streams must have the same key type");
    return KeyedConnectedStreams<T, U, KeyFn, KeyFn2>(this->env_, this->id_, other.getId(), key_fn_,
                                                      other.key_fn());
  }
  using DataStream<T>::connect;
  // intervalJoin(other).between(lower, upper).process(ProcessJoinFunction).
  template <class U, class KeyFn2>
  IntervalJoin<T, KeyFn, U, KeyFn2> intervalJoin(const KeyedStream<U, KeyFn2>& other) const {
    return IntervalJoin<T, KeyFn, U, KeyFn2>(*this, other);
  }
  // connect(broadcastStream): a KeyedBroadcastProcessFunction sees both.
  template <class B>
  KeyedBroadcastConnectedStream<T, KeyFn, B> connect(const BroadcastStream<B>& other) {
    return ConnectBroadcast(*this, other);
  }

  // Rolling reduce: emits the key's reduced value after every record.
  template <class F>
  SingleOutputStreamOperator<T> reduce(F f) {
    static_assert(internal::kIsReduceFn<F, T>,
                  "reduce() expects a ReduceFunction<T> or a callable T(const T&, const T&)");
    if constexpr (std::is_base_of_v<RichFunction, F>) {
      struct Combine : F {
        explicit Combine(F f) : F(std::move(f)) {}
        void operator()(T& acc, const T& v) { acc = internal::CallReduce(static_cast<F&>(*this), acc, v); }
      };
      return Aggregate("Keyed Reduce", Combine(std::move(f)));
    } else {
      return Aggregate("Keyed Reduce",
                       [f](T& acc, const T& v) mutable { acc = internal::CallReduce(f, acc, v); });
    }
  }

  // Rolling aggregations by tuple position (0-based) or struct member. sum/min/
  // max change only that field (the rest is the key's first record); minBy/maxBy
  // emit the whole record holding the extreme (the first one on ties).
  // (The member overloads take the class as a parameter C == T so that a stream
  // of a non-class type, where `V T::*` is ill-formed, still compiles.)
  SingleOutputStreamOperator<T> sum(int pos) { return ByPosition(pos, internal::Aggregation::kSum, "sum"); }
  SingleOutputStreamOperator<T> min(int pos) { return ByPosition(pos, internal::Aggregation::kMin, "min"); }
  SingleOutputStreamOperator<T> max(int pos) { return ByPosition(pos, internal::Aggregation::kMax, "max"); }
  SingleOutputStreamOperator<T> minBy(int pos) { return ByPosition(pos, internal::Aggregation::kMinBy, "minBy"); }
  SingleOutputStreamOperator<T> maxBy(int pos) { return ByPosition(pos, internal::Aggregation::kMaxBy, "maxBy"); }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> sum(V C::*field) { return ByMember(field, internal::Aggregation::kSum); }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> min(V C::*field) { return ByMember(field, internal::Aggregation::kMin); }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> max(V C::*field) { return ByMember(field, internal::Aggregation::kMax); }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> minBy(V C::*field) { return ByMember(field, internal::Aggregation::kMinBy); }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> maxBy(V C::*field) { return ByMember(field, internal::Aggregation::kMaxBy); }

  // Keyed variants of map/flatMap/filter/process: the function may use keyed
  // state through getRuntimeContext().getState(...).
  template <class F>
  auto map(F f) {
    static_assert(internal::kIsMapFn<F, T>,
                  "map() expects a MapFunction<T, OUT> or a callable OUT(const T&)");
    using OUT = typename internal::MapResult<F, T>::type;
    return Keyed<OUT>("Map", internal::MapOperator<T, OUT, F>(f));
  }
  template <class OUT = void, class F>
  auto flatMap(F f) {
    using O = typename internal::FunctionOutput<OUT, F, 1>::type;
    static_assert(!std::is_void_v<O>,
                  "flatMap() expects a FlatMapFunction<T, OUT> or a callable "
                  "void(const T&, Collector<OUT>&); for a generic lambda write flatMap<OUT>(...)");
    return Keyed<O>("Flat Map", internal::FlatMapOperator<T, O, F>(f));
  }
  template <class F>
  SingleOutputStreamOperator<T> filter(F f) {
    static_assert(internal::kIsFilterFn<F, T>,
                  "filter() expects a FilterFunction<T> or a callable bool(const T&)");
    return Keyed<T>("Filter", internal::FilterOperator<T, F>(f));
  }
  // process(KeyedProcessFunction<K, T, OUT>): per-key state and timers; a
  // ProcessFunction or callable works too (with keyed state, without timers).
  template <class OUT = void, class F>
  auto process(F f) {
    if constexpr (requires { typename F::KeyType; } &&
                  std::is_base_of_v<KeyedProcessFunction<typename F::KeyType, T, typename F::OutputType>, F>) {
      static_assert(std::is_same_v<typename F::KeyType, KeyType>,
                    "the KeyedProcessFunction's key type must be the keyBy() key type");
      using O = typename F::OutputType;
      auto key_fn = key_fn_;
      return this->template OneInput<O>(
          "KeyedProcess",
          [key_fn, f] {
            return std::make_unique<internal::KeyedProcessOperator<KeyType, T, O, KeyFn, F>>(key_fn, f);
          },
          /*keyed=*/true);
    } else {
      using O = typename internal::FunctionOutput<OUT, F, 2>::type;
      static_assert(!std::is_void_v<O>,
                    "process() expects a KeyedProcessFunction<K, T, OUT>, a ProcessFunction<T, OUT> or a "
                    "callable void(const T&, Context&, Collector<OUT>&)");
      return Keyed<O>("Process", internal::ProcessOperator<T, O, F>(f));
    }
  }

 private:
  template <class Combine>
  SingleOutputStreamOperator<T> Aggregate(const char* name, Combine combine) {
    auto key_fn = key_fn_;
    return this->template OneInput<T>(
        name,
        [key_fn, combine] {
          return std::make_unique<internal::KeyedReduceOperator<T, KeyFn, Combine>>(key_fn, combine);
        },
        /*keyed=*/true);
  }
  SingleOutputStreamOperator<T> ByPosition(int pos, internal::Aggregation agg, const char* what) {
    return Aggregate("Keyed Aggregation", internal::FieldAggregator<T>(pos, agg, what));
  }
  template <class V, class C>
    requires std::same_as<C, T>
  SingleOutputStreamOperator<T> ByMember(V C::*field, internal::Aggregation agg) {
    static_assert(std::is_arithmetic_v<V>, "aggregations need a numeric member");
    return Aggregate("Keyed Aggregation", [field, agg](T& acc, const T& v) {
      if (internal::AggregateValue(acc.*field, v.*field, agg)) acc = v;
    });
  }
  template <class W>
  WindowedStream<T, KeyFn, W> Windowed(std::shared_ptr<WindowAssigner<T, W>> assigner) {
    return WindowedStream<T, KeyFn, W>(this->env_, this->id_, key_fn_, std::move(assigner));
  }

  template <class OUT, class Inner>
  SingleOutputStreamOperator<OUT> Keyed(const char* name, Inner inner) {
    auto key_fn = key_fn_;
    return this->template OneInput<OUT>(
        name,
        [key_fn, inner] {
          return std::make_unique<internal::KeyedOperator<T, KeyFn, Inner>>(key_fn, inner);
        },
        /*keyed=*/true);
  }

  KeyFn key_fn_;
};

// Two streams of (possibly) different types feeding one CoMap / CoFlatMap /
// CoProcess function.
template <class T1, class T2>
class ConnectedStreams {
 public:
  ConnectedStreams(StreamExecutionEnvironment* env, int first, int second)
      : env_(env), first_(first), second_(second) {}

  // Partitions both inputs by key (the two keys must have the same type), for
  // a KeyedCoProcessFunction.
  template <class KeyFn1, class KeyFn2>
  KeyedConnectedStreams<T1, T2, KeyFn1, KeyFn2> keyBy(KeyFn1 key1, KeyFn2 key2) {
    auto first = DataStream<T1>(env_, first_).keyBy(key1);
    auto second = DataStream<T2>(env_, second_).keyBy(key2);
    static_assert(std::is_same_v<typename decltype(first)::KeyType, typename decltype(second)::KeyType>,
                  "keyBy(key1, key2): both key selectors must return the same type");
    return KeyedConnectedStreams<T1, T2, KeyFn1, KeyFn2>(env_, first.getId(), second.getId(), key1, key2);
  }

  // process(CoProcessFunction<T1, T2, OUT>).
  template <class F>
  auto process(F f) {
    static_assert(std::is_base_of_v<CoProcessFunction<T1, T2, typename F::OutputType>, F>,
                  "process() on connected streams expects a CoProcessFunction<T1, T2, OUT>; "
                  "for timers, keyBy(key1, key2) first and use a KeyedCoProcessFunction");
    using OUT = typename F::OutputType;
    return TwoInput<OUT>("Co-Process", [f] {
      return std::make_unique<internal::CoProcessOperator<T1, T2, OUT, F>>(f);
    });
  }

  // map(CoMapFunction<T1, T2, OUT>) or map(OUT(const T1&), OUT(const T2&)).
  template <class F>
  auto map(F f) {
    using OUT = typename F::OutputType;
    return TwoInput<OUT>("Co-Map", [f] {
      return std::make_unique<internal::CoMapOperator<T1, T2, OUT, F>>(f);
    });
  }
  template <class F1, class F2>
  auto map(F1 f1, F2 f2) {
    static_assert(std::is_invocable_v<F1&, const T1&> && std::is_invocable_v<F2&, const T2&>,
                  "map(f1, f2) expects callables OUT(const T1&) and OUT(const T2&)");
    using OUT = std::decay_t<std::invoke_result_t<F1&, const T1&>>;
    static_assert(std::is_convertible_v<std::invoke_result_t<F2&, const T2&>, OUT>,
                  "map(f1, f2): both functions must return the same type");
    using Pair = internal::CoMapPair<F1, F2>;
    Pair pair{f1, f2};
    return TwoInput<OUT>("Co-Map", [pair] {
      return std::make_unique<internal::CoMapOperator<T1, T2, OUT, Pair>>(pair);
    });
  }
  // flatMap(CoFlatMapFunction<T1, T2, OUT>) or flatMap<OUT>(f1, f2) with
  // f1: void(const T1&, Collector<OUT>&), f2: void(const T2&, Collector<OUT>&).
  template <class F>
  auto flatMap(F f) {
    using OUT = typename F::OutputType;
    return TwoInput<OUT>("Co-Flat Map", [f] {
      return std::make_unique<internal::CoFlatMapOperator<T1, T2, OUT, F>>(f);
    });
  }
  template <class OUT = void, class F1, class F2>
  auto flatMap(F1 f1, F2 f2) {
    using O = typename internal::FunctionOutput<OUT, F1, 1>::type;
    static_assert(!std::is_void_v<O>,
                  "flatMap(f1, f2) expects void(const T1&, Collector<OUT>&) and "
                  "void(const T2&, Collector<OUT>&); for generic lambdas write flatMap<OUT>(...)");
    using Pair = internal::CoMapPair<F1, F2>;
    Pair pair{f1, f2};
    return TwoInput<O>("Co-Flat Map", [pair] {
      return std::make_unique<internal::CoFlatMapOperator<T1, T2, O, Pair>>(pair);
    });
  }

 private:
  template <class OUT, class Factory>
  SingleOutputStreamOperator<OUT> TwoInput(const char* name, Factory factory) {
    auto& node = env_->stream_graph().AddNode(internal::NodeKind::kTwoInput, name,
                                              {first_, second_}, internal::TypeHandleFor<OUT>());
    node.operator_factory = [factory]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return factory();
    };
    return SingleOutputStreamOperator<OUT>(env_, node.id);
  }
  StreamExecutionEnvironment* env_;
  int first_;
  int second_;
};

// Two connected streams partitioned by the same key type.
template <class T1, class T2, class KeyFn1, class KeyFn2>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(StreamExecutionEnvironment* env, int first, int second, KeyFn1 key1, KeyFn2 key2)
      : env_(env), first_(first), second_(second), key1_(std::move(key1)), key2_(std::move(key2)) {}

  // process(KeyedCoProcessFunction<K, T1, T2, OUT>).
  template <class F>
  auto process(F f) {
    using K = typename F::KeyType;
    using OUT = typename F::OutputType;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<K, T1, T2, OUT>, F>,
                  "process() on keyed connected streams expects a KeyedCoProcessFunction<K, T1, T2, OUT>");
    auto& node = env_->stream_graph().AddNode(internal::NodeKind::kTwoInput, "KeyedCo-Process",
                                              {first_, second_}, internal::TypeHandleFor<OUT>());
    node.keyed = true;
    node.operator_factory = [k1 = key1_, k2 = key2_, f]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return std::make_unique<internal::KeyedCoProcessOperator<K, T1, T2, OUT, KeyFn1, KeyFn2, F>>(k1, k2, f);
    };
    return SingleOutputStreamOperator<OUT>(env_, node.id);
  }

 private:
  StreamExecutionEnvironment* env_;
  int first_;
  int second_;
  KeyFn1 key1_;
  KeyFn2 key2_;
};

// A keyed (or, with windowAll, global) stream cut into windows.
template <class T, class KeyFn, class W>
class WindowedStream {
 public:
  using K = typename KeyedStream<T, KeyFn>::KeyType;
  WindowedStream(StreamExecutionEnvironment* env, int input, KeyFn key_fn,
                 std::shared_ptr<WindowAssigner<T, W>> assigner)
      : env_(env), input_(input), key_fn_(std::move(key_fn)), assigner_(std::move(assigner)) {
    trigger_ = assigner_->getDefaultTrigger();
  }

  WindowedStream& trigger(std::shared_ptr<Trigger<T, W>> trigger) {
    if (assigner_->isMerging() && !trigger->canMerge()) {
      throw std::invalid_argument("this trigger cannot be used with merging (session) windows");
    }
    trigger_ = std::move(trigger);
    return *this;
  }
  WindowedStream& evictor(std::shared_ptr<Evictor<T, W>> evictor) {
    evictor_ = std::move(evictor);
    return *this;
  }
  // Keeps windows (and updates them with late elements) this long after the
  // watermark passed their end.
  WindowedStream& allowedLateness(std::chrono::milliseconds lateness) {
    if (lateness.count() < 0) throw std::invalid_argument("allowedLateness must not be negative");
    if (!assigner_->isEventTime() && lateness.count() > 0) {
      throw std::invalid_argument("allowedLateness is only possible with event-time windows");
    }
    lateness_ = lateness.count();
    return *this;
  }
  // Elements too late for every window go to `tag` (getSideOutput(tag)).
  WindowedStream& sideOutputLateData(const OutputTag<T>& tag) {
    late_tag_ = tag.getId();
    return *this;
  }
  WindowedStream& AllWindows() {
    all_ = true;
    return *this;
  }

  // Incremental reduce: T(const T&, const T&) or a ReduceFunction<T>.
  template <class F>
  SingleOutputStreamOperator<T> reduce(F f) {
    return reduce(std::move(f), internal::PassThroughWindowFunction{});
  }
  // Incremental reduce, then a (Process)WindowFunction over the one result.
  template <class F, class WF>
  auto reduce(F f, WF wf) {
    static_assert(internal::kIsReduceFn<F, T>,
                  "reduce() expects a ReduceFunction<T> or a callable T(const T&, const T&)");
    using OUT = OutputOf<WF, T>;
    auto fn = std::make_shared<F>(std::move(f));
    std::function<T(const T&, const T&)> reduce = [fn](const T& a, const T& b) {
      return internal::CallReduce(*fn, a, b);
    };
    auto evictor = evictor_;
    if (evictor) return FullWindow<OUT>("Window(Reduce)", ReduceAfterEvict<WF>(reduce, std::move(wf)));
    return Build<T, OUT>("Window(Reduce)", [reduce] {
      return std::unique_ptr<internal::WindowContents<T, T, W>>(
          std::make_unique<internal::ReducingContents<T, W>>(reduce));
    }, std::move(wf));
  }
  // Incremental aggregation with an AggregateFunction<T, ACC, R>.
  template <class AGG>
  auto aggregate(AGG agg) {
    return aggregate(std::move(agg), internal::PassThroughWindowFunction{});
  }
  template <class AGG, class WF>
  auto aggregate(AGG agg, WF wf) {
    using ACC = typename AGG::AccumulatorType;
    using R = typename AGG::OutputType;
    static_assert(std::is_base_of_v<AggregateFunction<T, ACC, R>, AGG>,
                  "aggregate() expects an AggregateFunction<T, ACC, R>");
    using OUT = OutputOf<WF, R>;
    auto f = std::make_shared<AGG>(std::move(agg));
    if (evictor_) {
      throw std::invalid_argument("aggregate() with an evictor is not supported: use process()");
    }
    return Build<R, OUT>("Window(Aggregate)", [f] {
      return std::unique_ptr<internal::WindowContents<T, R, W>>(
          std::make_unique<internal::AggregatingContents<T, ACC, R, W>>(f));
    }, std::move(wf));
  }
  // All elements at once: a ProcessWindowFunction<T, OUT, K, W> (keyed) or
  // ProcessAllWindowFunction<T, OUT, W> (windowAll).
  template <class WF>
  auto process(WF wf) {
    return FullWindow<typename WF::OutputType>("Window(Process)", std::move(wf));
  }
  // A WindowFunction<T, OUT, K, W> / AllWindowFunction<T, OUT, W>.
  template <class WF>
  auto apply(WF wf) {
    return FullWindow<typename WF::OutputType>("Window(Apply)", std::move(wf));
  }
  // Aggregations by tuple position, as on KeyedStream.
  SingleOutputStreamOperator<T> sum(int pos) { return ByPosition(pos, internal::Aggregation::kSum, "sum"); }
  SingleOutputStreamOperator<T> min(int pos) { return ByPosition(pos, internal::Aggregation::kMin, "min"); }
  SingleOutputStreamOperator<T> max(int pos) { return ByPosition(pos, internal::Aggregation::kMax, "max"); }
  SingleOutputStreamOperator<T> minBy(int pos) { return ByPosition(pos, internal::Aggregation::kMinBy, "minBy"); }
  SingleOutputStreamOperator<T> maxBy(int pos) { return ByPosition(pos, internal::Aggregation::kMaxBy, "maxBy"); }

 private:
  template <class WF, class X>
  struct OutputOfImpl {
    using type = typename WF::OutputType;
  };
  template <class X>
  struct OutputOfImpl<internal::PassThroughWindowFunction, X> {
    using type = X;
  };
  template <class WF, class X>
  using OutputOf = typename OutputOfImpl<WF, X>::type;

  // Reduce over the evicted contents, then the window function.
  template <class WF>
  struct ReduceAfterEvict {
    std::function<T(const T&, const T&)> reduce;
    WF wf;
    ReduceAfterEvict(std::function<T(const T&, const T&)> r, WF w) : reduce(std::move(r)), wf(std::move(w)) {}
    template <class Key, class Ctx, class C>
    void process(const Key& key, Ctx& ctx, const std::vector<T>& elements, C& out) {
      T acc = elements.front();
      for (size_t i = 1; i < elements.size(); ++i) acc = reduce(acc, elements[i]);
      std::vector<T> one{acc};
      if constexpr (std::is_same_v<WF, internal::PassThroughWindowFunction>) {
        out.collect(acc);
      } else if constexpr (requires { wf.process(key, ctx, one, out); }) {
        wf.process(key, ctx, one, out);
      } else if constexpr (requires { wf.apply(key, ctx.window(), one, out); }) {
        wf.apply(key, ctx.window(), one, out);
      } else if constexpr (requires { wf.process(ctx, one, out); }) {
        wf.process(ctx, one, out);
      } else {
        wf.apply(ctx.window(), one, out);
      }
    }
  };

  template <class OUT, class WF>
  SingleOutputStreamOperator<OUT> FullWindow(const char* name, WF wf) {
    auto evictor = evictor_;
    return Build<T, OUT>(name, [evictor] {
      return std::unique_ptr<internal::WindowContents<T, T, W>>(
          std::make_unique<internal::ListContents<T, W>>(evictor));
    }, std::move(wf));
  }

  SingleOutputStreamOperator<T> ByPosition(int pos, internal::Aggregation agg, const char* what) {
    auto combine = internal::FieldAggregator<T>(pos, agg, what);
    return reduce([combine](const T& a, const T& b) {
      T acc = a;
      combine(acc, b);
      return acc;
    });
  }

  template <class X, class OUT, class WF>
  SingleOutputStreamOperator<OUT> Build(const char* name,
                                        std::function<std::unique_ptr<internal::WindowContents<T, X, W>>()> contents,
                                        WF wf) {
    using Op = internal::WindowOperator<K, T, X, OUT, W, KeyFn, WF>;
    auto& node = env_->stream_graph().AddNode(internal::NodeKind::kOneInput, name, {input_},
                                              internal::TypeHandleFor<OUT>());
    node.keyed = true;
    if (all_) {
      node.parallelism = 1;
      node.parallelism_is_fixed = true;
    }
    node.operator_factory = [key_fn = key_fn_, assigner = assigner_, trigger = trigger_, contents, wf,
                             lateness = lateness_, tag = late_tag_]() -> std::unique_ptr<internal::StreamOperatorBase> {
      return std::make_unique<Op>(key_fn, assigner, trigger, contents, wf, lateness, tag);
    };
    return SingleOutputStreamOperator<OUT>(env_, node.id);
  }

  StreamExecutionEnvironment* env_;
  int input_;
  KeyFn key_fn_;
  std::shared_ptr<WindowAssigner<T, W>> assigner_;
  std::shared_ptr<Trigger<T, W>> trigger_;
  std::shared_ptr<Evictor<T, W>> evictor_;
  int64_t lateness_ = 0;
  std::string late_tag_;
  bool all_ = false;
};

// ---- StreamExecutionEnvironment's templates ----

template <class T, class S>
DataStreamSource<T> StreamExecutionEnvironment::AddSourceNode(S source, const std::string& name,
                                                               bool parallel) {
  auto& node = graph_->AddNode(internal::NodeKind::kSource, "source", {},
                               internal::TypeHandleFor<T>());
  node.name = "Source: " + name;
  if (!parallel) {
    node.parallelism = 1;
    node.parallelism_is_fixed = true;
  }
  node.operator_factory = [source]() -> std::unique_ptr<internal::StreamOperatorBase> {
    return std::make_unique<internal::SourceOperator<T, S>>(source);
  };
  return DataStreamSource<T>(this, node.id);
}

template <class T, class... More>
DataStreamSource<T> StreamExecutionEnvironment::fromElements(T first, More... more) {
  std::vector<T> elements;
  elements.reserve(1 + sizeof...(More));
  elements.push_back(std::move(first));
  (elements.push_back(T(std::move(more))), ...);
  return fromCollection(std::move(elements));
}

template <class T>
DataStreamSource<T> StreamExecutionEnvironment::fromCollection(std::vector<T> elements) {
  return AddSourceNode<T>(CollectionSource<T>(std::move(elements)), "Collection Source", false);
}

template <class S>
DataStreamSource<typename S::OutputType> StreamExecutionEnvironment::addSource(
    S source, const std::string& name) {
  using T = typename S::OutputType;
  static_assert(std::is_base_of_v<SourceFunction<T>, S>,
                "addSource() expects a SourceFunction<T> subclass");
  constexpr bool parallel = std::is_base_of_v<RichParallelSourceFunction<T>, S>;
  return AddSourceNode<T>(std::move(source), name, parallel);
}

}  // namespace eddy
