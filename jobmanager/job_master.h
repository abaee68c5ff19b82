// JobMaster: runs one job. It expands the JobGraph into an ExecutionGraph (one
// Execution per subtask), allocates slots with slot sharing (subtask i of every
// vertex shares slot i, so a job needs as many slots as its highest
// parallelism), deploys tasks to the TaskManagers, tracks their states and
// drives the job through Flink's states: CREATED → RUNNING → FINISHED, or
// FAILED / CANCELLING → CANCELED.
#pragma once

#include <chrono>
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
#include "jobmanager/resource_manager.h"

namespace eddy::jobmanager {

class JobMaster {
 public:
  JobMaster(proto::JobGraph job, std::string library_digest, ResourceManager* resource_manager,
            std::chrono::milliseconds slot_request_timeout);
  ~JobMaster();

  // Schedules and deploys on a thread of its own.
  void Start();
  void Cancel();
  void OnTaskState(const proto::TaskExecutionState& update);
  void OnTaskManagerLost(const std::string& resource_id, const std::string& address,
                         const std::string& reason);

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

  void Schedule();
  proto::TaskDeploymentDescriptor Deployment(const Execution& e, const std::vector<SlotAssignment>& slots);
  // Moves the job to FAILED (first cause wins) and cancels what still runs.
  void Fail(const std::string& cause, const std::string& task, const std::string& location);
  void CancelExecutionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCompleteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const std::string& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string TaskName(const Execution& e) const;

  proto::JobGraph job_;
  const std::string library_digest_;
  ResourceManager* resource_manager_;
  const std::chrono::milliseconds slot_request_timeout_;

  std::mutex mu_;
  std::string state_ ABSL_GUARDED_BY(mu_) = "CREATED";
  std::map<std::string, int64_t> state_timestamps_ ABSL_GUARDED_BY(mu_);
  std::vector<Execution> executions_ ABSL_GUARDED_BY(mu_);
  std::optional<dispatcher::ExceptionView> root_exception_ ABSL_GUARDED_BY(mu_);
  int64_t start_time_ = 0;
  int64_t end_time_ ABSL_GUARDED_BY(mu_) = -1;
  bool slots_released_ ABSL_GUARDED_BY(mu_) = false;
  std::thread scheduler_;
};

}  // namespace eddy::jobmanager
