// The seam between typed operator templates (compiled into job libraries) and the
// untyped task runtime (libeddy). Nothing here is user API: users see
// <eddy/eddy.h>. Operators are typed; the runtime reaches them through these
// type-erased bases and never needs to know a record type.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/key_group.h"

namespace eddy {
class RuntimeContext;
class OperatorStateStore;
class CheckpointedFunction;
class CheckpointListener;
}

namespace eddy::internal {

// A record without a timestamp carries this value.
inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxWatermark = std::numeric_limits<int64_t>::max();

// Where an operator sends what it produces.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void EmitWatermark(int64_t watermark) = 0;
  // An idle output holds back no watermark downstream until it is active again.
  virtual void EmitWatermarkStatus(bool idle) {}
};

template <class T>
class Output : public OutputBase {
 public:
  // Hands `value` downstream. The callee must copy what it keeps: the caller may
  // reuse the object as soon as Collect returns.
  virtual void Collect(const T& value, int64_t timestamp) = 0;
};

// One logical input of an operator.
class InputBase {
 public:
  virtual ~InputBase() = default;
  virtual void ProcessWatermark(int64_t watermark) = 0;
  // The whole input became idle (all its channels) or active again.
  virtual void ProcessWatermarkStatus(bool idle) {}
};

template <class T>
class Input : public InputBase {
 public:
  virtual void ProcessElement(const T& value, int64_t timestamp) = 0;
};

class KeyedStateBackend;

enum class PartitionKind { kForward, kRebalance, kRescale, kShuffle, kBroadcast, kGlobal, kKeyGroup };

// What the runtime gives an operator when it opens.
class OperatorContext {
 public:
  virtual ~OperatorContext() = default;
  virtual RuntimeContext& runtime_context() = 0;
  // Null unless the operator consumes a keyed stream.
  virtual KeyedStateBackend* keyed_state_backend() = 0;
  // True until the task is cancelled; sources poll it.
  virtual bool IsRunning() const = 0;
  // Makes everything emitted so far visible downstream (sources call it before
  // they block, so buffered records do not wait for more input); also runs
  // processing-time callbacks that are due.
  virtual void FlushOutputs() = 0;

  // ---- Processing time: callbacks run on the task's own thread. ----
  virtual int64_t CurrentProcessingTime() = 0;
  // Calls `callback(time)` on the task thread once the wall clock reaches `time`.
  virtual void RegisterProcessingTimer(int64_t time, std::function<void(int64_t)> callback) = 0;
  // Runs the callbacks that are due (sources call it between records).
  virtual void FireDueProcessingTimers() = 0;
  // The configuration the job runs with.
  virtual const std::map<std::string, std::string>& job_config() = 0;

  // ---- Checkpoints ----
  // This operator's operator state (restored before Open when the job restores).
  virtual OperatorStateStore& operator_state_store() = 0;
  // The task snapshots these functions (snapshotState) and tells these
  // listeners about completed checkpoints; both outlive the operator's Close.
  virtual void RegisterCheckpointedFunction(CheckpointedFunction* function) = 0;
  virtual void RegisterCheckpointListener(CheckpointListener* listener) = 0;
  // Sources call it before emitting each record: true when the task has work
  // for the source's thread (a checkpoint to take, a notification to deliver);
  // then they call RunPendingActions(). Cheap: one relaxed load.
  bool HasPendingActions() const { return pending_actions_->load(std::memory_order_relaxed); }
  virtual void RunPendingActions() = 0;

 protected:
  const std::atomic<bool>* pending_actions_ = &kNoActions;

 private:
  static inline const std::atomic<bool> kNoActions{false};
};

// The runtime's lifecycle for every operator in a chain:
// SetOutput/SetSideOutput → Open → (elements, watermarks)* → EndInput per input
// → Finish → Close. Sources get Run instead of elements.
class StreamOperatorBase {
 public:
  virtual ~StreamOperatorBase() = default;
  virtual void SetOutput(OutputBase* output) = 0;
  virtual void SetSideOutput(const std::string& tag, OutputBase* output) {}
  // The operator's `index`-th logical input (0 or 1), or null.
  virtual InputBase* GetInput(int index) { return nullptr; }
  virtual void Open(OperatorContext& context) {}
  virtual void EndInput(int index) {}
  // All inputs have ended: emit whatever is buffered.
  virtual void Finish() {}
  virtual void Close() {}
  // The task is about to wait for input; flush anything held for batching.
  virtual void OnIdle() {}
  // Sources only: produce records until exhausted or cancelled.
  virtual bool IsSource() const { return false; }
  virtual void Run(OperatorContext& context) {}
  virtual void Cancel() {}
  // Sources only, on the task thread, right after a stop-with-savepoint
  // snapshot: emit nothing more and return from Run; end event time
  // (MAX_WATERMARK) only if `drain`.
  virtual void Stop(bool drain) {}
};

// Chooses the output channel(s) of a record on a network edge.
class ChannelSelectorBase {
 public:
  virtual ~ChannelSelectorBase() = default;
  virtual bool IsBroadcast() const { return false; }
};

template <class T>
class ChannelSelector : public ChannelSelectorBase {
 public:
  virtual int SelectChannel(const T& value) = 0;
};

// Writes framed records into a result partition (implemented by the runtime).
class RecordWriterBase {
 public:
  virtual ~RecordWriterBase() = default;
  virtual int num_channels() const = 0;
  // Appends one serialized record to `channel`.
  virtual void Emit(int channel, std::string_view record) = 0;
  virtual void Broadcast(std::string_view record) = 0;
  virtual void BroadcastWatermark(int64_t watermark) = 0;
  virtual void BroadcastWatermarkStatus(bool idle) = 0;
};

// Feeds serialized records to a typed operator input (one per network input).
class RecordDeserializerBase {
 public:
  virtual ~RecordDeserializerBase() = default;
  // Parses one framed record; false with *error set if the bytes are malformed.
  virtual bool Process(std::string_view record, std::string* error) = 0;
  virtual InputBase* target() = 0;
};

// The runtime's handle on a record type: everything the untyped runtime needs to
// move values of that type between operators.
class TypeHandle {
 public:
  virtual ~TypeHandle() = default;
  virtual std::string_view name() const = 0;
  // An output that forwards to every one of `outputs` (all Output<T>).
  virtual std::unique_ptr<OutputBase> MakeFanOut(std::vector<OutputBase*> outputs) const = 0;
  // An output that serializes into `writer`, routed by `selector`.
  virtual std::unique_ptr<OutputBase> MakeNetworkOutput(
      RecordWriterBase* writer, std::unique_ptr<ChannelSelectorBase> selector) const = 0;
  // Deserializes records of this type into `target` (an Input<T>); null if
  // `target` does not take this type.
  virtual std::unique_ptr<RecordDeserializerBase> MakeDeserializer(InputBase* target) const = 0;
  // An output that calls `input` (an Input<T>) directly: an edge inside a chain.
  virtual std::unique_ptr<OutputBase> MakeChainingOutput(InputBase* input) const = 0;
  // A selector for a partitioner that needs no key (every kind but kKeyGroup).
  virtual std::unique_ptr<ChannelSelectorBase> MakeSelector(PartitionKind kind,
                                                            int num_channels) const = 0;
  // True if `output` accepts this type (used to check chain wiring once).
  virtual bool Accepts(InputBase* input) const = 0;
};

}  // namespace eddy::internal
