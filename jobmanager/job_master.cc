// JobMaster (see job_master.h).
#include "jobmanager/job_master.h"

#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
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
                     std::chrono::milliseconds slot_request_timeout)
    : job_(std::move(job)),
      library_digest_(std::move(library_digest)),
      resource_manager_(resource_manager),
      slot_request_timeout_(slot_request_timeout) {
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
  if (scheduler_.joinable()) scheduler_.join();
}

void JobMaster::Start() { scheduler_ = std::thread([this] { Schedule(); }); }

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

void JobMaster::Schedule() {
  int needed = 0;
  for (const auto& v : job_.vertices()) needed = std::max(needed, v.parallelism());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != "CREATED") return;  // cancelled before scheduling
    state_ = "RUNNING";
    state_timestamps_["RUNNING"] = EpochMillis();
  }
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

void JobMaster::OnTaskState(const proto::TaskExecutionState& update) {
  std::string failure_task, failure_location;
  bool failed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    if (!affected) return;
  }
  Fail(absl::StrCat("TaskManager ", resource_id, " at ", address, " was lost: ", reason), "", address);
}

void JobMaster::Fail(const std::string& cause, const std::string& task, const std::string& location) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsTerminalJobState(state_)) return;
  dispatcher::ExceptionView ex;
  ex.exception = cause;
  ex.task_name = task;
  ex.location = location;
  ex.timestamp = EpochMillis();
  root_exception_ = ex;
  spdlog::warn("Job {} failed: {}{}", job_.job_id(), task.empty() ? "" : task + ": ", cause);
  CancelExecutionsLocked();
  FinishLocked("FAILED");
}

void JobMaster::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsTerminalJobState(state_)) return;
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
  if (root_exception_) view.exception_history.push_back(*root_exception_);
  return view;
}

}  // namespace eddy::jobmanager
