// The embedded local cluster (see local_cluster.h).
#include "client/local_cluster.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/config.h"
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
  auto on_state = [&](runtime::Task& task, ExecutionState state, const std::string& error) {
    if (state == ExecutionState::kRunning || state == ExecutionState::kCreated) return;
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
      auto gate = channels.empty() ? nullptr : std::make_unique<runtime::InputGate>(std::move(channels));
      tasks.push_back(std::make_unique<runtime::Task>(std::move(info), vertex, graph, std::move(gate),
                                                      std::move(input_edges), std::move(outputs),
                                                      on_state));
    }
  }

  running = static_cast<int>(tasks.size());
  for (auto& t : tasks) t->Start();

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
  for (auto& t : tasks) t->Join();
  tasks.clear();

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
