// The keyed CEP operator: runs one key's NFA per record and per timer, with
// the key's NFA state in keyed state and its timers in the timer service.
//
// Event time: a record is buffered (in the key's state) until the watermark
// passes its timestamp; a timer at watermark + 1 then feeds the buffered
// records to the NFA in timestamp order, so out-of-order input finds the same
// matches as ordered input. Records at or behind the watermark are late: they
// go to the late-data side output if one is set, else they are dropped.
// Processing time: records are fed at once, stamped with the wall clock.
// Either way, a partial match that started at t times out at t + within():
// a key has at most one window timer, at its earliest such deadline, and
// re-arms it for the next one when it fires.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/cep/internal/nfa.h"
#include "eddy/functions.h"
#include "eddy/internal/operators.h"
#include "eddy/internal/timers.h"

namespace eddy::cep {

// What a pattern function may ask about the match it is given: the time and
// side outputs (Flink's PatternProcessFunction.Context).
class PatternContext {
 public:
  virtual ~PatternContext() = default;
  // The timestamp of the event that completed the match (or of the timeout).
  virtual int64_t timestamp() const = 0;
  virtual int64_t currentProcessingTime() const = 0;
  // Emits `value` to the side output named by `tag`.
  template <class X>
  void output(const OutputTag<X>& tag, const X& value) {
    if (eddy::internal::OutputBase* o = SideOutput(tag.getId())) {
      static_cast<eddy::internal::Output<X>*>(o)->Collect(value, timestamp());
    }
  }

 protected:
  virtual eddy::internal::OutputBase* SideOutput(const std::string& tag) = 0;
};

}  // namespace eddy::cep

namespace eddy::cep::internal {

// Where the NFA's matches and timeouts go; H is one of the handlers in
// eddy/cep.h (select, flatSelect, process, with or without timeouts).
template <class IN, class OUT, class KeyFn, class H>
class CepOperator final : public eddy::internal::OneInputOperator<IN, OUT>,
                          private MatchCollector<IN>,
                          private PatternContext {
 public:
  struct Options {
    std::shared_ptr<const CompiledNfa<IN>> nfa;
    AfterMatchSkipStrategy skip;
    bool processing_time = false;
    std::string late_tag;  // empty: late records are dropped
  };

  CepOperator(KeyFn key_fn, Options options, H handler)
      : key_(std::move(key_fn)),
        nfa_(options.nfa, options.skip),
        processing_time_(options.processing_time),
        late_tag_(std::move(options.late_tag)),
        handler_(std::move(handler)) {}

  void SetSideOutput(const std::string& tag, eddy::internal::OutputBase* output) override {
    side_outputs_.Set(tag, output);
  }
  void Open(eddy::internal::OperatorContext& ctx) override {
    context_ = &ctx;
    backend_ = ctx.keyed_state_backend();
    key_.Bind(backend_);
    timers_ = std::make_unique<eddy::internal::InternalTimerService>(
        backend_, &ctx,
        [this](const eddy::internal::InternalTimer&, eddy::internal::TimeDomainKind domain) { OnTimer(domain); });
    state_ = &eddy::internal::GetValueState(*backend_, ValueStateDescriptor<KeyNfaState<IN>>("cep-nfa"));
    handler_.Open(ctx);
  }
  void Close() override { handler_.Close(); }

  void ProcessElement(const IN& value, int64_t timestamp) override {
    key_.SetCurrentKey(value);
    if (processing_time_) {
      const int64_t now = context_->CurrentProcessingTime();
      KeyNfaState<IN>& s = Load();
      output_timestamp_ = now;
      nfa_.AdvanceTime(s, now, *this);
      Feed(s, value, now);
      ArmWindowTimer(s);
      Store(s);
      return;
    }
    if (timestamp == eddy::internal::kNoTimestamp) {
      throw std::runtime_error(
          "CEP in event time: a record has no timestamp; call assignTimestampsAndWatermarks(...) before "
          "CEP::pattern(...), or use inProcessingTime()");
    }
    const int64_t watermark = timers_->current_watermark();
    if (timestamp <= watermark) {
      if (auto* late = side_outputs_.Get(late_tag_)) {
        static_cast<eddy::internal::Output<IN>*>(late)->Collect(value, timestamp);
      }
      return;
    }
    KeyNfaState<IN>& s = Load();
    // A key with pending records always has a timer: one is set when the
    // first arrives, and OnTimer sets the next while some remain.
    if (s.pending.empty()) timers_->RegisterEventTimeTimer(watermark + 1);
    const auto at = std::upper_bound(s.pending.begin(), s.pending.end(), timestamp,
                                     [](int64_t t, const std::pair<int64_t, IN>& e) { return t < e.first; });
    s.pending.emplace(at, timestamp, value);
    Store(s);
  }

  void ProcessWatermark(int64_t watermark) override {
    timers_->AdvanceWatermark(watermark);
    this->out_->EmitWatermark(watermark);
  }

 private:
  // The backend's current key is the timer's.
  void OnTimer(eddy::internal::TimeDomainKind domain) {
    KeyNfaState<IN>& s = Load();
    if (domain == eddy::internal::TimeDomainKind::kProcessingTime) {
      const int64_t now = context_->CurrentProcessingTime();
      ForgetWindowTimerIfDue(s, now);
      output_timestamp_ = now;
      nfa_.AdvanceTime(s, now, *this);
      ArmWindowTimer(s);
      Store(s);
      return;
    }
    const int64_t watermark = timers_->current_watermark();
    ForgetWindowTimerIfDue(s, watermark);
    size_t fed = 0;
    while (fed < s.pending.size() && s.pending[fed].first <= watermark) {
      const int64_t timestamp = s.pending[fed].first;
      output_timestamp_ = timestamp;
      nfa_.AdvanceTime(s, timestamp, *this);
      for (; fed < s.pending.size() && s.pending[fed].first == timestamp; ++fed) {
        Feed(s, s.pending[fed].second, timestamp);
      }
    }
    s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(fed));
    output_timestamp_ = watermark;
    nfa_.AdvanceTime(s, watermark, *this);
    if (!s.pending.empty() && watermark != eddy::internal::kMaxWatermark) {
      timers_->RegisterEventTimeTimer(watermark + 1);
    }
    ArmWindowTimer(s);
    Store(s);
  }

  void Feed(KeyNfaState<IN>& s, const IN& event, int64_t timestamp) {
    output_timestamp_ = timestamp;
    nfa_.Process(s, event, timestamp, context_->CurrentProcessingTime(), *this);
  }

  // The key's window timer has fired (or fires in this same pass) once time
  // reaches its deadline.
  static void ForgetWindowTimerIfDue(KeyNfaState<IN>& s, int64_t time) {
    if (s.window_timer != kNoDeadline && s.window_timer <= time) s.window_timer = kNoDeadline;
  }
  // Wakes the key when its earliest partial match times out. Deadlines only
  // grow as events come in time order, so a registered timer is never late.
  void ArmWindowTimer(KeyNfaState<IN>& s) {
    const int64_t deadline = nfa_.NextDeadline(s);
    if (deadline == kNoDeadline || (s.window_timer != kNoDeadline && s.window_timer <= deadline)) return;
    if (processing_time_) {
      timers_->RegisterProcessingTimeTimer(deadline);
    } else {
      timers_->RegisterEventTimeTimer(deadline);
    }
    s.window_timer = deadline;
  }

  // The current key's NFA state, created on first use and modified in place.
  KeyNfaState<IN>& Load() {
    if (KeyNfaState<IN>* s = state_->mutableValue()) return *s;
    state_->update(nfa_.InitialState());
    return *state_->mutableValue();
  }
  // Keys with nothing in flight keep no state.
  void Store(KeyNfaState<IN>& s) {
    if (nfa_.IsIdle(s)) state_->clear();
  }

  // ---- MatchCollector ----
  void OnMatch(const Match<IN>& match) override {
    collector_.Reset(this->out_, output_timestamp_);
    handler_.OnMatch(match, static_cast<PatternContext&>(*this), collector_);
  }
  void OnTimeout(const Match<IN>& partial, int64_t timeout_timestamp) override {
    const int64_t saved = output_timestamp_;
    output_timestamp_ = timeout_timestamp;
    handler_.OnTimeout(partial, timeout_timestamp, static_cast<PatternContext&>(*this));
    output_timestamp_ = saved;
  }
  bool WantsTimeouts() const override { return H::kHandlesTimeouts; }

  // ---- PatternContext ----
  int64_t timestamp() const override { return output_timestamp_; }
  int64_t currentProcessingTime() const override { return context_->CurrentProcessingTime(); }
  eddy::internal::OutputBase* SideOutput(const std::string& tag) override { return side_outputs_.Get(tag); }

  eddy::internal::KeyContext<IN, KeyFn> key_;
  Nfa<IN> nfa_;
  bool processing_time_;
  std::string late_tag_;
  H handler_;
  eddy::internal::OperatorContext* context_ = nullptr;
  eddy::internal::KeyedStateBackend* backend_ = nullptr;
  std::unique_ptr<eddy::internal::InternalTimerService> timers_;
  ValueState<KeyNfaState<IN>>* state_ = nullptr;
  eddy::internal::SideOutputTable side_outputs_;
  eddy::internal::TimestampedCollector<OUT> collector_;
  int64_t output_timestamp_ = eddy::internal::kNoTimestamp;
};

}  // namespace eddy::cep::internal
