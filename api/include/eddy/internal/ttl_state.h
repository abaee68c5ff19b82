// Time-to-live for keyed state, as Flink's TTL decorators: every stored value
// carries the processing time of its last update (TtlValue), and reads check
// it against the descriptor's StateTtlConfig. TtlCell does this for the
// single-value states (Value, Reducing, Aggregating) and works over either
// backend's cell; TtlListState and TtlMapState wrap a list or map state of
// TtlValue elements, so that each element or entry expires on its own.
// Expired values are removed when they are accessed. Part of eddy/state.h.
#pragma once

#ifndef EDDY_INTERNAL_KEYED_STATE_INCLUDED
#error "include eddy/state.h instead of this header"
#endif

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/internal/keyed_state_backend.h"

namespace eddy::internal {

// The rules of one StateTtlConfig, with the backend's clock.
class TtlPolicy {
 public:
  explicit TtlPolicy(const CellSpec& spec)
      : backend_(spec.backend),
        ttl_ms_(spec.ttl.getTtl().count()),
        updates_on_read_(spec.ttl.getUpdateType() == StateTtlConfig::UpdateType::OnReadAndWrite),
        returns_expired_(spec.ttl.getStateVisibility() ==
                         StateTtlConfig::StateVisibility::ReturnExpiredIfNotCleanedUp) {}

  int64_t Now() const { return backend_->CurrentTtlTime(); }
  // Flink's rule: expired once now >= last update + ttl (saturating).
  template <class T>
  bool Expired(const TtlValue<T>& value, int64_t now) const {
    const int64_t expires = value.timestamp > std::numeric_limits<int64_t>::max() - ttl_ms_
                                ? std::numeric_limits<int64_t>::max()
                                : value.timestamp + ttl_ms_;
    return expires <= now;
  }
  bool updates_on_read() const { return updates_on_read_; }
  bool returns_expired() const { return returns_expired_; }

 private:
  KeyedStateBackend* backend_;
  int64_t ttl_ms_;
  bool updates_on_read_;
  bool returns_expired_;
};

// A cell of S (HeapCell's interface) over a cell `Inner` of TtlValue<S>.
// Get() follows the visibility and update type; Mutable() counts as a write
// and never builds on an expired value (as Flink's TTL reduce and aggregate
// functions, which drop expired accumulators); TakeIn() drops expired values.
template <class S, class Inner>
class TtlCell {
 public:
  explicit TtlCell(const CellSpec& spec) : inner_(spec), policy_(spec) {}

  const S* Get() {
    const TtlValue<S>* stored = inner_.Get();
    if (stored == nullptr) return nullptr;
    const int64_t now = policy_.Now();
    if (policy_.Expired(*stored, now)) {
      if (!policy_.returns_expired()) {
        inner_.Remove();
        return nullptr;
      }
      expired_ = stored->value;  // Returned once, then gone.
      inner_.Remove();
      return &*expired_;
    }
    if (policy_.updates_on_read()) {
      TtlValue<S>* refreshed = inner_.Mutable();
      refreshed->timestamp = now;
      return &refreshed->value;
    }
    return &stored->value;
  }
  S* Mutable() {
    TtlValue<S>* stored = inner_.Mutable();
    if (stored == nullptr) return nullptr;
    const int64_t now = policy_.Now();
    if (policy_.Expired(*stored, now)) {
      inner_.Remove();
      return nullptr;
    }
    stored->timestamp = now;
    return &stored->value;
  }
  void Put(S value) { inner_.Put(TtlValue<S>{std::move(value), policy_.Now()}); }
  void Remove() { inner_.Remove(); }
  std::optional<S> TakeIn(std::string_view name_space) {
    std::optional<TtlValue<S>> stored = inner_.TakeIn(name_space);
    if (!stored || policy_.Expired(*stored, policy_.Now())) return std::nullopt;
    return std::move(stored->value);
  }
  void PutIn(std::string_view name_space, S value) {
    inner_.PutIn(name_space, TtlValue<S>{std::move(value), policy_.Now()});
  }

 private:
  Inner inner_;
  TtlPolicy policy_;
  std::optional<S> expired_;
};

// ListState with a TTL per element, over a list state of TtlValue<T>.
template <class T>
class TtlListState final : public InternalListState<T> {
 public:
  TtlListState(std::unique_ptr<InternalListState<TtlValue<T>>> inner, const CellSpec& spec)
      : inner_(std::move(inner)), policy_(spec) {}

  // Drops expired elements from the list (returning them once if the
  // visibility allows), and refreshes the rest on OnReadAndWrite.
  std::vector<T> get() override {
    std::vector<TtlValue<T>> stored = inner_->get();
    const int64_t now = policy_.Now();
    std::vector<T> result;
    result.reserve(stored.size());
    std::vector<TtlValue<T>> kept;
    bool changed = false;
    for (TtlValue<T>& element : stored) {
      if (policy_.Expired(element, now)) {
        changed = true;
        if (policy_.returns_expired()) result.push_back(element.value);
        continue;
      }
      if (policy_.updates_on_read()) {
        element.timestamp = now;
        changed = true;
      }
      result.push_back(element.value);
      kept.push_back(std::move(element));
    }
    if (changed) inner_->update(kept);
    return result;
  }
  void add(const T& value) override { inner_->add(TtlValue<T>{value, policy_.Now()}); }
  void addAll(const std::vector<T>& values) override { inner_->addAll(Wrap(values)); }
  void update(const std::vector<T>& values) override { inner_->update(Wrap(values)); }
  void clear() override { inner_->clear(); }
  void mergeNamespaces(std::string_view target, std::span<const std::string> sources) override {
    inner_->mergeNamespaces(target, sources);  // Expired elements go on the next read.
  }

 private:
  std::vector<TtlValue<T>> Wrap(const std::vector<T>& values) const {
    const int64_t now = policy_.Now();
    std::vector<TtlValue<T>> wrapped;
    wrapped.reserve(values.size());
    for (const T& value : values) wrapped.push_back(TtlValue<T>{value, now});
    return wrapped;
  }

  std::unique_ptr<InternalListState<TtlValue<T>>> inner_;
  TtlPolicy policy_;
};

// MapState with a TTL per entry, over a map state of TtlValue<UV>.
template <class UK, class UV>
class TtlMapState final : public MapState<UK, UV> {
 public:
  TtlMapState(std::unique_ptr<MapState<UK, TtlValue<UV>>> inner, const CellSpec& spec)
      : inner_(std::move(inner)), policy_(spec) {}

  std::optional<UV> get(const UK& key) override {
    std::optional<TtlValue<UV>> stored = inner_->get(key);
    if (!stored) return std::nullopt;
    const int64_t now = policy_.Now();
    if (policy_.Expired(*stored, now)) {
      inner_->remove(key);
      if (!policy_.returns_expired()) return std::nullopt;
      return std::move(stored->value);
    }
    if (policy_.updates_on_read()) {
      stored->timestamp = now;
      inner_->put(key, *stored);
    }
    return std::move(stored->value);
  }
  void put(const UK& key, const UV& value) override {
    inner_->put(key, TtlValue<UV>{value, policy_.Now()});
  }
  void remove(const UK& key) override { inner_->remove(key); }
  bool contains(const UK& key) override { return get(key).has_value(); }
  std::vector<std::pair<UK, UV>> entries() override { return Read(/*refresh=*/true); }
  std::vector<UK> keys() override {
    std::vector<UK> out;
    for (auto& entry : Read(/*refresh=*/true)) out.push_back(std::move(entry.first));
    return out;
  }
  std::vector<UV> values() override {
    std::vector<UV> out;
    for (auto& entry : Read(/*refresh=*/true)) out.push_back(std::move(entry.second));
    return out;
  }
  // Removes expired entries; does not count as reading the others.
  bool isEmpty() override { return Read(/*refresh=*/false).empty(); }
  void clear() override { inner_->clear(); }

 private:
  // The visible entries; removes expired ones and, if `refresh` and the
  // update type says so, restarts the TTL of the others.
  std::vector<std::pair<UK, UV>> Read(bool refresh) {
    const int64_t now = policy_.Now();
    std::vector<std::pair<UK, UV>> out;
    for (auto& [key, stored] : inner_->entries()) {
      if (policy_.Expired(stored, now)) {
        inner_->remove(key);
        if (policy_.returns_expired()) out.emplace_back(std::move(key), std::move(stored.value));
        continue;
      }
      if (refresh && policy_.updates_on_read()) {
        stored.timestamp = now;
        inner_->put(key, stored);
      }
      out.emplace_back(std::move(key), std::move(stored.value));
    }
    return out;
  }

  std::unique_ptr<MapState<UK, TtlValue<UV>>> inner_;
  TtlPolicy policy_;
};

}  // namespace eddy::internal
