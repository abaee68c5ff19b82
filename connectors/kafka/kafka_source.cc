// KafkaPartitionReader: the librdkafka consumer behind KafkaSource<T>.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "eddy/connectors/kafka.h"

namespace eddy::connectors::internal {
namespace {

using kafka_internal::ErrorText;
using kafka_internal::KafkaHandle;
using kafka_internal::PartitionList;
using Clock = std::chrono::steady_clock;
using TopicPartition = std::pair<std::string, int32_t>;

std::string Describe(const TopicPartition& tp) {
  return "topic '" + tp.first + "' partition " + std::to_string(tp.second);
}

int TimeoutMs(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), 1'000'000'000));
}

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};

}  // namespace

std::string DescribeKafkaRecord(const KafkaRecord& record) {
  return "topic '" + std::string(record.topic) + "' partition " + std::to_string(record.partition) + " offset " +
         std::to_string(record.offset);
}

class KafkaPartitionReader::Impl {
 public:
  Impl(const KafkaSourceOptions& options, int subtask, int parallelism,
       const std::optional<std::vector<KafkaPartitionOffset>>& restored, MetricGroup& metrics)
      : options_(options),
        subtask_(subtask),
        commits_succeeded_(metrics.counter("commitsSucceeded")),
        commits_failed_(metrics.counter("commitsFailed")) {
    kafka_internal::ClientConfig config("KafkaSource", options.bootstrap_servers);
    config.Set("client.id", "eddy-kafka-source-" + std::to_string(subtask));
    // The client needs a group for assign(); without the user's, one that is
    // never committed to.
    config.Set("group.id", options.group_id.empty() ? "eddy-kafka-source" : options.group_id);
    config.Set("enable.auto.commit", "false");
    config.Set("enable.auto.offset.store", "false");
    config.Set("enable.partition.eof", "false");
    // An offset the broker no longer has (retention) restarts at the oldest
    // record it has: replaying beats skipping. "error" fails the task instead.
    config.Set("auto.offset.reset", "earliest");
    config.SetAll(options.properties);
    rd_kafka_conf_set_opaque(config.conf(), this);
    rd_kafka_conf_set_offset_commit_cb(config.conf(), &Impl::OnCommit);
    consumer_ = config.Create(RD_KAFKA_CONSUMER);
    rd_kafka_poll_set_consumer(consumer_.get());

    const auto deadline = Clock::now() + options.metadata_timeout;
    std::vector<TopicPartition> all = DiscoverPartitions(deadline);
    std::map<TopicPartition, int64_t> restored_offsets;
    if (restored) {
      // Union state: every old subtask's entries; a partition listed twice
      // (a subtask snapshotted before it opened) keeps the furthest offset.
      for (const KafkaPartitionOffset& o : *restored) {
        auto [it, inserted] = restored_offsets.emplace(TopicPartition(o.topic, o.partition), o.offset);
        if (!inserted) it->second = std::max(it->second, o.offset);
        all.emplace_back(o.topic, o.partition);
      }
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::vector<TopicPartition> mine;
    for (size_t i = static_cast<size_t>(subtask); i < all.size(); i += static_cast<size_t>(parallelism)) {
      mine.push_back(all[i]);
    }
    ResolveOffsets(mine, restored ? &restored_offsets : nullptr, deadline);
    Assign();
    spdlog::info("KafkaSource subtask {}/{} reads {} of {} partitions from {}", subtask, parallelism,
                 partitions_.size(), all.size(), options.bootstrap_servers);
  }

  ~Impl() {
    // Waits for outstanding commits; the handle is destroyed afterwards.
    rd_kafka_consumer_close(consumer_.get());
  }

  const std::vector<KafkaAssignedPartition>& partitions() const { return partitions_; }

  size_t Poll(std::chrono::milliseconds timeout, absl::FunctionRef<void(size_t, const KafkaRecord&)> consume) {
    constexpr size_t kMaxBatch = 512;
    size_t handed = 0;
    int wait_ms = TimeoutMs(timeout);
    for (size_t n = 0; n < kMaxBatch; ++n) {
      MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), wait_ms));
      wait_ms = 0;  // only the first poll waits
      if (message == nullptr) break;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        HandleError(*message);
        continue;
      }
      const std::string_view topic_name(rd_kafka_topic_name(message->rkt));
      const auto index = IndexOf(topic_name, message->partition);
      if (!index) continue;  // not ours (cannot happen with assign())
      FillRecord(*message, topic_name);
      consume(*index, record_);
      ++handed;
    }
    return handed;
  }

  void Pause(size_t index) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), partitions_[index].topic.c_str(), partitions_[index].partition);
    const rd_kafka_resp_err_t err = rd_kafka_pause_partitions(consumer_.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("KafkaSource: cannot pause {} partition {}: {}", partitions_[index].topic,
                   partitions_[index].partition, ErrorText(err));
    }
  }

  void CommitAsync(const std::vector<KafkaPartitionOffset>& offsets) {
    if (options_.group_id.empty()) return;  // no group to commit to
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const KafkaPartitionOffset& o : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), o.partition)->offset = o.offset;
    }
    const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), /*async=*/1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      commits_failed_.inc();
      spdlog::warn("KafkaSource: committing offsets to group '{}' failed: {}", options_.group_id, ErrorText(err));
    }
  }

  void LogSkipped(const KafkaRecord& record, const std::string& error) {
    spdlog::warn("KafkaSource subtask {}: skipped the record at {}: {}", subtask_, DescribeKafkaRecord(record),
                 error);
  }

 private:
  struct MessageDeleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  };
  using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                       void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
    bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string detail = failed ? ErrorText(err) : "";
    for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
      if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed = true;
        detail = Describe({offsets->elems[i].topic, offsets->elems[i].partition}) + ": " +
                 ErrorText(offsets->elems[i].err);
      }
    }
    if (failed) {
      self->commits_failed_.inc();
      spdlog::warn("KafkaSource: committing offsets to group '{}' failed: {}", self->options_.group_id, detail);
    } else {
      self->commits_succeeded_.inc();
    }
  }

  // Every partition of the configured topics, waiting for the brokers and
  // for named topics to appear until `deadline`.
  std::vector<TopicPartition> DiscoverPartitions(Clock::time_point deadline) {
    std::optional<std::regex> pattern;
    if (!options_.topic_pattern.empty()) {
      try {
        pattern.emplace(options_.topic_pattern);
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("KafkaSource: bad topic pattern '" + options_.topic_pattern + "': " + e.what());
      }
    }
    std::string last_problem;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        throw std::runtime_error("KafkaSource: no usable metadata from the Kafka brokers at " +
                                 options_.bootstrap_servers + " within " +
                                 std::to_string(options_.metadata_timeout.count()) + " ms (" + last_problem + ")");
      }
      const rd_kafka_metadata_t* raw = nullptr;
      const rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 1, nullptr, &raw, TimeoutMs(left));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        last_problem = "last error: " + ErrorText(err);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
      std::map<std::string, const rd_kafka_metadata_topic_t*> topics;
      for (int i = 0; i < md->topic_cnt; ++i) topics[md->topics[i].topic] = &md->topics[i];

      std::vector<std::string> wanted;
      if (pattern) {
        for (const auto& [name, topic] : topics) {
          if (name.rfind("__", 0) != 0 && std::regex_match(name, *pattern)) wanted.push_back(name);
        }
      } else {
        wanted = options_.topics;
      }
      std::vector<TopicPartition> found;
      last_problem.clear();
      for (const std::string& name : wanted) {
        auto it = topics.find(name);
        if (it == topics.end() || it->second->err != RD_KAFKA_RESP_ERR_NO_ERROR || it->second->partition_cnt == 0) {
          last_problem = "topic '" + name + "' " +
                         (it == topics.end() ? std::string("does not exist")
                                             : "has no usable metadata: " + ErrorText(it->second->err));
          break;
        }
        for (int p = 0; p < it->second->partition_cnt; ++p) found.emplace_back(name, it->second->partitions[p].id);
      }
      if (last_problem.empty()) return found;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // The low and high watermark offsets of a partition.
  std::pair<int64_t, int64_t> Watermarks(const TopicPartition& tp, Clock::time_point deadline) {
    int64_t low = 0, high = 0;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(consumer_.get(), tp.first.c_str(), tp.second,
                                                                     &low, &high, TimeoutMs(std::max(left, kMinWait)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("KafkaSource: cannot read the offsets of " + Describe(tp) + " from " +
                               options_.bootstrap_servers + ": " + ErrorText(err));
    }
    return {low, high};
  }

  // Sets partitions_: `mine` with concrete start (and bounded: end) offsets.
  void ResolveOffsets(const std::vector<TopicPartition>& mine, const std::map<TopicPartition, int64_t>* restored,
                      Clock::time_point deadline) {
    const OffsetsInitializer& start = options_.starting_offsets;
    std::map<TopicPartition, int64_t> looked_up;  // committed or by timestamp; < 0: none
    if (restored == nullptr && !mine.empty() &&
        (start.kind() == OffsetsInitializer::Kind::kCommitted || start.kind() == OffsetsInitializer::Kind::kTimestamp)) {
      PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(mine.size())));
      for (const TopicPartition& tp : mine) {
        rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset =
            start.kind() == OffsetsInitializer::Kind::kTimestamp ? start.timestamp_ms() : RD_KAFKA_OFFSET_INVALID;
      }
      const int wait = TimeoutMs(std::max(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), kMinWait));
      const bool committed = start.kind() == OffsetsInitializer::Kind::kCommitted;
      const rd_kafka_resp_err_t err = committed ? rd_kafka_committed(consumer_.get(), list.get(), wait)
                                                : rd_kafka_offsets_for_times(consumer_.get(), list.get(), wait);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw std::runtime_error(std::string("KafkaSource: cannot read the ") +
                                 (committed ? "committed offsets of group '" + options_.group_id + "'"
                                            : std::string("offsets for timestamp ") + std::to_string(start.timestamp_ms())) +
                                 " from " + options_.bootstrap_servers + ": " + ErrorText(err));
      }
      for (int i = 0; i < list->cnt; ++i) {
        const rd_kafka_topic_partition_t& e = list->elems[i];
        if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          throw std::runtime_error("KafkaSource: cannot look up the start offset of " +
                                   Describe({e.topic, e.partition}) + ": " + ErrorText(e.err));
        }
        looked_up[{e.topic, e.partition}] = e.offset;
      }
    }

    for (const TopicPartition& tp : mine) {
      KafkaAssignedPartition assigned{tp.first, tp.second, 0, -1};
      // Resolved lazily: only some modes need the partition's bounds.
      std::optional<std::pair<int64_t, int64_t>> bounds;
      auto low_high = [&] {
        if (!bounds) bounds = Watermarks(tp, deadline);
        return *bounds;
      };
      if (restored != nullptr) {
        auto it = restored->find(tp);
        // A partition created after the checkpoint is read from its start.
        assigned.start_offset = it != restored->end() ? it->second : low_high().first;
      } else {
        switch (start.kind()) {
          case OffsetsInitializer::Kind::kEarliest:
            assigned.start_offset = low_high().first;
            break;
          case OffsetsInitializer::Kind::kLatest:
            assigned.start_offset = low_high().second;
            break;
          case OffsetsInitializer::Kind::kTimestamp: {
            const int64_t offset = looked_up[tp];
            assigned.start_offset = offset >= 0 ? offset : low_high().second;  // no later record: the end
            break;
          }
          case OffsetsInitializer::Kind::kCommitted: {
            const int64_t offset = looked_up[tp];
            if (offset >= 0) {
              assigned.start_offset = offset;
            } else if (start.reset() == OffsetsInitializer::ResetStrategy::EARLIEST) {
              assigned.start_offset = low_high().first;
            } else if (start.reset() == OffsetsInitializer::ResetStrategy::LATEST) {
              assigned.start_offset = low_high().second;
            } else {
              throw std::runtime_error("KafkaSource: group '" + options_.group_id + "' has no committed offset for " +
                                       Describe(tp) + " and the reset strategy is NONE");
            }
            break;
          }
        }
      }
      if (options_.bounded) assigned.end_offset = low_high().second;
      partitions_.push_back(std::move(assigned));
      index_[{partitions_.back().topic, partitions_.back().partition}] = partitions_.size() - 1;
    }
  }

  void Assign() {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (const KafkaAssignedPartition& p : partitions_) {
      rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.start_offset;
    }
    const rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("KafkaSource: cannot assign partitions on " + options_.bootstrap_servers + ": " +
                               ErrorText(err));
    }
  }

  std::optional<size_t> IndexOf(std::string_view topic, int32_t partition) const {
    // Most subtasks read one topic: compare against the last hit first.
    if (last_index_ < partitions_.size() && partitions_[last_index_].partition == partition &&
        partitions_[last_index_].topic == topic) {
      return last_index_;
    }
    auto it = index_.find({std::string(topic), partition});
    if (it == index_.end()) return std::nullopt;
    last_index_ = it->second;
    return it->second;
  }

  void FillRecord(const rd_kafka_message_t& m, std::string_view topic) {
    record_.topic = topic;
    record_.partition = m.partition;
    record_.offset = m.offset;
    rd_kafka_timestamp_type_t type;
    record_.timestamp = rd_kafka_message_timestamp(&m, &type);
    record_.has_key = m.key != nullptr;
    record_.key = record_.has_key ? std::string_view(static_cast<const char*>(m.key), m.key_len) : std::string_view();
    record_.has_value = m.payload != nullptr;
    record_.value =
        record_.has_value ? std::string_view(static_cast<const char*>(m.payload), m.len) : std::string_view();
    record_.headers.clear();
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(&m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        record_.headers.emplace_back(name, value == nullptr ? std::string_view()
                                                            : std::string_view(static_cast<const char*>(value), size));
      }
    }
  }

  // A consumer error: position problems fail the task (continuing would skip
  // or repeat records silently); connection trouble is retried by the client.
  void HandleError(const rd_kafka_message_t& m) {
    const std::string where = m.rkt != nullptr ? Describe({rd_kafka_topic_name(m.rkt), m.partition}) + " offset " +
                                                     std::to_string(m.offset)
                                               : std::string("the consumer");
    char reason[512];
    if (rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("KafkaSource: fatal client error at " + where + ": " + reason);
    }
    switch (m.err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return;
      case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        throw std::runtime_error("KafkaSource: cannot read " + where + " from " + options_.bootstrap_servers + ": " +
                                 ErrorText(m.err));
      default:
        spdlog::warn("KafkaSource subtask {}: {} ({})", subtask_, ErrorText(m.err), where);
    }
  }

  static constexpr std::chrono::milliseconds kMinWait{1000};

  KafkaSourceOptions options_;
  int subtask_;
  Counter& commits_succeeded_;
  Counter& commits_failed_;
  KafkaHandle consumer_;
  std::vector<KafkaAssignedPartition> partitions_;
  std::map<TopicPartition, size_t> index_;  // into partitions_
  mutable size_t last_index_ = 0;
  KafkaRecord record_;  // reused for every message
};

KafkaPartitionReader::KafkaPartitionReader(const KafkaSourceOptions& options, int subtask, int parallelism,
                                           const std::optional<std::vector<KafkaPartitionOffset>>& restored,
                                           MetricGroup& metrics)
    : impl_(std::make_unique<Impl>(options, subtask, parallelism, restored, metrics)) {}
KafkaPartitionReader::~KafkaPartitionReader() = default;
const std::vector<KafkaAssignedPartition>& KafkaPartitionReader::partitions() const { return impl_->partitions(); }
size_t KafkaPartitionReader::Poll(std::chrono::milliseconds timeout,
                                  absl::FunctionRef<void(size_t, const KafkaRecord&)> consume) {
  return impl_->Poll(timeout, consume);
}
void KafkaPartitionReader::Pause(size_t index) { impl_->Pause(index); }
void KafkaPartitionReader::CommitAsync(const std::vector<KafkaPartitionOffset>& offsets) {
  impl_->CommitAsync(offsets);
}
void KafkaPartitionReader::LogSkipped(const KafkaRecord& record, const std::string& error) {
  impl_->LogSkipped(record, error);
}

}  // namespace eddy::connectors::internal
