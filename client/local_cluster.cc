// The embedded local cluster (see local_cluster.h).
#include "client/local_cluster.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "checkpoint/storage.h"
#include "common/config.h"
#include "common/config_options.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "eddy/ids.h"
#include "spdlog/spdlog.h"
#include "taskmanager/channel_layout.h"
#include "taskmanager/network.h"
#include "taskmanager/task.h"

namespace eddy::client {
namespace {

using runtime::ExecutionState;

using runtime::ConsumersOf;

void Fail(const std::string& message) { throw JobExecutionException(message); }

}  // namespace

JobExecutionResult RunOnLocalCluster(proto::JobGraph job, std::shared_ptr<internal::StreamGraph> plan,
                                     const LocalClusterOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Configuration config;
  for (const auto& [k, v] : options.config) config.Set(k, v);
  for (const auto& [k, v] : job.config()) config.Set(k, v);
  // Checkpoints of the embedded cluster default to a local directory.
  if (auto dir = config.GetRaw(kCheckpointsDir.key); !dir || dir->empty()) {
    config.Set(std::string(kCheckpointsDir.key),
               (std::filesystem::temp_directory_path() / "eddy-local-checkpoints").string());
  }
  auto settings = jobmanager::CheckpointSettings::FromConfig(config);
  if (!settings.ok()) Fail(std::string(settings.status().message()));
  std::string restore_dir;
  if (auto path = config.GetRaw(kSavepointPath.key); path && !path->empty()) {
    auto resolved = checkpoint::ResolvePath(*path, kSavepointPath.key);
    if (!resolved.ok()) Fail(std::string(resolved.status().message()));
    auto metadata = checkpoint::ReadMetadata(*resolved, &restore_dir);
    if (!metadata.ok()) Fail(std::string(metadata.status().message()));
  }
  auto buffers = config.GetInt("taskmanager.memory.network.buffers", 2048);
  auto segment = config.GetMemorySize("taskmanager.memory.segment-size", runtime::kDefaultSegmentSize);
  if (!buffers.ok()) Fail(std::string(buffers.status().message()));
  if (!segment.ok()) Fail(std::string(segment.status().message()));

  job.set_job_id(Id16::Generate().ToHex());
  std::shared_ptr<internal::StreamGraph> graph = plan;
  if (options.graph_provider) {
    auto rebuilt = options.graph_provider(job);
    if (!rebuilt.ok()) Fail(std::string(rebuilt.status().message()));
    graph = *rebuilt;
  }
  if (options.on_submitted) options.on_submitted(job.job_id());
  spdlog::info("Job {} ({}) submitted to the embedded cluster", job.job_id(), job.job_name());

  runtime::NetworkBufferPool pool(static_cast<int>(*buffers), static_cast<uint32_t>(*segment));
  std::map<std::string, const proto::JobVertex*> vertices;
  for (const auto& v : job.vertices()) vertices[v.id()] = &v;

  // Result partitions: one per (edge, producer subtask).
  std::map<std::pair<int, int>, std::unique_ptr<runtime::ResultPartition>> partitions;
  for (int e = 0; e < job.edges_size(); ++e) {
    const proto::JobEdge& edge = job.edges(e);
    int p_up = vertices.at(edge.source_vertex())->parallelism();
    int p_down = vertices.at(edge.target_vertex())->parallelism();
    for (int i = 0; i < p_up; ++i) {
      int n = static_cast<int>(ConsumersOf(edge, i, p_up, p_down).size());
      std::vector<std::unique_ptr<runtime::NetworkBuffer>> reserved;
      if (auto s = pool.Reserve(2 * n + 8, &reserved); !s.ok()) Fail(std::string(s.message()));
      partitions[{e, i}] = std::make_unique<runtime::ResultPartition>(
          n, std::make_unique<runtime::LocalBufferPool>(&pool, std::move(reserved)));
    }
  }

  // Tasks, with their input gates wired to the producers' subpartitions.
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  std::string failure;
  std::vector<std::unique_ptr<runtime::Task>> tasks;
  std::vector<int> task_vertex;  // vertex index of each task
  std::unique_ptr<jobmanager::CheckpointCoordinator> coordinator;
  auto attempt_of = [](const runtime::Task& t) { return absl::StrCat(t.info().vertex_id, "-", t.info().subtask_index); };
  auto on_state = [&](runtime::Task& task, ExecutionState state, const std::string& error) {
    if (state == ExecutionState::kRunning || state == ExecutionState::kCreated) return;
    if (state == ExecutionState::kFinished && coordinator) coordinator->OnTaskFinished(attempt_of(task));
    bool cancel_all = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (state == ExecutionState::kFailed && failure.empty()) {
        failure = absl::StrCat("task ", task.info().DisplayName(), " failed: ", error);
        cancel_all = true;
      }
      --running;
    }
    cv.notify_all();
    if (cancel_all) {
      for (auto& t : tasks) t->Cancel();
    }
  };
  auto responder = [&](runtime::Task& task, int64_t id, std::vector<runtime::OperatorSnapshotHandle> handles,
                       const std::string& error) {
    if (!error.empty()) {
      coordinator->Decline(attempt_of(task), id, error);
      return;
    }
    jobmanager::TaskAck ack;
    for (auto& h : handles) ack.operators.push_back({h.uid, h.name, std::move(h.state)});
    coordinator->Acknowledge(attempt_of(task), id, std::move(ack));
  };
  std::map<std::string, int> vertex_index;
  for (int v = 0; v < job.vertices_size(); ++v) vertex_index[job.vertices(v).id()] = v;
  for (const proto::JobVertex& vertex : job.vertices()) {
    for (int s = 0; s < vertex.parallelism(); ++s) {
      std::vector<runtime::InputGate::ChannelSpec> channels;
      std::vector<proto::JobEdge> input_edges;
      std::vector<runtime::TaskOutput> outputs;
      for (int e = 0; e < job.edges_size(); ++e) {
        const proto::JobEdge& edge = job.edges(e);
        if (edge.target_vertex() == vertex.id()) {
          input_edges.push_back(edge);
          int p_up = vertices.at(edge.source_vertex())->parallelism();
          for (int i = 0; i < p_up; ++i) {
            auto consumers = ConsumersOf(edge, i, p_up, vertex.parallelism());
            for (size_t k = 0; k < consumers.size(); ++k) {
              if (consumers[k] != s) continue;
              channels.push_back({std::make_unique<runtime::LocalInputChannel>(
                                      &partitions.at({e, i})->subpartition(static_cast<int>(k))),
                                  edge.target_input()});
            }
          }
        }
        if (edge.source_vertex() == vertex.id()) outputs.push_back({edge, partitions.at({e, s}).get()});
      }
      runtime::TaskInfo info;
      info.job_id = job.job_id();
      info.task_name = vertex.name();
      info.subtask_index = s;
      info.parallelism = vertex.parallelism();
      info.max_parallelism = vertex.max_parallelism();
      info.buffer_timeout_ms = job.buffer_timeout_ms();
      info.config = std::map<std::string, std::string>(job.config().begin(), job.config().end());
      info.vertex_id = vertex.id();
      info.checkpointing.enabled = settings->enabled;
      info.checkpointing.exactly_once = settings->exactly_once;
      info.checkpointing.restore_directory = restore_dir;
      auto gate = channels.empty() ? nullptr : std::make_unique<runtime::InputGate>(std::move(channels));
      tasks.push_back(std::make_unique<runtime::Task>(std::move(info), vertex, graph, std::move(gate),
                                                      std::move(input_edges), std::move(outputs),
                                                      on_state, responder));
      task_vertex.push_back(vertex_index[vertex.id()]);
    }
  }

  // The same CheckpointCoordinator as the JobManager's, calling the tasks
  // directly. (The embedded cluster does not restart failed jobs.)
  std::map<std::string, runtime::Task*> by_attempt;
  for (auto& t : tasks) by_attempt[attempt_of(*t)] = t.get();
  jobmanager::CheckpointCoordinator::Hooks hooks;
  hooks.tasks = [&](std::vector<jobmanager::CheckpointCoordinator::TaskStatus>* statuses) {
    using TaskState = jobmanager::CheckpointCoordinator::TaskState;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const ExecutionState st = tasks[i]->state();
      const TaskState state = st == ExecutionState::kFinished  ? TaskState::kFinished
                              : st == ExecutionState::kRunning ? TaskState::kRunning
                                                               : TaskState::kPending;
      statuses->push_back({{attempt_of(*tasks[i]), task_vertex[i], tasks[i]->info().subtask_index}, state});
    }
    return true;
  };
  hooks.trigger = [&](const jobmanager::CheckpointCoordinator::Target& t, int64_t id, int64_t ts,
                      const std::string& dir, bool savepoint, bool stop, bool drain) {
    runtime::CheckpointBarrier b;
    b.id = id;
    b.timestamp = ts;
    b.directory = dir;
    b.savepoint = savepoint;
    by_attempt.at(t.attempt_id)->TriggerCheckpoint(std::move(b), stop, drain);
  };
  hooks.notify = [&](const std::vector<std::string>& attempts, int64_t id, bool completed) {
    for (const auto& a : attempts) {
      if (completed) {
        by_attempt.at(a)->NotifyCheckpointComplete(id);
      } else {
        by_attempt.at(a)->NotifyCheckpointAborted(id);
      }
    }
  };
  hooks.fail_job = [&](const std::string& cause) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (failure.empty()) failure = cause;
    }
    for (auto& t : tasks) t->Cancel();
  };
  coordinator = std::make_unique<jobmanager::CheckpointCoordinator>(job, *settings, std::move(hooks));
  int64_t restored_id = 0;
  if (!restore_dir.empty()) {
    auto metadata = checkpoint::ReadMetadata(restore_dir, nullptr);
    if (metadata.ok()) restored_id = metadata->checkpoint_id();
  }

  running = static_cast<int>(tasks.size());
  for (auto& t : tasks) t->Start();
  coordinator->Start(restored_id);

  // Sends partly filled buffers after the buffer timeout; waits for the tasks.
  {
    std::unique_lock<std::mutex> lock(mu);
    const int64_t timeout = job.buffer_timeout_ms();
    while (running > 0) {
      if (timeout > 0) {
        cv.wait_for(lock, std::chrono::milliseconds(timeout));
        lock.unlock();
        for (auto& t : tasks) t->FlushOutputs();
        lock.lock();
      } else {
        cv.wait(lock);
      }
    }
  }
  coordinator->Stop();
  for (auto& t : tasks) t->Join();
  tasks.clear();
  if (settings->enabled) {
    (void)checkpoint::RemoveTree((std::filesystem::path(settings->checkpoints_dir) / job.job_id()).string());
  }

  const auto runtime_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (!failure.empty()) {
    spdlog::info("Job {} failed: {}", job.job_id(), failure);
    Fail("Job " + job.job_id() + " failed: " + failure);
  }
  spdlog::info("Job {} finished in {} ms", job.job_id(), runtime_ms);
  return JobExecutionResult(job.job_id(), runtime_ms);
}

JobExecutionResult LocalExecutor::Execute(const std::string& job_graph,
                                          std::shared_ptr<internal::StreamGraph> plan) {
  proto::JobGraph job;
  if (!job.ParseFromString(job_graph)) throw JobExecutionException("malformed job graph");
  return RunOnLocalCluster(std::move(job), std::move(plan), options_);
}

namespace {
// Environments created without a program runner execute on the embedded cluster.
std::shared_ptr<internal::PipelineExecutor> MakeDefaultExecutor(
    const std::map<std::string, std::string>& config) {
  LocalClusterOptions options;
  options.config = config;
  return std::make_shared<LocalExecutor>(std::move(options));
}
[[maybe_unused]] const bool kRegistered = [] {
  internal::SetDefaultExecutorFactory(&MakeDefaultExecutor);
  return true;
}();
}  // namespace

}  // namespace eddy::client
