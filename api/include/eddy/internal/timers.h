// InternalTimerService: the event-time and processing-time timers of one keyed
// operator instance, per (key, namespace, timestamp), deduplicated. Event-time
// timers fire when the watermark passes them; processing-time timers through
// the task's processing-time callbacks. Before a timer fires, the keyed backend
// is switched to the timer's key, so state and getCurrentKey() refer to it.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/container/flat_hash_set.h"
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

// Hashing and equality of TimerViews, for the index of registered timers.
struct TimerViewHash {
  size_t operator()(const TimerView& v) const {
    size_t h = std::hash<std::string_view>()(v.key);
    h = h * 1000003 ^ std::hash<std::string_view>()(v.name_space);
    h = h * 1000003 ^ std::hash<int64_t>()(v.timestamp);
    return h;
  }
};
struct TimerViewEq {
  bool operator()(const TimerView& a, const TimerView& b) const {
    return a.timestamp == b.timestamp && a.key_group == b.key_group && a.key == b.key && a.name_space == b.name_space;
  }
};

// Timers of one domain: ordered by time for firing, and indexed by hash so
// that registering a timer that exists (a window re-registers its end timer
// for every element) costs one hash lookup instead of a walk down a tree of
// string comparisons among the many timers that share a timestamp.
class TimerQueue {
 public:
  bool empty() const { return ordered_.empty(); }
  size_t size() const { return ordered_.size(); }
  const InternalTimer& top() const { return *ordered_.begin(); }
  const std::set<InternalTimer, TimerOrder>& ordered() const { return ordered_; }

  // Adds the timer `v` (copying its key and namespace); false if it was
  // there already.
  bool insert(const TimerView& v) {
    if (index_.contains(v)) return false;
    auto it = ordered_.insert(InternalTimer{v.timestamp, std::string(v.key), v.key_group, std::string(v.name_space)})
                  .first;
    index_.insert(TimerOrder::View(*it));  // views into the set's node: stable
    return true;
  }
  void erase(const TimerView& v) {
    auto found = index_.find(v);
    if (found == index_.end()) return;
    index_.erase(found);
    ordered_.erase(ordered_.find(v));
  }
  // Removes and returns the earliest timer.
  InternalTimer pop() {
    auto node = ordered_.extract(ordered_.begin());
    index_.erase(TimerOrder::View(node.value()));
    return std::move(node.value());
  }

 private:
  std::set<InternalTimer, TimerOrder> ordered_;
  absl::flat_hash_set<TimerView, TimerViewHash, TimerViewEq> index_;
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
    if (!processing_.empty()) ScheduleProcessingTime(processing_.top().timestamp);
  }

  // Entry key: domain byte, timestamp (8 bytes big-endian), varint key size,
  // key, namespace. No value.
  void SnapshotInto(std::vector<std::string>& per_slot) const override {
    std::string key;
    const int start = backend_->key_group_range().start;
    for (const TimerQueue* queue : {&event_, &processing_}) {
      const char domain = queue == &event_ ? 'e' : 'p';
      for (const InternalTimer& t : queue->ordered()) {
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
    (key[0] == 'e' ? event_ : processing_)
        .insert(TimerView{static_cast<int64_t>(ts), backend_->key_group_range().start + slot, user_key,
                          key.substr(9 + in.position())});
  }

  int64_t current_watermark() const { return watermark_; }
  int64_t current_processing_time() { return context_->CurrentProcessingTime(); }

  // Timers for the backend's current key and `name_space`.
  void RegisterEventTimeTimer(int64_t time, std::string_view name_space = {}) {
    event_.insert(Current(time, name_space));
  }
  void DeleteEventTimeTimer(int64_t time, std::string_view name_space = {}) { event_.erase(Current(time, name_space)); }
  void RegisterProcessingTimeTimer(int64_t time, std::string_view name_space = {}) {
    bool earliest = processing_.empty() || time < processing_.top().timestamp;
    if (processing_.insert(Current(time, name_space)) && earliest) ScheduleProcessingTime(time);
  }
  void DeleteProcessingTimeTimer(int64_t time, std::string_view name_space = {}) {
    processing_.erase(Current(time, name_space));
  }

  // Fires every event-time timer at or before `watermark`, in time order.
  void AdvanceWatermark(int64_t watermark) {
    watermark_ = watermark;
    while (!event_.empty() && event_.top().timestamp <= watermark) {
      InternalTimer timer = event_.pop();
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
    while (!processing_.empty() && processing_.top().timestamp <= now) {
      InternalTimer timer = processing_.pop();
      Fire(timer, TimeDomainKind::kProcessingTime);
    }
    if (!processing_.empty()) ScheduleProcessingTime(processing_.top().timestamp);
  }

  KeyedStateBackend* backend_;
  OperatorContext* context_;
  Trigger trigger_;
  int64_t watermark_ = kNoTimestamp;
  TimerQueue event_;
  TimerQueue processing_;
};

}  // namespace eddy::internal
