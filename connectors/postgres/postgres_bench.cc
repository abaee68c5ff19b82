// Upsert throughput: PostgresUpsertSink (batched, with per-batch key
// deduplication) against a plain libpq loop sending the same multi-row
// INSERT ... ON CONFLICT statements through one prepared statement, in the same
// run on the same throw-away server. Each side runs twice, alternating, into a
// truncated table; the better run counts.
//
//   postgres_bench [rows] [keys] [batch_size]
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "connectors/postgres/postgres_test_server.h"
#include "eddy/connectors/postgres.h"

namespace {

using Record = std::pair<int64_t, int64_t>;  // key, value
constexpr const char* kTable = "bench_upsert";

class BenchRuntimeContext : public eddy::RuntimeContext {
 public:
  const std::string& getTaskName() const override { return name_; }
  const std::string& getJobId() const override { return name_; }
  int getIndexOfThisSubtask() const override { return 0; }
  int getNumberOfParallelSubtasks() const override { return 1; }
  int getMaxNumberOfParallelSubtasks() const override { return 128; }
  int getAttemptNumber() const override { return 0; }
  eddy::MetricGroup& getMetricGroup() override { return metrics_; }

 protected:
  eddy::internal::KeyedStateBackend& RequireKeyedBackend(const std::string& name) override {
    throw std::logic_error("no keyed state in the benchmark: " + name);
  }

 private:
  std::string name_ = "postgres-bench";
  eddy::MetricGroup metrics_;
};

struct Connection {
  explicit Connection(const eddy::testing::PostgresTestServer& server) {
    const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(server.port()) +
                                 " dbname=postgres user=" + eddy::testing::PostgresTestServer::kUser;
    pg = PQconnectdb(conninfo.c_str());
    if (PQstatus(pg) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(pg));
  }
  ~Connection() { PQfinish(pg); }
  void Exec(const std::string& sql) {
    PGresult* result = PQexec(pg, sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
    const std::string error = ok ? "" : PQresultErrorMessage(result);
    PQclear(result);
    if (!ok) throw std::runtime_error(sql + ": " + error);
  }
  PGconn* pg;
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double RunSink(const eddy::testing::PostgresTestServer& server, const std::vector<Record>& records, int batch) {
  eddy::connectors::PostgresUpsertSink<Record> sink(
      server.options(), kTable, {"k", "v"}, {"k"},
      [](const Record& r) {
        return eddy::connectors::PostgresRow{std::to_string(r.first), std::to_string(r.second)};
      },
      batch);
  BenchRuntimeContext runtime;
  sink.setRuntimeContext(&runtime);
  sink.open(runtime);
  const auto start = std::chrono::steady_clock::now();
  for (const Record& r : records) sink.invoke(r);
  sink.finish();
  const double seconds = Seconds(start);
  sink.close();
  return seconds;
}

double RunPlainLibpq(const eddy::testing::PostgresTestServer& server, const std::vector<Record>& records, int batch) {
  Connection connection(server);
  std::string sql = std::string("INSERT INTO ") + kTable + " (k, v) VALUES ";
  for (int r = 0; r < batch; ++r) {
    sql += (r == 0 ? "($" : ", ($") + std::to_string(2 * r + 1) + ", $" + std::to_string(2 * r + 2) + ")";
  }
  sql += " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
  PGresult* prepared = PQprepare(connection.pg, "upsert", sql.c_str(), 2 * batch, nullptr);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) throw std::runtime_error(PQresultErrorMessage(prepared));
  PQclear(prepared);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> text(static_cast<size_t>(2 * batch));
  std::vector<const char*> values(static_cast<size_t>(2 * batch));
  for (size_t first = 0; first < records.size(); first += static_cast<size_t>(batch)) {
    // The benchmark's record count is a multiple of the batch size.
    for (size_t i = 0; i < static_cast<size_t>(batch); ++i) {
      text[2 * i] = std::to_string(records[first + i].first);
      text[2 * i + 1] = std::to_string(records[first + i].second);
      values[2 * i] = text[2 * i].c_str();
      values[2 * i + 1] = text[2 * i + 1].c_str();
    }
    PGresult* result = PQexecPrepared(connection.pg, "upsert", 2 * batch, values.data(), nullptr, nullptr, 0);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) throw std::runtime_error(PQresultErrorMessage(result));
    PQclear(result);
  }
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 200'000;
  const int64_t keys = argc > 2 ? std::atoll(argv[2]) : 50'000;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 500;
  if (rows <= 0 || keys < batch || batch <= 0 || rows % batch != 0) {
    std::fprintf(stderr, "usage: postgres_bench [rows] [keys >= batch] [batch dividing rows]\n");
    return 2;
  }
  try {
    eddy::testing::PostgresTestServer server;
    Connection setup(server);
    setup.Exec(std::string("CREATE TABLE ") + kTable + " (k bigint PRIMARY KEY, v bigint NOT NULL)");
    // Consecutive records have distinct keys within a batch, so the plain loop
    // needs no deduplication; every key is updated rows/keys times.
    std::vector<Record> records;
    for (int64_t i = 0; i < rows; ++i) records.emplace_back(i % keys, i);

    double best_sink = 1e300, best_plain = 1e300;
    for (int round = 0; round < 2; ++round) {
      setup.Exec(std::string("TRUNCATE ") + kTable);
      best_plain = std::min(best_plain, RunPlainLibpq(server, records, batch));
      setup.Exec(std::string("TRUNCATE ") + kTable);
      best_sink = std::min(best_sink, RunSink(server, records, batch));
    }
    const double sink_rate = static_cast<double>(rows) / best_sink;
    const double plain_rate = static_cast<double>(rows) / best_plain;
    std::printf("upsert %lld rows over %lld keys, batches of %d\n", static_cast<long long>(rows),
                static_cast<long long>(keys), batch);
    std::printf("  PostgresUpsertSink: %12.0f rows/s\n", sink_rate);
    std::printf("  plain libpq loop:   %12.0f rows/s\n", plain_rate);
    std::printf("  ratio sink/plain:   %12.2f\n", sink_rate / plain_rate);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postgres_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
