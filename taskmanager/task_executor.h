// TaskExecutor: the TaskManager's service. It registers its slots with the
// ResourceManager (retrying with backoff), heartbeats, deploys tasks (fetching
// the job library by digest, rebuilding the program's graph once per job and
// checking its fingerprint), wires their network inputs and outputs, reports
// their states to the JobMaster and cancels them on request.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/rpc.grpc.pb.h"
#include "taskmanager/data_transport.h"
#include "taskmanager/network.h"
#include "taskmanager/task.h"

namespace eddy::runtime {

struct TaskExecutorOptions {
  std::string jobmanager_address;   // host:port of the JobManager's RPC
  std::string rpc_address;          // host:port where this TaskExecutorService listens
  std::string data_bind_host = "localhost";
  int data_port = 0;                // 0: any free port
  int num_slots = 1;
  int network_buffers = 2048;
  uint32_t segment_size = kDefaultSegmentSize;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{5000};
  std::string library_cache_dir;    // where fetched job libraries are kept
};

class TaskExecutor final : public proto::TaskExecutorService::Service {
 public:
  explicit TaskExecutor(TaskExecutorOptions options);
  ~TaskExecutor() override;

  // Where this TaskExecutorService listens (known once its server is bound).
  void SetRpcAddress(std::string address) { options_.rpc_address = std::move(address); }
  // Starts the data server, the registration/heartbeat loop and the flusher.
  absl::Status Start();
  // Cancels every task and stops all threads.
  void Stop();
  const std::string& resource_id() const { return resource_id_; }
  std::string data_address() const;

  grpc::Status SubmitTask(grpc::ServerContext* context, const proto::TaskDeploymentDescriptor* request,
                          proto::Empty* response) override;
  grpc::Status CancelTask(grpc::ServerContext* context, const proto::CancelTaskRequest* request,
                          proto::Empty* response) override;
  grpc::Status TriggerCheckpoint(grpc::ServerContext* context, const proto::TriggerCheckpointRequest* request,
                                 proto::Empty* response) override;
  grpc::Status NotifyCheckpoint(grpc::ServerContext* context, const proto::NotifyCheckpointRequest* request,
                                proto::Empty* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const proto::JobManagerHeartbeat* request,
                         proto::HeartbeatResponse* response) override;
  grpc::Status ReleaseJob(grpc::ServerContext* context, const proto::JobId* request,
                          proto::Empty* response) override;

 private:
  struct DeployedTask {
    std::string job_id;
    std::string attempt_id;
    std::unique_ptr<Task> task;
    std::vector<std::unique_ptr<ResultPartition>> partitions;
    std::vector<ResultPartitionId> partition_ids;
  };

  void RegistrationLoop();
  void FlushLoop();
  void ReportLoop();
  void Deploy(proto::TaskDeploymentDescriptor tdd);
  void Report(const std::string& job_id, const std::string& attempt_id, const std::string& state,
              const std::string& error);
  absl::StatusOr<std::string> FetchLibrary(const std::string& digest);
  absl::StatusOr<std::shared_ptr<internal::StreamGraph>> GraphFor(const proto::TaskDeploymentDescriptor& tdd);
  void CancelAll(const std::string& why);

  TaskExecutorOptions options_;
  const std::string resource_id_;
  NetworkBufferPool buffer_pool_;
  PartitionRegistry registry_;
  std::unique_ptr<DataServer> data_server_;
  std::unique_ptr<ConnectionManager> connections_;
  std::unique_ptr<proto::ResourceManagerService::Stub> resource_manager_;
  std::unique_ptr<proto::JobMasterService::Stub> job_master_;
  std::unique_ptr<proto::BlobService::Stub> blobs_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<DeployedTask>> tasks_ ABSL_GUARDED_BY(mu_);  // by attempt id
  std::map<std::string, std::shared_ptr<internal::StreamGraph>> graphs_ ABSL_GUARDED_BY(mu_);  // by job id
  std::deque<proto::TaskExecutionState> reports_ ABSL_GUARDED_BY(mu_);
  struct Deployer {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  // Deployment threads; finished ones are joined when the next one starts.
  std::vector<Deployer> deployers_ ABSL_GUARDED_BY(mu_);
  std::mutex library_mu_;  // one fetch at a time

  std::thread registration_;
  std::thread flusher_;
  std::thread reporter_;
};

}  // namespace eddy::runtime
