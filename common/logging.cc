// InitLogging: builds spdlog's default logger from the configuration, with
// Flink-like log lines ("2024-05-01 12:00:00,123 INFO  [tid] name - msg") so
// people and tools used to Flink's logs can read Eddy's.
#include "common/logging.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "common/config_options.h"
#include "eddy/status.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace eddy {
namespace {
// Until a process calls InitLogging (daemons and the CLI do), Eddy code running
// inside someone else's program (tests, benchmarks, embedded use) logs only
// warnings and errors, to stderr, so that stdout stays the program's own.
[[maybe_unused]] const bool kQuietDefaultLogger = [] {
  auto logger = std::make_shared<spdlog::logger>(
      "eddy", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return true;
}();
}  // namespace
}  // namespace eddy

namespace eddy {
namespace {

// Writes the level as Flink's log4j does ("INFO ", "WARN ", "ERROR"): spdlog's
// own names are lower-case and say "warning"/"critical".
class UpperCaseLevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const std::string_view name = LevelName(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<UpperCaseLevelFlag>();
  }

 private:
  static std::string_view LevelName(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace:
        return "TRACE";
      case spdlog::level::debug:
        return "DEBUG";
      case spdlog::level::info:
        return "INFO ";
      case spdlog::level::warn:
        return "WARN ";
      case spdlog::level::err:
        return "ERROR";
      case spdlog::level::critical:
        return "FATAL";
      default:
        return "OFF  ";
    }
  }
};

// Timestamp, level, thread id, logger (process) name, message.
constexpr char kPattern[] = "%Y-%m-%d %H:%M:%S,%e %* [%t] %n - %v";

std::unique_ptr<spdlog::formatter> MakeFormatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<UpperCaseLevelFlag>('*').set_pattern(kPattern);
  return formatter;
}

absl::StatusOr<spdlog::level::level_enum> ParseLevel(
    const Configuration& config, const ConfigOption& option) {
  ASSIGN_OR_RETURN(std::string level,
                   config.GetEnum(option, {"TRACE", "DEBUG", "INFO", "WARN",
                                           "ERROR", "OFF"}));
  if (level == "TRACE") return spdlog::level::trace;
  if (level == "DEBUG") return spdlog::level::debug;
  if (level == "INFO") return spdlog::level::info;
  if (level == "WARN") return spdlog::level::warn;
  if (level == "ERROR") return spdlog::level::err;
  return spdlog::level::off;
}

std::string HostName() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') {
    return "localhost";
  }
  return buffer;
}

}  // namespace

std::string LogFileName(std::string_view process_name) {
  return absl::StrFormat("eddy-%s-%s.log", process_name, HostName());
}

absl::Status InitLogging(std::string_view process_name,
                         const Configuration& config) {
  ASSIGN_OR_RETURN(spdlog::level::level_enum level,
                   ParseLevel(config, kLogLevel));
  ASSIGN_OR_RETURN(spdlog::level::level_enum stderr_level,
                   ParseLevel(config, kLogStderrLevel));
  ASSIGN_OR_RETURN(std::string log_dir, config.GetString(kLogDir));

  std::vector<spdlog::sink_ptr> sinks;
  try {
    auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    // The logger filters at `level` first, so a stderr level below it would
    // be meaningless; max() makes that explicit.
    stderr_sink->set_level(std::max(stderr_level, level));
    sinks.push_back(std::move(stderr_sink));

    if (!log_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(log_dir, ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("cannot create log directory '", log_dir,
                         "' (env.log.dir): ", ec.message()));
      }
      const std::string path =
          (std::filesystem::path(log_dir) / LogFileName(process_name)).string();
      auto file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
          path, /*truncate=*/false);
      file_sink->set_level(level);
      sinks.push_back(std::move(file_sink));
    }

    auto logger = std::make_shared<spdlog::logger>(std::string(process_name),
                                                   sinks.begin(), sinks.end());
    logger->set_formatter(MakeFormatter());
    logger->set_level(level);
    // Warnings and errors reach the file at once, so they survive a crash;
    // everything else is flushed periodically below.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
    spdlog::flush_every(std::chrono::seconds(1));
  } catch (const std::exception& e) {
    // spdlog reports failures (e.g. an unwritable log file) by throwing.
    return absl::InternalError(absl::StrFormat(
        "cannot set up logging for '%s': %s", process_name, e.what()));
  }
  return absl::OkStatus();
}

}  // namespace eddy
