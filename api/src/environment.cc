// StreamExecutionEnvironment and ParameterTool.
#include "eddy/environment.h"

#include <chrono>
#include <mutex>

#include "absl/strings/numbers.h"
#include "api/src/job_graph_builder.h"
#include "common/config.h"
#include "eddy/datastream.h"

namespace eddy {
namespace {

std::mutex g_factory_mu;
internal::ExecutorFactory g_default_factory = nullptr;
thread_local StreamExecutionEnvironment* t_context_env = nullptr;

}  // namespace

namespace internal {
void SetDefaultExecutorFactory(ExecutorFactory factory) {
  std::lock_guard<std::mutex> lock(g_factory_mu);
  g_default_factory = factory;
}
// Makes `env` the one getExecutionEnvironment() returns on this thread.
void SetContextEnvironment(StreamExecutionEnvironment* env) { t_context_env = env; }
}  // namespace internal

// ---- ParameterTool ----

namespace {
// "-3" and "-1.5e3" are values, not keys.
bool IsNumber(const std::string& text) {
  double ignored = 0;
  return absl::SimpleAtod(text, &ignored);
}
}  // namespace

ParameterTool ParameterTool::fromArgs(const std::vector<std::string>& args) {
  ParameterTool tool;
  tool.args_ = args;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string key;
    if (a.rfind("--", 0) == 0) {
      key = a.substr(2);
    } else if (a.size() > 1 && a[0] == '-' && !IsNumber(a)) {
      key = a.substr(1);
    } else {
      throw std::invalid_argument("program argument '" + a +
                                  "' has no key: expected --key value or --flag");
    }
    if (key.empty()) throw std::invalid_argument("program argument '" + a + "' has an empty key");
    bool next_is_value = i + 1 < args.size() &&
                         !(args[i + 1].rfind("--", 0) == 0) &&
                         !(args[i + 1].size() > 1 && args[i + 1][0] == '-' &&
                           !IsNumber(args[i + 1]));
    if (next_is_value) {
      tool.values_[key] = args[++i];
    } else {
      tool.values_[key] = "true";
    }
  }
  return tool;
}

std::string ParameterTool::get(const std::string& key, const std::string& default_value) const {
  auto it = values_.find(key);
  return it == values_.end() ? default_value : it->second;
}

std::string ParameterTool::getRequired(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::invalid_argument("no value for required argument --" + key);
  return it->second;
}

int64_t ParameterTool::getLong(const std::string& key, int64_t default_value) const {
  auto it = values_.find(key);
  if (it == values_.end()) return default_value;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v)) {
    throw std::invalid_argument("argument --" + key + " must be an integer, got '" + it->second + "'");
  }
  return v;
}

int ParameterTool::getInt(const std::string& key, int default_value) const {
  return static_cast<int>(getLong(key, default_value));
}

// ---- StreamExecutionEnvironment ----

StreamExecutionEnvironment::StreamExecutionEnvironment(std::map<std::string, std::string> config)
    : graph_(std::make_shared<internal::StreamGraph>()) {
  SetConfiguration(std::move(config));
}

StreamExecutionEnvironment::~StreamExecutionEnvironment() = default;

void StreamExecutionEnvironment::SetConfiguration(std::map<std::string, std::string> config) {
  config_ = std::move(config);
  Configuration conf;
  for (const auto& [k, v] : config_) conf.Set(k, v);
  auto check = [](auto status_or) {
    if (!status_or.ok()) throw std::invalid_argument(std::string(status_or.status().message()));
    return *status_or;
  };
  parallelism_ = static_cast<int>(check(conf.GetInt("parallelism.default", 1)));
  max_parallelism_ = static_cast<int>(check(conf.GetInt("pipeline.max-parallelism", 128)));
  buffer_timeout_ms_ =
      check(conf.GetDuration("execution.buffer-timeout", std::chrono::milliseconds(100))).count();
}

StreamExecutionEnvironment& StreamExecutionEnvironment::getExecutionEnvironment() {
  if (t_context_env != nullptr) return *t_context_env;
  thread_local StreamExecutionEnvironment local_env;
  return local_env;
}

std::unique_ptr<StreamExecutionEnvironment> StreamExecutionEnvironment::createLocalEnvironment(
    int parallelism) {
  auto env = std::make_unique<StreamExecutionEnvironment>();
  env->setParallelism(parallelism);
  return env;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setParallelism(int parallelism) {
  if (parallelism < 1) {
    throw std::invalid_argument("parallelism must be at least 1, got " + std::to_string(parallelism));
  }
  parallelism_ = parallelism;
  return *this;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setMaxParallelism(int max_parallelism) {
  if (max_parallelism < 1 || max_parallelism > 32768) {
    throw std::invalid_argument("max parallelism must be in [1, 32768], got " +
                                std::to_string(max_parallelism));
  }
  max_parallelism_ = max_parallelism;
  return *this;
}

StreamExecutionEnvironment& StreamExecutionEnvironment::setBufferTimeout(int64_t millis) {
  if (millis < -1) {
    throw std::invalid_argument("buffer timeout must be -1, 0 or positive, got " + std::to_string(millis));
  }
  buffer_timeout_ms_ = millis;
  return *this;
}

std::shared_ptr<internal::StreamGraph> StreamExecutionEnvironment::TakeStreamGraph() {
  auto graph = std::move(graph_);
  graph_ = std::make_shared<internal::StreamGraph>();
  return graph;
}

void StreamExecutionEnvironment::SetExecutor(std::shared_ptr<internal::PipelineExecutor> executor) {
  executor_ = std::move(executor);
}

void StreamExecutionEnvironment::SetProgram(std::string name, std::vector<std::string> args) {
  program_name_ = std::move(name);
  program_args_ = std::move(args);
}

JobExecutionResult StreamExecutionEnvironment::execute(const std::string& job_name) {
  internal::JobGraphOptions options;
  options.job_name = job_name;
  options.program_name = program_name_;
  options.program_args = program_args_;
  options.default_parallelism = parallelism_;
  options.max_parallelism = max_parallelism_;
  options.buffer_timeout_ms = buffer_timeout_ms_;
  options.config = config_;
  std::shared_ptr<internal::StreamGraph> plan = TakeStreamGraph();
  auto job = internal::BuildJobGraph(*plan, options);
  if (mode_ == internal::EnvironmentMode::kMaterialize) {
    // Rebuilding on a TaskManager: keep the graph and leave the program body.
    materialized_graph_ = plan;
    if (job.ok()) {
      materialized_job_graph_ = job->SerializeAsString();
    } else {
      materialized_error_ = std::string(job.status().message());
    }
    throw internal::ProgramAbort{};
  }
  if (!job.ok()) throw JobExecutionException(std::string(job.status().message()));
  std::shared_ptr<internal::PipelineExecutor> executor = executor_;
  if (!executor) {
    std::lock_guard<std::mutex> lock(g_factory_mu);
    if (g_default_factory == nullptr) {
      throw JobExecutionException("no executor available: link the Eddy client library");
    }
    executor = g_default_factory(config_);
  }
  return executor->Execute(job->SerializeAsString(), plan);
}

// ---- Non-template sources ----

DataStreamSource<std::string> StreamExecutionEnvironment::readTextFile(const std::string& path) {
  return AddSourceNode<std::string>(TextFileSource(path), "TextFile(" + path + ")", true);
}

DataStreamSource<std::string> StreamExecutionEnvironment::socketTextStream(const std::string& host,
                                                                           int port, char delimiter) {
  return AddSourceNode<std::string>(SocketTextSource(host, port, delimiter),
                                    "Socket Stream(" + host + ":" + std::to_string(port) + ")",
                                    false);
}

DataStreamSource<int64_t> StreamExecutionEnvironment::fromSequence(int64_t from, int64_t to) {
  return AddSourceNode<int64_t>(SequenceSource(from, to), "Sequence Source", true);
}

}  // namespace eddy
