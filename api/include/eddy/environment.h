// StreamExecutionEnvironment: where a program declares its sources and runs the
// job, and ParameterTool for program arguments.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/internal/stream_graph.h"

namespace eddy {

template <class T>
class DataStream;
template <class T>
class DataStreamSource;

// Program arguments in Flink's --key value form.
class ParameterTool {
 public:
  ParameterTool() = default;
  // Parses "--key value", "-key value" and bare "--flag" (value "true").
  // Throws std::invalid_argument on a value without a key.
  static ParameterTool fromArgs(const std::vector<std::string>& args);

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // The value of `key`, or `default_value` if absent.
  std::string get(const std::string& key, const std::string& default_value = "") const;
  // The value of `key`; throws std::invalid_argument naming the key if absent.
  std::string getRequired(const std::string& key) const;
  // Numeric values; a value that is not a number throws std::invalid_argument.
  int64_t getLong(const std::string& key, int64_t default_value) const;
  int getInt(const std::string& key, int default_value) const;
  const std::vector<std::string>& args() const { return args_; }
  const std::map<std::string, std::string>& toMap() const { return values_; }

 private:
  std::vector<std::string> args_;
  std::map<std::string, std::string> values_;
};

// What execute() returns for a finished job.
class JobExecutionResult {
 public:
  JobExecutionResult(std::string job_id, int64_t net_runtime_ms)
      : job_id_(std::move(job_id)), net_runtime_ms_(net_runtime_ms) {}
  const std::string& getJobID() const { return job_id_; }
  // Wall-clock time the job ran, in milliseconds.
  int64_t getNetRuntime() const { return net_runtime_ms_; }

 private:
  std::string job_id_;
  int64_t net_runtime_ms_;
};

// Thrown by execute() when the job fails or is cancelled; the message holds the
// root cause.
class JobExecutionException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace internal {
class PipelineExecutor;
enum class EnvironmentMode { kPlan, kMaterialize };
}  // namespace internal

enum class CheckpointingMode { EXACTLY_ONCE, AT_LEAST_ONCE };

class StreamExecutionEnvironment {
 public:
  // A local environment; execute() runs the job on an embedded cluster.
  explicit StreamExecutionEnvironment(std::map<std::string, std::string> config = {});
  ~StreamExecutionEnvironment();
  StreamExecutionEnvironment(const StreamExecutionEnvironment&) = delete;
  StreamExecutionEnvironment& operator=(const StreamExecutionEnvironment&) = delete;

  // The environment of the running program (set by the program runner), or a
  // local environment for code that runs outside one.
  static StreamExecutionEnvironment& getExecutionEnvironment();
  static std::unique_ptr<StreamExecutionEnvironment> createLocalEnvironment(int parallelism = 1);

  StreamExecutionEnvironment& setParallelism(int parallelism);
  int getParallelism() const { return parallelism_; }
  StreamExecutionEnvironment& setMaxParallelism(int max_parallelism);
  int getMaxParallelism() const { return max_parallelism_; }
  // How long a partly filled network buffer may wait before it is sent:
  // 0 sends every record at once, -1 only full buffers.
  StreamExecutionEnvironment& setBufferTimeout(int64_t millis);
  int64_t getBufferTimeout() const { return buffer_timeout_ms_; }
  // Configuration (config.yaml + -D) the job runs with; keys as in Flink.
  const std::map<std::string, std::string>& getConfiguration() const { return config_; }
  // Takes a checkpoint every `interval_ms` (execution.checkpointing.interval
  // and .mode); checkpoints go to state.checkpoints.dir.
  StreamExecutionEnvironment& enableCheckpointing(int64_t interval_ms,
                                                  CheckpointingMode mode = CheckpointingMode::EXACTLY_ONCE) {
    config_["execution.checkpointing.interval"] = std::to_string(interval_ms) + " ms";
    config_["execution.checkpointing.mode"] = mode == CheckpointingMode::EXACTLY_ONCE ? "EXACTLY_ONCE" : "AT_LEAST_ONCE";
    return *this;
  }

  // ---- Sources (defined in eddy/datastream.h) ----
  template <class T, class... More>
  DataStreamSource<T> fromElements(T first, More... more);
  template <class T>
  DataStreamSource<T> fromCollection(std::vector<T> elements);
  // Lines of a file, or of every file in a directory (bounded, parallel by splits).
  DataStreamSource<std::string> readTextFile(const std::string& path);
  // Lines from a TCP server; unbounded, ends when the peer closes the connection.
  DataStreamSource<std::string> socketTextStream(const std::string& host, int port,
                                                 char delimiter = '\n');
  // The numbers [from, to], split into contiguous ranges across subtasks.
  DataStreamSource<int64_t> fromSequence(int64_t from, int64_t to);
  // A user source: a SourceFunction (non-parallel) or RichParallelSourceFunction.
  template <class S>
  DataStreamSource<typename S::OutputType> addSource(S source, const std::string& name = "Custom Source");

  // Builds the job graph from everything declared so far, runs it and waits.
  // Throws JobExecutionException if the job fails.
  JobExecutionResult execute(const std::string& job_name = "Eddy Streaming Job");

  // ---- Internal, used by the runtime and the DataStream templates. ----
  internal::StreamGraph& stream_graph() { return *graph_; }
  std::shared_ptr<internal::StreamGraph> TakeStreamGraph();
  void SetMode(internal::EnvironmentMode mode) { mode_ = mode; }
  void SetExecutor(std::shared_ptr<internal::PipelineExecutor> executor);
  void SetProgram(std::string name, std::vector<std::string> args);
  void SetConfiguration(std::map<std::string, std::string> config);
  // Materialize mode: what execute() captured (graph finalized, serialized
  // proto::JobGraph) or the error that prevented it.
  std::shared_ptr<internal::StreamGraph> materialized_graph() const { return materialized_graph_; }
  const std::string& materialized_job_graph() const { return materialized_job_graph_; }
  const std::string& materialized_error() const { return materialized_error_; }

 private:
  template <class T, class S>
  DataStreamSource<T> AddSourceNode(S source, const std::string& name, bool parallel);

  std::map<std::string, std::string> config_;
  int parallelism_ = 1;
  int max_parallelism_ = 128;
  int64_t buffer_timeout_ms_ = 100;
  std::shared_ptr<internal::StreamGraph> graph_;
  internal::EnvironmentMode mode_ = internal::EnvironmentMode::kPlan;
  std::shared_ptr<internal::PipelineExecutor> executor_;
  std::string program_name_;
  std::vector<std::string> program_args_;
  std::shared_ptr<internal::StreamGraph> materialized_graph_;
  std::string materialized_job_graph_;
  std::string materialized_error_;
};

namespace internal {

// Runs a job graph somewhere (the embedded cluster, or a remote JobManager).
class PipelineExecutor {
 public:
  virtual ~PipelineExecutor() = default;
  // `job_graph` is a serialized proto::JobGraph; `plan` is the graph the client
  // built (an embedded cluster may run it directly). Throws
  // JobExecutionException on failure.
  virtual JobExecutionResult Execute(const std::string& job_graph,
                                     std::shared_ptr<StreamGraph> plan) = 0;
};

// The executor an environment uses when none was set: the embedded cluster.
// The client library registers it at load time.
using ExecutorFactory = std::shared_ptr<PipelineExecutor> (*)(
    const std::map<std::string, std::string>& config);
void SetDefaultExecutorFactory(ExecutorFactory factory);

// Thrown by execute() in materialize mode, after the graph was captured, to
// leave the program body; the program runner catches it.
struct ProgramAbort {};

}  // namespace internal
}  // namespace eddy
