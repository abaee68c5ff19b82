// Job programs of the connector end-to-end tests (libeddy-connector-test-jobs.so):
// the fault-tolerance job's running totals, written to external systems.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <eddy/connectors/files.h>
#include <eddy/connectors/kafka.h>
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

namespace {

// Passes records on at about `rate` per second per subtask, so that a bounded
// input still runs long enough to be interrupted.
class Throttle : public eddy::RichMapFunction<KV, KV> {
 public:
  explicit Throttle(double rate) : rate_(rate) {}
  void open(eddy::RuntimeContext&) override { start_ = std::chrono::steady_clock::now(); }
  KV map(const KV& value) override {
    const auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(static_cast<double>(++count_) / rate_));
    std::this_thread::sleep_until(due);
    return value;
  }

 private:
  double rate_;
  int64_t count_ = 0;
  std::chrono::steady_clock::time_point start_;
};

eddy::connectors::DeliveryGuarantee Guarantee(const std::string& name) {
  if (name == "exactly-once") return eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE;
  if (name == "at-least-once") return eddy::connectors::DeliveryGuarantee::AT_LEAST_ONCE;
  if (name == "none") return eddy::connectors::DeliveryGuarantee::NONE;
  throw std::invalid_argument("--guarantee must be exactly-once, at-least-once or none, not '" + name + "'");
}

}  // namespace

// Kafka -> running totals -> Kafka. Reads the numbers i of topic --input
// (bounded: up to the offsets at start) as (i % keys, i), throttled to --rate
// records/s per source subtask, and writes "key,count,sum" to topic --output
// with the delivery guarantee --guarantee. A record that is not a number
// fails the job, or with --on-error skip is counted and dropped. Keep all
// records of a key in one partition and the totals are deterministic.
EDDY_PROGRAM(KafkaTotals, env, args) {
  const std::string servers = args.getRequired("bootstrap-servers");
  const int64_t keys = args.getLong("keys", 13);
  env.enableCheckpointing(args.getLong("interval", 500));
  auto source = eddy::connectors::KafkaSource<KV>::builder()
                    .setBootstrapServers(servers)
                    .setTopics({args.get("input", "in")})
                    .setGroupId(args.get("group", "kafka-totals"))
                    .setStartingOffsets(eddy::connectors::OffsetsInitializer::earliest())
                    .setValueOnlyDeserializer([keys](std::string_view text) {
                      int64_t i = 0;
                      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), i);
                      if (error != std::errc() || end != text.data() + text.size()) {
                        throw std::invalid_argument("not a number: '" + std::string(text) + "'");
                      }
                      return KV(i % keys, i);
                    })
                    .setDeserializationErrorMode(args.get("on-error", "fail") == "skip"
                                                     ? eddy::connectors::DeserializationErrorMode::SKIP
                                                     : eddy::connectors::DeserializationErrorMode::FAIL)
                    .setBounded()
                    .build();
  env.addSource(source, "kafka")
      .map(Throttle(static_cast<double>(args.getLong("rate", 2000))))
      .keyBy([](const KV& kv) { return kv.first; })
      .process(RunningTotals())
      .name("totals")
      .addSink(eddy::connectors::KafkaSink<std::string>::builder()
                   .setBootstrapServers(servers)
                   .setTopic(args.get("output", "out"))
                   .setValueSerializer([](const std::string& line) { return line; })
                   .setDeliveryGuarantee(Guarantee(args.get("guarantee", "exactly-once")))
                   .setTransactionalIdPrefix(args.get("transactional-id-prefix", "kafka-totals"))
                   .build(),
               "kafka");
  env.execute("Kafka totals");
}

// Every line of every file that appears under --input (watched every 100 ms),
// copied by the exactly-once file sink to --output: each line once, also when
// files arrive across failures.
EDDY_PROGRAM(FilesCopy, env, args) {
  env.enableCheckpointing(args.getLong("interval", 300));
  env.addSource(eddy::connectors::FileSource<std::string>::forRecordStreamFormat(eddy::connectors::TextLineFormat(),
                                                                                 args.getRequired("input"))
                    .monitorContinuously(100)
                    .build(),
                "files")
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("Files copy");
}
