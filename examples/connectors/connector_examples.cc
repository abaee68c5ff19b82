// Connector examples (libeddy-connector-examples.so): the pipeline the notes
// build end to end — Kafka in, a keyed aggregation, and the result out to
// Kafka (exactly-once), Redis or PostgreSQL.
//
// Input: topic --input-topic (default "amounts") with "key,amount" lines, e.g.
//   eddy-kafka-mock --topic amounts:4 --topic totals:4     # prints bootstrap.servers=...
//   printf 'alice,5\nbob,7\nalice,3\n' | kcat -b <servers> -P -t amounts
// then one of
//   eddy run -c KafkaToKafka   libeddy-connector-examples.so --bootstrap-servers <servers>
//   eddy run -c KafkaToRedis   libeddy-connector-examples.so --bootstrap-servers <servers> --redis-port 6379
//   eddy run -c KafkaToPostgres libeddy-connector-examples.so --bootstrap-servers <servers> --pg-port 5432
// The jobs run until cancelled (add --bounded to stop at the end of the input)
// and take a checkpoint every --interval ms (default 1000): the Kafka sink
// commits its transaction, and the Redis and PostgreSQL upserts are flushed, on
// each checkpoint.
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <eddy/connectors/kafka.h>
#include <eddy/connectors/postgres.h>
#include <eddy/connectors/redis.h>
#include <eddy/eddy.h>

namespace {

using Amount = std::pair<std::string, int64_t>;

// "key,amount" -> (key, amount); anything else is a bad record, which the
// source skips and counts (metric numSkippedRecords).
Amount ParseAmount(std::string_view line) {
  const size_t comma = line.find(',');
  int64_t amount = 0;
  if (comma == std::string_view::npos || comma == 0) throw std::invalid_argument("expected key,amount");
  const std::string_view number = line.substr(comma + 1);
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), amount);
  if (error != std::errc() || end != number.data() + number.size()) {
    throw std::invalid_argument("the amount is not an integer");
  }
  return {std::string(line.substr(0, comma)), amount};
}

// Kafka -> running sum per key: the stream every example writes somewhere.
eddy::DataStream<Amount> Totals(eddy::StreamExecutionEnvironment& env, const eddy::ParameterTool& args) {
  env.enableCheckpointing(args.getLong("interval", 1000));
  auto builder = eddy::connectors::KafkaSource<Amount>::builder()
                     .setBootstrapServers(args.getRequired("bootstrap-servers"))
                     .setTopics({args.get("input-topic", "amounts")})
                     .setGroupId(args.get("group", "eddy-totals"))
                     .setStartingOffsets(eddy::connectors::OffsetsInitializer::committedOffsets(
                         eddy::connectors::OffsetsInitializer::ResetStrategy::EARLIEST))
                     .setValueOnlyDeserializer(ParseAmount)
                     .setDeserializationErrorMode(eddy::connectors::DeserializationErrorMode::SKIP);
  if (args.has("bounded")) builder.setBounded();
  return env.addSource(builder.build(), "Kafka: " + args.get("input-topic", "amounts"))
      .keyBy([](const Amount& a) { return a.first; })
      .sum(1)
      .name("running totals");
}

}  // namespace

// Kafka -> keyed sums -> Kafka, exactly-once: "key,total" lines, keyed by key,
// in transactions committed on checkpoints (read them with a read_committed
// consumer).
EDDY_PROGRAM(KafkaToKafka, env, args) {
  Totals(env, args)
      .addSink(eddy::connectors::KafkaSink<Amount>::builder()
                   .setBootstrapServers(args.getRequired("bootstrap-servers"))
                   .setTopic(args.get("output-topic", "totals"))
                   .setRecordSerializer([](const Amount& a) {
                     eddy::connectors::KafkaProducerRecord record;
                     record.key = a.first;
                     record.value = a.first + "," + std::to_string(a.second);
                     return record;
                   })
                   .setDeliveryGuarantee(eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE)
                   .setTransactionalIdPrefix(args.get("transactional-id-prefix", "eddy-kafka-to-kafka"))
                   .build(),
               "Kafka: totals");
  env.execute("Kafka to Kafka");
}

// Kafka -> keyed sums -> Redis hash --hash (default "totals"): HSET totals key total.
EDDY_PROGRAM(KafkaToRedis, env, args) {
  eddy::connectors::RedisConfig redis;
  redis.host = args.get("redis-host", "127.0.0.1");
  redis.port = static_cast<int>(args.getLong("redis-port", 6379));
  const std::string hash = args.get("hash", "totals");
  Totals(env, args)
      .addSink(eddy::connectors::RedisSink<Amount>(
                   redis,
                   [hash](const Amount& a) {
                     return eddy::connectors::RedisWrite::hset(hash, a.first, std::to_string(a.second));
                   }),
               "Redis: " + hash);
  env.execute("Kafka to Redis");
}

// Kafka -> keyed sums -> PostgreSQL table --table (default "totals", created
// by the user as (k text PRIMARY KEY, total bigint)), upserted in batches.
EDDY_PROGRAM(KafkaToPostgres, env, args) {
  eddy::connectors::PostgresConnectionOptions pg;
  pg.host = args.get("pg-host", "127.0.0.1");
  pg.port = static_cast<int>(args.getLong("pg-port", 5432));
  pg.database = args.get("pg-database", "postgres");
  pg.user = args.get("pg-user", "");
  const std::string table = args.get("table", "totals");
  Totals(env, args)
      .addSink(eddy::connectors::PostgresUpsertSink<Amount>(
                   pg, table, {"k", "total"}, {"k"},
                   [](const Amount& a) { return eddy::connectors::PostgresRow{a.first, std::to_string(a.second)}; }),
               "PostgreSQL: " + table);
  env.execute("Kafka to PostgreSQL");
}
