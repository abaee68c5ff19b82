// The keyed state implementations and the functions that create them. Value,
// list, reducing and aggregating state are written once against a "cell" (one
// stored value per key and namespace): HeapCell for the hashmap backend,
// KvCell for the rocksdb backend, TtlCell around either when the descriptor
// enables TTL. MapState has a per-backend implementation, since rocksdb keeps
// one entry per user key. Included by eddy/state.h.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/state.h"

// The parts below refuse to be included on their own; in dependency order.
#define EDDY_INTERNAL_KEYED_STATE_INCLUDED
// clang-format off
#include "eddy/internal/keyed_state_backend.h"
#include "eddy/internal/heap_state.h"
#include "eddy/internal/kv_state.h"
#include "eddy/internal/ttl_state.h"
// clang-format on

namespace eddy::internal {

template <class V, class Cell>
class ValueStateImpl final : public ValueState<V> {
 public:
  ValueStateImpl(const CellSpec& spec, std::optional<V> default_value)
      : cell_(spec), default_value_(std::move(default_value)) {}

  std::optional<V> value() override {
    const V* value = cell_.Get();
    if (value == nullptr) return default_value_;
    return *value;
  }
  void update(const V& value) override { cell_.Put(value); }
  void clear() override { cell_.Remove(); }
  V* mutableValue() override { return cell_.Mutable(); }

 private:
  Cell cell_;
  std::optional<V> default_value_;
};

// Cell holds a std::vector<T>.
template <class T, class Cell>
class ListStateImpl final : public InternalListState<T> {
 public:
  explicit ListStateImpl(const CellSpec& spec) : cell_(spec) {}

  std::vector<T> get() override {
    const std::vector<T>* list = cell_.Get();
    return list == nullptr ? std::vector<T>() : *list;
  }
  void add(const T& value) override {
    if (std::vector<T>* list = cell_.Mutable()) {
      list->push_back(value);
    } else {
      cell_.Put(std::vector<T>{value});
    }
  }
  void addAll(const std::vector<T>& values) override {
    if (values.empty()) return;
    if (std::vector<T>* list = cell_.Mutable()) {
      list->insert(list->end(), values.begin(), values.end());
    } else {
      cell_.Put(values);
    }
  }
  void update(const std::vector<T>& values) override {
    if (values.empty()) {
      cell_.Remove();
    } else {
      cell_.Put(values);
    }
  }
  void clear() override { cell_.Remove(); }
  // The target's elements, then each source's, in order.
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) override {
    std::optional<std::vector<T>> merged = cell_.TakeIn(target);
    for (const std::string& source : sources) {
      std::optional<std::vector<T>> list = cell_.TakeIn(source);
      if (!list) continue;
      if (!merged) {
        merged = std::move(list);
      } else {
        merged->insert(merged->end(), std::make_move_iterator(list->begin()),
                       std::make_move_iterator(list->end()));
      }
    }
    if (merged && !merged->empty()) cell_.PutIn(target, std::move(*merged));
  }

 private:
  Cell cell_;
};

// Cell holds the reduction, a T.
template <class T, class Cell>
class ReducingStateImpl final : public InternalReducingState<T> {
 public:
  ReducingStateImpl(const CellSpec& spec, typename ReducingStateDescriptor<T>::ReduceFn reduce)
      : cell_(spec), reduce_(std::move(reduce)) {}

  std::optional<T> get() override {
    const T* value = cell_.Get();
    if (value == nullptr) return std::nullopt;
    return *value;
  }
  void add(const T& value) override {
    if (T* accumulated = cell_.Mutable()) {
      *accumulated = reduce_(*accumulated, value);
    } else {
      cell_.Put(value);
    }
  }
  void clear() override { cell_.Remove(); }
  // reduce(...reduce(reduce(target, source1), source2)...).
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) override {
    std::optional<T> merged = cell_.TakeIn(target);
    for (const std::string& source : sources) {
      std::optional<T> value = cell_.TakeIn(source);
      if (!value) continue;
      merged = merged ? reduce_(*merged, *value) : std::move(*value);
    }
    if (merged) cell_.PutIn(target, std::move(*merged));
  }

 private:
  Cell cell_;
  typename ReducingStateDescriptor<T>::ReduceFn reduce_;
};

// Cell holds the accumulator, an ACC.
template <class IN, class ACC, class OUT, class Cell>
class AggregatingStateImpl final : public InternalAggregatingState<IN, OUT> {
 public:
  using Function = AggregateFunction<IN, ACC, OUT>;
  AggregatingStateImpl(const CellSpec& spec, std::shared_ptr<Function> function)
      : cell_(spec), function_(std::move(function)) {}

  std::optional<OUT> get() override {
    const ACC* accumulator = cell_.Get();
    if (accumulator == nullptr) return std::nullopt;
    return function_->getResult(*accumulator);
  }
  void add(const IN& value) override {
    if (ACC* accumulator = cell_.Mutable()) {
      *accumulator = function_->add(value, std::move(*accumulator));
    } else {
      cell_.Put(function_->add(value, function_->createAccumulator()));
    }
  }
  void clear() override { cell_.Remove(); }
  // merge(...merge(merge(target, source1), source2)...).
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) override {
    std::optional<ACC> merged = cell_.TakeIn(target);
    for (const std::string& source : sources) {
      std::optional<ACC> accumulator = cell_.TakeIn(source);
      if (!accumulator) continue;
      merged = merged ? function_->merge(std::move(*merged), std::move(*accumulator))
                      : std::move(*accumulator);
    }
    if (merged) cell_.PutIn(target, std::move(*merged));
  }

 private:
  Cell cell_;
  std::shared_ptr<Function> function_;
};

// Calls make(std::type_identity<Cell>{}) with the cell of S that `spec`'s
// backend and TTL call for.
template <class S, class Make>
std::unique_ptr<State> MakeWithCell(const CellSpec& spec, Make make) {
  const bool serialized = spec.backend->kv_store() != nullptr;
  if (spec.ttl.isEnabled()) {
    if (serialized) return make(std::type_identity<TtlCell<S, KvCell<TtlValue<S>>>>());
    return make(std::type_identity<TtlCell<S, HeapCell<TtlValue<S>>>>());
  }
  if (serialized) return make(std::type_identity<KvCell<S>>());
  return make(std::type_identity<HeapCell<S>>());
}

// A list state without TTL (the TTL wrapper's inner state, or the state).
template <class T>
std::unique_ptr<InternalListState<T>> MakePlainListState(const CellSpec& spec) {
  if (spec.backend->kv_store() != nullptr) {
    return std::make_unique<ListStateImpl<T, KvCell<std::vector<T>>>>(spec);
  }
  return std::make_unique<ListStateImpl<T, HeapCell<std::vector<T>>>>(spec);
}

template <class UK, class UV>
std::unique_ptr<MapState<UK, UV>> MakePlainMapState(const CellSpec& spec) {
  if (spec.backend->kv_store() != nullptr) return std::make_unique<KvMapState<UK, UV>>(spec);
  return std::make_unique<HeapMapState<UK, UV>>(spec);
}

inline CellSpec SpecFor(KeyedStateBackend& backend, const StateDescriptor& descriptor) {
  return CellSpec{&backend, descriptor.name(), descriptor.getTtlConfig()};
}

#define EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(T, what)             \
  static_assert(kIsSerializable<T>, what                            \
                " needs a TypeSerializer (list its fields with "    \
                "EDDY_FIELDS or specialize eddy::TypeSerializer): " \
                "the rocksdb state backend stores it serialized")

// ---- The state of a descriptor, created on first use. ----

template <class V>
ValueState<V>& GetValueState(KeyedStateBackend& backend, const ValueStateDescriptor<V>& d) {
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(V, "the value type of a ValueState");
  return backend.GetOrCreate<ValueState<V>>(d.name(), [&] {
    return MakeWithCell<V>(SpecFor(backend, d), [&](auto cell) -> std::unique_ptr<State> {
      using Cell = typename decltype(cell)::type;
      return std::make_unique<ValueStateImpl<V, Cell>>(SpecFor(backend, d), d.default_value());
    });
  });
}

template <class T>
InternalListState<T>& GetListState(KeyedStateBackend& backend, const ListStateDescriptor<T>& d) {
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(T, "the element type of a ListState");
  return backend.GetOrCreate<InternalListState<T>>(d.name(), [&]() -> std::unique_ptr<State> {
    const CellSpec spec = SpecFor(backend, d);
    if (!spec.ttl.isEnabled()) return MakePlainListState<T>(spec);
    CellSpec inner = spec;
    inner.ttl = StateTtlConfig::disabled();
    return std::make_unique<TtlListState<T>>(MakePlainListState<TtlValue<T>>(inner), spec);
  });
}

template <class UK, class UV>
MapState<UK, UV>& GetMapState(KeyedStateBackend& backend, const MapStateDescriptor<UK, UV>& d) {
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(UK, "the key type of a MapState");
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(UV, "the value type of a MapState");
  return backend.GetOrCreate<MapState<UK, UV>>(d.name(), [&]() -> std::unique_ptr<State> {
    const CellSpec spec = SpecFor(backend, d);
    if (!spec.ttl.isEnabled()) return MakePlainMapState<UK, UV>(spec);
    CellSpec inner = spec;
    inner.ttl = StateTtlConfig::disabled();
    return std::make_unique<TtlMapState<UK, UV>>(MakePlainMapState<UK, TtlValue<UV>>(inner), spec);
  });
}

template <class T>
InternalReducingState<T>& GetReducingState(KeyedStateBackend& backend,
                                           const ReducingStateDescriptor<T>& d) {
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(T, "the value type of a ReducingState");
  return backend.GetOrCreate<InternalReducingState<T>>(d.name(), [&] {
    return MakeWithCell<T>(SpecFor(backend, d), [&](auto cell) -> std::unique_ptr<State> {
      using Cell = typename decltype(cell)::type;
      return std::make_unique<ReducingStateImpl<T, Cell>>(SpecFor(backend, d), d.reduce_function());
    });
  });
}

template <class IN, class ACC, class OUT>
InternalAggregatingState<IN, OUT>& GetAggregatingState(
    KeyedStateBackend& backend, const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
  EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER(ACC, "the accumulator type of an AggregatingState");
  if (d.aggregate_function() == nullptr) {
    throw std::invalid_argument("AggregatingStateDescriptor '" + d.name() +
                                "' has no AggregateFunction");
  }
  return backend.GetOrCreate<InternalAggregatingState<IN, OUT>>(d.name(), [&] {
    return MakeWithCell<ACC>(SpecFor(backend, d), [&](auto cell) -> std::unique_ptr<State> {
      using Cell = typename decltype(cell)::type;
      return std::make_unique<AggregatingStateImpl<IN, ACC, OUT, Cell>>(SpecFor(backend, d),
                                                                        d.aggregate_function());
    });
  });
}

#undef EDDY_INTERNAL_REQUIRE_STATE_SERIALIZER

}  // namespace eddy::internal
