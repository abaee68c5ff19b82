// KafkaSinkWriter: the librdkafka producers behind KafkaSink<T>.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "eddy/connectors/kafka.h"

namespace eddy::connectors::internal {
namespace {

using kafka_internal::ErrorText;
using kafka_internal::KafkaError;
using kafka_internal::KafkaHandle;
using kafka_internal::PartitionList;

// The marker of a transaction lives in partition 0 of its first record's topic.
constexpr int32_t kMarkerPartition = 0;

int TimeoutMs(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), 1'000'000'000));
}

}  // namespace

class KafkaSinkWriter::Impl {
 public:
  Impl(const KafkaSinkOptions& options, int subtask, MetricGroup& metrics)
      : options_(options), subtask_(subtask), delivery_errors_(metrics.counter("numRecordsOutErrors")) {
    if (options_.guarantee != DeliveryGuarantee::EXACTLY_ONCE) producer_ = NewProducer("");
  }

  ~Impl() {
    // Open transactions die with their producers (the broker aborts them, or
    // recovery does); plain producers drop what is still queued.
    for (auto& [id, producer] : transactions_) rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE);
  }

  KafkaTransaction Begin(int64_t last_checkpoint_id) const {
    KafkaTransaction txn;
    txn.subtask = subtask_;
    txn.checkpoint_id = last_checkpoint_id;
    return txn;
  }

  void Write(KafkaTransaction& txn, KafkaProducerRecord record) {
    if (record.topic.empty() && options_.default_topic.empty()) {
      throw std::invalid_argument("KafkaSink: a record has no topic and the sink has no default topic (setTopic)");
    }
    if (options_.guarantee == DeliveryGuarantee::EXACTLY_ONCE) {
      if (record.topic.empty()) record.topic = options_.default_topic;
      txn.records.push_back(std::move(record));
      return;
    }
    ThrowIfDeliveryFailed();
    Produce(producer_.get(), record, "");
    // Serve delivery reports now and then so that they do not pile up.
    if (++since_poll_ >= 1024) {
      since_poll_ = 0;
      rd_kafka_poll(producer_.get(), 0);
    }
  }

  void PreCommit(KafkaTransaction& txn, int64_t checkpoint_id) {
    txn.checkpoint_id = checkpoint_id;
    txn.precommitted = true;
    switch (options_.guarantee) {
      case DeliveryGuarantee::NONE:
        rd_kafka_poll(producer_.get(), 0);
        return;
      case DeliveryGuarantee::AT_LEAST_ONCE:
        Flush(producer_.get(), "checkpoint " + std::to_string(checkpoint_id));
        ThrowIfDeliveryFailed();
        return;
      case DeliveryGuarantee::EXACTLY_ONCE:
        break;
    }
    if (txn.records.empty()) return;  // nothing to write, nothing to recover
    const std::string id = TransactionalId(txn);
    KafkaHandle producer = NewProducer(id);
    Check(rd_kafka_init_transactions(producer.get(), TimeoutMs(options_.timeout)), "init_transactions", id);
    WriteTransaction(producer.get(), txn, id);
    transactions_[id] = std::move(producer);
  }

  void Commit(KafkaTransaction& txn) {
    if (options_.guarantee != DeliveryGuarantee::EXACTLY_ONCE || txn.records.empty()) return;
    const std::string id = TransactionalId(txn);
    auto it = transactions_.find(id);
    if (it == transactions_.end()) return;  // committed before
    CommitTransaction(it->second.get(), id);
    transactions_.erase(it);
    txn.records.clear();
    txn.records.shrink_to_fit();
  }

  void Abort(KafkaTransaction& txn) {
    if (options_.guarantee != DeliveryGuarantee::EXACTLY_ONCE || !txn.precommitted) return;
    const std::string id = TransactionalId(txn);
    auto it = transactions_.find(id);
    if (it == transactions_.end()) return;
    KafkaError error(rd_kafka_abort_transaction(it->second.get(), TimeoutMs(options_.timeout)));
    if (error) spdlog::warn("KafkaSink: aborting transaction {} failed: {}", id, rd_kafka_error_string(error.get()));
    transactions_.erase(it);
  }

  void RecoverAndCommit(KafkaTransaction& txn) {
    if (options_.guarantee != DeliveryGuarantee::EXACTLY_ONCE || txn.records.empty()) return;
    const std::string id = TransactionalId(txn);
    // Fencing first: afterwards no older producer of this id can commit, so
    // the marker read next is final.
    KafkaHandle producer = NewProducer(id);
    Check(rd_kafka_init_transactions(producer.get(), TimeoutMs(options_.timeout)), "init_transactions", id);
    const int64_t marker = ReadMarker(txn);
    if (marker >= txn.checkpoint_id) {
      spdlog::info("KafkaSink: transaction {} was committed before the failure", id);
      return;
    }
    spdlog::info("KafkaSink: transaction {} is not committed (marker {}): writing its {} records again", id, marker,
                 txn.records.size());
    WriteTransaction(producer.get(), txn, id);
    CommitTransaction(producer.get(), id);
  }

  void AbortLingering(int32_t subtask, int64_t checkpoint_id) {
    for (int k = 1; k <= options_.lingering_transactions_to_abort; ++k) {
      const std::string id = TransactionalId(subtask, checkpoint_id + k);
      // Registering the id aborts its open transaction and fences its producer.
      KafkaHandle producer = NewProducer(id);
      Check(rd_kafka_init_transactions(producer.get(), TimeoutMs(options_.timeout)), "init_transactions", id);
    }
  }

  void FlushOnFinish() {
    if (producer_ == nullptr) return;
    Flush(producer_.get(), "the end of the input");
    if (options_.guarantee == DeliveryGuarantee::AT_LEAST_ONCE) ThrowIfDeliveryFailed();
  }

 private:
  std::string TransactionalId(int32_t subtask, int64_t checkpoint_id) const {
    return options_.transactional_id_prefix + "-" + std::to_string(subtask) + "-" + std::to_string(checkpoint_id);
  }
  std::string TransactionalId(const KafkaTransaction& txn) const {
    return TransactionalId(txn.subtask, txn.checkpoint_id);
  }
  std::string MarkerGroup(const KafkaTransaction& txn) const {
    return options_.transactional_id_prefix + "-" + std::to_string(txn.subtask);
  }

  KafkaHandle NewProducer(const std::string& transactional_id) {
    kafka_internal::ClientConfig config("KafkaSink", options_.bootstrap_servers);
    config.Set("client.id", "eddy-kafka-sink-" + std::to_string(subtask_));
    if (options_.guarantee != DeliveryGuarantee::NONE) config.Set("acks", "all");
    if (!transactional_id.empty()) config.Set("transactional.id", transactional_id);
    config.SetAll(options_.properties);
    rd_kafka_conf_set_opaque(config.conf(), this);
    rd_kafka_conf_set_dr_msg_cb(config.conf(), &Impl::OnDelivery);
    return config.Create(RD_KAFKA_PRODUCER);
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<Impl*>(opaque);
    self->delivery_errors_.inc();
    const std::string what = "a record to topic '" + std::string(rd_kafka_topic_name(m->rkt)) + "' partition " +
                             std::to_string(m->partition) + " was not delivered: " + ErrorText(m->err);
    if (self->first_delivery_error_.empty()) self->first_delivery_error_ = what;
    if (self->options_.guarantee == DeliveryGuarantee::NONE) spdlog::warn("KafkaSink: {}", what);
  }

  void ThrowIfDeliveryFailed() const {
    if (options_.guarantee == DeliveryGuarantee::AT_LEAST_ONCE && !first_delivery_error_.empty()) {
      throw std::runtime_error("KafkaSink (" + options_.bootstrap_servers + "): " + first_delivery_error_);
    }
  }

  // Queues one record (empty topic: the default one), waiting for room when
  // the client's queue is full.
  void Produce(rd_kafka_t* producer, const KafkaProducerRecord& r, const std::string& transactional_id) {
    const std::string& topic = r.topic.empty() ? options_.default_topic : r.topic;
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    const int32_t partition = r.partition ? *r.partition : RD_KAFKA_PARTITION_UA;
    const void* key = r.key ? r.key->data() : nullptr;
    const size_t key_size = r.key ? r.key->size() : 0;
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("KafkaSink: cannot send a record to topic '" + topic + "' at " +
                                 options_.bootstrap_servers +
                                 (transactional_id.empty() ? "" : " in transaction " + transactional_id) + ": " +
                                 ErrorText(err));
      }
      rd_kafka_poll(producer, 10);
    }
  }

  void Flush(rd_kafka_t* producer, const std::string& what) {
    const rd_kafka_resp_err_t err = rd_kafka_flush(producer, TimeoutMs(options_.timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("KafkaSink: " + std::to_string(rd_kafka_outq_len(producer)) +
                               " records to " + options_.bootstrap_servers + " were not acknowledged within " +
                               std::to_string(options_.timeout.count()) + " ms at " + what + ": " + ErrorText(err));
    }
  }

  // Begins a transaction on an initialized producer and writes the records
  // and the marker into it.
  void WriteTransaction(rd_kafka_t* producer, const KafkaTransaction& txn, const std::string& id) {
    Check(rd_kafka_begin_transaction(producer), "begin_transaction", id);
    first_delivery_error_.clear();
    for (const KafkaProducerRecord& r : txn.records) Produce(producer, r, id);
    Flush(producer, "the pre-commit of transaction " + id);
    if (!first_delivery_error_.empty()) {
      throw std::runtime_error("KafkaSink: transaction " + id + ": " + first_delivery_error_);
    }
    PartitionList offsets(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(offsets.get(), txn.records.front().topic.c_str(), kMarkerPartition)->offset =
        txn.checkpoint_id;
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new(MarkerGroup(txn).c_str());
    KafkaError error(rd_kafka_send_offsets_to_transaction(producer, offsets.get(), group, TimeoutMs(options_.timeout)));
    rd_kafka_consumer_group_metadata_destroy(group);
    Check(error.release(), "send_offsets_to_transaction", id);
  }

  void CommitTransaction(rd_kafka_t* producer, const std::string& id) {
    for (;;) {
      KafkaError error(rd_kafka_commit_transaction(producer, TimeoutMs(options_.timeout)));
      if (!error) return;
      if (rd_kafka_error_is_retriable(error.get())) continue;
      if (rd_kafka_error_txn_requires_abort(error.get())) {
        KafkaError ignored(rd_kafka_abort_transaction(producer, TimeoutMs(options_.timeout)));
      }
      Check(error.release(), "commit_transaction", id);
    }
  }

  // Throws for an error of a transactional call, saying whether the producer
  // was fenced by a newer one.
  void Check(rd_kafka_error_t* raw, const char* call, const std::string& id) const {
    KafkaError error(raw);
    if (!error) return;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(error.get());
    const bool fenced = code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                        code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
    throw std::runtime_error("KafkaSink: " + std::string(call) + " of transaction " + id + " at " +
                             options_.bootstrap_servers + " failed" +
                             (fenced ? " (fenced: a newer producer with this transactional id took over)" : "") +
                             ": " + rd_kafka_error_string(error.get()) + " (" + rd_kafka_err2name(code) + ")");
  }

  // The checkpoint id last committed with a transaction of the marker group
  // of `txn`, as a read_committed reader sees it; -1 if none.
  int64_t ReadMarker(const KafkaTransaction& txn) {
    kafka_internal::ClientConfig config("KafkaSink", options_.bootstrap_servers);
    config.Set("group.id", MarkerGroup(txn));
    config.Set("isolation.level", "read_committed");
    config.Set("enable.auto.commit", "false");
    KafkaHandle consumer = config.Create(RD_KAFKA_CONSUMER);
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), txn.records.front().topic.c_str(), kMarkerPartition);
    rd_kafka_resp_err_t err = rd_kafka_committed(consumer.get(), list.get(), TimeoutMs(options_.timeout));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    rd_kafka_consumer_close(consumer.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("KafkaSink: cannot read the commit marker of group '" + MarkerGroup(txn) + "' at " +
                               options_.bootstrap_servers + ": " + ErrorText(err));
    }
    return list->elems[0].offset >= 0 ? list->elems[0].offset : -1;
  }

  KafkaSinkOptions options_;
  int subtask_;
  Counter& delivery_errors_;
  KafkaHandle producer_;                          // NONE, AT_LEAST_ONCE
  std::map<std::string, KafkaHandle> transactions_;  // EXACTLY_ONCE: pre-committed, by transactional id
  std::string first_delivery_error_;
  int since_poll_ = 0;
};

KafkaSinkWriter::KafkaSinkWriter(const KafkaSinkOptions& options, int subtask, MetricGroup& metrics)
    : impl_(std::make_unique<Impl>(options, subtask, metrics)) {}
KafkaSinkWriter::~KafkaSinkWriter() = default;
KafkaTransaction KafkaSinkWriter::Begin(int64_t last_checkpoint_id) const { return impl_->Begin(last_checkpoint_id); }
void KafkaSinkWriter::Write(KafkaTransaction& txn, KafkaProducerRecord record) {
  impl_->Write(txn, std::move(record));
}
void KafkaSinkWriter::PreCommit(KafkaTransaction& txn, int64_t checkpoint_id) { impl_->PreCommit(txn, checkpoint_id); }
void KafkaSinkWriter::Commit(KafkaTransaction& txn) { impl_->Commit(txn); }
void KafkaSinkWriter::Abort(KafkaTransaction& txn) { impl_->Abort(txn); }
void KafkaSinkWriter::RecoverAndCommit(KafkaTransaction& txn) { impl_->RecoverAndCommit(txn); }
void KafkaSinkWriter::AbortLingering(int32_t subtask, int64_t checkpoint_id) {
  impl_->AbortLingering(subtask, checkpoint_id);
}
void KafkaSinkWriter::FlushOnFinish() { impl_->FlushOnFinish(); }

}  // namespace eddy::connectors::internal
