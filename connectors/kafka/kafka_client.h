// librdkafka handles and configuration shared by the source and the sink;
// private to the connector.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

namespace eddy::connectors::kafka_internal {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using KafkaError = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

// A client configuration being built. Every client logs through spdlog.
class ClientConfig {
 public:
  // `role` names the client in errors ("KafkaSource", "KafkaSink").
  ClientConfig(std::string role, const std::string& bootstrap_servers);
  ~ClientConfig();
  ClientConfig(const ClientConfig&) = delete;
  ClientConfig& operator=(const ClientConfig&) = delete;

  // Throws std::invalid_argument naming the property and the client's complaint.
  ClientConfig& Set(const std::string& key, const std::string& value);
  ClientConfig& SetAll(const std::map<std::string, std::string>& properties);
  rd_kafka_conf_t* conf() { return conf_; }

  // Creates the client (the configuration is consumed). Throws
  // std::runtime_error naming the servers if the client refuses it.
  KafkaHandle Create(rd_kafka_type_t type);

 private:
  std::string role_;
  std::string servers_;
  rd_kafka_conf_t* conf_;  // owned until Create()
};

// "message (code)" of an error code.
std::string ErrorText(rd_kafka_resp_err_t err);

}  // namespace eddy::connectors::kafka_internal
