// The Kafka connector: KafkaSource<T> reads topics into a stream, KafkaSink<T>
// writes a stream into topics, both configured with builders:
//
//   auto source = eddy::connectors::KafkaSource<Event>::builder()
//                     .setBootstrapServers("broker:9092")
//                     .setTopics({"events"})
//                     .setGroupId("my-job")
//                     .setStartingOffsets(eddy::connectors::OffsetsInitializer::committedOffsets())
//                     .setDeserializer([](const eddy::connectors::KafkaRecord& r) { return ParseEvent(r.value); })
//                     .build();
//   env.addSource(source, "Kafka").keyBy(...)...
//       .addSink(eddy::connectors::KafkaSink<Result>::builder()
//                    .setBootstrapServers("broker:9092")
//                    .setTopic("results")
//                    .setValueSerializer([](const Result& r) { return ToJson(r); })
//                    .setDeliveryGuarantee(eddy::connectors::DeliveryGuarantee::EXACTLY_ONCE)
//                    .setTransactionalIdPrefix("my-job")
//                    .build(), "Kafka");
//
// The client library (librdkafka) stays inside libeddy-connector-kafka.so: this
// header only declares the classes that wrap it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/metrics.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "eddy/two_phase_commit.h"
#include "eddy/watermarks.h"

namespace eddy::connectors {

// One consumed Kafka record, as the deserializer sees it. The views point into
// the client's buffers and are valid only during the deserializer call.
struct KafkaRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  // The record's timestamp (ms since the epoch), or -1 if it has none.
  int64_t timestamp = -1;
  // A null key or value reads as empty; has_key / has_value tell them apart.
  std::string_view key;
  std::string_view value;
  bool has_key = false;
  bool has_value = false;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

// What a KafkaSink writes for one element.
struct KafkaProducerRecord {
  // Empty: the sink's default topic (setTopic).
  std::string topic;
  // No key: the client spreads records over partitions.
  std::optional<std::string> key;
  std::string value;
  // No partition: chosen by the client from the key.
  std::optional<int32_t> partition;
};
EDDY_FIELDS(KafkaProducerRecord, topic, key, value, partition);

// Where a KafkaSource starts reading a partition on a fresh start (a restored
// source continues from its checkpoint instead).
class OffsetsInitializer {
 public:
  enum class Kind { kEarliest, kLatest, kCommitted, kTimestamp };
  // What committedOffsets() does for a partition the group has no offset for.
  enum class ResetStrategy { EARLIEST, LATEST, NONE };

  static OffsetsInitializer earliest() { return OffsetsInitializer(Kind::kEarliest); }
  static OffsetsInitializer latest() { return OffsetsInitializer(Kind::kLatest); }
  // The group's committed offsets (needs setGroupId); partitions without one
  // start as `reset` says (NONE: the source fails naming the partition).
  static OffsetsInitializer committedOffsets(ResetStrategy reset = ResetStrategy::NONE) {
    OffsetsInitializer o(Kind::kCommitted);
    o.reset_ = reset;
    return o;
  }
  // The first record with a timestamp >= `timestamp_ms` (the end if none is).
  static OffsetsInitializer timestamp(int64_t timestamp_ms) {
    OffsetsInitializer o(Kind::kTimestamp);
    o.timestamp_ = timestamp_ms;
    return o;
  }

  Kind kind() const { return kind_; }
  ResetStrategy reset() const { return reset_; }
  int64_t timestamp_ms() const { return timestamp_; }

 private:
  explicit OffsetsInitializer(Kind kind) : kind_(kind) {}
  Kind kind_;
  ResetStrategy reset_ = ResetStrategy::NONE;
  int64_t timestamp_ = 0;
};

enum class DeliveryGuarantee { NONE, AT_LEAST_ONCE, EXACTLY_ONCE };

// What a KafkaSource does with a record its deserializer throws on.
enum class DeserializationErrorMode {
  // Fail the task with a message naming topic, partition and offset.
  FAIL,
  // Drop the record and count it in the metric "numSkippedRecords".
  SKIP,
};

namespace internal {

// ---------------------------------------------------------------------------
// Source internals: the non-template part lives in the connector library.

struct KafkaSourceOptions {
  std::string bootstrap_servers;
  std::vector<std::string> topics;
  std::string topic_pattern;  // a regular expression matched against whole topic names
  std::string group_id;
  std::map<std::string, std::string> properties;
  OffsetsInitializer starting_offsets = OffsetsInitializer::earliest();
  bool bounded = false;
  std::chrono::milliseconds metadata_timeout{30000};
  std::chrono::milliseconds watermark_interval{200};
};

// The next offset to read of one partition: an element of the source's
// checkpointed union list state.
struct KafkaPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};
EDDY_FIELDS(KafkaPartitionOffset, topic, partition, offset);

// A partition assigned to this subtask.
struct KafkaAssignedPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t start_offset = 0;
  // Bounded mode: the partition's end offset when the source started;
  // otherwise -1.
  int64_t end_offset = -1;
};

// One subtask's Kafka consumer: finds the partitions, deals them to subtasks,
// resolves starting offsets, polls records and commits offsets.
class KafkaPartitionReader {
 public:
  // Connects, waits (up to options.metadata_timeout) for the topics' metadata
  // and assigns this subtask its partitions: every matching partition, sorted,
  // dealt round-robin by subtask index. `restored` holds every subtask's
  // checkpointed offsets after a restore (nullopt on a fresh start). Throws
  // std::runtime_error naming the servers or topic if that fails.
  KafkaPartitionReader(const KafkaSourceOptions& options, int subtask, int parallelism,
                       const std::optional<std::vector<KafkaPartitionOffset>>& restored, MetricGroup& metrics);
  ~KafkaPartitionReader();
  KafkaPartitionReader(const KafkaPartitionReader&) = delete;
  KafkaPartitionReader& operator=(const KafkaPartitionReader&) = delete;

  // This subtask's partitions with their starting (and bounded: end) offsets.
  const std::vector<KafkaAssignedPartition>& partitions() const;
  // Waits up to `timeout` for records and hands each one (with the index of
  // its partition in partitions()) to `consume`; returns how many it handed.
  size_t Poll(std::chrono::milliseconds timeout, absl::FunctionRef<void(size_t, const KafkaRecord&)> consume);
  // Stops fetching partition `index` (its end offset was reached).
  void Pause(size_t index);
  // Commits `offsets` to the group without waiting; failures are logged and
  // counted ("commitsFailed"), successes counted ("commitsSucceeded").
  void CommitAsync(const std::vector<KafkaPartitionOffset>& offsets);
  // Logs a record the deserializer rejected in SKIP mode.
  void LogSkipped(const KafkaRecord& record, const std::string& error);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Where a record is, for error messages: "topic 't' partition 2 offset 17".
std::string DescribeKafkaRecord(const KafkaRecord& record);

// ---------------------------------------------------------------------------
// Sink internals.

struct KafkaSinkOptions {
  std::string bootstrap_servers;
  std::string default_topic;
  DeliveryGuarantee guarantee = DeliveryGuarantee::AT_LEAST_ONCE;
  std::string transactional_id_prefix;
  std::map<std::string, std::string> properties;
  // EXACTLY_ONCE: how many transactional ids after the restored checkpoint are
  // aborted on start (see KafkaSink).
  int lingering_transactions_to_abort = 5;
  // Bound on transaction calls and flushes.
  std::chrono::milliseconds timeout{60000};
};

// One transaction of a KafkaSink (its TwoPhaseCommitSinkFunction TXN).
struct KafkaTransaction {
  // The subtask that began it: part of its transactional id and marker group.
  int32_t subtask = 0;
  // Once pre-committed, the checkpoint that pre-committed it (its id is
  // "<prefix>-<subtask>-<checkpoint_id>"); before, the last checkpoint before
  // it began.
  int64_t checkpoint_id = 0;
  bool precommitted = false;
  // EXACTLY_ONCE: the records, a write-ahead copy kept until commit so that
  // recovery can produce them again; empty in the other modes.
  std::vector<KafkaProducerRecord> records;
};
EDDY_FIELDS(KafkaTransaction, subtask, checkpoint_id, precommitted, records);

// One subtask's producers: a plain one (NONE, AT_LEAST_ONCE) or one
// transactional producer per pre-committed transaction (EXACTLY_ONCE).
class KafkaSinkWriter {
 public:
  KafkaSinkWriter(const KafkaSinkOptions& options, int subtask, MetricGroup& metrics);
  ~KafkaSinkWriter();
  KafkaSinkWriter(const KafkaSinkWriter&) = delete;
  KafkaSinkWriter& operator=(const KafkaSinkWriter&) = delete;

  KafkaTransaction Begin(int64_t last_checkpoint_id) const;
  // Sends the record (buffers it in the transaction for EXACTLY_ONCE). Throws
  // if an earlier record could not be delivered (AT_LEAST_ONCE).
  void Write(KafkaTransaction& txn, KafkaProducerRecord record);
  // AT_LEAST_ONCE: waits until every record is delivered. EXACTLY_ONCE:
  // produces the transaction's records in a transaction with id
  // "<prefix>-<subtask>-<checkpoint_id>" together with its marker, and flushes.
  void PreCommit(KafkaTransaction& txn, int64_t checkpoint_id);
  // Commits a transaction this writer pre-committed; throws if it fails (for
  // instance because a newer producer fenced it).
  void Commit(KafkaTransaction& txn);
  void Abort(KafkaTransaction& txn);
  // A restored pre-committed transaction: fences its old producer, then
  // produces and commits it again unless its marker shows it committed.
  void RecoverAndCommit(KafkaTransaction& txn);
  // Aborts transactions "<prefix>-<subtask>-<k>" for the next
  // lingering_transactions_to_abort ids k after `checkpoint_id`.
  void AbortLingering(int32_t subtask, int64_t checkpoint_id);
  // Waits (bounded) for the records of NONE / AT_LEAST_ONCE to be sent, at a
  // normal end.
  void FlushOnFinish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace internal

template <class T>
class KafkaSourceBuilder;
template <class T>
class KafkaSinkBuilder;

// A parallel, checkpointed source of Kafka records (env.addSource(source)).
//
// Partitions: every partition of the topics (or of the topics matching the
// pattern), sorted by topic and number, is dealt round-robin to the subtasks
// (assign(), no group rebalancing), so each partition is read by one subtask.
// Checkpoints store the next offset of every partition in a union list state:
// on restore, at any parallelism, the partitions are dealt again and each
// continues from its checkpointed offset, not from the group's committed one
// (partitions created since start from the earliest offset). When a checkpoint
// completes its offsets are committed to the group, asynchronously, for
// monitoring only.
//
// Records carry their Kafka timestamp, or the one the WatermarkStrategy's
// assigner gives. With a WatermarkStrategy each partition has its own
// generator and the source emits the minimum over its partitions (partitions
// marked idle by withIdleness, and finished ones in bounded mode, do not hold
// it back; a partition that has seen no record yet does).
//
// Bounded mode reads each partition up to its end offset at start, then ends.
template <class T>
class KafkaSource final : public RichParallelSourceFunction<T>, public CheckpointedFunction, public CheckpointListener {
 public:
  using Deserializer = std::function<T(const KafkaRecord&)>;

  static KafkaSourceBuilder<T> builder() { return KafkaSourceBuilder<T>(); }

  // A copy (one per parallel instance) shares the configuration, not the state.
  KafkaSource(const KafkaSource& other) : config_(other.config_) {}
  KafkaSource& operator=(const KafkaSource&) = delete;

  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getUnionListState(
        ListStateDescriptor<internal::KafkaPartitionOffset>("kafka-partition-offsets"));
    restored_.reset();
    if (context.isRestored()) {
      std::vector<internal::KafkaPartitionOffset> offsets = state_->get();
      // A snapshot without this source (added since) is a fresh start.
      if (!offsets.empty()) restored_ = std::move(offsets);
    }
  }

  void open(RuntimeContext& context) override {
    MetricGroup& metrics = context.getMetricGroup();
    skipped_ = &metrics.counter("numSkippedRecords");
    reader_ = std::make_unique<internal::KafkaPartitionReader>(config_->options, context.getIndexOfThisSubtask(),
                                                               context.getNumberOfParallelSubtasks(), restored_,
                                                               metrics);
    partitions_.clear();
    for (const internal::KafkaAssignedPartition& assigned : reader_->partitions()) {
      PartitionState p;
      p.next_offset = assigned.start_offset;
      p.end_offset = assigned.end_offset;
      if (config_->watermarks) p.generator = config_->watermarks->factory()();
      partitions_.push_back(std::move(p));
    }
  }

  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    RequireOpen("run");
    size_t unfinished = 0;
    for (size_t i = 0; i < partitions_.size(); ++i) {
      if (Finished(partitions_[i])) {
        MarkFinished(i);
      } else {
        ++unfinished;
      }
    }
    const bool bounded = config_->options.bounded;
    const std::chrono::milliseconds interval = config_->options.watermark_interval;
    auto next_emit = std::chrono::steady_clock::now() + interval;
    // A subtask without partitions must not hold back event time downstream.
    if (partitions_.empty()) ctx.markAsTemporarilyIdle();
    while (!cancelled_.load(std::memory_order_relaxed) && ctx.isRunning()) {
      if (bounded && unfinished == 0) break;
      const size_t polled = reader_->Poll(std::chrono::milliseconds(100), [&](size_t index, const KafkaRecord& record) {
        PartitionState& p = partitions_[index];
        if (p.finished || record.offset < p.next_offset) return;
        if (p.end_offset >= 0 && record.offset >= p.end_offset) {
          MarkFinished(index);
          --unfinished;
          return;
        }
        // The position points at this record while collect() runs: a
        // checkpoint taken inside it resumes here.
        p.next_offset = record.offset;
        Emit(p, record, ctx);
        p.next_offset = record.offset + 1;
        if (p.end_offset >= 0 && p.next_offset >= p.end_offset) {
          MarkFinished(index);
          --unfinished;
          // A finished partition no longer holds the watermark back.
          if (config_->watermarks) EmitCombinedWatermark(ctx);
        }
      });
      if (config_->watermarks) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_emit) {
          EmitPeriodicWatermarks(ctx, now);
          next_emit = now + interval;
        }
      }
      if (polled == 0) ctx.flush();  // idle: push buffered records, take due checkpoints
    }
  }

  void cancel() override { cancelled_.store(true, std::memory_order_relaxed); }

  void snapshotState(const FunctionSnapshotContext& context) override {
    std::vector<internal::KafkaPartitionOffset> offsets;
    if (reader_ == nullptr) {
      // Not opened: keep what was restored (every subtask writes the same).
      if (restored_) offsets = *restored_;
    } else {
      const auto& assigned = reader_->partitions();
      for (size_t i = 0; i < partitions_.size(); ++i) {
        offsets.push_back({assigned[i].topic, assigned[i].partition, partitions_[i].next_offset});
      }
    }
    state_->update(offsets);
    pending_commits_.emplace_back(context.getCheckpointId(), std::move(offsets));
    // Only the newest snapshots can still complete; older ones are subsumed.
    constexpr size_t kMaxPendingCommits = 16;
    if (pending_commits_.size() > kMaxPendingCommits) pending_commits_.erase(pending_commits_.begin());
  }

  // Commits the offsets of checkpoint `checkpoint_id` (the newest one up to
  // it) to the group.
  void notifyCheckpointComplete(int64_t checkpoint_id) override {
    const std::vector<internal::KafkaPartitionOffset>* newest = nullptr;
    size_t done = 0;
    while (done < pending_commits_.size() && pending_commits_[done].first <= checkpoint_id) {
      newest = &pending_commits_[done].second;
      ++done;
    }
    if (newest != nullptr && reader_ != nullptr && !newest->empty()) reader_->CommitAsync(*newest);
    pending_commits_.erase(pending_commits_.begin(), pending_commits_.begin() + static_cast<std::ptrdiff_t>(done));
  }

  void close() override { reader_.reset(); }

 private:
  friend class KafkaSourceBuilder<T>;

  struct Config {
    internal::KafkaSourceOptions options;
    Deserializer deserializer;
    DeserializationErrorMode error_mode = DeserializationErrorMode::FAIL;
    std::optional<WatermarkStrategy<T>> watermarks;
  };

  // One partition's watermark, fed by its generator.
  class PartitionWatermark final : public WatermarkOutput {
   public:
    void emitWatermark(int64_t watermark) override {
      if (watermark > value) value = watermark;
      idle = false;
    }
    void markIdle() override { idle = true; }
    void markActive() override { idle = false; }
    int64_t value = std::numeric_limits<int64_t>::min();
    bool idle = false;
  };

  struct PartitionState {
    int64_t next_offset = 0;
    int64_t end_offset = -1;
    bool finished = false;
    std::unique_ptr<WatermarkGenerator<T>> generator;
    PartitionWatermark watermark;
    std::chrono::steady_clock::time_point last_event = std::chrono::steady_clock::now();
  };

  explicit KafkaSource(std::shared_ptr<const Config> config) : config_(std::move(config)) {}

  static bool Finished(const PartitionState& p) { return p.end_offset >= 0 && p.next_offset >= p.end_offset; }

  void MarkFinished(size_t index) {
    partitions_[index].finished = true;
    reader_->Pause(index);
  }

  void RequireOpen(const char* what) const {
    if (reader_ == nullptr) throw std::logic_error(std::string("KafkaSource::") + what + " before open()");
  }

  // Deserializes, stamps and collects one record; feeds its partition's
  // watermark generator.
  void Emit(PartitionState& p, const KafkaRecord& record, typename SourceFunction<T>::SourceContext& ctx) {
    std::optional<T> value;
    try {
      value.emplace(config_->deserializer(record));
    } catch (const std::exception& e) {
      if (config_->error_mode == DeserializationErrorMode::FAIL) {
        throw std::runtime_error("KafkaSource cannot deserialize the record at " +
                                 internal::DescribeKafkaRecord(record) + ": " + e.what());
      }
      skipped_->inc();
      reader_->LogSkipped(record, e.what());
      return;
    }
    int64_t timestamp = record.timestamp;
    if (config_->watermarks && config_->watermarks->assigner()) {
      timestamp = config_->watermarks->assigner()(*value, record.timestamp);
    }
    if (timestamp >= 0 || (config_->watermarks && config_->watermarks->assigner())) {
      ctx.collectWithTimestamp(*value, timestamp);
    } else {
      ctx.collect(*value);
    }
    if (p.generator) {
      const int64_t before = p.watermark.value;
      p.last_event = std::chrono::steady_clock::now();
      p.watermark.idle = false;
      p.generator->onEvent(*value, timestamp, p.watermark);
      if (p.watermark.value != before) EmitCombinedWatermark(ctx);
    }
  }

  void EmitPeriodicWatermarks(typename SourceFunction<T>::SourceContext& ctx,
                              std::chrono::steady_clock::time_point now) {
    const int64_t idle_ms = config_->watermarks->idle_timeout();
    for (PartitionState& p : partitions_) {
      if (p.finished) continue;
      if (idle_ms > 0 && now - p.last_event >= std::chrono::milliseconds(idle_ms)) {
        p.watermark.markIdle();
      } else {
        p.generator->onPeriodicEmit(p.watermark);
      }
    }
    EmitCombinedWatermark(ctx);
  }

  // The minimum over partitions that are neither idle nor finished.
  void EmitCombinedWatermark(typename SourceFunction<T>::SourceContext& ctx) {
    std::optional<int64_t> minimum;
    for (const PartitionState& p : partitions_) {
      if (p.finished || p.watermark.idle) continue;
      if (!minimum || p.watermark.value < *minimum) minimum = p.watermark.value;
    }
    if (minimum && *minimum > emitted_watermark_) {
      emitted_watermark_ = *minimum;
      ctx.emitWatermark(*minimum);
    }
  }

  std::shared_ptr<const Config> config_;
  ListState<internal::KafkaPartitionOffset>* state_ = nullptr;
  std::optional<std::vector<internal::KafkaPartitionOffset>> restored_;
  std::unique_ptr<internal::KafkaPartitionReader> reader_;
  std::vector<PartitionState> partitions_;  // parallel to reader_->partitions()
  std::vector<std::pair<int64_t, std::vector<internal::KafkaPartitionOffset>>> pending_commits_;
  Counter* skipped_ = nullptr;
  int64_t emitted_watermark_ = std::numeric_limits<int64_t>::min();
  std::atomic<bool> cancelled_{false};
};

template <class T>
class KafkaSourceBuilder {
 public:
  // Comma-separated host:port list.
  KafkaSourceBuilder& setBootstrapServers(std::string servers) {
    config_.options.bootstrap_servers = std::move(servers);
    return *this;
  }
  KafkaSourceBuilder& setTopics(std::vector<std::string> topics) {
    config_.options.topics = std::move(topics);
    return *this;
  }
  // Every topic whose whole name matches `regex` (ECMAScript syntax) when the
  // source starts.
  KafkaSourceBuilder& setTopicPattern(std::string regex) {
    config_.options.topic_pattern = std::move(regex);
    return *this;
  }
  // The group offsets are committed to (and read by committedOffsets()).
  KafkaSourceBuilder& setGroupId(std::string group_id) {
    config_.options.group_id = std::move(group_id);
    return *this;
  }
  KafkaSourceBuilder& setStartingOffsets(OffsetsInitializer offsets) {
    config_.options.starting_offsets = offsets;
    return *this;
  }
  // Client properties (librdkafka names), applied after the source's own.
  KafkaSourceBuilder& setProperty(const std::string& key, std::string value) {
    config_.options.properties[key] = std::move(value);
    return *this;
  }
  KafkaSourceBuilder& setDeserializer(std::function<T(const KafkaRecord&)> deserializer) {
    config_.deserializer = std::move(deserializer);
    return *this;
  }
  // The record's value as a string (for KafkaSource<std::string>).
  KafkaSourceBuilder& setValueOnlyDeserializer(std::function<T(std::string_view)> deserializer) {
    config_.deserializer = [deserializer = std::move(deserializer)](const KafkaRecord& r) {
      return deserializer(r.value);
    };
    return *this;
  }
  KafkaSourceBuilder& setDeserializationErrorMode(DeserializationErrorMode mode) {
    config_.error_mode = mode;
    return *this;
  }
  KafkaSourceBuilder& setWatermarkStrategy(WatermarkStrategy<T> strategy) {
    config_.watermarks = std::move(strategy);
    return *this;
  }
  // Read up to the end offsets of the start, then finish.
  KafkaSourceBuilder& setBounded() {
    config_.options.bounded = true;
    return *this;
  }
  // How long the source waits for the brokers' metadata before it fails.
  KafkaSourceBuilder& setMetadataTimeout(std::chrono::milliseconds timeout) {
    config_.options.metadata_timeout = timeout;
    return *this;
  }
  // How often partition watermark generators are asked for a watermark.
  KafkaSourceBuilder& setWatermarkInterval(std::chrono::milliseconds interval) {
    config_.options.watermark_interval = interval;
    return *this;
  }

  // Throws std::invalid_argument naming what is missing or contradictory.
  KafkaSource<T> build() const {
    const internal::KafkaSourceOptions& o = config_.options;
    if (o.bootstrap_servers.empty()) throw std::invalid_argument("KafkaSource: setBootstrapServers is required");
    if (o.topics.empty() == o.topic_pattern.empty()) {
      throw std::invalid_argument("KafkaSource: set either topics (setTopics) or a pattern (setTopicPattern)");
    }
    if (!config_.deserializer) throw std::invalid_argument("KafkaSource: setDeserializer is required");
    if (o.starting_offsets.kind() == OffsetsInitializer::Kind::kCommitted && o.group_id.empty()) {
      throw std::invalid_argument("KafkaSource: committedOffsets() needs a group id (setGroupId)");
    }
    if (o.metadata_timeout.count() <= 0 || o.watermark_interval.count() <= 0) {
      throw std::invalid_argument("KafkaSource: timeouts and intervals must be positive");
    }
    return KafkaSource<T>(std::make_shared<const typename KafkaSource<T>::Config>(config_));
  }

 private:
  typename KafkaSource<T>::Config config_;
};

// A sink writing each element as a Kafka record (stream.addSink(sink)):
//   NONE          - sent without waiting for acknowledgements;
//   AT_LEAST_ONCE - every record is acknowledged before a checkpoint
//                   completes; a delivery error fails the task;
//   EXACTLY_ONCE  - two-phase commit: the records between two checkpoints are
//                   written in one Kafka transaction, pre-committed at the
//                   first checkpoint and committed when it completes.
//
// EXACTLY_ONCE in detail. A transaction's records are kept in the checkpoint
// (a write-ahead copy) until it commits, so operator state holds up to one
// checkpoint interval of output. At the checkpoint a transactional producer
// with id "<prefix>-<subtask>-<checkpoint id>" writes them, together with a
// marker: the offset <checkpoint id> committed for group "<prefix>-<subtask>"
// (send_offsets_to_transaction), which becomes visible only with the
// transaction. A restored pre-committed transaction is first fenced
// (init_transactions on its id aborts it if still open and stops a zombie
// producer), then its marker is read (read_committed): if it is there the
// transaction had committed; if not, its records are written and committed
// again in a new transaction. On start, transactions of this subtask with the
// next setLingeringTransactionsToAbort ids after the restored checkpoint (or
// after 0) are aborted, so none blocks read_committed consumers; any older
// one ends with transaction.timeout.ms. Use one prefix per job.
template <class T>
class KafkaSink final : public TwoPhaseCommitSinkFunction<T, internal::KafkaTransaction> {
  using Base = TwoPhaseCommitSinkFunction<T, internal::KafkaTransaction>;

 public:
  using Serializer = std::function<KafkaProducerRecord(const T&)>;
  using Base::invoke;

  static KafkaSinkBuilder<T> builder() { return KafkaSinkBuilder<T>(); }

  KafkaSink(const KafkaSink& other) : Base(other), config_(other.config_) {}
  KafkaSink& operator=(const KafkaSink&) = delete;

  void initializeState(FunctionInitializationContext& context) override {
    RuntimeContext& runtime = this->getRuntimeContext();
    subtask_ = runtime.getIndexOfThisSubtask();
    writer_ = std::make_unique<internal::KafkaSinkWriter>(config_->options, subtask_, runtime.getMetricGroup());
    Base::initializeState(context);
  }

  void snapshotState(const FunctionSnapshotContext& context) override {
    snapshot_checkpoint_ = context.getCheckpointId();
    Base::snapshotState(context);
    last_checkpoint_ = context.getCheckpointId();
    snapshot_checkpoint_.reset();
  }

  void finish() override {
    Base::finish();
    finished_ = true;
  }

  void close() override {
    Base::close();
    if (writer_ != nullptr && finished_) writer_->FlushOnFinish();
    writer_.reset();
  }

 protected:
  internal::KafkaTransaction beginTransaction() override { return writer_->Begin(last_checkpoint_); }
  void invoke(internal::KafkaTransaction& txn, const T& value) override {
    writer_->Write(txn, config_->serializer(value));
  }
  void preCommit(internal::KafkaTransaction& txn) override {
    // Without a checkpoint (the end of a job that does not checkpoint) the id
    // after the transaction's last checkpoint is still unused.
    writer_->PreCommit(txn, snapshot_checkpoint_ ? *snapshot_checkpoint_ : txn.checkpoint_id + 1);
  }
  void commit(internal::KafkaTransaction& txn) override { writer_->Commit(txn); }
  void abort(internal::KafkaTransaction& txn) override { writer_->Abort(txn); }
  void recoverAndCommit(internal::KafkaTransaction& txn) override {
    last_checkpoint_ = std::max(last_checkpoint_, txn.checkpoint_id);
    writer_->RecoverAndCommit(txn);
  }
  // The restored in-flight transaction was never written; transactions a
  // later checkpoint pre-committed before the failure linger: abort them.
  void recoverAndAbort(internal::KafkaTransaction& txn) override {
    last_checkpoint_ = std::max(last_checkpoint_, txn.checkpoint_id);
    if (config_->options.guarantee == DeliveryGuarantee::EXACTLY_ONCE) {
      writer_->AbortLingering(txn.subtask, txn.checkpoint_id);
      if (txn.subtask == subtask_) own_lingering_aborted_ = true;
    }
  }
  void finishRecoveringContext() override {
    if (config_->options.guarantee == DeliveryGuarantee::EXACTLY_ONCE && !own_lingering_aborted_) {
      writer_->AbortLingering(subtask_, last_checkpoint_);
    }
  }

 private:
  friend class KafkaSinkBuilder<T>;

  struct Config {
    internal::KafkaSinkOptions options;
    Serializer serializer;
  };

  explicit KafkaSink(std::shared_ptr<const Config> config) : config_(std::move(config)) {}

  std::shared_ptr<const Config> config_;
  std::unique_ptr<internal::KafkaSinkWriter> writer_;
  int subtask_ = 0;
  int64_t last_checkpoint_ = 0;                // the newest checkpoint seen (taken or restored)
  std::optional<int64_t> snapshot_checkpoint_;  // set while snapshotState runs
  bool own_lingering_aborted_ = false;
  bool finished_ = false;
};

template <class T>
class KafkaSinkBuilder {
 public:
  KafkaSinkBuilder& setBootstrapServers(std::string servers) {
    config_.options.bootstrap_servers = std::move(servers);
    return *this;
  }
  // The topic of records whose serializer leaves the topic empty.
  KafkaSinkBuilder& setTopic(std::string topic) {
    config_.options.default_topic = std::move(topic);
    return *this;
  }
  KafkaSinkBuilder& setRecordSerializer(std::function<KafkaProducerRecord(const T&)> serializer) {
    config_.serializer = std::move(serializer);
    return *this;
  }
  // Only a value, to the default topic, without a key.
  KafkaSinkBuilder& setValueSerializer(std::function<std::string(const T&)> serializer) {
    config_.serializer = [serializer = std::move(serializer)](const T& value) {
      KafkaProducerRecord record;
      record.value = serializer(value);
      return record;
    };
    return *this;
  }
  KafkaSinkBuilder& setDeliveryGuarantee(DeliveryGuarantee guarantee) {
    config_.options.guarantee = guarantee;
    return *this;
  }
  // Required for EXACTLY_ONCE; must differ between jobs writing to one cluster.
  KafkaSinkBuilder& setTransactionalIdPrefix(std::string prefix) {
    config_.options.transactional_id_prefix = std::move(prefix);
    return *this;
  }
  // Client properties (librdkafka names), applied after the sink's own.
  KafkaSinkBuilder& setProperty(const std::string& key, std::string value) {
    config_.options.properties[key] = std::move(value);
    return *this;
  }
  KafkaSinkBuilder& setLingeringTransactionsToAbort(int count) {
    config_.options.lingering_transactions_to_abort = count;
    return *this;
  }
  // Bound on flushes and transaction calls.
  KafkaSinkBuilder& setTimeout(std::chrono::milliseconds timeout) {
    config_.options.timeout = timeout;
    return *this;
  }

  // Throws std::invalid_argument naming what is missing.
  KafkaSink<T> build() const {
    const internal::KafkaSinkOptions& o = config_.options;
    if (o.bootstrap_servers.empty()) throw std::invalid_argument("KafkaSink: setBootstrapServers is required");
    if (!config_.serializer) {
      throw std::invalid_argument("KafkaSink: setRecordSerializer or setValueSerializer is required");
    }
    if (o.guarantee == DeliveryGuarantee::EXACTLY_ONCE && o.transactional_id_prefix.empty()) {
      throw std::invalid_argument("KafkaSink: EXACTLY_ONCE needs a transactional id prefix (setTransactionalIdPrefix)");
    }
    if (o.lingering_transactions_to_abort < 0 || o.timeout.count() <= 0) {
      throw std::invalid_argument("KafkaSink: the lingering transaction count must be >= 0 and the timeout positive");
    }
    return KafkaSink<T>(std::make_shared<const typename KafkaSink<T>::Config>(config_));
  }

 private:
  typename KafkaSink<T>::Config config_;
};

}  // namespace eddy::connectors
