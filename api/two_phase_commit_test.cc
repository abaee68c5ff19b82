// TwoPhaseCommitSinkFunction (eddy/two_phase_commit.h) and the exactly-once
// FileSink built on it (eddy/sinks.h), driven directly the way a task drives a
// sink: runtime context, initializeState, open, records, snapshotState,
// notifyCheckpointComplete, finish, close; crashes are simulated by
// destroying the function without close(), restores by handing a new instance
// the operator state of a snapshot, redistributed as the runtime does for
// another parallelism. Every check compares the visible files' lines with the
// records that must be committed, computed here from the record indexes.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/testing/function_harness.h"
#include "eddy/checkpoint.h"
#include "eddy/eddy.h"
#include "eddy/sinks.h"
#include "eddy/two_phase_commit.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using Snapshot = eddy::testing::OperatorStateSnapshot;
using eddy::testing::Redistribute;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

// A sink subtask driven as a task drives it; destroying it without Close() is a crash.
template <class F>
using SinkHarness = eddy::testing::FunctionHarness<F>;

using FileSinkHarness = SinkHarness<eddy::RowFileSinkFunction<std::string>>;

// ---- Files and expected lines ----

class TwoPhaseCommitFileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("eddy_2pc_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  eddy::RowFileSinkFunction<std::string> Sink() const { return eddy::RowFileSinkFunction<std::string>(dir_.string()); }
  std::unique_ptr<FileSinkHarness> Open(int subtask, int parallelism, const Snapshot* restored = nullptr) const {
    return std::make_unique<FileSinkHarness>(Sink(), subtask, parallelism, restored);
  }

  // Visible files (relative paths) -> their lines.
  std::map<std::string, std::vector<std::string>> Committed() const {
    std::map<std::string, std::vector<std::string>> out;
    if (!fs::exists(dir_)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (!entry.is_regular_file() || entry.path().filename().string()[0] == '.') continue;
      std::ifstream in(entry.path());
      auto& lines = out[fs::relative(entry.path(), dir_).string()];
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    return out;
  }
  std::vector<std::string> CommittedLines() const {
    std::vector<std::string> all;
    for (const auto& [name, lines] : Committed()) all.insert(all.end(), lines.begin(), lines.end());
    return all;
  }
  std::vector<std::string> CommittedNames() const {
    std::vector<std::string> names;
    for (const auto& [name, lines] : Committed()) names.push_back(name);
    return names;
  }
  // Hidden (in-progress) files, relative paths.
  std::vector<std::string> InProgress() const {
    std::vector<std::string> out;
    if (!fs::exists(dir_)) return out;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.is_regular_file() && entry.path().filename().string()[0] == '.') {
        out.push_back(fs::relative(entry.path(), dir_).string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

// Records "<tag>-<i>" for i in [begin, end).
std::vector<std::string> Records(const std::string& tag, int begin, int end) {
  std::vector<std::string> out;
  for (int i = begin; i < end; ++i) out.push_back(tag + "-" + std::to_string(i));
  return out;
}
std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// ---- Checkpoints, crash and recovery ----

TEST_F(TwoPhaseCommitFileSinkTest, CommitsOnCompletionRecoversPendingAndDropsUncheckpointedData) {
  const auto batch1 = Records("r", 0, 100), batch2 = Records("r", 100, 150), batch3 = Records("r", 150, 200),
             batch4 = Records("r", 200, 250), batch5 = Records("r", 250, 300);
  auto sink = Open(0, 1);
  sink->Write(batch1);
  const Snapshot cp1 = sink->Checkpoint(1);
  EXPECT_THAT(CommittedLines(), IsEmpty()) << "pre-committed data is not visible before completion";
  sink->Write(batch2);
  sink->Complete(1);
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", batch1)));

  sink->Write(batch3);
  const Snapshot cp2 = sink->Checkpoint(2);
  sink->Write(batch4);
  sink->function().onIdle();  // batch4 reaches its in-progress file
  EXPECT_THAT(InProgress(), ElementsAre(".part-0-1.inprogress", ".part-0-2.inprogress"));
  sink.reset();  // crash: checkpoint 2 completes, but the sink is never told

  // The JobManager restores from checkpoint 2: its pending transaction (batch
  // 2 and 3) is committed on recovery, what came after it (batch 4) is
  // deleted and will be replayed.
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(batch1));
  sink = Open(0, 1, &cp2);
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", batch1),
                                       std::pair<const std::string, std::vector<std::string>>(
                                           "part-0-1", Concat({batch2, batch3}))));
  EXPECT_THAT(InProgress(), IsEmpty());

  // A second crash before the next checkpoint: recovery from checkpoint 2
  // commits its (already committed) transaction again.
  sink->Write(batch4);
  sink.reset();
  sink = Open(0, 1, &cp2);
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({batch1, batch2, batch3})));
  EXPECT_THAT(InProgress(), IsEmpty());

  // The replay, then the end of the input with its final checkpoint.
  sink->Write(batch4);
  sink->Write(batch5);
  sink->Finish();
  sink->Checkpoint(3);
  sink->Complete(3);
  sink->Close();
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({batch1, batch2, batch3, batch4, batch5})));
  // Counters continue after the restored checkpoint's: no part is reused.
  EXPECT_THAT(CommittedNames(), ElementsAre("part-0-0", "part-0-1", "part-0-2"));
  EXPECT_THAT(Committed()["part-0-2"], Concat({batch4, batch5}));
  EXPECT_THAT(InProgress(), IsEmpty());
}

TEST_F(TwoPhaseCommitFileSinkTest, RecoveryAfterCompletionNoticeCommitsNothingTwice) {
  const auto a = Records("a", 0, 40), b = Records("b", 0, 40), c = Records("c", 0, 40);
  auto sink = Open(0, 1);
  sink->Write(a);
  sink->Checkpoint(1);
  sink->Write(b);
  const Snapshot cp2 = sink->Checkpoint(2);
  sink->Write(c);
  // Completing 2 implies 1: both transactions are committed, oldest first.
  sink->Complete(2);
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", a),
                                       std::pair<const std::string, std::vector<std::string>>("part-0-1", b)));
  sink.reset();
  sink = Open(0, 1, &cp2);
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({a, b})));
  EXPECT_THAT(InProgress(), IsEmpty());
}

TEST_F(TwoPhaseCommitFileSinkTest, RescalingTwoSubtasksIntoOneCommitsBothPendingTransactions) {
  const auto s0_done = Records("s0", 0, 30), s0_pending = Records("s0", 30, 70), s0_lost = Records("s0", 70, 90);
  const auto s1_done = Records("s1", 0, 50), s1_a = Records("s1", 50, 60), s1_b = Records("s1", 60, 80),
             s1_lost = Records("s1", 80, 95);
  auto sink0 = Open(0, 2);
  auto sink1 = Open(1, 2);
  sink0->Write(s0_done);  // part-0-0
  sink1->Write(s1_done);  // part-1-0
  sink0->Checkpoint(1);
  sink1->Checkpoint(1);
  sink0->Complete(1);
  sink1->Complete(1);
  EXPECT_THAT(CommittedNames(), ElementsAre("part-0-0", "part-1-0"));
  // Checkpoints 2 and 3 never complete. Subtask 0 writes only before 3,
  // subtask 1 before both: their part counters differ (next: 2 and 3).
  sink1->Write(s1_a);  // part-1-1
  sink0->Checkpoint(2);
  sink1->Checkpoint(2);
  sink0->Write(s0_pending);  // part-0-1
  sink1->Write(s1_b);        // part-1-2
  const Snapshot cp3_0 = sink0->Checkpoint(3);
  const Snapshot cp3_1 = sink1->Checkpoint(3);
  sink0->Write(s0_lost);  // part-0-2
  sink1->Write(s1_lost);  // part-1-3
  sink0->function().onIdle();
  sink1->function().onIdle();
  EXPECT_THAT(InProgress(), ElementsAre(".part-0-1.inprogress", ".part-0-2.inprogress", ".part-1-1.inprogress",
                                        ".part-1-2.inprogress", ".part-1-3.inprogress"));
  sink0.reset();
  sink1.reset();

  // Restart with parallelism 1 from checkpoint 3: both old subtasks' pending
  // transactions go to the one new subtask, which also owns both old
  // subtasks' leftover in-progress files.
  const std::vector<Snapshot> restored = Redistribute({cp3_0, cp3_1}, 1);
  auto merged = Open(0, 1, &restored[0]);
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({s0_done, s0_pending, s1_done, s1_a, s1_b})));
  EXPECT_THAT(CommittedNames(), ElementsAre("part-0-0", "part-0-1", "part-1-0", "part-1-1", "part-1-2"));
  EXPECT_THAT(InProgress(), IsEmpty()) << "data after checkpoint 3 of both old subtasks is deleted";

  const auto replay = Concat({s0_lost, s1_lost});
  merged->Write(replay);
  merged->Finish();
  merged->Checkpoint(4);
  merged->Complete(4);
  merged->Close();
  EXPECT_THAT(CommittedLines(),
              UnorderedElementsAreArray(Concat({s0_done, s0_pending, s0_lost, s1_done, s1_a, s1_b, s1_lost})));
  EXPECT_THAT(InProgress(), IsEmpty());
  // The new part continues after the largest counter of any old subtask (3, subtask 1's).
  EXPECT_THAT(CommittedNames(), ElementsAre("part-0-0", "part-0-1", "part-0-3", "part-1-0", "part-1-1", "part-1-2"));
  EXPECT_THAT(Committed()["part-0-3"], replay);
}

TEST_F(TwoPhaseCommitFileSinkTest, RescalingOneSubtaskIntoTwo) {
  const auto done = Records("d", 0, 20), pending = Records("p", 0, 20), lost = Records("l", 0, 20);
  auto sink = Open(0, 1);
  sink->Write(done);
  sink->Checkpoint(1);
  sink->Complete(1);
  sink->Write(pending);
  const Snapshot cp2 = sink->Checkpoint(2);
  sink->Write(lost);
  sink.reset();

  const std::vector<Snapshot> restored = Redistribute({cp2}, 2);
  auto sink0 = Open(0, 2, &restored[0]);
  auto sink1 = Open(1, 2, &restored[1]);
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({done, pending})));
  EXPECT_THAT(InProgress(), IsEmpty());
  sink0->Write(Records("l", 0, 10));
  sink1->Write(Records("l", 10, 20));
  for (auto* s : {sink0.get(), sink1.get()}) s->Finish();
  for (auto* s : {sink0.get(), sink1.get()}) s->Checkpoint(3);
  for (auto* s : {sink0.get(), sink1.get()}) s->Complete(3);
  for (auto* s : {sink0.get(), sink1.get()}) s->Close();
  EXPECT_THAT(CommittedLines(), UnorderedElementsAreArray(Concat({done, pending, lost})));
  EXPECT_THAT(CommittedNames(), ElementsAre("part-0-0", "part-0-1", "part-0-2", "part-1-2"));
  EXPECT_THAT(InProgress(), IsEmpty());
}

// ---- Without checkpointing ----

TEST_F(TwoPhaseCommitFileSinkTest, WithoutCheckpointsTheEndOfInputCommits) {
  const auto r0 = Records("a", 0, 500), r1 = Records("b", 0, 300);
  auto sink0 = Open(0, 2);
  auto sink1 = Open(1, 2);
  sink0->Write(r0);
  sink1->Write(r1);
  EXPECT_THAT(CommittedLines(), IsEmpty());
  sink0->Finish();
  sink1->Finish();
  sink0->Close();
  sink1->Close();
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", r0),
                                       std::pair<const std::string, std::vector<std::string>>("part-1-0", r1)));
  EXPECT_THAT(InProgress(), IsEmpty());
}

TEST_F(TwoPhaseCommitFileSinkTest, AFreshRunIntoAnUsedDirectoryKeepsTheEarlierParts) {
  const auto first = Records("a", 0, 100), second = Records("b", 0, 50);
  for (const auto* records : {&first, &second}) {
    auto sink = Open(0, 1);
    sink->Write(*records);
    sink->Finish();
    sink->Close();
  }
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", first),
                                       std::pair<const std::string, std::vector<std::string>>("part-0-1", second)));
}

TEST_F(TwoPhaseCommitFileSinkTest, WithoutCheckpointsAFailureLeavesNothing) {
  auto sink = Open(0, 1);
  sink->Write(Records("a", 0, 100));
  sink->function().onIdle();
  EXPECT_THAT(InProgress(), ElementsAre(".part-0-0.inprogress"));
  sink->Close();  // cancelled: close without finish
  EXPECT_THAT(CommittedLines(), IsEmpty());
  EXPECT_THAT(InProgress(), IsEmpty());

  // A crash instead leaves the in-progress file; the next fresh start removes it.
  sink = Open(0, 1);
  sink->Write(Records("a", 0, 100));
  sink->function().onIdle();
  sink.reset();
  EXPECT_THAT(InProgress(), ElementsAre(".part-0-0.inprogress"));
  sink = Open(0, 1);
  EXPECT_THAT(InProgress(), IsEmpty());
  sink->Write(Records("a", 0, 7));
  sink->Finish();
  sink->Close();
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>(
                               "part-0-0", Records("a", 0, 7))));
}

TEST_F(TwoPhaseCommitFileSinkTest, WithCheckpointsTheFinalCheckpointCommitsAndCloseLeavesNoEmptyPart) {
  const auto r = Records("r", 0, 64);
  auto sink = Open(0, 1);
  sink->Write(r);
  sink->Finish();
  sink->Checkpoint(1);
  sink->Complete(1);
  sink->Close();
  EXPECT_THAT(Committed(), ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", r)));
  EXPECT_THAT(InProgress(), IsEmpty());
}

// ---- Rolling and buckets ----

TEST_F(TwoPhaseCommitFileSinkTest, RollsBySizeAndTimeWithinACheckpoint) {
  int64_t now = 1'000'000;
  eddy::internal::FileSinkOptions options =
      eddy::FileSink::forRowFormat(dir_.string())
          .withRollingPolicy(eddy::DefaultRollingPolicy::builder()
                                 .withMaxPartSize(100)
                                 .withRolloverInterval(std::chrono::seconds(10))
                                 .withInactivityInterval(std::chrono::seconds(5))
                                 .build())
          .options();
  options.clock = [&now] { return now; };
  SinkHarness<eddy::RowFileSinkFunction<std::string>> sink(eddy::RowFileSinkFunction<std::string>(options), 0, 1);
  // "s-NN" lines are 5 bytes: a part rolls after its 20th line (100 bytes).
  const auto by_size = Records("s", 10, 55);  // 45 lines: 20 + 20 + 5
  sink.Write(by_size);
  // 4 s later the 5-line part is still active; 6 s after the last record it is inactive.
  now += 4'000;
  sink.function().onIdle();
  sink.Write(Records("t", 10, 11));
  now += 6'000;
  sink.function().onIdle();  // rolls the part with 6 lines
  sink.Write(Records("u", 10, 12));
  now += 3'000;
  sink.Write(Records("u", 12, 13));
  now += 3'000;
  sink.Write(Records("u", 13, 14));
  now += 3'000;
  sink.Write(Records("u", 14, 15));  // 9 s since the part opened: stays
  now += 2'000;
  sink.Write(Records("v", 10, 11));  // 11 s: rolls over first
  sink.Checkpoint(1);
  sink.Complete(1);
  std::vector<std::string> expected_tail = Records("s", 50, 55);
  expected_tail.push_back("t-10");
  EXPECT_THAT(Committed(),
              ElementsAre(std::pair<const std::string, std::vector<std::string>>("part-0-0", Records("s", 10, 30)),
                          std::pair<const std::string, std::vector<std::string>>("part-0-1", Records("s", 30, 50)),
                          std::pair<const std::string, std::vector<std::string>>("part-0-2", expected_tail),
                          std::pair<const std::string, std::vector<std::string>>("part-0-3", Records("u", 10, 15)),
                          std::pair<const std::string, std::vector<std::string>>("part-0-4", Records("v", 10, 11))));
  EXPECT_THAT(InProgress(), IsEmpty());
  sink.Close();
}

TEST(DateTimeBucketAssignerTest, FormatsUtcProcessingTime) {
  // 2024-05-17T13:45:09.250Z
  constexpr int64_t kTime = 1715953509250;
  EXPECT_EQ(eddy::DateTimeBucketAssigner().getBucketId(kTime), "2024-05-17--13");
  EXPECT_EQ(eddy::DateTimeBucketAssigner("yyyy/MM/dd/HH-mm-ss").getBucketId(kTime), "2024/05/17/13-45-09");
  EXPECT_EQ(eddy::DateTimeBucketAssigner("day=yyyyMMdd").getBucketId(0), "day=19700101");
  EXPECT_THROW(eddy::DateTimeBucketAssigner("/abs/yyyy"), std::invalid_argument);
  EXPECT_THROW(eddy::DateTimeBucketAssigner("../yyyy"), std::invalid_argument);
  EXPECT_THROW(eddy::DateTimeBucketAssigner(""), std::invalid_argument);
}

TEST_F(TwoPhaseCommitFileSinkTest, BucketsByHourAndRecoversPerBucket) {
  int64_t now = 1715953509250;  // 2024-05-17T13:45:09.250Z
  eddy::internal::FileSinkOptions options =
      eddy::FileSink::forRowFormat(dir_.string()).withBucketAssigner(eddy::DateTimeBucketAssigner()).options();
  options.clock = [&now] { return now; };
  auto open = [&](const Snapshot* restored) {
    return std::make_unique<SinkHarness<eddy::RowFileSinkFunction<std::string>>>(
        eddy::RowFileSinkFunction<std::string>(options), 0, 1, restored);
  };
  auto sink = open(nullptr);
  sink->Write(Records("h13", 0, 10));
  now += 15 * 60 * 1000;  // 14:00:09
  sink->Write(Records("h14", 0, 10));
  const Snapshot cp1 = sink->Checkpoint(1);
  sink->Write(Records("h14", 10, 20));
  sink->function().onIdle();
  sink.reset();
  sink = open(&cp1);
  EXPECT_THAT(Committed(),
              ElementsAre(std::pair<const std::string, std::vector<std::string>>("2024-05-17--13/part-0-0",
                                                                                 Records("h13", 0, 10)),
                          std::pair<const std::string, std::vector<std::string>>("2024-05-17--14/part-0-1",
                                                                                 Records("h14", 0, 10))));
  EXPECT_THAT(InProgress(), IsEmpty());
  sink->Write(Records("h14", 10, 20));
  sink->Finish();
  sink->Checkpoint(2);
  sink->Complete(2);
  sink->Close();
  EXPECT_THAT(Committed()["2024-05-17--14/part-0-2"], Records("h14", 10, 20));
  EXPECT_THAT(InProgress(), IsEmpty());
}

// ---- Through the runtime: sinkTo(FileSink) on the embedded cluster ----

// Lines of every file under `dir` by file name; hidden files separately.
struct Output {
  std::vector<std::string> names, hidden, lines;
};
Output ReadOutput(const fs::path& dir) {
  Output out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), dir).string();
    if (entry.path().filename().string()[0] == '.') {
      out.hidden.push_back(name);
      continue;
    }
    out.names.push_back(name);
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) out.lines.push_back(line);
  }
  std::sort(out.names.begin(), out.names.end());
  return out;
}

std::vector<std::string> Numbers(int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

TEST_F(TwoPhaseCommitFileSinkTest, JobWithoutCheckpointingWritesOnePartPerSubtask) {
  constexpr int64_t kRecords = 2000;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, kRecords - 1).rebalance().sinkTo(eddy::FileSink::forRowFormat(dir_.string()));
  env.execute("file-sink-no-checkpoints");
  const Output out = ReadOutput(dir_);
  EXPECT_THAT(out.names, ElementsAre("part-0-0", "part-1-0"));
  EXPECT_THAT(out.hidden, IsEmpty());
  EXPECT_THAT(out.lines, UnorderedElementsAreArray(Numbers(kRecords)));
}

// Disabled: on the embedded cluster the runtime's final checkpoint does not
// complete yet (tasks wait in Task::WaitForFinalCheckpoint, with a plain
// lambda sink as well); enable once it does.
TEST_F(TwoPhaseCommitFileSinkTest, JobWithCheckpointingCommitsEveryRecordOnce) {
  constexpr int64_t kRecords = 6000;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.enableCheckpointing(20);
  // Slow enough for several checkpoints to roll parts while records flow.
  env.fromSequence(0, kRecords - 1)
      .map([](const int64_t& v) {
        if (v % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return v;
      })
      .rebalance()
      .sinkTo(eddy::FileSink::forRowFormat(dir_.string()));
  env.execute("file-sink-checkpoints");
  const Output out = ReadOutput(dir_);
  EXPECT_THAT(out.hidden, IsEmpty());
  EXPECT_THAT(out.lines, UnorderedElementsAreArray(Numbers(kRecords)));
  EXPECT_GT(out.names.size(), 2u) << "parts roll at checkpoints";
  for (const std::string& name : out.names) EXPECT_THAT(name, ::testing::MatchesRegex("part-[01]-[0-9]+"));
}

// ---- The framework's protocol, on a transaction type of its own ----

struct RecordingTxn {
  int64_t id = 0;
  std::vector<int64_t> values;
};
EDDY_FIELDS(RecordingTxn, id, values);

// Logs every hook call; committed transactions go to `committed`.
struct Log {
  std::vector<std::string> calls;
  std::vector<RecordingTxn> committed;
};

class RecordingSink : public eddy::TwoPhaseCommitSinkFunction<int64_t, RecordingTxn> {
 public:
  explicit RecordingSink(Log* log) : log_(log) {}
  RecordingSink(const RecordingSink& o) : TwoPhaseCommitSinkFunction(o), log_(o.log_) {}

 protected:
  RecordingTxn beginTransaction() override {
    log_->calls.push_back("begin " + std::to_string(next_id_));
    return RecordingTxn{next_id_++, {}};
  }
  void invoke(RecordingTxn& txn, const int64_t& value) override { txn.values.push_back(value); }
  void preCommit(RecordingTxn& txn) override { log_->calls.push_back("preCommit " + std::to_string(txn.id)); }
  void commit(RecordingTxn& txn) override {
    log_->calls.push_back("commit " + std::to_string(txn.id));
    log_->committed.push_back(txn);
  }
  void abort(RecordingTxn& txn) override { log_->calls.push_back("abort " + std::to_string(txn.id)); }
  void recoverAndCommit(RecordingTxn& txn) override {
    log_->calls.push_back("recoverAndCommit " + std::to_string(txn.id));
    commit(txn);
  }
  void recoverAndAbort(RecordingTxn& txn) override {
    log_->calls.push_back("recoverAndAbort " + std::to_string(txn.id));
  }
  void finishRecoveringContext() override { log_->calls.push_back("finishRecoveringContext"); }

 private:
  Log* log_;
  int64_t next_id_ = 100;
};

TEST(TwoPhaseCommitSinkFunctionTest, DrivesTheTransactionHooksInFlinksOrder) {
  Log log;
  auto sink = std::make_unique<SinkHarness<RecordingSink>>(RecordingSink(&log), 0, 1);
  sink->function()(1);  // through operator(), as the runtime may call a subclass
  sink->function()(2);
  sink->Checkpoint(1);
  sink->function()(3);
  sink->Checkpoint(2);
  sink->function()(4);
  const Snapshot cp3 = sink->Checkpoint(3);
  sink->function()(5);
  sink->Complete(2);  // subsumes 1
  EXPECT_THAT(log.calls, ElementsAre("finishRecoveringContext", "begin 100", "preCommit 100", "begin 101",
                                     "preCommit 101", "begin 102", "preCommit 102", "begin 103", "commit 100",
                                     "commit 101"));
  ASSERT_EQ(log.committed.size(), 2u);
  EXPECT_THAT(log.committed[0].values, ElementsAre(1, 2));
  EXPECT_THAT(log.committed[1].values, ElementsAre(3));
  sink.reset();

  // Restored from 3: every transaction pending when 3 was taken is committed,
  // 100 and 101 again (their notice came after the snapshot), then the
  // current one of the snapshot (103, begun at 3) is aborted.
  log = Log{};
  sink = std::make_unique<SinkHarness<RecordingSink>>(RecordingSink(&log), 0, 1, &cp3);
  EXPECT_THAT(log.calls, ElementsAre("recoverAndCommit 100", "commit 100", "recoverAndCommit 101", "commit 101",
                                     "recoverAndCommit 102", "commit 102", "recoverAndAbort 103",
                                     "finishRecoveringContext", "begin 100"));
  ASSERT_EQ(log.committed.size(), 3u);
  EXPECT_THAT(log.committed[0].values, ElementsAre(1, 2));
  EXPECT_THAT(log.committed[1].values, ElementsAre(3));
  EXPECT_THAT(log.committed[2].values, ElementsAre(4));

  // No checkpoint after the restore and a normal end: close() commits.
  log.calls.clear();
  sink->function()(6);
  sink->Finish();
  sink->Close();
  sink->Close();  // a second close does nothing
  EXPECT_THAT(log.calls, ElementsAre("preCommit 100", "commit 100"));
  EXPECT_THAT(log.committed.back().values, ElementsAre(6));
}

TEST(TwoPhaseCommitSinkFunctionTest, CloseWithoutFinishAbortsAndKeepsPending) {
  Log log;
  SinkHarness<RecordingSink> sink(RecordingSink(&log), 0, 1);
  sink.function()(1);
  sink.Checkpoint(7);
  sink.function()(2);
  sink.Close();
  EXPECT_THAT(log.calls, ElementsAre("finishRecoveringContext", "begin 100", "preCommit 100", "begin 101",
                                     "abort 101"));
  EXPECT_THAT(log.committed, IsEmpty());
}

TEST(TwoPhaseCommitSinkFunctionTest, NormalEndWithoutFinalCheckpointCommitsPendingAndCurrent) {
  // Checkpointing off, but a savepoint was taken: its transaction is pending
  // (no completion notice) when the input ends; nothing may be lost.
  Log log;
  SinkHarness<RecordingSink> sink(RecordingSink(&log), 0, 1);
  sink.function()(1);
  sink.Checkpoint(5);
  sink.function()(2);
  sink.Finish();
  sink.Close();
  EXPECT_THAT(log.calls, ElementsAre("finishRecoveringContext", "begin 100", "preCommit 100", "begin 101",
                                     "preCommit 101", "commit 100", "commit 101"));
  ASSERT_EQ(log.committed.size(), 2u);
  EXPECT_THAT(log.committed[0].values, ElementsAre(1));
  EXPECT_THAT(log.committed[1].values, ElementsAre(2));
}

}  // namespace
