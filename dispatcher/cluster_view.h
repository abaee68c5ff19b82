// What the REST API shows of the cluster: a read-mostly view that the
// JobManager implements and the REST server renders with Flink's JSON names.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

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
};

}  // namespace eddy::dispatcher
