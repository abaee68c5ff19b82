// InternalTimerService: the event-time and processing-time timers of one keyed
// operator instance, per (key, namespace, timestamp), deduplicated. Event-time
// timers fire when the watermark passes them; processing-time timers through
// the task's processing-time callbacks. Before a timer fires, the keyed backend
// is switched to the timer's key, so state and getCurrentKey() refer to it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
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

// Timers of one domain, deduplicated: an index (a hash set over the timers'
// contents) finds a registered timer with one lookup, so registering one that
// exists, as a window does for every element, is cheap; a 4-ary min-heap of
// (timestamp, registration number) orders them for firing, so timers with
// equal timestamps fire in the order they were registered. The heap owns the
// timers. A deleted timer leaves the index at once and the heap when it
// reaches the top, so neither deleting nor sifting touches a timer's node.
class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  ~TimerQueue() {
    for (const Slot& slot : heap_) delete slot.timer;
  }

  bool empty() const { return index_.empty(); }
  size_t size() const { return index_.size(); }
  // The earliest timer; only when not empty.
  const InternalTimer& top() const { return heap_.front().timer->timer; }
  // Calls visit(timer) for every timer, in no particular order.
  template <class Visit>
  void ForEach(Visit visit) const {
    for (const Slot& slot : heap_) {
      if (!slot.timer->deleted) visit(slot.timer->timer);
    }
  }

  // Adds the timer `v` (copying its key and namespace); false if it was
  // there already.
  bool insert(const TimerView& v) {
    // A window registers its end timer twice per element (trigger, cleanup):
    // the repeat costs a comparison.
    if (last_ != nullptr && Eq()(last_, v)) return false;
    bool added = false;
    auto it = index_.lazy_emplace(v, [&](const auto& construct) {
      added = true;
      construct(new Entry{InternalTimer{v.timestamp, std::string(v.key), v.key_group, std::string(v.name_space)}});
    });
    last_ = *it;
    if (!added) return false;
    heap_.push_back(Slot{v.timestamp, next_number_++, *it});
    SiftUp(heap_.size() - 1);
    return true;
  }
  void erase(const TimerView& v) {
    auto it = index_.find(v);
    if (it == index_.end()) return;
    if (last_ == *it) last_ = nullptr;
    (*it)->deleted = true;
    index_.erase(it);
    DropDeletedTop();
  }
  // Removes and returns the earliest timer; only when not empty.
  InternalTimer pop() {
    Entry* entry = heap_.front().timer;
    if (last_ == entry) last_ = nullptr;
    index_.erase(index_.find(entry));
    InternalTimer timer = std::move(entry->timer);
    delete entry;
    PopTop();
    DropDeletedTop();
    return timer;
  }

 private:
  struct Entry {
    InternalTimer timer;
    bool deleted = false;  // out of the index, waiting to leave the heap
  };
  static TimerView View(const TimerView& v) { return v; }
  static TimerView View(const Entry* e) {
    return {e->timer.timestamp, e->timer.key_group, e->timer.key, e->timer.name_space};
  }
  // Hashing and equality of indexed timers, also against a TimerView, so
  // that a lookup copies no key or namespace.
  struct Hash {
    using is_transparent = void;
    template <class T>
    size_t operator()(const T& t) const {
      TimerView v = View(t);
      return absl::HashOf(v.timestamp, v.key, v.name_space);
    }
  };
  struct Eq {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      TimerView x = View(a), y = View(b);
      return x.timestamp == y.timestamp && x.key_group == y.key_group && x.key == y.key &&
             x.name_space == y.name_space;
    }
  };
  struct Slot {
    int64_t timestamp;
    uint64_t number;  // registration order, among equal timestamps
    Entry* timer;
  };
  static constexpr size_t kArity = 4;
  static bool Before(const Slot& a, const Slot& b) {
    return a.timestamp < b.timestamp || (a.timestamp == b.timestamp && a.number < b.number);
  }
  void SiftUp(size_t i) {
    const Slot moving = heap_[i];
    while (i > 0) {
      const size_t parent = (i - 1) / kArity;
      if (!Before(moving, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = moving;
  }
  // Removes the top slot (not its timer).
  void PopTop() {
    const Slot moving = heap_.back();
    heap_.pop_back();
    const size_t n = heap_.size();
    if (n == 0) return;
    size_t i = 0;
    while (true) {
      const size_t first = kArity * i + 1;
      if (first >= n) break;
      size_t least = first;
      for (size_t c = first + 1; c < std::min(first + kArity, n); ++c) {
        if (Before(heap_[c], heap_[least])) least = c;
      }
      if (!Before(heap_[least], moving)) break;
      heap_[i] = heap_[least];
      i = least;
    }
    heap_[i] = moving;
  }
  // Keeps the top a live timer.
  void DropDeletedTop() {
    while (!heap_.empty() && heap_.front().timer->deleted) {
      delete heap_.front().timer;
      PopTop();
    }
  }

  absl::flat_hash_set<Entry*, Hash, Eq> index_;  // the live timers
  std::vector<Slot> heap_;                       // owns every timer, live or deleted
  uint64_t next_number_ = 0;
  const Entry* last_ = nullptr;  // the timer inserted or found last
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
      queue->ForEach([&](const InternalTimer& t) {
        key.clear();
        key.push_back(domain);
        for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((static_cast<uint64_t>(t.timestamp) >> shift) & 0xff));
        DataOutput out(&key);
        out.WriteString(t.key);
        key += t.name_space;
        AppendSnapshotEntry(&per_slot[static_cast<size_t>(t.key_group - start)], SnapshotEntryKind::kMemory,
                            "_timers", key, {});
      });
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
