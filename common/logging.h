// Process-wide logging setup. Every Eddy binary calls InitLogging once its
// configuration is known; all other code just logs through spdlog's default
// logger (spdlog::info(...), spdlog::warn(...)).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/config.h"

namespace eddy {

// Installs spdlog's default logger for this process:
//  - stderr, from env.log.stderr-level (WARN by default) up, but never below
//    env.log.level, so problems show in the terminal even for daemons;
//  - if env.log.dir is set and non-empty, the file
//    <env.log.dir>/eddy-<process_name>-<hostname>.log (appended to; the
//    directory is created), at env.log.level.
// env.log.level is one of TRACE, DEBUG, INFO, WARN, ERROR, OFF
// (case-insensitive). InvalidArgument names the key and value of a bad level;
// a log directory or file that cannot be created is reported with its path.
// Calling it again reconfigures; do so before other threads log, because
// spdlog does not synchronise replacing the default logger with its use.
absl::Status InitLogging(std::string_view process_name,
                         const Configuration& config);

// "eddy-<process_name>-<hostname>.log": the log file name InitLogging uses, so
// the REST server and scripts can find a process's log.
std::string LogFileName(std::string_view process_name);

}  // namespace eddy
