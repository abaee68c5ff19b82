// InternalTimerService: the event-time and processing-time timers of one keyed
// operator instance, per (key, namespace, timestamp), deduplicated. Event-time
// timers fire when the watermark passes them; processing-time timers through
// the task's processing-time callbacks. Before a timer fires, the keyed backend
// is switched to the timer's key, so state and getCurrentKey() refer to it.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "eddy/internal/runtime_interfaces.h"
#include "eddy/state.h"

namespace eddy::internal {

struct InternalTimer {
  int64_t timestamp;
  std::string key;        // serialized key
  int key_group;
  std::string name_space; // serialized namespace (empty: none)
};

// A timer to look up without copying its key and namespace.
struct TimerView {
  int64_t timestamp;
  int key_group;
  std::string_view key;
  std::string_view name_space;
};

// Orders timers by time (then key group, key, namespace); transparent, so
// registering a timer that already exists allocates nothing.
struct TimerOrder {
  using is_transparent = void;
  static TimerView View(const InternalTimer& t) { return {t.timestamp, t.key_group, t.key, t.name_space}; }
  static TimerView View(const TimerView& t) { return t; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    TimerView x = View(a), y = View(b);
    return std::tie(x.timestamp, x.key_group, x.key, x.name_space) <
           std::tie(y.timestamp, y.key_group, y.key, y.name_space);
  }
};

enum class TimeDomainKind { kEventTime, kProcessingTime };

// Timers are kept with the keyed state: the service registers with the
// backend as the in-memory state "_timers", so checkpoints hold them and a
// restore (with any parallelism) hands each one to the instance owning its key
// group. Restored processing-time timers that are already due fire at once.
class InternalTimerService final : public KeyGroupedState {
 public:
  using Trigger = std::function<void(const InternalTimer& timer, TimeDomainKind domain)>;

  InternalTimerService(KeyedStateBackend* backend, OperatorContext* context, Trigger trigger)
      : backend_(backend), context_(context), trigger_(std::move(trigger)) {
    backend_->RegisterKeyGroupedState("_timers", this);
    if (!processing_.empty()) ScheduleProcessingTime(processing_.begin()->timestamp);
  }

  // Entry key: domain byte, timestamp (8 bytes big-endian), varint key size,
  // key, namespace. No value.
  void SnapshotInto(std::vector<std::string>& per_slot) const override {
    std::string key;
    const int start = backend_->key_group_range().start;
    for (const auto* set : {&event_, &processing_}) {
      const char domain = set == &event_ ? 'e' : 'p';
      for (const InternalTimer& t : *set) {
        key.clear();
        key.push_back(domain);
        for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((static_cast<uint64_t>(t.timestamp) >> shift) & 0xff));
        DataOutput out(&key);
        out.WriteString(t.key);
        key += t.name_space;
        AppendSnapshotEntry(&per_slot[static_cast<size_t>(t.key_group - start)], SnapshotEntryKind::kMemory,
                            "_timers", key, {});
      }
    }
  }
  void RestoreEntry(int slot, std::string_view key, std::string_view value) override {
    if (key.size() < 9 || (key[0] != 'e' && key[0] != 'p')) {
      throw std::runtime_error("a restored timer is malformed");
    }
    uint64_t ts = 0;
    for (int i = 1; i <= 8; ++i) ts = (ts << 8) | static_cast<uint8_t>(key[static_cast<size_t>(i)]);
    DataInput in(key.substr(9));
    std::string user_key;
    in.ReadString(user_key);
    if (!in.ok()) throw std::runtime_error("a restored timer is malformed: " + in.error());
    InternalTimer timer{static_cast<int64_t>(ts), std::move(user_key),
                        backend_->key_group_range().start + slot, std::string(key.substr(9 + in.position()))};
    (key[0] == 'e' ? event_ : processing_).insert(std::move(timer));
  }

  int64_t current_watermark() const { return watermark_; }
  int64_t current_processing_time() { return context_->CurrentProcessingTime(); }

  // Timers for the backend's current key and `name_space`.
  void RegisterEventTimeTimer(int64_t time, std::string_view name_space = {}) {
    TimerView v = Current(time, name_space);
    if (event_.find(v) == event_.end()) event_.insert(Materialize(v));
  }
  void DeleteEventTimeTimer(int64_t time, std::string_view name_space = {}) {
    auto it = event_.find(Current(time, name_space));
    if (it != event_.end()) event_.erase(it);
  }
  void RegisterProcessingTimeTimer(int64_t time, std::string_view name_space = {}) {
    TimerView v = Current(time, name_space);
    if (processing_.find(v) != processing_.end()) return;
    bool earliest = processing_.empty() || time < processing_.begin()->timestamp;
    processing_.insert(Materialize(v));
    if (earliest) ScheduleProcessingTime(time);
  }
  void DeleteProcessingTimeTimer(int64_t time, std::string_view name_space = {}) {
    auto it = processing_.find(Current(time, name_space));
    if (it != processing_.end()) processing_.erase(it);
  }

  // Fires every event-time timer at or before `watermark`, in time order.
  void AdvanceWatermark(int64_t watermark) {
    watermark_ = watermark;
    while (!event_.empty() && event_.begin()->timestamp <= watermark) {
      InternalTimer timer = *event_.begin();
      event_.erase(event_.begin());
      Fire(timer, TimeDomainKind::kEventTime);
    }
  }

  size_t num_event_timers() const { return event_.size(); }
  size_t num_processing_timers() const { return processing_.size(); }

 private:
  TimerView Current(int64_t time, std::string_view name_space) const {
    RequireKey();
    return TimerView{time, backend_->current_key_group(), backend_->current_key(), name_space};
  }
  static InternalTimer Materialize(const TimerView& v) {
    return InternalTimer{v.timestamp, std::string(v.key), v.key_group, std::string(v.name_space)};
  }
  void RequireKey() const {
    // Every serialized key has at least one byte: empty means "no key yet".
    if (backend_->current_key().empty()) {
      throw std::logic_error("timers are only available in a keyed context (after keyBy)");
    }
  }
  void Fire(const InternalTimer& timer, TimeDomainKind domain) {
    backend_->SetCurrentKey(timer.key, timer.key_group);
    trigger_(timer, domain);
  }
  void ScheduleProcessingTime(int64_t time) {
    context_->RegisterProcessingTimer(time, [this](int64_t now) { OnProcessingTime(now); });
  }
  void OnProcessingTime(int64_t now) {
    while (!processing_.empty() && processing_.begin()->timestamp <= now) {
      InternalTimer timer = *processing_.begin();
      processing_.erase(processing_.begin());
      Fire(timer, TimeDomainKind::kProcessingTime);
    }
    if (!processing_.empty()) ScheduleProcessingTime(processing_.begin()->timestamp);
  }

  KeyedStateBackend* backend_;
  OperatorContext* context_;
  Trigger trigger_;
  int64_t watermark_ = kNoTimestamp;
  std::set<InternalTimer, TimerOrder> event_;
  std::set<InternalTimer, TimerOrder> processing_;
};

}  // namespace eddy::internal
