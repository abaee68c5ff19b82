// Compiles a Pattern into an NFA the way Flink CEP's NFACompiler does: states
// with TAKE (consume the event, move on), IGNORE (skip the event, stay or
// move) and PROCEED (move on without consuming, an epsilon edge) transitions.
// The pattern is translated from its last part to its first, so every part
// knows the state that follows it. NOT parts become STOP states: reaching one
// discards the partial match.
#pragma once

#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eddy/cep/pattern.h"

namespace eddy::cep::internal {

enum class StateType : uint8_t { kStart, kNormal, kFinal, kStop };
enum class EdgeAction : uint8_t { kTake, kIgnore, kProceed };

template <class T>
struct NfaEdge {
  EdgeAction action;
  int target;
  Condition<T> condition;  // empty: always
};

template <class T>
struct NfaState {
  std::string name;  // the pattern part whose events this state takes
  StateType type;
  std::vector<NfaEdge<T>> edges;
};

template <class T>
struct CompiledNfa {
  std::vector<NfaState<T>> states;
  int start = -1;
  int64_t window_ms = 0;  // 0: no within()
};

inline constexpr char kEndStateName[] = "$endState$";

template <class T>
class NfaCompiler {
 public:
  // Throws MalformedPatternException for patterns the NFA cannot express.
  static std::shared_ptr<const CompiledNfa<T>> Compile(const Pattern<T>& pattern) {
    NfaCompiler compiler(pattern);
    return std::make_shared<const CompiledNfa<T>>(compiler.Run());
  }

 private:
  using Part = PatternPart<T>;
  using P = Pattern<T>;

  explicit NfaCompiler(const Pattern<T>& pattern) : pattern_(pattern), parts_(pattern.parts()) {}

  CompiledNfa<T> Run() {
    CheckSkipStrategy();
    nfa_.window_ms = pattern_.getWindowMillis().value_or(0);
    int sink = CreateState(kEndStateName, StateType::kFinal);
    current_ = static_cast<int>(parts_.size()) - 1;
    following_ = -1;
    while (current_ > 0) {
      const Part& p = parts_[static_cast<size_t>(current_)];
      if (p.consuming == ConsumingStrategy::kNotFollow) {
        // Becomes stop edges of the states around it.
        if (nfa_.states[static_cast<size_t>(sink)].type == StateType::kFinal) {
          throw MalformedPatternException("pattern part '" + p.name +
                                          "': notFollowedBy() cannot be the last part of a pattern");
        }
      } else if (p.consuming == ConsumingStrategy::kNotNext) {
        const int not_next = CreateState(p.name, StateType::kNormal);
        const Condition<T> not_condition = p.condition;
        const int stop = CreateStopState(not_condition, p.name);
        // Before the final state an IGNORE, so that the match is not completed
        // by the event that was just taken.
        if (nfa_.states[static_cast<size_t>(sink)].type == StateType::kFinal) {
          AddEdge(not_next, EdgeAction::kIgnore, sink, P::Not(not_condition));
        } else {
          AddEdge(not_next, EdgeAction::kProceed, sink, P::Not(not_condition));
        }
        AddEdge(not_next, EdgeAction::kProceed, stop, not_condition);
        sink = not_next;
      } else {
        sink = ConvertPattern(sink);
      }
      following_ = current_;
      --current_;
    }
    if (parts_.front().isNot()) throw MalformedPatternException("a pattern cannot begin with a NOT part");
    const int start = ConvertPattern(sink);
    nfa_.states[static_cast<size_t>(start)].type = StateType::kStart;
    nfa_.start = start;
    return std::move(nfa_);
  }

  void CheckSkipStrategy() const {
    const auto& skip = pattern_.getAfterMatchSkipStrategy();
    using Kind = AfterMatchSkipStrategy::Kind;
    if (skip.kind() != Kind::kSkipToFirst && skip.kind() != Kind::kSkipToLast) return;
    for (const auto& p : parts_) {
      if (p.name == skip.patternName()) return;
    }
    throw MalformedPatternException("the after-match skip strategy names pattern part '" + skip.patternName() +
                                    "', which the pattern does not have");
  }

  const Part& current() const { return parts_[static_cast<size_t>(current_)]; }

  int CreateState(const std::string& name, StateType type) {
    nfa_.states.push_back(NfaState<T>{name, type, {}});
    return static_cast<int>(nfa_.states.size()) - 1;
  }
  void AddEdge(int from, EdgeAction action, int to, Condition<T> condition) {
    nfa_.states[static_cast<size_t>(from)].edges.push_back(NfaEdge<T>{action, to, std::move(condition)});
  }

  int ConvertPattern(int sink) {
    const Part& p = current();
    int last;
    if (p.quantity == Part::Quantity::kLooping) {
      // Once the loop has taken an event, NOT parts before an optional part
      // no longer apply.
      const int looping = CreateLooping(CopyWithoutTransitiveNots(sink));
      last = CreateTimesState(looping, sink, p.times_from, p.times_to);
    } else if (p.quantity == Part::Quantity::kTimes) {
      last = CreateTimesState(sink, sink, p.times_from, p.times_to);
    } else {
      last = CreateSingletonState(sink, sink, p.condition, IgnoreCondition(p.consuming), p.optional);
    }
    AddStopStates(last);
    return last;
  }

  // `from` mandatory copies of the part, then up to `to` optional ones.
  int CreateTimesState(int sink, int proceed, int from, int to) {
    const Part& p = current();
    const std::optional<Condition<T>> inner_ignore = ExtendWithUntil(IgnoreCondition(p.inner), p.until);
    const Condition<T> take = TakeWithUntil(p);
    if (p.greedy && from != to) {
      if (p.until) original_of_[sink] = Copy(sink);
      UpdateWithGreedyCondition(sink, take);
    }
    int last = sink;
    for (int i = from; i < to; ++i) {
      last = CreateSingletonState(last, proceed, take, inner_ignore, true);
      AddStopStateToLooping(last);
    }
    for (int i = 0; i < from - 1; ++i) {
      last = CreateSingletonState(last, -1, take, inner_ignore, false);
      AddStopStateToLooping(last);
    }
    return CreateSingletonState(last, proceed, take, IgnoreCondition(p.consuming), p.optional);
  }

  int CreateSingletonState(int sink, int proceed, const Condition<T>& take, const std::optional<Condition<T>>& ignore,
                           bool optional) {
    const Part& p = current();
    const int state = CreateState(p.name, StateType::kNormal);
    const int taken_sink = CopyWithoutTransitiveNots(sink);
    AddEdge(state, EdgeAction::kTake, taken_sink, take);
    if (optional) {
      if (p.greedy && p.until) {
        auto original = original_of_.find(proceed);
        AddEdge(state, EdgeAction::kProceed, original == original_of_.end() ? proceed : original->second, p.until);
        AddEdge(state, EdgeAction::kProceed, proceed, P::Not(p.until));
      } else {
        AddEdge(state, EdgeAction::kProceed, proceed, {});
      }
    }
    if (ignore) {
      int ignore_state = state;
      if (optional) {
        // Skipping events must not make the optional part skippable forever
        // (its PROCEED edge stays on `state`).
        ignore_state = CreateState(p.name, StateType::kNormal);
        AddEdge(ignore_state, EdgeAction::kTake, taken_sink, take);
        AddEdge(ignore_state, EdgeAction::kIgnore, ignore_state, *ignore);
        AddStopStates(ignore_state);
      }
      AddEdge(state, EdgeAction::kIgnore, ignore_state, *ignore);
    }
    return state;
  }

  int CreateLooping(int sink) {
    const Part& p = current();
    const std::optional<Condition<T>> ignore = ExtendWithUntil(IgnoreCondition(p.inner), p.until);
    const Condition<T> take = TakeWithUntil(p);
    const int looping = CreateState(p.name, StateType::kNormal);
    if (p.greedy) {
      if (p.until) {
        const int copy = Copy(sink);
        AddEdge(looping, EdgeAction::kProceed, copy, p.until);
        original_of_[sink] = copy;
      }
      AddEdge(looping, EdgeAction::kProceed, sink, p.until ? P::Not(p.until) : Condition<T>{});
      UpdateWithGreedyCondition(sink, p.condition);
    } else {
      AddEdge(looping, EdgeAction::kProceed, sink, {});
    }
    AddEdge(looping, EdgeAction::kTake, looping, take);
    AddStopStateToLooping(looping);
    if (ignore) {
      const int ignore_state = CreateState(p.name, StateType::kNormal);
      AddEdge(ignore_state, EdgeAction::kTake, looping, take);
      AddEdge(ignore_state, EdgeAction::kIgnore, ignore_state, *ignore);
      AddEdge(looping, EdgeAction::kIgnore, ignore_state, *ignore);
      AddStopStateToLooping(ignore_state);
    }
    return looping;
  }

  // A loop followed by notFollowedBy stops when the NOT event arrives.
  void AddStopStateToLooping(int state) {
    if (following_ < 0) return;
    const Part& next = parts_[static_cast<size_t>(following_)];
    if (next.consuming != ConsumingStrategy::kNotFollow) return;
    AddEdge(state, EdgeAction::kProceed, CreateStopState(next.condition, next.name), next.condition);
  }

  // NOT parts that precede the current part (across optional parts) stop a
  // partial match waiting in this state.
  void AddStopStates(int state) {
    for (const auto& [condition, name] : CurrentNotConditions()) {
      AddEdge(state, EdgeAction::kProceed, CreateStopState(condition, name), condition);
    }
  }
  std::vector<std::pair<Condition<T>, std::string>> CurrentNotConditions() const {
    std::vector<std::pair<Condition<T>, std::string>> conditions;
    for (int i = current_; i > 0;) {
      const Part& previous = parts_[static_cast<size_t>(i - 1)];
      if (!previous.optional && previous.consuming != ConsumingStrategy::kNotFollow) break;
      --i;
      if (previous.consuming == ConsumingStrategy::kNotFollow)
        conditions.emplace_back(previous.condition, previous.name);
    }
    return conditions;
  }
  // An optional part that takes an event ends the NOT parts before it: its
  // TAKE leads to a copy of the sink without their stop edges.
  int CopyWithoutTransitiveNots(int sink) {
    if (!current().optional || CurrentNotConditions().empty()) return sink;
    const NfaState<T> original = nfa_.states[static_cast<size_t>(sink)];
    const int copy = CreateState(original.name, original.type);
    for (const auto& edge : original.edges) {
      if (edge.action == EdgeAction::kProceed &&
          nfa_.states[static_cast<size_t>(edge.target)].type == StateType::kStop) {
        continue;
      }
      AddEdge(copy, edge.action, edge.target == sink ? copy : edge.target, edge.condition);
    }
    return copy;
  }
  int Copy(int state) {
    const NfaState<T> original = nfa_.states[static_cast<size_t>(state)];
    const int copy = CreateState(original.name, original.type);
    for (const auto& edge : original.edges) {
      AddEdge(copy, edge.action, edge.target == state ? copy : edge.target, edge.condition);
    }
    return copy;
  }
  // One STOP state per NOT part; it takes the NOT event, which ends the path.
  int CreateStopState(const Condition<T>& condition, const std::string& name) {
    auto it = stop_states_.find(name);
    if (it != stop_states_.end()) return it->second;
    const int stop = CreateState(name, StateType::kStop);
    AddEdge(stop, EdgeAction::kTake, stop, condition);
    stop_states_[name] = stop;
    return stop;
  }
  // A greedy loop keeps events from the states after it.
  void UpdateWithGreedyCondition(int state, const Condition<T>& take) {
    for (auto& edge : nfa_.states[static_cast<size_t>(state)].edges) {
      edge.condition = P::And(edge.condition, P::Not(take));
    }
  }

  // The IGNORE condition of a contiguity: none (strict), the negated
  // condition (relaxed) or always (non-deterministic relaxed).
  std::optional<Condition<T>> IgnoreCondition(ConsumingStrategy strategy) const {
    switch (strategy) {
      case ConsumingStrategy::kSkipTillNext:
        return P::Not(current().condition);
      case ConsumingStrategy::kSkipTillAny:
        return Condition<T>{};
      default:
        return std::nullopt;
    }
  }
  std::optional<Condition<T>> ExtendWithUntil(std::optional<Condition<T>> condition, const Condition<T>& until) const {
    if (!until || !condition) return condition;
    return P::And(P::Not(until), *condition);
  }
  Condition<T> TakeWithUntil(const Part& p) const {
    return p.until ? P::And(P::Not(p.until), p.condition) : p.condition;
  }

  const Pattern<T>& pattern_;
  const std::vector<Part>& parts_;
  CompiledNfa<T> nfa_;
  int current_ = 0;
  int following_ = -1;
  std::map<std::string, int> stop_states_;
  std::map<int, int> original_of_;  // greedy + until: a sink before the greedy condition was added
};

}  // namespace eddy::cep::internal
