// Dispatcher: accepts job submissions (job graph + job library), starts a
// JobMaster per job, answers list/get/cancel, routes task state updates to the
// JobMasters, and is the ClusterView the REST API shows.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "dispatcher/blob_server.h"
#include "dispatcher/cluster_view.h"
#include "eddy/rpc.grpc.pb.h"
#include "jobmanager/job_master.h"
#include "jobmanager/resource_manager.h"

namespace eddy::dispatcher {

class Dispatcher final : public proto::DispatcherService::Service,
                         public proto::JobMasterService::Service,
                         public ClusterView {
 public:
  Dispatcher(jobmanager::ResourceManager* resource_manager, BlobServer* blobs,
             std::map<std::string, std::string> config, std::chrono::milliseconds slot_request_timeout);
  ~Dispatcher() override;

  // DispatcherService
  grpc::Status SubmitJob(grpc::ServerContext* context, grpc::ServerReader<proto::SubmitJobRequest>* reader,
                         proto::SubmitJobResponse* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const proto::Empty* request,
                        proto::ListJobsResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const proto::JobId* request,
                      proto::JobStatusInfo* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const proto::JobId* request,
                         proto::Empty* response) override;
  grpc::Status TriggerSavepoint(grpc::ServerContext* context, const proto::SavepointRequest* request,
                                proto::SavepointResponse* response) override;
  grpc::Status DisposeSavepoint(grpc::ServerContext* context, const proto::DisposeSavepointRequest* request,
                                proto::Empty* response) override;
  // JobMasterService
  grpc::Status UpdateTaskExecutionState(grpc::ServerContext* context,
                                        const proto::TaskExecutionState* request,
                                        proto::Empty* response) override;
  grpc::Status AcknowledgeCheckpoint(grpc::ServerContext* context,
                                     const proto::AcknowledgeCheckpointRequest* request,
                                     proto::Empty* response) override;

  // ClusterView
  std::vector<JobView> Jobs() override;
  std::optional<JobView> Job(const std::string& job_id) override;
  absl::Status CancelJob(const std::string& job_id) override;
  std::vector<TaskManagerView> TaskManagers() override;
  std::map<std::string, std::string> Configuration() override;
  absl::StatusOr<CheckpointsView> Checkpoints(const std::string& job_id) override;
  absl::StatusOr<std::string> TriggerSavepoint(const std::string& job_id, const std::string& target_dir, bool stop,
                                               bool drain) override;
  absl::StatusOr<SavepointOperationView> SavepointOperation(const std::string& job_id,
                                                            const std::string& trigger_id) override;

  void OnTaskManagerLost(const std::string& resource_id, const std::string& address,
                         const std::string& reason);

 private:
  std::shared_ptr<jobmanager::JobMaster> Find(const std::string& job_id);

  jobmanager::ResourceManager* resource_manager_;
  BlobServer* blobs_;
  const std::map<std::string, std::string> config_;
  const std::chrono::milliseconds slot_request_timeout_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<jobmanager::JobMaster>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // submission order
  // Savepoint operations by (job id, trigger id); shared with their callbacks.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<SavepointOperationView>> savepoints_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy::dispatcher
