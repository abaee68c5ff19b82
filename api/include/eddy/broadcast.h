// The broadcast state pattern, as in Flink: a low-volume stream (rules,
// thresholds, configuration) goes to every parallel instance of an operator,
// which keeps it in broadcast state and evaluates the records of a second
// stream, keyed or not, against it.
//
//   MapStateDescriptor<std::string, double> thresholds("thresholds");
//   BroadcastStream<Rule> rules = Broadcast(rule_stream, thresholds);
//   ConnectBroadcast(events, rules).process(MyBroadcastProcessFunction());
//   ConnectBroadcast(events.keyBy(...), rules).process(MyKeyedBroadcastProcessFunction());
//
// (With the member wrappers: rule_stream.broadcast(thresholds) and
// events.connect(rules).)
//
// Broadcast state is operator state: one map per descriptor declared in
// Broadcast() and per parallel instance, held in memory. Several descriptors
// may be declared; each is found by its name. Only processBroadcastElement may
// change it (BroadcastState); processElement and onTimer get a read-only view
// (ReadOnlyBroadcastState, which has no mutating methods, so a write there
// does not compile). Every instance receives every broadcast element, so the
// instances' states stay identical as long as updates depend on the broadcast
// elements alone (not on the instance, the clock or the other input) and
// either the broadcast stream has a single upstream subtask or the updates
// commute: elements from different upstream subtasks interleave differently
// on each instance.
//
// The two inputs are not ordered with respect to each other: a record may be
// processed before a broadcast element that was sent "earlier". When that
// matters, use event time: buffer the record in keyed state, register an
// event-time timer, and evaluate in onTimer. The operator's watermark is the
// minimum of both inputs' (an idle input does not hold it back), so by then
// every broadcast element with an earlier timestamp has been processed.
//
// Broadcast state is checkpointed as broadcast-mode operator state: a restored
// instance, at any parallelism, gets the whole state of one old instance.
//
// KeyedBroadcastProcessFunction's processBroadcastElement may visit the keyed
// state of every key with ctx.applyToKeyedState(descriptor, function).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/datastream.h"
#include "eddy/functions.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/internal/timers.h"
#include "eddy/internal/type_handle.h"
#include "eddy/checkpoint.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

namespace internal {

// Lets an operator hold broadcast states of different types by name.
class BroadcastStateBase {
 public:
  BroadcastStateBase() = default;
  // Not copyable: `auto s = ctx.getBroadcastState(d)` would otherwise change
  // a copy; write `auto& s = ...`.
  BroadcastStateBase(const BroadcastStateBase&) = delete;
  BroadcastStateBase& operator=(const BroadcastStateBase&) = delete;
  virtual ~BroadcastStateBase() = default;
  // Checkpoints: one serialized (key, value) pair per entry.
  virtual std::vector<std::string> SerializeEntries() const = 0;
  virtual void RestoreEntries(const std::vector<std::string>& entries) = 0;
};

}  // namespace internal

// The broadcast state of one descriptor as processElement and onTimer see it:
// lookups only. Iteration order is the byte order of the serialized keys, as
// for MapState.
template <class K, class V>
class ReadOnlyBroadcastState : public internal::BroadcastStateBase {
 public:
  // The value under `key`, or nullopt.
  std::optional<V> get(const K& key) const {
    auto it = entries_.find(KeyBytes(key));
    if (it == entries_.end()) return std::nullopt;
    return it->second.second;
  }
  bool contains(const K& key) const { return entries_.contains(KeyBytes(key)); }
  // A copy of every (key, value) entry.
  std::vector<std::pair<K, V>> entries() const {
    std::vector<std::pair<K, V>> out;
    out.reserve(entries_.size());
    for (const auto& entry : entries_) out.push_back(entry.second);
    return out;
  }
  size_t size() const { return entries_.size(); }
  bool isEmpty() const { return entries_.empty(); }
  // The descriptor's name.
  const std::string& name() const { return name_; }

  std::vector<std::string> SerializeEntries() const override {
    std::vector<std::string> out;
    for (const auto& entry : entries_) {
      std::string bytes;
      internal::SerializeInto(entry.second, &bytes);
      out.push_back(std::move(bytes));
    }
    return out;
  }
  void RestoreEntries(const std::vector<std::string>& entries) override {
    for (const std::string& bytes : entries) {
      std::pair<K, V> kv;
      internal::DeserializeStored(name_, bytes, kv);
      entries_.insert_or_assign(KeyBytes(kv.first), std::move(kv));
    }
  }

 protected:
  explicit ReadOnlyBroadcastState(std::string name) : name_(std::move(name)) {}
  const std::string& KeyBytes(const K& key) const {
    internal::SerializeInto(key, &scratch_);
    return scratch_;
  }

  std::string name_;
  // Serialized key → (key, value): ordered like MapState on every backend.
  std::map<std::string, std::pair<K, V>> entries_;

 private:
  mutable std::string scratch_;
};

// The broadcast state of one descriptor as processBroadcastElement sees it.
template <class K, class V>
class BroadcastState final : public ReadOnlyBroadcastState<K, V> {
 public:
  explicit BroadcastState(std::string name) : ReadOnlyBroadcastState<K, V>(std::move(name)) {}

  // Sets the value under `key`, replacing any previous one.
  void put(const K& key, const V& value) {
    this->entries_.insert_or_assign(this->KeyBytes(key), std::pair<K, V>(key, value));
  }
  // Puts every (key, value) pair of `entries` (a std::map, a vector of pairs...).
  template <class Range>
  void putAll(const Range& entries) {
    for (const auto& [key, value] : entries) put(key, value);
  }
  // Removes `key`; removing an absent key does nothing.
  void remove(const K& key) { this->entries_.erase(this->KeyBytes(key)); }
  // Removes every entry.
  void clear() { this->entries_.clear(); }
};

namespace internal {

template <class D>
inline constexpr bool kIsMapStateDescriptor = false;
template <class K, class V>
inline constexpr bool kIsMapStateDescriptor<MapStateDescriptor<K, V>> = true;

// A broadcast state declared in Broadcast(): its name and how to create it.
struct BroadcastStateSpec {
  std::string name;
  std::function<std::unique_ptr<BroadcastStateBase>()> make;
};

template <class D>
BroadcastStateSpec MakeBroadcastStateSpec(const D& descriptor) {
  if constexpr (kIsMapStateDescriptor<D>) {
    using K = typename D::KeyType;
    using V = typename D::ValueType;
    static_assert(kIsSerializable<K> && kIsSerializable<V>,
                  "broadcast state keys and values need a TypeSerializer (EDDY_FIELDS or a "
                  "specialization): checkpoints will store them serialized");
    if (descriptor.getTtlConfig().isEnabled()) {
      throw std::invalid_argument("broadcast state '" + descriptor.name() +
                                  "' cannot have a time-to-live: TTL applies to keyed state only");
    }
    return BroadcastStateSpec{
        descriptor.name(), [name = descriptor.name()] {
          return std::unique_ptr<BroadcastStateBase>(std::make_unique<BroadcastState<K, V>>(name));
        }};
  } else {
    return {};
  }
}

// The broadcast states of one operator instance, by name.
class BroadcastStateRegistry {
 public:
  explicit BroadcastStateRegistry(const std::vector<BroadcastStateSpec>& specs) {
    for (const BroadcastStateSpec& spec : specs) states_.emplace(spec.name, spec.make());
  }

  // The state `descriptor` names; throws std::invalid_argument if it was not
  // declared and std::logic_error if it was declared with other types.
  template <class K, class V>
  BroadcastState<K, V>& Get(const MapStateDescriptor<K, V>& descriptor) {
    auto it = states_.find(descriptor.name());
    if (it == states_.end()) {
      throw std::invalid_argument("broadcast state '" + descriptor.name() +
                                  "' was not declared: pass its MapStateDescriptor to broadcast()");
    }
    auto* typed = dynamic_cast<BroadcastState<K, V>*>(it->second.get());
    if (typed == nullptr) {
      throw std::logic_error("broadcast state '" + descriptor.name() +
                             "' was declared in broadcast() with other key or value types");
    }
    return *typed;
  }

  // Makes the states part of the operator's checkpoints (every instance holds
  // the same contents, so a restored instance takes one old instance's copy).
  void Bind(OperatorStateStore& store) {
    for (auto& [name, state] : states_) {
      BroadcastStateBase* s = state.get();
      store.RegisterRaw(
          "broadcast:" + name, OperatorStateMode::kBroadcast, [s] { return s->SerializeEntries(); },
          [s](const std::vector<std::string>& entries) { s->RestoreEntries(entries); });
    }
  }

 private:
  std::map<std::string, std::unique_ptr<BroadcastStateBase>> states_;
};

}  // namespace internal

// What both sides of a broadcast function may ask: the record's timestamp,
// the clocks, and side outputs.
class BroadcastBaseContext {
 public:
  virtual ~BroadcastBaseContext() = default;
  // The element's timestamp (or the timer's, in onTimer), if any.
  virtual std::optional<int64_t> timestamp() const = 0;
  virtual int64_t currentProcessingTime() = 0;
  // The operator's watermark: the minimum of both inputs' watermarks.
  virtual int64_t currentWatermark() = 0;
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
  virtual internal::BroadcastStateRegistry& BroadcastStates() = 0;
};

// The context of processBroadcastElement: broadcast state may be changed.
class BroadcastContext : public BroadcastBaseContext {
 public:
  // The state of `descriptor`, which must have been declared in broadcast().
  template <class K, class V>
  BroadcastState<K, V>& getBroadcastState(const MapStateDescriptor<K, V>& descriptor) {
    return BroadcastStates().Get(descriptor);
  }
};

// The context of processElement (and onTimer): broadcast state is read-only.
class ReadOnlyBroadcastContext : public BroadcastBaseContext {
 public:
  // The state of `descriptor`, which must have been declared in broadcast().
  template <class K, class V>
  const ReadOnlyBroadcastState<K, V>& getBroadcastState(
      const MapStateDescriptor<K, V>& descriptor) {
    return BroadcastStates().Get(descriptor);
  }
};

// Connects a non-keyed stream (IN1) with a broadcast stream (IN2).
template <class IN1, class IN2, class OUT>
class BroadcastProcessFunction : public RichFunction {
 public:
  using InputType = IN1;
  using BroadcastType = IN2;
  using OutputType = OUT;
  using Context = BroadcastContext;
  using ReadOnlyContext = ReadOnlyBroadcastContext;
  // Each record of the non-broadcast input, on the instance it was sent to.
  virtual void processElement(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  // Each broadcast element, on every instance.
  virtual void processBroadcastElement(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
};

namespace internal {
template <class V>
ValueState<V>& KeyedStateOf(RuntimeContext& c, const ValueStateDescriptor<V>& d) { return c.getState(d); }
template <class T>
ListState<T>& KeyedStateOf(RuntimeContext& c, const ListStateDescriptor<T>& d) { return c.getListState(d); }
template <class K, class V>
MapState<K, V>& KeyedStateOf(RuntimeContext& c, const MapStateDescriptor<K, V>& d) { return c.getMapState(d); }
template <class T>
ReducingState<T>& KeyedStateOf(RuntimeContext& c, const ReducingStateDescriptor<T>& d) {
  return c.getReducingState(d);
}
template <class IN, class ACC, class OUT>
AggregatingState<IN, OUT>& KeyedStateOf(RuntimeContext& c, const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
  return c.getAggregatingState(d);
}
}  // namespace internal

// processBroadcastElement's context on a keyed stream: also visits keyed state.
template <class KS>
class KeyedBroadcastContext : public BroadcastContext {
 public:
  // Calls `function(key, state)` (or function.process(key, state), Flink's
  // KeyedStateFunction) for every key of this instance that has a value in
  // the keyed state `descriptor` names; the state is scoped to that key
  // during the call, so it may be read, updated or cleared.
  template <class D, class Fn>
  void applyToKeyedState(const D& descriptor, Fn&& function) {
    ForEachKey(descriptor.name(), [&](const KS& key, RuntimeContext& ctx) {
      auto& state = internal::KeyedStateOf(ctx, descriptor);
      if constexpr (requires { function.process(key, state); }) {
        function.process(key, state);
      } else {
        function(key, state);
      }
    });
  }

 protected:
  virtual void ForEachKey(const std::string& state,
                          const std::function<void(const KS& key, RuntimeContext& ctx)>& visit) = 0;
};

// Connects a keyed stream (IN1, key KS) with a broadcast stream (IN2).
// processElement and onTimer may use keyed state of the current key (through
// getRuntimeContext()) and timers; processBroadcastElement has no current key,
// and touching keyed state there throws std::logic_error.
template <class KS, class IN1, class IN2, class OUT>
class KeyedBroadcastProcessFunction : public RichFunction {
 public:
  using KeyType = KS;
  using InputType = IN1;
  using BroadcastType = IN2;
  using OutputType = OUT;
  using Context = KeyedBroadcastContext<KS>;
  class ReadOnlyContext : public ReadOnlyBroadcastContext {
   public:
    // Timers of the current key.
    virtual TimerService& timerService() = 0;
    virtual const KS& getCurrentKey() const = 0;
  };
  class OnTimerContext : public ReadOnlyContext {
   public:
    virtual TimeDomain timeDomain() const = 0;
  };
  virtual void processElement(const IN1& value, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void processBroadcastElement(const IN2& value, Context& ctx, Collector<OUT>& out) = 0;
  // A timer of the current key fired; output carries the timer's timestamp
  // (event time) or none (processing time).
  virtual void onTimer(int64_t timestamp, OnTimerContext& ctx, Collector<OUT>& out) {}
};

namespace internal {

// BroadcastProcessFunction: input 0 is the non-broadcast stream, input 1 the
// broadcast stream.
template <class IN1, class IN2, class OUT, class F>
class BroadcastProcessOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  BroadcastProcessOperator(F f, const std::vector<BroadcastStateSpec>& specs)
      : f_(std::move(f)), states_(specs) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override {
    side_outputs_.Set(tag, output);
  }
  void Open(OperatorContext& ctx) override {
    context_ = &ctx;
    states_.Bind(ctx.operator_state_store());
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& value, int64_t timestamp) override {
    read_only_.timestamp_ = timestamp;
    collector_.Reset(this->out_, timestamp);
    f_.processElement(value, read_only_, collector_);
  }
  void ProcessElement2(const IN2& value, int64_t timestamp) override {
    broadcast_.timestamp_ = timestamp;
    collector_.Reset(this->out_, timestamp);
    f_.processBroadcastElement(value, broadcast_, collector_);
  }

 protected:
  void OnCombinedWatermark(int64_t watermark) override { watermark_ = watermark; }

 private:
  template <class Base>
  class ContextImpl final : public Base {
   public:
    explicit ContextImpl(BroadcastProcessOperator* op) : op_(op) {}
    std::optional<int64_t> timestamp() const override {
      if (timestamp_ == kNoTimestamp) return std::nullopt;
      return timestamp_;
    }
    int64_t currentProcessingTime() override { return op_->context_->CurrentProcessingTime(); }
    int64_t currentWatermark() override { return op_->watermark_; }
    int64_t timestamp_ = kNoTimestamp;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }
    int64_t RawTimestamp() const override { return timestamp_; }
    BroadcastStateRegistry& BroadcastStates() override { return op_->states_; }

   private:
    BroadcastProcessOperator* op_;
  };

  F f_;
  BroadcastStateRegistry states_;
  OperatorContext* context_ = nullptr;
  int64_t watermark_ = kNoTimestamp;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  ContextImpl<BroadcastContext> broadcast_{this};
  ContextImpl<ReadOnlyBroadcastContext> read_only_{this};
};

// KeyedBroadcastProcessFunction: input 0 is the keyed stream, input 1 the
// broadcast stream; keyed state and timers as in KeyedCoProcessOperator.
template <class KS, class IN1, class IN2, class OUT, class KeyFn, class F>
class KeyedBroadcastProcessOperator final : public TwoInputOperator<IN1, IN2, OUT> {
 public:
  KeyedBroadcastProcessOperator(KeyFn key_fn, F f, const std::vector<BroadcastStateSpec>& specs)
      : key_(std::move(key_fn)), f_(std::move(f)), states_(specs) {}
  void SetSideOutput(const std::string& tag, OutputBase* output) override {
    side_outputs_.Set(tag, output);
  }
  void Open(OperatorContext& ctx) override {
    context_ = &ctx;
    states_.Bind(ctx.operator_state_store());
    backend_ = ctx.keyed_state_backend();
    key_.Bind(backend_);
    timers_ = std::make_unique<InternalTimerService>(
        backend_, &ctx,
        [this](const InternalTimer& timer, TimeDomainKind domain) { OnTimer(timer, domain); });
    OpenFunction(f_, ctx);
  }
  void Close() override { CloseFunction(f_); }
  void ProcessElement1(const IN1& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    keyed_.key_ = CallKey(key_.key_fn(), value);
    keyed_.timestamp_ = timestamp;
    collector_.Reset(this->out_, timestamp);
    f_.processElement(value, keyed_, collector_);
  }
  void ProcessElement2(const IN2& value, int64_t timestamp) override {
    // A broadcast element belongs to no key: unset the key of the previous
    // record, so that keyed state or timers used here fail loudly instead of
    // reading and writing that record's key.
    backend_->SetCurrentKey(std::string_view(), -1);
    broadcast_.timestamp_ = timestamp;
    collector_.Reset(this->out_, timestamp);
    f_.processBroadcastElement(value, broadcast_, collector_);
  }

 protected:
  void OnCombinedWatermark(int64_t watermark) override { timers_->AdvanceWatermark(watermark); }

 private:
  using Function = KeyedBroadcastProcessFunction<KS, IN1, IN2, OUT>;

  void OnTimer(const InternalTimer& timer, TimeDomainKind domain) {
    DataInput in(timer.key);
    TypeSerializer<KS>::Deserialize(in, keyed_.key_);
    keyed_.timestamp_ = timer.timestamp;
    keyed_.domain_ =
        domain == TimeDomainKind::kEventTime ? TimeDomain::EVENT_TIME : TimeDomain::PROCESSING_TIME;
    collector_.Reset(this->out_,
                     domain == TimeDomainKind::kEventTime ? timer.timestamp : kNoTimestamp);
    f_.onTimer(timer.timestamp, keyed_, collector_);
  }

  // processElement's ReadOnlyContext and onTimer's OnTimerContext.
  class KeyedContext final : public Function::OnTimerContext, public TimerService {
   public:
    explicit KeyedContext(KeyedBroadcastProcessOperator* op) : op_(op) {}
    std::optional<int64_t> timestamp() const override {
      if (timestamp_ == kNoTimestamp) return std::nullopt;
      return timestamp_;
    }
    TimerService& timerService() override { return *this; }
    const KS& getCurrentKey() const override { return key_; }
    TimeDomain timeDomain() const override { return domain_; }
    int64_t currentProcessingTime() override { return op_->timers_->current_processing_time(); }
    int64_t currentWatermark() override { return op_->timers_->current_watermark(); }
    void registerEventTimeTimer(int64_t time) override {
      op_->timers_->RegisterEventTimeTimer(time);
    }
    void registerProcessingTimeTimer(int64_t time) override {
      op_->timers_->RegisterProcessingTimeTimer(time);
    }
    void deleteEventTimeTimer(int64_t time) override { op_->timers_->DeleteEventTimeTimer(time); }
    void deleteProcessingTimeTimer(int64_t time) override {
      op_->timers_->DeleteProcessingTimeTimer(time);
    }

    KS key_{};
    int64_t timestamp_ = kNoTimestamp;
    TimeDomain domain_ = TimeDomain::EVENT_TIME;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }
    int64_t RawTimestamp() const override { return timestamp_; }
    BroadcastStateRegistry& BroadcastStates() override { return op_->states_; }

   private:
    KeyedBroadcastProcessOperator* op_;
  };

  // processBroadcastElement's Context.
  class BroadcastSideContext final : public KeyedBroadcastContext<KS> {
   public:
    explicit BroadcastSideContext(KeyedBroadcastProcessOperator* op) : op_(op) {}
    std::optional<int64_t> timestamp() const override {
      if (timestamp_ == kNoTimestamp) return std::nullopt;
      return timestamp_;
    }
    int64_t currentProcessingTime() override { return op_->timers_->current_processing_time(); }
    int64_t currentWatermark() override { return op_->timers_->current_watermark(); }
    int64_t timestamp_ = kNoTimestamp;

   protected:
    OutputBase* SideOutput(const std::string& tag) override { return op_->side_outputs_.Get(tag); }
    int64_t RawTimestamp() const override { return timestamp_; }
    BroadcastStateRegistry& BroadcastStates() override { return op_->states_; }
    void ForEachKey(const std::string& state,
                    const std::function<void(const KS& key, RuntimeContext& ctx)>& visit) override {
      KeyedStateBackend* backend = op_->backend_;
      // Keys first (an entry key starts with the serialized key), then the
      // visits, which may change the state.
      std::vector<std::pair<int, std::string>> keys;
      CheckStore(state, backend->ForEachEntryKey(state, [&](int key_group, std::string_view entry) {
        KS key{};
        DataInput in(entry);
        TypeSerializer<KS>::Deserialize(in, key);
        if (in.ok()) keys.emplace_back(key_group, std::string(entry.substr(0, in.position())));
      }));
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      const std::string name_space(backend->current_namespace());
      backend->SetCurrentNamespace("");
      for (const auto& [key_group, bytes] : keys) {
        KS key{};
        DeserializeStored(state, bytes, key);
        backend->SetCurrentKey(bytes, key_group);
        visit(key, op_->context_->runtime_context());
      }
      backend->SetCurrentKey(std::string_view(), -1);  // processBroadcastElement has no current key
      backend->SetCurrentNamespace(name_space);
    }

   private:
    KeyedBroadcastProcessOperator* op_;
  };

  KeyContext<IN1, KeyFn> key_;
  F f_;
  BroadcastStateRegistry states_;
  OperatorContext* context_ = nullptr;
  KeyedStateBackend* backend_ = nullptr;
  std::unique_ptr<InternalTimerService> timers_;
  SideOutputTable side_outputs_;
  TimestampedCollector<OUT> collector_;
  KeyedContext keyed_{this};
  BroadcastSideContext broadcast_{this};
};

// What process() accepts. (clang-format off: the installed clang-format
// mangles concept definitions.)
// clang-format off
template <class F, class IN1, class IN2>
concept BroadcastProcessFn =
    requires { typename F::OutputType; } &&
    std::is_base_of_v<BroadcastProcessFunction<IN1, IN2, typename F::OutputType>, F>;

template <class F, class IN1, class IN2>
concept KeyedBroadcastProcessFn =
    requires {
      typename F::KeyType;
      typename F::OutputType;
    } &&
    std::is_base_of_v<
        KeyedBroadcastProcessFunction<typename F::KeyType, IN1, IN2, typename F::OutputType>, F>;
// clang-format on

}  // namespace internal

// A stream whose records go to every parallel instance of the operator it is
// connected to, with the broadcast states that operator will hold.
template <class T>
class BroadcastStream {
 public:
  using ValueType = T;
  BroadcastStream(StreamExecutionEnvironment* env, int node_id,
                  std::vector<internal::BroadcastStateSpec> specs)
      : env_(env), id_(node_id), specs_(std::move(specs)) {}
  // The broadcast partitioning node.
  int getId() const { return id_; }
  StreamExecutionEnvironment& getExecutionEnvironment() const { return *env_; }
  const std::vector<internal::BroadcastStateSpec>& state_specs() const { return specs_; }

 private:
  StreamExecutionEnvironment* env_;
  int id_;
  std::vector<internal::BroadcastStateSpec> specs_;
};

namespace internal {

// The two-input node of a broadcast connection.
template <class OUT, class Factory>
SingleOutputStreamOperator<OUT> AddBroadcastProcessNode(StreamExecutionEnvironment& env,
                                                        const char* name, int first, int second,
                                                        bool keyed, Factory factory) {
  auto& node =
      env.stream_graph().AddNode(NodeKind::kTwoInput, name, {first, second}, TypeHandleFor<OUT>());
  node.keyed = keyed;
  node.operator_factory = [factory]() -> std::unique_ptr<StreamOperatorBase> { return factory(); };
  return SingleOutputStreamOperator<OUT>(&env, node.id);
}

}  // namespace internal

// A non-keyed stream (IN1) connected with a broadcast stream (IN2).
template <class IN1, class IN2>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(StreamExecutionEnvironment* env, int first, BroadcastStream<IN2> second)
      : env_(env), first_(first), second_(std::move(second)) {}

  // process(BroadcastProcessFunction<IN1, IN2, OUT>).
  template <class F>
  auto process(F f) {
    constexpr bool kValid = internal::BroadcastProcessFn<F, IN1, IN2>;
    static_assert(kValid,
                  "process() on a stream connected with a broadcast stream expects a "
                  "BroadcastProcessFunction<IN1, IN2, OUT> (IN1: this stream, IN2: the broadcast "
                  "stream); for keyed state and timers, keyBy() first and use a "
                  "KeyedBroadcastProcessFunction");
    if constexpr (kValid) {
      using OUT = typename F::OutputType;
      return internal::AddBroadcastProcessNode<OUT>(
          *env_, "Co-Process-Broadcast", first_, second_.getId(), /*keyed=*/false,
          [f, specs = second_.state_specs()] {
            return std::make_unique<internal::BroadcastProcessOperator<IN1, IN2, OUT, F>>(f, specs);
          });
    }
  }

 private:
  StreamExecutionEnvironment* env_;
  int first_;
  BroadcastStream<IN2> second_;
};

// A keyed stream (IN1, keyed by KeyFn) connected with a broadcast stream (IN2).
template <class IN1, class KeyFn, class IN2>
class KeyedBroadcastConnectedStream {
 public:
  using KeyType = typename KeyedStream<IN1, KeyFn>::KeyType;
  KeyedBroadcastConnectedStream(StreamExecutionEnvironment* env, int first, KeyFn key_fn,
                                BroadcastStream<IN2> second)
      : env_(env), first_(first), key_fn_(std::move(key_fn)), second_(std::move(second)) {}

  // process(KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>), K the keyBy() key type.
  template <class F>
  auto process(F f) {
    constexpr bool kValid = internal::KeyedBroadcastProcessFn<F, IN1, IN2>;
    static_assert(kValid,
                  "process() on a keyed stream connected with a broadcast stream expects a "
                  "KeyedBroadcastProcessFunction<K, IN1, IN2, OUT> (IN1: the keyed stream, IN2: "
                  "the broadcast stream)");
    if constexpr (kValid) {
      static_assert(std::is_same_v<typename F::KeyType, KeyType>,
                    "the KeyedBroadcastProcessFunction's key type must be the keyBy() key type");
      using OUT = typename F::OutputType;
      using Op = internal::KeyedBroadcastProcessOperator<KeyType, IN1, IN2, OUT, KeyFn, F>;
      return internal::AddBroadcastProcessNode<OUT>(
          *env_, "Co-Process-Broadcast-Keyed", first_, second_.getId(), /*keyed=*/true,
          [key_fn = key_fn_, f, specs = second_.state_specs()] {
            return std::make_unique<Op>(key_fn, f, specs);
          });
    }
  }

 private:
  StreamExecutionEnvironment* env_;
  int first_;
  KeyFn key_fn_;
  BroadcastStream<IN2> second_;
};

// Broadcasts `stream` (every record to every parallel instance downstream)
// and declares the broadcast states, one per MapStateDescriptor, of the
// operator it is connected to. Throws std::invalid_argument for two
// descriptors with the same name or a descriptor with a time-to-live.
template <class T, class D, class... More>
BroadcastStream<T> Broadcast(const DataStream<T>& stream, const D& descriptor,
                             const More&... more) {
  static_assert(
      (internal::kIsMapStateDescriptor<D> && ... && internal::kIsMapStateDescriptor<More>),
      "broadcast(descriptors...) expects MapStateDescriptor<K, V>s: broadcast state is "
      "a map; without state, broadcast() with no arguments only repartitions");
  std::vector<internal::BroadcastStateSpec> specs{internal::MakeBroadcastStateSpec(descriptor),
                                                  internal::MakeBroadcastStateSpec(more)...};
  for (size_t i = 0; i < specs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (specs[i].name == specs[j].name) {
        throw std::invalid_argument("broadcast(): two broadcast state descriptors are named '" +
                                    specs[i].name + "'");
      }
    }
  }
  DataStream<T> input = stream;
  return BroadcastStream<T>(&stream.getExecutionEnvironment(), input.broadcast().getId(),
                            std::move(specs));
}

namespace internal {
inline void CheckSameEnvironment(const StreamExecutionEnvironment& a,
                                 const StreamExecutionEnvironment& b) {
  if (&a != &b) {
    throw std::invalid_argument(
        "connect(): the broadcast stream belongs to another StreamExecutionEnvironment");
  }
}
}  // namespace internal

// Connects a non-keyed stream with a broadcast stream, for a
// BroadcastProcessFunction.
template <class T, class B>
BroadcastConnectedStream<T, B> ConnectBroadcast(const DataStream<T>& stream,
                                                const BroadcastStream<B>& broadcast) {
  internal::CheckSameEnvironment(stream.getExecutionEnvironment(),
                                 broadcast.getExecutionEnvironment());
  return BroadcastConnectedStream<T, B>(&stream.getExecutionEnvironment(), stream.getId(),
                                        broadcast);
}

// Connects a keyed stream with a broadcast stream, for a
// KeyedBroadcastProcessFunction.
template <class T, class KeyFn, class B>
KeyedBroadcastConnectedStream<T, KeyFn, B> ConnectBroadcast(const KeyedStream<T, KeyFn>& stream,
                                                            const BroadcastStream<B>& broadcast) {
  internal::CheckSameEnvironment(stream.getExecutionEnvironment(),
                                 broadcast.getExecutionEnvironment());
  return KeyedBroadcastConnectedStream<T, KeyFn, B>(&stream.getExecutionEnvironment(),
                                                    stream.getId(), stream.key_fn(), broadcast);
}

}  // namespace eddy
