// Checkpoint hooks of user functions: CheckpointedFunction (operator state and
// snapshots of a function's own fields), CheckpointListener (completion
// notifications, what two-phase-commit sinks commit on) and the operator state
// store with its list and union-list states.
//
// Operator state belongs to one parallel instance of an operator, not to a key.
// On restore with another parallelism it is redistributed:
//   - getListState: the lists of all old instances are concatenated (in subtask
//     order) and cut into even, contiguous parts, one per new instance;
//   - getUnionListState: every new instance gets the concatenation of all.
//
// When snapshots happen. A task snapshots all its operators at once, on its own
// thread, between records; nothing runs concurrently with snapshotState. A
// source function is snapshotted only inside SourceContext::collect(),
// collectWithTimestamp() and flush(), before the record is emitted: keep the
// source's position pointing at the record being collected and advance it after
// collect() returns, and the snapshot covers exactly the records emitted before
// the checkpoint barrier.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

class FunctionSnapshotContext {
 public:
  FunctionSnapshotContext(int64_t checkpoint_id, int64_t timestamp)
      : checkpoint_id_(checkpoint_id), timestamp_(timestamp) {}
  int64_t getCheckpointId() const { return checkpoint_id_; }
  // When the JobManager triggered the checkpoint (epoch ms).
  int64_t getCheckpointTimestamp() const { return timestamp_; }

 private:
  int64_t checkpoint_id_;
  int64_t timestamp_;
};

namespace internal {

// How an operator list state is redistributed on restore.
enum class OperatorStateMode : uint8_t { kSplit = 0, kUnion = 1, kBroadcast = 2 };

// One named operator state, serialized: what snapshots hold.
struct OperatorStateList {
  std::string name;
  OperatorStateMode mode = OperatorStateMode::kSplit;
  std::vector<std::string> elements;  // each element serialized on its own
};

class OperatorListBase {
 public:
  virtual ~OperatorListBase() = default;
  virtual std::vector<std::string> SerializeElements() const = 0;
};

template <class T>
class OperatorListState final : public ListState<T>, public OperatorListBase {
 public:
  explicit OperatorListState(std::string name) : name_(std::move(name)) {}
  std::vector<T> get() override { return values_; }
  void add(const T& value) override { values_.push_back(value); }
  void update(const std::vector<T>& values) override { values_ = values; }
  void addAll(const std::vector<T>& values) override {
    values_.insert(values_.end(), values.begin(), values.end());
  }
  void clear() override { values_.clear(); }

  std::vector<std::string> SerializeElements() const override {
    std::vector<std::string> out;
    out.reserve(values_.size());
    for (const T& v : values_) {
      std::string bytes;
      DataOutput output(&bytes);
      TypeSerializer<T>::Serialize(v, output);
      out.push_back(std::move(bytes));
    }
    return out;
  }
  void Restore(const std::vector<std::string>& elements) {
    for (const std::string& bytes : elements) {
      T value{};
      DataInput in(bytes);
      TypeSerializer<T>::Deserialize(in, value);
      if (!in.ok() || !in.AtEnd()) {
        throw std::runtime_error("operator state '" + name_ + "' cannot be restored: an element is malformed (" +
                                 (in.ok() ? std::string("trailing bytes") : in.error()) + ")");
      }
      values_.push_back(std::move(value));
    }
  }

 private:
  std::string name_;
  std::vector<T> values_;
};

}  // namespace internal

// The operator state of one operator instance. Created by the runtime; states
// are registered by name on first use (in initializeState).
class OperatorStateStore {
 public:
  // Operator state redistributed in even parts on rescaling.
  template <class T>
  ListState<T>& getListState(const ListStateDescriptor<T>& descriptor) {
    return Get<T>(descriptor.name(), internal::OperatorStateMode::kSplit);
  }
  // Operator state every instance receives whole on restore.
  template <class T>
  ListState<T>& getUnionListState(const ListStateDescriptor<T>& descriptor) {
    return Get<T>(descriptor.name(), internal::OperatorStateMode::kUnion);
  }

  // ---- runtime and operators ----
  // A state an operator keeps itself (broadcast state): `snapshot` serializes
  // its elements; `restore` gets the elements redistributed to this instance
  // (at once, if the job restored them).
  void RegisterRaw(const std::string& name, internal::OperatorStateMode mode,
                   std::function<std::vector<std::string>()> snapshot,
                   const std::function<void(const std::vector<std::string>&)>& restore) {
    if (states_.count(name) || raw_.count(name)) {
      throw std::logic_error("operator state '" + name + "' is registered twice");
    }
    auto p = pending_.find(name);
    if (p != pending_.end()) {
      restore(p->second.elements);
      pending_.erase(p);
    }
    raw_.emplace(name, Raw{mode, std::move(snapshot)});
  }
  // What this instance restores: the lists already redistributed to it.
  void SetRestored(std::vector<internal::OperatorStateList> lists) {
    restored_ = true;
    for (auto& l : lists) pending_[l.name] = std::move(l);
  }
  bool restored() const { return restored_; }
  std::vector<internal::OperatorStateList> Snapshot() const {
    std::vector<internal::OperatorStateList> out;
    for (const auto& [name, entry] : states_) {
      out.push_back({name, entry.mode, entry.state->SerializeElements()});
    }
    for (const auto& [name, raw] : raw_) out.push_back({name, raw.mode, raw.snapshot()});
    // Restored state nobody asked for again is kept, so that it survives a
    // restart of a program that registers it later.
    for (const auto& [name, list] : pending_) out.push_back(list);
    return out;
  }

 private:
  struct Entry {
    internal::OperatorStateMode mode;
    std::unique_ptr<internal::OperatorListBase> state;
  };
  template <class T>
  ListState<T>& Get(const std::string& name, internal::OperatorStateMode mode) {
    auto it = states_.find(name);
    if (it == states_.end()) {
      auto state = std::make_unique<internal::OperatorListState<T>>(name);
      auto p = pending_.find(name);
      if (p != pending_.end()) {
        state->Restore(p->second.elements);
        pending_.erase(p);
      }
      it = states_.emplace(name, Entry{mode, std::move(state)}).first;
    } else if (it->second.mode != mode) {
      throw std::logic_error("operator state '" + name + "' was registered before with another distribution mode");
    }
    auto* typed = dynamic_cast<internal::OperatorListState<T>*>(it->second.state.get());
    if (typed == nullptr) throw std::logic_error("operator state '" + name + "' was registered before with another type");
    return *typed;
  }

  struct Raw {
    internal::OperatorStateMode mode;
    std::function<std::vector<std::string>()> snapshot;
  };
  bool restored_ = false;
  std::map<std::string, Entry> states_;
  std::map<std::string, Raw> raw_;
  std::map<std::string, internal::OperatorStateList> pending_;
};

class FunctionInitializationContext {
 public:
  explicit FunctionInitializationContext(OperatorStateStore* store) : store_(store) {}
  // True when the job was restored from a checkpoint or savepoint.
  bool isRestored() const { return store_->restored(); }
  OperatorStateStore& getOperatorStateStore() { return *store_; }

 private:
  OperatorStateStore* store_;
};

// A function with state of its own. initializeState runs before open(), on
// every start and restore; snapshotState when a checkpoint is taken.
class CheckpointedFunction {
 public:
  virtual ~CheckpointedFunction() = default;
  virtual void snapshotState(const FunctionSnapshotContext& context) = 0;
  virtual void initializeState(FunctionInitializationContext& context) = 0;
};

// Told, on the task's thread, when a checkpoint the function took part in
// completed (or was aborted). Notifications may be skipped for subsumed
// checkpoints: completing checkpoint n implies every earlier one.
class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  virtual void notifyCheckpointComplete(int64_t checkpoint_id) = 0;
  virtual void notifyCheckpointAborted(int64_t checkpoint_id) {}
};

}  // namespace eddy
