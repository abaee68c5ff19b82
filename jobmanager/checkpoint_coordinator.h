// CheckpointCoordinator: the JobMaster's part of checkpointing. It triggers
// checkpoints periodically (and savepoints on request) at the tasks that start
// them, collects the tasks' acknowledgements with their state handles, writes
// _metadata last, and then tells the tasks that the checkpoint completed (which
// lets two-phase-commit sinks commit). It aborts checkpoints that time out or
// that a task declines, fails the job after too many failures in a row, keeps
// the newest state.checkpoints.num-retained checkpoints and deletes the rest.
//
// It knows nothing about RPC: the JobMaster gives it the calls to make. Hooks
// run on the coordinator's threads with its lock held, except fail_job; the
// JobMaster must not call into the coordinator while holding its own lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "eddy/checkpoint.pb.h"
#include "eddy/job_graph.pb.h"

namespace eddy::jobmanager {

struct CheckpointSettings {
  bool enabled = false;
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{600000};
  std::chrono::milliseconds min_pause{0};
  bool exactly_once = true;
  int tolerable_failures = 0;
  int num_retained = 1;
  bool retain_on_cancellation = false;
  std::string checkpoints_dir;  // resolved path; the job's checkpoints go to <dir>/<job-id>/
  std::string savepoints_dir;   // resolved path or empty

  // Reads execution.checkpointing.*, state.checkpoints.* and
  // state.savepoints.dir; errors name the key.
  static absl::StatusOr<CheckpointSettings> FromConfig(const Configuration& config);
};

// A task's acknowledgement: operator uid → (name, handle).
struct TaskAck {
  struct Operator {
    std::string uid;
    std::string name;
    proto::OperatorSubtaskState state;
  };
  std::vector<Operator> operators;
};

class CheckpointCoordinator {
 public:
  struct Target {  // one execution attempt the coordinator talks to
    std::string attempt_id;
    int vertex = 0;
    int subtask = 0;
  };
  enum class TaskState { kPending, kRunning, kFinished };  // pending: not running yet
  struct TaskStatus {
    Target target;
    TaskState state;
  };
  struct Hooks {
    // Every execution attempt of the job and its state; false if the job is
    // not in a state to take checkpoints. The coordinator triggers sources and
    // tasks whose upstream vertices all finished; every unfinished task
    // acknowledges.
    std::function<bool(std::vector<TaskStatus>* tasks)> tasks;
    std::function<void(const Target& target, int64_t id, int64_t timestamp, const std::string& directory,
                       bool savepoint, bool stop, bool drain)>
        trigger;
    std::function<void(const std::vector<std::string>& attempts, int64_t id, bool completed)> notify;
    // Too many checkpoints failed in a row.
    std::function<void(const std::string& cause)> fail_job;
  };
  using SavepointCallback = std::function<void(absl::StatusOr<std::string> path)>;

  CheckpointCoordinator(proto::JobGraph job, CheckpointSettings settings, Hooks hooks);
  ~CheckpointCoordinator();

  // Starts periodic checkpoints (if enabled) with ids after `last_id`.
  void Start(int64_t last_id);
  void Stop();
  // Forgets every pending checkpoint (the job restarts or ends); savepoint
  // requests in flight fail with `why`.
  void AbortPending(const std::string& why);

  void Acknowledge(const std::string& attempt_id, int64_t id, TaskAck ack);
  void Decline(const std::string& attempt_id, int64_t id, const std::string& reason);
  // A task finished: its last acknowledged state stands for it in later
  // checkpoints.
  void OnTaskFinished(const std::string& attempt_id);

  // Queues a savepoint; `done` is called with its directory or the error.
  void TriggerSavepoint(const std::string& target_dir, bool stop, bool drain, SavepointCallback done);

  // The directory of the newest completed checkpoint (empty if none).
  std::string LatestCompleted();
  int64_t last_id();

  struct Stats {
    int64_t triggered = 0, completed = 0, failed = 0, in_progress = 0;
    struct Entry {
      int64_t id;
      std::string status;  // IN_PROGRESS, COMPLETED, FAILED
      bool savepoint;
      int64_t trigger_timestamp;
      int64_t latest_ack_timestamp;
      int64_t state_size;
      int acknowledged;
      int total;
      std::string external_path;
      std::string failure;
    };
    std::vector<Entry> history;  // newest first
    std::optional<Entry> latest_completed;
    std::optional<Entry> latest_savepoint;
    std::optional<Entry> latest_failed;
  };
  Stats GetStats();
  const CheckpointSettings& settings() const { return settings_; }

 private:
  struct Pending {
    int64_t id = 0;
    int64_t timestamp = 0;
    std::chrono::steady_clock::time_point started;
    std::string directory;
    bool savepoint = false;
    std::set<std::string> awaiting;                  // attempt ids
    std::map<std::string, Target> targets;           // every acknowledging attempt
    std::map<std::string, TaskAck> acks;             // by attempt id
    SavepointCallback done;
    int64_t latest_ack = 0;
  };
  struct SavepointRequest {
    std::string dir;
    bool stop, drain;
    SavepointCallback done;
  };

  void Loop();
  // Chooses the attempts to trigger and those that must acknowledge; false
  // if some task is not running yet.
  bool SelectTargets(std::vector<Target>* trigger, std::vector<Target>* ack);
  void TriggerLocked(bool savepoint, const std::string& dir, bool stop, bool drain, SavepointCallback done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompleteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailPendingLocked(const std::string& why, bool counts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(Stats::Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const proto::JobGraph job_;
  std::vector<std::vector<int>> upstream_;  // per vertex index: the vertices feeding it
  const CheckpointSettings settings_;
  const Hooks hooks_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool thread_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string deferred_failure_ ABSL_GUARDED_BY(mu_);  // for fail_job, called off the lock
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::optional<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<SavepointRequest> savepoint_requests_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_end_ ABSL_GUARDED_BY(mu_);
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  // Per (vertex, subtask): the state a finished task left, and the checkpoint
  // directory it lives in.
  std::map<std::pair<int, int>, std::pair<TaskAck, std::string>> finished_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<int, int>, std::pair<TaskAck, std::string>> last_acks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<int, int>> attempt_slot_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int64_t, std::string>> retained_ ABSL_GUARDED_BY(mu_);  // oldest first
  std::map<int64_t, std::set<std::string>> retained_shared_ ABSL_GUARDED_BY(mu_);  // shared file names
  std::string latest_completed_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace eddy::jobmanager
