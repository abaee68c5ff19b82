// The CEP NFA on small event sequences, against matches worked out by hand:
// every contiguity, quantifier and skip strategy, until/or, iterative
// conditions, within() timeouts, malformed patterns, and the NFA state
// surviving a serialization round trip in the middle of a sequence.
//
// Events are named by a letter and a number ("a1", "b2"); conditions look at
// the letter. A match is written as its events in order, with "|" between
// pattern parts ("a1 a2|b1").
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eddy/cep.h"
#include "gtest/gtest.h"

namespace cep_test {

struct Ev {
  std::string id;
  int64_t value = 0;
};
EDDY_FIELDS(Ev, id, value);

}  // namespace cep_test

namespace {

using cep_test::Ev;
using eddy::cep::AfterMatchSkipStrategy;
using eddy::cep::MalformedPatternException;
using eddy::cep::Match;
using eddy::cep::Pattern;
namespace internal = eddy::cep::internal;

auto Is(char letter) {
  return [letter](const Ev& e) { return e.id[0] == letter; };
}

// "a1 a2|b1": the parts in pattern order (names given), events in order.
std::string Show(const Match<Ev>& m, const std::vector<std::string>& order) {
  std::string out;
  for (const auto& name : order) {
    auto it = m.find(name);
    if (it == m.end()) continue;
    if (!out.empty()) out += "|";
    for (size_t i = 0; i < it->second.size(); ++i) out += (i ? " " : "") + it->second[i].id;
  }
  return out;
}

std::vector<std::string> Names(const Pattern<Ev>& p) {
  std::vector<std::string> names;
  for (const auto& part : p.parts()) names.push_back(part.name);
  return names;
}

struct Result {
  std::vector<std::string> matches;
  std::vector<std::pair<std::string, int64_t>> timeouts;
};

class Collect final : public internal::MatchCollector<Ev> {
 public:
  Collect(Result* r, std::vector<std::string> order) : r_(r), order_(std::move(order)) {}
  void OnMatch(const Match<Ev>& m) override { r_->matches.push_back(Show(m, order_)); }
  void OnTimeout(const Match<Ev>& m, int64_t at) override { r_->timeouts.emplace_back(Show(m, order_), at); }
  bool WantsTimeouts() const override { return true; }

 private:
  Result* r_;
  std::vector<std::string> order_;
};

// Feeds `ids` with timestamps 0, 1, 2... (or `timestamps`), advancing time
// before every event as the operator does, then advances to `end_time`.
Result Feed(const Pattern<Ev>& pattern, const std::vector<std::string>& ids, std::vector<int64_t> timestamps = {},
            int64_t end_time = -1) {
  internal::Nfa<Ev> nfa(internal::NfaCompiler<Ev>::Compile(pattern), pattern.getAfterMatchSkipStrategy());
  Result r;
  Collect out(&r, Names(pattern));
  auto state = nfa.InitialState();
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t ts = timestamps.empty() ? static_cast<int64_t>(i) : timestamps[i];
    nfa.AdvanceTime(state, ts, out);
    nfa.Process(state, Ev{ids[i], static_cast<int64_t>(i)}, ts, 0, out);
  }
  if (end_time >= 0) nfa.AdvanceTime(state, end_time, out);
  return r;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

using V = std::vector<std::string>;

// ---- Contiguity ----

TEST(NfaContiguityTest, NextNeedsTheVeryNextEvent) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).next("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "b1", "a2", "c1", "b2"}).matches, V({"a1|b1"}));
}

TEST(NfaContiguityTest, FollowedBySkipsNonMatchingEventsAndTakesTheFirstMatch) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).followedBy("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "c1", "b1", "b2"}).matches, V({"a1|b1"}));
}

TEST(NfaContiguityTest, FollowedByAnyAlsoSkipsMatchingEvents) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).followedByAny("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "c1", "b1", "b2"}).matches, V({"a1|b1", "a1|b2"}));
}

TEST(NfaContiguityTest, NotNextDiscardsWhenTheNextEventMatches) {
  // a1 is followed by c1: discarded. a2 is followed by b1: a match, once b1 shows it.
  auto p = Pattern<Ev>::begin("a").where(Is('a')).notNext("c").where(Is('c'));
  EXPECT_EQ(Feed(p, {"a1", "c1", "a2", "b1"}).matches, V({"a2"}));
  // In the middle of a pattern.
  auto q = Pattern<Ev>::begin("a").where(Is('a')).notNext("c").where(Is('c')).followedBy("b").where(Is('b'));
  EXPECT_EQ(Feed(q, {"a1", "c1", "b1", "a2", "d1", "b2"}).matches, V({"a2|b2"}));
}

TEST(NfaContiguityTest, NotFollowedByDiscardsWhenTheEventComesInBetween) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).notFollowedBy("c").where(Is('c')).followedBy("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "c1", "b1", "a2", "d1", "b2"}).matches, V({"a2|b2"}));
}

// ---- Quantifiers ----

TEST(NfaQuantifierTest, TimesWithRelaxedInnerContiguity) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).times(3);
  // b1 may lie between; a matching event may not be skipped.
  EXPECT_EQ(Feed(p, {"a1", "a2", "b1", "a3", "a4"}).matches, V({"a1 a2 a3", "a2 a3 a4"}));
}

TEST(NfaQuantifierTest, TimesConsecutive) {
  auto relaxed = Pattern<Ev>::begin("a").where(Is('a')).times(3);
  auto strict = Pattern<Ev>::begin("a").where(Is('a')).times(3).consecutive();
  const V events = {"a1", "a2", "b1", "a3", "a4", "a5"};
  EXPECT_EQ(Feed(relaxed, events).matches, V({"a1 a2 a3", "a2 a3 a4", "a3 a4 a5"}));
  EXPECT_EQ(Feed(strict, events).matches, V({"a3 a4 a5"}));
}

TEST(NfaQuantifierTest, TimesAllowCombinations) {
  auto relaxed = Pattern<Ev>::begin("a").where(Is('a')).times(2);
  auto any = Pattern<Ev>::begin("a").where(Is('a')).times(2).allowCombinations();
  const V events = {"a1", "b1", "a2", "a3"};
  EXPECT_EQ(Sorted(Feed(relaxed, events).matches), V({"a1 a2", "a2 a3"}));
  EXPECT_EQ(Sorted(Feed(any, events).matches), V({"a1 a2", "a1 a3", "a2 a3"}));
}

TEST(NfaQuantifierTest, TimesFromTo) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).times(1, 3);
  // Every run of 1 to 3 consecutive a's, each reported when its last event arrives.
  EXPECT_EQ(Feed(p, {"a1", "a2", "a3"}).matches, V({"a1", "a1 a2", "a2", "a1 a2 a3", "a2 a3", "a3"}));
  // times(0, 2) makes the part optional.
  auto q = Pattern<Ev>::begin("s").where(Is('s')).next("a").where(Is('a')).times(0, 2).next("e").where(Is('e'));
  EXPECT_EQ(
      Sorted(Feed(q, {"s1", "e1", "s2", "a1", "e2", "s3", "a2", "a3", "e3", "s4", "a4", "a5", "a6", "e4"}).matches),
      Sorted(V({"s1|e1", "s2|a1|e2", "s3|a2 a3|e3"})));
}

TEST(NfaQuantifierTest, OneOrMoreThenNext) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().next("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "a2", "a3", "b1"}).matches, V({"a1 a2 a3|b1", "a2 a3|b1", "a3|b1"}));
}

TEST(NfaQuantifierTest, OneOrMoreThenFollowedBy) {
  // The relaxed b may skip a2, so a1|b1 is a match too.
  auto p = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().followedBy("b").where(Is('b'));
  EXPECT_EQ(Sorted(Feed(p, {"a1", "a2", "b1"}).matches), V({"a1 a2|b1", "a1|b1", "a2|b1"}));
}

TEST(NfaQuantifierTest, LoopingConsecutiveVersusRelaxed) {
  const V events = {"a1", "c1", "a2", "b1"};
  auto relaxed = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().next("b").where(Is('b'));
  auto strict = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().consecutive().next("b").where(Is('b'));
  auto any = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().allowCombinations().next("b").where(Is('b'));
  EXPECT_EQ(Sorted(Feed(relaxed, events).matches), V({"a1 a2|b1", "a2|b1"}));
  EXPECT_EQ(Sorted(Feed(strict, events).matches), V({"a2|b1"}));
  // allowCombinations may also skip a2 inside the loop, but next() still needs
  // the loop's last event right before b1.
  EXPECT_EQ(Sorted(Feed(any, events).matches), V({"a1 a2|b1", "a2|b1"}));
  auto any3 = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().allowCombinations().followedBy("b").where(Is('b'));
  EXPECT_EQ(Sorted(Feed(any3, {"a1", "a2", "a3", "b1"}).matches),
            V({"a1 a2 a3|b1", "a1 a2|b1", "a1 a3|b1", "a1|b1", "a2 a3|b1", "a2|b1", "a3|b1"}));
}

TEST(NfaQuantifierTest, TimesOrMore) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).timesOrMore(2).next("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"a1", "a2", "a3", "b1"}).matches, V({"a1 a2 a3|b1", "a2 a3|b1"}));
}

TEST(NfaQuantifierTest, Optional) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).next("b").where(Is('b')).optional().next("c").where(Is('c'));
  EXPECT_EQ(Feed(p, {"a1", "c1", "a2", "b1", "c2", "a3", "b2", "b3", "c3"}).matches, V({"a1|c1", "a2|b1|c2"}));
}

TEST(NfaQuantifierTest, GreedyKeepsEventsInTheLoop) {
  // x satisfies both the loop and b. Without greedy, b may take x1 right
  // away (a1|x1); with greedy the loop keeps it.
  auto a_or_x = [](const Ev& e) { return e.id[0] == 'a' || e.id[0] == 'x'; };
  auto x_or_b = [](const Ev& e) { return e.id[0] == 'x' || e.id[0] == 'b'; };
  auto lazy = Pattern<Ev>::begin("a").where(a_or_x).oneOrMore().next("b").where(x_or_b);
  auto greedy = Pattern<Ev>::begin("a").where(a_or_x).oneOrMore().greedy().next("b").where(x_or_b);
  const V events = {"a1", "x1", "b1"};
  EXPECT_EQ(Sorted(Feed(lazy, events).matches), V({"a1 x1|b1", "a1|x1", "x1|b1"}));
  EXPECT_EQ(Sorted(Feed(greedy, events).matches), V({"a1 x1|b1", "x1|b1"}));
}

TEST(NfaQuantifierTest, UntilEndsTheLoop) {
  auto with_until = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().until(Is('u'));
  auto without = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore();
  const V events = {"a1", "u1", "a2"};
  EXPECT_EQ(Feed(with_until, events).matches, V({"a1", "a2"}));
  EXPECT_EQ(Feed(without, events).matches, V({"a1", "a1 a2", "a2"}));
}

// ---- Conditions ----

TEST(NfaConditionTest, OrAddsAnAlternative) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).or_(Is('c')).next("b").where(Is('b'));
  EXPECT_EQ(Feed(p, {"c1", "b1", "a1", "b2", "d1", "b3"}).matches, V({"c1|b1", "a1|b2"}));
}

TEST(NfaConditionTest, WhereTwiceMeansBoth) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).where([](const Ev& e) { return e.id != "a2"; });
  EXPECT_EQ(Feed(p, {"a1", "a2", "a3"}).matches, V({"a1", "a3"}));
}

TEST(NfaConditionTest, IterativeConditionSeesTheEventsOfThePartialMatch) {
  // Values are the event positions 0, 1, 2...: "second" must be at twice the
  // position of "first".
  auto p = Pattern<Ev>::begin("first").followedByAny("second").where([](const Ev& e, eddy::cep::Context<Ev>& ctx) {
    const auto& first = ctx.getEventsForPattern("first");
    return !first.empty() && first.front().value > 0 && e.value == 2 * first.front().value;
  });
  EXPECT_EQ(Sorted(Feed(p, {"e0", "e1", "e2", "e3", "e4", "e5", "e6"}).matches), V({"e1|e2", "e2|e4", "e3|e6"}));

  // A strictly increasing run of three or more ids (the loop sees its own events).
  class Rising : public eddy::cep::IterativeCondition<Ev> {
   public:
    bool filter(const Ev& e, eddy::cep::Context<Ev>& ctx) override {
      const auto& up = ctx.getEventsForPattern("up");
      return up.empty() || e.id > up.back().id;
    }
  };
  auto q = Pattern<Ev>::begin("up").where(Rising()).timesOrMore(3).consecutive();
  EXPECT_EQ(Feed(q, {"a1", "a2", "a3", "a1", "a2"}).matches, V({"a1 a2 a3"}));
}

// ---- After-match skip strategies: a+ b over a1 a2 a3 b1 ----
// (consecutive, so that no partial match outlives b1 and holds matches back)

std::vector<std::string> SkipRun(AfterMatchSkipStrategy skip, const V& events = {"a1", "a2", "a3", "b1"}) {
  auto p = Pattern<Ev>::begin("a", skip).where(Is('a')).oneOrMore().consecutive().next("b").where(Is('b'));
  return Feed(p, events).matches;
}

TEST(NfaSkipTest, NoSkipKeepsEveryMatch) {
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::noSkip()), V({"a1 a2 a3|b1", "a2 a3|b1", "a3|b1"}));
}
TEST(NfaSkipTest, SkipToNextDropsOnlyMatchesStartingAtTheSameEvent) {
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipToNext()), V({"a1 a2 a3|b1", "a2 a3|b1", "a3|b1"}));
  // a+ alone: [a1] is a match at a1; the partial match a1... also started at a1 and goes.
  auto p = Pattern<Ev>::begin("a", AfterMatchSkipStrategy::skipToNext()).where(Is('a')).oneOrMore();
  EXPECT_EQ(Feed(p, {"a1", "a2"}).matches, V({"a1", "a2"}));
  auto no_skip = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore();
  EXPECT_EQ(Feed(no_skip, {"a1", "a2"}).matches, V({"a1", "a1 a2", "a2"}));
}
TEST(NfaSkipTest, SkipPastLastEventDropsEverythingStartedInsideTheMatch) {
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipPastLastEvent()), V({"a1 a2 a3|b1"}));
  // Later matches are still found.
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipPastLastEvent(), {"a1", "a2", "b1", "a3", "b2"}),
            V({"a1 a2|b1", "a3|b2"}));
}
TEST(NfaSkipTest, SkipToFirst) {
  // Nothing started before a1.
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipToFirst("a")), V({"a1 a2 a3|b1", "a2 a3|b1", "a3|b1"}));
  // To the first b: everything that started before b1 goes.
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipToFirst("b")), V({"a1 a2 a3|b1"}));
}
TEST(NfaSkipTest, SkipToLast) {
  // What started before a3 goes (a2 a3|b1); a3|b1 stays.
  EXPECT_EQ(SkipRun(AfterMatchSkipStrategy::skipToLast("a")), V({"a1 a2 a3|b1", "a3|b1"}));
}
TEST(NfaSkipTest, MatchesWaitForEarlierPartialMatches) {
  // An s is closed by the e with the same number. s2|e2 completes first,
  // while s1 is still open: with a skip strategy it waits, because s1|e1
  // could prune it.
  auto same_number = [](const Ev& e, eddy::cep::Context<Ev>& ctx) {
    return e.id[0] == 'e' && e.id.substr(1) == ctx.getEventsForPattern("s").front().id.substr(1);
  };
  auto pattern = [&](AfterMatchSkipStrategy skip) {
    return Pattern<Ev>::begin("s", skip).where(Is('s')).followedBy("e").where(same_number);
  };
  const V events = {"s1", "s2", "e2", "e1"};
  EXPECT_EQ(Feed(pattern(AfterMatchSkipStrategy::noSkip()), events).matches, V({"s2|e2", "s1|e1"}));
  EXPECT_EQ(Feed(pattern(AfterMatchSkipStrategy::skipToNext()), events).matches, V({"s1|e1", "s2|e2"}));
  EXPECT_EQ(Feed(pattern(AfterMatchSkipStrategy::skipPastLastEvent()), events).matches, V({"s1|e1"}));
}
TEST(NfaSkipTest, SkipToAnUnknownPartIsMalformed) {
  EXPECT_THROW(SkipRun(AfterMatchSkipStrategy::skipToFirst("zz")), MalformedPatternException);
}

// ---- within() ----

TEST(NfaWithinTest, PartialMatchesTimeOutAtStartPlusWindow) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).followedBy("b").where(Is('b')).within(std::chrono::milliseconds(10));
  // a1@0 b1@5: a match. a2@20 b2@31: a2 timed out at 30. a3@40 b3@50: exactly
  // the window apart, too late. a4@60 is still open at 65.
  Result r = Feed(p, {"a1", "b1", "a2", "b2", "a3", "b3", "a4"}, {0, 5, 20, 31, 40, 50, 60}, 65);
  EXPECT_EQ(r.matches, V({"a1|b1"}));
  EXPECT_EQ(r.timeouts, (std::vector<std::pair<std::string, int64_t>>{{"a2", 30}, {"a3", 50}}));
}

TEST(NfaWithinTest, TheSmallestWindowHolds) {
  auto p = Pattern<Ev>::begin("a")
               .where(Is('a'))
               .within(std::chrono::seconds(5))
               .next("b")
               .where(Is('b'))
               .within(std::chrono::milliseconds(3));
  EXPECT_EQ(p.getWindowMillis(), 3);
}

// ---- Malformed patterns ----

TEST(NfaMalformedTest, MistakesAreNamed) {
  auto message = [](auto build) {
    try {
      build();
    } catch (const MalformedPatternException& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").next("a"); }),
            "duplicate pattern part name 'a': names must be unique");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").oneOrMore().times(2); }),
            "pattern part 'a': a quantifier (times/oneOrMore/timesOrMore) is already applied");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").notNext("n").optional(); }),
            "pattern part 'n': optional() is not applicable to a NOT part (notNext/notFollowedBy)");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").until(Is('u')); }),
            "pattern part 'a': until() applies only to looping parts (oneOrMore, timesOrMore)");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").consecutive(); }),
            "pattern part 'a': consecutive() applies only to looping or times parts");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").times(0); }),
            "pattern part 'a': times(0): the count must be at least 1");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").optional().notFollowedBy("n"); }),
            "pattern part 'a': notFollowedBy() after an optional part is not supported: write two patterns, one with "
            "and one without the optional part");
  EXPECT_EQ(message([] { internal::NfaCompiler<Ev>::Compile(Pattern<Ev>::begin("a").notFollowedBy("n")); }),
            "pattern part 'n': notFollowedBy() cannot be the last part of a pattern");
  EXPECT_EQ(message([] { Pattern<Ev>::begin("a").within(std::chrono::milliseconds(0)); }),
            "pattern part 'a': within(): the window must be positive, got 0 ms");
}

// ---- The NFA state survives serialization (what checkpoints store) ----

TEST(NfaStateTest, SerializationRoundTripInTheMiddleGivesTheSameMatches) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).oneOrMore().followedBy("b").where(Is('b')).followedByAny("c").where(
      Is('c'));
  const V events = {"a1", "a2", "x1", "b1", "a3", "c1", "b2", "c2"};
  // By hand: the a-runs a1, a1 a2, a2 are followed by b1, then by any c (c1
  // and c2). The relaxed loop skips x1 and b1, so a1 a2 a3 and a2 a3 are
  // runs too; they, and a3, are followed by b2 (b1 is behind them), then c2.
  const V expected = Sorted(V({"a1|b1|c1", "a1 a2|b1|c1", "a2|b1|c1", "a1|b1|c2", "a1 a2|b1|c2", "a2|b1|c2",
                               "a1 a2 a3|b2|c2", "a2 a3|b2|c2", "a3|b2|c2"}));
  EXPECT_EQ(Sorted(Feed(p, events).matches), expected);
  for (size_t cut = 0; cut <= events.size(); ++cut) {
    internal::Nfa<Ev> nfa(internal::NfaCompiler<Ev>::Compile(p), p.getAfterMatchSkipStrategy());
    Result r;
    Collect out(&r, Names(p));
    auto state = nfa.InitialState();
    for (size_t i = 0; i < events.size(); ++i) {
      if (i == cut) {
        std::string bytes;
        eddy::DataOutput o(&bytes);
        eddy::TypeSerializer<internal::KeyNfaState<Ev>>::Serialize(state, o);
        internal::KeyNfaState<Ev> restored;
        eddy::DataInput in(bytes);
        eddy::TypeSerializer<internal::KeyNfaState<Ev>>::Deserialize(in, restored);
        ASSERT_TRUE(in.ok() && in.AtEnd());
        state = std::move(restored);
      }
      nfa.Process(state, Ev{events[i], static_cast<int64_t>(i)}, static_cast<int64_t>(i), 0, out);
    }
    EXPECT_EQ(Sorted(r.matches), expected) << "cut at " << cut;
  }
}

TEST(NfaStateTest, BufferIsEmptyOnceNoPartialMatchNeedsIt) {
  auto p = Pattern<Ev>::begin("a").where(Is('a')).next("b").where(Is('b'));
  internal::Nfa<Ev> nfa(internal::NfaCompiler<Ev>::Compile(p), p.getAfterMatchSkipStrategy());
  Result r;
  Collect out(&r, Names(p));
  auto state = nfa.InitialState();
  nfa.Process(state, Ev{"a1", 0}, 0, 0, out);
  EXPECT_EQ(state.events.size(), 1u);
  nfa.Process(state, Ev{"b1", 1}, 1, 0, out);
  EXPECT_TRUE(nfa.IsIdle(state));
  EXPECT_TRUE(state.events.empty());
  EXPECT_EQ(r.matches, V({"a1|b1"}));
}

}  // namespace
