// Storage of the hashmap state backend: values live unserialized in memory, in
// one hash table per key group of the backend's range (so that whole key
// groups can be snapshotted and redistributed), keyed by the (key, namespace)
// table key of KeyedStateBackend::state_key(). Part of eddy/state.h.
#pragma once

#ifndef EDDY_INTERNAL_KEYED_STATE_INCLUDED
#error "include eddy/state.h instead of this header"
#endif

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/internal/keyed_state_backend.h"

namespace eddy::internal {

// One value of type S per (key, namespace): the storage primitive the generic
// state implementations in keyed_state.h are written against. KvCell and
// TtlCell offer the same operations:
//   const S* Get();  S* Mutable();      // current key + namespace, or null
//   void Put(S);  void Remove();
//   std::optional<S> TakeIn(ns);        // removes and returns, for merging
//   void PutIn(ns, S);
// Pointers stay valid until the next operation on the cell.
template <class S>
class HeapCell final : public KeyGroupedState {
 public:
  explicit HeapCell(const CellSpec& spec)
      : backend_(spec.backend),
        name_(spec.name),
        tables_(static_cast<size_t>(std::max(spec.backend->key_group_range().size(), 0))) {
    backend_->RegisterKeyGroupedState(name_, this);
  }
  HeapCell(const HeapCell&) = delete;
  HeapCell& operator=(const HeapCell&) = delete;

  const S* Get() { return Mutable(); }
  S* Mutable() {
    Table& table = CurrentTable();
    auto it = table.find(backend_->state_key());
    return it == table.end() ? nullptr : &it->second;
  }
  void Put(S value) { CurrentTable().insert_or_assign(backend_->state_key(), std::move(value)); }
  void Remove() { CurrentTable().erase(backend_->state_key()); }

  std::optional<S> TakeIn(std::string_view name_space) {
    Table& table = CurrentTable();
    backend_->BuildStateKey(name_space, &scratch_);
    auto it = table.find(scratch_);
    if (it == table.end()) return std::nullopt;
    std::optional<S> value(std::move(it->second));
    table.erase(it);
    return value;
  }
  void PutIn(std::string_view name_space, S value) {
    Table& table = CurrentTable();
    backend_->BuildStateKey(name_space, &scratch_);
    table.insert_or_assign(scratch_, std::move(value));
  }

  void SnapshotInto(std::vector<std::string>& per_slot) const override {
    std::string bytes;
    for (size_t slot = 0; slot < tables_.size(); ++slot) {
      for (const auto& [key, value] : tables_[slot]) {
        SerializeInto(value, &bytes);
        AppendSnapshotEntry(&per_slot[slot], SnapshotEntryKind::kMemory, name_, key, bytes);
      }
    }
  }
  void ForEachEntryKey(const std::function<void(int slot, std::string_view key)>& visit) const override {
    for (size_t slot = 0; slot < tables_.size(); ++slot) {
      for (const auto& entry : tables_[slot]) visit(static_cast<int>(slot), entry.first);
    }
  }
  void RestoreEntry(int slot, std::string_view key, std::string_view value) override {
    S restored{};
    DeserializeStored(name_, value, restored);
    tables_[static_cast<size_t>(slot)].insert_or_assign(std::string(key), std::move(restored));
  }

 private:
  using Table = absl::flat_hash_map<std::string, S>;

  Table& CurrentTable() {
    const int slot = backend_->current_slot();
    if (static_cast<unsigned>(slot) >= tables_.size()) [[unlikely]] {
      backend_->ThrowNoCurrentKey(name_);
    }
    return tables_[static_cast<size_t>(slot)];
  }

  KeyedStateBackend* backend_;
  std::string name_;
  std::vector<Table> tables_;  // indexed by KeyedStateBackend::current_slot()
  std::string scratch_;
};

// MapState in memory: one std::map per (key, namespace), keyed by the
// serialized user key, so that iteration follows the byte order of serialized
// keys exactly as the rocksdb backend's does. A map that becomes empty is
// removed.
template <class UK, class UV>
class HeapMapState final : public MapState<UK, UV> {
 public:
  explicit HeapMapState(const CellSpec& spec) : cell_(spec), name_(spec.name) {}

  std::optional<UV> get(const UK& key) override {
    const Map* map = cell_.Get();
    if (map == nullptr) return std::nullopt;
    SerializeInto(key, &key_bytes_);
    auto it = map->find(key_bytes_);
    if (it == map->end()) return std::nullopt;
    return it->second;
  }
  void put(const UK& key, const UV& value) override {
    Map* map = cell_.Mutable();
    if (map == nullptr) {
      cell_.Put(Map());
      map = cell_.Mutable();
    }
    SerializeInto(key, &key_bytes_);
    map->insert_or_assign(key_bytes_, value);
  }
  void remove(const UK& key) override {
    Map* map = cell_.Mutable();
    if (map == nullptr) return;
    SerializeInto(key, &key_bytes_);
    map->erase(key_bytes_);
    if (map->empty()) cell_.Remove();
  }
  bool contains(const UK& key) override {
    const Map* map = cell_.Get();
    if (map == nullptr) return false;
    SerializeInto(key, &key_bytes_);
    return map->contains(key_bytes_);
  }
  std::vector<std::pair<UK, UV>> entries() override {
    std::vector<std::pair<UK, UV>> out;
    if (const Map* map = cell_.Get()) {
      out.reserve(map->size());
      for (const auto& [key_bytes, value] : *map) {
        UK key{};
        DeserializeStored(name_, key_bytes, key);
        out.emplace_back(std::move(key), value);
      }
    }
    return out;
  }
  std::vector<UK> keys() override {
    std::vector<UK> out;
    if (const Map* map = cell_.Get()) {
      out.reserve(map->size());
      for (const auto& entry : *map) {
        UK key{};
        DeserializeStored(name_, entry.first, key);
        out.push_back(std::move(key));
      }
    }
    return out;
  }
  std::vector<UV> values() override {
    std::vector<UV> out;
    if (const Map* map = cell_.Get()) {
      out.reserve(map->size());
      for (const auto& entry : *map) out.push_back(entry.second);
    }
    return out;
  }
  bool isEmpty() override { return cell_.Get() == nullptr; }
  void clear() override { cell_.Remove(); }

 private:
  using Map = std::map<std::string, UV>;  // std::string compares bytes unsigned

  HeapCell<Map> cell_;
  std::string name_;
  std::string key_bytes_;
};

}  // namespace eddy::internal
