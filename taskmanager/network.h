// The in-process half of the network stack: 32 KiB network buffers from bounded
// pools, result partitions with one subpartition per consumer, the InputChannel
// abstraction through which a task reads one producer subpartition (in memory
// here, over TCP in data_transport.h), and input gates that wake a task when any
// of its channels has data.
//
// A writer appends records to the newest buffer of a subpartition and publishes
// the written size with a release store; the reader reads what is published,
// so a buffer can be read while it is still being filled. Buffers are recycled
// when both sides are done with them. A writer that finds its pool empty blocks:
// that is backpressure. The reader of a subpartition is either a task in the
// same process (LocalInputChannel) or the DataServer, which sends it to a
// RemoteInputChannel in another TaskManager.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "eddy/internal/runtime_interfaces.h"

namespace eddy::runtime {

inline constexpr uint32_t kDefaultSegmentSize = 32 * 1024;

struct NetworkBuffer {
  explicit NetworkBuffer(uint32_t capacity)
      : data(std::make_unique<char[]>(capacity)), capacity(capacity) {}
  std::unique_ptr<char[]> data;
  const uint32_t capacity;
  std::atomic<uint32_t> size{0};      // bytes written and published by the writer
  std::atomic<bool> finished{false};  // the writer will not append any more
};

// Thrown out of blocking network calls when the task is cancelled.
struct TaskCancelled {};

// All network buffers of one TaskManager. Partitions reserve a fixed share when
// they are created, so a running job never waits on another job's buffers.
class NetworkBufferPool {
 public:
  NetworkBufferPool(int num_buffers, uint32_t segment_size);
  // Takes `count` buffers; ResourceExhausted naming the setting if there are not enough.
  absl::Status Reserve(int count, std::vector<std::unique_ptr<NetworkBuffer>>* out);
  void Release(std::vector<std::unique_ptr<NetworkBuffer>> buffers);
  uint32_t segment_size() const { return segment_size_; }
  int available() const;
  int total() const { return total_; }

 private:
  const uint32_t segment_size_;
  const int total_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<NetworkBuffer>> free_ ABSL_GUARDED_BY(mu_);
};

// A partition's own bounded set of buffers.
class LocalBufferPool {
 public:
  LocalBufferPool(NetworkBufferPool* global, std::vector<std::unique_ptr<NetworkBuffer>> buffers);
  ~LocalBufferPool();
  // Blocks until a buffer is free; throws TaskCancelled after Cancel().
  NetworkBuffer* Request();
  void Recycle(NetworkBuffer* buffer);
  void Cancel();

 private:
  NetworkBufferPool* global_;
  std::vector<std::unique_ptr<NetworkBuffer>> owned_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<NetworkBuffer*> free_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// In-band events travel in order with the data.
struct NetworkEvent {
  enum Kind : uint8_t {
    kEndOfPartition,
    kWatermark,
    kWatermarkStatus,     // value 1: idle, 0: active
    kCheckpointBarrier,   // value: checkpoint id; payload: the barrier's options
  };
  Kind kind = kEndOfPartition;
  int64_t value = 0;
  std::string payload;  // empty except for barriers
};

// Told when a subpartition (or an input channel) has something new for its reader.
class AvailabilityListener {
 public:
  virtual ~AvailabilityListener() = default;
  virtual void NotifyDataAvailable(int channel) = 0;
};

// The queue of buffers and events from one producer subtask to one consumer.
class Subpartition {
 public:
  explicit Subpartition(LocalBufferPool* pool) : pool_(pool) {}
  // Sets who is told about new data (null: nobody). Notifies the new listener at
  // once if anything is queued; when it returns, the old listener is no longer
  // called, so it may be destroyed.
  void SetListener(AvailabilityListener* listener, int channel);

  // ---- writer side ----
  // Starts a new buffer (it becomes readable as soon as data is published).
  void AddBuffer(NetworkBuffer* buffer);
  // Marks `buffer` finished and tells the consumer.
  void FinishBuffer(NetworkBuffer* buffer);
  void AddEvent(NetworkEvent event);
  // Tells the consumer about data it has not been told about yet.
  void Flush();

  // ---- reader side (one reader thread at a time) ----
  // kError is only returned by input channels that failed (see InputChannel).
  enum class PollResult { kNone, kData, kEvent, kError };
  // Returns the next published bytes (valid until the next Poll) or event.
  PollResult Poll(std::string_view* data, NetworkEvent* event);
  // Like Poll, but returns only bytes the writer finished or flushed (never a
  // slice of a buffer still being filled), and no data at all unless
  // `allow_data` (a network sender without credit still forwards events).
  PollResult PollFlushed(std::string_view* data, NetworkEvent* event, bool allow_data);

 private:
  struct Entry {
    NetworkBuffer* buffer = nullptr;  // null for events
    NetworkEvent event;
  };
  PollResult PollImpl(std::string_view* data, NetworkEvent* event, bool allow_data, bool flushed_only);
  void Notify();

  LocalBufferPool* pool_;
  // Held while the listener is called, so that SetListener() can detach it safely.
  std::mutex listener_mu_;
  AvailabilityListener* listener_ ABSL_GUARDED_BY(listener_mu_) = nullptr;
  int channel_ ABSL_GUARDED_BY(listener_mu_) = 0;
  std::mutex mu_;
  std::deque<Entry> queue_ ABSL_GUARDED_BY(mu_);
  uint32_t read_pos_ ABSL_GUARDED_BY(mu_) = 0;       // in the front buffer
  NetworkBuffer* notified_buffer_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint32_t notified_size_ ABSL_GUARDED_BY(mu_) = 0;
};

// The output of one producer subtask on one job edge.
class ResultPartition {
 public:
  ResultPartition(int num_subpartitions, std::unique_ptr<LocalBufferPool> pool);
  int num_subpartitions() const { return static_cast<int>(subpartitions_.size()); }
  Subpartition& subpartition(int i) { return *subpartitions_[static_cast<size_t>(i)]; }
  LocalBufferPool& pool() { return *pool_; }
  void FlushAll();
  void Cancel() { pool_->Cancel(); }

 private:
  std::unique_ptr<LocalBufferPool> pool_;
  std::vector<std::unique_ptr<Subpartition>> subpartitions_;
};

// Frames records (varint length + bytes) into a partition's subpartitions.
// Used by exactly one task thread.
class RecordWriter final : public internal::RecordWriterBase {
 public:
  // `flush_always`: buffer timeout 0, every record is sent at once.
  RecordWriter(ResultPartition* partition, bool flush_always);
  int num_channels() const override { return partition_->num_subpartitions(); }
  void Emit(int channel, std::string_view record) override;
  void Broadcast(std::string_view record) override;
  void BroadcastWatermark(int64_t watermark) override;
  void BroadcastWatermarkStatus(bool idle) override;
  // Sends end-of-partition on every subpartition.
  void Finish();
  // Sends `event` to every subpartition, in order with the records.
  void BroadcastEvent(NetworkEvent event);
  void Flush() { partition_->FlushAll(); }
  // Records and bytes written so far (any thread may read them).
  int64_t records_written() const { return records_.load(std::memory_order_relaxed); }
  int64_t bytes_written() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  void Append(int channel, const char* data, size_t size);

  ResultPartition* partition_;
  bool flush_always_;
  std::vector<NetworkBuffer*> current_;
  // Single writer: plain load + store, no read-modify-write on the hot path.
  std::atomic<int64_t> records_{0};
  std::atomic<int64_t> bytes_{0};
};

// How a task reads one producer subpartition: in memory (LocalInputChannel) or
// over TCP from another TaskManager (RemoteInputChannel, data_transport.h).
// Used by one task thread; the listener is called from any thread.
//
// Failure is a value: a channel that can no longer deliver (its connection was
// lost, the producer's partition is unknown) returns PollResult::kError once
// everything it received before the failure has been polled, and failure()
// says why. The task turns that into a task failure with the message.
class InputChannel {
 public:
  virtual ~InputChannel();
  // Returns the next bytes (valid until the next Poll), an event, kNone when
  // nothing is there yet, or kError when the channel failed.
  virtual Subpartition::PollResult Poll(std::string_view* data, NetworkEvent* event) = 0;
  // Sets who is told that Poll may return something; notifies at once if it
  // already would. After the channel is destroyed the listener is not called.
  virtual void SetListener(AvailabilityListener* listener, int channel) = 0;
  // OK, or why Poll returned kError.
  virtual absl::Status failure() const = 0;
};

// A channel to a subpartition in the same process. The subpartition must
// outlive the channel (destroy consumer gates before producer partitions); the
// producer may keep writing after the channel is gone.
class LocalInputChannel final : public InputChannel {
 public:
  explicit LocalInputChannel(Subpartition* subpartition) : subpartition_(subpartition) {}
  ~LocalInputChannel() override;  // detaches the listener
  Subpartition::PollResult Poll(std::string_view* data, NetworkEvent* event) override {
    return subpartition_->Poll(data, event);
  }
  void SetListener(AvailabilityListener* listener, int channel) override {
    subpartition_->SetListener(listener, channel);
  }
  absl::Status failure() const override { return absl::OkStatus(); }

 private:
  Subpartition* subpartition_;  // owned by its ResultPartition, which outlives this
};

// The inputs of one consumer subtask: a channel per producer subpartition it
// reads. The task waits on the gate; channels wake it.
class InputGate final : public AvailabilityListener {
 public:
  struct ChannelSpec {
    std::unique_ptr<InputChannel> channel;  // owned by the gate
    int input_index = 0;                    // logical input of the head operator (0 or 1)
  };
  explicit InputGate(std::vector<ChannelSpec> channels);
  // Destroys the channels first, so none calls back into a half-destroyed gate.
  ~InputGate() override;
  void NotifyDataAvailable(int channel) override;
  int num_channels() const { return static_cast<int>(channels_.size()); }
  const ChannelSpec& channel(int i) const { return channels_[static_cast<size_t>(i)]; }
  // A channel that may have data: returns immediately if one is queued;
  // otherwise calls `on_idle` once and blocks. -1 after Cancel().
  template <class F>
  int WaitForChannel(F&& on_idle) {
    return WaitForChannelUntil(std::chrono::steady_clock::time_point::max(), on_idle);
  }
  // The same, but gives up at `deadline` and returns kTimedOut.
  static constexpr int kTimedOut = -2;
  template <class F>
  int WaitForChannelUntil(std::chrono::steady_clock::time_point deadline, F&& on_idle);
  // Puts a channel back in the queue (it still had data).
  void Requeue(int channel) { NotifyDataAvailable(channel); }
  // Makes the current (or next) wait return kTimedOut at once: the task has
  // actions to run (checkpoints, notifications).
  void Wake();
  void Cancel();

 private:
  int PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<ChannelSpec> channels_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> available_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> queued_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

template <class F>
int InputGate::WaitForChannelUntil(std::chrono::steady_clock::time_point deadline, F&& on_idle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return -1;
    if (!available_.empty()) return PopLocked();
  }
  on_idle();
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return cancelled_ || woken_ || !available_.empty(); };
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    cv_.wait(lock, ready);
  } else if (!cv_.wait_until(lock, deadline, ready)) {
    return kTimedOut;
  }
  if (cancelled_) return -1;
  if (woken_) {
    woken_ = false;
    return kTimedOut;
  }
  return PopLocked();
}

// Reassembles length-framed records from the chunks of one channel.
class RecordFramer {
 public:
  // Calls `on_record(std::string_view)` for every complete record in `data`;
  // keeps a partial record for the next chunk. Returns false (and stops) if
  // on_record returns false.
  template <class F>
  bool Feed(std::string_view data, F&& on_record);
  bool HasPartialRecord() const { return !partial_.empty(); }

 private:
  std::string partial_;
};

// Decodes a varint32 from [p, end); returns bytes used, 0 if incomplete.
inline size_t DecodeVarint32(const char* p, const char* end, uint32_t* value) {
  uint32_t result = 0;
  for (int i = 0; i < 5 && p + i < end; ++i) {
    uint8_t b = static_cast<uint8_t>(p[i]);
    result |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = result;
      return static_cast<size_t>(i + 1);
    }
  }
  return 0;
}

template <class F>
bool RecordFramer::Feed(std::string_view data, F&& on_record) {
  const char* p = data.data();
  const char* end = p + data.size();
  // Finish a record that started in an earlier chunk.
  while (!partial_.empty() && p < end) {
    uint32_t len = 0;
    size_t header = DecodeVarint32(partial_.data(), partial_.data() + partial_.size(), &len);
    if (header == 0) {
      partial_.push_back(*p++);
      continue;
    }
    size_t need = header + len - partial_.size();
    size_t take = std::min(need, static_cast<size_t>(end - p));
    partial_.append(p, take);
    p += take;
    if (take == need) {
      bool ok = on_record(std::string_view(partial_.data() + header, len));
      partial_.clear();
      if (!ok) return false;
    }
  }
  while (p < end) {
    uint32_t len = 0;
    size_t header = DecodeVarint32(p, end, &len);
    if (header == 0 || static_cast<size_t>(end - p) < header + len) {
      partial_.assign(p, static_cast<size_t>(end - p));
      return true;
    }
    if (!on_record(std::string_view(p + header, len))) return false;
    p += header + len;
  }
  return true;
}

}  // namespace eddy::runtime
