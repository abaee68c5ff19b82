// kafka_bench: how much an Eddy job costs over a hand-written librdkafka loop
// for the same copy, topic to topic, on one mock cluster.
//
//   kafka_bench [--records N] [--size BYTES] [--partitions P]
//
// Writes N records of BYTES bytes to "input" (P partitions, 64 by default: the
// mock keeps at most 5 MiB per partition and drops older records), then copies them
// (a) with a plain consume -> produce loop to "copy-plain" and (b) with the job
// KafkaSource -> KafkaSink (AT_LEAST_ONCE, parallelism 1, embedded cluster) to
// "copy-eddy"; prints records/s and MB/s of both and their ratio. Both copies
// are checked to hold N records. The job's time includes starting it.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "connectors/kafka/kafka_testing.h"
#include "eddy/connectors/kafka.h"
#include "eddy/eddy.h"

namespace {

using Clock = std::chrono::steady_clock;

void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::string& servers,
                      std::initializer_list<std::pair<const char*, const char*>> properties) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Require(rd_kafka_conf_set(conf, "bootstrap.servers", servers.c_str(), error, sizeof error) == RD_KAFKA_CONF_OK,
          error);
  for (const auto& [key, value] : properties) {
    Require(rd_kafka_conf_set(conf, key, value, error, sizeof error) == RD_KAFKA_CONF_OK, error);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  Require(rk != nullptr, error);
  return rk;
}

// Queues a record, serving delivery reports while the queue is full.
void Send(rd_kafka_t* producer, const char* topic, const void* data, size_t size,
          int32_t partition = RD_KAFKA_PARTITION_UA) {
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<void*>(data), size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    Require(err == RD_KAFKA_RESP_ERR__QUEUE_FULL, rd_kafka_err2str(err));
    rd_kafka_poll(producer, 5);
  }
}

const std::initializer_list<std::pair<const char*, const char*>> kProducerProperties = {
    {"acks", "all"}, {"linger.ms", "5"}, {"queue.buffering.max.messages", "1000000"}};

// Round-robin over the partitions: the client's sticky partitioner would put
// long runs into one partition, more than the mock keeps.
void Fill(const std::string& servers, int64_t records, size_t size, int partitions) {
  rd_kafka_t* producer = NewClient(RD_KAFKA_PRODUCER, servers, kProducerProperties);
  std::string value(size, 'x');
  for (int64_t i = 0; i < records; ++i) {
    const std::string number = std::to_string(i);
    value.replace(0, number.size(), number);
    Send(producer, "input", value.data(), value.size(), static_cast<int32_t>(i % partitions));
  }
  Require(rd_kafka_flush(producer, 120000) == RD_KAFKA_RESP_ERR_NO_ERROR, "filling the input timed out");
  rd_kafka_destroy(producer);
}

// (a) The hand-written copy: consume from offset 0, produce, flush.
void PlainCopy(const std::string& servers, int64_t records, int partitions) {
  rd_kafka_t* consumer = NewClient(RD_KAFKA_CONSUMER, servers, {{"group.id", "bench-plain"}});
  rd_kafka_t* producer = NewClient(RD_KAFKA_PRODUCER, servers, kProducerProperties);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, "input", p)->offset = 0;
  Require(rd_kafka_assign(consumer, list) == RD_KAFKA_RESP_ERR_NO_ERROR, "assign");
  rd_kafka_topic_partition_list_destroy(list);
  int64_t copied = 0;
  while (copied < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Send(producer, "copy-plain", m->payload, m->len);
      ++copied;
      if (copied % 1024 == 0) rd_kafka_poll(producer, 0);
    }
    rd_kafka_message_destroy(m);
  }
  Require(rd_kafka_flush(producer, 120000) == RD_KAFKA_RESP_ERR_NO_ERROR, "the plain copy timed out");
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
}

// (b) The same copy as an Eddy job.
void EddyCopy(const std::string& servers) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(1);
  auto source = eddy::connectors::KafkaSource<std::string>::builder()
                    .setBootstrapServers(servers)
                    .setTopics({"input"})
                    .setValueOnlyDeserializer([](std::string_view value) { return std::string(value); })
                    .setBounded()
                    .build();
  auto sink = eddy::connectors::KafkaSink<std::string>::builder()
                  .setBootstrapServers(servers)
                  .setTopic("copy-eddy")
                  .setValueSerializer([](const std::string& value) { return value; })
                  .setDeliveryGuarantee(eddy::connectors::DeliveryGuarantee::AT_LEAST_ONCE)
                  .setProperty("linger.ms", "5")
                  .setProperty("queue.buffering.max.messages", "1000000")
                  .build();
  env.addSource(source, "input").addSink(sink, "copy-eddy");
  env.execute("kafka-copy-bench");
}

// How many records were ever written to `topic`.
int64_t Written(const std::string& servers, const char* topic, int partitions) {
  rd_kafka_t* client = NewClient(RD_KAFKA_CONSUMER, servers, {{"group.id", "bench-check"}});
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    Require(rd_kafka_query_watermark_offsets(client, topic, p, &low, &high, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR,
            "query offsets");
    total += high;
  }
  rd_kafka_destroy(client);
  return total;
}

void Report(const char* name, int64_t records, size_t size, double seconds) {
  std::printf("%-28s %10.3f s %12.0f records/s %9.1f MB/s\n", name, seconds, static_cast<double>(records) / seconds,
              static_cast<double>(records) * static_cast<double>(size) / seconds / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 1'000'000;
  size_t size = 100;
  int partitions = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--records") {
      records = std::atoll(argv[i + 1]);
    } else if (arg == "--size") {
      size = static_cast<size_t>(std::atoll(argv[i + 1]));
    } else if (arg == "--partitions") {
      partitions = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: kafka_bench [--records N] [--size BYTES] [--partitions P]\n");
      return 2;
    }
  }
  if (records <= 0 || size < 20 || partitions <= 0) {
    std::fprintf(stderr, "kafka_bench: --records and --partitions must be positive and --size at least 20\n");
    return 2;
  }
  try {
    eddy::connectors::kafka_testing::MockCluster cluster(1);
    for (const char* topic : {"input", "copy-plain", "copy-eddy"}) cluster.CreateTopic(topic, partitions);
    const std::string& servers = cluster.bootstrap_servers();
    std::printf("kafka_bench: %lld records of %zu bytes, %d partitions, on a mock cluster (%s)\n",
                static_cast<long long>(records), size, partitions, servers.c_str());

    auto start = Clock::now();
    Fill(servers, records, size, partitions);
    Report("fill (produce only)", records, size, std::chrono::duration<double>(Clock::now() - start).count());

    start = Clock::now();
    PlainCopy(servers, records, partitions);
    const double plain = std::chrono::duration<double>(Clock::now() - start).count();
    Report("plain librdkafka copy", records, size, plain);

    start = Clock::now();
    EddyCopy(servers);
    const double job = std::chrono::duration<double>(Clock::now() - start).count();
    Report("Eddy KafkaSource->KafkaSink", records, size, job);

    Require(Written(servers, "copy-plain", partitions) == records, "the plain copy is incomplete");
    Require(Written(servers, "copy-eddy", partitions) == records, "the Eddy copy is incomplete");
    std::printf("Eddy / plain throughput: %.2f\n", plain / job);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kafka_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
