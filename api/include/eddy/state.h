// Keyed state as user functions see it, modelled on Flink's: the state
// descriptors (with optional time-to-live), the AggregateFunction used by
// aggregating state, and the state interfaces ValueState, ListState, MapState,
// ReducingState and AggregatingState.
//
// Every keyed state is scoped to the key of the record being processed and to
// the operator's current namespace (the "void" namespace unless an operator,
// such as a window operator, sets one). Which state backend stores it
// (`state.backend.type`: hashmap in memory, or rocksdb on local disk) is
// invisible here: the same interfaces and the same semantics hold for both.
// Because the rocksdb backend stores everything serialized, every type kept in
// keyed state needs a TypeSerializer (EDDY_FIELDS or a specialization).
//
// Accessing keyed state while no key is current (outside a keyed operator's
// processing of a record or timer) throws std::logic_error naming the state;
// a failing store (disk full, corrupt bytes) throws std::runtime_error. Either
// fails the task with that message.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace eddy {

// ---------------------------------------------------------------------------
// Time-to-live.

// Expiry of keyed state entries after a period without writes (or reads), by
// processing time, as Flink's StateTtlConfig:
//
//   auto ttl = StateTtlConfig::newBuilder(std::chrono::hours(1))
//                  .setUpdateType(StateTtlConfig::UpdateType::OnReadAndWrite)
//                  .setStateVisibility(StateTtlConfig::StateVisibility::NeverReturnExpired)
//                  .build();
//   descriptor.enableTimeToLive(ttl);
//
// The TTL applies per value for ValueState, ReducingState and AggregatingState,
// per element for ListState and per entry for MapState. An entry expires once
// `now >= last_update + ttl`. Expired entries are removed when they are next
// accessed (Eddy has no background cleanup yet).
class StateTtlConfig {
 public:
  // Which accesses restart an entry's time-to-live.
  enum class UpdateType {
    // TTL disabled: the state never expires.
    Disabled,
    // Creation and every write restart the TTL.
    OnCreateAndWrite,
    // As OnCreateAndWrite, and reads too.
    OnReadAndWrite,
  };
  // Whether a read may still see an expired entry.
  enum class StateVisibility {
    // An expired entry that has not been removed yet is returned (once: the
    // read that returns it also removes it).
    ReturnExpiredIfNotCleanedUp,
    // An expired entry is never returned.
    NeverReturnExpired,
  };
  // The time TTL is measured in; only processing time, as in Flink.
  enum class TtlTimeCharacteristic { ProcessingTime };

  class Builder {
   public:
    explicit Builder(std::chrono::milliseconds ttl) : ttl_(ttl) {}
    Builder& setUpdateType(UpdateType type) {
      update_type_ = type;
      return *this;
    }
    Builder& updateTtlOnCreateAndWrite() { return setUpdateType(UpdateType::OnCreateAndWrite); }
    Builder& updateTtlOnReadAndWrite() { return setUpdateType(UpdateType::OnReadAndWrite); }
    Builder& setStateVisibility(StateVisibility visibility) {
      visibility_ = visibility;
      return *this;
    }
    Builder& returnExpiredIfNotCleanedUp() {
      return setStateVisibility(StateVisibility::ReturnExpiredIfNotCleanedUp);
    }
    Builder& neverReturnExpired() {
      return setStateVisibility(StateVisibility::NeverReturnExpired);
    }
    Builder& setTtlTimeCharacteristic(TtlTimeCharacteristic) { return *this; }
    Builder& setTtl(std::chrono::milliseconds ttl) {
      ttl_ = ttl;
      return *this;
    }
    // Throws std::invalid_argument unless the TTL is positive.
    StateTtlConfig build() const { return StateTtlConfig(update_type_, visibility_, ttl_); }

   private:
    std::chrono::milliseconds ttl_;
    UpdateType update_type_ = UpdateType::OnCreateAndWrite;
    StateVisibility visibility_ = StateVisibility::NeverReturnExpired;
  };

  // A builder with Flink's defaults: OnCreateAndWrite, NeverReturnExpired.
  static Builder newBuilder(std::chrono::milliseconds ttl) { return Builder(ttl); }
  // The configuration of a descriptor without TTL.
  static StateTtlConfig disabled() {
    return StateTtlConfig(UpdateType::Disabled, StateVisibility::NeverReturnExpired,
                          std::chrono::milliseconds::max());
  }

  UpdateType getUpdateType() const { return update_type_; }
  StateVisibility getStateVisibility() const { return visibility_; }
  TtlTimeCharacteristic getTtlTimeCharacteristic() const {
    return TtlTimeCharacteristic::ProcessingTime;
  }
  std::chrono::milliseconds getTtl() const { return ttl_; }
  bool isEnabled() const { return update_type_ != UpdateType::Disabled; }

 private:
  StateTtlConfig(UpdateType update_type, StateVisibility visibility, std::chrono::milliseconds ttl)
      : update_type_(update_type), visibility_(visibility), ttl_(ttl) {
    if (ttl_.count() <= 0) {
      throw std::invalid_argument("StateTtlConfig: the TTL must be positive, got " +
                                  std::to_string(ttl_.count()) + " ms");
    }
  }

  UpdateType update_type_;
  StateVisibility visibility_;
  std::chrono::milliseconds ttl_;
};

// ---------------------------------------------------------------------------
// Descriptors: a state's name (unique per operator), its type and options.

class StateDescriptor {
 public:
  const std::string& name() const { return name_; }
  const std::string& getName() const { return name_; }
  // Makes the state's entries expire (see StateTtlConfig). A disabled config
  // turns TTL off again.
  void enableTimeToLive(const StateTtlConfig& ttl_config) { ttl_config_ = ttl_config; }
  // StateTtlConfig::disabled() unless enableTimeToLive() was called.
  const StateTtlConfig& getTtlConfig() const { return ttl_config_; }

 protected:
  explicit StateDescriptor(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
  StateTtlConfig ttl_config_ = StateTtlConfig::disabled();
};

template <class V>
class ValueStateDescriptor : public StateDescriptor {
 public:
  using ValueType = V;
  explicit ValueStateDescriptor(std::string name) : StateDescriptor(std::move(name)) {}
  // value() returns `default_value` for keys without a value.
  ValueStateDescriptor(std::string name, V default_value)
      : StateDescriptor(std::move(name)), default_value_(std::move(default_value)) {}
  const std::optional<V>& default_value() const { return default_value_; }

 private:
  std::optional<V> default_value_;
};

template <class T>
class ListStateDescriptor : public StateDescriptor {
 public:
  using ElementType = T;
  explicit ListStateDescriptor(std::string name) : StateDescriptor(std::move(name)) {}
};

template <class UK, class UV>
class MapStateDescriptor : public StateDescriptor {
 public:
  using KeyType = UK;
  using ValueType = UV;
  explicit MapStateDescriptor(std::string name) : StateDescriptor(std::move(name)) {}
};

// Keeps the running reduction of the values added, e.g.
//   ReducingStateDescriptor<int64_t>("sum", [](int64_t a, int64_t b) { return a + b; })
template <class T>
class ReducingStateDescriptor : public StateDescriptor {
 public:
  using ReduceFn = std::function<T(const T&, const T&)>;

  // `reduce` is a ReduceFunction<T> (an object with T reduce(const T&, const
  // T&)) or a callable T(const T&, const T&); it must be associative, because
  // merging namespaces (session windows) regroups the reductions.
  template <class F>
  ReducingStateDescriptor(std::string name, F reduce)
      : StateDescriptor(std::move(name)), reduce_(Wrap(std::move(reduce))) {}
  const ReduceFn& reduce_function() const { return reduce_; }

 private:
  template <class F>
  static ReduceFn Wrap(F f) {
    constexpr bool kIsReduceFunction = requires(F& fn, const T& a) {
      { fn.reduce(a, a) } -> std::convertible_to<T>;
    };
    static_assert(kIsReduceFunction || std::is_invocable_r_v<T, F&, const T&, const T&>,
                  "ReducingStateDescriptor<T> expects a ReduceFunction<T> or a callable "
                  "T(const T& accumulated, const T& value)");
    auto fn = std::make_shared<F>(std::move(f));  // std::function needs a copyable target.
    if constexpr (kIsReduceFunction) {
      return [fn](const T& a, const T& b) -> T { return fn->reduce(a, b); };
    } else {
      return [fn](const T& a, const T& b) -> T { return (*fn)(a, b); };
    }
  }

  ReduceFn reduce_;
};

// An incremental aggregation: values of type IN are added to an accumulator of
// type ACC, from which a result of type OUT is read (Flink's AggregateFunction).
// Used by AggregatingState and by window aggregations.
template <class IN, class ACC, class OUT>
class AggregateFunction {
 public:
  using InputType = IN;
  using AccumulatorType = ACC;
  using OutputType = OUT;
  virtual ~AggregateFunction() = default;
  // A new, empty accumulator.
  virtual ACC createAccumulator() = 0;
  // Adds `value` to `accumulator` and returns the updated accumulator.
  virtual ACC add(const IN& value, ACC accumulator) = 0;
  // The result of the aggregation so far.
  virtual OUT getResult(const ACC& accumulator) = 0;
  // Combines two accumulators (merging session windows).
  virtual ACC merge(ACC a, ACC b) = 0;
};

template <class IN, class ACC, class OUT>
class AggregatingStateDescriptor : public StateDescriptor {
 public:
  using Function = AggregateFunction<IN, ACC, OUT>;

  AggregatingStateDescriptor(std::string name, std::shared_ptr<Function> aggregate_function)
      : StateDescriptor(std::move(name)), function_(std::move(aggregate_function)) {}
  // Takes a copy of an AggregateFunction subclass object.
  template <class F>
    requires std::derived_from<F, Function>
  AggregatingStateDescriptor(std::string name, F aggregate_function)
      : StateDescriptor(std::move(name)),
        function_(std::make_shared<F>(std::move(aggregate_function))) {}
  const std::shared_ptr<Function>& aggregate_function() const { return function_; }

 private:
  std::shared_ptr<Function> function_;
};

// ---------------------------------------------------------------------------
// State interfaces. Every method works on the current key and namespace.

class State {
 public:
  virtual ~State() = default;
  // Removes the value of the current key and namespace.
  virtual void clear() = 0;
};

// One value per key.
template <class V>
class ValueState : public State {
 public:
  // The current value, or the descriptor's default (or nullopt) if unset.
  virtual std::optional<V> value() = 0;
  virtual void update(const V& value) = 0;
  // For operators' hot paths: the stored value, modifiable in place, or null
  // if there is none. Writes through the pointer are part of the state on
  // every backend (serializing backends write them back when this state moves
  // to another key or namespace, and before snapshots). The pointer is valid
  // until the next call on this state or change of the current key.
  virtual V* mutableValue() = 0;
};

// A state values are added to; get() reads the accumulated OUT.
template <class IN, class OUT>
class AppendingState : public State {
 public:
  virtual OUT get() = 0;
  virtual void add(const IN& value) = 0;
};

// An appending state whose namespaces can be merged (see
// internal::InternalMergingState); the marker Flink has too.
template <class IN, class OUT>
class MergingState : public AppendingState<IN, OUT> {};

// A list of values per key: get() returns the elements in insertion order
// (empty when none).
template <class T>
class ListState : public MergingState<T, std::vector<T>> {
 public:
  // Replaces the list; an empty `values` clears it.
  virtual void update(const std::vector<T>& values) = 0;
  // Appends every element of `values`.
  virtual void addAll(const std::vector<T>& values) = 0;
};

// A map per key. Iteration (entries, keys, values) returns a snapshot, so the
// state may be modified while one walks it; its order is the byte order of
// the serialized user keys on every backend.
template <class UK, class UV>
class MapState : public State {
 public:
  virtual std::optional<UV> get(const UK& key) = 0;
  virtual void put(const UK& key, const UV& value) = 0;
  // Puts every (key, value) pair of `entries` (a std::map, a vector of pairs...).
  template <class Range>
  void putAll(const Range& entries) {
    for (const auto& [key, value] : entries) put(key, value);
  }
  virtual void remove(const UK& key) = 0;
  virtual bool contains(const UK& key) = 0;
  virtual std::vector<std::pair<UK, UV>> entries() = 0;
  virtual std::vector<UK> keys() = 0;
  virtual std::vector<UV> values() = 0;
  virtual bool isEmpty() = 0;
};

// The reduction of every value added (nullopt when none was).
template <class T>
class ReducingState : public MergingState<T, std::optional<T>> {};

// The aggregate of every value added (nullopt when none was).
template <class IN, class OUT>
class AggregatingState : public MergingState<IN, std::optional<OUT>> {};

}  // namespace eddy

// The keyed state backend and the state implementations the runtime creates.
#include "eddy/internal/keyed_state.h"  // IWYU pragma: export
