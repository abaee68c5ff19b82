// What every Eddy binary does at start: find its distribution, read
// conf/config.yaml (or --configDir), apply -D overrides; and how daemons wait
// for SIGTERM/SIGINT.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace eddy {

// The distribution's root: the parent of the running binary's directory.
std::filesystem::path InstallDir();

struct ProcessArgs {
  std::string config_dir;               // --configDir; empty: $EDDY_CONF_DIR or <install>/conf
  std::vector<std::string> overrides;   // -D key=value
  std::vector<std::string> rest;        // anything else, in order
};

// Splits --configDir / -D from the other arguments; -Dkey=value and
// -D key=value are both accepted.
absl::StatusOr<ProcessArgs> ParseProcessArgs(const std::vector<std::string>& args);

// config.yaml from the configured directory (absent file: defaults), env.log.dir
// defaulted to <install>/log when that exists, then the -D overrides.
absl::StatusOr<Configuration> LoadProcessConfiguration(const ProcessArgs& args);

// Wall-clock time in milliseconds since the epoch (REST and RPC timestamps).
int64_t EpochMillis();

// A daemon's start: blocks termination signals, parses --configDir/-D (no
// other arguments), loads the configuration and starts logging as `process`.
// Errors are printed as one "Error: ..." line.
absl::StatusOr<Configuration> StartDaemon(const std::string& process, const std::vector<std::string>& argv);

// Logs and prints `message` as the daemon's one error line; returns exit code 1.
int DaemonFailure(const std::string& message);

// Blocks SIGTERM and SIGINT in the calling thread (call before starting other
// threads, so they inherit the mask) ...
void BlockTerminationSignals();
// ... and waits for one of them; returns its name.
std::string WaitForTerminationSignal();

}  // namespace eddy
