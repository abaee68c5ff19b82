// TaskExecutor (see task_executor.h).
#include "taskmanager/task_executor.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "client/program_loader.h"
#include "eddy/ids.h"
#include "eddy/status.h"
#include "spdlog/spdlog.h"

namespace eddy::runtime {
namespace {

std::string Hostname() {
  char name[256] = {0};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

TaskExecutor::TaskExecutor(TaskExecutorOptions options)
    : options_(std::move(options)),
      resource_id_(Id16::Generate().ToHex()),
      buffer_pool_(options_.network_buffers, options_.segment_size) {
  if (options_.library_cache_dir.empty()) {
    options_.library_cache_dir =
        (std::filesystem::temp_directory_path() / ("eddy-libraries-" + resource_id_)).string();
  }
  auto channel = grpc::CreateChannel(options_.jobmanager_address, grpc::InsecureChannelCredentials());
  resource_manager_ = proto::ResourceManagerService::NewStub(channel);
  job_master_ = proto::JobMasterService::NewStub(channel);
  blobs_ = proto::BlobService::NewStub(channel);
}

TaskExecutor::~TaskExecutor() { Stop(); }

std::string TaskExecutor::data_address() const {
  return absl::StrCat(options_.data_bind_host, ":", data_server_ ? data_server_->port() : 0);
}

absl::Status TaskExecutor::Start() {
  DataServerOptions server_options;
  server_options.bind_address = options_.data_bind_host;
  server_options.port = options_.data_port;
  data_server_ = std::make_unique<DataServer>(&registry_, server_options);
  if (auto s = data_server_->Start(); !s.ok()) return s;
  connections_ = std::make_unique<ConnectionManager>();
  registration_ = std::thread([this] { RegistrationLoop(); });
  flusher_ = std::thread([this] { FlushLoop(); });
  reporter_ = std::thread([this] { ReportLoop(); });
  return absl::OkStatus();
}

void TaskExecutor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  CancelAll("the TaskManager is shutting down");
  if (registration_.joinable()) registration_.join();
  if (flusher_.joinable()) flusher_.join();
  std::vector<Deployer> deployers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deployers.swap(deployers_);
  }
  for (auto& d : deployers) d.thread.join();
  std::map<std::string, std::unique_ptr<DeployedTask>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& [id, t] : tasks) t->task.reset();  // joins; gates before partitions
  if (reporter_.joinable()) reporter_.join();
  if (data_server_) data_server_->Stop();
  for (auto& [id, t] : tasks) {
    for (const auto& pid : t->partition_ids) registry_.Unregister(pid);
  }
  tasks.clear();
  connections_.reset();
}

void TaskExecutor::CancelAll(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tasks_.empty()) spdlog::warn("Cancelling {} tasks: {}", tasks_.size(), why);
  for (auto& [id, t] : tasks_) t->task->Cancel();
}

// ---- registration and heartbeats ----

void TaskExecutor::RegistrationLoop() {
  auto backoff = std::chrono::milliseconds(100);
  bool registered = false;
  auto last_contact = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    if (!registered) {
      proto::RegisterTaskExecutorRequest req;
      req.set_resource_id(resource_id_);
      req.set_rpc_address(options_.rpc_address);
      req.set_data_address(data_address());
      req.set_num_slots(options_.num_slots);
      req.set_hostname(Hostname());
      proto::RegisterTaskExecutorResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      grpc::Status s = resource_manager_->RegisterTaskExecutor(&ctx, req, &resp);
      if (s.ok()) {
        registered = true;
        backoff = std::chrono::milliseconds(100);
        last_contact = std::chrono::steady_clock::now();
        spdlog::info("Registered at the JobManager {} ({}) as {} with {} slots", options_.jobmanager_address,
                     resp.jobmanager_id(), resource_id_, options_.num_slots);
      } else {
        spdlog::warn("Could not register at the JobManager {}: {}; retrying in {} ms",
                     options_.jobmanager_address, s.error_message(), backoff.count());
        lock.lock();
        cv_.wait_for(lock, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
        continue;
      }
    } else {
      proto::TaskExecutorHeartbeat hb;
      hb.set_resource_id(resource_id_);
      {
        std::lock_guard<std::mutex> guard(mu_);
        for (auto& [id, t] : tasks_) {
          proto::TaskMetrics* m = hb.add_metrics();
          m->set_job_id(t->job_id);
          m->set_attempt_id(id);
          m->set_records_in(t->task->records_in());
          m->set_records_out(t->task->records_out());
          m->set_bytes_in(t->task->bytes_in());
          m->set_bytes_out(t->task->bytes_out());
          for (const auto& [name, count] : t->task->metric_group().Counters()) {
            (*m->mutable_user_counters())[name] = count;
          }
        }
      }
      proto::HeartbeatResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.heartbeat_interval);
      grpc::Status s = resource_manager_->Heartbeat(&ctx, hb, &resp);
      if (s.ok() && resp.known()) {
        last_contact = std::chrono::steady_clock::now();
      } else if (s.ok()) {
        spdlog::warn("The JobManager no longer knows this TaskManager; registering again");
        CancelAll("the JobManager dropped this TaskManager");
        registered = false;
        continue;
      } else if (std::chrono::steady_clock::now() - last_contact > options_.heartbeat_timeout) {
        spdlog::warn("Lost the JobManager {}: {}", options_.jobmanager_address, s.error_message());
        CancelAll("the JobManager is unreachable");
        registered = false;
        continue;
      }
    }
    lock.lock();
    cv_.wait_for(lock, options_.heartbeat_interval);
  }
}

void TaskExecutor::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    int64_t tick = 100;
    for (auto& [id, t] : tasks_) {
      int64_t timeout = t->task->info().buffer_timeout_ms;
      if (timeout > 0) tick = std::min(tick, timeout);
    }
    cv_.wait_for(lock, std::chrono::milliseconds(tick));
    for (auto& [id, t] : tasks_) {
      if (t->task->info().buffer_timeout_ms > 0) t->task->FlushOutputs();
    }
  }
}

void TaskExecutor::Report(const std::string& job_id, const std::string& attempt_id, const std::string& state,
                          const std::string& error) {
  proto::TaskExecutionState update;
  update.set_job_id(job_id);
  update.set_attempt_id(attempt_id);
  update.set_state(state);
  update.set_error(error);
  update.set_resource_id(resource_id_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(update);
  }
  cv_.notify_all();
}

void TaskExecutor::ReportLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !reports_.empty(); });
    if (reports_.empty() && stopping_) return;
    proto::TaskExecutionState update = reports_.front();
    reports_.pop_front();
    lock.unlock();
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      proto::Empty empty;
      if (job_master_->UpdateTaskExecutionState(&ctx, update, &empty).ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    }
    lock.lock();
  }
}

// ---- deployment ----

grpc::Status TaskExecutor::SubmitTask(grpc::ServerContext*, const proto::TaskDeploymentDescriptor* request,
                                      proto::Empty*) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the TaskManager is shutting down");
  if (request->slot_index() < 0 || request->slot_index() >= options_.num_slots) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("slot ", request->slot_index(), " does not exist on this TaskManager"));
  }
  // Deploy on a thread of its own: inputs may wait for local producers.
  std::erase_if(deployers_, [](Deployer& d) {
    if (!d.done->load()) return false;
    d.thread.join();  // already finished: returns at once
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  deployers_.push_back({std::thread([this, done, tdd = *request] {
                          Deploy(tdd);
                          done->store(true);
                        }),
                        done});
  return grpc::Status::OK;
}

absl::StatusOr<std::string> TaskExecutor::FetchLibrary(const std::string& digest) {
  std::filesystem::path path = std::filesystem::path(options_.library_cache_dir) / (digest + ".so");
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path.string();
  std::filesystem::create_directories(options_.library_cache_dir, ec);
  std::string tmp = path.string() + "." + Id16::Generate().ToHex() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    proto::BlobRequest req;
    req.set_digest(digest);
    auto reader = blobs_->GetBlob(&ctx, req);
    proto::BlobChunk chunk;
    while (reader->Read(&chunk)) out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    grpc::Status s = reader->Finish();
    if (!s.ok()) {
      std::filesystem::remove(tmp, ec);
      return absl::UnavailableError("cannot fetch job library " + digest + " from the BlobServer: " + s.error_message());
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError("cannot store job library " + path.string() + ": " + ec.message());
  return path.string();
}

absl::StatusOr<std::shared_ptr<internal::StreamGraph>> TaskExecutor::GraphFor(
    const proto::TaskDeploymentDescriptor& tdd) {
  const proto::JobGraph& job = tdd.job_graph();
  std::lock_guard<std::mutex> fetch_lock(library_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = graphs_.find(job.job_id());
    if (it != graphs_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string path, FetchLibrary(tdd.library_digest()));
  ASSIGN_OR_RETURN(auto library, client::JobLibrary::Load(path));
  ASSIGN_OR_RETURN(auto program, library->Find(job.program_name()));
  ASSIGN_OR_RETURN(auto graph, client::RebuildJobGraph(program, job));
  std::lock_guard<std::mutex> lock(mu_);
  graphs_[job.job_id()] = graph;
  return graph;
}

void TaskExecutor::Deploy(proto::TaskDeploymentDescriptor tdd) {
  const proto::JobGraph& job = tdd.job_graph();
  const std::string job_id = job.job_id();
  const std::string attempt = tdd.attempt_id();
  const proto::JobVertex* vertex = nullptr;
  for (const auto& v : job.vertices()) {
    if (v.id() == tdd.vertex_id()) vertex = &v;
  }
  auto fail = [&](const std::string& why) {
    spdlog::warn("Deployment of {} subtask {} failed: {}", tdd.vertex_id(), tdd.subtask_index() + 1, why);
    Report(job_id, attempt, "FAILED", why);
  };
  if (vertex == nullptr) return fail("unknown vertex " + tdd.vertex_id());
  auto graph = GraphFor(tdd);
  if (!graph.ok()) return fail(std::string(graph.status().message()));

  auto deployed = std::make_unique<DeployedTask>();
  deployed->job_id = job_id;
  deployed->attempt_id = attempt;
  std::vector<TaskOutput> outputs;
  std::vector<int> output_edges;  // edge index of each output
  for (const auto& [edge_index, subpartitions] : tdd.output_subpartitions()) {
    std::vector<std::unique_ptr<NetworkBuffer>> reserved;
    if (auto s = buffer_pool_.Reserve(2 * subpartitions + 8, &reserved); !s.ok()) {
      return fail(std::string(s.message()));
    }
    auto partition = std::make_unique<ResultPartition>(
        subpartitions, std::make_unique<LocalBufferPool>(&buffer_pool_, std::move(reserved)));
    outputs.push_back({job.edges(edge_index), partition.get()});
    output_edges.push_back(edge_index);
    deployed->partitions.push_back(std::move(partition));
  }

  std::vector<InputGate::ChannelSpec> channels;
  std::vector<proto::JobEdge> input_edges;
  for (const auto& e : job.edges()) {
    if (e.target_vertex() == vertex->id()) input_edges.push_back(e);
  }
  // Register outputs before waiting for inputs, so that no two local tasks
  // wait for each other.
  for (size_t i = 0; i < outputs.size(); ++i) {
    ResultPartitionId id{job_id, output_edges[i], tdd.subtask_index(), tdd.attempt_number()};
    if (auto s = registry_.Register(id, outputs[i].partition); !s.ok()) return fail(std::string(s.message()));
    deployed->partition_ids.push_back(id);
  }
  // From here on a failure must take the registered partitions back.
  auto abort = [&](const std::string& why) {
    for (const auto& id : deployed->partition_ids) registry_.Unregister(id);
    fail(why);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (const auto& in : tdd.inputs()) {
    ResultPartitionId id{job_id, in.edge_index(), in.producer_subtask(), tdd.attempt_number()};
    std::unique_ptr<InputChannel> channel;
    if (in.producer_resource_id() == resource_id_) {
      ResultPartition* partition = registry_.WaitFor(id, deadline);
      if (partition == nullptr) return abort("local producer partition " + id.ToString() + " never appeared");
      channel = std::make_unique<LocalInputChannel>(&partition->subpartition(in.subpartition()));
    } else {
      auto remote = connections_->CreateInputChannel(in.producer_data_address(), id, in.subpartition());
      if (!remote.ok()) return abort(std::string(remote.status().message()));
      channel = std::move(*remote);
    }
    channels.push_back({std::move(channel), in.input_index()});
  }

  TaskInfo info;
  info.job_id = job_id;
  info.task_name = vertex->name();
  info.subtask_index = tdd.subtask_index();
  info.parallelism = vertex->parallelism();
  info.max_parallelism = vertex->max_parallelism();
  info.attempt = tdd.attempt_number();
  info.buffer_timeout_ms = job.buffer_timeout_ms();
  info.config = std::map<std::string, std::string>(job.config().begin(), job.config().end());
  info.vertex_id = vertex->id();
  info.checkpointing.enabled = tdd.checkpointing().enabled();
  info.checkpointing.exactly_once = tdd.checkpointing().exactly_once();
  info.checkpointing.restore_directory = tdd.checkpointing().restore_directory();
  auto gate = channels.empty() ? nullptr : std::make_unique<InputGate>(std::move(channels));
  deployed->task = std::make_unique<Task>(
      info, *vertex, *graph, std::move(gate), std::move(input_edges), std::move(outputs),
      [this, job_id, attempt](Task&, ExecutionState state, const std::string& error) {
        Report(job_id, attempt, ExecutionStateName(state), error);
      },
      [this, job_id, attempt](Task&, int64_t id, std::vector<OperatorSnapshotHandle> handles,
                              const std::string& error) {
        proto::AcknowledgeCheckpointRequest ack;
        ack.set_job_id(job_id);
        ack.set_attempt_id(attempt);
        ack.set_checkpoint_id(id);
        ack.set_decline_reason(error);
        for (auto& h : handles) {
          auto* op = ack.add_operators();
          op->set_uid(h.uid);
          op->set_name(h.name);
          *op->mutable_state() = std::move(h.state);
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        proto::Empty empty;
        grpc::Status s = job_master_->AcknowledgeCheckpoint(&ctx, ack, &empty);
        if (!s.ok()) spdlog::warn("Could not acknowledge checkpoint {}: {}", id, s.error_message());
      });
  Task* task = deployed->task.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      deployed->task.reset();
      return abort("the TaskManager is shutting down");
    }
    tasks_[attempt] = std::move(deployed);
  }
  task->Start();
}

grpc::Status TaskExecutor::CancelTask(grpc::ServerContext*, const proto::CancelTaskRequest* request, proto::Empty*) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(request->attempt_id());
  if (it != tasks_.end()) it->second->task->Cancel();
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::TriggerCheckpoint(grpc::ServerContext*, const proto::TriggerCheckpointRequest* request,
                                             proto::Empty*) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(request->attempt_id());
  if (it == tasks_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no task " + request->attempt_id() + " on this TaskManager");
  }
  CheckpointBarrier barrier;
  barrier.id = request->checkpoint_id();
  barrier.timestamp = request->timestamp();
  barrier.directory = request->directory();
  barrier.savepoint = request->savepoint();
  it->second->task->TriggerCheckpoint(std::move(barrier), request->stop(), request->drain());
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::NotifyCheckpoint(grpc::ServerContext*, const proto::NotifyCheckpointRequest* request,
                                            proto::Empty*) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& attempt : request->attempt_ids()) {
    auto it = tasks_.find(attempt);
    if (it == tasks_.end()) continue;
    if (request->completed()) {
      it->second->task->NotifyCheckpointComplete(request->checkpoint_id());
    } else {
      it->second->task->NotifyCheckpointAborted(request->checkpoint_id());
    }
  }
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::Heartbeat(grpc::ServerContext*, const proto::JobManagerHeartbeat*,
                                     proto::HeartbeatResponse* response) {
  response->set_known(true);
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::ReleaseJob(grpc::ServerContext*, const proto::JobId* request, proto::Empty*) {
  std::vector<std::unique_ptr<DeployedTask>> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second->job_id == request->job_id()) {
        released.push_back(std::move(it->second));
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
    graphs_.erase(request->job_id());
  }
  for (auto& t : released) t->task->Cancel();
  // Tasks first (their gates read other tasks' partitions), then partitions.
  for (auto& t : released) t->task.reset();
  for (auto& t : released) {
    for (const auto& id : t->partition_ids) registry_.Unregister(id);
  }
  return grpc::Status::OK;
}

}  // namespace eddy::runtime
