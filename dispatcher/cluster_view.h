// What the REST API shows of the cluster: a read-mostly view that the
// JobManager implements and the REST server renders with Flink's JSON names.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eddy::dispatcher {

struct VertexView {
  std::string id;
  std::string name;
  int parallelism = 0;
  int max_parallelism = 0;
  std::string status;              // an ExecutionState name: CREATED, RUNNING, FINISHED, ...
  int64_t start_time = -1;         // epoch milliseconds, -1 if not started
  int64_t end_time = -1;
  int64_t duration = -1;
  int64_t read_records = 0;        // records received over the network
  int64_t write_records = 0;       // records sent over the network
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
  std::map<std::string, int> tasks_per_state;  // state name → subtasks in it
  // User counters (getMetricGroup().counter) by subtask index, then name.
  std::map<int, std::map<std::string, int64_t>> subtask_counters;
};

struct ExceptionView {
  std::string exception;           // the message, with the cause
  std::string task_name;           // e.g. "Map (2/4)", empty if job-level
  std::string location;            // the TaskManager, e.g. "127.0.0.1:6124"
  int64_t timestamp = 0;
};

struct JobView {
  std::string id;
  std::string name;
  std::string state;               // Flink's JobStatus names: CREATED, RUNNING, FINISHED, FAILED, CANCELLING, CANCELED
  int64_t start_time = -1;
  int64_t end_time = -1;
  int64_t duration = -1;
  int64_t now = 0;
  std::vector<VertexView> vertices;
  std::optional<ExceptionView> root_exception;
  std::vector<ExceptionView> exception_history;
};

struct TaskManagerView {
  std::string id;
  std::string path;                // RPC address host:port
  int data_port = 0;
  int64_t last_heartbeat = 0;      // epoch milliseconds
  int slots_number = 0;
  int free_slots = 0;
};

// One checkpoint or savepoint, as GET /jobs/:jid/checkpoints shows it.
struct CheckpointView {
  int64_t id = 0;
  std::string status;              // IN_PROGRESS, COMPLETED, FAILED
  bool savepoint = false;
  int64_t trigger_timestamp = 0;   // epoch ms
  int64_t latest_ack_timestamp = 0;
  int64_t state_size = 0;          // bytes
  int num_acknowledged = 0;
  int num_subtasks = 0;
  std::string external_path;
  std::string failure;
};

struct CheckpointsView {
  int64_t triggered = 0, in_progress = 0, completed = 0, failed = 0;
  std::vector<CheckpointView> history;  // newest first
  std::optional<CheckpointView> latest_completed, latest_savepoint, latest_failed;
  // Configuration (GET /jobs/:jid/checkpoints/config).
  bool enabled = false;
  bool exactly_once = true;
  int64_t interval_ms = 0, timeout_ms = 0, min_pause_ms = 0;
  int max_concurrent = 1;
  int tolerable_failures = 0;
  bool retain_on_cancellation = false;
  std::string checkpoints_dir, savepoints_dir;
};

// An asynchronous savepoint operation (POST /jobs/:jid/savepoints).
struct SavepointOperationView {
  bool completed = false;
  std::string location;  // when completed successfully
  std::string failure;   // when completed with an error
};

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  virtual std::vector<JobView> Jobs() = 0;
  virtual std::optional<JobView> Job(const std::string& job_id) = 0;
  // NotFound for an unknown id, FailedPrecondition if the job already ended.
  virtual absl::Status CancelJob(const std::string& job_id) = 0;
  virtual std::vector<TaskManagerView> TaskManagers() = 0;
  // The JobManager's effective configuration.
  virtual std::map<std::string, std::string> Configuration() = 0;

  // ---- Checkpoints and savepoints (NotFound for unknown jobs) ----
  virtual absl::StatusOr<CheckpointsView> Checkpoints(const std::string& job_id) {
    return absl::UnimplementedError("checkpoints are not available");
  }
  // Starts a savepoint (with `stop`: stop-with-savepoint) and returns its
  // trigger id at once.
  virtual absl::StatusOr<std::string> TriggerSavepoint(const std::string& job_id, const std::string& target_dir,
                                                       bool stop, bool drain) {
    return absl::UnimplementedError("savepoints are not available");
  }
  virtual absl::StatusOr<SavepointOperationView> SavepointOperation(const std::string& job_id,
                                                                    const std::string& trigger_id) {
    return absl::UnimplementedError("savepoints are not available");
  }
};

}  // namespace eddy::dispatcher
