// Storage of the serializing state backends (rocksdb) over a KvStore: one
// column per state; an entry's key is
//   key group (2 bytes big-endian) | serialized key | varint(namespace size) |
//   namespace [| serialized user key, for MapState]
// and its value the TypeSerializer encoding of the stored value. Part of
// eddy/state.h.
#pragma once

#ifndef EDDY_INTERNAL_KEYED_STATE_INCLUDED
#error "include eddy/state.h instead of this header"
#endif

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "eddy/internal/keyed_state_backend.h"
#include "eddy/internal/kv_store.h"

namespace eddy::internal {

// The KvStore column of state `name`; throws if the store cannot open it.
inline int OpenStateColumn(KvStore& store, const std::string& name) {
  absl::StatusOr<int> column = store.OpenColumn(name);
  CheckStore(name, column.status());
  return *column;
}

// HeapCell's operations (see heap_state.h) over a KvStore, through a
// write-back cache of deserialized entries. An entry is read from the store
// once; modifications stay in the cache until it is full (then every
// modified entry is written and the cache starts empty) or the backend is
// flushed, which every snapshot does first. An entry the store is known not
// to hold is removed without a store operation, so a window that is created,
// fired and cleared between two checkpoints never reaches RocksDB. The cache
// holds at most KeyedStateBackend::kv_cache_entries() entries.
template <class S>
class KvCell final : public WriteBackCache {
 public:
  explicit KvCell(const CellSpec& spec)
      : backend_(spec.backend),
        name_(spec.name),
        store_(spec.backend->kv_store()),
        column_(OpenStateColumn(*store_, name_)),
        capacity_(std::max<size_t>(1, spec.backend->kv_cache_entries())) {}
  KvCell(const KvCell&) = delete;
  KvCell& operator=(const KvCell&) = delete;

  const S* Get() {
    Entry& e = Loaded(backend_->current_namespace());
    return e.present ? &e.value : nullptr;
  }
  S* Mutable() {
    Entry& e = Loaded(backend_->current_namespace());
    if (!e.present) return nullptr;
    MarkDirty(e);
    return &e.value;
  }
  void Put(S value) { Set(Cached(backend_->current_namespace()), std::move(value)); }
  void Remove() { Erase(Cached(backend_->current_namespace())); }
  std::optional<S> TakeIn(std::string_view name_space) {
    Entry& e = Loaded(name_space);
    if (!e.present) return std::nullopt;
    std::optional<S> taken(std::move(e.value));
    Erase(e);
    return taken;
  }
  void PutIn(std::string_view name_space, S value) { Set(Cached(name_space), std::move(value)); }

  absl::Status WriteBack() override {
    for (auto& [key, e] : entries_) {
      if (!e.dirty) continue;
      absl::Status status;
      if (e.present) {
        SerializeInto(e.value, &bytes_);
        status = store_->Put(column_, key, bytes_);
      } else {
        status = store_->Delete(column_, key);
      }
      if (!status.ok()) return status;
      e.dirty = false;
      e.stored = e.present;
    }
    return absl::OkStatus();
  }

 private:
  struct Entry {
    S value{};
    bool present = false;  // the state holds a value here
    bool stored = true;    // the store may hold one (false: known not to)
    bool dirty = false;    // the store is behind the cache
  };
  using Map = absl::flat_hash_map<std::string, Entry>;

  // The cached entry of (current key, `name_space`), added without reading
  // the store (for a caller about to overwrite or remove it).
  Entry& Cached(std::string_view name_space) {
    auto it = Find(name_space);
    if (it != entries_.end()) return it->second;
    MakeRoom();
    return entries_.try_emplace(key_).first->second;
  }
  // The cached entry, read from the store if it is not cached.
  Entry& Loaded(std::string_view name_space) {
    auto it = Find(name_space);
    if (it != entries_.end()) return it->second;
    absl::StatusOr<bool> found = store_->Get(column_, key_, &bytes_);
    CheckStore(name_, found.status());
    Entry loaded;
    if (*found) DeserializeStored(name_, bytes_, loaded.value);  // may throw: nothing cached yet
    loaded.present = loaded.stored = *found;
    MakeRoom();
    return entries_.try_emplace(key_, std::move(loaded)).first->second;
  }
  typename Map::iterator Find(std::string_view name_space) {
    backend_->CheckCurrentKey(name_);
    backend_->BuildStoreKey(name_space, &key_);
    return entries_.find(key_);
  }
  void MakeRoom() {
    if (entries_.size() < capacity_) return;
    CheckStore(name_, WriteBack());
    entries_.clear();
  }
  void Set(Entry& e, S value) {
    e.value = std::move(value);
    e.present = true;
    MarkDirty(e);
  }
  void Erase(Entry& e) {
    e.value = S{};
    e.present = false;
    if (e.stored) {
      MarkDirty(e);  // a Delete to write
    } else {
      e.dirty = false;
    }
  }
  void MarkDirty(Entry& e) {
    e.dirty = true;
    if (!registered_) {
      registered_ = true;
      backend_->RegisterWriteBackCache(this);
    }
  }

  KeyedStateBackend* backend_;
  std::string name_;
  KvStore* store_;
  int column_;
  size_t capacity_;
  std::string key_;    // the entry being accessed
  std::string bytes_;  // serialization scratch
  Map entries_;        // by store key
  bool registered_ = false;
};

// MapState over a KvStore: one entry per user key, under the prefix of the
// current key and namespace. Reads and writes go straight to the store.
template <class UK, class UV>
class KvMapState final : public MapState<UK, UV> {
 public:
  explicit KvMapState(const CellSpec& spec)
      : backend_(spec.backend),
        name_(spec.name),
        store_(spec.backend->kv_store()),
        column_(OpenStateColumn(*store_, name_)) {}

  std::optional<UV> get(const UK& key) override {
    if (!Read(key)) return std::nullopt;
    UV value{};
    DeserializeStored(name_, bytes_, value);
    return value;
  }
  void put(const UK& key, const UV& value) override {
    RowKey(key);
    SerializeInto(value, &bytes_);
    CheckStore(name_, store_->Put(column_, key_, bytes_));
  }
  void remove(const UK& key) override {
    RowKey(key);
    CheckStore(name_, store_->Delete(column_, key_));
  }
  bool contains(const UK& key) override { return Read(key); }
  std::vector<std::pair<UK, UV>> entries() override {
    std::vector<std::pair<UK, UV>> out;
    ScanRows([&](std::string_view key_bytes, std::string_view value_bytes) {
      UK key{};
      UV value{};
      DeserializeStored(name_, key_bytes, key);
      DeserializeStored(name_, value_bytes, value);
      out.emplace_back(std::move(key), std::move(value));
    });
    return out;
  }
  std::vector<UK> keys() override {
    std::vector<UK> out;
    ScanRows([&](std::string_view key_bytes, std::string_view) {
      UK key{};
      DeserializeStored(name_, key_bytes, key);
      out.push_back(std::move(key));
    });
    return out;
  }
  std::vector<UV> values() override {
    std::vector<UV> out;
    ScanRows([&](std::string_view, std::string_view value_bytes) {
      UV value{};
      DeserializeStored(name_, value_bytes, value);
      out.push_back(std::move(value));
    });
    return out;
  }
  bool isEmpty() override {
    Prefix();
    bool empty = true;
    CheckStore(name_, store_->Scan(column_, key_, [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    }));
    return empty;
  }
  void clear() override {
    Prefix();
    CheckStore(name_, store_->DeletePrefix(column_, key_));
  }

 private:
  void Prefix() {
    backend_->CheckCurrentKey(name_);
    backend_->BuildStoreKey(backend_->current_namespace(), &key_);
  }
  void RowKey(const UK& key) {
    Prefix();
    DataOutput out(&key_);
    TypeSerializer<UK>::Serialize(key, out);
  }
  bool Read(const UK& key) {
    RowKey(key);
    absl::StatusOr<bool> found = store_->Get(column_, key_, &bytes_);
    CheckStore(name_, found.status());
    return *found;
  }
  // Calls visit(user key bytes, value bytes) per row of the current key and
  // namespace. Rows are copied out first so that decoding errors (thrown)
  // never unwind through the store's scan.
  template <class Visit>
  void ScanRows(Visit visit) {
    Prefix();
    const size_t prefix_size = key_.size();
    rows_.clear();
    CheckStore(name_, store_->Scan(column_, key_, [&](std::string_view k, std::string_view v) {
      rows_.emplace_back(std::string(k.substr(prefix_size)), std::string(v));
      return true;
    }));
    for (const auto& [key_bytes, value_bytes] : rows_) visit(key_bytes, value_bytes);
    rows_.clear();
  }

  KeyedStateBackend* backend_;
  std::string name_;
  KvStore* store_;
  int column_;
  std::string key_;
  std::string bytes_;
  std::vector<std::pair<std::string, std::string>> rows_;
};

}  // namespace eddy::internal
