// Tests for RestServer: every endpoint's Flink field names and values against a
// fake ClusterView, the error bodies (400/404/405/409), cancellation and
// savepoint requests reaching the view, checkpoint statistics, malformed and
// concurrent requests, and bind errors.
#include "dispatcher/rest_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "eddy/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace eddy::dispatcher {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kRunningJob[] = "0123456789abcdef0123456789abcdef";
constexpr char kFinishedJob[] = "11111111111111111111111111111111";
constexpr char kFailedJob[] = "22222222222222222222222222222222";
constexpr char kCanceledJob[] = "33333333333333333333333333333333";
constexpr char kCreatedJob[] = "44444444444444444444444444444444";
constexpr char kUnknownJob[] = "ffffffffffffffffffffffffffffffff";

JobView MakeRunningJob() {
  JobView job;
  job.id = kRunningJob;
  job.name = "Streaming WordCount";
  job.state = "RUNNING";
  job.start_time = 1000;
  job.now = 5000;
  VertexView source;
  source.id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  source.name = "Source: readTextFile -> tokenize";
  source.parallelism = 2;
  source.max_parallelism = 128;
  source.status = "RUNNING";
  source.start_time = 1100;
  source.write_records = 42;
  source.write_bytes = 4200;
  source.tasks_per_state = {{"RUNNING", 2}};
  VertexView sum;
  sum.id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  sum.name = "Keyed Aggregation -> Sink";
  sum.parallelism = 3;
  sum.max_parallelism = 128;
  sum.status = "DEPLOYING";
  sum.start_time = 1200;
  sum.read_records = 40;
  sum.read_bytes = 4000;
  sum.tasks_per_state = {{"RUNNING", 1}, {"DEPLOYING", 2}};
  sum.subtask_counters = {{0, {{"numSkippedRecords", 3}, {"numRowsWritten", 10}}},
                          {2, {{"numSkippedRecords", 6}}}};
  job.vertices = {source, sum};
  return job;
}

JobView MakeJob(const char* id, std::string name, std::string state,
                int64_t start, int64_t end) {
  JobView job;
  job.id = id;
  job.name = std::move(name);
  job.state = std::move(state);
  job.start_time = start;
  job.end_time = end;
  job.duration = end >= 0 ? end - start : -1;
  job.now = 9000;
  return job;
}

JobView MakeFailedJob() {
  JobView job = MakeJob(kFailedJob, "Failing Job", "FAILED", 2000, 3000);
  ExceptionView root{"std::runtime_error: boom\n  in Map (2/4)", "Map (2/4)",
                     "127.0.0.1:6124", 2900};
  ExceptionView earlier{"TaskManager lost", "Map (1/4)", "127.0.0.1:6130",
                        2500};
  job.root_exception = root;
  job.exception_history = {root, earlier};
  return job;
}

// Trigger ids of savepoint operations the fake knows from the start.
constexpr char kDoneTrigger[] = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
constexpr char kFailedTrigger[] = "fa11fa11fa11fa11fa11fa11fa11fa11";
constexpr char kUnknownTrigger[] = "00000000000000000000000000000000";

CheckpointView MakeCheckpoint(int64_t id, std::string status, bool savepoint,
                              int64_t trigger, int64_t ack, int64_t size,
                              int acked, std::string path,
                              std::string failure = "") {
  CheckpointView c;
  c.id = id;
  c.status = std::move(status);
  c.savepoint = savepoint;
  c.trigger_timestamp = trigger;
  c.latest_ack_timestamp = ack;
  c.state_size = size;
  c.num_acknowledged = acked;
  c.num_subtasks = 4;
  c.external_path = std::move(path);
  c.failure = std::move(failure);
  return c;
}

// Six checkpoints of the running job, newest first: one in progress, four
// completed (one a savepoint), one failed.
CheckpointsView MakeRunningJobCheckpoints() {
  CheckpointsView v;
  v.triggered = 6;
  v.in_progress = 1;
  v.completed = 4;
  v.failed = 1;
  v.history = {
      MakeCheckpoint(6, "IN_PROGRESS", false, 12000, 0, 0, 0, "/cp/chk-6"),
      MakeCheckpoint(5, "COMPLETED", false, 10000, 10400, 500, 4, "/cp/chk-5"),
      MakeCheckpoint(4, "COMPLETED", true, 8000, 8300, 700, 4,
                     "/sp/savepoint-4"),
      MakeCheckpoint(3, "FAILED", false, 6000, 6100, 0, 2, "/cp/chk-3",
                     "Checkpoint expired before completing."),
      MakeCheckpoint(2, "COMPLETED", false, 4000, 4500, 300, 4, "/cp/chk-2"),
      MakeCheckpoint(1, "COMPLETED", false, 2000, 2200, 100, 4, "/cp/chk-1"),
  };
  v.latest_completed = v.history[1];
  v.latest_savepoint = v.history[2];
  v.latest_failed = v.history[3];
  v.enabled = true;
  v.exactly_once = true;
  v.interval_ms = 60000;
  v.timeout_ms = 600000;
  v.min_pause_ms = 500;
  v.max_concurrent = 1;
  v.tolerable_failures = 3;
  v.retain_on_cancellation = true;
  v.checkpoints_dir = "/cp";
  v.savepoints_dir = "/sp";
  return v;
}

CheckpointsView MakeAtLeastOnceCheckpoints() {
  CheckpointsView v;
  v.enabled = true;
  v.exactly_once = false;
  v.interval_ms = 1000;
  v.timeout_ms = 20000;
  v.min_pause_ms = 0;
  v.max_concurrent = 1;
  v.tolerable_failures = 0;
  v.retain_on_cancellation = false;
  return v;
}

// A savepoint or stop request as the view received it.
struct SavepointCall {
  std::string job_id;
  std::string target_dir;
  bool stop = false;
  bool drain = false;
  bool operator==(const SavepointCall&) const = default;
};

// Two TaskManagers, five jobs; records cancellations and counts calls.
class FakeClusterView : public ClusterView {
 public:
  FakeClusterView() {
    jobs_ = {MakeRunningJob(),
             MakeJob(kFinishedJob, "Batch Job", "FINISHED", 100, 600),
             MakeFailedJob(),
             MakeJob(kCanceledJob, "Canceled Job", "CANCELED", 100, 200),
             MakeJob(kCreatedJob, "New Job", "CREATED", 4000, -1)};
    tms_ = {
        TaskManagerView{"tm-1", "127.0.0.1:6124", 6125, 1700000000123, 4, 1},
        TaskManagerView{"tm-2", "127.0.0.1:6130", 6131, 1700000000456, 4, 4}};
    // The other jobs have checkpointing disabled.
    checkpoints_[kRunningJob] = MakeRunningJobCheckpoints();
    checkpoints_[kCreatedJob] = MakeAtLeastOnceCheckpoints();
    SavepointOperationView done;
    done.completed = true;
    done.location = "/sp/savepoint-012345-abcdef";
    operations_[{kRunningJob, kDoneTrigger}] = done;
    SavepointOperationView failed;
    failed.completed = true;
    failed.failure = "savepoint 7 failed: Task Map (1/4) declined";
    operations_[{kRunningJob, kFailedTrigger}] = failed;
  }

  std::vector<JobView> Jobs() override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    return jobs_;
  }
  std::optional<JobView> Job(const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    for (const JobView& job : jobs_) {
      if (job.id == job_id) return job;
    }
    return std::nullopt;
  }
  absl::Status CancelJob(const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    cancelled_.push_back(job_id);
    for (JobView& job : jobs_) {
      if (job.id != job_id) continue;
      if (job.state == "FINISHED" || job.state == "FAILED" ||
          job.state == "CANCELED") {
        return absl::FailedPreconditionError(absl::StrCat(
            "Job cancellation failed because the job has already reached "
            "another terminal state (",
            job.state, ")."));
      }
      job.state = "CANCELLING";
      return absl::OkStatus();
    }
    return absl::NotFoundError("no such job");
  }
  std::vector<TaskManagerView> TaskManagers() override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    return tms_;
  }
  std::map<std::string, std::string> Configuration() override {
    return {{"jobmanager.rpc.port", "6123"}, {"rest.port", "8081"}};
  }
  absl::StatusOr<CheckpointsView> Checkpoints(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    if (!HasJob(job_id)) return absl::NotFoundError("no such job");
    const auto it = checkpoints_.find(job_id);
    return it == checkpoints_.end() ? CheckpointsView{} : it->second;
  }
  // Terminal jobs refuse savepoints; others get a new in-progress operation.
  absl::StatusOr<std::string> TriggerSavepoint(const std::string& job_id,
                                               const std::string& target_dir,
                                               bool stop, bool drain) override {
    absl::MutexLock lock(&mu_);
    for (const JobView& job : jobs_) {
      if (job.id != job_id) continue;
      if (job.state == "FINISHED" || job.state == "FAILED" ||
          job.state == "CANCELED") {
        return absl::FailedPreconditionError(
            absl::StrCat("job ", job_id, " is ", job.state));
      }
      savepoint_calls_.push_back(
          SavepointCall{job_id, target_dir, stop, drain});
      const std::string trigger =
          absl::StrCat("7a1c", std::string(26, '0'), 10 + next_trigger_++);
      operations_[{job_id, trigger}] = SavepointOperationView{};
      return trigger;
    }
    return absl::NotFoundError("no such job");
  }
  absl::StatusOr<SavepointOperationView> SavepointOperation(
      const std::string& job_id, const std::string& trigger_id) override {
    absl::MutexLock lock(&mu_);
    const auto it = operations_.find({job_id, trigger_id});
    if (it == operations_.end()) return absl::NotFoundError("no such trigger");
    return it->second;
  }

  void CompleteSavepoint(const std::string& job_id,
                         const std::string& trigger_id,
                         const std::string& location) {
    absl::MutexLock lock(&mu_);
    SavepointOperationView& op = operations_[{job_id, trigger_id}];
    op.completed = true;
    op.location = location;
  }
  std::vector<SavepointCall> savepoint_calls() {
    absl::MutexLock lock(&mu_);
    return savepoint_calls_;
  }

  std::vector<std::string> cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  bool HasJob(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const JobView& job : jobs_) {
      if (job.id == job_id) return true;
    }
    return false;
  }

  absl::Mutex mu_;
  std::vector<JobView> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<TaskManagerView> tms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cancelled_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, CheckpointsView> checkpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, SavepointOperationView>
      operations_ ABSL_GUARDED_BY(mu_);
  std::vector<SavepointCall> savepoint_calls_ ABSL_GUARDED_BY(mu_);
  int next_trigger_ ABSL_GUARDED_BY(mu_) = 0;
};

class RestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RestServer>(&view_, "127.0.0.1", 0);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }
  void TearDown() override { server_->Stop(); }

  std::unique_ptr<httplib::Client> NewClient() {
    auto client =
        std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client->set_read_timeout(10, 0);
    return client;
  }

  // GET `path`, expecting `status` and a JSON body.
  json Get(const std::string& path, int status = 200) {
    httplib::Result res = NewClient()->Get(path);
    if (!res) {
      ADD_FAILURE() << "GET " << path
                    << " failed: " << httplib::to_string(res.error());
      return json();
    }
    EXPECT_EQ(res->status, status) << path << ": " << res->body;
    EXPECT_THAT(res->get_header_value("Content-Type"),
                StartsWith("application/json"));
    return json::parse(res->body);
  }

  // POSTs `body` to `path`, expecting `status` and a JSON body.
  json Post(const std::string& path, const std::string& body, int status) {
    httplib::Result res = NewClient()->Post(path, body, "application/json");
    if (!res) {
      ADD_FAILURE() << "POST " << path
                    << " failed: " << httplib::to_string(res.error());
      return json();
    }
    EXPECT_EQ(res->status, status) << path << " " << body << ": " << res->body;
    EXPECT_THAT(res->get_header_value("Content-Type"),
                StartsWith("application/json"));
    return json::parse(res->body);
  }

  // Sends raw bytes on a fresh connection; returns what the server answered.
  std::string Raw(const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n =
          send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close early on garbage
      sent += static_cast<size_t>(n);
    }
    // Read one response: the headers, then Content-Length bytes of body
    // (the connection may stay open for keep-alive).
    std::string answer;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      answer.append(buffer, n);
      const size_t end = answer.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      const size_t header = answer.find("Content-Length: ");
      if (header != std::string::npos && header < end) {
        length = std::stoul(answer.substr(header + 16));
      }
      if (answer.size() >= end + 4 + length) break;
    }
    close(fd);
    return answer;
  }

  void ExpectAlive() { EXPECT_EQ(Get("/overview")["taskmanagers"], 2); }

  FakeClusterView view_;
  std::unique_ptr<RestServer> server_;
};

TEST_F(RestServerTest, Overview) {
  const json body = Get("/overview");
  EXPECT_EQ(body["taskmanagers"], 2);
  EXPECT_EQ(body["slots-total"], 8);
  EXPECT_EQ(body["slots-available"], 5);
  EXPECT_EQ(body["jobs-running"], 2);  // RUNNING and CREATED: not yet ended
  EXPECT_EQ(body["jobs-finished"], 1);
  EXPECT_EQ(body["jobs-cancelled"], 1);
  EXPECT_EQ(body["jobs-failed"], 1);
  EXPECT_EQ(body["flink-version"], EDDY_VERSION);
  EXPECT_EQ(body["flink-commit"], "");
}

TEST_F(RestServerTest, V1PrefixAndTrailingSlashServeTheSameResource) {
  const json plain = Get("/overview");
  EXPECT_EQ(Get("/v1/overview"), plain);
  EXPECT_EQ(Get("/overview/"), plain);
  EXPECT_EQ(Get(absl::StrCat("/v1/jobs/", kRunningJob)),
            Get(absl::StrCat("/jobs/", kRunningJob)));
  EXPECT_EQ(Get("/v1/taskmanagers"), Get("/taskmanagers"));
}

TEST_F(RestServerTest, Config) {
  const json body = Get("/config");
  EXPECT_EQ(body["refresh-interval"], 3000);
  EXPECT_TRUE(body["timezone-name"].is_string());
  EXPECT_TRUE(body["timezone-offset"].is_number_integer());
  EXPECT_EQ(body["flink-version"], EDDY_VERSION);
  EXPECT_EQ(body["flink-revision"], "");
  EXPECT_EQ(body["features"]["web-submit"], false);
  EXPECT_EQ(body["features"]["web-cancel"], true);
}

TEST_F(RestServerTest, JobManagerConfig) {
  EXPECT_EQ(Get("/jobmanager/config"),
            json::parse(R"([{"key":"jobmanager.rpc.port","value":"6123"},
                            {"key":"rest.port","value":"8081"}])"));
}

TEST_F(RestServerTest, Jobs) {
  const json body = Get("/jobs");
  ASSERT_EQ(body["jobs"].size(), 5u);
  EXPECT_EQ(body["jobs"][0],
            json::parse(absl::StrCat(R"({"id":")", kRunningJob,
                                     R"(","status":"RUNNING"})")));
  EXPECT_EQ(body["jobs"][2]["id"], kFailedJob);
  EXPECT_EQ(body["jobs"][2]["status"], "FAILED");
}

TEST_F(RestServerTest, JobsOverview) {
  const json body = Get("/jobs/overview");
  ASSERT_EQ(body["jobs"].size(), 5u);
  const json& running = body["jobs"][0];
  EXPECT_EQ(running["jid"], kRunningJob);
  EXPECT_EQ(running["name"], "Streaming WordCount");
  EXPECT_EQ(running["state"], "RUNNING");
  EXPECT_EQ(running["start-time"], 1000);
  EXPECT_EQ(running["end-time"], -1);
  EXPECT_EQ(running["duration"], 4000);  // up to the view's "now"
  EXPECT_EQ(running["last-modification"], 1000);
  EXPECT_EQ(
      running["tasks"],
      json::parse(
          R"({"total":5,"created":0,"scheduled":0,"deploying":2,"running":3,
                            "finished":0,"canceling":0,"canceled":0,"failed":0,
                            "reconciling":0,"initializing":0})"));
  const json& finished = body["jobs"][1];
  EXPECT_EQ(finished["state"], "FINISHED");
  EXPECT_EQ(finished["end-time"], 600);
  EXPECT_EQ(finished["duration"], 500);
  EXPECT_EQ(finished["last-modification"], 600);
  EXPECT_EQ(finished["tasks"]["total"], 0);
}

TEST_F(RestServerTest, JobDetails) {
  const json body = Get(absl::StrCat("/jobs/", kRunningJob));
  EXPECT_EQ(body["jid"], kRunningJob);
  EXPECT_EQ(body["name"], "Streaming WordCount");
  EXPECT_EQ(body["isStoppable"], false);
  EXPECT_EQ(body["state"], "RUNNING");
  EXPECT_EQ(body["start-time"], 1000);
  EXPECT_EQ(body["end-time"], -1);
  EXPECT_EQ(body["duration"], 4000);
  EXPECT_EQ(body["now"], 5000);
  EXPECT_EQ(body["timestamps"]["CREATED"], 1000);
  EXPECT_EQ(body["timestamps"]["RUNNING"], 1000);
  EXPECT_EQ(body["timestamps"]["FINISHED"], 0);
  EXPECT_EQ(body["timestamps"].size(), 11u);

  ASSERT_EQ(body["vertices"].size(), 2u);
  const json& source = body["vertices"][0];
  EXPECT_EQ(source["id"], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(source["name"], "Source: readTextFile -> tokenize");
  EXPECT_EQ(source["maxParallelism"], 128);
  EXPECT_EQ(source["parallelism"], 2);
  EXPECT_EQ(source["status"], "RUNNING");
  EXPECT_EQ(source["start-time"], 1100);
  EXPECT_EQ(source["end-time"], -1);
  EXPECT_EQ(source["duration"], 3900);
  EXPECT_EQ(
      source["tasks"],
      json::parse(
          R"({"CREATED":0,"SCHEDULED":0,"DEPLOYING":0,"RUNNING":2,"FINISHED":0,
                            "CANCELING":0,"CANCELED":0,"FAILED":0,"RECONCILING":0,
                            "INITIALIZING":0})"));
  EXPECT_EQ(source["metrics"],
            json::parse(R"({"read-bytes":0,"read-bytes-complete":true,
                            "write-bytes":4200,"write-bytes-complete":true,
                            "read-records":0,"read-records-complete":true,
                            "write-records":42,"write-records-complete":true})"));
  const json& sum = body["vertices"][1];
  EXPECT_EQ(sum["tasks"]["DEPLOYING"], 2);
  EXPECT_EQ(sum["tasks"]["RUNNING"], 1);
  EXPECT_EQ(sum["metrics"]["read-records"], 40);
  EXPECT_EQ(sum["metrics"]["read-bytes"], 4000);

  EXPECT_EQ(body["status-counts"]["RUNNING"], 1);
  EXPECT_EQ(body["status-counts"]["DEPLOYING"], 1);
  EXPECT_EQ(body["status-counts"]["FINISHED"], 0);

  const json& plan = body["plan"];
  EXPECT_EQ(plan["jid"], kRunningJob);
  EXPECT_EQ(plan["name"], "Streaming WordCount");
  ASSERT_EQ(plan["nodes"].size(), 2u);
  EXPECT_EQ(
      plan["nodes"][1],
      json::parse(R"({"id":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","parallelism":3,
                            "operator":"","operator_strategy":"",
                            "description":"Keyed Aggregation -> Sink","inputs":[]})"));
}

TEST_F(RestServerTest, TerminalJobTimestamps) {
  const json body = Get(absl::StrCat("/jobs/", kFailedJob));
  EXPECT_EQ(body["state"], "FAILED");
  EXPECT_EQ(body["end-time"], 3000);
  EXPECT_EQ(body["duration"], 1000);
  EXPECT_EQ(body["timestamps"]["FAILED"], 3000);
  EXPECT_EQ(body["timestamps"]["RUNNING"], 2000);
  EXPECT_TRUE(body["vertices"].empty());
}

TEST_F(RestServerTest, VertexMetricsListAndValues) {
  const std::string base = absl::StrCat("/jobs/", kRunningJob, "/vertices/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  EXPECT_EQ(Get(base + "/metrics"),
            json::parse(R"([{"id":"0.numRowsWritten"},{"id":"0.numSkippedRecords"},{"id":"2.numSkippedRecords"}])"));
  EXPECT_EQ(Get(base + "/metrics?get=2.numSkippedRecords,0.numRowsWritten,9.nothing"),
            json::parse(R"([{"id":"2.numSkippedRecords","value":"6"},{"id":"0.numRowsWritten","value":"10"}])"));
  // Aggregated over the subtasks that report the counter: 3 and 6.
  const json agg = Get(base + "/subtasks/metrics?get=numSkippedRecords");
  ASSERT_EQ(agg.size(), 1u);
  EXPECT_EQ(agg[0]["id"], "numSkippedRecords");
  EXPECT_EQ(agg[0]["min"], 3);
  EXPECT_EQ(agg[0]["max"], 6);
  EXPECT_EQ(agg[0]["sum"], 9);
  EXPECT_DOUBLE_EQ(agg[0]["avg"].get<double>(), 4.5);
  EXPECT_EQ(Get(absl::StrCat("/jobs/", kRunningJob, "/vertices/cccc/metrics"), 404)["errors"][0],
            absl::StrCat("Job ", kRunningJob, " has no vertex cccc"));
}

TEST_F(RestServerTest, UpperCaseJobIdIsAccepted) {
  EXPECT_EQ(Get("/jobs/0123456789ABCDEF0123456789ABCDEF")["jid"], kRunningJob);
}

TEST_F(RestServerTest, UnknownJobIs404) {
  EXPECT_EQ(Get(absl::StrCat("/jobs/", kUnknownJob), 404),
            json::parse(absl::StrCat(R"({"errors":["Job )", kUnknownJob,
                                     R"( not found"]})")));
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kUnknownJob, "/exceptions"), 404)["errors"][0],
      absl::StrCat("Job ", kUnknownJob, " not found"));
}

TEST_F(RestServerTest, MalformedJobIdIs400) {
  for (const char* path :
       {"/jobs/1234", "/jobs/0123456789abcdef0123456789abcdeg",
        "/jobs/0123456789abcdef0123456789abcdef0", "/jobs/xyz/exceptions"}) {
    const json body = Get(path, 400);
    ASSERT_EQ(body["errors"].size(), 1u) << path;
    EXPECT_THAT(body["errors"][0].get<std::string>(), HasSubstr("JobID"))
        << path;
  }
  httplib::Result res = NewClient()->Patch("/jobs/nothex?mode=cancel");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_TRUE(view_.cancelled().empty());
}

TEST_F(RestServerTest, CancelReachesTheView) {
  httplib::Result res =
      NewClient()->Patch(absl::StrCat("/jobs/", kRunningJob, "?mode=cancel"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(json::parse(res->body), json::object());
  EXPECT_THAT(res->get_header_value("Content-Type"),
              StartsWith("application/json"));
  EXPECT_THAT(view_.cancelled(), ElementsAre(kRunningJob));
  EXPECT_EQ(Get(absl::StrCat("/jobs/", kRunningJob))["state"], "CANCELLING");

  res = NewClient()->Patch(
      absl::StrCat("/v1/jobs/", kCreatedJob, "?mode=CANCEL"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  EXPECT_THAT(view_.cancelled(), ElementsAre(kRunningJob, kCreatedJob));
}

TEST_F(RestServerTest, CancelUnknownJobIs404) {
  httplib::Result res =
      NewClient()->Patch(absl::StrCat("/jobs/", kUnknownJob, "?mode=cancel"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(json::parse(res->body)["errors"][0],
            absl::StrCat("Job ", kUnknownJob, " not found"));
}

TEST_F(RestServerTest, CancelTerminalJobIs409) {
  httplib::Result res =
      NewClient()->Patch(absl::StrCat("/jobs/", kFinishedJob, "?mode=cancel"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409);
  const json body = json::parse(res->body);
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_THAT(body["errors"][0].get<std::string>(),
              HasSubstr("terminal state (FINISHED)"));
}

TEST_F(RestServerTest, CancelWithoutSupportedModeIs400) {
  for (const std::string query : {"", "?mode=stop", "?mode=", "?other=cancel",
                                  "?mode=cancel&mode=stop"}) {
    httplib::Result res =
        NewClient()->Patch(absl::StrCat("/jobs/", kRunningJob, query));
    ASSERT_TRUE(res) << query;
    EXPECT_EQ(res->status, 400) << query;
    const json body = json::parse(res->body);
    ASSERT_EQ(body["errors"].size(), 1u) << query;
    EXPECT_THAT(body["errors"][0].get<std::string>(), HasSubstr("cancel"))
        << query;
  }
  EXPECT_TRUE(view_.cancelled().empty());
}

TEST_F(RestServerTest, ExceptionsOfAFailedJob) {
  const json body = Get(absl::StrCat("/jobs/", kFailedJob, "/exceptions"));
  EXPECT_EQ(body["root-exception"], "std::runtime_error: boom\n  in Map (2/4)");
  EXPECT_EQ(body["timestamp"], 2900);
  EXPECT_EQ(body["truncated"], false);
  ASSERT_EQ(body["all-exceptions"].size(), 2u);
  EXPECT_EQ(body["all-exceptions"][1],
            json::parse(R"j({"exception":"TaskManager lost","task":"Map (1/4)",
                              "location":"127.0.0.1:6130","timestamp":2500})j"));
  const json& history = body["exceptionHistory"];
  EXPECT_EQ(history["truncated"], false);
  ASSERT_EQ(history["entries"].size(), 2u);
  EXPECT_EQ(history["entries"][0],
            json::parse(R"j({"exceptionName":"std::runtime_error: boom",
                              "stacktrace":"std::runtime_error: boom\n  in Map (2/4)",
                              "timestamp":2900,"taskName":"Map (2/4)",
                              "location":"127.0.0.1:6124","concurrentExceptions":[]})j"));
}

TEST_F(RestServerTest, ExceptionsOfAHealthyJobAreNull) {
  const json body = Get(absl::StrCat("/jobs/", kRunningJob, "/exceptions"));
  EXPECT_TRUE(body["root-exception"].is_null());
  EXPECT_TRUE(body["timestamp"].is_null());
  EXPECT_TRUE(body["all-exceptions"].empty());
  EXPECT_TRUE(body["exceptionHistory"]["entries"].empty());
}

TEST_F(RestServerTest, TaskManagers) {
  const json body = Get("/taskmanagers");
  ASSERT_EQ(body["taskmanagers"].size(), 2u);
  const json& tm = body["taskmanagers"][0];
  EXPECT_EQ(tm["id"], "tm-1");
  EXPECT_EQ(tm["path"], "127.0.0.1:6124");
  EXPECT_EQ(tm["dataPort"], 6125);
  EXPECT_EQ(tm["jmxPort"], -1);
  EXPECT_EQ(tm["timeSinceLastHeartbeat"], 1700000000123);
  EXPECT_EQ(tm["slotsNumber"], 4);
  EXPECT_EQ(tm["freeSlots"], 1);
  EXPECT_EQ(tm["totalResource"], json::object());
  EXPECT_EQ(tm["freeResource"], json::object());
  EXPECT_EQ(tm["memoryConfiguration"], json::object());
  for (const char* key :
       {"cpuCores", "physicalMemory", "freeMemory", "managedMemory"}) {
    EXPECT_TRUE(tm["hardware"][key].is_number()) << key;
  }
  EXPECT_EQ(body["taskmanagers"][1]["id"], "tm-2");
  EXPECT_EQ(body["taskmanagers"][1]["freeSlots"], 4);
}

TEST_F(RestServerTest, OneTaskManager) {
  EXPECT_EQ(Get("/taskmanagers/tm-2"), Get("/taskmanagers")["taskmanagers"][1]);
  const json missing = Get("/taskmanagers/tm-9", 404);
  ASSERT_EQ(missing["errors"].size(), 1u);
  EXPECT_THAT(missing["errors"][0].get<std::string>(), HasSubstr("tm-9"));
}

// ---- Checkpoints
// -------------------------------------------------------------

TEST_F(RestServerTest, CheckpointStatistics) {
  const json body = Get(absl::StrCat("/jobs/", kRunningJob, "/checkpoints"));
  EXPECT_EQ(body["counts"], json::parse(R"({"restored":0,"total":6,
      "in_progress":1,"completed":4,"failed":1})"));

  // Completed state sizes 500, 700, 300, 100 and durations 400, 300, 500,
  // 200 (ack - trigger). Legacy percentile: position p*(n+1)/100, so p50
  // lies half-way between the 2nd and 3rd smallest; p90 and up clamp to max.
  const json& summary = body["summary"];
  EXPECT_EQ(summary["state_size"],
            json::parse(R"({"min":100,"max":700,"avg":400,"p50":400.0,
                "p90":700.0,"p95":700.0,"p99":700.0,"p999":700.0})"));
  EXPECT_EQ(summary["checkpointed_size"], summary["state_size"]);
  EXPECT_EQ(summary["end_to_end_duration"],
            json::parse(R"({"min":200,"max":500,"avg":350,"p50":350.0,
                "p90":500.0,"p95":500.0,"p99":500.0,"p999":500.0})"));

  const json completed = json::parse(R"({"className":"completed","id":5,
      "status":"COMPLETED","is_savepoint":false,"checkpoint_type":"CHECKPOINT",
      "trigger_timestamp":10000,"latest_ack_timestamp":10400,"state_size":500,
      "checkpointed_size":500,"end_to_end_duration":400,"num_subtasks":4,
      "num_acknowledged_subtasks":4,"tasks":{},"external_path":"/cp/chk-5"})");
  const json savepoint = json::parse(R"({"className":"completed","id":4,
      "status":"COMPLETED","is_savepoint":true,"checkpoint_type":"SAVEPOINT",
      "trigger_timestamp":8000,"latest_ack_timestamp":8300,"state_size":700,
      "checkpointed_size":700,"end_to_end_duration":300,"num_subtasks":4,
      "num_acknowledged_subtasks":4,"tasks":{},
      "external_path":"/sp/savepoint-4"})");
  const json failed = json::parse(R"({"className":"failed","id":3,
      "status":"FAILED","is_savepoint":false,"checkpoint_type":"CHECKPOINT",
      "trigger_timestamp":6000,"latest_ack_timestamp":6100,"state_size":0,
      "checkpointed_size":0,"end_to_end_duration":100,"num_subtasks":4,
      "num_acknowledged_subtasks":2,"tasks":{},
      "failure_message":"Checkpoint expired before completing."})");
  // No acknowledgement yet: Flink shows -1 for the time and the duration.
  const json in_progress = json::parse(R"({"className":"in_progress","id":6,
      "status":"IN_PROGRESS","is_savepoint":false,"checkpoint_type":"CHECKPOINT",
      "trigger_timestamp":12000,"latest_ack_timestamp":-1,"state_size":0,
      "checkpointed_size":0,"end_to_end_duration":-1,"num_subtasks":4,
      "num_acknowledged_subtasks":0,"tasks":{}})");

  const json& latest = body["latest"];
  EXPECT_EQ(latest["completed"], completed);
  EXPECT_EQ(latest["savepoint"], savepoint);
  EXPECT_EQ(latest["failed"], failed);
  EXPECT_TRUE(latest["restored"].is_null());
  ASSERT_TRUE(latest.contains("restored"));

  const json& history = body["history"];
  ASSERT_EQ(history.size(), 6u);
  EXPECT_EQ(history[0], in_progress);
  EXPECT_EQ(history[1], completed);
  EXPECT_EQ(history[2], savepoint);
  EXPECT_EQ(history[3], failed);
  EXPECT_EQ(history[5]["id"], 1);
  EXPECT_EQ(history[5]["end_to_end_duration"], 200);
  EXPECT_EQ(history[5]["external_path"], "/cp/chk-1");

  EXPECT_EQ(Get(absl::StrCat("/v1/jobs/", kRunningJob, "/checkpoints/")), body);
}

TEST_F(RestServerTest, CheckpointStatisticsWithoutCheckpoints) {
  EXPECT_EQ(Get(absl::StrCat("/jobs/", kFinishedJob, "/checkpoints")),
            json::parse(R"({
      "counts":{"restored":0,"total":0,"in_progress":0,"completed":0,"failed":0},
      "summary":{
        "state_size":{"min":0,"max":0,"avg":0,"p50":0.0,"p90":0.0,"p95":0.0,
                      "p99":0.0,"p999":0.0},
        "checkpointed_size":{"min":0,"max":0,"avg":0,"p50":0.0,"p90":0.0,
                             "p95":0.0,"p99":0.0,"p999":0.0},
        "end_to_end_duration":{"min":0,"max":0,"avg":0,"p50":0.0,"p90":0.0,
                               "p95":0.0,"p99":0.0,"p999":0.0}},
      "latest":{"completed":null,"savepoint":null,"failed":null,"restored":null},
      "history":[]})"));
}

TEST_F(RestServerTest, CheckpointConfig) {
  EXPECT_EQ(Get(absl::StrCat("/jobs/", kRunningJob, "/checkpoints/config")),
            json::parse(R"({"mode":"exactly_once","interval":60000,
                "timeout":600000,"min_pause":500,"max_concurrent":1,
                "externalization":{"enabled":true,"delete_on_cancellation":false},
                "checkpoint_storage":"FileSystemCheckpointStorage",
                "unaligned_checkpoints":false,"tolerable_failed_checkpoints":3,
                "aligned_checkpoint_timeout":0,"state_changelog_enabled":false})"));
  const json other =
      Get(absl::StrCat("/v1/jobs/", kCreatedJob, "/checkpoints/config"));
  EXPECT_EQ(other["mode"], "at_least_once");
  EXPECT_EQ(other["interval"], 1000);
  EXPECT_EQ(other["timeout"], 20000);
  EXPECT_EQ(other["min_pause"], 0);
  EXPECT_EQ(other["tolerable_failed_checkpoints"], 0);
  EXPECT_EQ(other["externalization"]["delete_on_cancellation"], true);
}

TEST_F(RestServerTest, CheckpointConfigWithCheckpointingDisabledIs404) {
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kFinishedJob, "/checkpoints/config"), 404),
      json::parse(absl::StrCat(
          R"({"errors":["Checkpointing is not enabled for this job ()",
          kFinishedJob, R"()."]})")));
}

TEST_F(RestServerTest, CheckpointsOfUnknownOrMalformedJob) {
  for (const char* suffix : {"/checkpoints", "/checkpoints/config"}) {
    EXPECT_EQ(
        Get(absl::StrCat("/jobs/", kUnknownJob, suffix), 404)["errors"][0],
        absl::StrCat("Job ", kUnknownJob, " not found"))
        << suffix;
    EXPECT_THAT(Get(absl::StrCat("/jobs/nothex", suffix), 400)["errors"][0]
                    .get<std::string>(),
                HasSubstr("JobID"))
        << suffix;
  }
}

// ---- Savepoints and stop
// -----------------------------------------------------

TEST_F(RestServerTest, TriggerSavepoint) {
  const json first =
      Post(absl::StrCat("/jobs/", kRunningJob, "/savepoints"),
           R"({"target-directory":"/tmp/sp","cancel-job":false})", 202);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first["request-id"].is_string());
  // cancel-job stops the job after the savepoint, without draining.
  const json second =
      Post(absl::StrCat("/v1/jobs/", kRunningJob, "/savepoints"),
           R"({"target-directory":"/tmp/sp2","cancel-job":true,
               "formatType":"CANONICAL"})",
           202);
  // An empty body and nulls mean the defaults (state.savepoints.dir).
  Post(absl::StrCat("/jobs/", kCreatedJob, "/savepoints"), "", 202);
  Post(absl::StrCat("/jobs/", kCreatedJob, "/savepoints"),
       R"({"target-directory":null,"cancel-job":null,"triggerId":null})", 202);
  EXPECT_NE(first["request-id"], second["request-id"]);
  EXPECT_THAT(view_.savepoint_calls(),
              ElementsAre(SavepointCall{kRunningJob, "/tmp/sp", false, false},
                          SavepointCall{kRunningJob, "/tmp/sp2", true, false},
                          SavepointCall{kCreatedJob, "", false, false},
                          SavepointCall{kCreatedJob, "", false, false}));
}

TEST_F(RestServerTest, StopWithSavepoint) {
  Post(absl::StrCat("/jobs/", kRunningJob, "/stop"),
       R"({"targetDirectory":"/tmp/sp","drain":true})", 202);
  Post(absl::StrCat("/jobs/", kRunningJob, "/stop"), "{}", 202);
  Post(absl::StrCat("/jobs/", kRunningJob, "/stop"),
       R"({"drain":false,"formatType":"NATIVE"})", 202);
  EXPECT_THAT(view_.savepoint_calls(),
              ElementsAre(SavepointCall{kRunningJob, "/tmp/sp", true, true},
                          SavepointCall{kRunningJob, "", true, false},
                          SavepointCall{kRunningJob, "", true, false}));
}

TEST_F(RestServerTest, SavepointStatusIsPolledUntilCompleted) {
  // As in Flink, a stop's operation is polled on the savepoints path.
  const std::string trigger = Post(absl::StrCat("/jobs/", kRunningJob, "/stop"),
                                   "{}", 202)["request-id"];
  const std::string status_path =
      absl::StrCat("/jobs/", kRunningJob, "/savepoints/", trigger);
  EXPECT_EQ(Get(status_path),
            json::parse(R"({"status":{"id":"IN_PROGRESS"},"operation":null})"));
  view_.CompleteSavepoint(kRunningJob, trigger, "/tmp/sp/savepoint-0123-4567");
  EXPECT_EQ(Get(status_path), json::parse(R"({"status":{"id":"COMPLETED"},
                "operation":{"location":"/tmp/sp/savepoint-0123-4567"}})"));
  EXPECT_EQ(Get(absl::StrCat("/v1", status_path, "/")), Get(status_path));
}

TEST_F(RestServerTest, CompletedAndFailedSavepointStatus) {
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kRunningJob, "/savepoints/", kDoneTrigger)),
      json::parse(R"({"status":{"id":"COMPLETED"},
          "operation":{"location":"/sp/savepoint-012345-abcdef"}})"));
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kRunningJob, "/savepoints/", kFailedTrigger)),
      json::parse(R"({"status":{"id":"COMPLETED"},
          "operation":{"failure-cause":{"class":"CheckpointException",
          "stack-trace":"CheckpointException: savepoint 7 failed: Task Map (1/4) declined"}}})"));
}

TEST_F(RestServerTest, SavepointsOfUnknownJobsAndTriggersAre404) {
  const std::string job_not_found =
      absl::StrCat("Job ", kUnknownJob, " not found");
  EXPECT_EQ(Post(absl::StrCat("/jobs/", kUnknownJob, "/savepoints"), "{}",
                 404)["errors"][0],
            job_not_found);
  EXPECT_EQ(Post(absl::StrCat("/jobs/", kUnknownJob, "/stop"), "{}",
                 404)["errors"][0],
            job_not_found);
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kUnknownJob, "/savepoints/", kDoneTrigger),
          404)["errors"][0],
      job_not_found);
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kRunningJob, "/savepoints/", kUnknownTrigger),
          404)["errors"][0],
      absl::StrCat("There is no savepoint operation with triggerId=",
                   kUnknownTrigger, " for job ", kRunningJob, "."));
  // A trigger belongs to its job.
  EXPECT_EQ(
      Get(absl::StrCat("/jobs/", kCreatedJob, "/savepoints/", kDoneTrigger),
          404)["errors"][0],
      absl::StrCat("There is no savepoint operation with triggerId=",
                   kDoneTrigger, " for job ", kCreatedJob, "."));
  EXPECT_TRUE(view_.savepoint_calls().empty());
}

TEST_F(RestServerTest, SavepointOfTerminalJobIs409) {
  const json body =
      Post(absl::StrCat("/jobs/", kFinishedJob, "/savepoints"), "{}", 409);
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_THAT(body["errors"][0].get<std::string>(), HasSubstr("is FINISHED"));
  Post(absl::StrCat("/jobs/", kCanceledJob, "/stop"), "{}", 409);
}

TEST_F(RestServerTest, MalformedSavepointRequestsAre400) {
  const std::string savepoints =
      absl::StrCat("/jobs/", kRunningJob, "/savepoints");
  const std::string stop = absl::StrCat("/jobs/", kRunningJob, "/stop");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {savepoints, "{"},
      {savepoints, "not json"},
      {savepoints, "[]"},
      {savepoints, "\"/tmp/sp\""},
      {savepoints, R"({"cancel-job":"yes"})"},
      {savepoints, R"({"target-directory":5})"},
      {savepoints, R"({"targetDirectory":"/tmp/sp"})"},  // the stop spelling
      {savepoints, R"({"formatType":"ZIP"})"},
      {savepoints, R"({"triggerId":"abc"})"},
      {stop, "{"},
      {stop, R"({"drain":1})"},
      {stop, R"({"targetDirectory":["/tmp"]})"},
      {stop, R"({"target-directory":"/tmp/sp"})"},  // the savepoint spelling
      {stop, R"({"drain":true,"cancel-job":true})"},
  };
  for (const auto& [path, body] : cases) {
    const json reply = Post(path, body, 400);
    ASSERT_EQ(reply["errors"].size(), 1u) << path << " " << body;
    EXPECT_THAT(reply["errors"][0].get<std::string>(),
                StartsWith("Bad request"))
        << path << " " << body;
  }
  EXPECT_THAT(Post(savepoints, R"({"cancel-job":"yes"})", 400)["errors"][0]
                  .get<std::string>(),
              HasSubstr("\"cancel-job\" must be true or false"));
  EXPECT_THAT(
      Post(stop, R"({"bogus":1})", 400)["errors"][0].get<std::string>(),
      HasSubstr("StopWithSavepointRequestBody: unknown field \"bogus\""));
  Post("/jobs/nothex/savepoints", "{}", 400);
  Post("/jobs/nothex/stop", "{}", 400);
  EXPECT_TRUE(view_.savepoint_calls().empty());
  ExpectAlive();
}

TEST_F(RestServerTest, SavepointEndpointsCheckTheMethod) {
  auto client = NewClient();
  httplib::Result res =
      client->Get(absl::StrCat("/jobs/", kRunningJob, "/savepoints"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  res = client->Get(absl::StrCat("/jobs/", kRunningJob, "/stop"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  res = client->Post(
      absl::StrCat("/jobs/", kRunningJob, "/savepoints/", kDoneTrigger), "{}",
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET");
  res = client->Post(absl::StrCat("/jobs/", kRunningJob, "/checkpoints"), "{}",
                     "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_TRUE(view_.savepoint_calls().empty());
}

// A view without checkpoint support (the ClusterView defaults).
class ViewWithoutCheckpoints : public ClusterView {
 public:
  std::vector<JobView> Jobs() override { return {MakeRunningJob()}; }
  std::optional<JobView> Job(const std::string&) override {
    return MakeRunningJob();
  }
  absl::Status CancelJob(const std::string&) override {
    return absl::OkStatus();
  }
  std::vector<TaskManagerView> TaskManagers() override { return {}; }
  std::map<std::string, std::string> Configuration() override { return {}; }
};

TEST(RestServerWithoutCheckpointsTest, CheckpointEndpointsAre501) {
  ViewWithoutCheckpoints view;
  RestServer server(&view, "127.0.0.1", 0);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  for (const std::string& path :
       {absl::StrCat("/jobs/", kRunningJob, "/checkpoints"),
        absl::StrCat("/jobs/", kRunningJob, "/checkpoints/config"),
        absl::StrCat("/jobs/", kRunningJob, "/savepoints/", kDoneTrigger)}) {
    httplib::Result res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 501) << path;
    EXPECT_EQ(json::parse(res->body)["errors"].size(), 1u) << path;
  }
  httplib::Result res =
      client.Post(absl::StrCat("/jobs/", kRunningJob, "/savepoints"), "{}",
                  "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 501);
}

TEST_F(RestServerTest, UnknownPathIs404) {
  for (const char* path : {"/nope", "/jobs/overview/extra", "/v1", "/",
                           "/v2/overview", "//overview", "/jobs//exceptions"}) {
    EXPECT_EQ(
        Get(path, 404),
        json::parse(absl::StrCat(R"({"errors":["Not found: )", path, R"("]})")))
        << path;
  }
}

TEST_F(RestServerTest, WrongMethodIs405) {
  auto client = NewClient();
  httplib::Result res = client->Post("/overview");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET");
  EXPECT_THAT(res->get_header_value("Content-Type"),
              StartsWith("application/json"));
  json body = json::parse(res->body);
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_THAT(body["errors"][0].get<std::string>(), HasSubstr("POST"));

  res = client->Delete(absl::StrCat("/jobs/", kRunningJob));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, PATCH");

  res = client->Patch("/jobs/overview?mode=cancel");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);

  res = client->Put("/taskmanagers", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_TRUE(view_.cancelled().empty());
}

TEST_F(RestServerTest, HeadIsAnsweredLikeGet) {
  httplib::Result res = NewClient()->Head("/overview");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
}

TEST_F(RestServerTest, MalformedRequestsDoNotCrashTheServer) {
  // Garbage request lines, unknown methods, oversized paths and queries,
  // invalid UTF-8 and binary junk.
  EXPECT_THAT(Raw("GARBAGE\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(Raw("FOO /overview HTTP/1.1\r\nHost: x\r\n\r\n"),
              StartsWith("HTTP/1.1 400"));
  const std::string trace =
      Raw("TRACE /overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(trace, StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(trace, HasSubstr("application/json"));
  EXPECT_THAT(
      Raw(absl::StrCat("GET /", std::string(200000, 'a'), " HTTP/1.1\r\n\r\n")),
      StartsWith("HTTP/1.1 414"));
  EXPECT_THAT(Raw(absl::StrCat("GET /overview?", std::string(200000, 'q'),
                               " HTTP/1.1\r\n\r\n")),
              StartsWith("HTTP/1.1 414"));
  const std::string bad_utf8 =
      Raw("GET /jobs/%FF%FE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(bad_utf8, StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(bad_utf8, HasSubstr("errors"));
  const std::string bad_path =
      Raw("GET /%FF%00%C3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(bad_path, StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(
      Raw("GET overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      StartsWith("HTTP/1.1 404"));
  std::string junk;
  for (int i = 0; i < 100000; ++i) junk.push_back(static_cast<char>(i * 7919));
  junk += "\r\n\r\n";
  EXPECT_THAT(Raw(junk), StartsWith("HTTP/1.1 4"));
  // Bodies over 1 MiB are refused; a broken chunked body is a bad request.
  EXPECT_THAT(
      Raw(absl::StrCat(
          "PATCH /jobs/", kRunningJob,
          "?mode=cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
          "Connection: close\r\n\r\n",
          std::string(2000000, 'x'))),
      StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(Raw(absl::StrCat("PATCH /jobs/", kRunningJob,
                               "?mode=cancel HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\nzz\r\n")),
              StartsWith("HTTP/1.1 400"));
  EXPECT_TRUE(view_.cancelled().empty());
  // Many long but acceptable queries.
  auto client = NewClient();
  for (int i = 0; i < 20; ++i) {
    httplib::Result res =
        client->Get(absl::StrCat("/overview?x=", std::string(7000, 'z')));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  ExpectAlive();
}

TEST_F(RestServerTest, KeepAliveConnectionServesManyRequests) {
  auto client = NewClient();
  client->set_keep_alive(true);
  for (int i = 0; i < 20; ++i) {
    httplib::Result res = client->Get(i % 2 == 0 ? "/jobs" : "/nope");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, i % 2 == 0 ? 200 : 404);
  }
}

TEST_F(RestServerTest, ConcurrentRequests) {
  constexpr int kThreads = 8;
  constexpr int kRequestsPerThread = 40;
  const std::vector<std::string> paths = {
      "/overview",
      "/jobs",
      "/jobs/overview",
      absl::StrCat("/jobs/", kRunningJob),
      absl::StrCat("/jobs/", kFailedJob, "/exceptions"),
      "/taskmanagers",
      "/config"};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", server_->port());
      client.set_keep_alive(t % 2 == 0);
      for (int i = 0; i < kRequestsPerThread; ++i) {
        httplib::Result res = client.Get(paths[(t + i) % paths.size()]);
        if (res && res->status == 200 && json::accept(res->body)) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequestsPerThread);
  EXPECT_GE(view_.calls(), kThreads * kRequestsPerThread);
}

TEST_F(RestServerTest, BindConflictNamesTheAddress) {
  RestServer second(&view_, "127.0.0.1", server_->port());
  const absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat("127.0.0.1:", server_->port())));
  ExpectAlive();
}

TEST_F(RestServerTest, StartTwiceFailsAndStopIsIdempotent) {
  EXPECT_EQ(server_->Start().code(), absl::StatusCode::kFailedPrecondition);
  server_->Stop();
  server_->Stop();
  httplib::Client client("127.0.0.1", server_->port());
  client.set_connection_timeout(2, 0);
  EXPECT_FALSE(client.Get("/overview"));
}

TEST(RestServerLifecycleTest, StopWithoutStartAndBadAddress) {
  FakeClusterView view;
  { RestServer never_started(&view, "127.0.0.1", 0); }
  RestServer bad(&view, "no-such-host.invalid", 8081);
  const absl::Status status = bad.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("no-such-host.invalid:8081"));
}

}  // namespace
}  // namespace eddy::dispatcher
