// The embedded local cluster: runs a JobGraph with every subtask as a real task
// thread, connected by the same result partitions, bounded buffer pools and
// input gates the TaskManagers use, in one process.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "eddy/environment.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/job_graph.pb.h"

namespace eddy::client {

// Rebuilds the StreamGraph for a job the way a TaskManager does (by running the
// program in materialize mode); null means "use the client's plan as is".
using GraphProvider = std::function<absl::StatusOr<std::shared_ptr<internal::StreamGraph>>(
    const proto::JobGraph& job)>;

struct LocalClusterOptions {
  std::map<std::string, std::string> config;
  GraphProvider graph_provider;
  // Called once the job id is known, before the tasks start.
  std::function<void(const std::string& job_id)> on_submitted;
};

// Runs `job` to completion. Throws JobExecutionException with the root cause
// if a task fails.
JobExecutionResult RunOnLocalCluster(proto::JobGraph job, std::shared_ptr<internal::StreamGraph> plan,
                                     const LocalClusterOptions& options);

class LocalExecutor final : public internal::PipelineExecutor {
 public:
  explicit LocalExecutor(LocalClusterOptions options) : options_(std::move(options)) {}
  JobExecutionResult Execute(const std::string& job_graph,
                             std::shared_ptr<internal::StreamGraph> plan) override;

 private:
  LocalClusterOptions options_;
};

}  // namespace eddy::client
