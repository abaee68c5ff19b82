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

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/internal/keyed_state_backend.h"
#include "eddy/internal/kv_store.h"

namespace eddy::internal {

// The KvStore column of state `name`; throws if the store cannot open it.
inline int OpenStateColumn(KvStore& store, const std::string& name) {
  absl::StatusOr<int> column = store.OpenColumn(name);
  CheckStore(name, column.status());
  return *column;
}

// HeapCell's operations (see heap_state.h) over a KvStore. The entry accessed
// last stays cached deserialized, so that read-modify-write sequences on one
// key decode once; a value modified in place through Mutable() is written back
// when the cell moves to another entry or the backend is flushed.
template <class S>
class KvCell final : public WriteBackCache {
 public:
  explicit KvCell(const CellSpec& spec)
      : backend_(spec.backend),
        name_(spec.name),
        store_(spec.backend->kv_store()),
        column_(OpenStateColumn(*store_, name_)) {}
  KvCell(const KvCell&) = delete;
  KvCell& operator=(const KvCell&) = delete;

  const S* Get() {
    CurrentEntry(backend_->current_namespace());
    return Load();
  }
  S* Mutable() {
    CurrentEntry(backend_->current_namespace());
    S* value = Load();
    if (value != nullptr) MarkDirty();
    return value;
  }
  void Put(S value) {
    CurrentEntry(backend_->current_namespace());
    Store(std::move(value));
  }
  void Remove() {
    CurrentEntry(backend_->current_namespace());
    Erase();
  }
  std::optional<S> TakeIn(std::string_view name_space) {
    CurrentEntry(name_space);
    S* value = Load();
    if (value == nullptr) return std::nullopt;
    std::optional<S> taken(std::move(*value));
    Erase();
    return taken;
  }
  void PutIn(std::string_view name_space, S value) {
    CurrentEntry(name_space);
    Store(std::move(value));
  }

  absl::Status WriteBack() override {
    if (!dirty_) return absl::OkStatus();
    SerializeInto(value_, &bytes_);
    absl::Status status = store_->Put(column_, cache_key_, bytes_);
    if (status.ok()) dirty_ = false;
    return status;
  }

 private:
  void CurrentEntry(std::string_view name_space) {
    backend_->CheckCurrentKey(name_);
    backend_->BuildStoreKey(name_space, &key_);
  }
  // Makes key_ the cached entry; its value or null.
  S* Load() {
    if (!cached_ || cache_key_ != key_) {
      CheckStore(name_, WriteBack());
      cached_ = false;
      absl::StatusOr<bool> found = store_->Get(column_, key_, &bytes_);
      CheckStore(name_, found.status());
      if (*found) DeserializeStored(name_, bytes_, value_);
      cache_key_ = key_;
      present_ = *found;
      cached_ = true;
    }
    return present_ ? &value_ : nullptr;
  }
  void Store(S value) {
    if (cached_ && cache_key_ != key_) CheckStore(name_, WriteBack());
    SerializeInto(value, &bytes_);
    CheckStore(name_, store_->Put(column_, key_, bytes_));
    cache_key_ = key_;
    value_ = std::move(value);
    present_ = true;
    dirty_ = false;
    cached_ = true;
  }
  void Erase() {
    if (cached_ && cache_key_ != key_) CheckStore(name_, WriteBack());
    CheckStore(name_, store_->Delete(column_, key_));
    cache_key_ = key_;
    present_ = false;
    dirty_ = false;
    cached_ = true;
  }
  void MarkDirty() {
    dirty_ = true;
    if (!registered_) {
      registered_ = true;
      backend_->RegisterWriteBackCache(this);
    }
  }

  KeyedStateBackend* backend_;
  std::string name_;
  KvStore* store_;
  int column_;
  std::string key_;    // the entry being accessed
  std::string bytes_;  // serialization scratch
  // The cached entry: its key, whether it exists, its value, and whether the
  // value was modified in place since it was last stored.
  std::string cache_key_;
  bool cached_ = false;
  bool present_ = false;
  bool dirty_ = false;
  bool registered_ = false;
  S value_{};
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
