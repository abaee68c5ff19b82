// KafkaSource and KafkaSink against librdkafka's mock cluster (real Kafka
// protocol over loopback TCP; one cluster per test). Functions are driven the
// way a task drives them (runtime context, initializeState, open, run or
// invoke, snapshotState, notifyCheckpointComplete, close) and restores get the
// operator state redistributed as the runtime does it; one test runs a whole
// job on the embedded cluster. Records are written and read back with plain
// librdkafka clients (kafka_testing.h), and every expectation is computed here
// from what the test wrote.
//
// What the mock cannot show: it writes no transaction markers, so a
// read_committed consumer also sees records of open and aborted transactions,
// and it ignores offsets sent with a transaction. The exactly-once tests
// therefore check the transaction calls, fencing and what recovery writes, not
// visibility.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/testing/function_harness.h"
#include "connectors/kafka/kafka_testing.h"
#include "eddy/checkpoint.h"
#include "eddy/connectors/kafka.h"
#include "eddy/eddy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using eddy::connectors::kafka_testing::MockCluster;
using eddy::connectors::kafka_testing::Record;
using Snapshot = eddy::testing::OperatorStateSnapshot;
using eddy::testing::Redistribute;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Source harness.

// "value@partition:offset": what the tests' deserializer makes of a record,
// so that the record's coordinates are checked along with its value.
std::string Tag(std::string_view value, int32_t partition, int64_t offset) {
  return std::string(value) + "@" + std::to_string(partition) + ":" + std::to_string(offset);
}
std::string TagRecord(const eddy::connectors::KafkaRecord& r) { return Tag(r.value, r.partition, r.offset); }

// `per_partition` records in each of `partitions` partitions of `topic`,
// value "<topic>-<partition>-<i>", timestamp 1000 * (partition + 1) + i.
// Produced in order, so record i of a partition has offset first_offset + i.
std::vector<Record> MakeRecords(const std::string& topic, int partitions, int per_partition, int first = 0) {
  std::vector<Record> out;
  for (int p = 0; p < partitions; ++p) {
    for (int i = first; i < first + per_partition; ++i) {
      Record r;
      r.topic = topic;
      r.partition = p;
      r.key = "k" + std::to_string(i);
      r.value = topic + "-" + std::to_string(p) + "-" + std::to_string(i);
      r.timestamp = 1000 * (p + 1) + i;
      out.push_back(std::move(r));
    }
  }
  return out;
}

// The tags of `records` (as TagRecord makes them), given that record i of a
// partition has offset first_offset + (i - first).
std::vector<std::string> Tags(const std::vector<Record>& records, int64_t first_offset = 0) {
  std::map<int32_t, int64_t> next;
  std::vector<std::string> out;
  for (const Record& r : records) {
    auto [it, inserted] = next.emplace(r.partition, first_offset);
    out.push_back(Tag(r.value, r.partition, it->second++));
  }
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// When a source subtask checkpoints and stops.
struct Plan {
  int64_t checkpoint_at = -1;   // snapshot before emitting record number n (or after the end)
  int64_t stop_after = -1;      // stop once this many records were emitted in all
  std::chrono::milliseconds deadline{20000};
};

// A SourceContext that records what is emitted and snapshots as the task does.
class RecordingContext final : public eddy::SourceFunction<std::string>::SourceContext {
 public:
  RecordingContext(Plan plan, std::function<Snapshot()> snapshot)
      : plan_(plan), snapshot_(std::move(snapshot)), deadline_(Clock::now() + plan.deadline) {}

  void collect(const std::string& value) override { Collect(value, std::nullopt); }
  void collectWithTimestamp(const std::string& value, int64_t timestamp) override { Collect(value, timestamp); }
  void flush() override { ++flushes; }
  void emitWatermark(int64_t watermark) override { watermarks.emplace_back(emitted.size(), watermark); }
  bool isRunning() const override {
    return (plan_.stop_after < 0 || static_cast<int64_t>(emitted.size()) < plan_.stop_after) &&
           Clock::now() < deadline_;
  }

  void TakeSnapshotIfDue() {
    if (!snapshot && plan_.checkpoint_at >= 0) {
      snapshot = snapshot_();
      emitted_before_snapshot = emitted.size();
    }
  }

  std::vector<std::string> emitted;
  std::vector<std::optional<int64_t>> timestamps;
  std::vector<std::pair<size_t, int64_t>> watermarks;  // (records emitted before it, watermark)
  std::optional<Snapshot> snapshot;
  size_t emitted_before_snapshot = 0;
  int64_t flushes = 0;

 private:
  void Collect(const std::string& value, std::optional<int64_t> timestamp) {
    if (static_cast<int64_t>(emitted.size()) == plan_.checkpoint_at) TakeSnapshotIfDue();
    emitted.push_back(value);
    timestamps.push_back(timestamp);
  }

  Plan plan_;
  std::function<Snapshot()> snapshot_;
  Clock::time_point deadline_;
};

// One source subtask, opened like a task opens it and closed when it goes.
class SourceHarness : public eddy::testing::FunctionHarness<eddy::connectors::KafkaSource<std::string>> {
 public:
  using FunctionHarness::FunctionHarness;
  ~SourceHarness() { Close(); }

  // Runs the source as `plan` says; a snapshot due after the end is taken then.
  std::unique_ptr<RecordingContext> Run(Plan plan = {}) {
    auto ctx = std::make_unique<RecordingContext>(plan, [this] { return Checkpoint(1); });
    function().run(*ctx);
    ctx->TakeSnapshotIfDue();
    return ctx;
  }
};

eddy::connectors::KafkaSourceBuilder<std::string> SourceBuilder(const MockCluster& cluster, const std::string& topic) {
  eddy::connectors::KafkaSourceBuilder<std::string> b = eddy::connectors::KafkaSource<std::string>::builder();
  b.setBootstrapServers(cluster.bootstrap_servers())
      .setTopics({topic})
      .setDeserializer(TagRecord)
      .setMetadataTimeout(std::chrono::seconds(10));
  return b;
}

// Emitted records of every subtask of a bounded source at `parallelism`.
std::vector<std::vector<std::string>> RunBounded(const eddy::connectors::KafkaSource<std::string>& source, int parallelism) {
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < parallelism; ++i) {
    SourceHarness h(source, i, parallelism);
    out.push_back(h.Run()->emitted);
  }
  return out;
}

std::vector<std::string> Flatten(const std::vector<std::vector<std::string>>& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The partition of a tag "value@partition:offset".
int32_t PartitionOf(const std::string& tag) {
  return std::stoi(tag.substr(tag.rfind('@') + 1, tag.rfind(':') - tag.rfind('@') - 1));
}

// ---------------------------------------------------------------------------
// Source tests.

TEST(KafkaSourceTest, BoundedReadsEveryRecordOnceAtParallelism1And2) {
  MockCluster cluster(2);
  cluster.CreateTopic("events", 4);
  const std::vector<Record> records = MakeRecords("events", 4, 250);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), records);
  const eddy::connectors::KafkaSource<std::string> source = SourceBuilder(cluster, "events").setBounded().build();

  const auto one = RunBounded(source, 1);
  EXPECT_THAT(Sorted(one[0]), ElementsAreArray(Sorted(Tags(records))));

  const auto two = RunBounded(source, 2);
  EXPECT_THAT(Sorted(Flatten(two)), ElementsAreArray(Sorted(Tags(records))));
  // Sorted partitions dealt round-robin: subtask 0 reads 0 and 2, subtask 1 reads 1 and 3,
  // each partition in offset order.
  for (int subtask = 0; subtask < 2; ++subtask) {
    std::map<int32_t, std::vector<std::string>> by_partition;
    for (const std::string& tag : two[static_cast<size_t>(subtask)]) by_partition[PartitionOf(tag)].push_back(tag);
    std::vector<int32_t> partitions;
    for (const auto& [p, tags] : by_partition) partitions.push_back(p);
    EXPECT_THAT(partitions, ElementsAreArray({subtask, subtask + 2})) << "subtask " << subtask;
    for (const auto& [p, tags] : by_partition) {
      std::vector<Record> of_p;
      for (const Record& r : records) {
        if (r.partition == p) of_p.push_back(r);
      }
      EXPECT_THAT(tags, ElementsAreArray(Tags(of_p))) << "partition " << p;
    }
  }
}

TEST(KafkaSourceTest, RecordsCarryTheirKafkaTimestampAndTopicPatternMatches) {
  MockCluster cluster;
  cluster.CreateTopic("orders-eu", 1);
  cluster.CreateTopic("orders-us", 2);
  cluster.CreateTopic("other", 1);
  std::vector<Record> records = MakeRecords("orders-eu", 1, 20);
  for (Record& r : MakeRecords("orders-us", 2, 20)) records.push_back(r);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), records);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), MakeRecords("other", 1, 5));

  auto source = eddy::connectors::KafkaSource<std::string>::builder()
                    .setBootstrapServers(cluster.bootstrap_servers())
                    .setTopicPattern("orders-.*")
                    .setDeserializer([](const eddy::connectors::KafkaRecord& r) { return std::string(r.value); })
                    .setBounded()
                    .build();
  SourceHarness h(source, 0, 1);
  auto ctx = h.Run();
  std::map<std::string, int64_t> expected;  // value -> timestamp
  for (const Record& r : records) expected[r.value] = r.timestamp;
  ASSERT_EQ(ctx->emitted.size(), expected.size());
  for (size_t i = 0; i < ctx->emitted.size(); ++i) {
    ASSERT_TRUE(expected.count(ctx->emitted[i])) << ctx->emitted[i];
    EXPECT_EQ(ctx->timestamps[i], expected[ctx->emitted[i]]) << ctx->emitted[i];
  }
}

TEST(KafkaSourceTest, StartingOffsetsEarliestLatestAndCommitted) {
  MockCluster cluster;
  cluster.CreateTopic("t", 3);
  const std::vector<Record> old_records = MakeRecords("t", 3, 30);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), old_records);

  // Latest, unbounded: only what is written after the source opened.
  {
    auto source = SourceBuilder(cluster, "t").setStartingOffsets(eddy::connectors::OffsetsInitializer::latest()).build();
    SourceHarness h(source, 0, 1);
    const std::vector<Record> new_records = MakeRecords("t", 3, 10, 30);
    eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), new_records);
    Plan plan;
    plan.stop_after = 30;
    auto ctx = h.Run(plan);
    EXPECT_THAT(Sorted(ctx->emitted), ElementsAreArray(Sorted(Tags(new_records, 30))));
  }

  // Committed with an EARLIEST fallback: partition 0 from 5, 1 from 27, 2 (none) from 0.
  eddy::connectors::kafka_testing::CommitOffsets(cluster.bootstrap_servers(), "g", "t", {{0, 5}, {1, 27}});
  {
    auto source = SourceBuilder(cluster, "t")
                      .setGroupId("g")
                      .setStartingOffsets(eddy::connectors::OffsetsInitializer::committedOffsets(
                          eddy::connectors::OffsetsInitializer::ResetStrategy::EARLIEST))
                      .setBounded()
                      .build();
    std::vector<Record> expected;
    std::vector<std::string> expected_tags;
    const std::vector<std::string> all_tags = Tags(MakeRecords("t", 3, 40));
    for (const std::string& tag : all_tags) {
      const int32_t p = PartitionOf(tag);
      const int64_t offset = std::stoll(tag.substr(tag.rfind(':') + 1));
      if ((p == 0 && offset >= 5) || (p == 1 && offset >= 27) || p == 2) expected_tags.push_back(tag);
    }
    EXPECT_THAT(Sorted(Flatten(RunBounded(source, 2))), ElementsAreArray(Sorted(expected_tags)));
  }

  // Committed without a fallback: the partition without an offset is named.
  {
    auto source = SourceBuilder(cluster, "t")
                      .setGroupId("g")
                      .setStartingOffsets(eddy::connectors::OffsetsInitializer::committedOffsets())
                      .build();
    try {
      SourceHarness h(source, 0, 1);
      FAIL() << "expected an error for partition 2";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("group 'g' has no committed offset for topic 't' partition 2"));
    }
  }

  // Earliest: everything.
  auto source = SourceBuilder(cluster, "t").setStartingOffsets(eddy::connectors::OffsetsInitializer::earliest()).setBounded().build();
  EXPECT_THAT(Sorted(Flatten(RunBounded(source, 1))), ElementsAreArray(Sorted(Tags(MakeRecords("t", 3, 40)))));
}

// A generator that emits each event's timestamp as the watermark at once.
class PunctuatedWatermarks : public eddy::WatermarkGenerator<std::string> {
 public:
  void onEvent(const std::string&, int64_t timestamp, eddy::WatermarkOutput& out) override {
    out.emitWatermark(timestamp);
  }
  void onPeriodicEmit(eddy::WatermarkOutput&) override {}
};

TEST(KafkaSourceTest, WatermarkIsTheMinimumOverPartitions) {
  MockCluster cluster;
  cluster.CreateTopic("w", 3);
  // Partition p has timestamps 1000 (p + 1) + i: partition 0 lags the others.
  const std::vector<Record> records = MakeRecords("w", 3, 40);
  // One record per partition and batch: with small fetches the consumer then
  // hands out the partitions interleaved.
  for (int i = 0; i < 40; ++i) {
    eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), {records[i], records[40 + i], records[80 + i]});
  }
  auto source = SourceBuilder(cluster, "w")
                    .setWatermarkStrategy(eddy::WatermarkStrategy<std::string>::forGenerator(
                        [] { return std::make_unique<PunctuatedWatermarks>(); }))
                    // Small fetches interleave the partitions.
                    .setProperty("max.partition.fetch.bytes", "256")
                    .build();
  SourceHarness h(source, 0, 1);
  Plan plan;
  plan.stop_after = static_cast<int64_t>(records.size());
  auto ctx = h.Run(plan);
  ASSERT_EQ(ctx->emitted.size(), records.size());

  // Reference: after each record, the minimum over partitions of the largest
  // timestamp each has emitted (none until every partition emitted one).
  std::map<int32_t, int64_t> largest;
  std::vector<std::pair<size_t, int64_t>> expected;
  int64_t last = INT64_MIN;
  for (size_t i = 0; i < ctx->emitted.size(); ++i) {
    const int32_t p = PartitionOf(ctx->emitted[i]);
    ASSERT_TRUE(ctx->timestamps[i].has_value());
    largest[p] = std::max(largest.count(p) ? largest[p] : INT64_MIN, *ctx->timestamps[i]);
    if (largest.size() < 3) continue;
    int64_t minimum = INT64_MAX;
    for (const auto& [q, ts] : largest) minimum = std::min(minimum, ts);
    if (minimum > last) {
      expected.emplace_back(i + 1, minimum);
      last = minimum;
    }
  }
  EXPECT_THAT(ctx->watermarks, ElementsAreArray(expected));
  ASSERT_FALSE(ctx->watermarks.empty());
  EXPECT_EQ(ctx->watermarks.back().second, 1039) << "the slowest partition's last timestamp";
  EXPECT_GT(ctx->watermarks.size(), 1u) << "partitions were not interleaved: the test shows little";
}

TEST(KafkaSourceTest, PeriodicWatermarksHoldBackForTheSlowestPartition) {
  MockCluster cluster;
  cluster.CreateTopic("w", 2);
  const std::vector<Record> records = MakeRecords("w", 2, 10);  // p0: 1000..1009, p1: 2000..2009
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), records);
  auto source = SourceBuilder(cluster, "w")
                    .setWatermarkStrategy(
                        eddy::WatermarkStrategy<std::string>::forBoundedOutOfOrderness(std::chrono::milliseconds(5)))
                    .setWatermarkInterval(std::chrono::milliseconds(10))
                    .build();
  SourceHarness h(source, 0, 1);
  Plan plan;
  plan.deadline = std::chrono::milliseconds(1500);  // unbounded: stop after a few intervals
  auto ctx = h.Run(plan);
  ASSERT_EQ(ctx->emitted.size(), records.size());
  ASSERT_FALSE(ctx->watermarks.empty());
  // Both partitions done: min(1009, 2009) - 5 - 1.
  EXPECT_EQ(ctx->watermarks.back().second, 1009 - 5 - 1);
  for (const auto& [before, wm] : ctx->watermarks) EXPECT_LE(wm, 1009 - 5 - 1);
}

TEST(KafkaSourceTest, RestoreContinuesFromTheCheckpointNotTheGroupOffsets) {
  MockCluster cluster;
  cluster.CreateTopic("r", 3);
  const std::vector<Record> first = MakeRecords("r", 3, 40);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), first);
  int written = 40;
  for (int new_parallelism : {1, 3}) {
    SCOPED_TRACE("restored at parallelism " + std::to_string(new_parallelism));
    // The restored source is told to start from committed offsets: it must not.
    const std::string group = "restore-group-" + std::to_string(new_parallelism);
    auto source = SourceBuilder(cluster, "r")
                      .setGroupId(group)
                      .setStartingOffsets(eddy::connectors::OffsetsInitializer::committedOffsets(
                          eddy::connectors::OffsetsInitializer::ResetStrategy::EARLIEST))
                      .setBounded()
                      .build();
    // Phase 1, parallelism 2: subtask 0 snapshots after 17 records, subtask 1
    // after 33; both emit 5 more (lost with the failure).
    std::vector<Snapshot> snapshots;
    std::vector<std::string> before_checkpoint;
    const int64_t checkpoint_at[] = {17, 33};
    for (int i = 0; i < 2; ++i) {
      SourceHarness h(source, i, 2);
      Plan plan;
      plan.checkpoint_at = checkpoint_at[i];
      plan.stop_after = checkpoint_at[i] + 5;
      auto ctx = h.Run(plan);
      ASSERT_TRUE(ctx->snapshot.has_value());
      ASSERT_EQ(ctx->emitted_before_snapshot, static_cast<size_t>(checkpoint_at[i]));
      snapshots.push_back(*ctx->snapshot);
      before_checkpoint.insert(before_checkpoint.end(), ctx->emitted.begin(),
                               ctx->emitted.begin() + checkpoint_at[i]);
    }
    // Different offsets in the group, and more records.
    eddy::connectors::kafka_testing::CommitOffsets(cluster.bootstrap_servers(), group, "r", {{0, 39}, {1, 0}, {2, 20}});
    eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), MakeRecords("r", 3, 10, written));
    written += 10;

    const std::vector<Snapshot> restored = Redistribute(snapshots, new_parallelism);
    std::vector<std::string> after;
    for (int i = 0; i < new_parallelism; ++i) {
      SourceHarness h(source, i, new_parallelism, &restored[static_cast<size_t>(i)]);
      auto ctx = h.Run();
      after.insert(after.end(), ctx->emitted.begin(), ctx->emitted.end());
    }
    std::vector<std::string> all = before_checkpoint;
    all.insert(all.end(), after.begin(), after.end());
    EXPECT_THAT(Sorted(all), ElementsAreArray(Sorted(Tags(MakeRecords("r", 3, written)))));
  }
}

TEST(KafkaSourceTest, CompletedCheckpointsCommitTheirOffsetsToTheGroup) {
  MockCluster cluster;
  cluster.CreateTopic("c", 2);
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), MakeRecords("c", 2, 30));
  auto source = SourceBuilder(cluster, "c").setGroupId("commit-group").setBounded().build();
  SourceHarness h(source, 0, 1);
  Plan plan;
  plan.checkpoint_at = 25;
  auto ctx = h.Run(plan);
  ASSERT_EQ(ctx->emitted.size(), 60u);
  // Reference: the next offset per partition after the records emitted before the snapshot.
  std::map<int32_t, int64_t> at_checkpoint = {{0, 0}, {1, 0}};
  for (size_t i = 0; i < ctx->emitted_before_snapshot; ++i) {
    const std::string& tag = ctx->emitted[i];
    at_checkpoint[PartitionOf(tag)] = std::stoll(tag.substr(tag.rfind(':') + 1)) + 1;
  }
  h.Checkpoint(2);  // at the end: 30 and 30
  EXPECT_TRUE(eddy::connectors::kafka_testing::CommittedOffsets(cluster.bootstrap_servers(), "commit-group", "c", 2).empty());

  auto wait_for = [&](const std::map<int32_t, int64_t>& expected) {
    std::map<int32_t, int64_t> got;
    for (auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline;) {
      got = eddy::connectors::kafka_testing::CommittedOffsets(cluster.bootstrap_servers(), "commit-group", "c", 2);
      if (got == expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return got;
  };
  h.Complete(1);
  EXPECT_EQ(wait_for(at_checkpoint), at_checkpoint);
  h.Complete(2);
  const std::map<int32_t, int64_t> at_end = {{0, 30}, {1, 30}};
  EXPECT_EQ(wait_for(at_end), at_end);
}

TEST(KafkaSourceTest, DeserializerFailureFailsWithItsPositionOrIsSkippedAndCounted) {
  MockCluster cluster;
  cluster.CreateTopic("bad", 2);
  std::vector<Record> records = MakeRecords("bad", 2, 10);
  // Partition 1, offsets 3 and 7 cannot be parsed.
  for (Record& r : records) {
    if (r.partition == 1 && (r.value == "bad-1-3" || r.value == "bad-1-7")) r.value = "garbage";
  }
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), records);
  auto parse = [](const eddy::connectors::KafkaRecord& r) {
    if (r.value == "garbage") throw std::invalid_argument("not a record");
    return TagRecord(r);
  };

  auto failing = SourceBuilder(cluster, "bad").setDeserializer(parse).setBounded().build();
  try {
    SourceHarness h(failing, 0, 1);
    h.Run();
    FAIL() << "expected the deserializer's error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("topic 'bad' partition 1 offset 3: not a record"));
  }

  auto skipping = SourceBuilder(cluster, "bad")
                      .setDeserializer(parse)
                      .setDeserializationErrorMode(eddy::connectors::DeserializationErrorMode::SKIP)
                      .setBounded()
                      .build();
  SourceHarness h(skipping, 0, 1);
  auto ctx = h.Run();
  std::vector<std::string> expected;
  for (const std::string& tag : Tags(records)) {
    if (tag.rfind("garbage", 0) != 0) expected.push_back(tag);
  }
  EXPECT_THAT(Sorted(ctx->emitted), ElementsAreArray(Sorted(expected)));
  EXPECT_EQ(h.runtime().Count("numSkippedRecords"), 2);
}

TEST(KafkaSourceTest, UnreachableBrokersFailWithinTheMetadataTimeoutNamingThem) {
  // A port nobody listens on: bind, note it, close.
  std::string servers;
  {
    MockCluster gone;
    servers = gone.bootstrap_servers();
  }
  auto source = eddy::connectors::KafkaSource<std::string>::builder()
                    .setBootstrapServers(servers)
                    .setTopics({"t"})
                    .setDeserializer(TagRecord)
                    .setMetadataTimeout(std::chrono::milliseconds(1500))
                    .build();
  const auto start = Clock::now();
  try {
    SourceHarness h(source, 0, 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(servers));
    EXPECT_THAT(e.what(), HasSubstr("1500 ms"));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(8));
}

TEST(KafkaSourceTest, MissingTopicIsNamed) {
  MockCluster cluster;
  auto source = SourceBuilder(cluster, "no-such-topic").setMetadataTimeout(std::chrono::milliseconds(800)).build();
  try {
    SourceHarness h(source, 0, 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("topic 'no-such-topic'"));
  }
}

// ---------------------------------------------------------------------------
// Sink harness and tests.

// One sink subtask, opened like a task opens it; destroying it without
// Close() is a crash.
template <class T>
using SinkHarness = eddy::testing::FunctionHarness<eddy::connectors::KafkaSink<T>>;

std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t v = begin; v < end; ++v) out.push_back(v);
  return out;
}

std::vector<std::string> Strings(const std::vector<int64_t>& values) {
  std::vector<std::string> out;
  for (int64_t v : values) out.push_back(std::to_string(v));
  return out;
}

std::vector<std::string> Values(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.value);
  return out;
}

eddy::connectors::KafkaSink<int64_t> NumberSink(const MockCluster& cluster, eddy::connectors::DeliveryGuarantee guarantee,
                                    const std::string& prefix = "") {
  return eddy::connectors::KafkaSink<int64_t>::builder()
      .setBootstrapServers(cluster.bootstrap_servers())
      .setTopic("out")
      .setValueSerializer([](const int64_t& v) { return std::to_string(v); })
      .setDeliveryGuarantee(guarantee)
      .setTransactionalIdPrefix(prefix)
      .setTimeout(std::chrono::seconds(10))
      .build();
}

TEST(KafkaSinkTest, AtLeastOnceHasEveryRecordAcknowledgedWhenTheCheckpointIsTaken) {
  MockCluster cluster;
  cluster.CreateTopic("out", 3);
  // Keys pick partitions; multiples of 10 go to partition 2 explicitly.
  auto sink = eddy::connectors::KafkaSink<int64_t>::builder()
                  .setBootstrapServers(cluster.bootstrap_servers())
                  .setTopic("out")
                  .setRecordSerializer([](const int64_t& v) {
                    eddy::connectors::KafkaProducerRecord r;
                    r.key = "k" + std::to_string(v % 5);
                    r.value = std::to_string(v);
                    if (v % 10 == 0) r.partition = 2;
                    return r;
                  })
                  .setDeliveryGuarantee(eddy::connectors::DeliveryGuarantee::AT_LEAST_ONCE)
                  .build();
  SinkHarness<int64_t> s0(sink, 0, 2), s1(sink, 1, 2);
  s0.Write(Range(0, 300));
  s1.Write(Range(300, 500));
  s0.Checkpoint(1);
  s1.Checkpoint(1);
  // No waiting: the snapshot returned only once every record was acknowledged.
  EXPECT_THAT(Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out")),
              UnorderedElementsAreArray(Strings(Range(0, 500))));
  s0.Complete(1);
  s1.Complete(1);
  s0.Write(Range(500, 700));
  s1.Write(Range(700, 800));
  for (auto* s : {&s0, &s1}) {
    s->Finish();
    s->Close();
  }
  const std::vector<Record> out = eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out");
  EXPECT_THAT(Values(out), UnorderedElementsAreArray(Strings(Range(0, 800))));
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const Record& r : out) {
    const int64_t v = std::stoll(r.value);
    ASSERT_EQ(r.key, "k" + std::to_string(v % 5));
    if (v % 10 == 0) {
      EXPECT_EQ(r.partition, 2) << v;
    } else {
      partitions_of_key[*r.key].insert(r.partition);
    }
  }
  for (const auto& [key, partitions] : partitions_of_key) EXPECT_EQ(partitions.size(), 1u) << key;
}

TEST(KafkaSinkTest, ExactlyOnceCommitsEachCheckpointsTransaction) {
  MockCluster cluster;
  cluster.CreateTopic("out", 2);
  auto sink = NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, "eo-basic");
  SinkHarness<int64_t> h(sink, 0, 1);
  h.Write(Range(0, 50));
  // Records are produced when the checkpoint pre-commits them.
  EXPECT_TRUE(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out").empty());
  h.Checkpoint(1);
  h.Write(Range(50, 80));
  h.Complete(1);
  EXPECT_THAT(Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out")),
              UnorderedElementsAreArray(Strings(Range(0, 50))));
  h.Checkpoint(2);
  h.Write(Range(80, 100));
  h.Finish();
  h.Checkpoint(3);
  h.Complete(3);  // commits 2 and 3
  h.Close();
  EXPECT_THAT(Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out")),
              UnorderedElementsAreArray(Strings(Range(0, 100))));
}

TEST(KafkaSinkTest, ExactlyOnceWithoutCheckpointsCommitsAtTheEnd) {
  MockCluster cluster;
  cluster.CreateTopic("out", 1);
  auto sink = NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, "eo-end");
  SinkHarness<int64_t> h(sink, 0, 1);
  h.Write(Range(0, 64));
  h.Finish();
  h.Close();
  EXPECT_THAT(Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out")),
              ElementsAreArray(Strings(Range(0, 64))));
}

TEST(KafkaSinkTest, RestoreWritesThePendingTransactionAgainWhenItsMarkerIsMissing) {
  MockCluster cluster;
  cluster.CreateTopic("out", 1);
  auto sink = NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, "eo-recover");
  auto crashed = std::make_unique<SinkHarness<int64_t>>(sink, 0, 1);
  crashed->Write(Range(0, 40));
  const Snapshot cp1 = crashed->Checkpoint(1);
  crashed->Write(Range(40, 45));  // lost with the crash, replayed by the source
  crashed.reset();                // checkpoint 1 completed, the sink never heard of it

  SinkHarness<int64_t> restored(sink, 0, 1, &cp1);
  // Transaction eo-recover-0-1 was never committed, so its marker is missing
  // and recovery wrote its records again in a committed transaction. The log
  // holds the crashed producer's copy first: a real broker aborted it when the
  // id was registered again and hides it from read_committed readers; the
  // mock keeps it visible.
  const std::vector<std::string> r1 = Strings(Range(0, 40));
  std::vector<std::string> both = r1;
  both.insert(both.end(), r1.begin(), r1.end());
  EXPECT_THAT(Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out")), ElementsAreArray(both));

  restored.Write(Range(40, 60));
  restored.Finish();
  restored.Checkpoint(2);
  restored.Complete(2);
  restored.Close();
  const std::vector<std::string> all = Values(eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), "out"));
  ASSERT_EQ(all.size(), 100u);
  EXPECT_THAT(std::vector<std::string>(all.begin() + 80, all.end()), ElementsAreArray(Strings(Range(40, 60))));
}

// Fencing needs a cluster that fences: the mock hands a re-registered
// transactional id a new producer id and lets the old producer commit. These
// tests probe for it and say so when they cannot run.
#define SKIP_UNLESS_FENCING(cluster)                                                                       \
  if (!eddy::connectors::kafka_testing::FencesReplacedProducers((cluster).bootstrap_servers(), "out"))                \
  GTEST_SKIP() << "this Kafka cluster (librdkafka's mock) does not fence producers whose transactional id " \
                  "was registered again"

TEST(KafkaSinkTest, RestoreFencesTheOldProducer) {
  MockCluster cluster;
  cluster.CreateTopic("out", 1);
  SKIP_UNLESS_FENCING(cluster);
  auto sink = NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, "eo-fence");
  SinkHarness<int64_t> old_instance(sink, 0, 1);
  old_instance.Write(Range(0, 40));
  const Snapshot cp1 = old_instance.Checkpoint(1);
  SinkHarness<int64_t> restored(sink, 0, 1, &cp1);  // while the old one still runs
  try {
    old_instance.Complete(1);
    FAIL() << "the old producer's commit must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("commit_transaction of transaction eo-fence-0-1"));
    EXPECT_THAT(e.what(), HasSubstr("fenced"));
  }
  restored.Close();
}

TEST(KafkaSinkTest, RestoreAbortsTransactionsLaterCheckpointsLeftOpen) {
  MockCluster cluster;
  cluster.CreateTopic("out", 1);
  SKIP_UNLESS_FENCING(cluster);
  auto sink = NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, "eo-linger");
  SinkHarness<int64_t> zombie(sink, 0, 1);
  zombie.Write(Range(0, 10));
  const Snapshot cp1 = zombie.Checkpoint(1);
  zombie.Complete(1);
  zombie.Write(Range(10, 20));
  zombie.Checkpoint(2);  // transaction eo-linger-0-2 is open; checkpoint 2 never completes

  // Restoring checkpoint 1 registers eo-linger-0-2 again, which aborts it.
  SinkHarness<int64_t> restored(sink, 0, 1, &cp1);
  try {
    zombie.Complete(2);
    FAIL() << "the lingering transaction must have been aborted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("transaction eo-linger-0-2"));
    EXPECT_THAT(e.what(), HasSubstr("fenced"));
  }
  restored.Close();
}

TEST(KafkaSinkTest, ARecordWithoutTopicNeedsADefaultTopic) {
  MockCluster cluster;
  auto sink = eddy::connectors::KafkaSink<int64_t>::builder()
                  .setBootstrapServers(cluster.bootstrap_servers())
                  .setValueSerializer([](const int64_t& v) { return std::to_string(v); })
                  .build();
  SinkHarness<int64_t> h(sink, 0, 1);
  try {
    h.Write({1});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("no default topic"));
  }
  h.Close();
  EXPECT_THROW(NumberSink(cluster, eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE, ""), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// A whole job on the embedded cluster: Kafka -> keyed running sum -> Kafka.

TEST(KafkaJobTest, KeyedSumFromKafkaToKafka) {
  MockCluster cluster;
  cluster.CreateTopic("numbers", 3);
  cluster.CreateTopic("sums", 2);
  // Key k<j> lives in input partition j % 3, so its values arrive in order.
  constexpr int kKeys = 7;
  constexpr int kRecords = 3000;
  std::vector<Record> input;
  std::map<std::string, std::vector<int64_t>> prefix_sums;  // the reference
  std::map<std::string, int64_t> totals;
  for (int i = 0; i < kRecords; ++i) {
    Record r;
    r.topic = "numbers";
    r.partition = (i % kKeys) % 3;
    r.key = "k" + std::to_string(i % kKeys);
    r.value = std::to_string(i * 3 + 1);
    totals[*r.key] += i * 3 + 1;
    prefix_sums[*r.key].push_back(totals[*r.key]);
    input.push_back(std::move(r));
  }
  eddy::connectors::kafka_testing::Produce(cluster.bootstrap_servers(), input);

  for (const bool checkpoints : {false, true}) {
    SCOPED_TRACE(checkpoints ? "with checkpoints, exactly-once" : "without checkpoints, exactly-once");
    const std::string out_topic = checkpoints ? "sums-checkpointed" : "sums";
    if (checkpoints) cluster.CreateTopic(out_topic, 2);
    using KV = std::pair<std::string, int64_t>;
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(2);
    if (checkpoints) env.enableCheckpointing(50);
    auto source = eddy::connectors::KafkaSource<KV>::builder()
                      .setBootstrapServers(cluster.bootstrap_servers())
                      .setTopics({"numbers"})
                      .setDeserializer([](const eddy::connectors::KafkaRecord& r) {
                        return KV(std::string(r.key), std::stoll(std::string(r.value)));
                      })
                      .setBounded()
                      .build();
    auto sink = eddy::connectors::KafkaSink<KV>::builder()
                    .setBootstrapServers(cluster.bootstrap_servers())
                    .setTopic(out_topic)
                    .setRecordSerializer([](const KV& kv) {
                      eddy::connectors::KafkaProducerRecord r;
                      r.key = kv.first;
                      r.value = std::to_string(kv.second);
                      return r;
                    })
                    .setDeliveryGuarantee(eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE)
                    .setTransactionalIdPrefix("sum-job-" + out_topic)
                    .build();
    env.addSource(source, "numbers")
        .keyBy([](const KV& kv) { return kv.first; })
        .sum(1)
        .addSink(sink, "sums");
    env.execute("kafka-keyed-sum");

    // Per key, in log order: the running sums of its values in input order.
    std::map<std::string, std::vector<int64_t>> got;
    for (const Record& r : eddy::connectors::kafka_testing::ReadAll(cluster.bootstrap_servers(), out_topic)) {
      got[r.key.value_or("")].push_back(std::stoll(r.value));
    }
    EXPECT_EQ(got, prefix_sums);
  }
}

}  // namespace
