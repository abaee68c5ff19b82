// RestServer: Flink's monitoring REST API over cpp-httplib. Routing is done
// here rather than with httplib's regex patterns so that unknown paths, wrong
// methods and malformed ids all get Flink's {"errors": [...]} bodies with the
// status codes Flink uses (404, 405, 400, 409).
#include "dispatcher/rest_server.h"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "eddy/version.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace eddy::dispatcher {
namespace {

using json = nlohmann::json;

// Flink's ExecutionState names, in Flink's order.
constexpr std::array<std::string_view, 10> kExecutionStates = {
    "CREATED",   "SCHEDULED", "DEPLOYING", "RUNNING",     "FINISHED",
    "CANCELING", "CANCELED",  "FAILED",    "RECONCILING", "INITIALIZING"};

// Flink's JobStatus names.
constexpr std::array<std::string_view, 11> kJobStatuses = {
    "INITIALIZING", "CREATED",    "RUNNING",    "FAILING",
    "FAILED",       "CANCELLING", "CANCELED",   "FINISHED",
    "RESTARTING",   "SUSPENDED",  "RECONCILING"};

// Request bodies are never needed beyond a few bytes; refuse big ones (413).
constexpr size_t kMaxPayloadBytes = 1 << 20;
// Ids echoed in error messages are cut to this length.
constexpr size_t kMaxEchoedIdLength = 80;
constexpr char kContentType[] = "application/json; charset=UTF-8";

// What a handler produces: a status code and a JSON body.
struct Reply {
  int status = 200;
  json body;
  std::string allow;  // the Allow header of a 405 reply
};

Reply Error(int status, std::string message) {
  return Reply{status, json{{"errors", json::array({std::move(message)})}}, ""};
}

// A request after routing: the path parameters in pattern order.
struct Call {
  ClusterView& view;
  std::vector<std::string> path_params;
  const httplib::Params& query;
  const std::string& body;
};

using Handler = Reply (*)(const Call&);

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Debian's Abseil has its own absl::string_view, distinct from
// std::string_view, so string helpers here are plain standard C++.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Truncated(std::string_view s) {
  if (s.size() <= kMaxEchoedIdLength) return std::string(s);
  return Cat({s.substr(0, kMaxEchoedIdLength), "..."});
}

// Flink computes a running job's duration up to now.
int64_t Duration(int64_t start, int64_t end, int64_t duration, int64_t now) {
  if (duration >= 0) return duration;
  if (start < 0) return -1;
  return (end >= 0 ? end : now) - start;
}

int64_t JobNow(const JobView& job) {
  return job.now > 0 ? job.now : NowMillis();
}

// A JobID is 32 hex characters (Flink accepts either case); lower-cased.
std::optional<std::string> ParseJobId(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return Lower(text);
}

Reply BadJobId(std::string_view text) {
  return Error(400, Cat({"Bad request: cannot parse JobID \"", Truncated(text),
                         "\": a JobID is 32 hexadecimal characters"}));
}

Reply JobNotFound(std::string_view id) {
  return Error(404, Cat({"Job ", id, " not found"}));
}

// ---- JSON renderings -------------------------------------------------------

// {STATE: n} over every ExecutionState, upper- or lower-case keys.
json StateCounts(const std::map<std::string, int>& counts, bool lower_case) {
  json out = json::object();
  for (std::string_view state : kExecutionStates) {
    std::string key(state);
    if (lower_case) key = Lower(key);
    out[key] = 0;
  }
  for (const auto& [state, n] : counts) {
    std::string key = lower_case ? Lower(state) : Upper(state);
    if (out.contains(key)) out[key] = out[key].get<int>() + n;
  }
  return out;
}

// Subtasks per state summed over the job's vertices (lower-case keys and
// "total"), as /jobs/overview shows them.
json JobTaskCounts(const JobView& job) {
  std::map<std::string, int> sums;
  int total = 0;
  int counted = 0;
  for (const VertexView& v : job.vertices) {
    total += v.parallelism;
    for (const auto& [state, n] : v.tasks_per_state) {
      sums[Upper(state)] += n;
      counted += n;
    }
  }
  json out = StateCounts(sums, /*lower_case=*/true);
  out["total"] = std::max(total, counted);
  return out;
}

// Flink's "timestamps": when the job entered each JobStatus, 0 if it did not.
// The view knows the start and the end; the rest stays 0.
json JobTimestamps(const JobView& job) {
  json out = json::object();
  for (std::string_view status : kJobStatuses) out[std::string(status)] = 0;
  const std::string state = Upper(job.state);
  if (job.start_time >= 0) {
    out["INITIALIZING"] = job.start_time;
    out["CREATED"] = job.start_time;
    if (state != "CREATED" && state != "INITIALIZING") {
      out["RUNNING"] = job.start_time;
    }
  }
  if (job.end_time >= 0 && out.contains(state)) out[state] = job.end_time;
  return out;
}

int64_t LastModification(const JobView& job) {
  return std::max({job.start_time, job.end_time, int64_t{0}});
}

json JobOverviewJson(const JobView& job) {
  const int64_t now = JobNow(job);
  return json{
      {"jid", job.id},
      {"name", job.name},
      {"state", job.state},
      {"start-time", job.start_time},
      {"end-time", job.end_time},
      {"duration", Duration(job.start_time, job.end_time, job.duration, now)},
      {"last-modification", LastModification(job)},
      {"tasks", JobTaskCounts(job)},
  };
}

json VertexJson(const VertexView& v, int64_t now) {
  return json{
      {"id", v.id},
      {"name", v.name},
      {"maxParallelism", v.max_parallelism},
      {"parallelism", v.parallelism},
      {"status", v.status},
      {"start-time", v.start_time},
      {"end-time", v.end_time},
      {"duration", Duration(v.start_time, v.end_time, v.duration, now)},
      {"tasks", StateCounts(v.tasks_per_state, /*lower_case=*/false)},
      {"metrics",
       {
           {"read-bytes", v.read_bytes},
           {"read-bytes-complete", true},
           {"write-bytes", v.write_bytes},
           {"write-bytes-complete", true},
           {"read-records", v.read_records},
           {"read-records-complete", true},
           {"write-records", v.write_records},
           {"write-records-complete", true},
       }},
  };
}

json JobDetailsJson(const JobView& job) {
  const int64_t now = JobNow(job);
  json vertices = json::array();
  json nodes = json::array();
  std::map<std::string, int> vertices_per_state;
  for (const VertexView& v : job.vertices) {
    vertices.push_back(VertexJson(v, now));
    ++vertices_per_state[Upper(v.status)];
    nodes.push_back(json{
        {"id", v.id},
        {"parallelism", v.parallelism},
        {"operator", ""},
        {"operator_strategy", ""},
        {"description", v.name},
        {"inputs", json::array()},
    });
  }
  return json{
      {"jid", job.id},
      {"name", job.name},
      {"isStoppable", false},
      {"state", job.state},
      {"start-time", job.start_time},
      {"end-time", job.end_time},
      {"duration", Duration(job.start_time, job.end_time, job.duration, now)},
      {"now", now},
      {"timestamps", JobTimestamps(job)},
      {"vertices", std::move(vertices)},
      {"status-counts", StateCounts(vertices_per_state, /*lower_case=*/false)},
      {"plan",
       {{"jid", job.id}, {"name", job.name}, {"nodes", std::move(nodes)}}},
  };
}

// Flink's exceptionName is the exception class; Eddy has only the message,
// whose first line serves as the headline.
std::string Headline(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

json ExceptionsJson(const JobView& job) {
  json root = nullptr;
  json timestamp = nullptr;
  if (job.root_exception.has_value()) {
    root = job.root_exception->exception;
    timestamp = job.root_exception->timestamp;
  }
  std::vector<ExceptionView> history = job.exception_history;
  if (history.empty() && job.root_exception.has_value()) {
    history.push_back(*job.root_exception);
  }
  json all = json::array();
  json entries = json::array();
  for (const ExceptionView& e : history) {
    all.push_back(json{{"exception", e.exception},
                       {"task", e.task_name},
                       {"location", e.location},
                       {"timestamp", e.timestamp}});
    entries.push_back(json{{"exceptionName", Headline(e.exception)},
                           {"stacktrace", e.exception},
                           {"timestamp", e.timestamp},
                           {"taskName", e.task_name},
                           {"location", e.location},
                           {"concurrentExceptions", json::array()}});
  }
  return json{
      {"root-exception", std::move(root)},
      {"timestamp", std::move(timestamp)},
      {"all-exceptions", std::move(all)},
      {"truncated", false},
      {"exceptionHistory",
       {{"entries", std::move(entries)}, {"truncated", false}}},
  };
}

json TaskManagerJson(const TaskManagerView& tm) {
  return json{
      {"id", tm.id},
      {"path", tm.path},
      {"dataPort", tm.data_port},
      {"jmxPort", -1},
      // Flink reports the time of the last heartbeat here, not an interval.
      {"timeSinceLastHeartbeat", tm.last_heartbeat},
      {"slotsNumber", tm.slots_number},
      {"freeSlots", tm.free_slots},
      {"totalResource", json::object()},
      {"freeResource", json::object()},
      {"hardware",
       {{"cpuCores", 0},
        {"physicalMemory", 0},
        {"freeMemory", 0},
        {"managedMemory", 0}}},
      {"memoryConfiguration", json::object()},
  };
}

// ---- Checkpoints and savepoints -------------------------------------------

// Eddy writes every checkpoint and savepoint as files under
// state.checkpoints.dir / state.savepoints.dir.
constexpr char kCheckpointStorage[] = "FileSystemCheckpointStorage";
// The "class" of a failed savepoint's failure-cause; Eddy has no exception
// classes, so the concept's name stands in for Flink's Java class.
constexpr char kCheckpointFailureClass[] = "CheckpointException";

// Flink reports -1 for "no acknowledgement yet"; the view uses 0.
int64_t LatestAck(const CheckpointView& c) {
  return c.latest_ack_timestamp > 0 ? c.latest_ack_timestamp : -1;
}

// From the trigger to the latest acknowledgement, -1 before the first one
// (Flink's AbstractCheckpointStats.getEndToEndDuration).
int64_t EndToEndDuration(const CheckpointView& c) {
  if (c.latest_ack_timestamp <= 0) return -1;
  return std::max<int64_t>(0, c.latest_ack_timestamp - c.trigger_timestamp);
}

// One entry of Flink's CheckpointStatistics: "className" names the subtype
// (completed, failed, in_progress), which adds external_path or
// failure_message. Eddy snapshots are full, so checkpointed_size is the
// state size; per-vertex "tasks" are not part of this overview, as in Flink.
json CheckpointJson(const CheckpointView& c) {
  const std::string status = Upper(c.status);
  const std::string class_name = status == "COMPLETED" ? "completed"
                                 : status == "FAILED"  ? "failed"
                                                       : "in_progress";
  json out{
      {"className", class_name},
      {"id", c.id},
      {"status", status},
      {"is_savepoint", c.savepoint},
      {"checkpoint_type", c.savepoint ? "SAVEPOINT" : "CHECKPOINT"},
      {"trigger_timestamp", c.trigger_timestamp},
      {"latest_ack_timestamp", LatestAck(c)},
      {"state_size", c.state_size},
      {"checkpointed_size", c.state_size},
      {"end_to_end_duration", EndToEndDuration(c)},
      {"num_subtasks", c.num_subtasks},
      {"num_acknowledged_subtasks", c.num_acknowledged},
      {"tasks", json::object()},
  };
  if (class_name == "completed") {
    out["external_path"] =
        c.external_path.empty() ? json(nullptr) : json(c.external_path);
  } else if (class_name == "failed") {
    out["failure_message"] =
        c.failure.empty() ? json(nullptr) : json(c.failure);
  }
  return out;
}

json OptionalCheckpointJson(const std::optional<CheckpointView>& c) {
  return c.has_value() ? CheckpointJson(*c) : json(nullptr);
}

// Flink's StatsSummaryDto over `values`: min, max, the average in whole units
// (Flink's is a long) and percentiles estimated as Commons Math's default
// (legacy) Percentile does, which Flink uses. All zero without values.
json StatsSummary(std::vector<int64_t> values) {
  constexpr std::array<std::pair<const char*, double>, 5> kPercentiles = {
      {{"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p999", 99.9}}};
  json out{{"min", 0}, {"max", 0}, {"avg", 0}};
  for (const auto& [key, p] : kPercentiles) out[key] = 0.0;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  int64_t sum = 0;
  for (int64_t v : values) sum += v;
  const auto n = static_cast<int64_t>(values.size());
  out["min"] = values.front();
  out["max"] = values.back();
  out["avg"] = sum / n;
  for (const auto& [key, p] : kPercentiles) {
    const double pos = p * static_cast<double>(n + 1) / 100.0;
    double value;
    if (pos < 1) {
      value = static_cast<double>(values.front());
    } else if (pos >= static_cast<double>(n)) {
      value = static_cast<double>(values.back());
    } else {
      const double whole = std::floor(pos);
      const auto i = static_cast<size_t>(whole);
      const auto lower = static_cast<double>(values[i - 1]);
      const auto upper = static_cast<double>(values[i]);
      value = lower + (pos - whole) * (upper - lower);
    }
    out[key] = value;
  }
  return out;
}

// Flink's CheckpointingStatistics. The summary covers the completed
// checkpoints and savepoints the view still holds in its history. Eddy does
// not track restores yet, so "restored" is 0 and its latest entry null.
json CheckpointingStatisticsJson(const CheckpointsView& c) {
  std::vector<int64_t> sizes;
  std::vector<int64_t> durations;
  json history = json::array();
  for (const CheckpointView& entry : c.history) {
    history.push_back(CheckpointJson(entry));
    if (Upper(entry.status) != "COMPLETED") continue;
    sizes.push_back(entry.state_size);
    durations.push_back(std::max<int64_t>(0, EndToEndDuration(entry)));
  }
  json sizes_summary = StatsSummary(sizes);
  return json{
      {"counts",
       {{"restored", 0},
        {"total", c.triggered},
        {"in_progress", c.in_progress},
        {"completed", c.completed},
        {"failed", c.failed}}},
      {"summary",
       {{"state_size", sizes_summary},
        {"checkpointed_size", sizes_summary},
        {"end_to_end_duration", StatsSummary(std::move(durations))}}},
      {"latest",
       {{"completed", OptionalCheckpointJson(c.latest_completed)},
        {"savepoint", OptionalCheckpointJson(c.latest_savepoint)},
        {"failed", OptionalCheckpointJson(c.latest_failed)},
        {"restored", nullptr}}},
      {"history", std::move(history)},
  };
}

// Flink's CheckpointConfigInfo. Checkpoints are always written to files,
// aligned, and without a changelog.
json CheckpointConfigJson(const CheckpointsView& c) {
  return json{
      {"mode", c.exactly_once ? "exactly_once" : "at_least_once"},
      {"interval", c.interval_ms},
      {"timeout", c.timeout_ms},
      {"min_pause", c.min_pause_ms},
      {"max_concurrent", c.max_concurrent},
      {"externalization",
       {{"enabled", true},
        {"delete_on_cancellation", !c.retain_on_cancellation}}},
      {"checkpoint_storage", kCheckpointStorage},
      {"unaligned_checkpoints", false},
      {"tolerable_failed_checkpoints", c.tolerable_failures},
      {"aligned_checkpoint_timeout", 0},
      {"state_changelog_enabled", false},
  };
}

// Flink's SerializedThrowable rendering, without "serialized-throwable"
// (a serialized Java object that Eddy cannot produce).
json FailureCauseJson(const std::string& message) {
  return json{
      {"class", kCheckpointFailureClass},
      {"stack-trace", Cat({kCheckpointFailureClass, ": ", message})},
  };
}

// ---- Handlers --------------------------------------------------------------

Reply GetOverview(const Call& call) {
  int slots_total = 0;
  int slots_available = 0;
  const std::vector<TaskManagerView> tms = call.view.TaskManagers();
  for (const TaskManagerView& tm : tms) {
    slots_total += tm.slots_number;
    slots_available += tm.free_slots;
  }
  int running = 0, finished = 0, cancelled = 0, failed = 0;
  for (const JobView& job : call.view.Jobs()) {
    const std::string state = Upper(job.state);
    if (state == "FINISHED") {
      ++finished;
    } else if (state == "CANCELED") {
      ++cancelled;
    } else if (state == "FAILED") {
      ++failed;
    } else {
      ++running;  // Flink counts every job that has not ended as running.
    }
  }
  return Reply{200,
               json{{"taskmanagers", tms.size()},
                    {"slots-total", slots_total},
                    {"slots-available", slots_available},
                    {"jobs-running", running},
                    {"jobs-finished", finished},
                    {"jobs-cancelled", cancelled},
                    {"jobs-failed", failed},
                    {"flink-version", EDDY_VERSION},
                    {"flink-commit", ""}},
               ""};
}

Reply GetConfig(const Call&) {
  const time_t now = time(nullptr);
  struct tm local {};
  localtime_r(&now, &local);
  return Reply{
      200,
      json{{"refresh-interval", 3000},
           {"timezone-name", local.tm_zone != nullptr ? local.tm_zone : "UTC"},
           {"timezone-offset", static_cast<int64_t>(local.tm_gmtoff) * 1000},
           {"flink-version", EDDY_VERSION},
           {"flink-revision", ""},
           {"features",
            {{"web-submit", false},
             {"web-cancel", true},
             {"web-rescale", false},
             {"web-history", false}}}},
      ""};
}

Reply GetJobManagerConfig(const Call& call) {
  json entries = json::array();
  for (const auto& [key, value] : call.view.Configuration()) {
    entries.push_back(json{{"key", key}, {"value", value}});
  }
  return Reply{200, std::move(entries), ""};
}

Reply GetJobs(const Call& call) {
  json jobs = json::array();
  for (const JobView& job : call.view.Jobs()) {
    jobs.push_back(json{{"id", job.id}, {"status", job.state}});
  }
  return Reply{200, json{{"jobs", std::move(jobs)}}, ""};
}

Reply GetJobsOverview(const Call& call) {
  json jobs = json::array();
  for (const JobView& job : call.view.Jobs())
    jobs.push_back(JobOverviewJson(job));
  return Reply{200, json{{"jobs", std::move(jobs)}}, ""};
}

Reply GetJob(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const std::optional<JobView> job = call.view.Job(*id);
  if (!job.has_value()) return JobNotFound(*id);
  return Reply{200, JobDetailsJson(*job), ""};
}

Reply PatchJob(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const size_t modes = call.query.count("mode");
  if (modes == 0) {
    return Error(400,
                 "Bad request: the query parameter \"mode\" is required; "
                 "the only supported value is \"cancel\"");
  }
  const std::string mode = call.query.find("mode")->second;
  if (modes > 1 || Lower(mode) != "cancel") {
    return Error(400, Cat({"Bad request: unsupported termination mode \"",
                           Truncated(mode),
                           "\"; the only supported value is \"cancel\""}));
  }
  const absl::Status status = call.view.CancelJob(*id);
  if (status.ok()) return Reply{202, json::object(), ""};
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return JobNotFound(*id);
    case absl::StatusCode::kFailedPrecondition:
      return Error(409, status.message().empty()
                            ? Cat({"Job cancellation failed because job ", *id,
                                   " has already reached a terminal state"})
                            : std::string(status.message()));
    default:
      return Error(500, Cat({"Job cancellation failed: ", status.ToString()}));
  }
}

// GET ...metrics[?get=a,b]: without get, [{"id": name}] for every metric in
// `values`; with it, the asked-for ones that exist, in the order asked, each
// with the fields `fill` adds from its value.
template <class V, class Fill>
Reply MetricsReply(const Call& call, const std::map<std::string, V>& values, Fill fill) {
  std::vector<std::string> names;
  auto get = call.query.find("get");
  if (get == call.query.end()) {
    for (const auto& [name, value] : values) names.push_back(name);
  } else {
    const std::vector<std::string> asked = absl::StrSplit(get->second, ',', absl::SkipEmpty());
    for (const std::string& name : asked) {
      if (values.count(name)) names.push_back(name);
    }
  }
  json out = json::array();
  for (const std::string& name : names) {
    json metric{{"id", name}};
    if (get != call.query.end()) fill(metric, values.at(name));
    out.push_back(std::move(metric));
  }
  return Reply{200, std::move(out), ""};
}

// The vertex :vid of job :jid, or the reply explaining why there is none.
std::variant<VertexView, Reply> FindVertex(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const std::optional<JobView> job = call.view.Job(*id);
  if (!job.has_value()) return JobNotFound(*id);
  for (const VertexView& v : job->vertices) {
    if (v.id == call.path_params[1]) return v;
  }
  return Error(404, Cat({"Job ", *id, " has no vertex ", Truncated(call.path_params[1])}));
}

// GET /jobs/:jid/vertices/:vid/metrics[?get=...]: user counters per subtask,
// named "<subtask>.<counter>".
Reply GetVertexMetrics(const Call& call) {
  std::variant<VertexView, Reply> found = FindVertex(call);
  if (auto* reply = std::get_if<Reply>(&found)) return std::move(*reply);
  std::map<std::string, int64_t> values;
  for (const auto& [subtask, counters] : std::get<VertexView>(found).subtask_counters) {
    for (const auto& [name, count] : counters) values[Cat({std::to_string(subtask), ".", name})] = count;
  }
  return MetricsReply(call, values, [](json& metric, int64_t count) { metric["value"] = std::to_string(count); });
}

// GET /jobs/:jid/vertices/:vid/subtasks/metrics[?get=...]: user counters
// aggregated over the vertex's subtasks (min, max, avg, sum).
Reply GetSubtaskMetrics(const Call& call) {
  std::variant<VertexView, Reply> found = FindVertex(call);
  if (auto* reply = std::get_if<Reply>(&found)) return std::move(*reply);
  std::map<std::string, std::vector<int64_t>> values;
  for (const auto& [subtask, counters] : std::get<VertexView>(found).subtask_counters) {
    for (const auto& [name, count] : counters) values[name].push_back(count);
  }
  return MetricsReply(call, values, [](json& metric, const std::vector<int64_t>& counts) {
    int64_t sum = 0;
    for (int64_t c : counts) sum += c;
    metric["min"] = *std::min_element(counts.begin(), counts.end());
    metric["max"] = *std::max_element(counts.begin(), counts.end());
    metric["sum"] = sum;
    metric["avg"] = static_cast<double>(sum) / static_cast<double>(counts.size());
  });
}

Reply GetJobExceptions(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const std::optional<JobView> job = call.view.Job(*id);
  if (!job.has_value()) return JobNotFound(*id);
  return Reply{200, ExceptionsJson(*job), ""};
}

// A ClusterView error on job `id` as Flink's status codes.
Reply ViewError(const absl::Status& status, const std::string& id,
                std::string_view action) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return JobNotFound(id);
    case absl::StatusCode::kInvalidArgument:
      return Error(400, Cat({"Bad request: ", message}));
    case absl::StatusCode::kFailedPrecondition:
      return Error(409, Cat({action, " failed: ", message}));
    case absl::StatusCode::kUnimplemented:
      return Error(501, Cat({action, " failed: ", message}));
    default:
      return Error(500, Cat({action, " failed: ", status.ToString()}));
  }
}

// Reads a request body that must be a JSON object with only the `fields`
// Flink's `type` has; an empty body counts as {} (as in Flink). Returns the
// 400 reply on a malformed body.
std::optional<Reply> ParseBody(const std::string& body, std::string_view type,
                               std::initializer_list<std::string_view> fields,
                               json* out) {
  const auto bad = [&](std::string_view detail) {
    return Error(400, Cat({"Bad request: the request body did not match the "
                           "expected format ",
                           type, ": ", detail}));
  };
  const bool blank = std::all_of(body.begin(), body.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
  });
  *out = blank ? json::object() : json::parse(body, nullptr, false);
  if (out->is_discarded()) return bad("it is not valid JSON");
  if (!out->is_object()) return bad("it is not a JSON object");
  for (const auto& [key, value] : out->items()) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
      return bad(Cat({"unknown field \"", Truncated(key), "\""}));
    }
  }
  return std::nullopt;
}

// Optional body fields: absent or null leaves `*value` unchanged.
std::optional<Reply> StringField(const json& body, std::string_view type,
                                 const char* key, std::string* value) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    return Error(400, Cat({"Bad request: the request body did not match the "
                           "expected format ",
                           type, ": \"", key, "\" must be a string"}));
  }
  *value = it->get<std::string>();
  return std::nullopt;
}

std::optional<Reply> BoolField(const json& body, std::string_view type,
                               const char* key, bool* value) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    return Error(400, Cat({"Bad request: the request body did not match the "
                           "expected format ",
                           type, ": \"", key, "\" must be true or false"}));
  }
  *value = it->get<bool>();
  return std::nullopt;
}

// Flink's optional "formatType" and "triggerId": Eddy has one savepoint
// format, and trigger ids are always chosen by the JobManager.
std::optional<Reply> CheckFormatAndTriggerId(const json& body,
                                             std::string_view type) {
  std::string format;
  if (auto error = StringField(body, type, "formatType", &format)) return error;
  if (!format.empty() && format != "CANONICAL" && format != "NATIVE") {
    return Error(400,
                 Cat({"Bad request: unknown formatType \"", Truncated(format),
                      "\"; expected CANONICAL or NATIVE"}));
  }
  if (body.contains("triggerId") && !body["triggerId"].is_null()) {
    return Error(400,
                 "Bad request: \"triggerId\" is not supported; the reply's "
                 "\"request-id\" names the operation");
  }
  return std::nullopt;
}

Reply StartSavepoint(const Call& call, const std::string& id,
                     const std::string& target_dir, bool stop, bool drain) {
  const absl::StatusOr<std::string> trigger =
      call.view.TriggerSavepoint(id, target_dir, stop, drain);
  if (!trigger.ok()) {
    return ViewError(trigger.status(), id,
                     stop ? "Stop with savepoint" : "Triggering the savepoint");
  }
  return Reply{202, json{{"request-id", *trigger}}, ""};
}

// POST /jobs/:jid/savepoints {"target-directory", "cancel-job"}: cancel-job
// stops the job after the savepoint, without draining.
Reply PostSavepoint(const Call& call) {
  constexpr std::string_view kType = "SavepointTriggerRequestBody";
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  json body;
  if (auto error = ParseBody(
          call.body, kType,
          {"target-directory", "cancel-job", "formatType", "triggerId"},
          &body)) {
    return *error;
  }
  std::string target_dir;
  bool cancel = false;
  if (auto error = StringField(body, kType, "target-directory", &target_dir)) {
    return *error;
  }
  if (auto error = BoolField(body, kType, "cancel-job", &cancel)) return *error;
  if (auto error = CheckFormatAndTriggerId(body, kType)) return *error;
  return StartSavepoint(call, *id, target_dir, /*stop=*/cancel,
                        /*drain=*/false);
}

// POST /jobs/:jid/stop {"targetDirectory", "drain"}; the operation is polled
// on /jobs/:jid/savepoints/:triggerid, as in Flink.
Reply PostStop(const Call& call) {
  constexpr std::string_view kType = "StopWithSavepointRequestBody";
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  json body;
  if (auto error = ParseBody(
          call.body, kType,
          {"targetDirectory", "drain", "formatType", "triggerId"}, &body)) {
    return *error;
  }
  std::string target_dir;
  bool drain = false;
  if (auto error = StringField(body, kType, "targetDirectory", &target_dir)) {
    return *error;
  }
  if (auto error = BoolField(body, kType, "drain", &drain)) return *error;
  if (auto error = CheckFormatAndTriggerId(body, kType)) return *error;
  return StartSavepoint(call, *id, target_dir, /*stop=*/true, drain);
}

// GET /jobs/:jid/savepoints/:triggerid: Flink's AsynchronousOperationResult
// with a SavepointInfo (location, or failure-cause) once completed.
Reply GetSavepointStatus(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const std::string& trigger = call.path_params[1];
  const absl::StatusOr<SavepointOperationView> op =
      call.view.SavepointOperation(*id, trigger);
  if (!op.ok()) {
    if (op.status().code() != absl::StatusCode::kNotFound) {
      return ViewError(op.status(), *id, "Querying the savepoint");
    }
    if (!call.view.Job(*id).has_value()) return JobNotFound(*id);
    return Error(404, Cat({"There is no savepoint operation with triggerId=",
                           Truncated(trigger), " for job ", *id, "."}));
  }
  if (!op->completed) {
    return Reply{
        200, json{{"status", {{"id", "IN_PROGRESS"}}}, {"operation", nullptr}},
        ""};
  }
  json operation = json::object();
  if (op->failure.empty()) {
    operation["location"] = op->location;
  } else {
    operation["failure-cause"] = FailureCauseJson(op->failure);
  }
  return Reply{200,
               json{{"status", {{"id", "COMPLETED"}}},
                    {"operation", std::move(operation)}},
               ""};
}

Reply GetCheckpoints(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const absl::StatusOr<CheckpointsView> checkpoints =
      call.view.Checkpoints(*id);
  if (!checkpoints.ok()) {
    return ViewError(checkpoints.status(), *id, "Checkpoint statistics");
  }
  return Reply{200, CheckpointingStatisticsJson(*checkpoints), ""};
}

Reply GetCheckpointConfig(const Call& call) {
  const std::optional<std::string> id = ParseJobId(call.path_params[0]);
  if (!id.has_value()) return BadJobId(call.path_params[0]);
  const absl::StatusOr<CheckpointsView> checkpoints =
      call.view.Checkpoints(*id);
  if (!checkpoints.ok()) {
    return ViewError(checkpoints.status(), *id, "Checkpoint configuration");
  }
  if (!checkpoints->enabled) {
    return Error(
        404, Cat({"Checkpointing is not enabled for this job (", *id, ")."}));
  }
  return Reply{200, CheckpointConfigJson(*checkpoints), ""};
}

Reply GetTaskManagers(const Call& call) {
  json tms = json::array();
  for (const TaskManagerView& tm : call.view.TaskManagers()) {
    tms.push_back(TaskManagerJson(tm));
  }
  return Reply{200, json{{"taskmanagers", std::move(tms)}}, ""};
}

Reply GetTaskManager(const Call& call) {
  const std::string& id = call.path_params[0];
  for (const TaskManagerView& tm : call.view.TaskManagers()) {
    if (tm.id == id) return Reply{200, TaskManagerJson(tm), ""};
  }
  return Error(404, Cat({"Could not find TaskManager ", Truncated(id)}));
}

// ---- Routing ---------------------------------------------------------------

struct Route {
  std::vector<std::string_view> pattern;  // ":name" segments match any value
  std::vector<std::pair<std::string_view, Handler>> methods;
};

// The first route whose pattern matches wins, so literals come before
// parameters ("/jobs/overview" before "/jobs/:jid").
const std::vector<Route>& Routes() {
  static const auto* routes = new std::vector<Route>{
      {{"overview"}, {{"GET", &GetOverview}}},
      {{"config"}, {{"GET", &GetConfig}}},
      {{"jobmanager", "config"}, {{"GET", &GetJobManagerConfig}}},
      {{"jobs"}, {{"GET", &GetJobs}}},
      {{"jobs", "overview"}, {{"GET", &GetJobsOverview}}},
      {{"jobs", ":jid"}, {{"GET", &GetJob}, {"PATCH", &PatchJob}}},
      {{"jobs", ":jid", "exceptions"}, {{"GET", &GetJobExceptions}}},
      {{"jobs", ":jid", "checkpoints"}, {{"GET", &GetCheckpoints}}},
      {{"jobs", ":jid", "checkpoints", "config"},
       {{"GET", &GetCheckpointConfig}}},
      {{"jobs", ":jid", "savepoints"}, {{"POST", &PostSavepoint}}},
      {{"jobs", ":jid", "savepoints", ":triggerid"},
       {{"GET", &GetSavepointStatus}}},
      {{"jobs", ":jid", "stop"}, {{"POST", &PostStop}}},
      {{"jobs", ":jid", "vertices", ":vid", "metrics"}, {{"GET", &GetVertexMetrics}}},
      {{"jobs", ":jid", "vertices", ":vid", "subtasks", "metrics"}, {{"GET", &GetSubtaskMetrics}}},
      {{"taskmanagers"}, {{"GET", &GetTaskManagers}}},
      {{"taskmanagers", ":tmid"}, {{"GET", &GetTaskManager}}},
  };
  return *routes;
}

// Splits "/v1/jobs/x/" into {"jobs", "x"}: the optional /v1 prefix and one
// trailing slash are dropped. nullopt for a path that cannot match any route.
std::optional<std::vector<std::string_view>> Segments(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  if (path == "v1") path = "";
  if (path.substr(0, 3) == "v1/") path.remove_prefix(3);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string_view> segments;
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (std::string_view s : segments) {
    if (s.empty()) return std::nullopt;
  }
  return segments;
}

Reply Dispatch(ClusterView& view, std::string_view method,
               std::string_view path, const httplib::Params& query,
               const std::string& body) {
  const auto not_found = [&] { return Error(404, Cat({"Not found: ", path})); };
  const std::optional<std::vector<std::string_view>> segments = Segments(path);
  if (!segments.has_value()) return not_found();
  for (const Route& route : Routes()) {
    if (route.pattern.size() != segments->size()) continue;
    std::vector<std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments->size() && match; ++i) {
      if (route.pattern[i].front() == ':') {
        params.emplace_back((*segments)[i]);
      } else {
        match = route.pattern[i] == (*segments)[i];
      }
    }
    if (!match) continue;

    std::string allow;
    for (const auto& [m, handler] : route.methods) {
      allow += Cat({allow.empty() ? "" : ", ", m});
    }
    const std::string_view effective = method == "HEAD" ? "GET" : method;
    if (method == "OPTIONS") return Reply{200, json::object(), allow};
    for (const auto& [m, handler] : route.methods) {
      if (m == effective) {
        return handler(Call{view, std::move(params), query, body});
      }
    }
    Reply reply = Error(405, Cat({"Method ", method, " is not allowed for ",
                                  path, "; allowed: ", allow}));
    reply.allow = allow;
    return reply;
  }
  return not_found();
}

void Render(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  if (!reply.allow.empty()) res.set_header("Allow", reply.allow);
  // Paths and ids are echoed back; invalid UTF-8 in them must not throw.
  res.set_content(
      reply.body.dump(-1, ' ', false, json::error_handler_t::replace),
      kContentType);
}

void Handle(ClusterView& view, const httplib::Request& req,
            httplib::Response& res) {
  try {
    Render(Dispatch(view, req.method, req.path, req.params, req.body), res);
  } catch (const std::exception& e) {
    spdlog::error("REST {} {} failed: {}", req.method, req.path, e.what());
    Render(Error(500, Cat({"Internal server error: ", e.what()})), res);
  }
}

std::string ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 413:
      return "Payload too large";
    case 414:
      return "Request URI too long";
    case 416:
      return "Range not satisfiable";
    default:
      return "HTTP error " + std::to_string(status);
  }
}

std::string HostPort(const std::string& host, int port) {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos)
    return Cat({"[", host, "]:", port_text});
  return Cat({host, ":", port_text});
}

void Configure(httplib::Server& server, ClusterView* view,
               std::shared_ptr<int> listen_socket) {
  // httplib routes by regex; match everything and route in Dispatch().
  const auto handler = [view](const httplib::Request& req,
                              httplib::Response& res) {
    Handle(*view, req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);
  // Replies httplib makes itself (unparsable requests, methods it has no
  // handler table for, oversized URIs and bodies) get a JSON body too.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [view](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 400 &&
            (req.method == "TRACE" || req.method == "CONNECT")) {
          // A valid method httplib has no handler table for: 404 or 405.
          Handle(*view, req, res);
        } else {
          Render(Error(res.status, ReasonPhrase(res.status)), res);
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request& req,
                                  httplib::Response& res, std::exception_ptr) {
    Render(Error(500, "Internal server error"), res);
  });
  server.set_default_headers({{"Access-Control-Allow-Origin", "*"}});
  server.set_payload_max_length(kMaxPayloadBytes);
  // Replies are written in several small writes; without TCP_NODELAY each
  // request waits for a delayed ACK.
  server.set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which would let a second server bind
  // a port already in use without an error; only reuse TIME_WAIT addresses.
  // The socket is remembered so that Start() can widen its listen backlog.
  server.set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_socket = sock;
  });
}

}  // namespace

RestServer::RestServer(ClusterView* view, std::string bind_address, int port)
    : view_(view), bind_address_(std::move(bind_address)), port_(port) {}

RestServer::~RestServer() { Stop(); }

absl::Status RestServer::Start() {
  if (started_)
    return absl::FailedPreconditionError("the REST server was already started");
  auto server = std::make_unique<httplib::Server>();
  auto listen_socket = std::make_shared<int>(-1);
  Configure(*server, view_, listen_socket);

  errno = 0;
  int bound = -1;
  if (port_ == 0) {
    bound = server->bind_to_any_port(bind_address_);
  } else if (server->bind_to_port(bind_address_, port_)) {
    bound = port_;
  }
  if (bound < 0) {
    const int error = errno;
    return absl::UnavailableError(
        Cat({"cannot bind the REST server to ", HostPort(bind_address_, port_),
             error != 0 ? Cat({": ", std::strerror(error)}) : std::string()}));
  }
  port_ = bound;
  // Debian's libcpp-httplib listens with a backlog of 5: a burst of parallel
  // connections (a dashboard polling several endpoints) overflows it and the
  // dropped SYNs are retried only after a second. On Linux, listen() on a
  // listening socket just resizes its backlog.
  if (*listen_socket >= 0) (void)::listen(*listen_socket, SOMAXCONN);

  // httplib's stop() only works once the accept loop runs, so wait for it.
  auto done = std::make_shared<std::atomic<bool>>(false);
  httplib::Server* raw = server.get();
  thread_ = std::thread([raw, done, where = HostPort(bind_address_, port_)] {
    if (!raw->listen_after_bind())
      spdlog::error("REST server on {} stopped with an error", where);
    done->store(true);
  });
  // (listen_after_bind() marks the server running as its first step.)
  while (!raw->is_running() && !done->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  started_ = true;
  if (!raw->is_running()) {
    Stop();
    return absl::UnavailableError(
        Cat({"the REST server on ", HostPort(bind_address_, port_),
             " did not start"}));
  }
  spdlog::info("REST endpoint listening on http://{}",
               HostPort(bind_address_, port_));
  return absl::OkStatus();
}

void RestServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace eddy::dispatcher
