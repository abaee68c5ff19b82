// `eddy`: the command-line client, in the manner of `flink run`.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "client/local_cluster.h"
#include "client/remote_executor.h"
#include "common/process.h"
#include <grpcpp/grpcpp.h>
#include "client/program_loader.h"
#include "common/config.h"
#include "common/config_options.h"
#include "common/logging.h"
#include "eddy/status.h"
#include "eddy/version.h"
#include "google/protobuf/util/json_util.h"

namespace eddy::client {
namespace {

constexpr const char* kUsage = R"(Usage: eddy <action> [options]

Actions:
  run    [options] <job library> [program arguments]
         Runs a program of a job library on the cluster (or --target local).
  info   [options] <job library> [program arguments]
         Prints the job graph the program builds, as JSON, without running it.
  list   [-m host:port]          Lists the cluster's jobs.
  cancel [-m host:port] <jobId>  Cancels a job.
  stop   [-m host:port] [-p <savepointPath>] [-d] <jobId>
         Stops a job with a savepoint: its sources stop right after the
         savepoint and the job finishes.
  savepoint [-m host:port] <jobId> [targetDirectory]
         Takes a savepoint of a running job; the job keeps running.
  savepoint [-m host:port] -d <savepointPath>
         Disposes of (deletes) a savepoint.

Options for run and info:
  -c, --class <name>         the EDDY_PROGRAM to run (optional if the library has one)
  -p, --parallelism <n>      default parallelism of the job (parallelism.default)
  -t, --target <target>      where to run: "remote" (the JobManager of -m; the
                             default) or "local" (an embedded cluster in this process)
  -m, --jobmanager <host:port>  the JobManager's RPC address; default
                             jobmanager.rpc.address:jobmanager.rpc.port from the config
  -d, --detached             return once the job is submitted (remote target)
  -s, --fromSavepoint <path> restore the job's state from a savepoint or a retained
                             checkpoint (execution.savepoint.path)
  -n, --allowNonRestoredState  with -s: skip state of operators the job no longer has
                             (execution.savepoint.ignore-unclaimed-state)
  -D <key>=<value>           set a configuration option (repeatable)

Options for stop:
  -p, --savepointPath <dir>  where to write the savepoint; default state.savepoints.dir
  -d, --drain                emit MAX_WATERMARK before the savepoint, firing every
                             event-time timer and window (for a job that will not
                             be resumed)

Options for savepoint:
  -d, --dispose <path>       dispose of the savepoint at <path> instead
  A savepoint without targetDirectory goes to state.savepoints.dir.

stop and savepoint wait for the savepoint to complete (at most 10 minutes).
list, cancel, stop and savepoint also take -m and -D like run.
Configuration is read from $EDDY_CONF_DIR/config.yaml, else from conf/config.yaml
beside the installed bin/ directory; -D options override it.
`run` without -d waits for the job and exits 0 only if it FINISHED.
)";

struct RunOptions {
  std::string program;
  std::string target = "remote";
  std::string jobmanager;
  bool detached = false;
  std::vector<std::string> overrides;
  std::optional<int> parallelism;
  std::string savepoint_path;       // -s
  bool allow_non_restored = false;  // -n
  std::string library;
  std::vector<std::string> program_args;
};

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "Error: " << error << "\n\n";
  std::cerr << kUsage;
  return error.empty() ? 0 : 2;
}

// The JobManager resolves paths against its own working directory, while the
// user means the shell's: plain relative paths are made absolute here. URIs
// ("file://...") pass as they are.
std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path.find("://") != std::string::npos || path.rfind("file:", 0) == 0) return path;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

// Options stop at the job library; everything after it belongs to the program.
absl::StatusOr<RunOptions> ParseRunOptions(const std::vector<std::string>& args) {
  RunOptions o;
  size_t i = 0;
  auto value = [&](const std::string& flag) -> absl::StatusOr<std::string> {
    if (i + 1 >= args.size()) return absl::InvalidArgumentError("option " + flag + " needs a value");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-c" || a == "--class") {
      ASSIGN_OR_RETURN(o.program, value(a));
    } else if (a == "-p" || a == "--parallelism") {
      ASSIGN_OR_RETURN(std::string p, value(a));
      int n = 0;
      if (!absl::SimpleAtoi(p, &n) || n < 1) {
        return absl::InvalidArgumentError("-p expects a positive number, got '" + p + "'");
      }
      o.parallelism = n;
    } else if (a == "-t" || a == "--target") {
      ASSIGN_OR_RETURN(o.target, value(a));
    } else if (a == "-m" || a == "--jobmanager") {
      ASSIGN_OR_RETURN(o.jobmanager, value(a));
    } else if (a == "-d" || a == "--detached") {
      o.detached = true;
    } else if (a == "-s" || a == "--fromSavepoint") {
      ASSIGN_OR_RETURN(o.savepoint_path, value(a));
      if (o.savepoint_path.empty()) return absl::InvalidArgumentError(a + " needs a savepoint path");
    } else if (a == "-n" || a == "--allowNonRestoredState") {
      o.allow_non_restored = true;
    } else if (a == "-D") {
      ASSIGN_OR_RETURN(std::string kv, value(a));
      o.overrides.push_back(kv);
    } else if (a.rfind("-D", 0) == 0 && a.size() > 2) {
      o.overrides.push_back(a.substr(2));
    } else if (!a.empty() && a[0] == '-') {
      return absl::InvalidArgumentError("unknown option " + a);
    } else {
      o.library = a;
      o.program_args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
  }
  if (o.library.empty()) return absl::InvalidArgumentError("missing the job library to run");
  if (o.target != "local" && o.target != "remote") {
    return absl::InvalidArgumentError("unknown target '" + o.target + "': expected local or remote");
  }
  return o;
}

absl::StatusOr<Configuration> LoadConfiguration(const RunOptions& o) {
  ProcessArgs args;
  args.overrides = o.overrides;
  ASSIGN_OR_RETURN(Configuration config, LoadProcessConfiguration(args));
  if (o.parallelism) config.Set("parallelism.default", std::to_string(*o.parallelism));
  // The restore settings travel in the job's configuration, which becomes
  // the JobGraph's config map for both the remote and the local target.
  if (!o.savepoint_path.empty()) config.Set(std::string(kSavepointPath.key), AbsolutePath(o.savepoint_path));
  if (o.allow_non_restored) config.Set(std::string(kSavepointIgnoreUnclaimed.key), "true");
  // Validate the options the client itself uses, so errors name the key.
  RETURN_IF_ERROR(config.GetInt("parallelism.default", 1).status());
  RETURN_IF_ERROR(config.GetInt("pipeline.max-parallelism", 128).status());
  RETURN_IF_ERROR(config.GetDuration("execution.buffer-timeout", std::chrono::milliseconds(100)).status());
  RETURN_IF_ERROR(config.GetInt("taskmanager.memory.network.buffers", 2048).status());
  return config;
}

// Records what the last job did, for the summary the CLI prints.
class ReportingExecutor final : public internal::PipelineExecutor {
 public:
  explicit ReportingExecutor(std::shared_ptr<internal::PipelineExecutor> inner) : inner_(std::move(inner)) {}
  JobExecutionResult Execute(const std::string& job_graph,
                             std::shared_ptr<internal::StreamGraph> plan) override {
    JobExecutionResult result = inner_->Execute(job_graph, std::move(plan));
    last_ = result;
    return result;
  }
  std::optional<JobExecutionResult> last_;

 private:
  std::shared_ptr<internal::PipelineExecutor> inner_;
};

// Runs the program and prints Flink's summary of the job it ran.
int RunAndReport(const internal::RegisteredProgram& program, const RunOptions& options,
                 const std::map<std::string, std::string>& conf,
                 std::shared_ptr<internal::PipelineExecutor> inner, bool detached) {
  auto executor = std::make_shared<ReportingExecutor>(std::move(inner));
  absl::Status status = RunProgram(program, options.program_args, conf, executor);
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << "Error: " << status.message() << "\n";
    return 1;
  }
  if (executor->last_ && !detached) {
    std::cout << "Program execution finished\n"
              << "Job with JobID " << executor->last_->getJobID() << " has finished.\n"
              << "Job Runtime: " << executor->last_->getNetRuntime() << " ms\n";
  }
  return 0;
}

// -m if given, else jobmanager.rpc.address:jobmanager.rpc.port.
absl::StatusOr<std::string> JobManagerAddress(const Configuration& config, const std::string& flag) {
  if (!flag.empty()) {
    if (flag.find(':') == std::string::npos) {
      return absl::InvalidArgumentError("-m expects host:port, got '" + flag + "'");
    }
    return flag;
  }
  ASSIGN_OR_RETURN(std::string host, config.GetString("jobmanager.rpc.address", "localhost"));
  ASSIGN_OR_RETURN(int64_t port, config.GetInt("jobmanager.rpc.port", 6123));
  return host + ":" + std::to_string(port);
}

// The JobManager address for `list`, `cancel`, `stop` and `savepoint`: -m, else
// the configuration (with --configDir and -D applied).
absl::StatusOr<std::string> ClusterAddress(const ProcessArgs& args, const std::string& flag) {
  ASSIGN_OR_RETURN(Configuration config, LoadProcessConfiguration(args));
  return JobManagerAddress(config, flag);
}

// `list` and `cancel`: [-m host:port] [-D k=v] [jobId].
int ClusterAction(const std::string& action, const std::vector<std::string>& argv) {
  auto args = ParseProcessArgs(argv);
  if (!args.ok()) return Usage(std::string(args.status().message()));
  std::string flag;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args->rest.size(); ++i) {
    if ((args->rest[i] == "-m" || args->rest[i] == "--jobmanager") && i + 1 < args->rest.size()) {
      flag = args->rest[++i];
    } else if (!args->rest[i].empty() && args->rest[i][0] == '-') {
      return Usage("unknown option " + args->rest[i]);
    } else {
      positional.push_back(args->rest[i]);
    }
  }
  auto address = ClusterAddress(*args, flag);
  if (!address.ok()) {
    std::cerr << "Error: " << address.status().message() << "\n";
    return 1;
  }
  auto stub = ConnectDispatcher(*address);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto unreachable = [&](const grpc::Status& s) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cerr << "Error: cannot reach the JobManager at " << *address << ": " << s.error_message() << "\n";
    } else {
      std::cerr << "Error: " << s.error_message() << "\n";
    }
    return 1;
  };
  if (action == "list") {
    proto::ListJobsResponse jobs;
    grpc::Status s = stub->ListJobs(&ctx, proto::Empty(), &jobs);
    if (!s.ok()) return unreachable(s);
    bool any_running = false, any_ended = false;
    for (const auto& j : jobs.jobs()) (j.end_time() < 0 ? any_running : any_ended) = true;
    auto print = [&](bool running) {
      for (const auto& j : jobs.jobs()) {
        if ((j.end_time() < 0) != running) continue;
        std::time_t t = static_cast<std::time_t>(j.start_time() / 1000);
        char when[32];
        std::strftime(when, sizeof(when), "%d.%m.%Y %H:%M:%S", std::localtime(&t));
        std::cout << when << " : " << j.job_id() << " : " << j.name() << " (" << j.state() << ")\n";
      }
    };
    std::cout << "------------------ Running/Restarting Jobs -------------------\n";
    if (any_running) print(true); else std::cout << "No running jobs.\n";
    std::cout << "--------------------------------------------------------------\n";
    std::cout << "---------------------- Terminated Jobs -----------------------\n";
    if (any_ended) print(false); else std::cout << "No terminated jobs.\n";
    std::cout << "--------------------------------------------------------------\n";
    return 0;
  }
  if (positional.size() != 1) return Usage("cancel expects exactly one job id");
  proto::JobId id;
  id.set_job_id(positional[0]);
  proto::Empty empty;
  std::cout << "Cancelling job " << positional[0] << ".\n";
  grpc::Status s = stub->CancelJob(&ctx, id, &empty);
  if (!s.ok()) return unreachable(s);
  std::cout << "Cancelled job " << positional[0] << ".\n";
  return 0;
}

// A savepoint may take long (large state, slow storage); like Flink's
// client.timeout for these commands, the client waits generously.
constexpr std::chrono::minutes kSavepointTimeout{10};

// `stop [-p dir] [-d] <jobId>`, `savepoint <jobId> [dir]` and
// `savepoint -d <path>`, each with [-m host:port] [-D k=v]; messages as
// Flink's CLI prints them.
int SavepointAction(const std::string& action, const std::vector<std::string>& argv) {
  auto args = ParseProcessArgs(argv);
  if (!args.ok()) return Usage(std::string(args.status().message()));
  const bool stop = action == "stop";
  std::string flag, directory, dispose;
  bool drain = false, disposing = false;
  std::vector<std::string> positional;
  const std::vector<std::string>& rest = args->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= rest.size()) return false;
      *out = rest[++i];
      return true;
    };
    if (a == "-h" || a == "--help") return Usage("");
    if (a == "-m" || a == "--jobmanager") {
      if (!value(&flag)) return Usage("option " + a + " needs host:port");
    } else if (stop && (a == "-p" || a == "--savepointPath")) {
      if (!value(&directory) || directory.empty()) return Usage("option " + a + " needs a directory");
    } else if (stop && (a == "-d" || a == "--drain")) {
      drain = true;
    } else if (!stop && (a == "-d" || a == "--dispose")) {
      if (!value(&dispose) || dispose.empty()) return Usage("option " + a + " needs the savepoint path");
      disposing = true;
    } else if (!a.empty() && a[0] == '-') {
      return Usage("unknown option " + a + " for " + action);
    } else {
      positional.push_back(a);
    }
  }
  if (stop && positional.size() != 1) return Usage("stop expects exactly one job id");
  if (!stop && disposing && !positional.empty()) {
    return Usage("savepoint --dispose takes only the savepoint path, not '" + positional[0] + "'");
  }
  if (!stop && !disposing && (positional.empty() || positional.size() > 2)) {
    return Usage("savepoint expects a job id and optionally a target directory");
  }
  if (!stop && positional.size() == 2) directory = positional[1];

  auto address = ClusterAddress(*args, flag);
  if (!address.ok()) {
    std::cerr << "Error: " << address.status().message() << "\n";
    return 1;
  }
  auto stub = ConnectDispatcher(*address);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kSavepointTimeout);
  auto failed = [&](const grpc::Status& s, const std::string& what) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::cerr << "Error: cannot reach the JobManager at " << *address << ": " << s.error_message() << "\n";
    } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cerr << "Error: " << what << ": no answer from the JobManager at " << *address << " within "
                << kSavepointTimeout.count() << " minutes (the operation may still complete there)\n";
    } else {
      std::cerr << "Error: " << what << ": " << s.error_message() << "\n";
    }
    return 1;
  };

  if (disposing) {
    std::cout << "Disposing savepoint '" << dispose << "'.\n"
              << "Waiting for response..." << std::endl;
    proto::DisposeSavepointRequest request;
    request.set_path(AbsolutePath(dispose));
    proto::Empty empty;
    grpc::Status s = stub->DisposeSavepoint(&ctx, request, &empty);
    if (!s.ok()) return failed(s, "Disposing the savepoint '" + dispose + "' failed");
    std::cout << "Savepoint '" << dispose << "' disposed.\n";
    return 0;
  }

  const std::string& job_id = positional[0];
  proto::SavepointRequest request;
  request.set_job_id(job_id);
  request.set_target_directory(AbsolutePath(directory));
  request.set_stop(stop);
  request.set_drain(drain);
  if (stop) {
    std::cout << (drain ? "Draining job \"" : "Suspending job \"") << job_id << "\" with a savepoint." << std::endl;
  } else {
    std::cout << "Triggering savepoint for job " << job_id << ".\n"
              << "Waiting for response..." << std::endl;
  }
  proto::SavepointResponse response;
  grpc::Status s = stub->TriggerSavepoint(&ctx, request, &response);
  if (!s.ok()) {
    return failed(s, stop ? "Could not stop with a savepoint job \"" + job_id + "\""
                          : "Triggering a savepoint for the job " + job_id + " failed");
  }
  std::cout << "Savepoint completed. Path: " << response.path() << "\n";
  if (!stop) std::cout << "You can resume your program from this savepoint with the run command.\n";
  return 0;
}

int Run(const std::vector<std::string>& args, bool info_only) {
  auto options = ParseRunOptions(args);
  if (!options.ok()) return Usage(std::string(options.status().message()));
  auto config = LoadConfiguration(*options);
  if (!config.ok()) {
    std::cerr << "Error: " << config.status().message() << "\n";
    return 1;
  }
  if (!config->Contains("env.log.stderr-level")) config->Set("env.log.stderr-level", "OFF");
  if (auto s = InitLogging("client", *config); !s.ok()) {
    std::cerr << "Error: " << s.message() << "\n";
    return 1;
  }
  auto library = JobLibrary::Load(options->library);
  if (!library.ok()) {
    std::cerr << "Error: " << library.status().message() << "\n";
    return 1;
  }
  auto program = (*library)->Find(options->program);
  if (!program.ok()) {
    std::cerr << "Error: " << program.status().message() << "\n";
    return 1;
  }
  const std::map<std::string, std::string>& conf = config->entries();

  if (info_only) {
    auto plan = MaterializeProgram(*program, options->program_args, conf);
    if (!plan.ok()) {
      std::cerr << "Error: " << plan.status().message() << "\n";
      return 1;
    }
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(plan->job_graph, &json, print).ok()) {
      std::cerr << "Error: cannot print the job graph\n";
      return 1;
    }
    std::cout << json;
    return 0;
  }

  auto on_submitted = [](const std::string& job_id) {
    std::cout << "Job has been submitted with JobID " << job_id << std::endl;
  };
  if (options->target == "remote") {
    auto address = JobManagerAddress(*config, options->jobmanager);
    if (!address.ok()) {
      std::cerr << "Error: " << address.status().message() << "\n";
      return 1;
    }
    RemoteOptions remote;
    remote.jobmanager_address = *address;
    remote.library_path = options->library;
    remote.detached = options->detached;
    remote.on_submitted = on_submitted;
    return RunAndReport(*program, *options, conf, std::make_shared<RemoteExecutor>(remote),
                        options->detached);
  }

  LocalClusterOptions cluster;
  cluster.config = conf;
  internal::RegisteredProgram chosen = *program;
  // Like a TaskManager, the embedded cluster rebuilds the operators by running
  // the program again and checks that it built the same graph.
  cluster.graph_provider = [chosen](const proto::JobGraph& job) { return RebuildJobGraph(chosen, job); };
  cluster.on_submitted = on_submitted;
  return RunAndReport(*program, *options, conf, std::make_shared<LocalExecutor>(std::move(cluster)),
                      false);
}

}  // namespace
}  // namespace eddy::client

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    return eddy::client::Usage("");
  }
  if (args[0] == "--version" || args[0] == "-v") {
    std::cout << "Eddy " << EDDY_VERSION << " (ABI " << EDDY_ABI_VERSION << ")\n";
    return 0;
  }
  std::string action = args[0];
  args.erase(args.begin());
  if (action == "run") return eddy::client::Run(args, false);
  if (action == "info") return eddy::client::Run(args, true);
  if (action == "list" || action == "cancel") return eddy::client::ClusterAction(action, args);
  if (action == "stop" || action == "savepoint") return eddy::client::SavepointAction(action, args);
  return eddy::client::Usage("unknown action '" + action + "'");
}
