// A Task runs one subtask of a job vertex on its own thread: it instantiates the
// vertex's operator chain from the rebuilt StreamGraph, wires chained edges by
// reference and network edges through record writers, then runs the source or
// the input loop until the inputs end, and reports its final state.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eddy/internal/stream_graph.h"
#include "eddy/job_graph.pb.h"
#include "taskmanager/network.h"

namespace eddy::runtime {

enum class ExecutionState { kCreated, kRunning, kFinished, kCanceled, kFailed };
const char* ExecutionStateName(ExecutionState state);

struct TaskInfo {
  std::string job_id;
  std::string task_name;   // the vertex name
  int subtask_index = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  int attempt = 0;
  int64_t buffer_timeout_ms = 100;
  std::map<std::string, std::string> config;  // the job's configuration

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

  Task(TaskInfo info, proto::JobVertex vertex, std::shared_ptr<internal::StreamGraph> graph,
       std::unique_ptr<InputGate> gate, std::vector<proto::JobEdge> input_edges,
       std::vector<TaskOutput> outputs, StateListener listener);
  ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  void Start();
  // Asks the task to stop; it ends in kCanceled unless it already ended.
  void Cancel();
  void Join();
  // Flushes every output (the buffer-timeout flusher calls this).
  void FlushOutputs();

  const TaskInfo& info() const { return info_; }
  // Records and bytes received from and sent to the network (any thread).
  int64_t records_in() const { return records_in_.load(std::memory_order_relaxed); }
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

  std::vector<std::unique_ptr<ChainedOperator>> chain_;
  std::vector<std::unique_ptr<internal::OutputBase>> owned_outputs_;
  std::vector<std::unique_ptr<RecordWriter>> writers_;
  std::vector<std::unique_ptr<internal::RecordDeserializerBase>> deserializers_;  // per input

  std::mutex cancel_mu_;  // guards the head pointer that Cancel() calls into
  internal::StreamOperatorBase* head_ = nullptr;
  std::atomic<bool> cancelled_{false};
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
};

}  // namespace eddy::runtime
