// Drives a user function outside a job the way a task drives it, for tests: a
// RuntimeContext of one subtask, the operator state a restore at another
// parallelism hands each new subtask (computed by the runtime's own
// assignment), and a harness that opens a function, takes its checkpoint
// snapshots, tells it of completed checkpoints and closes it.
//
// In-tree only (not installed): tests include it as
// "api/testing/function_harness.h".
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "checkpoint/snapshot_file.h"
#include "eddy/checkpoint.h"
#include "eddy/checkpoint.pb.h"
#include "eddy/functions.h"
#include "eddy/key_group.h"
#include "eddy/metrics.h"

namespace eddy::testing {

// The operator state of one subtask, as OperatorStateStore::Snapshot() gives it.
using OperatorStateSnapshot = std::vector<internal::OperatorStateList>;

// The runtime context of subtask `subtask` of `parallelism`, with metrics of
// its own. Keyed state lives in `keyed_state` (not owned); without one, asking
// for keyed state throws std::logic_error, as it does outside a keyed stream.
class FakeRuntimeContext : public RuntimeContext {
 public:
  explicit FakeRuntimeContext(int subtask = 0, int parallelism = 1,
                              internal::KeyedStateBackend* keyed_state = nullptr)
      : subtask_(subtask), parallelism_(parallelism), keyed_state_(keyed_state) {}

  const std::string& getTaskName() const override { return name_; }
  const std::string& getJobId() const override { return name_; }
  int getIndexOfThisSubtask() const override { return subtask_; }
  int getNumberOfParallelSubtasks() const override { return parallelism_; }
  int getMaxNumberOfParallelSubtasks() const override { return kMaxParallelism; }
  int getAttemptNumber() const override { return 0; }
  MetricGroup& getMetricGroup() override { return metrics_; }

  // The count of this subtask's counter `name` (0 if nothing counted it).
  int64_t Count(const std::string& name) { return metrics_.counter(name).getCount(); }

 protected:
  internal::KeyedStateBackend& RequireKeyedBackend(const std::string& state_name) override {
    if (keyed_state_ == nullptr) {
      throw std::logic_error("keyed state '" + state_name + "' asked for by a function that is not on a keyed stream");
    }
    return *keyed_state_;
  }

 private:
  static constexpr int kMaxParallelism = 128;

  int subtask_;
  int parallelism_;
  internal::KeyedStateBackend* keyed_state_;
  std::string name_ = "harness";
  MetricGroup metrics_;
};

// The operator state each of `parallelism` new subtasks restores from `old`
// (one snapshot per old subtask, in subtask order). The snapshots go through
// the files a checkpoint writes and checkpoint::AssignOperatorState, as in a
// real restore: split lists concatenated in subtask order and cut into even
// contiguous parts, union lists whole to everyone, broadcast lists from one
// old subtask. Throws std::runtime_error if the files cannot be written or read.
inline std::vector<OperatorStateSnapshot> Redistribute(const std::vector<OperatorStateSnapshot>& old,
                                                       int parallelism) {
  namespace fs = std::filesystem;
  std::string directory = (fs::temp_directory_path() / "eddy-redistribute-XXXXXX").string();
  if (::mkdtemp(directory.data()) == nullptr) {
    throw std::runtime_error("cannot create a directory for operator state files in " +
                             fs::temp_directory_path().string() + ": " + std::strerror(errno));
  }
  // The files are only needed until every new subtask has its part.
  struct RemoveOnExit {
    const std::string& directory;
    ~RemoveOnExit() {
      std::error_code ignored;  // a leftover temporary directory fails no test
      fs::remove_all(directory, ignored);
    }
  } remove_on_exit{directory};

  proto::OperatorStateHandles handles;
  for (size_t subtask = 0; subtask < old.size(); ++subtask) {
    auto handle = checkpoint::WriteOperatorSnapshot(directory, "subtask-" + std::to_string(subtask),
                                                    static_cast<int>(subtask), old[subtask], /*keyed=*/nullptr,
                                                    KeyGroupRange::Empty(), /*backend=*/"");
    if (!handle.ok()) {
      throw std::runtime_error("writing the operator state of old subtask " + std::to_string(subtask) + ": " +
                               std::string(handle.status().message()));
    }
    *handles.add_subtasks() = *std::move(handle);
  }
  std::vector<OperatorStateSnapshot> assigned;
  for (int index = 0; index < parallelism; ++index) {
    auto lists = checkpoint::AssignOperatorState(handles, directory, index, parallelism);
    if (!lists.ok()) {
      throw std::runtime_error("assigning operator state to subtask " + std::to_string(index) + " of " +
                               std::to_string(parallelism) + ": " + std::string(lists.status().message()));
    }
    assigned.push_back(*std::move(lists));
  }
  return assigned;
}

// One parallel instance of the CheckpointedFunction `F`, held by value as the
// runtime holds its copy of the user's function, and opened as a task opens
// it: setRuntimeContext, initializeState (restored from `restored` if given),
// open; a function that is not a RichFunction gets no runtime context, open or
// close. Destroying the harness without Close() is a crash: the function is
// told nothing.
template <class F>
class FunctionHarness {
  // Overloads for unevaluated use only: the record type IN of a sink's
  // SinkFunction<IN> base, void for a function without one.
  template <class IN>
  static IN SinkInput(const SinkFunction<IN>*);
  static void SinkInput(const void*);

 public:
  explicit FunctionHarness(F function, int subtask = 0, int parallelism = 1,
                           const OperatorStateSnapshot* restored = nullptr)
      : function_(std::move(function)), runtime_(subtask, parallelism) {
    if (restored != nullptr) store_.SetRestored(*restored);
    if constexpr (kRich) function_.setRuntimeContext(&runtime_);
    FunctionInitializationContext init(&store_);
    function_.initializeState(init);
    if constexpr (kRich) function_.open(runtime_);
  }
  // The function keeps a pointer to runtime(): the harness stays where it is.
  FunctionHarness(const FunctionHarness&) = delete;
  FunctionHarness& operator=(const FunctionHarness&) = delete;

  F& function() { return function_; }
  FakeRuntimeContext& runtime() { return runtime_; }

  // The record type of a SinkFunction (void for other functions).
  using SinkRecord = decltype(SinkInput(static_cast<F*>(nullptr)));

  // Hands each of `records` to the sink's invoke(), in order. The default type
  // lets a braced list of records through.
  template <class T = SinkRecord>
  void Write(const std::vector<T>& records) {
    for (const T& record : records) function_.invoke(record);
  }
  // A checkpoint barrier `id` (triggered at 1000 * id ms): snapshotState, then
  // the operator state as the store snapshots it.
  OperatorStateSnapshot Checkpoint(int64_t id) {
    function_.snapshotState(FunctionSnapshotContext(id, 1000 * id));
    return store_.Snapshot();
  }
  // Checkpoint `id` completed on every subtask.
  void Complete(int64_t id) { function_.notifyCheckpointComplete(id); }
  // The sink's input ended.
  void Finish() { function_.finish(); }
  void Close() {
    if constexpr (kRich) function_.close();
  }
  // The end of a bounded input as a task goes through it: finish, a final
  // checkpoint `final_checkpoint` that completes, close.
  void FinishAndClose(int64_t final_checkpoint) {
    Finish();
    Checkpoint(final_checkpoint);
    Complete(final_checkpoint);
    Close();
  }

 private:
  static_assert(std::is_base_of_v<CheckpointedFunction, F>,
                "FunctionHarness<F>: F must be a CheckpointedFunction (the harness drives its checkpoints)");
  static constexpr bool kRich = std::is_base_of_v<RichFunction, F>;

  F function_;
  FakeRuntimeContext runtime_;
  OperatorStateStore store_;
};

}  // namespace eddy::testing
