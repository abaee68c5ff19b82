// The NFA at run time: the partial matches of one key and the buffer of the
// events they hold, and the algorithm that feeds them an event or advances
// their time. Everything a key needs lives in one serializable KeyNfaState,
// which the CEP operator keeps in keyed state: checkpoints hold it, restores
// (with any parallelism) bring it back with its key.
//
// The event buffer is shared: a partial match is a chain of BufferNodes (the
// pattern state that took an event, the event, the previous node), and
// branches of a partial match share the chain up to where they split. Nodes
// and events are reference-counted and removed when no partial match needs
// them. (Flink's SharedBuffer dedups further with Dewey versions; a tree of
// nodes needs none and yields the same matches.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/cep/internal/nfa_compiler.h"
#include "eddy/serializer.h"

namespace eddy::cep::internal {

inline constexpr int64_t kNone = -1;
// No window deadline (timestamps may be negative, so not kNone).
inline constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::min();

// A partial match: the NFA state it waits in, the last node of its chain and
// where it started. The start state's own entry has no event yet.
struct ComputationState {
  int32_t state = 0;
  int64_t node = kNone;
  int64_t start_event = kNone;
  int64_t start_timestamp = 0;
  bool operator==(const ComputationState&) const = default;
};
EDDY_FIELDS(ComputationState, state, node, start_event, start_timestamp);

struct BufferNode {
  int32_t state = 0;  // the NFA state that took the event (its name is the part's)
  int64_t event = 0;
  int64_t previous = kNone;
  int32_t references = 0;
};
EDDY_FIELDS(BufferNode, state, event, previous, references);

template <class T>
struct BufferedEvent {
  T value{};
  int64_t timestamp = 0;
  int32_t references = 0;
};

// Everything CEP keeps for one key.
template <class T>
struct KeyNfaState {
  std::vector<ComputationState> partial_matches;
  // Matches held back by a skip strategy until no earlier partial match can
  // still complete.
  std::vector<ComputationState> completed_matches;
  std::map<int64_t, BufferNode> nodes;
  std::map<int64_t, BufferedEvent<T>> events;
  // Event time: events the watermark has not passed yet, sorted by
  // timestamp, in arrival order within a timestamp (a sorted vector: input is
  // mostly in order, so a record is usually appended).
  std::vector<std::pair<int64_t, T>> pending;
  int64_t next_event = 0;  // event ids follow processing order
  int64_t next_node = 0;
  // The deadline of the key's one registered window timer, if any.
  int64_t window_timer = kNoDeadline;
};

}  // namespace eddy::cep::internal

namespace eddy {

template <class T>
struct TypeSerializer<cep::internal::BufferedEvent<T>> {
  static constexpr size_t kMinEncodedSize = 2;
  static void Serialize(const cep::internal::BufferedEvent<T>& e, DataOutput& out) {
    TypeSerializer<T>::Serialize(e.value, out);
    TypeSerializer<int64_t>::Serialize(e.timestamp, out);
    TypeSerializer<int32_t>::Serialize(e.references, out);
  }
  static void Deserialize(DataInput& in, cep::internal::BufferedEvent<T>& e) {
    TypeSerializer<T>::Deserialize(in, e.value);
    TypeSerializer<int64_t>::Deserialize(in, e.timestamp);
    TypeSerializer<int32_t>::Deserialize(in, e.references);
  }
};

template <class T>
struct TypeSerializer<cep::internal::KeyNfaState<T>> {
  using S = cep::internal::KeyNfaState<T>;
  static constexpr size_t kMinEncodedSize = 8;
  static void Serialize(const S& s, DataOutput& out) {
    TypeSerializer<decltype(s.partial_matches)>::Serialize(s.partial_matches, out);
    TypeSerializer<decltype(s.completed_matches)>::Serialize(s.completed_matches, out);
    TypeSerializer<decltype(s.nodes)>::Serialize(s.nodes, out);
    TypeSerializer<decltype(s.events)>::Serialize(s.events, out);
    TypeSerializer<decltype(s.pending)>::Serialize(s.pending, out);
    TypeSerializer<int64_t>::Serialize(s.next_event, out);
    TypeSerializer<int64_t>::Serialize(s.next_node, out);
    TypeSerializer<int64_t>::Serialize(s.window_timer, out);
  }
  static void Deserialize(DataInput& in, S& s) {
    TypeSerializer<decltype(s.partial_matches)>::Deserialize(in, s.partial_matches);
    TypeSerializer<decltype(s.completed_matches)>::Deserialize(in, s.completed_matches);
    TypeSerializer<decltype(s.nodes)>::Deserialize(in, s.nodes);
    TypeSerializer<decltype(s.events)>::Deserialize(in, s.events);
    TypeSerializer<decltype(s.pending)>::Deserialize(in, s.pending);
    TypeSerializer<int64_t>::Deserialize(in, s.next_event);
    TypeSerializer<int64_t>::Deserialize(in, s.next_node);
    TypeSerializer<int64_t>::Deserialize(in, s.window_timer);
  }
};

}  // namespace eddy

namespace eddy::cep::internal {

// Receives what the NFA produces.
template <class T>
class MatchCollector {
 public:
  virtual ~MatchCollector() = default;
  virtual void OnMatch(const Match<T>& match) = 0;
  // A partial match that timed out at `timeout_timestamp` (its start + window).
  virtual void OnTimeout(const Match<T>& partial, int64_t timeout_timestamp) = 0;
  // Whether OnTimeout is wanted (materializing partial matches costs).
  virtual bool WantsTimeouts() const = 0;
};

template <class T>
class Nfa {
 public:
  Nfa(std::shared_ptr<const CompiledNfa<T>> nfa, AfterMatchSkipStrategy skip)
      : nfa_(std::move(nfa)), skip_(std::move(skip)) {}

  int64_t window_ms() const { return nfa_->window_ms; }

  // The state of a key that has seen nothing.
  KeyNfaState<T> InitialState() const {
    KeyNfaState<T> s;
    s.partial_matches.push_back(ComputationState{nfa_->start, kNone, kNone, 0});
    return s;
  }
  // True when `s` equals the initial state apart from its counters, so it can
  // be dropped from keyed state.
  bool IsIdle(const KeyNfaState<T>& s) const {
    return s.pending.empty() && s.completed_matches.empty() && s.nodes.empty() && s.partial_matches.size() == 1 &&
           s.partial_matches.front().start_event == kNone;
  }

  // When the earliest partial match times out (kNoDeadline: none can).
  int64_t NextDeadline(const KeyNfaState<T>& s) const {
    const int64_t window = nfa_->window_ms;
    if (window <= 0) return kNoDeadline;
    std::optional<int64_t> earliest;
    for (const ComputationState& cs : s.partial_matches) {
      if (cs.start_event == kNone) continue;
      if (!earliest || cs.start_timestamp < *earliest) earliest = cs.start_timestamp;
    }
    if (!earliest) return kNoDeadline;
    return *earliest > std::numeric_limits<int64_t>::max() - window ? std::numeric_limits<int64_t>::max()
                                                                    : *earliest + window;
  }

  // Feeds one event (events must come in timestamp order).
  void Process(KeyNfaState<T>& s, const T& event, int64_t timestamp, int64_t processing_time,
               MatchCollector<T>& out) const {
    const int64_t event_id = s.next_event++;
    // The key's partial matches are rebuilt in place; the old ones go to a
    // buffer of this Nfa, whose capacity the next event reuses.
    std::vector<ComputationState>& partials = s.partial_matches;
    std::vector<ComputationState>& old = previous_;
    std::vector<ComputationState>& produced = produced_;
    std::vector<ComputationState> potential;
    old.swap(partials);
    partials.clear();
    for (const ComputationState& cs : old) {
      produced.clear();
      PartialMatchContext ctx(this, &s, cs.node, timestamp, processing_time);
      const bool from_start = type(cs.state) == StateType::kStart;
      for (const auto& [source, edge] : OutgoingEdges(cs.state, event, ctx)) {
        if (edge->action == EdgeAction::kIgnore) {
          if (from_start) continue;  // a fresh start state is added below
          Retain(s, cs.node);
          produced.push_back(ComputationState{edge->target, cs.node, cs.start_event, cs.start_timestamp});
          continue;
        }
        const int64_t node = PutNode(s, source, event_id, event, timestamp, cs.node);
        ComputationState next{edge->target, node, cs.start_event, cs.start_timestamp};
        if (from_start) {
          next.start_event = event_id;
          next.start_timestamp = timestamp;
        }
        Retain(s, node);
        produced.push_back(next);
        // A state that may proceed to the end completes a match right away.
        if (const int final_state = FinalStateAfterProceed(edge->target, event, ctx); final_state >= 0) {
          Retain(s, node);
          produced.push_back(ComputationState{final_state, node, next.start_event, next.start_timestamp});
        }
      }
      if (from_start) produced.push_back(ComputationState{cs.state, kNone, kNone, 0});
      Release(s, cs.node);

      const bool stopped = std::any_of(produced.begin(), produced.end(),
                                       [&](const ComputationState& p) { return type(p.state) == StateType::kStop; });
      for (const ComputationState& p : produced) {
        const StateType t = type(p.state);
        if (t == StateType::kFinal) {
          potential.push_back(p);
        } else if (t == StateType::kStop || stopped) {
          Release(s, p.node);  // a NOT event ended this branch
        } else {
          partials.push_back(p);
        }
      }
    }
    EmitMatches(s, std::move(potential), partials, out);
  }

  // Times out the partial matches whose window ended at `time` (none without
  // within()) and releases matches a skip strategy no longer holds back.
  void AdvanceTime(KeyNfaState<T>& s, int64_t time, MatchCollector<T>& out) const {
    const int64_t window = nfa_->window_ms;
    if (window <= 0 && s.completed_matches.empty()) return;
    const auto due = [&](const ComputationState& cs) {
      return window > 0 && cs.start_event != kNone && time - cs.start_timestamp >= window;
    };
    // The common case, nothing to do, allocates nothing.
    if (s.completed_matches.empty() && std::none_of(s.partial_matches.begin(), s.partial_matches.end(), due)) return;
    std::vector<ComputationState> partials;
    std::vector<ComputationState> timed_out;
    for (const ComputationState& cs : s.partial_matches) {
      if (due(cs)) {
        timed_out.push_back(cs);
      } else {
        partials.push_back(cs);
      }
    }
    if (timed_out.empty() && s.completed_matches.empty()) return;
    SortByStart(timed_out);
    for (const ComputationState& cs : timed_out) {
      if (out.WantsTimeouts()) out.OnTimeout(Materialize(s, cs.node), cs.start_timestamp + window);
      Release(s, cs.node);
    }
    EmitMatches(s, {}, partials, out);
    s.partial_matches = std::move(partials);
  }

 private:
  using Edge = NfaEdge<T>;

  // The condition context of one partial match: its events, materialized on
  // first use.
  class PartialMatchContext final : public Context<T> {
   public:
    PartialMatchContext(const Nfa* nfa, const KeyNfaState<T>* s, int64_t node, int64_t timestamp,
                        int64_t processing_time)
        : nfa_(nfa), s_(s), node_(node), timestamp_(timestamp), processing_time_(processing_time) {}
    const std::vector<T>& getEventsForPattern(const std::string& name) override {
      if (!events_) events_ = nfa_->Materialize(*s_, node_);
      auto it = events_->find(name);
      return it == events_->end() ? empty_ : it->second;
    }
    int64_t timestamp() const override { return timestamp_; }
    int64_t currentProcessingTime() const override { return processing_time_; }

   private:
    const Nfa* nfa_;
    const KeyNfaState<T>* s_;
    int64_t node_;
    int64_t timestamp_;
    int64_t processing_time_;
    std::optional<Match<T>> events_;
    const std::vector<T> empty_;
  };

  StateType type(int state) const { return nfa_->states[static_cast<size_t>(state)].type; }
  static bool Holds(const Condition<T>& c, const T& event, Context<T>& ctx) { return !c || c(event, ctx); }

  // The TAKE and IGNORE edges the event can follow from `state`, through any
  // PROCEED edges whose condition holds, with the state each edge leaves.
  // The result lives in a buffer of this Nfa, valid until the next call.
  const std::vector<std::pair<int, const Edge*>>& OutgoingEdges(int state, const T& event, Context<T>& ctx) const {
    std::vector<std::pair<int, const Edge*>>& edges = edges_;
    std::vector<int>& stack = stack_;
    edges.clear();
    stack.assign(1, state);
    while (!stack.empty()) {
      const int current = stack.back();
      stack.pop_back();
      for (const Edge& edge : nfa_->states[static_cast<size_t>(current)].edges) {
        if (!Holds(edge.condition, event, ctx)) continue;
        if (edge.action == EdgeAction::kProceed) {
          stack.push_back(edge.target);
        } else {
          edges.emplace_back(current, &edge);
        }
      }
    }
    return edges;
  }

  int FinalStateAfterProceed(int state, const T& event, Context<T>& ctx) const {
    std::vector<int>& stack = stack_;
    stack.assign(1, state);
    while (!stack.empty()) {
      const int current = stack.back();
      stack.pop_back();
      for (const Edge& edge : nfa_->states[static_cast<size_t>(current)].edges) {
        if (edge.action != EdgeAction::kProceed || !Holds(edge.condition, event, ctx)) continue;
        if (type(edge.target) == StateType::kFinal) return edge.target;
        stack.push_back(edge.target);
      }
    }
    return -1;
  }

  // Earlier start first; the start state's own entry last.
  static int64_t StartKey(const ComputationState& cs) {
    return cs.start_event == kNone ? std::numeric_limits<int64_t>::max() : cs.start_event;
  }
  static void SortByStart(std::vector<ComputationState>& v) {
    std::stable_sort(v.begin(), v.end(),
                     [](const ComputationState& a, const ComputationState& b) { return StartKey(a) < StartKey(b); });
  }

  void EmitMatches(KeyNfaState<T>& s, std::vector<ComputationState> potential, std::vector<ComputationState>& partials,
                   MatchCollector<T>& out) const {
    if (!skip_.isSkipStrategy()) {
      SortByStart(potential);
      for (const ComputationState& m : potential) {
        out.OnMatch(Materialize(s, m.node));
        Release(s, m.node);
      }
      return;
    }
    // A match is emitted once no partial match that started earlier remains:
    // that one could still complete and prune it.
    auto& completed = s.completed_matches;
    completed.insert(completed.end(), potential.begin(), potential.end());
    SortByStart(completed);
    while (!completed.empty()) {
      int64_t earliest_partial = std::numeric_limits<int64_t>::max();
      for (const auto& p : partials) earliest_partial = std::min(earliest_partial, StartKey(p));
      if (StartKey(completed.front()) > earliest_partial) break;
      const ComputationState match = completed.front();
      completed.erase(completed.begin());
      if (const std::optional<Pruning> pruning = PruningFor(s, match.node)) {
        Prune(s, partials, *pruning);
        Prune(s, completed, *pruning);
      }
      out.OnMatch(Materialize(s, match.node));
      Release(s, match.node);
    }
  }

  // Partial matches starting before (or at, when `inclusive`) `event` go.
  struct Pruning {
    int64_t event;
    bool inclusive;
  };
  std::optional<Pruning> PruningFor(const KeyNfaState<T>& s, int64_t node) const {
    using Kind = AfterMatchSkipStrategy::Kind;
    const auto path = Path(s, node);  // (state, event) in event order
    switch (skip_.kind()) {
      case Kind::kNoSkip:
        return std::nullopt;
      case Kind::kSkipToNext:
        return Pruning{path.front().second, true};
      case Kind::kSkipPastLastEvent:
        return Pruning{path.back().second, true};
      case Kind::kSkipToFirst:
      case Kind::kSkipToLast: {
        std::optional<int64_t> found;
        for (const auto& [state, event] : path) {
          if (nfa_->states[static_cast<size_t>(state)].name != skip_.patternName()) continue;
          if (!found || skip_.kind() == Kind::kSkipToLast) found = event;
        }
        if (!found) return std::nullopt;  // the part matched nothing: no pruning
        return Pruning{*found, false};
      }
    }
    return std::nullopt;
  }
  void Prune(KeyNfaState<T>& s, std::vector<ComputationState>& v, const Pruning& pruning) const {
    std::erase_if(v, [&](const ComputationState& cs) {
      if (cs.start_event == kNone) return false;
      const bool prune = pruning.inclusive ? cs.start_event <= pruning.event : cs.start_event < pruning.event;
      if (prune) Release(s, cs.node);
      return prune;
    });
  }

  // ---- The shared buffer ----

  int64_t PutNode(KeyNfaState<T>& s, int state, int64_t event_id, const T& event, int64_t timestamp,
                  int64_t previous) const {
    auto [it, inserted] = s.events.try_emplace(event_id);
    if (inserted) {
      it->second.value = event;
      it->second.timestamp = timestamp;
    }
    ++it->second.references;
    Retain(s, previous);
    const int64_t id = s.next_node++;
    s.nodes.emplace(id, BufferNode{state, event_id, previous, 0});
    return id;
  }
  static void Retain(KeyNfaState<T>& s, int64_t node) {
    if (node != kNone) ++s.nodes.at(node).references;
  }
  // Drops one reference to `node`; frees it (and then its predecessors and
  // events) when none is left.
  static void Release(KeyNfaState<T>& s, int64_t node) {
    while (node != kNone) {
      auto it = s.nodes.find(node);
      if (it == s.nodes.end()) throw std::logic_error("CEP buffer: a partial match refers to a missing node");
      if (--it->second.references > 0) return;
      auto event = s.events.find(it->second.event);
      if (event != s.events.end() && --event->second.references <= 0) s.events.erase(event);
      node = it->second.previous;
      s.nodes.erase(it);
    }
  }
  // The (state, event id) pairs of a chain, first event first.
  std::vector<std::pair<int, int64_t>> Path(const KeyNfaState<T>& s, int64_t node) const {
    std::vector<std::pair<int, int64_t>> path;
    for (; node != kNone;) {
      const BufferNode& n = s.nodes.at(node);
      path.emplace_back(n.state, n.event);
      node = n.previous;
    }
    std::reverse(path.begin(), path.end());
    return path;
  }
  Match<T> Materialize(const KeyNfaState<T>& s, int64_t node) const {
    Match<T> match;
    for (const auto& [state, event] : Path(s, node)) {
      match[nfa_->states[static_cast<size_t>(state)].name].push_back(s.events.at(event).value);
    }
    return match;
  }

  std::shared_ptr<const CompiledNfa<T>> nfa_;
  AfterMatchSkipStrategy skip_;
  // Working buffers of Process, kept to spare an allocation per event.
  mutable std::vector<ComputationState> previous_;
  mutable std::vector<ComputationState> produced_;
  mutable std::vector<std::pair<int, const Edge*>> edges_;
  mutable std::vector<int> stack_;
};

}  // namespace eddy::cep::internal
