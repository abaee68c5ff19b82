// FileSource (eddy/connectors/files.h): formats parsed against hand-written
// expected values; bounded and continuous reading, checkpoints and restores at
// other parallelisms driven directly (api/testing/function_harness.h;
// snapshots taken inside collect() and flush() as the task takes them, union
// state redistributed by the runtime's own assignment); bad records; and a
// continuous job on the embedded cluster reading files added while it runs.
// Every check compares with lines computed here from the files' contents.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "api/testing/function_harness.h"
#include "eddy/checkpoint.h"
#include "eddy/connectors/files.h"
#include "eddy/eddy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using eddy::connectors::CsvFormat;
using eddy::connectors::FileSource;
using eddy::connectors::JsonLinesFormat;
using eddy::connectors::ParseErrorPolicy;
using eddy::connectors::TextLineFormat;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Lists = eddy::testing::OperatorStateSnapshot;
using eddy::testing::Redistribute;

// A SourceContext that records what is emitted before and after the
// checkpoint and lets a test act inside collect() and flush(), where the task
// takes its snapshots.
template <class T>
class ScriptedContext final : public eddy::SourceFunction<T>::SourceContext {
 public:
  using Hook = std::function<void(ScriptedContext&)>;
  ScriptedContext(std::function<Lists()> snapshot, Hook on_collect, Hook on_flush)
      : snapshot_(std::move(snapshot)), on_collect_(std::move(on_collect)), on_flush_(std::move(on_flush)) {}

  void collect(const T& value) override {
    if (on_collect_) on_collect_(*this);
    if (!running_) return;  // stopped in the hook: the record is lost with the failure
    (checkpointed() ? after_ : before_).push_back(value);
  }
  void collectWithTimestamp(const T& value, int64_t) override { collect(value); }
  void flush() override {
    ++flushes_;
    if (on_flush_) on_flush_(*this);
  }
  bool isRunning() const override { return running_; }

  void Checkpoint() { snapshot_state_ = snapshot_(); }
  void Stop() { running_ = false; }
  bool checkpointed() const { return snapshot_state_.has_value(); }
  // Records emitted so far (before and after the checkpoint).
  size_t emitted() const { return before_.size() + after_.size(); }
  int64_t flushes() const { return flushes_; }
  const std::vector<T>& before() const { return before_; }
  const std::vector<T>& after() const { return after_; }
  const std::optional<Lists>& snapshot() const { return snapshot_state_; }

 private:
  std::function<Lists()> snapshot_;
  Hook on_collect_;
  Hook on_flush_;
  std::optional<Lists> snapshot_state_;
  std::vector<T> before_;
  std::vector<T> after_;
  bool running_ = true;
  int64_t flushes_ = 0;
};

template <class T>
struct SubtaskRun {
  std::vector<T> before;  // emitted before the checkpoint (all, without one)
  std::vector<T> after;   // emitted after it: lost with the failure
  Lists snapshot;         // empty without a checkpoint
  int64_t skipped = 0;    // numSkippedRecords
};

// Runs subtask `index` of `parallelism` of `source`, restored from `restored`
// if set, with the hooks of `on_collect` and `on_flush`. A source that returns
// before its checkpoint is snapshotted afterwards, as the final checkpoint is.
template <class T>
SubtaskRun<T> RunSubtask(FileSource<T> source, int index, int parallelism, const std::optional<Lists>& restored,
                         typename ScriptedContext<T>::Hook on_collect, typename ScriptedContext<T>::Hook on_flush,
                         bool checkpoint_at_end = false) {
  eddy::testing::FunctionHarness<FileSource<T>> subtask(std::move(source), index, parallelism,
                                                        restored ? &*restored : nullptr);
  ScriptedContext<T> ctx([&] { return subtask.Checkpoint(1); }, std::move(on_collect), std::move(on_flush));
  subtask.function().run(ctx);
  if (checkpoint_at_end && !ctx.checkpointed()) ctx.Checkpoint();
  subtask.Close();
  SubtaskRun<T> run;
  run.before = ctx.before();
  run.after = ctx.after();
  if (ctx.snapshot()) run.snapshot = *ctx.snapshot();
  run.skipped = subtask.runtime().Count("numSkippedRecords");
  return run;
}

template <class T>
std::vector<T> Sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

template <class T>
void Append(std::vector<T>* to, const std::vector<T>& more) {
  to->insert(to->end(), more.begin(), more.end());
}

// A fresh temporary directory per test, removed afterwards.
class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "eddy-file-source-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes `content` to `name` (relative to the directory) the way producers
  // should: under a hidden name first, then renamed into place.
  void Write(const std::string& name, const std::string& content) {
    const fs::path target = dir_ / name;
    fs::create_directories(target.parent_path());
    const fs::path hidden = target.parent_path() / ("." + target.filename().string() + ".tmp");
    std::ofstream(hidden, std::ios::binary) << content;
    fs::rename(hidden, target);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// "<tag>-<i>" for i in [0, n), one per line.
std::string NumberedLines(const std::string& tag, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += tag + "-" + std::to_string(i) + "\n";
  return out;
}

// Independently of the source: the lines of `content` without '\n' and one
// '\r' before it.
std::vector<std::string> LinesOf(const std::string& content) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < content.size()) {
    size_t nl = content.find('\n', begin);
    std::string line = content.substr(begin, nl == std::string::npos ? std::string::npos : nl - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (nl == std::string::npos) break;
    begin = nl + 1;
  }
  return lines;
}

FileSource<std::string> TextSource(const std::string& path, int64_t interval_ms = 0) {
  auto builder = FileSource<std::string>::forRecordStreamFormat(TextLineFormat(), path);
  if (interval_ms > 0) builder.monitorContinuously(interval_ms);
  return builder.build();
}

// Runs every subtask of a bounded source to its end.
template <class T>
std::vector<SubtaskRun<T>> RunBounded(const std::function<FileSource<T>()>& make, int parallelism) {
  std::vector<SubtaskRun<T>> runs;
  for (int i = 0; i < parallelism; ++i) runs.push_back(RunSubtask<T>(make(), i, parallelism, {}, nullptr, nullptr));
  return runs;
}

// ---------------------------------------------------------------------------
// Formats.

TEST_F(FileSourceTest, TextLinesOfEveryVisibleFileInPathOrder) {
  Write("b.txt", "b1\r\n\nb3");  // "\r\n", an empty line, no final newline
  Write("a.txt", "a1\na2\n");
  Write("sub/c.txt", "c1\n");
  Write("sub/deeper/d.txt", "d1\n");
  Write("_SUCCESS", "ignored\n");
  std::ofstream(dir_ / ".in-progress") << "ignored\n";
  Write(".hidden-dir/e.txt", "ignored\n");
  Write("_tmp/f.txt", "ignored\n");
  auto runs = RunBounded<std::string>([&] { return TextSource(dir_.string()); }, 1);
  EXPECT_THAT(runs[0].before, ElementsAre("a1", "a2", "b1", "", "b3", "c1", "d1"));
  // A path naming one file reads that file.
  auto single = RunBounded<std::string>([&] { return TextSource(Path("b.txt")); }, 1);
  EXPECT_THAT(single[0].before, ElementsAre("b1", "", "b3"));
}

TEST(CsvFieldsTest, QuotingAndErrors) {
  using eddy::connectors::internal::ParseCsvFields;
  EXPECT_THAT(*ParseCsvFields("a,b,,c", ',', '"'), ElementsAre("a", "b", "", "c"));
  EXPECT_THAT(*ParseCsvFields("", ',', '"'), ElementsAre(""));
  EXPECT_THAT(*ParseCsvFields(R"("x, y","say ""hi""",)", ',', '"'), ElementsAre("x, y", "say \"hi\"", ""));
  EXPECT_THAT(*ParseCsvFields("\"\",\"\"\"\"", ',', '"'), ElementsAre("", "\""));
  EXPECT_THAT(*ParseCsvFields("'a;b';c", ';', '\''), ElementsAre("a;b", "c"));
  auto unterminated = ParseCsvFields(R"(a,"bc)", ',', '"');
  ASSERT_FALSE(unterminated.ok());
  EXPECT_THAT(std::string(unterminated.status().message()), HasSubstr("unterminated quoted field"));
  auto after_quote = ParseCsvFields(R"("ab"c,d)", ',', '"');
  ASSERT_FALSE(after_quote.ok());
  EXPECT_THAT(std::string(after_quote.status().message()), HasSubstr("after the closing quote at column 5"));
  auto stray = ParseCsvFields(R"(ab"c)", ',', '"');
  ASSERT_FALSE(stray.ok());
  EXPECT_THAT(std::string(stray.status().message()), HasSubstr("inside an unquoted field at column 3"));
}

struct Item {
  std::string name;
  int64_t count = 0;
  std::string note;
  bool operator==(const Item&) const = default;
  bool operator<(const Item& o) const { return std::tie(name, count, note) < std::tie(o.name, o.count, o.note); }
};

Item ItemFromFields(const std::vector<std::string>& f) { return Item{f.at(0), std::stoll(f.at(1)), f.at(2)}; }

TEST_F(FileSourceTest, CsvWithHeaderQuotesDelimitersEscapesAndLineBreaks) {
  Write("items.csv",
        "name,count,note\n"
        "apple,3,plain\n"
        "\"pear, green\",5,\"said \"\"ripe\"\"\"\n"
        "\r\n"
        "\"multi\nline\",7,\"\"\r\n"
        "kiwi,11,\"a,b,c\"");
  auto make = [&] {
    return FileSource<Item>::forRecordStreamFormat(CsvFormat<Item>(ItemFromFields).withHeader().withFieldCount(3),
                                                   dir_.string())
        .build();
  };
  auto runs = RunBounded<Item>(make, 1);
  EXPECT_THAT(runs[0].before, ElementsAre(Item{"apple", 3, "plain"}, Item{"pear, green", 5, "said \"ripe\""},
                                          Item{"multi\nline", 7, ""}, Item{"kiwi", 11, "a,b,c"}));
}

TEST_F(FileSourceTest, CsvWithAnotherDelimiterAndQuote) {
  Write("x.csv", "a;'b;c';'it''s'\n'x\ny';2;3\n");
  auto make = [&] {
    return FileSource<std::vector<std::string>>::forRecordStreamFormat(
               CsvFormat<std::vector<std::string>>([](const std::vector<std::string>& f) { return f; })
                   .withDelimiter(';')
                   .withQuoteChar('\''),
               dir_.string())
        .build();
  };
  auto runs = RunBounded<std::vector<std::string>>(make, 1);
  EXPECT_THAT(runs[0].before, ElementsAre(std::vector<std::string>{"a", "b;c", "it's"},
                                          std::vector<std::string>{"x\ny", "2", "3"}));
}

Item ItemFromJson(const nlohmann::json& j) {
  return Item{j.at("name").get<std::string>(), j.at("count").get<int64_t>(), j.value("note", "")};
}

TEST_F(FileSourceTest, JsonLines) {
  Write("a.jsonl",
        "{\"name\": \"apple\", \"count\": 3}\n"
        "\n"
        "  {\"count\": -4, \"name\": \"a \\\"quoted\\\" pear\", \"note\": \"x,y\"}  \r\n"
        "{\"name\":\"\\u00e9t\\u00e9\",\"count\":9007199254740993,\"note\":\"line\\nbreak\"}");
  auto make = [&] {
    return FileSource<Item>::forRecordStreamFormat(JsonLinesFormat<Item>(ItemFromJson), dir_.string()).build();
  };
  auto runs = RunBounded<Item>(make, 1);
  EXPECT_THAT(runs[0].before, ElementsAre(Item{"apple", 3, ""}, Item{"a \"quoted\" pear", -4, "x,y"},
                                          Item{"\xc3\xa9t\xc3\xa9", 9007199254740993LL, "line\nbreak"}));
}

// ---------------------------------------------------------------------------
// Bad records.

TEST_F(FileSourceTest, SkipModeCountsBadRecordsAndKeepsTheGoodOnes) {
  Write("a.csv",
        "ok1,1,n\n"
        "bad\"quote,2,n\n"         // line 2: quote inside an unquoted field
        "ok2,2,n\n"
        "too,few\n"                // line 4: 2 fields
        "\"two\nlines\",3,n\n"     // lines 5-6
        "notanumber,x,n\n"         // line 7: the mapper throws
        "\"ab\"c,4,n\n"            // line 8: text after the closing quote
        "ok3,4,n\n"
        "\"never closed,5,n\n"     // line 10: unterminated; the rest is read on
        "ok4,6,n\n");
  Write("b.jsonl",
        "{\"name\":\"j1\",\"count\":1}\n"
        "{\"name\":\"j2\",\"count\":\n"  // invalid JSON
        "{\"name\":\"j3\"}\n"            // no count: the mapper throws
        "[1,2]\n"                        // not an object
        "{\"name\":\"j4\",\"count\":4}\n");
  auto csv = RunBounded<Item>(
      [&] {
        return FileSource<Item>::forRecordStreamFormat(CsvFormat<Item>(ItemFromFields).withFieldCount(3),
                                                       Path("a.csv"))
            .onParseError(ParseErrorPolicy::kSkip)
            .build();
      },
      1);
  EXPECT_THAT(csv[0].before, ElementsAre(Item{"ok1", 1, "n"}, Item{"ok2", 2, "n"}, Item{"two\nlines", 3, "n"},
                                         Item{"ok3", 4, "n"}, Item{"ok4", 6, "n"}));
  EXPECT_EQ(csv[0].skipped, 5);
  auto json = RunBounded<Item>(
      [&] {
        return FileSource<Item>::forRecordStreamFormat(JsonLinesFormat<Item>(ItemFromJson), Path("b.jsonl"))
            .onParseError(ParseErrorPolicy::kSkip)
            .build();
      },
      1);
  EXPECT_THAT(json[0].before, ElementsAre(Item{"j1", 1, ""}, Item{"j4", 4, ""}));
  EXPECT_EQ(json[0].skipped, 3);
}

// The message of the exception the source fails with.
template <class T>
std::string FailureOf(FileSource<T> source) {
  try {
    RunSubtask<T>(std::move(source), 0, 1, {}, nullptr, nullptr);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no failure)";
}

TEST_F(FileSourceTest, FailModeNamesFileLineAndReason) {
  Write("a.csv", "h1,h2,h3\n\"x\ny\",1,n\n\nok,2,n\nbad,3\n");  // header, lines 2-3, blank 4, 5, bad 6
  const std::string csv = FailureOf(
      FileSource<Item>::forRecordStreamFormat(CsvFormat<Item>(ItemFromFields).withHeader().withFieldCount(3),
                                              Path("a.csv"))
          .build());
  EXPECT_THAT(csv, HasSubstr(Path("a.csv") + ":6: expected 3 fields, found 2"));

  Write("b.jsonl", "{\"name\":\"a\",\"count\":1}\n{\"name\":\"b\",\"count\":\"two\"}\n");
  const std::string mapper = FailureOf(
      FileSource<Item>::forRecordStreamFormat(JsonLinesFormat<Item>(ItemFromJson), Path("b.jsonl")).build());
  EXPECT_THAT(mapper, HasSubstr(Path("b.jsonl") + ":2: the mapper failed: "));
  EXPECT_THAT(mapper, HasSubstr("type must be number"));

  Write("c.jsonl", "\n\n{oops}\n");
  const std::string invalid = FailureOf(
      FileSource<Item>::forRecordStreamFormat(JsonLinesFormat<Item>(ItemFromJson), Path("c.jsonl")).build());
  EXPECT_THAT(invalid, HasSubstr(Path("c.jsonl") + ":3: invalid JSON: "));

  EXPECT_THAT(FailureOf(TextSource(Path("missing"))), HasSubstr("input path does not exist: " + Path("missing")));
}

// ---------------------------------------------------------------------------
// Bounded reading, parallelism and restores.

// Files of different sizes, in subdirectories; returns every line.
std::vector<std::string> WriteBoundedFiles(
    const std::function<void(const std::string& name, const std::string& content)>& write) {
  std::vector<std::string> all;
  for (int f = 0; f < 9; ++f) {
    const std::string content = NumberedLines("f" + std::to_string(f), 5 + 7 * f);
    write((f % 3 == 0 ? "x/" : "") + std::string("file-") + std::to_string(f) + ".txt", content);
    Append(&all, LinesOf(content));
  }
  return all;
}

// Which files the lines came from: "f3-12" is from file 3.
std::set<std::string> FilesOf(const std::vector<std::string>& lines) {
  std::set<std::string> files;
  for (const std::string& line : lines) files.insert(line.substr(0, line.find('-')));
  return files;
}

TEST_F(FileSourceTest, BoundedEveryLineOnceAndEachFileInOneSubtask) {
  const auto all = WriteBoundedFiles([this](const std::string& n, const std::string& c) { Write(n, c); });
  for (int p : {1, 2, 3, 5}) {
    auto runs = RunBounded<std::string>([&] { return TextSource(dir_.string()); }, p);
    std::vector<std::string> emitted;
    std::multiset<std::string> files;
    for (const auto& run : runs) {
      Append(&emitted, run.before);
      for (const std::string& f : FilesOf(run.before)) files.insert(f);
    }
    EXPECT_EQ(Sorted(emitted), Sorted(all)) << "parallelism " << p;
    EXPECT_EQ(files.size(), 9u) << "each file is read by one subtask, at parallelism " << p;
  }
}

// Runs `p` subtasks restored from `restored` (empty: fresh), each taking its
// checkpoint before emitting its record number checkpoint_at[i] (or at its end)
// and stopping `lost` records later.
std::vector<SubtaskRun<std::string>> RunWithCheckpoint(const std::function<FileSource<std::string>()>& make, int p,
                                                       const std::vector<Lists>& restored,
                                                       const std::vector<size_t>& checkpoint_at, size_t lost = 3) {
  std::vector<SubtaskRun<std::string>> runs;
  for (int i = 0; i < p; ++i) {
    const size_t at = checkpoint_at[static_cast<size_t>(i)];
    auto on_collect = [at, lost](ScriptedContext<std::string>& ctx) {
      if (!ctx.checkpointed() && ctx.emitted() == at) ctx.Checkpoint();
      if (ctx.checkpointed() && ctx.after().size() >= lost) ctx.Stop();
    };
    std::optional<Lists> r;
    if (!restored.empty()) r = restored[static_cast<size_t>(i)];
    runs.push_back(RunSubtask<std::string>(make(), i, p, r, on_collect, nullptr, /*checkpoint_at_end=*/true));
  }
  return runs;
}

std::vector<std::string> Before(const std::vector<SubtaskRun<std::string>>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs) Append(&out, r.before);
  return out;
}
std::vector<Lists> Snapshots(const std::vector<SubtaskRun<std::string>>& runs) {
  std::vector<Lists> out;
  for (const auto& r : runs) out.push_back(r.snapshot);
  return out;
}

TEST_F(FileSourceTest, BoundedRestoresFrom2To3And3To1MidFile) {
  const auto all = WriteBoundedFiles([this](const std::string& n, const std::string& c) { Write(n, c); });
  auto make = [&] { return TextSource(dir_.string()); };
  for (size_t a : {0, 1, 6, 40}) {
    for (size_t b : {0, 13, 1000}) {
      auto first = RunWithCheckpoint(make, 2, {}, {a, b});
      auto second = RunWithCheckpoint(make, 3, Redistribute(Snapshots(first), 3), {b / 2, a, 7});
      auto third = RunWithCheckpoint(make, 1, Redistribute(Snapshots(second), 1), {100000});
      std::vector<std::string> emitted = Before(first);
      Append(&emitted, Before(second));
      Append(&emitted, Before(third));
      EXPECT_EQ(Sorted(emitted), Sorted(all)) << a << ", " << b;
    }
  }
}

TEST_F(FileSourceTest, BoundedRestoredSubtasksReadOnlyTheFilesOfTheirState) {
  const auto all = WriteBoundedFiles([this](const std::string& n, const std::string& c) { Write(n, c); });
  auto make = [&] { return TextSource(dir_.string()); };
  auto first = RunWithCheckpoint(make, 2, {}, {10, 10});
  Write("late.txt", "late\n");
  auto second = RunWithCheckpoint(make, 3, Redistribute(Snapshots(first), 3), {100000, 100000, 100000});
  std::vector<std::string> emitted = Before(first);
  Append(&emitted, Before(second));
  EXPECT_EQ(Sorted(emitted), Sorted(all));
}

TEST_F(FileSourceTest, CsvRestoresAtEveryRecordWithHeaderAndMultiLineRecords) {
  // Records 2 and 4 span lines; a checkpoint before any record, restored,
  // must give the rest in order (the header is not read as data again).
  Write("a.csv", "name,count,note\r\n\"one\",1,x\n\"t\nw\no\",2,\"y\"\"\"\n3,3,z\n\"f\r\nour\",4,\n\nfive,5,w");
  const std::vector<Item> expected = {Item{"one", 1, "x"}, Item{"t\nw\no", 2, "y\""}, Item{"3", 3, "z"},
                                      Item{"f\nour", 4, ""}, Item{"five", 5, "w"}};
  auto make = [&] {
    return FileSource<Item>::forRecordStreamFormat(CsvFormat<Item>(ItemFromFields).withHeader(), dir_.string())
        .build();
  };
  for (size_t at = 0; at <= expected.size(); ++at) {
    auto on_collect = [at](ScriptedContext<Item>& ctx) {
      if (!ctx.checkpointed() && ctx.emitted() == at) ctx.Checkpoint();
      if (ctx.checkpointed() && !ctx.after().empty()) ctx.Stop();
    };
    SubtaskRun<Item> first = RunSubtask<Item>(make(), 0, 1, {}, on_collect, nullptr, /*checkpoint_at_end=*/true);
    SubtaskRun<Item> second = RunSubtask<Item>(make(), 0, 1, first.snapshot, nullptr, nullptr);
    std::vector<Item> emitted = first.before;
    Append(&emitted, second.before);
    EXPECT_EQ(emitted, expected) << "checkpoint before record " << at;
  }
}

// ---------------------------------------------------------------------------
// Continuous mode, driven directly.

// Each subtask of a continuous source, restored from `restored` if not empty,
// reads until it is idle (its first flush: flushes come only from the wait
// between listings when every record is good), then:
//   - if `add` is set, calls it (files appear while the job runs) and reads on
//     until idle again;
//   - takes a checkpoint, either at that point or before its emitted record
//     number `checkpoint_at[i]` if the subtask gets that far (mid-file);
//   - then `after_checkpoint` is called (more files appear) and the subtask
//     reads on until idle once more, and fails: what it emitted after the
//     checkpoint is lost.
struct ContinuousPlan {
  std::vector<size_t> checkpoint_at;  // per subtask; SIZE_MAX: when idle
  std::function<void(int subtask)> add;
  std::function<void(int subtask)> after_checkpoint;
};

std::vector<SubtaskRun<std::string>> RunContinuous(const std::function<FileSource<std::string>()>& make, int p,
                                                   const std::vector<Lists>& restored, const ContinuousPlan& plan) {
  std::vector<SubtaskRun<std::string>> runs;
  for (int i = 0; i < p; ++i) {
    const size_t at = plan.checkpoint_at[static_cast<size_t>(i)];
    auto checkpoint = [&plan, i](ScriptedContext<std::string>& ctx) {
      ctx.Checkpoint();
      if (plan.after_checkpoint) plan.after_checkpoint(i);
    };
    auto on_collect = [at, checkpoint](ScriptedContext<std::string>& ctx) {
      if (!ctx.checkpointed() && ctx.emitted() == at) checkpoint(ctx);
    };
    bool added = false;
    auto on_flush = [&plan, i, checkpoint, &added](ScriptedContext<std::string>& ctx) {
      if (ctx.checkpointed()) {
        ctx.Stop();
      } else if (plan.add && !added) {
        added = true;
        plan.add(i);
      } else {
        checkpoint(ctx);
      }
    };
    std::optional<Lists> r;
    if (!restored.empty()) r = restored[static_cast<size_t>(i)];
    runs.push_back(RunSubtask<std::string>(make(), i, p, r, on_collect, on_flush));
    EXPECT_FALSE(runs.back().snapshot.empty()) << "subtask " << i << " took no checkpoint";
  }
  return runs;
}

TEST_F(FileSourceTest, ContinuousFilesAddedAroundCheckpointsAndRestoresAt2To3To1) {
  std::vector<std::string> all;
  auto write = [&](const std::string& name, const std::string& content) {
    Write(name, content);
    Append(&all, LinesOf(content));
  };
  for (int f = 0; f < 4; ++f) write("initial-" + std::to_string(f), NumberedLines("i" + std::to_string(f), 20));
  auto make = [&] { return TextSource(dir_.string(), /*interval_ms=*/5); };
  int generation = 0;
  // Files appear before the checkpoint (while the subtask runs) and after it.
  auto adder = [&](const std::string& tag) {
    return [&, tag](int subtask) {
      const std::string name = tag + "-" + std::to_string(generation++);
      write((generation % 2 ? "sub/" : "") + name, NumberedLines(name, 30));
    };
  };
  // At parallelism 2: subtask 0 checkpoints mid-file, subtask 1 when idle.
  auto first = RunContinuous(make, 2, {}, {{25, SIZE_MAX}, adder("before"), adder("after")});
  // At 3: checkpoints in the middle of restored and of new files.
  auto second = RunContinuous(make, 3, Redistribute(Snapshots(first), 3), {{5, 31, SIZE_MAX}, adder("b2"), adder("a2")});
  // At 1: reads what is left, and what appeared after the last checkpoint.
  auto third = RunContinuous(make, 1, Redistribute(Snapshots(second), 1), {{SIZE_MAX}, nullptr, nullptr});
  std::vector<std::string> emitted = Before(first);
  Append(&emitted, Before(second));
  Append(&emitted, Before(third));
  EXPECT_EQ(Sorted(emitted), Sorted(all));
  // The planned mid-file checkpoints were taken (the files hold 20 and 30 lines).
  EXPECT_EQ(first[0].before.size(), 25u);
  EXPECT_TRUE(second[0].before.size() == 5u || second[1].before.size() == 31u)
      << second[0].before.size() << ", " << second[1].before.size();
  EXPECT_GE(generation, 5) << "files were added before and after checkpoints";
  // The third run had lines left to read, lost after the second checkpoints.
  EXPECT_FALSE(third[0].before.empty());
}

TEST_F(FileSourceTest, ContinuousRestoreInTheMiddleOfAFile) {
  // One subtask; the checkpoint is taken before line 37 of a 100-line file.
  const std::string content = NumberedLines("m", 100);
  Write("big.txt", content);
  auto make = [&] { return TextSource(dir_.string(), 5); };
  auto first = RunContinuous(make, 1, {}, {{37}, nullptr, nullptr});
  ASSERT_EQ(first[0].before.size(), 37u);
  EXPECT_EQ(first[0].after.size(), 63u) << "read on to the end after the checkpoint, then lost";
  for (int p : {1, 2, 3}) {
    auto second = RunContinuous(make, p, Redistribute(Snapshots(first), p), {std::vector<size_t>(p, SIZE_MAX), nullptr, nullptr});
    std::vector<std::string> emitted = Before(first);
    Append(&emitted, Before(second));
    EXPECT_EQ(emitted.size(), 100u) << "parallelism " << p;
    EXPECT_EQ(Sorted(emitted), Sorted(LinesOf(content))) << "parallelism " << p;
  }
}

TEST_F(FileSourceTest, CancelReturnsPromptlyWhileIdle) {
  Write("a.txt", "a\n");
  FileSource<std::string> source = TextSource(dir_.string(), /*interval_ms=*/60000);
  eddy::testing::FunctionHarness<FileSource<std::string>> subtask(std::move(source));
  std::atomic<int64_t> flushes{0};
  ScriptedContext<std::string> ctx([] { return Lists{}; }, nullptr,
                                   [&](ScriptedContext<std::string>&) { flushes.fetch_add(1); });
  std::thread canceller([&] {
    while (flushes.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    subtask.function().cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  subtask.function().run(ctx);
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_THAT(ctx.before(), ElementsAre("a"));
  EXPECT_LT(took, std::chrono::seconds(10)) << "run() returned long after cancel(), not within a wait step";
}

// ---------------------------------------------------------------------------
// A continuous job on the embedded cluster.

// What the job's sink received, and the running source instances (copies the
// runtime made), so that the test can cancel them and end the job.
struct JobLog {
  std::mutex mu;
  std::vector<std::string> lines;
  std::set<eddy::SourceFunction<std::string>*> running;  // in run()
  int started = 0;
};
JobLog& Log() {
  static JobLog log;
  return log;
}

// The file source, registering itself when it starts to run.
class RegisteredFileSource : public FileSource<std::string> {
 public:
  explicit RegisteredFileSource(FileSource<std::string> source) : FileSource<std::string>(std::move(source)) {}
  void run(SourceContext& ctx) override {
    struct Registration {
      explicit Registration(RegisteredFileSource* source) : source(source) {
        std::lock_guard<std::mutex> lock(Log().mu);
        Log().running.insert(source);
        ++Log().started;
      }
      ~Registration() {
        std::lock_guard<std::mutex> lock(Log().mu);
        Log().running.erase(source);
      }
      RegisteredFileSource* source;
    } registration(this);
    FileSource<std::string>::run(ctx);
  }
};

TEST_F(FileSourceTest, ContinuousJobReadsFilesAddedWhileItRunsOnce) {
  std::srand(static_cast<unsigned>(::getpid()));
  const int parallelism = 1 + std::rand() % 3;
  std::vector<std::string> all;
  for (int f = 0; f < 3; ++f) {
    const std::string content = NumberedLines("start" + std::to_string(f), 50);
    Write("start-" + std::to_string(f) + ".txt", content);
    Append(&all, LinesOf(content));
  }
  std::vector<std::string> added_later;
  for (int f = 0; f < 12; ++f) {
    Append(&added_later, LinesOf(NumberedLines("later" + std::to_string(f), 40 + f)));
  }
  Append(&all, added_later);

  eddy::StreamExecutionEnvironment env;
  env.setParallelism(parallelism);
  env.enableCheckpointing(30);
  env.addSource(RegisteredFileSource(TextSource(dir_.string(), /*interval_ms=*/10)), "files")
      .addSink([](const std::string& line) {
        std::lock_guard<std::mutex> lock(Log().mu);
        Log().lines.push_back(line);
      });

  // Adds files while the job runs, waits until the sink has every line (and a
  // little longer, for duplicates to show), then cancels the sources.
  std::thread driver([&] {
    for (int f = 0; f < 12; ++f) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      Write("later/" + std::to_string(f % 3) + "/later-" + std::to_string(f) + ".txt",
            NumberedLines("later" + std::to_string(f), 40 + f));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(Log().mu);
        if (Log().lines.size() >= all.size() && Log().started == parallelism) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard<std::mutex> lock(Log().mu);
    for (auto* source : Log().running) source->cancel();
  });
  std::string failure;
  try {
    env.execute("continuous-file-source");
  } catch (const std::exception& e) {
    failure = e.what();
  }
  driver.join();
  EXPECT_EQ(failure, "");
  std::lock_guard<std::mutex> lock(Log().mu);
  EXPECT_EQ(Log().started, parallelism);
  EXPECT_EQ(Sorted(Log().lines), Sorted(all)) << "parallelism " << parallelism;
}

}  // namespace
