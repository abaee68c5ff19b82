#include "connectors/kafka/kafka_testing.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "connectors/kafka/kafka_client.h"

namespace eddy::connectors::kafka_testing {
namespace {

using kafka_internal::ErrorText;
using kafka_internal::KafkaHandle;
using kafka_internal::PartitionList;

KafkaHandle NewClient(rd_kafka_type_t type, const std::string& servers,
                      const std::map<std::string, std::string>& properties = {}) {
  kafka_internal::ClientConfig config("kafka-testing", servers);
  config.SetAll(properties);
  return config.Create(type);
}

void Require(rd_kafka_resp_err_t err, const std::string& what) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(what + ": " + ErrorText(err));
}

}  // namespace

struct MockCluster::State {
  KafkaHandle handle;  // the client the mock cluster is attached to
  rd_kafka_mock_cluster_t* cluster = nullptr;
};

MockCluster::MockCluster(int brokers) : state_(std::make_unique<State>()) {
  // The owner handle never connects anywhere; it only hosts the cluster.
  state_->handle = NewClient(RD_KAFKA_PRODUCER, "", {{"log_level", "3"}});
  state_->cluster = rd_kafka_mock_cluster_new(state_->handle.get(), brokers);
  if (state_->cluster == nullptr) throw std::runtime_error("cannot start a mock Kafka cluster");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(state_->cluster);
}

MockCluster::~MockCluster() {
  rd_kafka_mock_cluster_destroy(state_->cluster);
}

void MockCluster::CreateTopic(const std::string& topic, int partitions) {
  Require(rd_kafka_mock_topic_create(state_->cluster, topic.c_str(), partitions, 1),
          "cannot create topic '" + topic + "' on the mock cluster");
}

void Produce(const std::string& servers, const std::vector<Record>& records) {
  std::string first_error;
  kafka_internal::ClientConfig config("kafka-testing", servers);
  config.Set("acks", "all").Set("linger.ms", "5");
  rd_kafka_conf_set_opaque(config.conf(), &first_error);
  rd_kafka_conf_set_dr_msg_cb(config.conf(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* error = static_cast<std::string*>(opaque);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && error->empty()) *error = ErrorText(m->err);
  });
  KafkaHandle producer = config.Create(RD_KAFKA_PRODUCER);
  for (const Record& r : records) {
    const void* key = r.key ? r.key->data() : nullptr;
    const size_t key_size = r.key ? r.key->size() : 0;
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_TIMESTAMP(r.timestamp),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer.get(), 10);
        continue;
      }
      Require(err, "cannot produce to topic '" + r.topic + "'");
      break;
    }
  }
  Require(rd_kafka_flush(producer.get(), 30000), "records not acknowledged");
  if (!first_error.empty()) throw std::runtime_error("a record was not delivered: " + first_error);
}

std::vector<Record> ReadAll(const std::string& servers, const std::string& topic,
                            std::chrono::milliseconds timeout) {
  KafkaHandle consumer =
      NewClient(RD_KAFKA_CONSUMER, servers, {{"enable.partition.eof", "false"}, {"group.id", "kafka-testing-reader"}});
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer.get(), topic.c_str(), nullptr);
  const rd_kafka_resp_err_t merr = rd_kafka_metadata(consumer.get(), 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  Require(merr, "no metadata for topic '" + topic + "'");
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);

  std::vector<std::vector<Record>> by_partition(static_cast<size_t>(partitions));
  std::vector<int64_t> ends(static_cast<size_t>(partitions));
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  size_t remaining = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    Require(rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high, 10000),
            "no offsets for topic '" + topic + "'");
    ends[static_cast<size_t>(p)] = high;
    remaining += static_cast<size_t>(high - low);
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = low;
  }
  Require(rd_kafka_assign(consumer.get(), list.get()), "assign");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (remaining > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("reading topic '" + topic + "' timed out with " + std::to_string(remaining) +
                               " records left");
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < ends[static_cast<size_t>(m->partition)]) {
      Record r;
      r.topic = topic;
      r.partition = m->partition;
      if (m->key != nullptr) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.timestamp = rd_kafka_message_timestamp(m, nullptr);
      r.offset = m->offset;
      by_partition[static_cast<size_t>(m->partition)].push_back(std::move(r));
      --remaining;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  std::vector<Record> all;
  for (auto& records : by_partition) {
    for (auto& r : records) all.push_back(std::move(r));
  }
  return all;
}

std::map<int32_t, int64_t> CommittedOffsets(const std::string& servers, const std::string& group,
                                            const std::string& topic, int partitions) {
  KafkaHandle consumer = NewClient(RD_KAFKA_CONSUMER, servers, {{"group.id", group}});
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  Require(rd_kafka_committed(consumer.get(), list.get(), 10000), "committed offsets of group '" + group + "'");
  std::map<int32_t, int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) out[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

void CommitOffsets(const std::string& servers, const std::string& group, const std::string& topic,
                   const std::map<int32_t, int64_t>& offsets) {
  KafkaHandle consumer = NewClient(RD_KAFKA_CONSUMER, servers, {{"group.id", group}});
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [p, offset] : offsets) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
  Require(rd_kafka_commit(consumer.get(), list.get(), /*async=*/0), "commit for group '" + group + "'");
  rd_kafka_consumer_close(consumer.get());
}

bool FencesReplacedProducers(const std::string& servers, const std::string& topic) {
  const std::map<std::string, std::string> properties = {{"transactional.id", "kafka-testing-fencing-probe"}};
  KafkaHandle old_producer = NewClient(RD_KAFKA_PRODUCER, servers, properties);
  auto check = [](rd_kafka_error_t* error, const char* what) {
    if (error == nullptr) return;
    const std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    throw std::runtime_error(std::string("fencing probe: ") + what + ": " + text);
  };
  check(rd_kafka_init_transactions(old_producer.get(), 10000), "init_transactions");
  check(rd_kafka_begin_transaction(old_producer.get()), "begin_transaction");
  Require(rd_kafka_producev(old_producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_VALUE(const_cast<char*>("probe"), 5), RD_KAFKA_V_END),
          "fencing probe: produce");
  KafkaHandle new_producer = NewClient(RD_KAFKA_PRODUCER, servers, properties);
  check(rd_kafka_init_transactions(new_producer.get(), 10000), "init_transactions");
  rd_kafka_error_t* error = rd_kafka_commit_transaction(old_producer.get(), 10000);
  if (error == nullptr) return false;
  rd_kafka_error_destroy(error);
  return true;
}

}  // namespace eddy::connectors::kafka_testing
