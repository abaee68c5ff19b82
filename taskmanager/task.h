// A Task runs one subtask of a job vertex on its own thread: it instantiates the
// vertex's operator chain from the rebuilt StreamGraph, wires chained edges by
// reference and network edges through record writers, then runs the source or
// the input loop until the inputs end, and reports its final state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eddy/checkpoint.pb.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/metrics.h"
#include "eddy/job_graph.pb.h"
#include "taskmanager/network.h"

namespace eddy::runtime {

enum class ExecutionState { kCreated, kRunning, kFinished, kCanceled, kFailed };
const char* ExecutionStateName(ExecutionState state);

// What the JobMaster decided about checkpoints for a job.
struct CheckpointingInfo {
  bool enabled = false;
  bool exactly_once = true;        // aligned barriers; at-least-once does not block channels
  std::string restore_directory;   // the checkpoint or savepoint to restore from; empty: none
};

// A checkpoint barrier's options, carried in-band to every task.
struct CheckpointBarrier {
  int64_t id = 0;
  int64_t timestamp = 0;           // epoch ms of the trigger
  std::string directory;           // where tasks write their state files
  bool savepoint = false;
  // Stop-with-savepoint without drain: once this savepoint completed, every
  // task ends at once, without finishing its operators (Flink's "suspend").
  bool suspend = false;

  NetworkEvent ToEvent() const;
  // False if `event` is not a well-formed barrier.
  static bool FromEvent(const NetworkEvent& event, CheckpointBarrier* out);
};

// The snapshot of one operator of a task's chain.
struct OperatorSnapshotHandle {
  std::string uid;
  std::string name;
  proto::OperatorSubtaskState state;
};

struct TaskInfo {
  std::string job_id;
  std::string task_name;   // the vertex name
  int subtask_index = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  int attempt = 0;
  int64_t buffer_timeout_ms = 100;
  std::map<std::string, std::string> config;  // the job's configuration
  std::string vertex_id;
  CheckpointingInfo checkpointing;

  // "name (2/4)", as logs and errors show a subtask.
  std::string DisplayName() const;
};

struct TaskOutput {
  proto::JobEdge edge;
  ResultPartition* partition;  // owned by whoever deployed the task
};

class Task {
 public:
  using StateListener = std::function<void(Task& task, ExecutionState state, const std::string& error)>;
  // Acknowledges checkpoint `id` with the task's state handles, or declines it
  // (`error` not empty). Called from the task's snapshot-writer thread.
  using CheckpointResponder = std::function<void(Task& task, int64_t id, std::vector<OperatorSnapshotHandle> handles,
                                                 const std::string& error)>;

  Task(TaskInfo info, proto::JobVertex vertex, std::shared_ptr<internal::StreamGraph> graph,
       std::unique_ptr<InputGate> gate, std::vector<proto::JobEdge> input_edges,
       std::vector<TaskOutput> outputs, StateListener listener, CheckpointResponder responder = nullptr);
  ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  void Start();
  // Asks the task to stop; it ends in kCanceled unless it already ended.
  void Cancel();
  void Join();
  // Flushes every output (the buffer-timeout flusher calls this).
  void FlushOutputs();

  // ---- Checkpoints (any thread; the work runs on the task's thread) ----
  // Starts a checkpoint at this task: sources snapshot before their next
  // record; a task whose inputs all ended snapshots once it has consumed them.
  // Other tasks get barriers through their inputs.
  // `stop`: a stop-with-savepoint; the source stops right after it.
  void TriggerCheckpoint(CheckpointBarrier barrier, bool stop = false, bool drain = false);
  void NotifyCheckpointComplete(int64_t id);
  void NotifyCheckpointAborted(int64_t id);

  const TaskInfo& info() const { return info_; }
  // Records and bytes received from and sent to the network (any thread).
  int64_t records_in() const { return records_in_.load(std::memory_order_relaxed); }
  // The user counters of every operator of the chain (thread-safe).
  const MetricGroup& metric_group() const { return metrics_; }
  int64_t bytes_in() const { return bytes_in_.load(std::memory_order_relaxed); }
  int64_t records_out() const;
  int64_t bytes_out() const;
  ExecutionState state() const { return state_.load(); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  struct ChainedOperator;
  class Context;

  void Run();
  void BuildChain();
  // Restores the chain's operator and keyed state from info_.checkpointing.
  void RestoreState();
  // ---- Actions: work posted by other threads, run on the task thread. ----
  void PostAction(std::function<void()> action);
  void RunPendingActions();
  // Snapshots every operator of the chain, sends the barrier downstream and
  // queues the writing of the state files.
  void PerformCheckpoint(const CheckpointBarrier& barrier);
  // With checkpoints on: after the input ended, waits until a checkpoint
  // taken after that point completed (so that sinks commit everything).
  void WaitForFinalCheckpoint();
  // Runs actions as they come until `done` (or cancellation).
  void RunActionsUntil(const bool& done);
  void SnapshotWriterLoop();
  // Incremental checkpoints: uploads the store files in `local_dir` (new
  // SSTs to <job dir>/shared/, the rest beside the state file) and records
  // them in `handle`.
  absl::Status UploadStoreFiles(const std::string& directory, const std::string& file, const std::string& store_dir,
                                const std::string& local_dir, const std::vector<std::string>& files,
                                proto::OperatorSubtaskState* handle);
  void StopSnapshotWriter();
  // Processing-time callbacks, run on the task thread.
  void RegisterTimer(int64_t time, std::function<void(int64_t)> callback);
  void FireDueTimers();
  std::chrono::steady_clock::time_point NextTimerDeadline();
  void ProcessInput();
  void OnIdle();
  // Releases keyed state (removes RocksDB directories).
  void DisposeState();
  void Transition(ExecutionState state, const std::string& error);

  TaskInfo info_;
  proto::JobVertex vertex_;
  std::shared_ptr<internal::StreamGraph> graph_;
  std::unique_ptr<InputGate> gate_;
  std::vector<proto::JobEdge> input_edges_;
  std::vector<TaskOutput> outputs_;
  StateListener listener_;
  CheckpointResponder responder_;

  std::vector<std::unique_ptr<ChainedOperator>> chain_;
  std::vector<std::unique_ptr<internal::OutputBase>> owned_outputs_;
  std::vector<std::unique_ptr<RecordWriter>> writers_;
  std::vector<std::unique_ptr<internal::RecordDeserializerBase>> deserializers_;  // per input

  std::mutex cancel_mu_;  // guards the head pointer that Cancel() calls into
  internal::StreamOperatorBase* head_ = nullptr;
  std::atomic<bool> cancelled_{false};
  MetricGroup metrics_;
  std::atomic<int64_t> records_in_{0};  // written by the task thread only
  std::atomic<int64_t> bytes_in_{0};
  std::atomic<bool> chain_built_{false};  // writers_ may be read from other threads

  struct Timer {
    int64_t time;
    uint64_t sequence;  // registration order among equal times
    std::function<void(int64_t)> callback;
    bool operator>(const Timer& o) const {
      return time != o.time ? time > o.time : sequence > o.sequence;
    }
  };
  std::vector<Timer> timers_;  // a min-heap; touched by the task thread only
  uint64_t timer_sequence_ = 0;
  std::atomic<ExecutionState> state_{ExecutionState::kCreated};
  std::thread thread_;

  std::mutex actions_mu_;
  std::condition_variable actions_cv_;
  std::vector<std::function<void()>> actions_;
  std::atomic<bool> has_actions_{false};
  // Task-thread state of checkpoints.
  bool input_ended_ = false;
  std::optional<CheckpointBarrier> deferred_trigger_;
  int64_t final_checkpoint_ = -1;   // first checkpoint taken after the input ended
  bool final_checkpoint_done_ = false;
  int64_t last_checkpoint_ = 0;     // newest checkpoint this task snapshotted
  int64_t suspend_after_ = -1;      // a suspending savepoint this task took
  bool incremental_ = false;        // state.backend.incremental
  std::map<std::string, std::set<std::string>> uploaded_;  // writer thread: shared files per store
  proto::CheckpointMetadata restore_metadata_;
  std::string restore_dir_;

  // The snapshot writer: writes state files off the task thread.
  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  std::deque<std::function<void()>> writer_jobs_;
  bool writer_stop_ = false;
  bool writer_busy_ = false;
  std::thread writer_;
};

}  // namespace eddy::runtime
