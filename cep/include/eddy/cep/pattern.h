// The CEP Pattern API, modelled on Flink CEP: a pattern is a sequence of named
// parts, each with a condition, a quantifier (how many events it takes) and a
// contiguity (how it follows the previous part), plus an after-match skip
// strategy and an optional time window:
//
//   auto p = Pattern<Login>::begin("fail").where([](const Login& l) { return l.failed; })
//                .next("fail2").where([](const Login& l) { return l.failed; })
//                .within(std::chrono::seconds(2));
//
// Mistakes (a quantifier applied twice, an optional NOT pattern, a duplicate
// name...) throw MalformedPatternException with a message that says which
// part is wrong and why.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace eddy::cep {

// A match: the events of each pattern part, by part name, in event order.
template <class T>
using Match = std::map<std::string, std::vector<T>>;

class MalformedPatternException : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// What an iterative condition may look at besides the event: the events the
// partial match being extended already holds, and the clocks.
template <class T>
class Context {
 public:
  virtual ~Context() = default;
  // The events already matched to part `name` by this partial match (empty
  // when none); the event being tested is not among them.
  virtual const std::vector<T>& getEventsForPattern(const std::string& name) = 0;
  // The timestamp of the event being tested.
  virtual int64_t timestamp() const = 0;
  virtual int64_t currentProcessingTime() const = 0;
};

// Base classes for conditions written as classes (lambdas work too).
template <class T>
class SimpleCondition {
 public:
  virtual ~SimpleCondition() = default;
  virtual bool filter(const T& value) = 0;
};
template <class T>
class IterativeCondition {
 public:
  virtual ~IterativeCondition() = default;
  virtual bool filter(const T& value, Context<T>& ctx) = 0;
};

// A condition in the form every edge of the NFA uses; empty means "true".
template <class T>
using Condition = std::function<bool(const T&, Context<T>&)>;

// Which events may lie between two matched events.
enum class ConsumingStrategy {
  kStrict,        // next(): none
  kSkipTillNext,  // followedBy(): any that do not match
  kSkipTillAny,   // followedByAny(): any, and matching ones branch
  kNotNext,       // notNext()
  kNotFollow,     // notFollowedBy()
};

// What happens to the other partial matches once a match is emitted.
class AfterMatchSkipStrategy {
 public:
  enum class Kind { kNoSkip, kSkipToNext, kSkipPastLastEvent, kSkipToFirst, kSkipToLast };

  // Every match is emitted; nothing is discarded.
  static AfterMatchSkipStrategy noSkip() { return AfterMatchSkipStrategy(Kind::kNoSkip, ""); }
  // Partial matches that started with the match's first event are discarded.
  static AfterMatchSkipStrategy skipToNext() { return AfterMatchSkipStrategy(Kind::kSkipToNext, ""); }
  // Partial matches that started within the match are discarded.
  static AfterMatchSkipStrategy skipPastLastEvent() { return AfterMatchSkipStrategy(Kind::kSkipPastLastEvent, ""); }
  // Partial matches that started before the first (last) event of part
  // `name` in the match are discarded.
  static AfterMatchSkipStrategy skipToFirst(std::string name) {
    return AfterMatchSkipStrategy(Kind::kSkipToFirst, std::move(name));
  }
  static AfterMatchSkipStrategy skipToLast(std::string name) {
    return AfterMatchSkipStrategy(Kind::kSkipToLast, std::move(name));
  }

  Kind kind() const { return kind_; }
  // The part named by skipToFirst / skipToLast.
  const std::string& patternName() const { return name_; }
  // True when matches may discard partial matches (every kind but noSkip).
  bool isSkipStrategy() const { return kind_ != Kind::kNoSkip; }

 private:
  AfterMatchSkipStrategy(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  Kind kind_;
  std::string name_;
};

// One part of a pattern, as the NFA compiler reads it.
template <class T>
struct PatternPart {
  enum class Quantity { kSingle, kLooping, kTimes };

  std::string name;
  ConsumingStrategy consuming = ConsumingStrategy::kSkipTillNext;
  // Contiguity between the events of a looping or times part.
  ConsumingStrategy inner = ConsumingStrategy::kSkipTillNext;
  Condition<T> condition;  // empty: every event
  Condition<T> until;      // empty: none
  Quantity quantity = Quantity::kSingle;
  int times_from = 1;
  int times_to = 1;
  bool optional = false;
  bool greedy = false;
  std::optional<int64_t> within_ms;

  bool isNot() const { return consuming == ConsumingStrategy::kNotNext || consuming == ConsumingStrategy::kNotFollow; }
};

template <class T>
class Pattern {
 public:
  using ValueType = T;

  // The first part of a pattern.
  static Pattern begin(const std::string& name, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::noSkip()) {
    Pattern p(std::move(skip));
    p.Append(name, ConsumingStrategy::kSkipTillNext);
    return p;
  }

  // ---- Conditions of the last part ----

  // Adds a condition (AND with earlier ones): bool(const T&), bool(const T&,
  // Context<T>&), a SimpleCondition<T> or an IterativeCondition<T>.
  template <class F>
  Pattern& where(F condition) {
    Condition<T> c = Wrap(std::move(condition), "where");
    Condition<T>& current = last().condition;
    current = current ? And(current, c) : c;
    return *this;
  }
  // An alternative condition (OR with the earlier ones).
  template <class F>
  Pattern& or_(F condition) {
    Condition<T> c = Wrap(std::move(condition), "or");
    Condition<T>& current = last().condition;
    current = current ? Or(current, c) : c;
    return *this;
  }
  // The loop of a oneOrMore / timesOrMore part stops at the first event
  // matching `condition` (which is not taken).
  template <class F>
  Pattern& until(F condition) {
    if (last().quantity != PatternPart<T>::Quantity::kLooping) {
      Fail("until() applies only to looping parts (oneOrMore, timesOrMore)");
    }
    if (last().until) Fail("the until condition is already set");
    last().until = Wrap(std::move(condition), "until");
    return *this;
  }

  // ---- Quantifiers of the last part ----

  // Exactly n events.
  Pattern& times(int n) {
    if (n < 1) Fail("times(" + std::to_string(n) + "): the count must be at least 1");
    return times(n, n);
  }
  // From `from` to `to` events; times(0, n) makes the part optional.
  Pattern& times(int from, int to) {
    CheckNoNot("times");
    CheckNoQuantifier();
    if (from < 0 || to < 1 || from > to) {
      Fail("times(" + std::to_string(from) + ", " + std::to_string(to) + "): need 0 <= from <= to and to >= 1");
    }
    last().quantity = PatternPart<T>::Quantity::kTimes;
    if (from == 0) {
      last().optional = true;
      from = 1;
    }
    last().times_from = from;
    last().times_to = to;
    return *this;
  }
  // One or more events.
  Pattern& oneOrMore() { return timesOrMore(1); }
  // n or more events.
  Pattern& timesOrMore(int n) {
    CheckNoNot("timesOrMore");
    CheckNoQuantifier();
    if (n < 1) Fail("timesOrMore(" + std::to_string(n) + "): the count must be at least 1 (add optional() for zero)");
    last().quantity = PatternPart<T>::Quantity::kLooping;
    last().times_from = n;
    last().times_to = n;
    return *this;
  }
  // The part may match no event at all.
  Pattern& optional() {
    CheckNoNot("optional");
    if (last().optional) Fail("optional() is already applied");
    last().optional = true;
    return *this;
  }
  // A looping part takes as many events as it can before the next part.
  Pattern& greedy() {
    CheckNoNot("greedy");
    if (last().quantity == PatternPart<T>::Quantity::kSingle) {
      Fail("greedy() applies only to looping or times parts");
    }
    if (last().inner == ConsumingStrategy::kSkipTillAny) Fail("greedy() cannot be combined with allowCombinations()");
    last().greedy = true;
    return *this;
  }
  // Strict contiguity between the events of a looping or times part.
  Pattern& consecutive() {
    CheckInnerApplicable("consecutive");
    last().inner = ConsumingStrategy::kStrict;
    return *this;
  }
  // Non-deterministic relaxed contiguity between the events of a looping or
  // times part: every combination of matching events.
  Pattern& allowCombinations() {
    CheckInnerApplicable("allowCombinations");
    if (last().greedy) Fail("allowCombinations() cannot be combined with greedy()");
    last().inner = ConsumingStrategy::kSkipTillAny;
    return *this;
  }

  // A match must complete within `window` of its first event; partial
  // matches older than that time out. The smallest window of all parts holds.
  template <class Rep, class Period>
  Pattern& within(std::chrono::duration<Rep, Period> window) {
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    if (ms <= 0) Fail("within(): the window must be positive, got " + std::to_string(ms) + " ms");
    last().within_ms = ms;
    return *this;
  }

  // ---- Following parts ----

  // Strict contiguity: the next event must match.
  Pattern next(const std::string& name) const { return Then(name, ConsumingStrategy::kStrict); }
  // Relaxed contiguity: non-matching events in between are skipped.
  Pattern followedBy(const std::string& name) const { return Then(name, ConsumingStrategy::kSkipTillNext); }
  // Non-deterministic relaxed contiguity: matching events may be skipped too.
  Pattern followedByAny(const std::string& name) const { return Then(name, ConsumingStrategy::kSkipTillAny); }
  // The next event must not match this part.
  Pattern notNext(const std::string& name) const { return ThenNot(name, ConsumingStrategy::kNotNext, "notNext"); }
  // No event matching this part may occur before the following part matches.
  Pattern notFollowedBy(const std::string& name) const {
    return ThenNot(name, ConsumingStrategy::kNotFollow, "notFollowedBy");
  }

  // ---- Reading ----

  const std::vector<PatternPart<T>>& parts() const { return parts_; }
  const AfterMatchSkipStrategy& getAfterMatchSkipStrategy() const { return skip_; }
  // The smallest within() of all parts, if any.
  std::optional<int64_t> getWindowMillis() const {
    std::optional<int64_t> window;
    for (const auto& p : parts_) {
      if (p.within_ms && (!window || *p.within_ms < *window)) window = p.within_ms;
    }
    return window;
  }

 private:
  explicit Pattern(AfterMatchSkipStrategy skip) : skip_(std::move(skip)) {}

  PatternPart<T>& last() { return parts_.back(); }

  [[noreturn]] void Fail(const std::string& why) const {
    throw MalformedPatternException("pattern part '" + parts_.back().name + "': " + why);
  }
  void CheckNoNot(const char* what) const {
    if (parts_.back().isNot()) Fail(std::string(what) + "() is not applicable to a NOT part (notNext/notFollowedBy)");
  }
  void CheckNoQuantifier() const {
    if (parts_.back().quantity != PatternPart<T>::Quantity::kSingle) {
      Fail("a quantifier (times/oneOrMore/timesOrMore) is already applied");
    }
  }
  void CheckInnerApplicable(const char* what) const {
    CheckNoNot(what);
    if (parts_.back().quantity == PatternPart<T>::Quantity::kSingle) {
      Fail(std::string(what) + "() applies only to looping or times parts");
    }
  }

  void Append(const std::string& name, ConsumingStrategy consuming) {
    if (name.empty()) throw MalformedPatternException("a pattern part needs a non-empty name");
    if (name.find('$') != std::string::npos) {
      throw MalformedPatternException("pattern part '" + name + "': names must not contain '$'");
    }
    for (const auto& p : parts_) {
      if (p.name == name) {
        throw MalformedPatternException("duplicate pattern part name '" + name + "': names must be unique");
      }
    }
    PatternPart<T> part;
    part.name = name;
    part.consuming = consuming;
    parts_.push_back(std::move(part));
  }
  Pattern Then(const std::string& name, ConsumingStrategy consuming) const {
    Pattern p = *this;
    p.Append(name, consuming);
    return p;
  }
  Pattern ThenNot(const std::string& name, ConsumingStrategy consuming, const char* what) const {
    if (parts_.back().optional) {
      Fail(std::string(what) +
           "() after an optional part is not supported: write two patterns, one with "
           "and one without the optional part");
    }
    return Then(name, consuming);
  }

  template <class F>
  static Condition<T> Wrap(F f, const char* what) {
    if constexpr (std::is_base_of_v<IterativeCondition<T>, F> || std::is_base_of_v<SimpleCondition<T>, F>) {
      auto shared = std::make_shared<F>(std::move(f));
      if constexpr (std::is_base_of_v<IterativeCondition<T>, F>) {
        return [shared](const T& v, Context<T>& ctx) { return shared->filter(v, ctx); };
      } else {
        return [shared](const T& v, Context<T>&) { return shared->filter(v); };
      }
    } else if constexpr (std::is_invocable_r_v<bool, F&, const T&, Context<T>&>) {
      return [f = std::move(f)](const T& v, Context<T>& ctx) mutable { return static_cast<bool>(f(v, ctx)); };
    } else {
      static_assert(std::is_invocable_r_v<bool, F&, const T&>,
                    "a CEP condition must be a callable bool(const T&), bool(const T&, cep::Context<T>&), "
                    "a SimpleCondition<T> or an IterativeCondition<T>");
      return [f = std::move(f)](const T& v, Context<T>&) mutable { return static_cast<bool>(f(v)); };
    }
  }

 public:
  // Condition combinators the compiler uses too.
  static Condition<T> And(Condition<T> a, Condition<T> b) {
    if (!a) return b;
    if (!b) return a;
    return [a = std::move(a), b = std::move(b)](const T& v, Context<T>& c) { return a(v, c) && b(v, c); };
  }
  static Condition<T> Or(Condition<T> a, Condition<T> b) {
    if (!a || !b) return {};
    return [a = std::move(a), b = std::move(b)](const T& v, Context<T>& c) { return a(v, c) || b(v, c); };
  }
  static Condition<T> Not(Condition<T> a) {
    if (!a) return [](const T&, Context<T>&) { return false; };
    return [a = std::move(a)](const T& v, Context<T>& c) { return !a(v, c); };
  }

 private:
  AfterMatchSkipStrategy skip_;
  std::vector<PatternPart<T>> parts_;
};

}  // namespace eddy::cep
