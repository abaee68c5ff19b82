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
#include "client/program_loader.h"
#include "common/config.h"
#include "common/logging.h"
#include "eddy/status.h"
#include "eddy/version.h"
#include "google/protobuf/util/json_util.h"

namespace eddy::client {
namespace {

constexpr const char* kUsage = R"(Usage: eddy <action> [options]

Actions:
  run  [options] <job library> [program arguments]
       Runs a program of a job library.
  info [options] <job library> [program arguments]
       Prints the job graph the program builds, as JSON, without running it.

Options for run and info:
  -c, --class <name>         the EDDY_PROGRAM to run (optional if the library has one)
  -p, --parallelism <n>      default parallelism of the job (parallelism.default)
  -t, --target <target>      where to run: "local" (an embedded cluster in this
                             process; the default in this version) or "remote"
  -m, --jobmanager <host:port>  JobManager RPC address (remote target)
  -d, --detached             do not wait for the job (remote target)
  -D <key>=<value>           set a configuration option (repeatable)

Configuration is read from $EDDY_CONF_DIR/config.yaml, else from conf/config.yaml
beside the installed bin/ directory; -D options override it.
Other actions (list, cancel, stop, savepoint) need the cluster runtime, which
this version does not include yet.
)";

struct RunOptions {
  std::string program;
  std::string target = "local";
  std::string jobmanager;
  bool detached = false;
  std::vector<std::string> overrides;
  std::optional<int> parallelism;
  std::string library;
  std::vector<std::string> program_args;
};

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "Error: " << error << "\n\n";
  std::cerr << kUsage;
  return error.empty() ? 0 : 2;
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

std::filesystem::path InstallDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : exe.parent_path().parent_path();
}

absl::StatusOr<Configuration> LoadConfiguration(const RunOptions& o) {
  std::filesystem::path conf_dir;
  if (const char* dir = std::getenv("EDDY_CONF_DIR")) {
    conf_dir = dir;
  } else {
    conf_dir = InstallDir() / "conf";
  }
  Configuration config;
  std::error_code ec;
  if (std::filesystem::exists(conf_dir / "config.yaml", ec)) {
    ASSIGN_OR_RETURN(config, Configuration::LoadYamlFile((conf_dir / "config.yaml").string()));
  }
  if (!config.Contains("env.log.dir") && std::filesystem::is_directory(InstallDir() / "log", ec)) {
    config.Set("env.log.dir", (InstallDir() / "log").string());
  }
  for (const auto& kv : o.overrides) RETURN_IF_ERROR(config.ApplyOverride(kv));
  if (o.parallelism) config.Set("parallelism.default", std::to_string(*o.parallelism));
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
  explicit ReportingExecutor(LocalClusterOptions options) : inner_(std::move(options)) {}
  JobExecutionResult Execute(const std::string& job_graph,
                             std::shared_ptr<internal::StreamGraph> plan) override {
    JobExecutionResult result = inner_.Execute(job_graph, std::move(plan));
    last_ = result;
    return result;
  }
  std::optional<JobExecutionResult> last_;

 private:
  LocalExecutor inner_;
};

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
  if (options->target == "remote") {
    std::cerr << "Error: the remote target needs the cluster runtime (jobmanager/taskmanager "
                 "daemons), which this version does not include; use --target local\n";
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

  LocalClusterOptions cluster;
  cluster.config = conf;
  internal::RegisteredProgram chosen = *program;
  // Like a TaskManager, the embedded cluster rebuilds the operators by running
  // the program again and checks that it built the same graph.
  cluster.graph_provider = [chosen](const proto::JobGraph& job) { return RebuildJobGraph(chosen, job); };
  cluster.on_submitted = [](const std::string& job_id) {
    std::cout << "Job has been submitted with JobID " << job_id << std::endl;
  };
  auto executor = std::make_shared<ReportingExecutor>(std::move(cluster));
  absl::Status status = RunProgram(*program, options->program_args, conf, executor);
  std::cout.flush();
  if (!status.ok()) {
    std::cerr << "Error: " << status.message() << "\n";
    return 1;
  }
  if (executor->last_) {
    std::cout << "Program execution finished\n"
              << "Job with JobID " << executor->last_->getJobID() << " has finished.\n"
              << "Job Runtime: " << executor->last_->getNetRuntime() << " ms\n";
  }
  return 0;
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
  if (action == "list" || action == "cancel" || action == "stop" || action == "savepoint") {
    std::cerr << "Error: '" << action
              << "' needs the cluster runtime (jobmanager/taskmanager daemons), which this "
                 "version does not include yet\n";
    return 1;
  }
  return eddy::client::Usage("unknown action '" + action + "'");
}
