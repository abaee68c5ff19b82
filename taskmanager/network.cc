// Network buffers, pools, subpartitions, record writers, local input channels
// and input gates.
#include "taskmanager/network.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace eddy::runtime {

// ---- NetworkBufferPool ----

NetworkBufferPool::NetworkBufferPool(int num_buffers, uint32_t segment_size)
    : segment_size_(segment_size), total_(num_buffers) {
  free_.reserve(static_cast<size_t>(num_buffers));
  for (int i = 0; i < num_buffers; ++i) free_.push_back(std::make_unique<NetworkBuffer>(segment_size));
}

absl::Status NetworkBufferPool::Reserve(int count, std::vector<std::unique_ptr<NetworkBuffer>>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(free_.size()) < count) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "insufficient number of network buffers: required ", count, ", but only ", free_.size(),
        " of ", total_, " available; raise taskmanager.memory.network.buffers"));
  }
  for (int i = 0; i < count; ++i) {
    out->push_back(std::move(free_.back()));
    free_.pop_back();
  }
  return absl::OkStatus();
}

void NetworkBufferPool::Release(std::vector<std::unique_ptr<NetworkBuffer>> buffers) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : buffers) free_.push_back(std::move(b));
}

int NetworkBufferPool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(free_.size());
}

// ---- LocalBufferPool ----

LocalBufferPool::LocalBufferPool(NetworkBufferPool* global,
                                 std::vector<std::unique_ptr<NetworkBuffer>> buffers)
    : global_(global), owned_(std::move(buffers)) {
  for (auto& b : owned_) free_.push_back(b.get());
}

LocalBufferPool::~LocalBufferPool() {
  if (global_ != nullptr) global_->Release(std::move(owned_));
}

NetworkBuffer* LocalBufferPool::Request() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return cancelled_ || !free_.empty(); });
  if (cancelled_) throw TaskCancelled{};
  NetworkBuffer* b = free_.back();
  free_.pop_back();
  b->size.store(0, std::memory_order_relaxed);
  b->finished.store(false, std::memory_order_relaxed);
  return b;
}

void LocalBufferPool::Recycle(NetworkBuffer* buffer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(buffer);
  }
  cv_.notify_one();
}

void LocalBufferPool::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

// ---- Subpartition ----

void Subpartition::SetListener(AvailabilityListener* listener, int channel) {
  std::lock_guard<std::mutex> listener_lock(listener_mu_);
  listener_ = listener;
  channel_ = channel;
  if (listener_ == nullptr) return;
  bool queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued = !queue_.empty();
  }
  // Data published before the reader attached would otherwise never be announced.
  if (queued) listener_->NotifyDataAvailable(channel_);
}

void Subpartition::Notify() {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_ != nullptr) listener_->NotifyDataAvailable(channel_);
}

void Subpartition::AddBuffer(NetworkBuffer* buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Entry{buffer, {}});
  // A recycled buffer may still be the one last announced: nothing of its new
  // content has been announced.
  notified_buffer_ = nullptr;
  notified_size_ = 0;
}

void Subpartition::FinishBuffer(NetworkBuffer* buffer) {
  buffer->finished.store(true, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_buffer_ = buffer;
    notified_size_ = buffer->size.load(std::memory_order_relaxed);
  }
  Notify();
}

void Subpartition::AddEvent(NetworkEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Entry{nullptr, event});
  }
  Notify();
}

void Subpartition::Flush() {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) return;
    const Entry& last = queue_.back();
    if (last.buffer == nullptr) {
      notify = true;
    } else {
      uint32_t size = last.buffer->size.load(std::memory_order_acquire);
      if (last.buffer != notified_buffer_ || size > notified_size_) {
        notified_buffer_ = last.buffer;
        notified_size_ = size;
        notify = true;
      }
    }
  }
  if (notify) Notify();
}

Subpartition::PollResult Subpartition::Poll(std::string_view* data, NetworkEvent* event) {
  return PollImpl(data, event, /*allow_data=*/true, /*flushed_only=*/false);
}

Subpartition::PollResult Subpartition::PollFlushed(std::string_view* data, NetworkEvent* event,
                                                   bool allow_data) {
  return PollImpl(data, event, allow_data, /*flushed_only=*/true);
}

Subpartition::PollResult Subpartition::PollImpl(std::string_view* data, NetworkEvent* event,
                                                bool allow_data, bool flushed_only) {
  NetworkBuffer* to_recycle = nullptr;
  PollResult result = PollResult::kNone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!queue_.empty()) {
      Entry& front = queue_.front();
      if (front.buffer == nullptr) {
        *event = front.event;
        queue_.pop_front();
        result = PollResult::kEvent;
        break;
      }
      NetworkBuffer* b = front.buffer;
      // Read `finished` before `size`: if finished, the size is final.
      bool finished = b->finished.load(std::memory_order_acquire);
      uint32_t size = b->size.load(std::memory_order_acquire);
      // An unfinished buffer is the newest one; only its flushed prefix counts.
      if (flushed_only && !finished) size = b == notified_buffer_ ? std::min(size, notified_size_) : 0;
      if (read_pos_ < size) {
        if (!allow_data) break;
        *data = std::string_view(b->data.get() + read_pos_, size - read_pos_);
        read_pos_ = size;
        result = PollResult::kData;
        break;
      }
      if (!finished) break;
      queue_.pop_front();
      read_pos_ = 0;
      if (to_recycle != nullptr) pool_->Recycle(to_recycle);
      to_recycle = b;
    }
  }
  if (to_recycle != nullptr) pool_->Recycle(to_recycle);
  return result;
}

// ---- Input channels ----

InputChannel::~InputChannel() = default;

LocalInputChannel::~LocalInputChannel() { subpartition_->SetListener(nullptr, 0); }

// ---- ResultPartition ----

ResultPartition::ResultPartition(int num_subpartitions, std::unique_ptr<LocalBufferPool> pool)
    : pool_(std::move(pool)) {
  for (int i = 0; i < num_subpartitions; ++i) {
    subpartitions_.push_back(std::make_unique<Subpartition>(pool_.get()));
  }
}

void ResultPartition::FlushAll() {
  for (auto& s : subpartitions_) s->Flush();
}

// ---- RecordWriter ----

RecordWriter::RecordWriter(ResultPartition* partition, bool flush_always)
    : partition_(partition),
      flush_always_(flush_always),
      current_(static_cast<size_t>(partition->num_subpartitions()), nullptr) {}

void RecordWriter::Append(int channel, const char* data, size_t size) {
  NetworkBuffer*& buffer = current_[static_cast<size_t>(channel)];
  Subpartition& sub = partition_->subpartition(channel);
  while (size > 0) {
    if (buffer == nullptr) {
      buffer = partition_->pool().Request();  // blocks under backpressure
      sub.AddBuffer(buffer);
    }
    uint32_t used = buffer->size.load(std::memory_order_relaxed);
    size_t n = std::min<size_t>(buffer->capacity - used, size);
    std::memcpy(buffer->data.get() + used, data, n);
    buffer->size.store(used + static_cast<uint32_t>(n), std::memory_order_release);
    data += n;
    size -= n;
    if (used + n == buffer->capacity) {
      NetworkBuffer* full = buffer;
      buffer = nullptr;
      sub.FinishBuffer(full);
    }
  }
}

void RecordWriter::Emit(int channel, std::string_view record) {
  char header[5];
  size_t n = 0;
  uint32_t v = static_cast<uint32_t>(record.size());
  while (v >= 0x80) {
    header[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  header[n++] = static_cast<char>(v);
  Append(channel, header, n);
  Append(channel, record.data(), record.size());
  records_.store(records_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bytes_.store(bytes_.load(std::memory_order_relaxed) + static_cast<int64_t>(n + record.size()),
               std::memory_order_relaxed);
  if (flush_always_) partition_->subpartition(channel).Flush();
}

void RecordWriter::Broadcast(std::string_view record) {
  for (int c = 0; c < num_channels(); ++c) Emit(c, record);
}

void RecordWriter::BroadcastEvent(NetworkEvent event) {
  for (int c = 0; c < num_channels(); ++c) {
    NetworkBuffer*& buffer = current_[static_cast<size_t>(c)];
    Subpartition& sub = partition_->subpartition(c);
    if (buffer != nullptr) {
      sub.FinishBuffer(buffer);
      buffer = nullptr;
    }
    sub.AddEvent(event);
  }
}

void RecordWriter::BroadcastWatermark(int64_t watermark) {
  BroadcastEvent({NetworkEvent::kWatermark, watermark});
}

void RecordWriter::BroadcastWatermarkStatus(bool idle) {
  BroadcastEvent({NetworkEvent::kWatermarkStatus, idle ? 1 : 0});
}

void RecordWriter::Finish() { BroadcastEvent({NetworkEvent::kEndOfPartition, 0}); }

// ---- InputGate ----

InputGate::InputGate(std::vector<ChannelSpec> channels)
    : channels_(std::move(channels)), queued_(channels_.size(), false) {
  for (size_t i = 0; i < channels_.size(); ++i) {
    channels_[i].channel->SetListener(this, static_cast<int>(i));
  }
}

InputGate::~InputGate() { channels_.clear(); }

void InputGate::NotifyDataAvailable(int channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_[static_cast<size_t>(channel)]) return;
    queued_[static_cast<size_t>(channel)] = true;
    available_.push_back(channel);
  }
  cv_.notify_one();
}

int InputGate::PopLocked() {
  int c = available_.front();
  available_.pop_front();
  queued_[static_cast<size_t>(c)] = false;
  return c;
}

void InputGate::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void InputGate::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

}  // namespace eddy::runtime
