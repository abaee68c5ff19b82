// Dispatcher (see dispatcher.h).
#include "dispatcher/dispatcher.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "eddy/ids.h"
#include "eddy/version.h"
#include "spdlog/spdlog.h"

namespace eddy::dispatcher {

Dispatcher::Dispatcher(jobmanager::ResourceManager* resource_manager, BlobServer* blobs,
                       std::map<std::string, std::string> config,
                       std::chrono::milliseconds slot_request_timeout)
    : resource_manager_(resource_manager),
      blobs_(blobs),
      config_(std::move(config)),
      slot_request_timeout_(slot_request_timeout) {}

Dispatcher::~Dispatcher() {
  std::map<std::string, std::shared_ptr<jobmanager::JobMaster>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs) job->Cancel();
}

grpc::Status Dispatcher::SubmitJob(grpc::ServerContext*, grpc::ServerReader<proto::SubmitJobRequest>* reader,
                                   proto::SubmitJobResponse* response) {
  proto::SubmitJobRequest part;
  proto::JobGraph job;
  bool have_graph = false;
  std::string library;
  while (reader->Read(&part)) {
    if (part.has_job_graph()) {
      job = part.job_graph();
      have_graph = true;
    } else {
      library += part.library_chunk();
    }
  }
  if (!have_graph) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "submission without a job graph");
  if (job.abi_version() != EDDY_ABI_VERSION) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("the job was built against Eddy ABI version ", job.abi_version(),
                                     ", this cluster runs ABI version ", EDDY_ABI_VERSION));
  }
  if (job.vertices_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the job graph has no vertices");
  }
  if (library.empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "submission without a job library");
  auto digest = blobs_->Put(library);
  if (!digest.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, std::string(digest.status().message()));
  job.set_job_id(Id16::Generate().ToHex());
  auto master = std::make_shared<jobmanager::JobMaster>(job, *digest, resource_manager_, slot_request_timeout_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[job.job_id()] = master;
    order_.push_back(job.job_id());
  }
  spdlog::info("Received job {} ({}), library {}", job.job_id(), job.job_name(), *digest);
  master->Start();
  response->set_job_id(job.job_id());
  return grpc::Status::OK;
}

std::shared_ptr<jobmanager::JobMaster> Dispatcher::Find(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second;
}

grpc::Status Dispatcher::ListJobs(grpc::ServerContext*, const proto::Empty*, proto::ListJobsResponse* response) {
  std::vector<std::shared_ptr<jobmanager::JobMaster>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : order_) jobs.push_back(jobs_[id]);
  }
  for (auto& j : jobs) *response->add_jobs() = j->Status();
  return grpc::Status::OK;
}

grpc::Status Dispatcher::GetJob(grpc::ServerContext*, const proto::JobId* request, proto::JobStatusInfo* response) {
  auto job = Find(request->job_id());
  if (!job) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job with id " + request->job_id());
  *response = job->Status();
  return grpc::Status::OK;
}

grpc::Status Dispatcher::CancelJob(grpc::ServerContext*, const proto::JobId* request, proto::Empty*) {
  absl::Status s = CancelJob(request->job_id());
  if (absl::IsNotFound(s)) return grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(s.message()));
  if (!s.ok()) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(s.message()));
  return grpc::Status::OK;
}

grpc::Status Dispatcher::UpdateTaskExecutionState(grpc::ServerContext*, const proto::TaskExecutionState* request,
                                                  proto::Empty*) {
  auto job = Find(request->job_id());
  if (job) job->OnTaskState(*request);
  return grpc::Status::OK;
}

std::vector<JobView> Dispatcher::Jobs() {
  auto metrics = resource_manager_->Metrics();
  std::vector<std::shared_ptr<jobmanager::JobMaster>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : order_) jobs.push_back(jobs_[id]);
  }
  std::vector<JobView> views;
  for (auto& j : jobs) views.push_back(j->View(metrics));
  return views;
}

std::optional<JobView> Dispatcher::Job(const std::string& job_id) {
  auto job = Find(job_id);
  if (!job) return std::nullopt;
  return job->View(resource_manager_->Metrics());
}

absl::Status Dispatcher::CancelJob(const std::string& job_id) {
  auto job = Find(job_id);
  if (!job) return absl::NotFoundError(absl::StrCat("Job ", job_id, " not found"));
  if (job->IsTerminal()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Job ", job_id, " has already reached the terminal state ", job->Status().state()));
  }
  job->Cancel();
  return absl::OkStatus();
}

std::vector<TaskManagerView> Dispatcher::TaskManagers() { return resource_manager_->View(); }

std::map<std::string, std::string> Dispatcher::Configuration() { return config_; }

void Dispatcher::OnTaskManagerLost(const std::string& resource_id, const std::string& address,
                                   const std::string& reason) {
  std::vector<std::shared_ptr<jobmanager::JobMaster>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, j] : jobs_) jobs.push_back(j);
  }
  for (auto& j : jobs) j->OnTaskManagerLost(resource_id, address, reason);
}

}  // namespace eddy::dispatcher
