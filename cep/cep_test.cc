// CEP jobs on the embedded cluster: event time with out-of-order input and
// interleaved keys, timeouts on the side output, process / flatSelect,
// processing time, late data, a non-keyed pattern, generated logins against
// a plain loop, and a restore from a checkpoint taken halfway through, with
// another parallelism.
#include "eddy/cep.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eddy/checkpoint.h"
#include "eddy/eddy.h"
#include "gtest/gtest.h"

namespace cep_job_test {

struct Login {
  std::string user;
  std::string type;  // "fail" or "success"
  int64_t time = 0;
};
EDDY_FIELDS(Login, user, type, time);

}  // namespace cep_job_test

namespace {

using cep_job_test::Login;
using eddy::cep::AfterMatchSkipStrategy;
using eddy::cep::CEP;
using eddy::cep::Match;
using eddy::cep::Pattern;
using Strings = std::multiset<std::string>;

std::mutex g_mu;
std::vector<std::string> g_out;

void Record(const std::string& s) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_out.push_back(s);
}
Strings TakeOutput() {
  std::lock_guard<std::mutex> lock(g_mu);
  Strings out(g_out.begin(), g_out.end());
  g_out.clear();
  return out;
}

bool IsFail(const Login& l) { return l.type == "fail"; }

// Two failed logins in a row, less than 2 s apart.
Pattern<Login> LoginFail() {
  return Pattern<Login>::begin("fail").where(IsFail).next("fail2").where(IsFail).within(std::chrono::seconds(2));
}

std::string ShowMatch(const Match<Login>& m) {
  const Login& a = m.at("fail").front();
  return "M " + a.user + " " + std::to_string(a.time) + " " + std::to_string(m.at("fail2").front().time);
}
std::string ShowTimeout(const Match<Login>& m, int64_t at) {
  const Login& a = m.at("fail").front();
  return "T " + a.user + " " + std::to_string(a.time) + " " + std::to_string(at);
}

// Two users, interleaved, in time order. By user and time:
//   u1: F1000 F1500 S1600 F5000 F6999  -> 1000+1500 match; 5000+6999 match (1999 ms);
//       F1500's partial match dies at S1600; F6999's times out at 8999 (end of input).
//   u2: F1100 S1200 F1300 F4000 F5000  -> 1300's partial match times out at 3300
//       (F4000 is 2700 ms later); 4000+5000 match; F5000's times out at 7000.
std::vector<Login> Logins() {
  return {{"u1", "fail", 1000}, {"u2", "fail", 1100},    {"u2", "success", 1200}, {"u2", "fail", 1300},
          {"u1", "fail", 1500}, {"u1", "success", 1600}, {"u2", "fail", 4000},    {"u1", "fail", 5000},
          {"u2", "fail", 5000}, {"u1", "fail", 6999}};
}
const Strings kExpectedMatches = {"M u1 1000 1500", "M u1 5000 6999", "M u2 4000 5000"};
const Strings kExpectedTimeouts = {"T u1 6999 8999", "T u2 1300 3300", "T u2 5000 7000"};

Strings Union(Strings a, const Strings& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// Shuffled so that no event is more than 3 s behind the newest before it.
std::vector<Login> OutOfOrder() {
  std::vector<Login> v = Logins();
  std::swap(v[0], v[4]);  // 1500 before 1000
  std::swap(v[6], v[9]);  // 6999 before 4000
  std::swap(v[1], v[3]);  // 1300 before 1100
  return v;
}

eddy::WatermarkStrategy<Login> Watermarks() {
  return eddy::WatermarkStrategy<Login>::forBoundedOutOfOrderness(std::chrono::seconds(3))
      .withTimestampAssigner([](const Login& l, int64_t) { return l.time; });
}

auto ByUser() {
  return [](const Login& l) { return l.user; };
}

TEST(CepJobTest, EventTimeOutOfOrderInputFindsTheMatchesOfOrderedInput) {
  for (const auto& input : {Logins(), OutOfOrder()}) {
    for (int parallelism : {1, 2}) {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(parallelism);
      auto keyed = env.fromCollection(input).assignTimestampsAndWatermarks(Watermarks()).keyBy(ByUser());
      eddy::OutputTag<std::string> timeouts("timeouts");
      auto matches = CEP::pattern(keyed, LoginFail()).select(timeouts, ShowTimeout, ShowMatch);
      matches.addSink(Record);
      matches.getSideOutput(timeouts).addSink(Record);
      env.execute("cep event time");
      EXPECT_EQ(TakeOutput(), Union(kExpectedMatches, kExpectedTimeouts)) << "parallelism " << parallelism;
    }
  }
}

// Matches to the main output, twice each (flatSelect) or through a process
// function that also handles timeouts on its own side output.
class LoginFailProcess : public eddy::cep::PatternProcessFunction<Login, std::string>,
                         public eddy::cep::TimedOutPartialMatchHandler<Login> {
 public:
  void processMatch(const Match<Login>& m, Context& ctx, eddy::Collector<std::string>& out) override {
    // Event time: the match carries its last event's timestamp.
    out.collect(ShowMatch(m) + " @" + std::to_string(ctx.timestamp()));
  }
  void processTimedOutMatch(const Match<Login>& m, eddy::cep::PatternContext& ctx) override {
    ctx.output(eddy::OutputTag<std::string>("late-logins"), ShowTimeout(m, ctx.timestamp()));
  }
};

TEST(CepJobTest, ProcessFunctionWithTimeoutHandlerAndFlatSelect) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  auto keyed = env.fromCollection(OutOfOrder()).assignTimestampsAndWatermarks(Watermarks()).keyBy(ByUser());
  auto processed = CEP::pattern(keyed, LoginFail()).process(LoginFailProcess());
  processed.addSink(Record);
  processed.getSideOutput(eddy::OutputTag<std::string>("late-logins")).addSink(Record);
  CEP::pattern(keyed, LoginFail())
      .flatSelect([](const Match<Login>& m, eddy::Collector<std::string>& out) {
        out.collect("F1 " + ShowMatch(m));
        out.collect("F2 " + ShowMatch(m));
      })
      .addSink(Record);
  env.execute("cep process");
  const Strings expected = {"M u1 1000 1500 @1500", "M u1 5000 6999 @6999", "M u2 4000 5000 @5000",
                            "T u1 6999 8999",       "T u2 1300 3300",       "T u2 5000 7000",
                            "F1 M u1 1000 1500",    "F1 M u1 5000 6999",    "F1 M u2 4000 5000",
                            "F2 M u1 1000 1500",    "F2 M u1 5000 6999",    "F2 M u2 4000 5000"};
  EXPECT_EQ(TakeOutput(), expected);
}

TEST(CepJobTest, ProcessingTimeMatchesInArrivalOrder) {
  // No timestamps at all; `time` is just the position. Per user in arrival order:
  //   u1: F0 F2 S3 F5 F6 -> 0+2, 5+6;   u2: F1 F4 -> 1+4.
  const std::vector<Login> input = {{"u1", "fail", 0}, {"u2", "fail", 1}, {"u1", "fail", 2}, {"u1", "success", 3},
                                    {"u2", "fail", 4}, {"u1", "fail", 5}, {"u1", "fail", 6}};
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  auto keyed = env.fromCollection(input).keyBy(ByUser());
  auto pattern = Pattern<Login>::begin("fail").where(IsFail).next("fail2").where(IsFail);
  CEP::pattern(keyed, pattern).inProcessingTime().select(ShowMatch).addSink(Record);
  env.execute("cep processing time");
  EXPECT_EQ(TakeOutput(), (Strings{"M u1 0 2", "M u1 5 6", "M u2 1 4"}));
}

// Emits with its own timestamps and watermarks: 1000, watermark 2000, then a
// late 1500, then 2500.
class LateSource : public eddy::SourceFunction<Login> {
 public:
  void run(SourceContext& ctx) override {
    ctx.collectWithTimestamp({"u", "fail", 1000}, 1000);
    ctx.emitWatermark(2000);
    ctx.collectWithTimestamp({"u", "fail", 1500}, 1500);
    ctx.collectWithTimestamp({"u", "fail", 2500}, 2500);
  }
};

TEST(CepJobTest, LateEventsGoToTheLateDataSideOutput) {
  eddy::StreamExecutionEnvironment env;
  eddy::OutputTag<Login> late("late");
  auto pattern = Pattern<Login>::begin("fail").where(IsFail).next("fail2").where(IsFail);
  auto matches =
      CEP::pattern(env.addSource(LateSource()).keyBy(ByUser()), pattern).sideOutputLateData(late).select(ShowMatch);
  matches.addSink(Record);
  matches.getSideOutput(late).addSink([](const Login& l) { Record("late " + std::to_string(l.time)); });
  env.execute("cep late data");
  // 1500 is behind the watermark: dropped from matching, so 1000 and 2500 are "next".
  EXPECT_EQ(TakeOutput(), (Strings{"M u 1000 2500", "late 1500"}));
}

// u1 fails at 0, 100 and 200 and then falls silent; the watermark goes to
// 500 (all three are fed), then to 1150; u2 fails at 3000 and 3100; the
// input ends.
class SilentKeySource : public eddy::SourceFunction<Login> {
 public:
  void run(SourceContext& ctx) override {
    for (int64_t t : {0, 100, 200}) ctx.collectWithTimestamp({"u1", "fail", t}, t);
    ctx.emitWatermark(500);
    ctx.emitWatermark(1150);
    for (int64_t t : {3000, 3100}) ctx.collectWithTimestamp({"u2", "fail", t}, t);
  }
};

TEST(CepJobTest, OverlappingPartialMatchesOfASilentKeyEachTimeOutWhenTheWatermarkPassesThem) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(1);
  auto pattern = Pattern<Login>::begin("fail")
                     .where(IsFail)
                     .followedBy("success")
                     .where([](const Login& l) { return l.type == "success"; })
                     .within(std::chrono::seconds(1));
  eddy::OutputTag<std::string> timeouts("timeouts");
  auto matches =
      CEP::pattern(env.addSource(SilentKeySource()).keyBy(ByUser()), pattern)
          .select(timeouts, ShowTimeout, [](const Match<Login>&) { return std::string("unexpected match"); });
  matches.addSink(Record);
  matches.getSideOutput(timeouts).addSink(Record);
  env.execute("cep timeouts of a silent key");
  // No success ever comes, so every fail times out 1 s after it: u1's 0 and
  // 100 when the watermark reaches 1150, its 200 (no later u1 record wakes
  // the key: only its timer does) and u2's when the input ends.
  EXPECT_EQ(TakeOutput(),
            (Strings{"T u1 0 1000", "T u1 100 1100", "T u1 200 1200", "T u2 3000 4000", "T u2 3100 4100"}));
}

TEST(CepJobTest, NonKeyedPatternSeesTheWholeStream) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(3);
  auto stream = env.fromCollection(Logins()).assignTimestampsAndWatermarks(Watermarks());
  // Any user: fail, then success next. In time order: F1100 S1200 and F1500 S1600.
  auto pattern =
      Pattern<Login>::begin("fail").where(IsFail).next("ok").where([](const Login& l) { return l.type == "success"; });
  CEP::pattern(stream, pattern)
      .select([](const Match<Login>& m) { return m.at("fail")[0].user + std::to_string(m.at("ok")[0].time); })
      .addSink(Record);
  env.execute("cep non-keyed");
  EXPECT_EQ(TakeOutput(), (Strings{"u21200", "u11600"}));
}

TEST(CepJobTest, EventTimeWithoutTimestampsIsAClearError) {
  eddy::StreamExecutionEnvironment env;
  CEP::pattern(env.fromCollection(Logins()).keyBy(ByUser()), LoginFail()).select(ShowMatch).addSink(Record);
  try {
    env.execute("cep no timestamps");
    FAIL() << "expected the job to fail";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("CEP in event time: a record has no timestamp"), std::string::npos)
        << e.what();
  }
  TakeOutput();
}

// ---- Generated logins against a plain per-user loop ----

std::vector<Login> Generated(int n, int users, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Login> v;
  int64_t t = 0;
  for (int i = 0; i < n; ++i) {
    t += rng() % 300;
    v.push_back({"user" + std::to_string(rng() % users), rng() % 10 < 4 ? "fail" : "success", t});
  }
  return v;
}

// The matches by hand-written logic: per user, in time order, two
// consecutive fails less than 2000 ms apart.
Strings ReferenceLoginFail(std::vector<Login> v) {
  std::stable_sort(v.begin(), v.end(), [](const Login& a, const Login& b) { return a.time < b.time; });
  std::map<std::string, const Login*> last;
  Strings out;
  for (const Login& l : v) {
    const Login*& prev = last[l.user];
    if (prev && IsFail(*prev) && IsFail(l) && l.time - prev->time < 2000) {
      out.insert("M " + l.user + " " + std::to_string(prev->time) + " " + std::to_string(l.time));
    }
    prev = &l;
  }
  return out;
}

TEST(CepJobTest, GeneratedLoginsMatchAPlainLoopOnBothBackendsAtAnyParallelism) {
  std::vector<Login> input = Generated(3000, 25, 7);
  // Distinct timestamps per user keep "next" unambiguous; shuffle locally
  // (within 8 positions, far less than the 3 s bound).
  std::mt19937 rng(11);
  for (size_t i = 0; i + 8 < input.size(); i += 8) std::shuffle(input.begin() + i, input.begin() + i + 8, rng);
  const Strings expected = ReferenceLoginFail(input);
  ASSERT_GT(expected.size(), 50u);
  for (const char* backend : {"hashmap", "rocksdb"}) {
    for (int parallelism : {1, 3}) {
      eddy::StreamExecutionEnvironment env(std::map<std::string, std::string>{{"state.backend.type", backend}});
      env.setParallelism(parallelism);
      auto keyed = env.fromCollection(input).assignTimestampsAndWatermarks(Watermarks()).keyBy(ByUser());
      CEP::pattern(keyed, LoginFail()).select(ShowMatch).addSink(Record);
      env.execute("cep generated");
      EXPECT_EQ(TakeOutput(), expected) << backend << ", parallelism " << parallelism;
    }
  }
}

// ---- Restore from a checkpoint ----

std::atomic<int64_t> g_kept_checkpoint{-1};
constexpr int64_t kWatermarkAtStop = 1550;

// First run: emits the first `stop_at` logins and a watermark, waits until a
// checkpoint that covers exactly those completes, copies it to `keep`, and
// fails the job.
// Restored run: continues from the checkpointed position to the end.
class HalfThenFailSource : public eddy::RichSourceFunction<Login>,
                           public eddy::CheckpointedFunction,
                           public eddy::CheckpointListener {
 public:
  HalfThenFailSource(std::vector<Login> logins, size_t stop_at, std::string checkpoints, std::string keep)
      : logins_(std::move(logins)), stop_at_(stop_at), checkpoints_(std::move(checkpoints)), keep_(std::move(keep)) {}

  void initializeState(eddy::FunctionInitializationContext& ctx) override {
    state_ = &ctx.getOperatorStateStore().getListState(eddy::ListStateDescriptor<int64_t>("position"));
    restored_ = ctx.isRestored();
    for (int64_t p : state_->get()) position_ = static_cast<size_t>(p);
  }
  void snapshotState(const eddy::FunctionSnapshotContext& ctx) override {
    state_->update({static_cast<int64_t>(position_)});
    if (position_ == stop_at_) covering_.insert(ctx.getCheckpointId());
  }
  void notifyCheckpointComplete(int64_t id) override {
    if (!covering_.count(id) || done_) return;
    const auto dir =
        std::filesystem::path(checkpoints_) / getRuntimeContext().getJobId() / ("chk-" + std::to_string(id));
    std::filesystem::copy(dir, keep_, std::filesystem::copy_options::recursive);
    g_kept_checkpoint = id;
    done_ = true;
  }
  void run(SourceContext& ctx) override {
    for (; position_ < logins_.size(); ++position_) {
      if (position_ == stop_at_ && !restored_) {
        ctx.emitWatermark(kWatermarkAtStop);
        while (!done_ && ctx.isRunning()) {
          ctx.flush();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        throw std::runtime_error("simulated failure after the checkpoint");
      }
      ctx.collectWithTimestamp(logins_[position_], logins_[position_].time);
    }
  }

 private:
  std::vector<Login> logins_;
  size_t stop_at_;
  std::string checkpoints_;
  std::string keep_;
  size_t position_ = 0;
  bool restored_ = false;
  bool done_ = false;
  std::set<int64_t> covering_;
  eddy::ListState<int64_t>* state_ = nullptr;
};

// Counts what it has seen at each checkpoint, so that the outputs of the
// failed run can be cut where its checkpoint was taken.
std::map<int64_t, size_t> g_seen_at;
class CountingSink : public eddy::SinkFunction<std::string>, public eddy::CheckpointedFunction {
 public:
  void invoke(const std::string& value) override { Record(value); }
  void snapshotState(const eddy::FunctionSnapshotContext& ctx) override {
    std::lock_guard<std::mutex> lock(g_mu);
    g_seen_at[ctx.getCheckpointId()] = g_out.size();
  }
  void initializeState(eddy::FunctionInitializationContext&) override {}
};

void BuildRestoreJob(eddy::StreamExecutionEnvironment& env, HalfThenFailSource source) {
  eddy::OutputTag<std::string> timeouts("timeouts");
  auto keyed = env.addSource(std::move(source)).uid("logins").keyBy(ByUser());
  auto matches = CEP::pattern(keyed, LoginFail()).select(timeouts, ShowTimeout, ShowMatch);
  matches.uid("cep");
  matches.union_(matches.getSideOutput(timeouts)).addSink(CountingSink()).uid("sink").setParallelism(1);
}

TEST(CepJobTest, RestoreFromACheckpointHalfwayLosesAndRepeatsNothing) {
  const auto root = std::filesystem::temp_directory_path() /
                    ("eddy-cep-restore-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::string checkpoints = (root / "checkpoints").string();
  const std::string keep = (root / "kept").string();
  // Out-of-order input: F1500 F1300 S1200 F1100 F1000, then watermark 1550.
  // At the checkpoint u1 has matched 1000+1500 and holds F1500's partial
  // match; u2 holds F1300's, which must time out at 3300 after the restore.
  const std::vector<Login> input = OutOfOrder();
  TakeOutput();
  {
    eddy::StreamExecutionEnvironment env({{"state.checkpoints.dir", checkpoints}});
    env.setParallelism(2);
    env.enableCheckpointing(30);
    BuildRestoreJob(env, HalfThenFailSource(input, 5, checkpoints, keep));
    EXPECT_THROW(env.execute("cep restore, first half"), eddy::JobExecutionException);
  }
  ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(keep) / "_metadata"));
  std::vector<std::string> first;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    first = g_out;
    g_out.clear();
  }
  // What the sink had seen when the kept checkpoint was taken survives; the rest was lost with the failure.
  size_t cut = 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ASSERT_TRUE(g_seen_at.count(g_kept_checkpoint));
    cut = g_seen_at[g_kept_checkpoint];
  }
  ASSERT_LE(cut, first.size());
  EXPECT_EQ(std::vector<std::string>(first.begin(), first.begin() + static_cast<long>(cut)),
            std::vector<std::string>{"M u1 1000 1500"});
  {
    // Rescaled: the CEP operator now runs at parallelism 3.
    eddy::StreamExecutionEnvironment env({{"state.checkpoints.dir", checkpoints}, {"execution.savepoint.path", keep}});
    env.setParallelism(3);
    BuildRestoreJob(env, HalfThenFailSource(input, 5, checkpoints, keep));
    env.execute("cep restore, second half");
  }
  Strings all = TakeOutput();
  all.insert(first.begin(), first.begin() + static_cast<long>(cut));
  EXPECT_EQ(all, Union(kExpectedMatches, kExpectedTimeouts));
  std::filesystem::remove_all(root);
}

}  // namespace
