// The well-known configuration keys, with Flink's names where Flink has one,
// and their defaults. Keeping key, default and description together means a
// default is written once, the REST /config endpoint and `--help` texts can
// list them, and a typo in a key is a compile error rather than a silent
// fallback to the default.
#pragma once

#include <span>
#include <string_view>

namespace eddy {

// One configuration key. Defaults are strings in the same syntax a user
// writes in config.yaml, so they go through the same parser as user values
// (Configuration::GetDuration(kBufferTimeout) etc.). An empty default means
// "unset" (e.g. checkpointing disabled); read such options with
// Configuration::GetRaw or GetOptionalDuration.
struct ConfigOption {
  std::string_view key;
  std::string_view default_value;
  std::string_view description;
};

// --- JobManager and REST endpoint ---
inline constexpr ConfigOption kJobManagerRpcAddress{
    "jobmanager.rpc.address", "localhost",
    "Host name or address the JobManager's RPC endpoint is reachable at."};
inline constexpr ConfigOption kJobManagerRpcPort{
    "jobmanager.rpc.port", "6123", "Port of the JobManager's RPC endpoint."};
inline constexpr ConfigOption kRestPort{
    "rest.port", "8081", "Port the REST server listens on and clients use."};
inline constexpr ConfigOption kRestAddress{
    "rest.address", "localhost",
    "Address clients use to reach the REST server."};
inline constexpr ConfigOption kRestBindAddress{
    "rest.bind-address", "0.0.0.0", "Local address the REST server binds to."};

// --- TaskManager resources ---
inline constexpr ConfigOption kTaskManagerNumberOfTaskSlots{
    "taskmanager.numberOfTaskSlots", "1",
    "Number of task slots each TaskManager offers."};
inline constexpr ConfigOption kNetworkBuffers{
    "taskmanager.memory.network.buffers", "2048",
    "Number of network buffers (each taskmanager.memory.segment-size, 32 KiB "
    "by default) per TaskManager, shared by its input gates and result "
    "partitions."};
inline constexpr ConfigOption kSegmentSize{
    "taskmanager.memory.segment-size", "32 kb",
    "Size of one network buffer / memory segment."};

// --- Parallelism and latency ---
inline constexpr ConfigOption kDefaultParallelism{
    "parallelism.default", "1",
    "Parallelism of operators that do not set their own."};
inline constexpr ConfigOption kMaxParallelism{
    "pipeline.max-parallelism", "128",
    "Number of key groups, the upper bound for rescaling keyed state."};
inline constexpr ConfigOption kBufferTimeout{
    "execution.buffer-timeout", "100 ms",
    "Longest time a partly filled network buffer waits before it is sent; 0 "
    "flushes after every record."};

// --- State and checkpointing ---
inline constexpr ConfigOption kStateBackendType{
    "state.backend.type", "hashmap",
    "State backend: 'hashmap' (in memory) or 'rocksdb'."};
inline constexpr ConfigOption kStateBackendIncremental{
    "state.backend.incremental", "false",
    "rocksdb: checkpoints upload only the SST files that are new since the "
    "last checkpoint (savepoints are always full)."};
inline constexpr ConfigOption kCheckpointsDir{
    "state.checkpoints.dir", "",
    "Directory (file:// URI or path) checkpoints are written to, shared by "
    "the JobManager and every TaskManager; required when checkpointing is "
    "enabled on a cluster."};
inline constexpr ConfigOption kSavepointsDir{
    "state.savepoints.dir", "",
    "Default directory (URI) for savepoints when none is given."};
inline constexpr ConfigOption kCheckpointingInterval{
    "execution.checkpointing.interval", "",
    "Interval between periodic checkpoints; empty disables checkpointing."};
inline constexpr ConfigOption kCheckpointingMode{
    "execution.checkpointing.mode", "EXACTLY_ONCE",
    "Checkpointing guarantee: EXACTLY_ONCE or AT_LEAST_ONCE."};
inline constexpr ConfigOption kCheckpointingTimeout{
    "execution.checkpointing.timeout", "10 min",
    "A checkpoint not completed within this time is discarded."};
inline constexpr ConfigOption kCheckpointingMinPause{
    "execution.checkpointing.min-pause", "0 ms",
    "Minimum pause between the end of one checkpoint and the start of the "
    "next."};

inline constexpr ConfigOption kCheckpointingTolerableFailures{
    "execution.checkpointing.tolerable-failed-checkpoints", "0",
    "Number of consecutive failed checkpoints tolerated before the job fails."};
inline constexpr ConfigOption kCheckpointingRetention{
    "execution.checkpointing.externalized-checkpoint-retention", "DELETE_ON_CANCELLATION",
    "Whether retained checkpoints survive a cancelled job: "
    "DELETE_ON_CANCELLATION or RETAIN_ON_CANCELLATION (they always survive "
    "a failed job)."};
inline constexpr ConfigOption kCheckpointsNumRetained{
    "state.checkpoints.num-retained", "1",
    "Number of completed checkpoints kept; older ones are deleted."};
inline constexpr ConfigOption kSavepointPath{
    "execution.savepoint.path", "",
    "Checkpoint or savepoint directory the job restores from (eddy run -s)."};
inline constexpr ConfigOption kSavepointIgnoreUnclaimed{
    "execution.savepoint.ignore-unclaimed-state", "false",
    "Allow restoring a savepoint that holds state of operators the job no "
    "longer has (eddy run --allowNonRestoredState)."};

// --- Fault tolerance ---
inline constexpr ConfigOption kRestartStrategyType{
    "restart-strategy.type", "",
    "Restart strategy after a task failure: 'none', 'fixed-delay' or "
    "'failure-rate'. Unset: fixed-delay when checkpointing is enabled, else "
    "none."};
inline constexpr ConfigOption kRestartFixedDelayAttempts{
    "restart-strategy.fixed-delay.attempts", "2147483647",
    "fixed-delay: number of restarts before the job fails."};
inline constexpr ConfigOption kRestartFixedDelayDelay{
    "restart-strategy.fixed-delay.delay", "1 s", "fixed-delay: pause before each restart."};
inline constexpr ConfigOption kRestartFailureRateMaxFailures{
    "restart-strategy.failure-rate.max-failures-per-interval", "1",
    "failure-rate: most failures within one interval before the job fails."};
inline constexpr ConfigOption kRestartFailureRateInterval{
    "restart-strategy.failure-rate.failure-rate-interval", "1 min",
    "failure-rate: the interval failures are counted over."};
inline constexpr ConfigOption kRestartFailureRateDelay{
    "restart-strategy.failure-rate.delay", "1 s", "failure-rate: pause before each restart."};
inline constexpr ConfigOption kHeartbeatInterval{
    "heartbeat.interval", "1 s",
    "Interval between heartbeats from the JobManager to TaskManagers."};
inline constexpr ConfigOption kHeartbeatTimeout{
    "heartbeat.timeout", "5 s",
    "A peer that has not answered heartbeats for this long is considered "
    "lost."};

// --- Logging and the local cluster ---
inline constexpr ConfigOption kLogDir{
    "env.log.dir", "",
    "Directory for log files; empty means <distribution>/log when started by "
    "the bin/ scripts, and no log file otherwise."};
inline constexpr ConfigOption kLogLevel{
    "env.log.level", "INFO",
    "Log level: TRACE, DEBUG, INFO, WARN, ERROR or OFF."};
inline constexpr ConfigOption kLogStderrLevel{
    "env.log.stderr-level", "WARN",
    "Lowest level also echoed to stderr (never below env.log.level); set "
    "INFO to follow a process in the terminal."};
inline constexpr ConfigOption kLocalNumberTaskManager{
    "local.number-taskmanager", "1",
    "Number of TaskManagers in the embedded local cluster."};

inline constexpr ConfigOption kAllConfigOptions[] = {
    kJobManagerRpcAddress,
    kJobManagerRpcPort,
    kRestPort,
    kRestAddress,
    kRestBindAddress,
    kTaskManagerNumberOfTaskSlots,
    kNetworkBuffers,
    kSegmentSize,
    kDefaultParallelism,
    kMaxParallelism,
    kBufferTimeout,
    kStateBackendType,
    kStateBackendIncremental,
    kCheckpointsDir,
    kSavepointsDir,
    kCheckpointingInterval,
    kCheckpointingMode,
    kCheckpointingTimeout,
    kCheckpointingMinPause,
    kCheckpointingTolerableFailures,
    kCheckpointingRetention,
    kCheckpointsNumRetained,
    kSavepointPath,
    kSavepointIgnoreUnclaimed,
    kRestartStrategyType,
    kRestartFixedDelayAttempts,
    kRestartFixedDelayDelay,
    kRestartFailureRateMaxFailures,
    kRestartFailureRateInterval,
    kRestartFailureRateDelay,
    kHeartbeatInterval,
    kHeartbeatTimeout,
    kLogDir,
    kLogLevel,
    kLogStderrLevel,
    kLocalNumberTaskManager,
};

// Every well-known option, in the order above (for listings and docs).
inline std::span<const ConfigOption> AllConfigOptions() {
  return kAllConfigOptions;
}

// The well-known option named `key`, or nullptr if `key` is not one.
inline const ConfigOption* FindConfigOption(std::string_view key) {
  for (const ConfigOption& option : kAllConfigOptions) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

}  // namespace eddy
