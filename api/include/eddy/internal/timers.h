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
#include <tuple>

#include "eddy/internal/runtime_interfaces.h"
#include "eddy/state.h"

namespace eddy::internal {

struct InternalTimer {
  int64_t timestamp;
  std::string key;        // serialized key
  int key_group;
  std::string name_space; // serialized namespace (empty: none)
  bool operator<(const InternalTimer& o) const {
    return std::tie(timestamp, key_group, key, name_space) <
           std::tie(o.timestamp, o.key_group, o.key, o.name_space);
  }
};

enum class TimeDomainKind { kEventTime, kProcessingTime };

class InternalTimerService {
 public:
  using Trigger = std::function<void(const InternalTimer& timer, TimeDomainKind domain)>;

  InternalTimerService(KeyedStateBackend* backend, OperatorContext* context, Trigger trigger)
      : backend_(backend), context_(context), trigger_(std::move(trigger)) {}

  int64_t current_watermark() const { return watermark_; }
  int64_t current_processing_time() { return context_->CurrentProcessingTime(); }

  // Timers for the backend's current key and `name_space`.
  void RegisterEventTimeTimer(int64_t time, const std::string& name_space = {}) {
    event_.insert(Current(time, name_space));
  }
  void DeleteEventTimeTimer(int64_t time, const std::string& name_space = {}) {
    event_.erase(Current(time, name_space));
  }
  void RegisterProcessingTimeTimer(int64_t time, const std::string& name_space = {}) {
    bool earliest = processing_.empty() || time < processing_.begin()->timestamp;
    processing_.insert(Current(time, name_space));
    if (earliest) ScheduleProcessingTime(time);
  }
  void DeleteProcessingTimeTimer(int64_t time, const std::string& name_space = {}) {
    processing_.erase(Current(time, name_space));
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
  InternalTimer Current(int64_t time, const std::string& name_space) const {
    RequireKey();
    return InternalTimer{time, backend_->current_key(), backend_->current_key_group(), name_space};
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
  std::set<InternalTimer> event_;
  std::set<InternalTimer> processing_;
};

}  // namespace eddy::internal
