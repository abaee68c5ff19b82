// Runs jobs on a cluster: submits the job graph and the job library to the
// JobManager's Dispatcher over gRPC and (unless detached) waits for the job.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "eddy/environment.h"
#include "eddy/rpc.grpc.pb.h"

namespace eddy::client {

// A stub to the Dispatcher at host:port.
std::unique_ptr<proto::DispatcherService::Stub> ConnectDispatcher(const std::string& address);

struct RemoteOptions {
  std::string jobmanager_address;  // host:port
  std::string library_path;        // the job library to upload
  bool detached = false;
  std::function<void(const std::string& job_id)> on_submitted;
};

class RemoteExecutor final : public internal::PipelineExecutor {
 public:
  explicit RemoteExecutor(RemoteOptions options) : options_(std::move(options)) {}
  // Throws JobExecutionException when submission fails or the job does not
  // finish; detached runs return as soon as the job is accepted.
  JobExecutionResult Execute(const std::string& job_graph,
                             std::shared_ptr<internal::StreamGraph> plan) override;

 private:
  RemoteOptions options_;
};

}  // namespace eddy::client
