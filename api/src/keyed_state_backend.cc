// The non-template, off-hot-path half of KeyedStateBackend: construction,
// namespaces, store keys, error messages, flushing and disposal.
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/state.h"

namespace eddy::internal {

namespace {

int64_t SystemTimeMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendNamespace(std::string_view name_space, std::string* out) {
  DataOutput output(out);
  output.WriteString(name_space);
}

}  // namespace

KeyedStateBackend::KeyedStateBackend(KeyGroupRange range, int max_parallelism)
    : range_(range),
      max_parallelism_(max_parallelism),
      type_("hashmap"),
      time_provider_(SystemTimeMillis) {}

KeyedStateBackend::KeyedStateBackend(KeyGroupRange range, int max_parallelism,
                                     std::unique_ptr<KvStore> store, std::string type)
    : range_(range),
      max_parallelism_(max_parallelism),
      type_(std::move(type)),
      store_(std::move(store)),
      time_provider_(SystemTimeMillis) {}

KeyedStateBackend::~KeyedStateBackend() {
  // Deliberately ignored: a destructor cannot report, and the runtime calls
  // Dispose() itself when it wants the outcome.
  absl::Status ignored = Dispose();
  (void)ignored;
}

void KeyedStateBackend::SetCurrentNamespace(std::string_view name_space) {
  namespace_size_ = name_space.size();
  if (name_space.empty()) {
    namespace_start_ = 0;
    return;
  }
  namespaced_key_.assign(current_key_);
  AppendNamespace(name_space, &namespaced_key_);
  namespace_start_ = namespaced_key_.size() - name_space.size();
}

void KeyedStateBackend::BuildStateKey(std::string_view name_space, std::string* out) const {
  out->assign(current_key_);
  if (!name_space.empty()) AppendNamespace(name_space, out);
}

void KeyedStateBackend::BuildStoreKey(std::string_view name_space, std::string* out) const {
  out->clear();
  out->push_back(static_cast<char>((current_key_group_ >> 8) & 0xff));
  out->push_back(static_cast<char>(current_key_group_ & 0xff));
  out->append(current_key_);
  AppendNamespace(name_space, out);
}

void KeyedStateBackend::ThrowNoCurrentKey(const std::string& state_name) const {
  if (current_key_group_ < 0) {
    throw std::logic_error("keyed state '" + state_name +
                           "' was accessed without a current key: keyed state is only "
                           "available while a keyed operator (after keyBy) processes a "
                           "record or a timer");
  }
  throw std::logic_error("keyed state '" + state_name + "' was accessed for key group " +
                         std::to_string(current_key_group_) + ", which is outside this " + type_ +
                         " backend's " + range_.ToString());
}

absl::Status KeyedStateBackend::Flush() {
  for (WriteBackCache* cache : caches_) {
    absl::Status status = cache->WriteBack();
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status KeyedStateBackend::Dispose() {
  if (disposed_) return absl::OkStatus();
  disposed_ = true;
  caches_.clear();  // Their contents are being discarded with the states.
  states_.clear();
  current_key_.clear();
  current_slot_ = -1;
  current_key_group_ = -1;
  if (store_ == nullptr) return absl::OkStatus();
  absl::Status status = store_->Close();
  store_.reset();
  return status;
}

void KeyedStateBackend::RegisterKeyGroupedState(const std::string& name, KeyGroupedState* state) {
  if (!grouped_.emplace(name, state).second) {
    throw std::logic_error("two in-memory keyed states are called '" + name + "' in one operator");
  }
  auto it = pending_restore_.find(name);
  if (it == pending_restore_.end()) return;
  for (const PendingEntry& e : it->second) state->RestoreEntry(e.slot, e.key, e.value);
  pending_restore_.erase(it);
}

namespace {

// Copies of the in-memory states (and restored entries nobody claimed yet),
// plus a view of the byte store.
class BackendSnapshot final : public KeyedStateSnapshot {
 public:
  BackendSnapshot(KeyGroupRange range, std::vector<std::string> memory, std::unique_ptr<KvStoreView> view)
      : range_(range), memory_(std::move(memory)), view_(std::move(view)) {}

  absl::Status AppendKeyGroup(int key_group, std::string* out) override {
    if (!range_.Contains(key_group)) {
      return absl::InvalidArgumentError("key group " + std::to_string(key_group) + " is outside " + range_.ToString());
    }
    out->append(memory_[static_cast<size_t>(key_group - range_.start)]);
    if (view_ == nullptr) return absl::OkStatus();
    const char prefix[2] = {static_cast<char>((key_group >> 8) & 0xff), static_cast<char>(key_group & 0xff)};
    const auto& names = view_->column_names();
    for (size_t i = 0; i < names.size(); ++i) {
      absl::Status status = view_->Scan(i, std::string_view(prefix, 2), [&](std::string_view key, std::string_view value) {
        AppendSnapshotEntry(out, SnapshotEntryKind::kStore, names[i], key.substr(2), value);
        return true;
      });
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  KeyGroupRange range_;
  std::vector<std::string> memory_;  // by slot
  std::unique_ptr<KvStoreView> view_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyedStateSnapshot>> KeyedStateBackend::Snapshot(bool include_store) {
  if (disposed_) return absl::FailedPreconditionError("keyed state backend was disposed");
  absl::Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  std::vector<std::string> memory(static_cast<size_t>(std::max(range_.size(), 0)));
  for (const auto& [name, state] : grouped_) state->SnapshotInto(memory);
  for (const auto& [name, entries] : pending_restore_) {
    for (const PendingEntry& e : entries) {
      AppendSnapshotEntry(&memory[static_cast<size_t>(e.slot)], SnapshotEntryKind::kMemory, name, e.key, e.value);
    }
  }
  std::unique_ptr<KvStoreView> view;
  if (store_ != nullptr && include_store) {
    auto created = store_->CreateView();
    if (!created.ok()) return created.status();
    view = *std::move(created);
  }
  return std::unique_ptr<KeyedStateSnapshot>(std::make_unique<BackendSnapshot>(range_, std::move(memory), std::move(view)));
}

absl::Status KeyedStateBackend::RestoreKeyGroup(int key_group, std::string_view section) {
  if (!range_.Contains(key_group)) {
    return absl::InvalidArgumentError("cannot restore key group " + std::to_string(key_group) + " into a backend of " +
                                      range_.ToString());
  }
  const int slot = key_group - range_.start;
  DataInput in(section);
  std::string store_key;
  while (!in.AtEnd() && in.ok()) {
    const auto kind = static_cast<SnapshotEntryKind>(in.ReadByte());
    std::string_view name = in.ReadStringView();
    std::string_view key = in.ReadStringView();
    std::string_view value = in.ReadStringView();
    if (!in.ok()) break;
    if (kind == SnapshotEntryKind::kStore) {
      if (store_ == nullptr) {
        return absl::FailedPreconditionError(
            "the snapshot holds keyed state of the rocksdb backend (state '" + std::string(name) +
            "'), but this job runs the " + type_ + " backend: restore it with state.backend.type: rocksdb");
      }
      auto column = store_->OpenColumn(std::string(name));
      if (!column.ok()) return column.status();
      store_key.clear();
      store_key.push_back(static_cast<char>((key_group >> 8) & 0xff));
      store_key.push_back(static_cast<char>(key_group & 0xff));
      store_key.append(key);
      absl::Status put = store_->Put(*column, store_key, value);
      if (!put.ok()) return put;
    } else if (kind == SnapshotEntryKind::kMemory) {
      auto it = grouped_.find(std::string(name));
      if (it != grouped_.end()) {
        it->second->RestoreEntry(slot, key, value);
      } else if (store_ != nullptr && name.substr(0, 1) != "_") {
        return absl::FailedPreconditionError("the snapshot holds keyed state '" + std::string(name) +
                                             "' of the hashmap backend, but this job runs the " + type_ +
                                             " backend: restore it with state.backend.type: hashmap");
      } else {
        pending_restore_[std::string(name)].push_back({slot, std::string(key), std::string(value)});
      }
    } else {
      return absl::DataLossError("unknown entry kind " + std::to_string(static_cast<int>(kind)) +
                                 " in the snapshot of key group " + std::to_string(key_group));
    }
  }
  if (!in.ok()) {
    return absl::DataLossError("the snapshot of key group " + std::to_string(key_group) + " is malformed: " + in.error());
  }
  return absl::OkStatus();
}

absl::Status KeyedStateBackend::ForEachEntryKey(
    const std::string& name, const std::function<void(int key_group, std::string_view key)>& visit) {
  if (store_ == nullptr) {
    auto it = grouped_.find(name);
    if (it != grouped_.end()) {
      it->second->ForEachEntryKey([&](int slot, std::string_view key) { visit(range_.start + slot, key); });
    }
    return absl::OkStatus();
  }
  absl::Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  auto column = store_->OpenColumn(name);
  if (!column.ok()) return column.status();
  return store_->Scan(*column, "", [&](std::string_view key, std::string_view) {
    if (key.size() > 2) visit((static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]), key.substr(2));
    return true;
  });
}

void ThrowStateError(const std::string& name, const absl::Status& status) {
  throw std::runtime_error("keyed state '" + name + "': " + status.ToString());
}

}  // namespace eddy::internal
