// JobMaster (see job_master.h).
#include "jobmanager/job_master.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "checkpoint/storage.h"
#include "common/config_options.h"
#include "common/process.h"
#include "eddy/ids.h"
#include "spdlog/spdlog.h"
#include "taskmanager/channel_layout.h"

namespace eddy::jobmanager {
namespace {
bool IsTerminalTaskState(const std::string& s) {
  return s == "FINISHED" || s == "CANCELED" || s == "FAILED";
}
bool IsTerminalJobState(const std::string& s) {
  return s == "FINISHED" || s == "CANCELED" || s == "FAILED";
}
}  // namespace

JobMaster::JobMaster(proto::JobGraph job, std::string library_digest, ResourceManager* resource_manager,
                     std::chrono::milliseconds slot_request_timeout, Configuration config)
    : job_(std::move(job)),
      library_digest_(std::move(library_digest)),
      resource_manager_(resource_manager),
      slot_request_timeout_(slot_request_timeout),
      config_(std::move(config)) {
  start_time_ = EpochMillis();
  state_timestamps_["CREATED"] = start_time_;

  for (int v = 0; v < job_.vertices_size(); ++v) {
    for (int s = 0; s < job_.vertices(v).parallelism(); ++s) {
      Execution e;
      e.vertex = v;
      e.subtask = s;
      e.attempt_id = Id16::Generate().ToHex();
      executions_.push_back(e);
    }
  }
}

JobMaster::~JobMaster() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!IsTerminalJobState(state_)) {
      state_ = "CANCELLING";
      CancelExecutionsLocked();
      FinishLocked("CANCELED");
    }
  }
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  if (coordinator_) coordinator_->Stop();
}

void JobMaster::Start() { scheduler_ = std::thread([this] { Run(); }); }

std::string JobMaster::TaskName(const Execution& e) const {
  const auto& v = job_.vertices(e.vertex);
  return absl::StrCat(v.name(), " (", e.subtask + 1, "/", v.parallelism(), ")");
}

proto::TaskDeploymentDescriptor JobMaster::Deployment(const Execution& e,
                                                     const std::vector<SlotAssignment>& slots) {
  const proto::JobVertex& vertex = job_.vertices(e.vertex);
  proto::TaskDeploymentDescriptor tdd;
  *tdd.mutable_job_graph() = job_;
  tdd.set_library_digest(library_digest_);
  tdd.set_vertex_id(vertex.id());
  tdd.set_subtask_index(e.subtask);
  tdd.set_attempt_id(e.attempt_id);
  tdd.set_slot_index(e.slot->slot_index);
  tdd.set_attempt_number(attempt_number_);
  if (settings_) {
    tdd.mutable_checkpointing()->set_enabled(settings_->enabled);
    tdd.mutable_checkpointing()->set_exactly_once(settings_->exactly_once);
  }
  tdd.mutable_checkpointing()->set_restore_directory(restore_dir_);
  std::map<std::string, int> parallelism;
  for (const auto& v : job_.vertices()) parallelism[v.id()] = v.parallelism();
  for (int i = 0; i < job_.edges_size(); ++i) {
    const proto::JobEdge& edge = job_.edges(i);
    int p_up = parallelism[edge.source_vertex()];
    int p_down = parallelism[edge.target_vertex()];
    if (edge.source_vertex() == vertex.id()) {
      (*tdd.mutable_output_subpartitions())[i] =
          static_cast<int>(runtime::ConsumersOf(edge, e.subtask, p_up, p_down).size());
    }
    if (edge.target_vertex() != vertex.id()) continue;
    for (int producer = 0; producer < p_up; ++producer) {
      auto consumers = runtime::ConsumersOf(edge, producer, p_up, p_down);
      for (size_t k = 0; k < consumers.size(); ++k) {
        if (consumers[k] != e.subtask) continue;
        proto::InputChannelDescriptor* in = tdd.add_inputs();
        in->set_edge_index(i);
        in->set_producer_subtask(producer);
        in->set_subpartition(static_cast<int>(k));
        // Slot sharing: subtask `producer` of every vertex runs in slot `producer`.
        in->set_producer_data_address(slots[static_cast<size_t>(producer)].data_address);
        in->set_producer_resource_id(slots[static_cast<size_t>(producer)].resource_id);
        in->set_input_index(edge.target_input());
      }
    }
  }
  return tdd;
}

absl::Status JobMaster::CheckRestorePath(const std::string& path, bool allow_non_restored) {
  auto resolved = checkpoint::ResolvePath(path, "execution.savepoint.path");
  if (!resolved.ok()) return resolved.status();
  std::string dir;
  auto metadata = checkpoint::ReadMetadata(*resolved, &dir);
  if (!metadata.ok()) return metadata.status();
  std::set<std::string> uids;
  for (const auto& v : job_.vertices()) {
    for (const auto& op : v.operators()) uids.insert(op.uid());
  }
  for (const auto& op : metadata->operators()) {
    if (uids.count(op.uid()) || allow_non_restored) continue;
    bool has_state = false;
    for (const auto& st : op.subtasks()) has_state |= st.state_size() > 0;
    if (!has_state) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "the savepoint ", dir, " holds state of operator '", op.name(), "' (uid ", op.uid(),
        "), which this job does not have; allow dropping it with --allowNonRestoredState (-n)"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  restore_dir_ = dir;
  return absl::OkStatus();
}

void JobMaster::Run() {
  // Settings first: a bad configuration fails the job with a message naming the key.
  auto settings = CheckpointSettings::FromConfig(config_);
  auto restart_type = config_.GetRaw(kRestartStrategyType.key);
  std::string problem;
  if (!settings.ok()) {
    problem = std::string(settings.status().message());
  } else {
    settings_ = *settings;
    std::string type = restart_type && !restart_type->empty() ? *restart_type
                                                             : (settings_->enabled ? "fixed-delay" : "none");
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type == "fixed-delay" || type == "fixeddelay") {
      restart_type_ = "fixed-delay";
      auto attempts = config_.GetInt(kRestartFixedDelayAttempts);
      auto delay = config_.GetDuration(kRestartFixedDelayDelay);
      if (!attempts.ok()) problem = std::string(attempts.status().message());
      if (!delay.ok()) problem = std::string(delay.status().message());
      if (problem.empty()) {
        restart_attempts_ = *attempts;
        restart_delay_ = *delay;
      }
    } else if (type == "failure-rate" || type == "failurerate") {
      restart_type_ = "failure-rate";
      auto max = config_.GetInt(kRestartFailureRateMaxFailures);
      auto interval = config_.GetDuration(kRestartFailureRateInterval);
      auto delay = config_.GetDuration(kRestartFailureRateDelay);
      if (!max.ok()) problem = std::string(max.status().message());
      if (!interval.ok()) problem = std::string(interval.status().message());
      if (!delay.ok()) problem = std::string(delay.status().message());
      if (problem.empty()) {
        failure_rate_max_ = *max;
        failure_rate_interval_ = *interval;
        restart_delay_ = *delay;
      }
    } else if (type == "none" || type == "off" || type == "disable") {
      restart_type_ = "none";
    } else {
      problem = absl::StrCat("invalid value '", type,
                             "' for restart-strategy.type: expected none, fixed-delay or failure-rate");
    }
  }
  if (problem.empty()) {
    if (auto path = config_.GetRaw(kSavepointPath.key); path && !path->empty()) {
      auto allow = config_.GetBool(kSavepointIgnoreUnclaimed);
      absl::Status s = allow.ok() ? CheckRestorePath(*path, *allow) : allow.status();
      if (!s.ok()) problem = std::string(s.message());
    }
  }
  if (!problem.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    restart_type_ = "none";
  }
  if (!problem.empty()) {
    Fail(problem, "", "");
    return;
  }
  CheckpointCoordinator::Hooks hooks;
  hooks.tasks = [this](auto* tasks) { return CheckpointTasks(tasks); };
  hooks.trigger = [this](const auto& t, int64_t id, int64_t ts, const std::string& dir, bool sp, bool stop,
                         bool drain) { SendTrigger(t, id, ts, dir, sp, stop, drain); };
  hooks.notify = [this](const auto& attempts, int64_t id, bool completed) { SendNotify(attempts, id, completed); };
  hooks.fail_job = [this](const std::string& cause) { Fail(cause, "", ""); };
  coordinator_ = std::make_unique<CheckpointCoordinator>(job_, *settings_, std::move(hooks));
  int64_t restored_id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != "CREATED") return;  // cancelled before scheduling
    state_ = "RUNNING";
    state_timestamps_["RUNNING"] = EpochMillis();
    if (!restore_dir_.empty()) {
      auto metadata = checkpoint::ReadMetadata(restore_dir_, nullptr);
      if (metadata.ok()) restored_id = metadata->checkpoint_id();
    }
  }
  coordinator_->Start(restored_id);
  while (true) {
    Deploy();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return restart_requested_ || IsTerminalJobState(state_); });
      if (IsTerminalJobState(state_)) break;
    }
    // Restart: the whole job again, from the latest completed checkpoint.
    coordinator_->AbortPending("the job is restarting");
    CancelAndWait();
    resource_manager_->ReleaseSlots(job_.job_id());
    std::this_thread::sleep_for(restart_delay_);
    std::string latest = coordinator_->LatestCompleted();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (state_ != "RESTARTING") break;  // cancelled meanwhile
      restart_requested_ = false;
      if (!latest.empty()) restore_dir_ = latest;
      ++attempt_number_;
      for (Execution& e : executions_) {
        e.attempt_id = Id16::Generate().ToHex();
        e.state = "CREATED";
        e.slot.reset();
        e.start_time = -1;
        e.end_time = -1;
      }
      state_ = "RUNNING";
      state_timestamps_["RUNNING"] = EpochMillis();
      spdlog::info("Job {} ({}) restarts (attempt {}){}", job_.job_id(), job_.job_name(), attempt_number_,
                   restore_dir_.empty() ? std::string(" without state") : " from " + restore_dir_);
    }
    coordinator_->Start(coordinator_->last_id());
  }
  coordinator_->Stop();
  std::string final_state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    final_state = state_;
  }
  // Checkpoints of a finished job, or a cancelled one that does not retain
  // them, are removed; a failed job keeps its latest for a manual restore.
  if (settings_ && !settings_->checkpoints_dir.empty() &&
      (final_state == "FINISHED" || (final_state == "CANCELED" && !settings_->retain_on_cancellation))) {
    (void)checkpoint::RemoveTree((std::filesystem::path(settings_->checkpoints_dir) / job_.job_id()).string());
  }
}

void JobMaster::CancelAndWait() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    CancelExecutionsLocked();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] {
    for (const Execution& e : executions_) {
      if (e.slot && !IsTerminalTaskState(e.state)) return false;
    }
    return true;
  });
}

void JobMaster::Deploy() {
  int needed = 0;
  for (const auto& v : job_.vertices()) needed = std::max(needed, v.parallelism());
  spdlog::info("Job {} ({}) needs {} slots", job_.job_id(), job_.job_name(), needed);
  auto slots = resource_manager_->AllocateSlots(job_.job_id(), needed, slot_request_timeout_);
  if (!slots.ok()) {
    Fail(std::string(slots.status().message()), "", "");
    return;
  }
  std::vector<std::pair<proto::TaskDeploymentDescriptor, SlotAssignment>> deployments;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != "RUNNING") {
      resource_manager_->ReleaseSlots(job_.job_id());
      return;
    }
    for (Execution& e : executions_) {
      e.slot = (*slots)[static_cast<size_t>(e.subtask)];
      e.state = "DEPLOYING";
    }
    for (const Execution& e : executions_) deployments.emplace_back(Deployment(e, *slots), *e.slot);
  }
  for (auto& [tdd, slot] : deployments) {
    auto stub = resource_manager_->Stub(slot.resource_id);
    grpc::Status status(grpc::StatusCode::UNAVAILABLE, "TaskManager is gone");
    if (stub) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      proto::Empty empty;
      status = stub->SubmitTask(&ctx, tdd, &empty);
    }
    if (!status.ok()) {
      Fail(absl::StrCat("could not deploy ", tdd.vertex_id(), " subtask ", tdd.subtask_index() + 1,
                        " to TaskManager ", slot.rpc_address, ": ", status.error_message()),
           "", slot.rpc_address);
      return;
    }
  }
}

bool JobMaster::CanRestartLocked() {
  if (restart_type_ == "fixed-delay") return restarts_ < restart_attempts_;
  if (restart_type_ == "failure-rate") {
    auto now = std::chrono::steady_clock::now();
    std::erase_if(failures_, [&](auto t) { return now - t > failure_rate_interval_; });
    return static_cast<int64_t>(failures_.size()) < failure_rate_max_;
  }
  return false;
}

bool JobMaster::CheckpointTasks(std::vector<CheckpointCoordinator::TaskStatus>* tasks) {
  using TaskState = CheckpointCoordinator::TaskState;
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != "RUNNING") return false;
  for (const Execution& e : executions_) {
    const TaskState state = e.state == "FINISHED"  ? TaskState::kFinished
                            : e.state == "RUNNING" ? TaskState::kRunning
                                                   : TaskState::kPending;
    tasks->push_back({{e.attempt_id, e.vertex, e.subtask}, state});
  }
  return true;
}

void JobMaster::SendTrigger(const CheckpointCoordinator::Target& target, int64_t id, int64_t timestamp,
                            const std::string& directory, bool savepoint, bool stop, bool drain) {
  std::string resource;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Execution& e : executions_) {
      if (e.attempt_id == target.attempt_id && e.slot) resource = e.slot->resource_id;
    }
  }
  auto stub = resource_manager_->Stub(resource);
  if (!stub) return;  // the coordinator's timeout handles a task that cannot be reached
  proto::TriggerCheckpointRequest req;
  req.set_job_id(job_.job_id());
  req.set_attempt_id(target.attempt_id);
  req.set_checkpoint_id(id);
  req.set_timestamp(timestamp);
  req.set_directory(directory);
  req.set_savepoint(savepoint);
  req.set_stop(stop);
  req.set_drain(drain);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  proto::Empty empty;
  grpc::Status s = stub->TriggerCheckpoint(&ctx, req, &empty);
  if (!s.ok()) spdlog::warn("Could not trigger checkpoint {} at {}: {}", id, target.attempt_id, s.error_message());
}

void JobMaster::SendNotify(const std::vector<std::string>& attempts, int64_t id, bool completed) {
  std::map<std::string, proto::NotifyCheckpointRequest> by_resource;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Execution& e : executions_) {
      if (!e.slot || std::find(attempts.begin(), attempts.end(), e.attempt_id) == attempts.end()) continue;
      proto::NotifyCheckpointRequest& req = by_resource[e.slot->resource_id];
      req.set_job_id(job_.job_id());
      req.set_checkpoint_id(id);
      req.set_completed(completed);
      req.add_attempt_ids(e.attempt_id);
    }
  }
  for (auto& [resource, req] : by_resource) {
    auto stub = resource_manager_->Stub(resource);
    if (!stub) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    proto::Empty empty;
    (void)stub->NotifyCheckpoint(&ctx, req, &empty);  // a lost TaskManager restarts the job anyway
  }
}

void JobMaster::OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& request) {
  if (!coordinator_) return;
  if (!request.decline_reason().empty()) {
    coordinator_->Decline(request.attempt_id(), request.checkpoint_id(), request.decline_reason());
    return;
  }
  TaskAck ack;
  for (const auto& op : request.operators()) ack.operators.push_back({op.uid(), op.name(), op.state()});
  coordinator_->Acknowledge(request.attempt_id(), request.checkpoint_id(), std::move(ack));
}

void JobMaster::TriggerSavepoint(const std::string& target_dir, bool stop, bool drain,
                                 CheckpointCoordinator::SavepointCallback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != "RUNNING" || !coordinator_) {
      done(absl::FailedPreconditionError(absl::StrCat("job ", job_.job_id(), " is ", state_,
                                                      ": savepoints need a running job")));
      return;
    }
  }
  coordinator_->TriggerSavepoint(target_dir, stop, drain, std::move(done));
}

CheckpointCoordinator::Stats JobMaster::CheckpointStats() {
  if (!coordinator_) return {};
  return coordinator_->GetStats();
}

void JobMaster::OnTaskState(const proto::TaskExecutionState& update) {
  std::string failure_task, failure_location;
  bool failed = false;
  if (update.state() == "FINISHED" && coordinator_) coordinator_->OnTaskFinished(update.attempt_id());
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
    for (Execution& e : executions_) {
      if (e.attempt_id != update.attempt_id()) continue;
      if (IsTerminalTaskState(e.state)) return;
      e.state = update.state();
      if (update.state() == "RUNNING" && e.start_time < 0) e.start_time = EpochMillis();
      if (IsTerminalTaskState(e.state)) e.end_time = EpochMillis();
      if (update.state() == "FAILED") {
        failed = true;
        failure_task = TaskName(e);
        failure_location = e.slot ? e.slot->rpc_address : "";
      }
      break;
    }
    if (!failed) {
      MaybeCompleteLocked();
      return;
    }
  }
  Fail(update.error(), failure_task, failure_location);
}

void JobMaster::OnTaskManagerLost(const std::string& resource_id, const std::string& address,
                                  const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (IsTerminalJobState(state_)) return;
    bool affected = false;
    for (Execution& e : executions_) {
      if (e.slot && e.slot->resource_id == resource_id && !IsTerminalTaskState(e.state)) {
        e.state = "FAILED";
        e.end_time = EpochMillis();
        affected = true;
      }
    }
    cv_.notify_all();
    if (!affected) return;
  }
  Fail(absl::StrCat("TaskManager ", resource_id, " at ", address, " was lost: ", reason), "", address);
}

void JobMaster::Fail(const std::string& cause, const std::string& task, const std::string& location) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsTerminalJobState(state_) || state_ == "RESTARTING" || state_ == "CANCELLING") return;
  dispatcher::ExceptionView ex;
  ex.exception = cause;
  ex.task_name = task;
  ex.location = location;
  ex.timestamp = EpochMillis();
  root_exception_ = ex;
  exception_history_.insert(exception_history_.begin(), ex);
  if (exception_history_.size() > 16) exception_history_.pop_back();
  if (state_ == "RUNNING" && CanRestartLocked()) {
    ++restarts_;
    failures_.push_back(std::chrono::steady_clock::now());
    spdlog::warn("Job {} ({}) failed, restarting ({} strategy, restart {}): {}{}", job_.job_id(), job_.job_name(),
                 restart_type_, restarts_, task.empty() ? "" : task + ": ", cause);
    state_ = "RESTARTING";
    state_timestamps_["RESTARTING"] = EpochMillis();
    restart_requested_ = true;
    cv_.notify_all();
    return;
  }
  spdlog::warn("Job {} failed: {}{}", job_.job_id(), task.empty() ? "" : task + ": ", cause);
  CancelExecutionsLocked();
  FinishLocked("FAILED");
}

void JobMaster::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
  if (IsTerminalJobState(state_)) return;
  if (state_ == "RESTARTING") {  // nothing runs that needs waiting for
    CancelExecutionsLocked();
    FinishLocked("CANCELED");
    return;
  }
  state_ = "CANCELLING";
  state_timestamps_["CANCELLING"] = EpochMillis();
  CancelExecutionsLocked();
  bool any_deployed = false;
  for (const Execution& e : executions_) any_deployed |= !IsTerminalTaskState(e.state) && e.slot;
  if (!any_deployed) FinishLocked("CANCELED");
}

void JobMaster::CancelExecutionsLocked() {
  for (Execution& e : executions_) {
    if (!e.slot || IsTerminalTaskState(e.state)) continue;
    auto stub = resource_manager_->Stub(e.slot->resource_id);
    if (!stub) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    proto::CancelTaskRequest req;
    req.set_job_id(job_.job_id());
    req.set_attempt_id(e.attempt_id);
    proto::Empty empty;
    (void)stub->CancelTask(&ctx, req, &empty);  // best effort: a lost TM has nothing to cancel
  }
}

void JobMaster::MaybeCompleteLocked() {
  bool all_finished = true, all_terminal = true;
  for (const Execution& e : executions_) {
    all_finished &= e.state == "FINISHED";
    all_terminal &= IsTerminalTaskState(e.state);
  }
  if (state_ == "RUNNING" && all_finished) FinishLocked("FINISHED");
  if (state_ == "CANCELLING" && all_terminal) FinishLocked("CANCELED");
}

void JobMaster::FinishLocked(const std::string& state) {
  cv_.notify_all();
  state_ = state;
  end_time_ = EpochMillis();
  state_timestamps_[state] = end_time_;
  spdlog::info("Job {} ({}) switched to {}", job_.job_id(), job_.job_name(), state);
  if (!slots_released_) {
    slots_released_ = true;
    resource_manager_->ReleaseSlots(job_.job_id());
    // Let the TaskManagers drop the job's tasks and partitions (best effort,
    // off this lock).
    std::set<std::string> resources;
    for (const Execution& e : executions_) {
      if (e.slot) resources.insert(e.slot->resource_id);
    }
    std::vector<std::shared_ptr<proto::TaskExecutorService::Stub>> stubs;
    for (const auto& r : resources) {
      if (auto stub = resource_manager_->Stub(r)) stubs.push_back(stub);
    }
    std::thread([stubs, job_id = job_.job_id()] {
      // Consumers may still be draining the last buffers: give them a moment.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      for (const auto& stub : stubs) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        proto::JobId id;
        id.set_job_id(job_id);
        proto::Empty empty;
        (void)stub->ReleaseJob(&ctx, id, &empty);  // a lost TaskManager has nothing to release
      }
    }).detach();
  }
}

bool JobMaster::IsTerminal() {
  std::lock_guard<std::mutex> lock(mu_);
  return IsTerminalJobState(state_);
}

proto::JobStatusInfo JobMaster::Status() {
  std::lock_guard<std::mutex> lock(mu_);
  proto::JobStatusInfo info;
  info.set_job_id(job_.job_id());
  info.set_name(job_.job_name());
  info.set_state(state_);
  info.set_start_time(start_time_);
  info.set_end_time(end_time_);
  if (root_exception_) {
    info.set_failure(root_exception_->task_name.empty()
                         ? root_exception_->exception
                         : absl::StrCat(root_exception_->task_name, ": ", root_exception_->exception));
  }
  return info;
}

dispatcher::JobView JobMaster::View(const std::map<std::string, proto::TaskMetrics>& metrics) {
  std::lock_guard<std::mutex> lock(mu_);
  dispatcher::JobView view;
  view.id = job_.job_id();
  view.name = job_.job_name();
  view.state = state_;
  view.start_time = start_time_;
  view.end_time = end_time_;
  view.now = EpochMillis();
  view.duration = (end_time_ >= 0 ? end_time_ : view.now) - start_time_;
  for (int v = 0; v < job_.vertices_size(); ++v) {
    dispatcher::VertexView vv;
    vv.id = job_.vertices(v).id();
    vv.name = job_.vertices(v).name();
    vv.parallelism = job_.vertices(v).parallelism();
    vv.max_parallelism = job_.vertices(v).max_parallelism();
    int64_t start = -1, end = -1;
    bool all_ended = true;
    for (const Execution& e : executions_) {
      if (e.vertex != v) continue;
      vv.tasks_per_state[e.state]++;
      if (e.start_time >= 0 && (start < 0 || e.start_time < start)) start = e.start_time;
      end = std::max(end, e.end_time);
      all_ended &= e.end_time >= 0;
      auto m = metrics.find(e.attempt_id);
      if (m != metrics.end()) {
        vv.read_records += m->second.records_in();
        vv.write_records += m->second.records_out();
        vv.read_bytes += m->second.bytes_in();
        vv.write_bytes += m->second.bytes_out();
        for (const auto& [name, count] : m->second.user_counters()) vv.subtask_counters[e.subtask][name] = count;
      }
    }
    vv.start_time = start;
    vv.end_time = all_ended ? end : -1;
    vv.duration = start < 0 ? -1 : (all_ended ? end : view.now) - start;
    // The vertex state: the "least advanced" of its subtasks.
    for (const char* s : {"FAILED", "CANCELING", "CREATED", "DEPLOYING", "RUNNING", "CANCELED", "FINISHED"}) {
      if (vv.tasks_per_state.count(s)) {
        vv.status = s;
        break;
      }
    }
    view.vertices.push_back(vv);
  }
  view.root_exception = root_exception_;
  view.exception_history = exception_history_;
  return view;
}

}  // namespace eddy::jobmanager
