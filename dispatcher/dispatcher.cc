// Dispatcher (see dispatcher.h).
#include "dispatcher/dispatcher.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "checkpoint/storage.h"
#include "common/config.h"
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
  eddy::Configuration effective;  // the cluster's configuration, overlaid with the job's
  for (const auto& [k, v] : config_) effective.Set(k, v);
  for (const auto& [k, v] : job.config()) effective.Set(k, v);
  auto master = std::make_shared<jobmanager::JobMaster>(job, *digest, resource_manager_, slot_request_timeout_,
                                                        std::move(effective));
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

grpc::Status Dispatcher::AcknowledgeCheckpoint(grpc::ServerContext*, const proto::AcknowledgeCheckpointRequest* request,
                                               proto::Empty*) {
  auto job = Find(request->job_id());
  if (job) job->OnAcknowledgeCheckpoint(*request);
  return grpc::Status::OK;
}

namespace {
grpc::Status ToGrpc(const absl::Status& s) {
  grpc::StatusCode code = grpc::StatusCode::FAILED_PRECONDITION;
  if (absl::IsNotFound(s)) code = grpc::StatusCode::NOT_FOUND;
  if (absl::IsInvalidArgument(s)) code = grpc::StatusCode::INVALID_ARGUMENT;
  if (absl::IsAborted(s)) code = grpc::StatusCode::ABORTED;
  return grpc::Status(code, std::string(s.message()));
}
}  // namespace

grpc::Status Dispatcher::TriggerSavepoint(grpc::ServerContext* context, const proto::SavepointRequest* request,
                                          proto::SavepointResponse* response) {
  auto trigger = TriggerSavepoint(request->job_id(), request->target_directory(), request->stop(), request->drain());
  if (!trigger.ok()) return ToGrpc(trigger.status());
  while (!context->IsCancelled()) {
    auto op = SavepointOperation(request->job_id(), *trigger);
    if (!op.ok()) return ToGrpc(op.status());
    if (op->completed) {
      if (!op->failure.empty()) return grpc::Status(grpc::StatusCode::ABORTED, op->failure);
      response->set_path(op->location);
      return grpc::Status::OK;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the client gave up waiting for the savepoint");
}

grpc::Status Dispatcher::DisposeSavepoint(grpc::ServerContext*, const proto::DisposeSavepointRequest* request,
                                          proto::Empty*) {
  auto path = checkpoint::ResolvePath(request->path(), "the savepoint path");
  if (!path.ok()) return ToGrpc(path.status());
  std::string dir;
  auto metadata = checkpoint::ReadMetadata(*path, &dir);
  if (!metadata.ok()) return ToGrpc(metadata.status());
  absl::Status removed = checkpoint::RemoveTree(dir);
  if (!removed.ok()) return ToGrpc(removed);
  spdlog::info("Disposed savepoint {}", dir);
  return grpc::Status::OK;
}

absl::StatusOr<CheckpointsView> Dispatcher::Checkpoints(const std::string& job_id) {
  auto job = Find(job_id);
  if (!job) return absl::NotFoundError(absl::StrCat("Job ", job_id, " not found"));
  CheckpointsView view;
  auto to_view = [](const jobmanager::CheckpointCoordinator::Stats::Entry& e) {
    CheckpointView v;
    v.id = e.id;
    v.status = e.status;
    v.savepoint = e.savepoint;
    v.trigger_timestamp = e.trigger_timestamp;
    v.latest_ack_timestamp = e.latest_ack_timestamp;
    v.state_size = e.state_size;
    v.num_acknowledged = e.acknowledged;
    v.num_subtasks = e.total;
    v.external_path = e.external_path;
    v.failure = e.failure;
    return v;
  };
  auto stats = job->CheckpointStats();
  view.triggered = stats.triggered;
  view.in_progress = stats.in_progress;
  view.completed = stats.completed;
  view.failed = stats.failed;
  for (const auto& e : stats.history) view.history.push_back(to_view(e));
  if (stats.latest_completed) view.latest_completed = to_view(*stats.latest_completed);
  if (stats.latest_savepoint) view.latest_savepoint = to_view(*stats.latest_savepoint);
  if (stats.latest_failed) view.latest_failed = to_view(*stats.latest_failed);
  if (const auto* s = job->checkpoint_settings()) {
    view.enabled = s->enabled;
    view.exactly_once = s->exactly_once;
    view.interval_ms = s->interval.count();
    view.timeout_ms = s->timeout.count();
    view.min_pause_ms = s->min_pause.count();
    view.tolerable_failures = s->tolerable_failures;
    view.retain_on_cancellation = s->retain_on_cancellation;
    view.checkpoints_dir = s->checkpoints_dir;
    view.savepoints_dir = s->savepoints_dir;
  }
  return view;
}

absl::StatusOr<std::string> Dispatcher::TriggerSavepoint(const std::string& job_id, const std::string& target_dir,
                                                         bool stop, bool drain) {
  auto job = Find(job_id);
  if (!job) return absl::NotFoundError(absl::StrCat("Job ", job_id, " not found"));
  const std::string trigger = Id16::Generate().ToHex();
  auto op = std::make_shared<SavepointOperationView>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    savepoints_[{job_id, trigger}] = op;
  }
  job->TriggerSavepoint(target_dir, stop, drain, [this, op](absl::StatusOr<std::string> path) {
    std::lock_guard<std::mutex> lock(mu_);
    op->completed = true;
    if (path.ok()) {
      op->location = *path;
    } else {
      op->failure = std::string(path.status().message());
    }
  });
  return trigger;
}

absl::StatusOr<SavepointOperationView> Dispatcher::SavepointOperation(const std::string& job_id,
                                                                      const std::string& trigger_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = savepoints_.find({job_id, trigger_id});
  if (it == savepoints_.end()) {
    return absl::NotFoundError(absl::StrCat("no savepoint operation ", trigger_id, " for job ", job_id));
  }
  return *it->second;
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
