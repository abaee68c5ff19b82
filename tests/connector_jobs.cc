// Job programs of the connector end-to-end tests (libeddy-connector-test-jobs.so):
// the fault-tolerance job's running totals, written to external systems.
#include <cstdint>
#include <string>

#include <eddy/connectors/postgres.h>
#include <eddy/connectors/redis.h>
#include <eddy/eddy.h>

#include "running_totals.h"

using eddy_test::KV;
using eddy_test::RunningTotals;

namespace {

// n generated records (i % keys, i) at `rate` records/s from one source
// subtask (so every key's records keep their order), with checkpoints every
// `interval` ms, summed per key: the stream of "key,count,sum" lines.
eddy::DataStream<std::string> Totals(eddy::StreamExecutionEnvironment& env, const eddy::ParameterTool& args) {
  const int64_t n = args.getLong("n", 20000);
  const int64_t keys = args.getLong("keys", 13);
  const double rate = static_cast<double>(args.getLong("rate", 4000));
  env.enableCheckpointing(args.getLong("interval", 500));
  return env
      .addSource(eddy::DataGeneratorSource<KV>([keys](int64_t i) { return KV(i % keys, i); }, n,
                                               eddy::RateLimiterStrategy::perSecond(rate)),
                 "generator")
      .setParallelism(1)
      .keyBy([](const KV& kv) { return kv.first; })
      .process(RunningTotals())
      .name("totals");
}

}  // namespace

// Running totals into Redis: SET <prefix><key> "count,sum" (an idempotent
// upsert, so the end state after a failure equals a failure-free run's).
EDDY_PROGRAM(RedisTotals, env, args) {
  eddy::connectors::RedisConfig config;
  config.host = args.get("redis-host", "127.0.0.1");
  config.port = static_cast<int>(args.getLong("redis-port", 6379));
  const std::string prefix = args.get("prefix", "totals:");
  Totals(env, args).addSink(
      eddy::connectors::RedisSink<std::string>(config,
                                               [prefix](const std::string& line) {
                                                 const size_t comma = line.find(',');
                                                 return eddy::connectors::RedisWrite::set(
                                                     prefix + line.substr(0, comma), line.substr(comma + 1));
                                               }),
      "redis");
  env.execute("Redis totals");
}

// Running totals appended to the PostgreSQL table `table` (k, cnt, total)
// through two-phase commit: each line exactly once, also across failures.
EDDY_PROGRAM(PostgresTotals, env, args) {
  eddy::connectors::PostgresConnectionOptions connection;
  connection.host = args.get("pg-host", "127.0.0.1");
  connection.port = static_cast<int>(args.getLong("pg-port", 5432));
  connection.database = args.get("pg-database", "postgres");
  connection.user = args.get("pg-user", "");
  Totals(env, args).addSink(
      eddy::connectors::PostgresExactlyOnceSink<std::string>(
          connection, args.get("table", "totals"), {"k", "cnt", "total"}, args.get("prefix", "eddy-totals"),
          [](const std::string& line) {
            const size_t a = line.find(','), b = line.find(',', a + 1);
            return eddy::connectors::PostgresRow{line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)};
          }),
      "postgres");
  env.execute("PostgreSQL totals");
}
