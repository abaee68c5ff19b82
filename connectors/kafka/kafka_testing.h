// Helpers for the connector's tests, benchmark and eddy-kafka-mock: an
// in-process mock Kafka cluster (librdkafka's, speaking the real protocol over
// loopback TCP) and plain clients that write, read and commit without Eddy, so
// that tests check the connector against an independent path.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy::connectors::kafka_testing {

// A mock cluster on free loopback ports; stopped by the destructor.
class MockCluster {
 public:
  explicit MockCluster(int brokers = 1);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "host:port,host:port,..."
  const std::string& bootstrap_servers() const { return bootstrap_; }
  // Throws std::runtime_error if the mock refuses.
  void CreateTopic(const std::string& topic, int partitions);

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string bootstrap_;
};

struct Record {
  std::string topic;
  int32_t partition = 0;
  std::optional<std::string> key;
  std::string value;
  int64_t timestamp = 0;  // 0: the producer's clock
  int64_t offset = -1;    // set when read
};

// Writes `records` (each to its partition) and waits until all are
// acknowledged; throws on any failure.
void Produce(const std::string& servers, const std::vector<Record>& records);

// Every record of `topic` from the start of each partition up to its current
// end, in partition then offset order.
std::vector<Record> ReadAll(const std::string& servers, const std::string& topic,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The offsets `group` committed for `topic` by partition (partitions without
// one are left out).
std::map<int32_t, int64_t> CommittedOffsets(const std::string& servers, const std::string& group,
                                            const std::string& topic, int partitions);

// Commits `offsets` (partition -> offset) for `group` on `topic`, synchronously.
void CommitOffsets(const std::string& servers, const std::string& group, const std::string& topic,
                   const std::map<int32_t, int64_t>& offsets);

// Whether the cluster fences a transactional producer once another producer
// registers its transactional id (real brokers do; librdkafka's mock does
// not: it hands the new producer a new producer id and lets the old one
// commit). Probed with two producers of a scratch id on `topic`.
bool FencesReplacedProducers(const std::string& servers, const std::string& topic);

}  // namespace eddy::connectors::kafka_testing
