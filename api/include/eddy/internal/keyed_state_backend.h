// KeyedStateBackend: the keyed state of one operator instance (subtask). It
// holds the current key, key group and namespace that every state access is
// scoped to, the registry of named states, the TTL clock and, for the rocksdb
// backend, the byte store. Also the internal state interfaces operators use
// (merging namespaces for session windows) and the TTL wrapper of stored
// values. Part of eddy/state.h: include that.
#pragma once

#ifndef EDDY_INTERNAL_KEYED_STATE_INCLUDED
#error "include eddy/state.h instead of this header"
#endif

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eddy/internal/kv_store.h"
#include "eddy/key_group.h"
#include "eddy/serializer.h"

namespace eddy::internal {

// Flink's InternalMergingState: a state whose values in several namespaces can
// be combined (session windows merging). Namespaces are serialized bytes.
class InternalMergingState {
 public:
  virtual ~InternalMergingState() = default;
  // For the current key: combines the values of every namespace in `sources`
  // into `target` (added to what `target` holds, in order: target first, then
  // the sources) and removes the sources. Expired TTL values are dropped.
  virtual void mergeNamespaces(std::string_view target, std::span<const std::string> sources) = 0;
};

template <class T>
class InternalListState : public ListState<T>, public InternalMergingState {};
template <class T>
class InternalReducingState : public ReducingState<T>, public InternalMergingState {};
template <class IN, class OUT>
class InternalAggregatingState : public AggregatingState<IN, OUT>, public InternalMergingState {};

// A stored value with the processing time of its last TTL-relevant access.
template <class T>
struct TtlValue {
  T value{};
  int64_t timestamp = 0;
};

// A state-owned cache whose modifications reach the store only when written
// back (KvCell's cached value, modified through mutableValue()).
class WriteBackCache {
 public:
  virtual ~WriteBackCache() = default;
  virtual absl::Status WriteBack() = 0;
};

class KeyedStateBackend;

// ---- Snapshots ----
// A snapshot of keyed state is a section of bytes per key group: a sequence of
// entries, each [kind u8][state name][key][value] (strings varint-length
// prefixed). kStore entries are rows of the byte store's column `state` with
// the 2-byte key-group prefix removed; kMemory entries belong to an in-memory
// state (hashmap cells, timers), which encodes its key and value itself.
enum class SnapshotEntryKind : uint8_t { kStore = 0, kMemory = 1 };

inline void AppendSnapshotEntry(std::string* out, SnapshotEntryKind kind, std::string_view state,
                                std::string_view key, std::string_view value) {
  out->push_back(static_cast<char>(kind));
  DataOutput output(out);
  output.WriteString(state);
  output.WriteString(key);
  output.WriteString(value);
}

// An in-memory keyed state that snapshots and restores itself by key group.
class KeyGroupedState {
 public:
  virtual ~KeyGroupedState() = default;
  // Appends this state's entries (kMemory, under its own name) to
  // `per_slot[slot]`, one buffer per key group of the backend's range.
  virtual void SnapshotInto(std::vector<std::string>& per_slot) const = 0;
  virtual void RestoreEntry(int slot, std::string_view key, std::string_view value) = 0;
  // Calls `visit(slot, table key)` for every entry (table keys as in
  // KeyedStateBackend::state_key()).
  virtual void ForEachEntryKey(const std::function<void(int slot, std::string_view key)>& visit) const {}
};

// A consistent copy of a backend's keyed state, taken on the task thread and
// written out on another (the asynchronous part of a checkpoint).
class KeyedStateSnapshot {
 public:
  virtual ~KeyedStateSnapshot() = default;
  // Appends the section of `key_group` (inside the backend's range) to `*out`.
  virtual absl::Status AppendKeyGroup(int key_group, std::string* out) = 0;
};

// What a state needs to build its storage.
struct CellSpec {
  KeyedStateBackend* backend;
  std::string name;
  StateTtlConfig ttl = StateTtlConfig::disabled();
};

class KeyedStateBackend {
 public:
  static constexpr size_t kDefaultKvCacheEntries = 16384;
  // Processing time in milliseconds, for TTL.
  using TimeProvider = std::function<int64_t()>;

  // The in-memory (hashmap) backend: a hash table per key group and state.
  KeyedStateBackend(KeyGroupRange range, int max_parallelism);
  // A backend over a byte store (rocksdb); `type` names it in messages.
  KeyedStateBackend(KeyGroupRange range, int max_parallelism, std::unique_ptr<KvStore> store,
                    std::string type);
  ~KeyedStateBackend();
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;

  // "hashmap" or "rocksdb".
  const std::string& type() const { return type_; }
  const KeyGroupRange& key_group_range() const { return range_; }
  int max_parallelism() const { return max_parallelism_; }
  // Null for the hashmap backend.
  KvStore* kv_store() const { return store_.get(); }
  // How many deserialized entries each state of a byte-store backend keeps
  // cached, modifications included (see KvCell); at least 1.
  size_t kv_cache_entries() const { return kv_cache_entries_; }
  // Applies to states created afterwards.
  void SetKvCacheEntries(size_t entries) { kv_cache_entries_ = std::max<size_t>(entries, 1); }

  // Scopes every state to `key` (its serialized bytes, never empty) in
  // `key_group`. The current namespace stays as it is.
  void SetCurrentKey(std::string_view key, int key_group) {
    current_key_.assign(key.data(), key.size());
    current_key_group_ = key_group;
    current_slot_ = key_group - range_.start;
    if (namespace_start_ != 0) {  // keep the namespace, swap the key in front of it
      const size_t key_end = namespaced_key_.size() - namespace_size_ - VarintSize64(namespace_size_);
      namespaced_key_.replace(0, key_end, key.data(), key.size());
      namespace_start_ = namespaced_key_.size() - namespace_size_;
    }
  }
  // Scopes every state to namespace `name_space` (serialized bytes; empty is
  // the default "void" namespace), e.g. the window being processed.
  void SetCurrentNamespace(std::string_view name_space);
  // Empty when no key was set yet.
  const std::string& current_key() const { return current_key_; }
  int current_key_group() const { return current_key_group_; }
  std::string_view current_namespace() const {
    if (namespace_start_ == 0) return {};
    return std::string_view(namespaced_key_).substr(namespace_start_);
  }
  // Index of the current key group inside this backend's range; out of
  // [0, range size) when no key is set or the key group is not this backend's.
  int current_slot() const { return current_slot_; }

  // The in-memory table key of (current key, current namespace): the key
  // alone in the void namespace, else key | varint(namespace size) |
  // namespace. (Serialized keys of one type are prefix-free, so no two
  // (key, namespace) pairs share a table key.)
  const std::string& state_key() const {
    return namespace_start_ == 0 ? current_key_ : namespaced_key_;
  }
  // The same for the current key and another namespace, into `*out`.
  void BuildStateKey(std::string_view name_space, std::string* out) const;
  // The byte-store key prefix of (current key, `name_space`): key group as 2
  // bytes big-endian | key | varint(namespace size) | namespace, into `*out`.
  void BuildStoreKey(std::string_view name_space, std::string* out) const;

  // Throws std::logic_error unless a key of this backend's range is current.
  void CheckCurrentKey(const std::string& state_name) const {
    if (static_cast<unsigned>(current_slot_) >= static_cast<unsigned>(range_.size())) [[unlikely]] {
      ThrowNoCurrentKey(state_name);
    }
  }
  [[noreturn]] void ThrowNoCurrentKey(const std::string& state_name) const;

  // The clock TTL is measured with (default: the system clock).
  void SetTtlTimeProvider(TimeProvider provider) { time_provider_ = std::move(provider); }
  int64_t CurrentTtlTime() const { return time_provider_(); }

  // Writes back modifications made in place (mutableValue()) that a
  // serializing backend still caches. Snapshots call it first.
  [[nodiscard]] absl::Status Flush();
  // Drops every state, closes the store and deletes its files; idempotent.
  // Call it when the operator closes; the backend is unusable afterwards.
  [[nodiscard]] absl::Status Dispose();

  // Returns the state called `name`, creating it with `make` on first use.
  // A second registration under the same name with another type throws
  // std::logic_error.
  template <class S, class Make>
  S& GetOrCreate(const std::string& name, Make make) {
    if (disposed_) throw std::logic_error("keyed state '" + name + "' requested after dispose");
    auto it = states_.find(name);
    if (it == states_.end()) it = states_.emplace(name, make()).first;
    auto* typed = dynamic_cast<S*>(it->second.get());
    if (typed == nullptr) {
      throw std::logic_error("state '" + name + "' was registered before with another type");
    }
    return *typed;
  }

  // Called by a write-back cache once, when it first holds a modification.
  void RegisterWriteBackCache(WriteBackCache* cache) { caches_.push_back(cache); }

  // ---- Snapshots and restore ----
  // Registers an in-memory state under `name` (unique per backend) and hands
  // it the restored entries that were waiting for it.
  void RegisterKeyGroupedState(const std::string& name, KeyGroupedState* state);
  // Takes a snapshot: flushes write-back caches, copies in-memory states and
  // pins the byte store's current version.
  // `include_store` false: only the in-memory states (the byte store is
  // checkpointed by its files, see KvStore::CreateCheckpoint).
  absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> Snapshot(bool include_store = true);
  // Restores one key group's section (from a snapshot of any range that
  // holds `key_group`, which must be in this backend's range). Entries of
  // in-memory states not registered yet wait for their registration.
  absl::Status RestoreKeyGroup(int key_group, std::string_view section);

  // ---- Enumeration (applyToKeyedState) ----
  // Calls `visit(key group, entry key)` for every entry of the state `name`
  // in any namespace: the entry key starts with the serialized user key,
  // followed by namespace bytes (and map keys) the caller skips. Keys may
  // repeat; states never registered have no entries.
  absl::Status ForEachEntryKey(const std::string& name,
                               const std::function<void(int key_group, std::string_view key)>& visit);

 private:
  KeyGroupRange range_;
  int max_parallelism_;
  std::string type_;
  std::unique_ptr<KvStore> store_;
  bool disposed_ = false;
  size_t kv_cache_entries_ = kDefaultKvCacheEntries;

  std::string current_key_;
  int current_key_group_ = -1;
  int current_slot_ = -1;
  // current_key_ | varint(namespace size) | namespace, when the namespace is
  // not void; the namespace starts at namespace_start_ (0: void namespace).
  std::string namespaced_key_;
  size_t namespace_start_ = 0;
  size_t namespace_size_ = 0;

  TimeProvider time_provider_;
  std::vector<WriteBackCache*> caches_;  // owned by states_
  std::map<std::string, KeyGroupedState*> grouped_;  // in-memory states by name
  struct PendingEntry {
    int slot;
    std::string key;
    std::string value;
  };
  std::map<std::string, std::vector<PendingEntry>> pending_restore_;
  std::map<std::string, std::unique_ptr<State>> states_;
};

// Throws std::runtime_error for a failed store operation on state `name`.
void ThrowStateError(const std::string& name, const absl::Status& status);

inline void CheckStore(const std::string& name, const absl::Status& status) {
  if (!status.ok()) [[unlikely]]
    ThrowStateError(name, status);
}

// Serializes `value` into `*out` (cleared first).
template <class T>
void SerializeInto(const T& value, std::string* out) {
  out->clear();
  DataOutput output(out);
  TypeSerializer<T>::Serialize(value, output);
}

// Decodes a whole stored value; throws std::runtime_error naming the state if
// the bytes are malformed.
template <class T>
void DeserializeStored(const std::string& name, std::string_view bytes, T& out) {
  DataInput in(bytes);
  TypeSerializer<T>::Deserialize(in, out);
  if (!in.ok() || !in.AtEnd()) [[unlikely]] {
    ThrowStateError(name,
                    absl::DataLossError(in.ok() ? std::string("trailing bytes after a stored value")
                                                : in.error()));
  }
}

}  // namespace eddy::internal

namespace eddy {

// Stored as the timestamp (8 bytes little-endian, first so that a future
// compaction filter can read it without decoding) followed by the value.
template <class T>
struct TypeSerializer<internal::TtlValue<T>, std::enable_if_t<kIsSerializable<T>>> {
  static constexpr size_t kMinEncodedSize = 8 + internal::MinEncodedSize<T>();
  static void Serialize(const internal::TtlValue<T>& v, DataOutput& out) {
    out.WriteFixed64(static_cast<uint64_t>(v.timestamp));
    TypeSerializer<T>::Serialize(v.value, out);
  }
  static void Deserialize(DataInput& in, internal::TtlValue<T>& v) {
    v.timestamp = static_cast<int64_t>(in.ReadFixed64());
    TypeSerializer<T>::Deserialize(in, v.value);
  }
};

}  // namespace eddy
