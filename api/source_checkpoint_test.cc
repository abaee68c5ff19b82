// Checkpoint and restore of the built-in sources (eddy/sources.h), driven
// directly, without the runtime: each subtask runs in a FunctionHarness
// (api/testing/function_harness.h) with its own OperatorStateStore; a fake
// SourceContext takes the snapshot the way the task does (inside collect() or
// flush(), before the record is emitted, or after run() returned for a source
// that finished first). The snapshots are redistributed to a new parallelism
// by the runtime's own assignment (getListState: concatenated in subtask
// order, cut into even contiguous parts) and the restored subtasks run on.
// The records emitted before the checkpoint plus those emitted after the
// restore must be exactly the source's records, each once, which is checked
// against the records computed independently.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/testing/function_harness.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/sources.h"
#include "gtest/gtest.h"

namespace {

using Lists = eddy::testing::OperatorStateSnapshot;

// When a subtask takes its checkpoint and stops.
struct Plan {
  // The snapshot is taken when the source is about to emit record number
  // `checkpoint_at` (0-based, i.e. after that many records), or at its first
  // flush() from then on if `in_flush`; -1: never. A source that ends before
  // is snapshotted after run() returned, as the task's final checkpoint does.
  int64_t checkpoint_at = -1;
  bool in_flush = false;
  // Records emitted after the checkpoint (lost with the failure) before the
  // subtask is stopped.
  int64_t after_checkpoint = 3;
  // Without a checkpoint: stop after this many records (-1: run to the end).
  int64_t stop_at = -1;
};

// A SourceContext that snapshots the source as the task does and records what
// was emitted before and after the checkpoint.
template <class T>
class CheckpointingContext final : public eddy::SourceFunction<T>::SourceContext {
 public:
  CheckpointingContext(Plan plan, std::function<Lists()> snapshot)
      : plan_(plan), snapshot_(std::move(snapshot)) {}

  void collect(const T& value) override {
    if (!snapshot_taken() && !plan_.in_flush && plan_.checkpoint_at >= 0 &&
        static_cast<int64_t>(before_.size()) == plan_.checkpoint_at) {
      Checkpoint();
    }
    if (!running_) {
      ADD_FAILURE() << "collect() called after isRunning() turned false";
      return;
    }
    if (snapshot_taken()) {
      after_.push_back(value);
      if (static_cast<int64_t>(after_.size()) >= plan_.after_checkpoint) running_ = false;
    } else {
      before_.push_back(value);
      if (plan_.stop_at >= 0 && static_cast<int64_t>(before_.size()) >= plan_.stop_at) running_ = false;
    }
  }
  void collectWithTimestamp(const T& value, int64_t) override { collect(value); }
  void flush() override {
    ++flushes_;
    if (!snapshot_taken() && plan_.in_flush && plan_.checkpoint_at >= 0 &&
        static_cast<int64_t>(before_.size()) >= plan_.checkpoint_at) {
      Checkpoint();
      if (plan_.after_checkpoint == 0) running_ = false;
    }
  }
  bool isRunning() const override { return running_; }

  void Checkpoint() { snapshot_state_ = snapshot_(); }
  bool snapshot_taken() const { return snapshot_state_.has_value(); }
  const Lists& snapshot() const { return *snapshot_state_; }
  const std::vector<T>& before() const { return before_; }
  int64_t flushes() const { return flushes_; }

 private:
  Plan plan_;
  std::function<Lists()> snapshot_;
  std::optional<Lists> snapshot_state_;
  std::vector<T> before_;  // emitted before the checkpoint (all, without one)
  std::vector<T> after_;   // emitted after it: lost, to be replayed
  bool running_ = true;
  int64_t flushes_ = 0;
};

template <class T>
struct SubtaskResult {
  std::vector<T> emitted;  // before the checkpoint, or all without one
  Lists snapshot;          // empty without a checkpoint
  int64_t flushes = 0;
  double seconds = 0;
};

// Runs subtask `index` of `parallelism` of `source`, restored from `restored`
// if set, as `plan` says.
template <class T, class S>
SubtaskResult<T> RunSubtask(S source, int index, int parallelism, const std::optional<Lists>& restored, Plan plan) {
  eddy::testing::FunctionHarness<S> subtask(std::move(source), index, parallelism, restored ? &*restored : nullptr);
  CheckpointingContext<T> ctx(plan, [&] { return subtask.Checkpoint(1); });
  const auto start = std::chrono::steady_clock::now();
  subtask.function().run(ctx);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (plan.checkpoint_at >= 0 && !ctx.snapshot_taken()) ctx.Checkpoint();  // finished before the barrier
  subtask.Close();
  SubtaskResult<T> result;
  result.emitted = ctx.before();
  if (ctx.snapshot_taken()) result.snapshot = ctx.snapshot();
  result.flushes = ctx.flushes();
  result.seconds = took.count();
  return result;
}

// One run of every subtask at `parallelism`.
template <class T>
struct Phase {
  std::vector<T> emitted;              // over all subtasks
  std::vector<Lists> snapshots;        // per subtask
  std::vector<SubtaskResult<T>> subtasks;
};

// `make` builds a fresh source object (as the runtime copies the user's);
// `restored` is per subtask (empty: a fresh start); `plan(i)` is subtask i's.
template <class T, class Make>
Phase<T> RunPhase(const Make& make, int parallelism, const std::vector<Lists>& restored,
                  const std::function<Plan(int)>& plan) {
  Phase<T> phase;
  for (int i = 0; i < parallelism; ++i) {
    std::optional<Lists> r;
    if (!restored.empty()) r = restored[static_cast<size_t>(i)];
    SubtaskResult<T> s = RunSubtask<T>(make(), i, parallelism, r, plan(i));
    phase.emitted.insert(phase.emitted.end(), s.emitted.begin(), s.emitted.end());
    phase.snapshots.push_back(s.snapshot);
    phase.subtasks.push_back(std::move(s));
  }
  return phase;
}

// The built-in sources keep their position in split list state (getListState),
// which a restore concatenates and cuts into even parts.
std::vector<Lists> Redistribute(const std::vector<Lists>& old_subtasks, int parallelism) {
  for (const Lists& lists : old_subtasks) {
    for (const auto& list : lists) EXPECT_EQ(list.mode, eddy::internal::OperatorStateMode::kSplit) << list.name;
  }
  return eddy::testing::Redistribute(old_subtasks, parallelism);
}

// The number of state elements over all subtasks (ranges, splits...).
size_t StateElements(const std::vector<Lists>& snapshots) {
  size_t n = 0;
  for (const Lists& lists : snapshots) {
    for (const auto& list : lists) n += list.elements.size();
  }
  return n;
}

template <class T>
std::vector<T> Sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

template <class T>
std::vector<T> Concat(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::function<Plan(int)> CheckpointAt(std::vector<int64_t> at, bool in_flush = false) {
  return [at, in_flush](int i) {
    Plan plan;
    plan.checkpoint_at = at[static_cast<size_t>(i)];
    plan.in_flush = in_flush;
    return plan;
  };
}
Plan ToTheEnd(int) { return Plan{}; }

// ---------------------------------------------------------------------------
// DataGeneratorSource, bounded.

std::string Gen(int64_t i) { return std::string("r").append(std::to_string(i * 7 + 1)); }

std::vector<std::string> AllGenerated(int64_t count) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(Gen(i));
  return out;
}

eddy::DataGeneratorSource<std::string> MakeGenerator(int64_t count) {
  return eddy::DataGeneratorSource<std::string>(Gen, count);
}

TEST(DataGeneratorSourceCheckpointTest, FreshStartEmitsContiguousRangesInOrder) {
  constexpr int64_t kCount = 101;
  constexpr int kP = 3;
  auto phase = RunPhase<std::string>([] { return MakeGenerator(kCount); }, kP, {}, ToTheEnd);
  for (int i = 0; i < kP; ++i) {
    std::vector<std::string> expected;
    for (int64_t k = kCount * i / kP; k < kCount * (i + 1) / kP; ++k) expected.push_back(Gen(k));
    EXPECT_EQ(phase.subtasks[static_cast<size_t>(i)].emitted, expected) << "subtask " << i;
  }
}

TEST(DataGeneratorSourceCheckpointTest, RestoresFrom2To3) {
  constexpr int64_t kCount = 100;
  auto make = [] { return MakeGenerator(kCount); };
  // Subtask 1 snapshots before its first record.
  auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({17, 0}));
  ASSERT_EQ(first.emitted.size(), 17u);
  ASSERT_EQ(StateElements(first.snapshots), 2u);
  auto second = RunPhase<std::string>(make, 3, Redistribute(first.snapshots, 3), ToTheEnd);
  EXPECT_TRUE(second.subtasks[0].emitted.empty()) << "2 ranges over 3 subtasks: subtask 0 gets none";
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllGenerated(kCount)));
}

TEST(DataGeneratorSourceCheckpointTest, RestoresFrom3To1) {
  constexpr int64_t kCount = 100;
  auto make = [] { return MakeGenerator(kCount); };
  // Subtask 1 (33 records) finishes before the barrier: its range is done.
  auto first = RunPhase<std::string>(make, 3, {}, CheckpointAt({5, 1000, 32}));
  EXPECT_EQ(first.emitted.size(), 5u + 33u + 32u);
  EXPECT_EQ(StateElements(first.snapshots), 2u);
  auto second = RunPhase<std::string>(make, 1, Redistribute(first.snapshots, 1), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllGenerated(kCount)));
  // One subtask emits the restored ranges in order.
  std::vector<std::string> expected_rest;
  for (int64_t k = 5; k < 33; ++k) expected_rest.push_back(Gen(k));
  for (int64_t k = 66 + 32; k < 100; ++k) expected_rest.push_back(Gen(k));
  EXPECT_EQ(second.emitted, expected_rest);
}

TEST(DataGeneratorSourceCheckpointTest, RestoresTwiceFrom2To3To1) {
  constexpr int64_t kCount = 1000;
  auto make = [] { return MakeGenerator(kCount); };
  auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({123, 400}));
  auto second = RunPhase<std::string>(make, 3, Redistribute(first.snapshots, 3), CheckpointAt({50, 7, 0}));
  auto third = RunPhase<std::string>(make, 1, Redistribute(second.snapshots, 1), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(Concat(first.emitted, second.emitted), third.emitted)), Sorted(AllGenerated(kCount)));
}

TEST(DataGeneratorSourceCheckpointTest, SnapshotInFlushOfTheRateLimiterAndRateAfterRestore) {
  constexpr int64_t kCount = 600;
  constexpr double kRate = 3000;  // over all subtasks
  auto make = [] {
    return eddy::DataGeneratorSource<std::string>(Gen, kCount, eddy::RateLimiterStrategy::perSecond(kRate));
  };
  // The limiter flushes before it sleeps: the checkpoint is taken there.
  auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({100, 100}, /*in_flush=*/true));
  for (const auto& s : first.subtasks) EXPECT_GT(s.flushes, 0);
  const size_t before = first.emitted.size();
  EXPECT_GE(before, 200u);
  auto second = RunPhase<std::string>(make, 3, Redistribute(first.snapshots, 3), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllGenerated(kCount)));
  // Each restored subtask keeps to rate / 3: record n is not emitted before n / (rate / 3) s.
  for (const auto& s : second.subtasks) {
    if (s.emitted.empty()) continue;
    const double minimum = static_cast<double>(s.emitted.size() - 1) / (kRate / 3);
    EXPECT_GE(s.seconds, minimum * 0.99) << s.emitted.size() << " records";
  }
}

// ---------------------------------------------------------------------------
// DataGeneratorSource, unbounded: subtask i of p emits i, i+p, ...

int64_t Identity(int64_t i) { return i; }

// The restored records continue every old subtask's sequence (residue class
// mod old_p) without a gap or a repeat: per class, the indexes emitted over
// both runs are exactly c, c + old_p, c + 2 old_p, ... Returns how many each
// class got.
std::vector<int64_t> ExpectSequencesContinue(const std::vector<int64_t>& all, int old_p) {
  std::vector<std::vector<int64_t>> per_class(static_cast<size_t>(old_p));
  for (int64_t v : all) per_class[static_cast<size_t>(v % old_p)].push_back(v);
  std::vector<int64_t> counts;
  for (int c = 0; c < old_p; ++c) {
    std::vector<int64_t> got = Sorted(per_class[static_cast<size_t>(c)]);
    std::vector<int64_t> expected;
    for (size_t k = 0; k < got.size(); ++k) expected.push_back(c + static_cast<int64_t>(k) * old_p);
    EXPECT_EQ(got, expected) << "sequence " << c;
    counts.push_back(static_cast<int64_t>(got.size()));
  }
  return counts;
}

TEST(DataGeneratorSourceCheckpointTest, UnboundedRestoresFrom2To3) {
  auto make = [] { return eddy::DataGeneratorSource<int64_t>(Identity, -1); };
  auto first = RunPhase<int64_t>(make, 2, {}, CheckpointAt({10, 7}));
  ASSERT_EQ(first.emitted.size(), 17u);
  auto stop_at_20 = [](int) {
    Plan plan;
    plan.stop_at = 20;
    return plan;
  };
  auto second = RunPhase<int64_t>(make, 3, Redistribute(first.snapshots, 3), stop_at_20);
  EXPECT_TRUE(second.subtasks[0].emitted.empty()) << "2 sequences over 3 subtasks: subtask 0 gets none";
  EXPECT_EQ(second.emitted.size(), 40u);
  EXPECT_EQ(ExpectSequencesContinue(Concat(first.emitted, second.emitted), 2), (std::vector<int64_t>{30, 27}));
}

TEST(DataGeneratorSourceCheckpointTest, UnboundedRestoresFrom3To1RoundRobin) {
  auto make = [] { return eddy::DataGeneratorSource<int64_t>(Identity, -1); };
  auto first = RunPhase<int64_t>(make, 3, {}, CheckpointAt({4, 9, 0}));
  auto stop_at_30 = [](int) {
    Plan plan;
    plan.stop_at = 30;
    return plan;
  };
  auto second = RunPhase<int64_t>(make, 1, Redistribute(first.snapshots, 1), stop_at_30);
  ASSERT_EQ(second.emitted.size(), 30u);
  // Round-robin: 10 more of each sequence.
  EXPECT_EQ(ExpectSequencesContinue(Concat(first.emitted, second.emitted), 3), (std::vector<int64_t>{14, 19, 10}));
  EXPECT_EQ(std::vector<int64_t>(second.emitted.begin(), second.emitted.begin() + 6),
            (std::vector<int64_t>{12, 28, 2, 15, 31, 5}));
}

// ---------------------------------------------------------------------------
// SequenceSource.

std::vector<int64_t> Numbers(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t v = from;; ++v) {
    out.push_back(v);
    if (v == to) break;
  }
  return out;
}

TEST(SequenceSourceCheckpointTest, FreshStartEmitsContiguousRangesInOrder) {
  constexpr int kP = 4;
  auto phase = RunPhase<int64_t>([] { return eddy::SequenceSource(10, 30); }, kP, {}, ToTheEnd);
  const int64_t n = 21;
  for (int i = 0; i < kP; ++i) {
    std::vector<int64_t> expected;
    for (int64_t k = n * i / kP; k < n * (i + 1) / kP; ++k) expected.push_back(10 + k);
    EXPECT_EQ(phase.subtasks[static_cast<size_t>(i)].emitted, expected) << "subtask " << i;
  }
  auto empty = RunPhase<int64_t>([] { return eddy::SequenceSource(5, 4); }, 2, {}, ToTheEnd);
  EXPECT_TRUE(empty.emitted.empty());
}

TEST(SequenceSourceCheckpointTest, RestoresFrom2To3) {
  auto make = [] { return eddy::SequenceSource(-20, 79); };
  auto first = RunPhase<int64_t>(make, 2, {}, CheckpointAt({0, 31}));
  ASSERT_EQ(first.emitted.size(), 31u);
  auto second = RunPhase<int64_t>(make, 3, Redistribute(first.snapshots, 3), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Numbers(-20, 79));
}

TEST(SequenceSourceCheckpointTest, RestoresFrom3To1) {
  auto make = [] { return eddy::SequenceSource(1, 100); };
  // Subtask 0 (33 numbers) snapshots on its last number; subtask 2 after its end.
  auto first = RunPhase<int64_t>(make, 3, {}, CheckpointAt({32, 11, 500}));
  EXPECT_EQ(StateElements(first.snapshots), 2u);
  auto second = RunPhase<int64_t>(make, 1, Redistribute(first.snapshots, 1), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Numbers(1, 100));
  std::vector<int64_t> expected_rest = Numbers(33, 33);
  for (int64_t v = 34 + 11; v <= 66; ++v) expected_rest.push_back(v);
  EXPECT_EQ(second.emitted, expected_rest);
}

TEST(SequenceSourceCheckpointTest, RestoresTwiceFrom2To3To1) {
  auto make = [] { return eddy::SequenceSource(0, 999); };
  auto first = RunPhase<int64_t>(make, 2, {}, CheckpointAt({250, 499}));
  auto second = RunPhase<int64_t>(make, 3, Redistribute(first.snapshots, 3), CheckpointAt({1, 100, 0}));
  auto third = RunPhase<int64_t>(make, 1, Redistribute(second.snapshots, 1), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(Concat(first.emitted, second.emitted), third.emitted)), Numbers(0, 999));
}

TEST(SequenceSourceCheckpointTest, RangesEndingAtTheInt64Limits) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  for (auto [from, to] : {std::pair{kMax - 20, kMax}, std::pair{kMin, kMin + 20}}) {
    auto make = [from, to] { return eddy::SequenceSource(from, to); };
    auto first = RunPhase<int64_t>(make, 2, {}, CheckpointAt({3, 9}));
    auto second = RunPhase<int64_t>(make, 3, Redistribute(first.snapshots, 3), ToTheEnd);
    EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Numbers(from, to)) << from << ".." << to;
  }
}

// ---------------------------------------------------------------------------
// CollectionSource (non-parallel).

TEST(CollectionSourceCheckpointTest, RestoresThePosition) {
  std::vector<std::string> elements;
  for (int i = 0; i < 20; ++i) elements.push_back(std::string("e").append(std::to_string(i)));
  auto make = [&] { return eddy::CollectionSource<std::string>(elements); };
  for (int64_t at : {0, 1, 13, 19, 20, 50}) {
    auto first = RunPhase<std::string>(make, 1, {}, CheckpointAt({at}));
    auto second = RunPhase<std::string>(make, 1, Redistribute(first.snapshots, 1), ToTheEnd);
    EXPECT_EQ(Concat(first.emitted, second.emitted), elements) << "checkpoint at " << at;
  }
  // Not restored: everything.
  EXPECT_EQ(RunPhase<std::string>(make, 1, {}, ToTheEnd).emitted, elements);
}

// ---------------------------------------------------------------------------
// TextFileSource.

class TextFileSourceCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "eddy-source-checkpoint-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream out(std::filesystem::path(dir_) / name, std::ios::binary);
    out << content;
    contents_.push_back(content);
  }
  // Independently of the source: every line of every file, without its '\n'
  // and one trailing '\r'.
  std::vector<std::string> AllLines() const {
    std::vector<std::string> lines;
    for (const std::string& content : contents_) {
      size_t begin = 0;
      while (begin < content.size()) {
        size_t nl = content.find('\n', begin);
        std::string line = content.substr(begin, nl == std::string::npos ? std::string::npos : nl - begin);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
        if (nl == std::string::npos) break;
        begin = nl + 1;
      }
    }
    return lines;
  }
  // Files with lines shorter and longer than the 16-byte splits, empty lines,
  // "\r\n", lines starting exactly at split boundaries, no final newline.
  void WriteFiles() {
    std::string a;
    uint64_t x = 12345;
    for (int i = 0; i < 80; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const size_t length = static_cast<size_t>((x >> 33) % 41);  // 0..40
      std::string line;
      for (size_t k = 0; k < length; ++k) line.push_back(static_cast<char>('a' + (i + k) % 26));
      if (i % 7 == 3) line += '\r';
      a += line + "\n";
    }
    Write("a.txt", a);
    std::string b;
    for (int i = 0; i < 12; ++i) b += "line-" + std::to_string(i % 10) + "\n";  // 7 bytes
    b += "0123456789abcde\n";  // 16 bytes
    b += "fedcba9876543210fedcba9876543210fedcba9876543210";  // longer than 3 splits, no newline
    Write("b.txt", b);
    Write("c.txt", "");
    std::string d;
    for (int i = 0; i < 10; ++i) d += "abcdefg\n";  // every split starts a line
    Write("d.txt", d);
  }
  eddy::TextFileSource Make() const { return eddy::TextFileSource(dir_, kSplitSize); }

  static constexpr int64_t kSplitSize = 16;
  std::string dir_;
  std::vector<std::string> contents_;
};

TEST_F(TextFileSourceCheckpointTest, FreshStartReadsEveryLineOnce) {
  WriteFiles();
  for (int p : {1, 2, 5}) {
    auto phase = RunPhase<std::string>([this] { return Make(); }, p, {}, ToTheEnd);
    EXPECT_EQ(Sorted(phase.emitted), Sorted(AllLines())) << "parallelism " << p;
  }
  // At parallelism 1 the lines come in file order.
  EXPECT_EQ(RunPhase<std::string>([this] { return Make(); }, 1, {}, ToTheEnd).emitted, AllLines());
}

TEST_F(TextFileSourceCheckpointTest, RestoresFrom2To3) {
  WriteFiles();
  auto make = [this] { return Make(); };
  for (int64_t a : {0, 1, 20, 41}) {
    for (int64_t b : {0, 3, 30, 1000}) {
      auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({a, b}));
      auto second = RunPhase<std::string>(make, 3, Redistribute(first.snapshots, 3), ToTheEnd);
      EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllLines())) << a << ", " << b;
    }
  }
}

TEST_F(TextFileSourceCheckpointTest, RestoresFrom3To1) {
  WriteFiles();
  auto make = [this] { return Make(); };
  for (int64_t at = 0; at < 45; at += 4) {
    auto first = RunPhase<std::string>(make, 3, {}, CheckpointAt({at, at / 2, 1000}));
    auto second = RunPhase<std::string>(make, 1, Redistribute(first.snapshots, 1), ToTheEnd);
    EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllLines())) << "checkpoint at " << at;
  }
}

TEST_F(TextFileSourceCheckpointTest, RestoresTwiceFrom2To3To1) {
  WriteFiles();
  auto make = [this] { return Make(); };
  auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({17, 5}));
  auto second = RunPhase<std::string>(make, 3, Redistribute(first.snapshots, 3), CheckpointAt({9, 0, 14}));
  auto third = RunPhase<std::string>(make, 1, Redistribute(second.snapshots, 1), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(Concat(first.emitted, second.emitted), third.emitted)), Sorted(AllLines()));
}

TEST_F(TextFileSourceCheckpointTest, ARestoredSubtaskDoesNotListTheFilesAgain) {
  WriteFiles();
  auto make = [this] { return Make(); };
  auto first = RunPhase<std::string>(make, 2, {}, CheckpointAt({10, 10}));
  // A file added after the checkpoint belongs to no restored split.
  std::ofstream(std::filesystem::path(dir_) / "e.txt") << "new\n";
  auto second = RunPhase<std::string>(make, 2, Redistribute(first.snapshots, 2), ToTheEnd);
  EXPECT_EQ(Sorted(Concat(first.emitted, second.emitted)), Sorted(AllLines()));
}

}  // namespace
