#include "connectors/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

namespace eddy::connectors::kafka_internal {
namespace {

// librdkafka's syslog levels mapped onto spdlog's.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const char* name = rd_kafka_name(rk);
  if (level <= 3) {
    spdlog::error("[{}] {}: {}", name, facility, message);
  } else if (level == 4) {
    spdlog::warn("[{}] {}: {}", name, facility, message);
  } else if (level <= 6) {
    spdlog::info("[{}] {}: {}", name, facility, message);
  } else {
    spdlog::debug("[{}] {}: {}", name, facility, message);
  }
}

}  // namespace

ClientConfig::ClientConfig(std::string role, const std::string& bootstrap_servers)
    : role_(std::move(role)), servers_(bootstrap_servers), conf_(rd_kafka_conf_new()) {
  rd_kafka_conf_set_log_cb(conf_, LogToSpdlog);
  Set("bootstrap.servers", bootstrap_servers);
}

ClientConfig::~ClientConfig() {
  if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
}

ClientConfig& ClientConfig::Set(const std::string& key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf_, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
    throw std::invalid_argument(role_ + ": bad client property " + key + "=" + value + ": " + error);
  }
  return *this;
}

ClientConfig& ClientConfig::SetAll(const std::map<std::string, std::string>& properties) {
  for (const auto& [key, value] : properties) Set(key, value);
  return *this;
}

KafkaHandle ClientConfig::Create(rd_kafka_type_t type) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf_, error, sizeof error);
  if (rk == nullptr) {
    throw std::runtime_error(role_ + ": cannot create a Kafka client for " + servers_ + ": " + error);
  }
  conf_ = nullptr;  // now owned by rk
  return KafkaHandle(rk);
}

std::string ErrorText(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2str(err)) + " (" + rd_kafka_err2name(err) + ")";
}

}  // namespace eddy::connectors::kafka_internal
