// Process start-up helpers (see process.h).
#include "common/process.h"

#include <csignal>
#include <cstdlib>

#include <chrono>
#include <iostream>

#include "common/logging.h"
#include "eddy/status.h"
#include "spdlog/spdlog.h"

namespace eddy {

std::filesystem::path InstallDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : exe.parent_path().parent_path();
}

absl::StatusOr<ProcessArgs> ParseProcessArgs(const std::vector<std::string>& args) {
  ProcessArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--configDir" || a == "-c") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--configDir needs a directory");
      out.config_dir = args[++i];
    } else if (a == "-D") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("-D needs key=value");
      out.overrides.push_back(args[++i]);
    } else if (a.rfind("-D", 0) == 0 && a.size() > 2) {
      out.overrides.push_back(a.substr(2));
    } else {
      out.rest.push_back(a);
    }
  }
  return out;
}

absl::StatusOr<Configuration> LoadProcessConfiguration(const ProcessArgs& args) {
  std::filesystem::path dir = args.config_dir;
  if (dir.empty()) {
    const char* env = std::getenv("EDDY_CONF_DIR");
    dir = env ? std::filesystem::path(env) : InstallDir() / "conf";
  }
  Configuration config;
  std::error_code ec;
  if (std::filesystem::exists(dir / "config.yaml", ec)) {
    ASSIGN_OR_RETURN(config, Configuration::LoadYamlFile((dir / "config.yaml").string()));
  } else if (!args.config_dir.empty()) {
    return absl::NotFoundError("no config.yaml in --configDir " + args.config_dir);
  }
  if (!config.Contains("env.log.dir") && std::filesystem::is_directory(InstallDir() / "log", ec)) {
    config.Set("env.log.dir", (InstallDir() / "log").string());
  }
  for (const auto& kv : args.overrides) RETURN_IF_ERROR(config.ApplyOverride(kv));
  return config;
}

int64_t EpochMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int DaemonFailure(const std::string& message) {
  spdlog::error("{}", message);
  std::cerr << "Error: " << message << "\n";
  return 1;
}

absl::StatusOr<Configuration> StartDaemon(const std::string& process, const std::vector<std::string>& argv) {
  BlockTerminationSignals();
  ASSIGN_OR_RETURN(ProcessArgs args, ParseProcessArgs(argv));
  if (!args.rest.empty()) return absl::InvalidArgumentError("unexpected argument '" + args.rest.front() + "'");
  ASSIGN_OR_RETURN(Configuration config, LoadProcessConfiguration(args));
  RETURN_IF_ERROR(InitLogging(process, config));
  return config;
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

std::string WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace eddy
