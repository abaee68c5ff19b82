// Keyed state: descriptors, the state interfaces user functions see, and the
// in-memory (hashmap) keyed backend. State is scoped to the key of the record
// being processed and stored per key group, so that it can be redistributed
// when parallelism changes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/key_group.h"

namespace eddy {

template <class V>
class ValueStateDescriptor {
 public:
  explicit ValueStateDescriptor(std::string name) : name_(std::move(name)) {}
  ValueStateDescriptor(std::string name, V default_value)
      : name_(std::move(name)), default_value_(std::move(default_value)) {}
  const std::string& name() const { return name_; }
  const std::optional<V>& default_value() const { return default_value_; }

 private:
  std::string name_;
  std::optional<V> default_value_;
};

// One value per key.
template <class V>
class ValueState {
 public:
  virtual ~ValueState() = default;
  // The current key's value, or the descriptor's default (or nullopt) if unset.
  virtual std::optional<V> value() const = 0;
  virtual void update(const V& value) = 0;
  virtual void clear() = 0;
  // Direct access for hot paths: the stored value, or null.
  virtual V* mutableValue() = 0;
};

namespace internal {

class StateBase {
 public:
  virtual ~StateBase() = default;
};

// Keyed state of one operator instance: the current key and its named states.
class KeyedStateBackend {
 public:
  KeyedStateBackend(KeyGroupRange range, int max_parallelism)
      : range_(range), max_parallelism_(max_parallelism) {}

  // Scopes every state to `key` (its serialized bytes) in `key_group`.
  void SetCurrentKey(std::string_view key, int key_group) {
    current_key_.assign(key.data(), key.size());
    current_key_group_ = key_group;
  }
  const std::string& current_key() const { return current_key_; }
  int current_key_group() const { return current_key_group_; }
  // Index of the current key group inside this backend's range.
  int current_slot() const { return current_key_group_ - range_.start; }
  const KeyGroupRange& key_group_range() const { return range_; }
  int max_parallelism() const { return max_parallelism_; }

  // Returns the state called `name`, creating it with `make` on first use.
  // A second registration under the same name with another type is an error.
  template <class S, class Make>
  S& GetOrCreate(const std::string& name, Make make) {
    auto it = states_.find(name);
    if (it == states_.end()) it = states_.emplace(name, make()).first;
    auto* typed = dynamic_cast<S*>(it->second.get());
    if (typed == nullptr) {
      throw std::logic_error("state '" + name + "' was registered before with another type");
    }
    return *typed;
  }

 private:
  KeyGroupRange range_;
  int max_parallelism_;
  std::string current_key_;
  int current_key_group_ = 0;
  std::map<std::string, std::unique_ptr<StateBase>> states_;
};

// ValueState kept in memory: a hash table per key group of the backend's range.
template <class V>
class HeapValueState final : public ValueState<V>, public StateBase {
 public:
  HeapValueState(KeyedStateBackend* backend, std::optional<V> default_value)
      : backend_(backend),
        default_value_(std::move(default_value)),
        tables_(static_cast<size_t>(std::max(backend->key_group_range().size(), 0))) {}

  std::optional<V> value() const override {
    const auto& table = tables_[backend_->current_slot()];
    auto it = table.find(backend_->current_key());
    if (it == table.end()) return default_value_;
    return it->second;
  }
  void update(const V& value) override {
    tables_[backend_->current_slot()].insert_or_assign(backend_->current_key(), value);
  }
  void clear() override { tables_[backend_->current_slot()].erase(backend_->current_key()); }
  V* mutableValue() override {
    auto& table = tables_[backend_->current_slot()];
    auto it = table.find(backend_->current_key());
    return it == table.end() ? nullptr : &it->second;
  }

 private:
  KeyedStateBackend* backend_;
  std::optional<V> default_value_;
  std::vector<absl::flat_hash_map<std::string, V>> tables_;
};

template <class V>
ValueState<V>& GetValueState(KeyedStateBackend& backend, const ValueStateDescriptor<V>& d) {
  return backend.GetOrCreate<HeapValueState<V>>(d.name(), [&] {
    return std::make_unique<HeapValueState<V>>(&backend, d.default_value());
  });
}

}  // namespace internal
}  // namespace eddy
