// The PostgreSQL connectors against a real server started for this binary
// (postgres_test_server.h). Sinks and the source are driven directly the way a
// task drives them (runtime context, initializeState, open, records,
// snapshotState, notifyCheckpointComplete, finish, close; a crash is the
// function destroyed without close(), a restore a new instance given the
// operator state of a snapshot, redistributed as the runtime does) and run in
// real jobs on the embedded cluster. Every check compares what the table holds,
// read back with plain libpq, with rows computed here by loops.
#include "eddy/connectors/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_test_server.h"
#include "api/testing/function_harness.h"
#include "eddy/checkpoint.h"
#include "eddy/eddy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using Snapshot = eddy::testing::OperatorStateSnapshot;
using eddy::testing::Redistribute;
using Row = std::vector<std::string>;  // NULL read back as "NULL"

eddy::testing::PostgresTestServer* server = nullptr;

// One server for the whole binary; every test uses tables of its own.
class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server_ = std::make_unique<eddy::testing::PostgresTestServer>();
    server = server_.get();
  }
  void TearDown() override {
    server = nullptr;
    server_.reset();
  }

 private:
  std::unique_ptr<eddy::testing::PostgresTestServer> server_;
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

// Plain libpq, independent of the connector: setup and reading results back.
std::vector<Row> Sql(const std::string& sql) {
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(server->port()) + " dbname=postgres user=" + server->kUser;
  PGconn* connection = PQconnectdb(conninfo.c_str());
  std::vector<Row> rows;
  if (PQstatus(connection) != CONNECTION_OK) {
    ADD_FAILURE() << "connect: " << PQerrorMessage(connection);
    PQfinish(connection);
    return rows;
  }
  PGresult* result = PQexec(connection, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
  } else {
    for (int r = 0; r < PQntuples(result); ++r) {
      Row row;
      for (int c = 0; c < PQnfields(result); ++c) {
        row.push_back(PQgetisnull(result, r, c) ? "NULL" : PQgetvalue(result, r, c));
      }
      rows.push_back(std::move(row));
    }
  }
  PQclear(result);
  PQfinish(connection);
  return rows;
}
int64_t Count(const std::string& sql) { return std::stoll(Sql(sql).at(0).at(0)); }
int64_t PreparedTransactions() { return Count("SELECT count(*) FROM pg_prepared_xacts"); }

// ---- Driving functions as a task does ----

// A sink subtask driven as a task drives it; destroying it without Close() is a crash.
template <class F>
using SinkHarness = eddy::testing::FunctionHarness<F>;

std::string TestTable() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return "t_" + name;
}

// ---- PostgresUpsertSink ----

using KeyedValue = std::pair<std::string, int64_t>;

eddy::connectors::PostgresUpsertSink<KeyedValue> UpsertSink(const std::string& table, int batch_size) {
  return eddy::connectors::PostgresUpsertSink<KeyedValue>(
      server->options(), table, {"k", "total"}, {"k"},
      [](const KeyedValue& v) {
        return eddy::connectors::PostgresRow{v.first, std::to_string(v.second)};
      },
      batch_size);
}

std::vector<KeyedValue> KeyedInput(int n, int keys) {
  std::vector<KeyedValue> input;
  for (int i = 0; i < n; ++i) input.emplace_back("k" + std::to_string(i * 7 % keys), (i * 37) % 101 - 50);
  return input;
}

std::vector<Row> SumsByKey(const std::vector<KeyedValue>& input) {
  std::map<std::string, int64_t> sums;
  for (const auto& [key, value] : input) sums[key] += value;
  std::vector<Row> rows;
  for (const auto& [key, sum] : sums) rows.push_back({key, std::to_string(sum)});
  return rows;
}

void RunKeyedSumJob(const std::vector<KeyedValue>& input, const std::string& table) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.enableCheckpointing(20);
  env.fromCollection(input)
      .map([](const KeyedValue& v) {
        if (v.second == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let checkpoints happen
        return v;
      })
      .keyBy([](const KeyedValue& v) { return v.first; })
      .sum(1)
      .addSink(UpsertSink(table, 64), "postgres-upsert");
  env.execute("postgres-upsert-sums");
}

TEST(PostgresUpsertSinkTest, KeyedSumsOfAJobEqualTheReferenceAndAReplayChangesNothing) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (k text PRIMARY KEY, total bigint NOT NULL)");
  const std::vector<KeyedValue> input = KeyedInput(4000, 53);
  const std::vector<Row> expected = SumsByKey(input);

  RunKeyedSumJob(input, table);
  EXPECT_EQ(Sql("SELECT k, total FROM " + table + " ORDER BY k"), expected);

  RunKeyedSumJob(input, table);  // the same input again, as a restore replays it
  EXPECT_EQ(Sql("SELECT k, total FROM " + table + " ORDER BY k"), expected);
}

TEST(PostgresUpsertSinkTest, TheLastValueOfAKeyInABatchWinsAndNullsAreWritten) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (a int, b text, v text, PRIMARY KEY (a, b))");
  using Record = std::tuple<int, std::string, std::optional<std::string>>;
  eddy::connectors::PostgresUpsertSink<Record> sink(
      server->options(), table, {"a", "b", "v"}, {"a", "b"},
      [](const Record& r) {
        return eddy::connectors::PostgresRow{std::to_string(std::get<0>(r)), std::get<1>(r), std::get<2>(r)};
      },
      /*batch_size=*/1000);
  SinkHarness<eddy::connectors::PostgresUpsertSink<Record>> harness(std::move(sink), 0, 1);
  std::vector<Record> records;
  std::map<std::pair<int, std::string>, std::string> last;  // the reference
  for (int i = 0; i < 3000; ++i) {
    const int a = i % 17;
    const std::string b = i % 3 == 0 ? "x" : "y";
    std::optional<std::string> v;
    if (i % 5 != 0) v = "v" + std::to_string(i);
    records.emplace_back(a, b, v);
    last[{a, b}] = v.value_or("NULL");
  }
  harness.Write(records);  // one batch: every key repeats inside it
  EXPECT_EQ(Count("SELECT count(*) FROM " + table), 0) << "nothing is written before the batch is full or flushed";
  harness.Checkpoint(1);
  std::vector<Row> expected;
  for (const auto& [key, v] : last) expected.push_back({std::to_string(key.first), key.second, v});
  EXPECT_EQ(Sql("SELECT a, b, v FROM " + table + " ORDER BY a, b"), expected);
  EXPECT_EQ(harness.runtime().Count("numRowsWritten"), static_cast<int64_t>(last.size()))
      << "one row per distinct key of the batch";
  harness.Close();
}

// ---- PostgresExactlyOnceSink ----

eddy::connectors::PostgresExactlyOnceSink<int64_t> AppendSink(const std::string& table, const std::string& prefix,
                                                  int batch_size = 16) {
  return eddy::connectors::PostgresExactlyOnceSink<int64_t>(
      server->options(), table, {"v"}, prefix, [](const int64_t& v) { return eddy::connectors::PostgresRow{std::to_string(v)}; },
      batch_size);
}
using AppendHarness = SinkHarness<eddy::connectors::PostgresExactlyOnceSink<int64_t>>;

std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = begin; i < end; ++i) out.push_back(i);
  return out;
}
// Each value once, as rows of the ORDER BY v query.
std::vector<Row> Values(std::vector<std::vector<int64_t>> parts) {
  std::vector<int64_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end());
  std::vector<Row> rows;
  for (int64_t v : all) rows.push_back({std::to_string(v)});
  return rows;
}
std::vector<Row> TableValues(const std::string& table) { return Sql("SELECT v FROM " + table + " ORDER BY v"); }

TEST(PostgresExactlyOnceSinkTest, CrashBetweenPreCommitAndCommitWithTwoUncompletedCheckpoints) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (v bigint NOT NULL)");
  const auto a = Range(0, 100), b = Range(100, 150), c = Range(150, 210), d = Range(210, 260), e = Range(260, 300);

  auto sink = std::make_unique<AppendHarness>(AppendSink(table, "crash"), 0, 1);
  sink->Write(a);
  sink->Checkpoint(1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + table), 0) << "prepared rows are invisible";
  sink->Complete(1);
  EXPECT_EQ(TableValues(table), Values({a}));
  EXPECT_EQ(sink->runtime().Count("numRowsWritten"), 100);

  sink->Write(b);
  const Snapshot cp2 = sink->Checkpoint(2);  // completes, but the notice never arrives
  sink->Write(c);
  sink->Checkpoint(3);  // prepared, then times out
  sink->Write(d);
  sink->Checkpoint(4);  // prepared, never completes
  sink->Write(e);       // in the open transaction
  EXPECT_EQ(PreparedTransactions(), 3);
  sink.reset();  // crash
  EXPECT_EQ(TableValues(table), Values({a}));
  EXPECT_EQ(PreparedTransactions(), 3);

  // Restore from checkpoint 2: its transaction (b) is committed, those of 3
  // and 4 (c, d) are rolled back and replayed by the sources.
  sink = std::make_unique<AppendHarness>(AppendSink(table, "crash"), 0, 1, &cp2);
  EXPECT_EQ(TableValues(table), Values({a, b}));
  EXPECT_EQ(PreparedTransactions(), 0);

  // A second crash before any checkpoint, and a restore from 2 again: b is
  // committed already, nothing happens twice.
  sink->Write(c);
  sink.reset();
  sink = std::make_unique<AppendHarness>(AppendSink(table, "crash"), 0, 1, &cp2);
  EXPECT_EQ(TableValues(table), Values({a, b}));

  sink->Write(c);
  sink->Checkpoint(3);  // the id of a rolled-back transaction, reused
  sink->Write(d);
  sink->Write(e);
  sink->FinishAndClose(4);
  EXPECT_EQ(TableValues(table), Values({a, b, c, d, e}));
  EXPECT_EQ(PreparedTransactions(), 0);
}

// Two subtasks crash with checkpoint 2 completed but not notified and 3 only
// prepared; the job restores at another parallelism, the new subtasks
// recovering at the same time.
void CrashAndRescale(const std::string& table, int new_parallelism) {
  Sql("CREATE TABLE " + table + " (v bigint NOT NULL)");
  const std::string prefix = "rescale-" + std::to_string(new_parallelism);
  const auto s0_done = Range(0, 40), s0_pending = Range(40, 90), s0_lost = Range(90, 130);
  const auto s1_done = Range(1000, 1030), s1_pending = Range(1030, 1031), s1_lost = Range(1031, 1100);
  std::vector<std::unique_ptr<AppendHarness>> old;
  for (int i = 0; i < 2; ++i) old.push_back(std::make_unique<AppendHarness>(AppendSink(table, prefix), i, 2));
  old[0]->Write(s0_done);
  old[1]->Write(s1_done);
  for (auto& s : old) s->Checkpoint(1);
  for (auto& s : old) s->Complete(1);
  old[0]->Write(s0_pending);
  old[1]->Write(s1_pending);
  std::vector<Snapshot> cp2;
  for (auto& s : old) cp2.push_back(s->Checkpoint(2));
  old[0]->Write(s0_lost);
  old[1]->Write(s1_lost);
  for (auto& s : old) s->Checkpoint(3);
  EXPECT_EQ(PreparedTransactions(), 4);
  old.clear();  // crash

  const std::vector<Snapshot> restored = Redistribute(cp2, new_parallelism);
  std::vector<std::unique_ptr<AppendHarness>> sinks(static_cast<size_t>(new_parallelism));
  std::vector<std::thread> recovering;
  for (int i = 0; i < new_parallelism; ++i) {
    recovering.emplace_back([&, i] {
      sinks[static_cast<size_t>(i)] = std::make_unique<AppendHarness>(AppendSink(table, prefix), i, new_parallelism,
                                                                      &restored[static_cast<size_t>(i)]);
    });
  }
  for (auto& t : recovering) t.join();
  EXPECT_EQ(TableValues(table), Values({s0_done, s0_pending, s1_done, s1_pending}));
  EXPECT_EQ(PreparedTransactions(), 0);

  // The replay, spread over the new subtasks, then the end of the input.
  std::vector<int64_t> replay = s0_lost;
  replay.insert(replay.end(), s1_lost.begin(), s1_lost.end());
  for (size_t i = 0; i < replay.size(); ++i) sinks[i % sinks.size()]->Write(std::vector<int64_t>{replay[i]});
  for (auto& s : sinks) s->FinishAndClose(3);
  EXPECT_EQ(TableValues(table), Values({s0_done, s0_pending, s0_lost, s1_done, s1_pending, s1_lost}));
  EXPECT_EQ(PreparedTransactions(), 0);
}

TEST(PostgresExactlyOnceSinkTest, RestoreFromTwoSubtasksToThree) { CrashAndRescale(TestTable(), 3); }
TEST(PostgresExactlyOnceSinkTest, RestoreFromTwoSubtasksToOne) { CrashAndRescale(TestTable(), 1); }

TEST(PostgresExactlyOnceSinkTest, AJobWithCheckpointsWritesEveryRecordOnce) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (v bigint NOT NULL)");
  constexpr int64_t kRecords = 5000;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.enableCheckpointing(20);
  env.fromSequence(0, kRecords - 1)
      .map([](const int64_t& v) {
        if (v % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // several checkpoints
        return v;
      })
      .rebalance()
      .addSink(AppendSink(table, "job", 100), "postgres-exactly-once");
  env.execute("postgres-exactly-once");
  EXPECT_EQ(TableValues(table), Values({Range(0, kRecords)}));
  EXPECT_EQ(PreparedTransactions(), 0);
}

TEST(PostgresExactlyOnceSinkTest, AJobWithoutCheckpointsCommitsAtTheEnd) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (v bigint NOT NULL)");
  constexpr int64_t kRecords = 3000;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, kRecords - 1).rebalance().addSink(AppendSink(table, "nocp", 100), "postgres-exactly-once");
  env.execute("postgres-exactly-once-no-checkpoints");
  EXPECT_EQ(TableValues(table), Values({Range(0, kRecords)}));
  EXPECT_EQ(PreparedTransactions(), 0);
}

// ---- PostgresTableSource ----

using SourceRow = std::tuple<std::optional<int64_t>, std::string>;

// Rows (id, name) with ids spread unevenly, some NULL, and duplicates.
std::vector<SourceRow> SourceRows(int n) {
  std::vector<SourceRow> rows;
  for (int i = 0; i < n; ++i) {
    std::optional<int64_t> id;
    if (i % 97 != 0) id = (static_cast<int64_t>(i) * i) % 20011 - 300;
    rows.emplace_back(id, "name-" + std::to_string(i % 1000));
  }
  return rows;
}

void CreateSourceTable(const std::string& table, const std::vector<SourceRow>& rows) {
  Sql("CREATE TABLE " + table + " (id bigint, name text NOT NULL)");
  std::string insert = "INSERT INTO " + table + " VALUES ";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [id, name] = rows[i];
    insert += (i == 0 ? "(" : ", (") + (id ? std::to_string(*id) : "NULL") + ", '" + name + "')";
  }
  Sql(insert);
}

eddy::connectors::PostgresTableSource<SourceRow> Source(const std::string& table, int splits) {
  eddy::connectors::PostgresTableSource<SourceRow> source(server->options(), table, {"id", "name"}, [](const eddy::connectors::PostgresRow& r) {
    return SourceRow(r[0] ? std::optional<int64_t>(std::stoll(*r[0])) : std::nullopt, *r[1]);
  });
  if (splits > 1) source.partitionColumn("id", splits);
  return source;
}

struct SubtaskRun {
  std::vector<SourceRow> emitted;  // before the checkpoint, or all
  Snapshot snapshot;               // after run() if it ended before the checkpoint
};

SubtaskRun RunSource(eddy::connectors::PostgresTableSource<SourceRow> source, int subtask, int parallelism,
                     const Snapshot* restored, int64_t checkpoint_at) {
  eddy::testing::FunctionHarness<eddy::connectors::PostgresTableSource<SourceRow>> harness(
      std::move(source), subtask, parallelism, restored);
  std::optional<Snapshot> snapshot;
  bool stopped = false;
  std::vector<SourceRow> before;
  int64_t after = 0;
  struct Context final : eddy::SourceFunction<SourceRow>::SourceContext {
    std::function<void(const SourceRow&)> on_collect;
    std::function<bool()> running;
    void collect(const SourceRow& value) override { on_collect(value); }
    void collectWithTimestamp(const SourceRow& value, int64_t) override { on_collect(value); }
    void flush() override {}
    bool isRunning() const override { return running(); }
  } ctx;
  auto take_snapshot = [&] { snapshot = harness.Checkpoint(1); };
  ctx.on_collect = [&](const SourceRow& value) {
    if (!snapshot && checkpoint_at >= 0 && static_cast<int64_t>(before.size()) == checkpoint_at) take_snapshot();
    if (snapshot) {
      if (++after >= 5) stopped = true;  // records after the checkpoint are lost with the failure
      return;
    }
    before.push_back(value);
  };
  ctx.running = [&] { return !stopped; };
  harness.function().run(ctx);
  if (!snapshot) take_snapshot();  // finished before the barrier
  harness.Close();
  return SubtaskRun{before, *snapshot};
}

std::vector<SourceRow> Sorted(std::vector<SourceRow> rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(PostgresTableSourceTest, ReadsEveryRowOnceAtParallelismOneAndThree) {
  const std::string table = TestTable();
  const std::vector<SourceRow> rows = SourceRows(5000);
  CreateSourceTable(table, rows);
  for (const auto& [parallelism, splits] : std::vector<std::pair<int, int>>{{1, 1}, {1, 4}, {3, 1}, {3, 7}}) {
    std::vector<SourceRow> emitted;
    size_t nonempty_subtasks = 0;
    for (int i = 0; i < parallelism; ++i) {
      SubtaskRun run = RunSource(Source(table, splits), i, parallelism, nullptr, -1);
      nonempty_subtasks += !run.emitted.empty();
      emitted.insert(emitted.end(), run.emitted.begin(), run.emitted.end());
    }
    EXPECT_EQ(Sorted(emitted), Sorted(rows)) << "parallelism " << parallelism << ", " << splits << " splits";
    EXPECT_EQ(nonempty_subtasks, static_cast<size_t>(splits > 1 ? parallelism : 1));
  }
}

TEST(PostgresTableSourceTest, ARestoreAtAnotherParallelismLosesAndRepeatsNothing) {
  const std::string table = TestTable();
  const std::vector<SourceRow> rows = SourceRows(4000);
  CreateSourceTable(table, rows);
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{{2, 3}, {3, 1}}) {
    std::vector<SourceRow> emitted;
    std::vector<Snapshot> snapshots;
    for (int i = 0; i < from; ++i) {
      // Checkpoints inside the first split, at a later one, and mid-way.
      SubtaskRun run = RunSource(Source(table, 5), i, from, nullptr, std::vector<int64_t>{100, 1500, 700}[i]);
      emitted.insert(emitted.end(), run.emitted.begin(), run.emitted.end());
      snapshots.push_back(run.snapshot);
    }
    ASSERT_LT(emitted.size(), rows.size());
    const std::vector<Snapshot> restored = Redistribute(snapshots, to);
    for (int i = 0; i < to; ++i) {
      SubtaskRun run = RunSource(Source(table, 5), i, to, &restored[static_cast<size_t>(i)], -1);
      emitted.insert(emitted.end(), run.emitted.begin(), run.emitted.end());
    }
    EXPECT_EQ(Sorted(emitted), Sorted(rows)) << "restored from " << from << " subtasks to " << to;
  }
}

TEST(PostgresTableSourceTest, AFilterAndNarrowBoundsKeepEveryMatchingRow) {
  const std::string table = TestTable();
  const std::vector<SourceRow> rows = SourceRows(3000);
  CreateSourceTable(table, rows);
  std::vector<SourceRow> expected;  // name-<n> with n below 500, NULL ids included
  for (const SourceRow& row : rows) {
    if (std::stoi(std::get<1>(row).substr(5)) < 500) expected.push_back(row);
  }
  std::vector<SourceRow> emitted;
  for (int i = 0; i < 2; ++i) {
    // Bounds far inside the ids' range: what lies outside belongs to the outer splits.
    auto source = Source(table, 4);
    source.where("substr(name, 6)::int < 500").partitionBounds(1000, 2000).orderBy({"name", "id"});
    SubtaskRun run = RunSource(std::move(source), i, 2, nullptr, -1);
    emitted.insert(emitted.end(), run.emitted.begin(), run.emitted.end());
  }
  EXPECT_EQ(Sorted(emitted), Sorted(expected));
}

TEST(PostgresTableSourceTest, AJobCopiesATableIntoTheExactlyOnceSink) {
  const std::string table = TestTable();
  std::vector<int64_t> values;
  for (int64_t i = 0; i < 3000; ++i) values.push_back(i * 3 % 3001);
  Sql("CREATE TABLE " + table + " (v bigint)");
  Sql("INSERT INTO " + table + " SELECT (i * 3) % 3001 FROM generate_series(0, 2999) AS i");
  Sql("CREATE TABLE " + table + "_copy (v bigint NOT NULL)");
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(3);
  env.enableCheckpointing(20);
  env.addSource(eddy::connectors::PostgresTableSource<int64_t>(server->options(), table, {"v"},
                                                   [](const eddy::connectors::PostgresRow& r) { return std::stoll(*r[0]); })
                    .partitionColumn("v", 6))
      .rebalance()
      .addSink(AppendSink(table + "_copy", "copy", 50), "copy");
  env.execute("postgres-copy");
  EXPECT_EQ(TableValues(table + "_copy"), Values({values}));
  EXPECT_EQ(PreparedTransactions(), 0);
}

// ---- Bad input ----

TEST(PostgresBadInputTest, AMissingTableIsNamed) {
  const std::string table = "no_such_table";
  auto expect_missing = [&](const std::function<void()>& start, const char* what) {
    try {
      start();
      ADD_FAILURE() << what << " started on a missing table";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("table 'no_such_table' does not exist")) << what;
      EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server->port()) + "/postgres")) << what;
    }
  };
  expect_missing([&] { SinkHarness<eddy::connectors::PostgresUpsertSink<KeyedValue>> h(UpsertSink(table, 10), 0, 1); },
                 "upsert sink");
  expect_missing([&] { AppendHarness h(AppendSink(table, "missing"), 0, 1); }, "exactly-once sink");
  expect_missing([&] { RunSource(Source(table, 3), 0, 1, nullptr, -1); }, "table source");
}

TEST(PostgresBadInputTest, AnUnreachablePortFailsInBoundedTime) {
  eddy::connectors::PostgresConnectionOptions options = server->options();
  // A port nobody listens on: bind one, note it, release it.
  options.port = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return static_cast<int>(ntohs(address.sin_port));
  }();
  options.connect_attempts = 3;
  options.connect_backoff = std::chrono::milliseconds(50);
  const auto start = std::chrono::steady_clock::now();
  try {
    eddy::connectors::PostgresUpsertSink<KeyedValue> sink(options, "t", {"k", "total"}, {"k"},
                                              [](const KeyedValue& v) { return eddy::connectors::PostgresRow{v.first}; });
    SinkHarness<eddy::connectors::PostgresUpsertSink<KeyedValue>> h(std::move(sink), 0, 1);
    ADD_FAILURE() << "connected to a closed port";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(options.port) + "/postgres"));
    EXPECT_THAT(e.what(), HasSubstr("after 3 attempt(s)"));
    EXPECT_THAT(e.what(), HasSubstr("Connection refused"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(PostgresBadInputTest, SqlErrorsNameTheStatementAndTheTable) {
  const std::string table = TestTable();
  Sql("CREATE TABLE " + table + " (k text PRIMARY KEY, total bigint NOT NULL)");
  SinkHarness<eddy::connectors::PostgresUpsertSink<KeyedValue>> h(
      eddy::connectors::PostgresUpsertSink<KeyedValue>(
          server->options(), table, {"k", "total"}, {"k"},
          [](const KeyedValue& v) {
            return eddy::connectors::PostgresRow{v.first, std::nullopt};  // violates NOT NULL
          },
          10),
      0, 1);
  h.Write(std::vector<KeyedValue>{{"a", 1}});
  try {
    h.Checkpoint(1);
    ADD_FAILURE() << "a NULL went into a NOT NULL column";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("upsert"));
    EXPECT_THAT(e.what(), HasSubstr("table '" + table + "'"));
    EXPECT_THAT(e.what(), HasSubstr("not-null constraint"));
  }
  // Rows of the wrong width and key columns that are not columns are refused before any SQL.
  SinkHarness<eddy::connectors::PostgresUpsertSink<KeyedValue>> narrow(
      eddy::connectors::PostgresUpsertSink<KeyedValue>(server->options(), table, {"k", "total"}, {"k"},
                                           [](const KeyedValue& v) { return eddy::connectors::PostgresRow{v.first}; }),
      0, 1);
  try {
    narrow.Write(std::vector<KeyedValue>{{"b", 2}});
    ADD_FAILURE() << "a row of one value went into two columns";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("table '" + table + "': a row has 1 values for 2 columns (k, total)"));
  }
  try {
    SinkHarness<eddy::connectors::PostgresUpsertSink<KeyedValue>> wrong_key(
        eddy::connectors::PostgresUpsertSink<KeyedValue>(server->options(), table, {"k", "total"}, {"key"},
                                             [](const KeyedValue& v) { return eddy::connectors::PostgresRow{v.first}; }),
        0, 1);
    ADD_FAILURE() << "a key column that is not a column was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("key column 'key' is not one of the columns (k, total)"));
  }
  EXPECT_THROW(AppendSink(table, "bad'prefix"), std::runtime_error);
}

}  // namespace
