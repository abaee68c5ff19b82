// JobMaster: runs one job. It expands the JobGraph into an ExecutionGraph (one
// Execution per subtask), allocates slots with slot sharing (subtask i of every
// vertex shares slot i, so a job needs as many slots as its highest
// parallelism), deploys tasks to the TaskManagers, tracks their states and
// drives the job through Flink's states: CREATED → RUNNING → FINISHED, or
// FAILED / CANCELLING → CANCELED, and RUNNING → RESTARTING → RUNNING when a
// task or TaskManager fails and the restart strategy allows another attempt.
// A restart is global: every task is cancelled and the whole job is deployed
// again (a new attempt number) from the latest completed checkpoint. Its
// CheckpointCoordinator takes the checkpoints and savepoints.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "dispatcher/cluster_view.h"
#include "eddy/rpc.grpc.pb.h"
#include "common/config.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/resource_manager.h"

namespace eddy::jobmanager {

class JobMaster {
 public:
  // `config`: the cluster's configuration overlaid with the job's own.
  JobMaster(proto::JobGraph job, std::string library_digest, ResourceManager* resource_manager,
            std::chrono::milliseconds slot_request_timeout, Configuration config);
  ~JobMaster();

  // Schedules and deploys on a thread of its own.
  void Start();
  void Cancel();
  void OnTaskState(const proto::TaskExecutionState& update);
  void OnTaskManagerLost(const std::string& resource_id, const std::string& address,
                         const std::string& reason);
  void OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& ack);
  // A savepoint into `target_dir` (empty: state.savepoints.dir); with `stop`
  // the sources stop right after it and the job finishes.
  void TriggerSavepoint(const std::string& target_dir, bool stop, bool drain,
                        CheckpointCoordinator::SavepointCallback done);
  CheckpointCoordinator::Stats CheckpointStats();
  // Null until the job's configuration was checked.
  const CheckpointSettings* checkpoint_settings() const { return settings_ ? &*settings_ : nullptr; }

  const std::string& job_id() const { return job_.job_id(); }
  proto::JobStatusInfo Status();
  dispatcher::JobView View(const std::map<std::string, proto::TaskMetrics>& metrics);
  bool IsTerminal();

 private:
  struct Execution {
    int vertex = 0;
    int subtask = 0;
    std::string attempt_id;
    std::string state = "CREATED";
    std::optional<SlotAssignment> slot;
    int64_t start_time = -1;
    int64_t end_time = -1;
  };

  // The job's life: deploy, then restart on failures until it ends.
  void Run();
  // Allocates slots and deploys every execution of the current attempt.
  void Deploy();
  // Cancels the current attempt and waits (bounded) until its tasks ended.
  void CancelAndWait();
  absl::Status CheckRestorePath(const std::string& path, bool allow_non_restored);
  proto::TaskDeploymentDescriptor Deployment(const Execution& e, const std::vector<SlotAssignment>& slots);
  // A failure: restarts the job if the restart strategy allows, else moves
  // it to FAILED (first cause wins) and cancels what still runs.
  void Fail(const std::string& cause, const std::string& task, const std::string& location);
  bool CanRestartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Coordinator hooks.
  bool CheckpointTasks(std::vector<CheckpointCoordinator::TaskStatus>* tasks);
  void SendTrigger(const CheckpointCoordinator::Target& target, int64_t id, int64_t timestamp,
                   const std::string& directory, bool savepoint, bool stop, bool drain);
  void SendNotify(const std::vector<std::string>& attempts, int64_t id, bool completed);
  void CancelExecutionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCompleteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const std::string& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string TaskName(const Execution& e) const;

  proto::JobGraph job_;
  const std::string library_digest_;
  ResourceManager* resource_manager_;
  const std::chrono::milliseconds slot_request_timeout_;
  const Configuration config_;
  std::optional<CheckpointSettings> settings_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;

  // Restart strategy (restart-strategy.*).
  std::string restart_type_ = "none";
  int64_t restart_attempts_ = 0;
  std::chrono::milliseconds restart_delay_{1000};
  int64_t failure_rate_max_ = 1;
  std::chrono::milliseconds failure_rate_interval_{60000};
  std::vector<std::chrono::steady_clock::time_point> failures_;  // guarded by mu_
  int64_t restarts_ = 0;  // guarded by mu_
  bool restart_requested_ = false;  // guarded by mu_
  std::condition_variable cv_;
  int attempt_number_ = 0;  // guarded by mu_
  std::string restore_dir_;  // guarded by mu_: the initial savepoint, then the latest checkpoint

  std::mutex mu_;
  std::string state_ ABSL_GUARDED_BY(mu_) = "CREATED";
  std::map<std::string, int64_t> state_timestamps_ ABSL_GUARDED_BY(mu_);
  std::vector<Execution> executions_ ABSL_GUARDED_BY(mu_);
  std::optional<dispatcher::ExceptionView> root_exception_ ABSL_GUARDED_BY(mu_);
  std::vector<dispatcher::ExceptionView> exception_history_ ABSL_GUARDED_BY(mu_);
  int64_t start_time_ = 0;
  int64_t end_time_ ABSL_GUARDED_BY(mu_) = -1;
  bool slots_released_ ABSL_GUARDED_BY(mu_) = false;
  std::thread scheduler_;
};

}  // namespace eddy::jobmanager
