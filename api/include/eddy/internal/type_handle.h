// TypeHandleFor<T>(): the per-type glue the untyped runtime uses to fan out,
// serialize and deserialize records of type T, and the channel selectors of
// every partitioner. Instantiated in job libraries.
#pragma once

#include <atomic>
#include <random>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "eddy/internal/runtime_interfaces.h"
#include "eddy/key_group.h"
#include "eddy/key_hash.h"
#include "eddy/serializer.h"

namespace eddy::internal {

// Frame of a record on the wire: flags byte, optional timestamp, payload.
inline constexpr uint8_t kRecordHasTimestamp = 1;

template <class T>
class FanOutOutput final : public Output<T> {
 public:
  explicit FanOutOutput(std::vector<OutputBase*> outputs) {
    for (OutputBase* o : outputs) outputs_.push_back(static_cast<Output<T>*>(o));
  }
  void Collect(const T& value, int64_t timestamp) override {
    for (Output<T>* o : outputs_) o->Collect(value, timestamp);
  }
  void EmitWatermark(int64_t watermark) override {
    for (Output<T>* o : outputs_) o->EmitWatermark(watermark);
  }
  void EmitWatermarkStatus(bool idle) override {
    for (Output<T>* o : outputs_) o->EmitWatermarkStatus(idle);
  }

 private:
  std::vector<Output<T>*> outputs_;
};

template <class T>
class ChainingOutput final : public Output<T> {
 public:
  explicit ChainingOutput(Input<T>* input) : input_(input) {}
  void Collect(const T& value, int64_t timestamp) override { input_->ProcessElement(value, timestamp); }
  void EmitWatermark(int64_t watermark) override { input_->ProcessWatermark(watermark); }
  void EmitWatermarkStatus(bool idle) override { input_->ProcessWatermarkStatus(idle); }

 private:
  Input<T>* input_;
};

template <class T>
class NetworkOutput final : public Output<T> {
 public:
  NetworkOutput(RecordWriterBase* writer, std::unique_ptr<ChannelSelectorBase> selector)
      : writer_(writer), selector_(std::move(selector)) {
    broadcast_ = selector_->IsBroadcast();
    typed_ = broadcast_ ? nullptr : static_cast<ChannelSelector<T>*>(selector_.get());
  }
  void Collect(const T& value, int64_t timestamp) override {
    scratch_.clear();
    DataOutput out(&scratch_);
    if (timestamp == kNoTimestamp) {
      out.WriteByte(0);
    } else {
      out.WriteByte(kRecordHasTimestamp);
      out.WriteFixed64(static_cast<uint64_t>(timestamp));
    }
    TypeSerializer<T>::Serialize(value, out);
    if (broadcast_) {
      writer_->Broadcast(scratch_);
    } else {
      writer_->Emit(typed_->SelectChannel(value), scratch_);
    }
  }
  void EmitWatermark(int64_t watermark) override { writer_->BroadcastWatermark(watermark); }
  void EmitWatermarkStatus(bool idle) override { writer_->BroadcastWatermarkStatus(idle); }

 private:
  RecordWriterBase* writer_;
  std::unique_ptr<ChannelSelectorBase> selector_;
  ChannelSelector<T>* typed_;
  bool broadcast_;
  std::string scratch_;
};

template <class T>
class RecordDeserializer final : public RecordDeserializerBase {
 public:
  explicit RecordDeserializer(Input<T>* target) : target_(target) {}
  bool Process(std::string_view record, std::string* error) override {
    DataInput in(record);
    uint8_t flags = in.ReadByte();
    int64_t timestamp = kNoTimestamp;
    if (flags & kRecordHasTimestamp) timestamp = static_cast<int64_t>(in.ReadFixed64());
    TypeSerializer<T>::Deserialize(in, value_);
    if (!in.ok() || !in.AtEnd()) {
      *error = "malformed record of type " + std::string(typeid(T).name()) + ": " +
               (in.ok() ? std::string("trailing bytes") : in.error());
      return false;
    }
    target_->ProcessElement(value_, timestamp);
    return true;
  }
  InputBase* target() override { return target_; }

 private:
  Input<T>* target_;
  T value_{};
};

template <class T>
class TypeHandleImpl final : public TypeHandle {
 public:
  std::string_view name() const override { return typeid(T).name(); }
  std::unique_ptr<OutputBase> MakeFanOut(std::vector<OutputBase*> outputs) const override {
    return std::make_unique<FanOutOutput<T>>(std::move(outputs));
  }
  std::unique_ptr<OutputBase> MakeNetworkOutput(
      RecordWriterBase* writer, std::unique_ptr<ChannelSelectorBase> selector) const override {
    return std::make_unique<NetworkOutput<T>>(writer, std::move(selector));
  }
  std::unique_ptr<RecordDeserializerBase> MakeDeserializer(InputBase* target) const override {
    auto* typed = dynamic_cast<Input<T>*>(target);
    if (typed == nullptr) return nullptr;
    return std::make_unique<RecordDeserializer<T>>(typed);
  }
  std::unique_ptr<OutputBase> MakeChainingOutput(InputBase* input) const override {
    auto* typed = dynamic_cast<Input<T>*>(input);
    if (typed == nullptr) return nullptr;
    return std::make_unique<ChainingOutput<T>>(typed);
  }
  std::unique_ptr<ChannelSelectorBase> MakeSelector(PartitionKind kind,
                                                    int num_channels) const override;
  bool Accepts(InputBase* input) const override {
    return dynamic_cast<Input<T>*>(input) != nullptr;
  }
};

template <class T>
const TypeHandle* TypeHandleFor() {
  static_assert(kIsSerializable<T>,
                "this record type has no TypeSerializer: list its fields with "
                "EDDY_FIELDS(Type, field...) or specialize eddy::TypeSerializer");
  static const TypeHandleImpl<T> handle;
  return &handle;
}

// ---- Channel selectors, one per partitioner. ----

template <class T>
class FixedChannelSelector final : public ChannelSelector<T> {
 public:
  int SelectChannel(const T&) override { return 0; }
};

template <class T>
class RoundRobinSelector final : public ChannelSelector<T> {
 public:
  RoundRobinSelector(int num_channels, int start) : n_(num_channels), next_(start % num_channels) {}
  int SelectChannel(const T&) override {
    int c = next_;
    if (++next_ == n_) next_ = 0;
    return c;
  }

 private:
  int n_;
  int next_;
};

template <class T>
class ShuffleSelector final : public ChannelSelector<T> {
 public:
  explicit ShuffleSelector(int num_channels) : dist_(0, num_channels - 1), rng_(std::random_device{}()) {}
  int SelectChannel(const T&) override { return dist_(rng_); }

 private:
  std::uniform_int_distribution<int> dist_;
  std::minstd_rand rng_;
};

template <class T>
class BroadcastSelector final : public ChannelSelector<T> {
 public:
  bool IsBroadcast() const override { return true; }
  int SelectChannel(const T&) override { return 0; }
};

// Routes by key group: keyGroup = murmur(hash(key)) % maxParallelism and
// channel = keyGroup * parallelism / maxParallelism.
template <class T, class KeyFn>
class KeyGroupSelector final : public ChannelSelector<T> {
 public:
  KeyGroupSelector(KeyFn key_fn, int num_channels, int max_parallelism)
      : key_fn_(std::move(key_fn)), n_(num_channels), max_parallelism_(max_parallelism) {}
  int SelectChannel(const T& value) override {
    int key_group = AssignToKeyGroup(StableKeyHash(key_fn_(value)), max_parallelism_);
    return OperatorIndexForKeyGroup(max_parallelism_, n_, key_group);
  }

 private:
  KeyFn key_fn_;
  int n_;
  int max_parallelism_;
};

// Selector for the non-keyed partitioners.
template <class T>
std::unique_ptr<ChannelSelectorBase> MakeSelector(PartitionKind kind, int num_channels) {
  switch (kind) {
    case PartitionKind::kRebalance: {
      static std::atomic<int> start{0};
      return std::make_unique<RoundRobinSelector<T>>(num_channels, start++);
    }
    case PartitionKind::kRescale:
      return std::make_unique<RoundRobinSelector<T>>(num_channels, 0);
    case PartitionKind::kShuffle:
      return std::make_unique<ShuffleSelector<T>>(num_channels);
    case PartitionKind::kBroadcast:
      return std::make_unique<BroadcastSelector<T>>();
    default:
      return std::make_unique<FixedChannelSelector<T>>();
  }
}

template <class T>
std::unique_ptr<ChannelSelectorBase> TypeHandleImpl<T>::MakeSelector(PartitionKind kind,
                                                                    int num_channels) const {
  return internal::MakeSelector<T>(kind, num_channels);
}

}  // namespace eddy::internal
