// The broadcast state pattern (eddy/broadcast.h): BroadcastState against
// hand-computed expectations, declaration errors, the read-only view having no
// mutators (checked at compile time), and jobs at parallelism 1 and 3: a
// non-keyed BroadcastProcessFunction (a block list), a
// KeyedBroadcastProcessFunction evaluating events against versioned
// per-category thresholds on event-time timers (keyed MapState and ValueState,
// both state backends), keyed state refused on the broadcast side, and an idle
// broadcast input not holding back the operator's watermark.
#include "eddy/broadcast.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/eddy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::Pair;

// ---- Compile-time: the read-only view and contexts cannot mutate. ----
// (clang-format off around concepts: the installed clang-format mangles them.)

// clang-format off
template <class S>
concept CanPut = requires(S& s) { s.put(std::string(), 1); };
template <class S>
concept CanRemove = requires(S& s) { s.remove(std::string()); };
template <class S>
concept CanClear = requires(S& s) { s.clear(); };
// clang-format on
using StringIntState = BroadcastState<std::string, int>;
using ReadOnlyStringIntState = ReadOnlyBroadcastState<std::string, int>;
static_assert(CanPut<StringIntState> && CanRemove<StringIntState> && CanClear<StringIntState>);
static_assert(!CanPut<ReadOnlyStringIntState> && !CanRemove<ReadOnlyStringIntState> &&
              !CanClear<ReadOnlyStringIntState>);
// `auto s = ctx.getBroadcastState(d)` must not compile (it would change a copy).
static_assert(!std::is_copy_constructible_v<StringIntState>);

using StringIntDescriptor = MapStateDescriptor<std::string, int>;
static_assert(std::is_same_v<decltype(std::declval<ReadOnlyBroadcastContext&>().getBroadcastState(
                                 std::declval<const StringIntDescriptor&>())),
                             const ReadOnlyStringIntState&>);
static_assert(std::is_same_v<decltype(std::declval<BroadcastContext&>().getBroadcastState(
                                 std::declval<const StringIntDescriptor&>())),
                             StringIntState&>);
// The keyed function's processElement / onTimer contexts are read-only too, and
// the broadcast side has no timers (no current key).
using KeyedFn = KeyedBroadcastProcessFunction<std::string, int, int, int>;
static_assert(std::is_base_of_v<ReadOnlyBroadcastContext, KeyedFn::ReadOnlyContext>);
static_assert(std::is_base_of_v<KeyedFn::ReadOnlyContext, KeyedFn::OnTimerContext>);
// clang-format off
template <class C>
concept HasTimerService = requires(C& c) { c.timerService(); };
// clang-format on
static_assert(HasTimerService<KeyedFn::ReadOnlyContext> && !HasTimerService<KeyedFn::Context>);

// ---- BroadcastState and the registry, without a job. ----

TEST(BroadcastStateTest, PutGetContainsRemoveEntriesClear) {
  BroadcastState<std::string, int> state("s");
  const ReadOnlyBroadcastState<std::string, int>& view = state;
  EXPECT_TRUE(view.isEmpty());
  state.put("b", 1);
  state.put("aa", 2);
  state.put("c", 3);
  state.put("b", 4);  // replaces 1
  EXPECT_EQ(view.size(), 3u);
  EXPECT_THAT(view.get("b"), Optional(4));
  EXPECT_EQ(view.get("zz"), std::nullopt);
  EXPECT_TRUE(view.contains("aa"));
  EXPECT_FALSE(view.contains("a"));
  // Byte order of the serialized keys (length first): "b", "c", then "aa".
  EXPECT_THAT(view.entries(), ElementsAre(Pair("b", 4), Pair("c", 3), Pair("aa", 2)));
  state.remove("c");
  state.remove("absent");  // no effect
  EXPECT_THAT(view.entries(), ElementsAre(Pair("b", 4), Pair("aa", 2)));
  state.putAll(std::map<std::string, int>{{"x", 9}, {"b", 5}});
  EXPECT_THAT(view.entries(), ElementsAre(Pair("b", 5), Pair("x", 9), Pair("aa", 2)));
  state.clear();
  EXPECT_TRUE(view.isEmpty());
  EXPECT_EQ(view.get("b"), std::nullopt);
}

TEST(BroadcastStateTest, RegistryFindsDeclaredStatesByNameAndType) {
  MapStateDescriptor<std::string, int> words("words");
  MapStateDescriptor<int, std::string> names("names");
  internal::BroadcastStateRegistry registry(
      {internal::MakeBroadcastStateSpec(words), internal::MakeBroadcastStateSpec(names)});
  registry.Get(words).put("x", 1);
  registry.Get(names).put(7, "seven");
  // Separate maps, and the same map on every lookup.
  EXPECT_THAT(registry.Get(words).entries(), ElementsAre(Pair("x", 1)));
  EXPECT_THAT(registry.Get(names).entries(), ElementsAre(Pair(7, "seven")));
  EXPECT_THAT(registry.Get(MapStateDescriptor<std::string, int>("words")).get("x"), Optional(1));
  try {
    registry.Get(MapStateDescriptor<std::string, int>("undeclared"));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("'undeclared' was not declared"));
  }
  try {
    registry.Get(MapStateDescriptor<int, int>("words"));
    FAIL() << "expected std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("other key or value types"));
  }
}

// ---- The StreamGraph a broadcast connection records. ----

class Echo : public BroadcastProcessFunction<std::string, int, std::string> {
 public:
  void processElement(const std::string& v, ReadOnlyContext&,
                      Collector<std::string>& out) override {
    out.collect(v);
  }
  void processBroadcastElement(const int&, Context&, Collector<std::string>&) override {}
};

class KeyedEcho : public KeyedBroadcastProcessFunction<std::string, std::string, int, std::string> {
 public:
  void processElement(const std::string& v, ReadOnlyContext&,
                      Collector<std::string>& out) override {
    out.collect(v);
  }
  void processBroadcastElement(const int&, Context&, Collector<std::string>&) override {}
};

TEST(BroadcastGraphTest, BroadcastPartitionFeedsTheSecondInputOfATwoInputNode) {
  StreamExecutionEnvironment env;
  MapStateDescriptor<int, int> d("d");
  auto numbers = env.fromElements(1, 2);
  auto words = env.fromElements(std::string("x"));
  BroadcastStream<int> broadcast = Broadcast(numbers, d);
  const internal::StreamNode& partition = env.stream_graph().node(broadcast.getId());
  EXPECT_EQ(partition.kind, internal::NodeKind::kPartition);
  EXPECT_EQ(partition.partition, internal::PartitionKind::kBroadcast);
  EXPECT_EQ(partition.inputs, std::vector<int>{numbers.getId()});

  auto plain = ConnectBroadcast(words, broadcast).process(Echo());
  const internal::StreamNode& node = env.stream_graph().node(plain.getId());
  EXPECT_EQ(node.kind, internal::NodeKind::kTwoInput);
  EXPECT_FALSE(node.keyed);
  EXPECT_EQ(node.inputs, (std::vector<int>{words.getId(), broadcast.getId()}));

  auto by_word = words.keyBy([](const std::string& w) { return w; });
  auto keyed = ConnectBroadcast(by_word, broadcast).process(KeyedEcho());
  const internal::StreamNode& keyed_node = env.stream_graph().node(keyed.getId());
  EXPECT_EQ(keyed_node.kind, internal::NodeKind::kTwoInput);
  EXPECT_TRUE(keyed_node.keyed);
  EXPECT_EQ(keyed_node.inputs, (std::vector<int>{by_word.getId(), broadcast.getId()}));
}

TEST(BroadcastGraphTest, DeclarationErrorsAreRejected) {
  StreamExecutionEnvironment env;
  auto numbers = env.fromElements(1, 2);
  MapStateDescriptor<int, int> d("d");
  EXPECT_THROW(Broadcast(numbers, d, MapStateDescriptor<std::string, int>("d")),
               std::invalid_argument);
  MapStateDescriptor<int, int> with_ttl("ttl");
  with_ttl.enableTimeToLive(StateTtlConfig::newBuilder(std::chrono::seconds(1)).build());
  EXPECT_THROW(Broadcast(numbers, with_ttl), std::invalid_argument);

  StreamExecutionEnvironment other;
  auto foreign = Broadcast(other.fromElements(3), d);
  EXPECT_THROW(ConnectBroadcast(env.fromElements(std::string("x")), foreign),
               std::invalid_argument);
}

// ---- A non-keyed BroadcastProcessFunction: a block list. ----

using BlockRule = std::pair<std::string, bool>;  // word, blocked (false: unblock)
using Ack = std::pair<int, std::string>;         // subtask, "+word" / "-word"

const MapStateDescriptor<std::string, bool> kBlocked("blocked");
const OutputTag<std::string> kBlockedTag("blocked-words");
const OutputTag<Ack> kAckTag("acks");

std::mutex g_mu;
std::atomic<int> g_rules_applied{0};
std::vector<std::string> g_passed;
std::vector<std::string> g_blocked;
std::vector<Ack> g_acks;

class BlockList : public BroadcastProcessFunction<std::string, BlockRule, std::string> {
 public:
  void processElement(const std::string& word, ReadOnlyContext& ctx,
                      Collector<std::string>& out) override {
    if (ctx.getBroadcastState(kBlocked).contains(word)) {
      ctx.output(kBlockedTag, word);
    } else {
      out.collect(word);
    }
  }
  void processBroadcastElement(const BlockRule& rule, Context& ctx,
                               Collector<std::string>&) override {
    auto& blocked = ctx.getBroadcastState(kBlocked);
    if (rule.second) {
      blocked.put(rule.first, true);
    } else {
      blocked.remove(rule.first);
    }
    ctx.output(kAckTag, Ack(getRuntimeContext().getIndexOfThisSubtask(),
                            (rule.second ? "+" : "-") + rule.first));
    ++g_rules_applied;  // after the update: the words source waits for it
  }
};

// Emits its words only once every instance has applied every rule, so which
// rules a word is checked against does not depend on thread timing.
class WordsAfterRules : public SourceFunction<std::string> {
 public:
  WordsAfterRules(std::vector<std::string> words, int rules_expected)
      : words_(std::move(words)), rules_expected_(rules_expected) {}
  void run(SourceContext& ctx) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (g_rules_applied.load() < rules_expected_ && ctx.isRunning() &&
           std::chrono::steady_clock::now() < deadline) {
      ctx.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (const std::string& w : words_) ctx.collect(w);
  }

 private:
  std::vector<std::string> words_;
  int rules_expected_;
};

class BroadcastJobTest : public ::testing::TestWithParam<int> {};

TEST_P(BroadcastJobTest, NonKeyedBlockListReachesEveryInstance) {
  const int p = GetParam();
  g_rules_applied = 0;
  g_passed.clear();
  g_blocked.clear();
  g_acks.clear();
  const std::vector<BlockRule> rules = {
      {"spam", true}, {"ham", true}, {"eggs", true}, {"ham", false}};
  StreamExecutionEnvironment env;
  env.setParallelism(p);
  auto rule_stream = env.fromCollection(rules);
  auto words = env.addSource(WordsAfterRules({"spam", "ham", "eggs", "toast", "ham", "jam", "spam"},
                                             static_cast<int>(rules.size()) * p));
  auto result = ConnectBroadcast(words, Broadcast(rule_stream, kBlocked)).process(BlockList());
  result.addSink([](const std::string& w) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_passed.push_back(w);
  });
  result.getSideOutput(kBlockedTag).addSink([](const std::string& w) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_blocked.push_back(w);
  });
  result.getSideOutput(kAckTag).addSink([](const Ack& a) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_acks.push_back(a);
  });
  env.execute("block list");

  ASSERT_EQ(g_rules_applied.load(), 4 * p) << "every instance applies every rule once";
  // Final block list on every instance: {spam, eggs} ("ham" was unblocked).
  EXPECT_EQ(std::multiset<std::string>(g_passed.begin(), g_passed.end()),
            (std::multiset<std::string>{"ham", "toast", "ham", "jam"}));
  EXPECT_EQ(std::multiset<std::string>(g_blocked.begin(), g_blocked.end()),
            (std::multiset<std::string>{"spam", "eggs", "spam"}));
  // Each instance saw each rule, in the order the rule stream sent them.
  for (int s = 0; s < p; ++s) {
    std::vector<std::string> seen;
    for (const Ack& a : g_acks) {
      if (a.first == s) seen.push_back(a.second);
    }
    EXPECT_THAT(seen, ElementsAre("+spam", "+ham", "+eggs", "-ham")) << "subtask " << s;
  }
  EXPECT_EQ(g_acks.size(), 4u * p);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, BroadcastJobTest, ::testing::Values(1, 3));

// ---- A KeyedBroadcastProcessFunction: thresholds per category, over time. ----

using Rule = std::tuple<std::string, int64_t, double>;   // category, valid from, threshold
using Event = std::tuple<std::string, int64_t, double>;  // category, time, value
// category, time, value, threshold, n-th alert of the category
using Alert = std::tuple<std::string, int64_t, double, double, int>;
using Unmatched = std::pair<std::string, int64_t>;  // category, time

// Category → every threshold version (valid from, threshold), sorted.
const MapStateDescriptor<std::string, std::vector<std::pair<int64_t, double>>> kThresholds(
    "thresholds");
const MapStateDescriptor<int64_t, double> kPending("pending");  // keyed: time → value
const ValueStateDescriptor<int> kAlertCount("alerts");          // keyed
const OutputTag<Unmatched> kUnmatchedTag("unmatched");

std::vector<Alert> g_alerts;
std::vector<Unmatched> g_unmatched;
std::map<int, int> g_rules_per_subtask;
std::atomic<bool> g_alerted{false};

// Events are buffered in keyed state and evaluated on an event-time timer at
// their time: the watermark is the minimum of both inputs, so by then every
// rule valid from an earlier time has arrived, however the inputs interleave.
class ThresholdAlerts : public KeyedBroadcastProcessFunction<std::string, Event, Rule, Alert> {
 public:
  void processBroadcastElement(const Rule& rule, Context& ctx, Collector<Alert>&) override {
    const auto& [category, from, threshold] = rule;
    EXPECT_EQ(ctx.timestamp(), std::optional<int64_t>(from));
    auto& thresholds = ctx.getBroadcastState(kThresholds);
    auto versions = thresholds.get(category).value_or(std::vector<std::pair<int64_t, double>>());
    versions.emplace_back(from, threshold);
    std::sort(versions.begin(), versions.end());
    thresholds.put(category, versions);
    std::lock_guard<std::mutex> lock(g_mu);
    g_rules_per_subtask[getRuntimeContext().getIndexOfThisSubtask()]++;
  }
  void processElement(const Event& event, ReadOnlyContext& ctx, Collector<Alert>&) override {
    EXPECT_EQ(ctx.getCurrentKey(), std::get<0>(event));
    getRuntimeContext().getMapState(kPending).put(std::get<1>(event), std::get<2>(event));
    ctx.timerService().registerEventTimeTimer(std::get<1>(event));
  }
  void onTimer(int64_t time, OnTimerContext& ctx, Collector<Alert>& out) override {
    EXPECT_EQ(ctx.timeDomain(), TimeDomain::EVENT_TIME);
    EXPECT_GE(ctx.currentWatermark(), time);
    auto& pending = getRuntimeContext().getMapState(kPending);
    std::optional<double> value = pending.get(time);
    ASSERT_TRUE(value.has_value());
    pending.remove(time);
    const std::string& category = ctx.getCurrentKey();
    std::optional<double> threshold;
    if (auto versions = ctx.getBroadcastState(kThresholds).get(category)) {
      for (const auto& [from, t] : *versions) {
        if (from <= time) threshold = t;
      }
    }
    if (!threshold) {
      ctx.output(kUnmatchedTag, Unmatched(category, time));
      return;
    }
    if (*value <= *threshold) return;
    ValueState<int>& count = getRuntimeContext().getState(kAlertCount);
    const int nth = count.value().value_or(0) + 1;
    count.update(nth);
    out.collect(Alert(category, time, *value, *threshold, nth));
  }
};

// Emits the rules in time order with a pause after each, so that the events
// (from a fast source) typically overtake them.
class SlowRules : public SourceFunction<Rule> {
 public:
  explicit SlowRules(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  void run(SourceContext& ctx) override {
    for (const Rule& r : rules_) {
      ctx.collectWithTimestamp(r, std::get<1>(r));
      ctx.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  std::vector<Rule> rules_;
};

void ResetKeyedRecorders() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_alerts.clear();
  g_unmatched.clear();
  g_rules_per_subtask.clear();
  g_alerted = false;
}

// Runs the ThresholdAlerts operator on `rules` (timestamped by their time)
// and `events`, recording alerts and unmatched events.
template <class RuleStream>
void RunThresholdAlerts(StreamExecutionEnvironment& env, RuleStream rules,
                        const std::vector<Event>& events) {
  auto event_stream = env.fromCollection(events).assignTimestampsAndWatermarks(
      WatermarkStrategy<Event>::forMonotonousTimestamps().withTimestampAssigner(
          [](const Event& e, int64_t) { return std::get<1>(e); }));
  auto alerts = ConnectBroadcast(event_stream.keyBy([](const Event& e) { return std::get<0>(e); }),
                                 Broadcast(rules, kThresholds))
                    .process(ThresholdAlerts());
  alerts
      .process(
          [](const Alert& a, ProcessFunction<Alert, Alert>::Context& ctx, Collector<Alert>& out) {
            // An event-time timer's output carries the timer's time.
            EXPECT_EQ(ctx.timestamp(), std::optional<int64_t>(std::get<1>(a)));
            out.collect(a);
          })
      .addSink([](const Alert& a) {
        std::lock_guard<std::mutex> lock(g_mu);
        g_alerts.push_back(a);
        g_alerted = true;
      });
  alerts.getSideOutput(kUnmatchedTag).addSink([](const Unmatched& u) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_unmatched.push_back(u);
  });
  env.execute("threshold alerts");
}

// (parallelism, state.backend.type): results must not depend on either.
class KeyedBroadcastTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(KeyedBroadcastTest, EventsMeetTheThresholdValidAtTheirTime) {
  const auto& [p, backend] = GetParam();
  ResetKeyedRecorders();
  const std::vector<Rule> rules = {
      {"a", 0, 10}, {"b", 0, 5}, {"b", 50, 50}, {"a", 100, 20}, {"c", 200, 1}, {"d", 300, 0},
  };
  const std::vector<Event> events = {
      {"a", 10, 15},    // a: 10 from 0 → alert #1
      {"b", 20, 6},     // b: 5 from 0 → alert #1
      {"b", 60, 6},     // b: 50 from 50 → none
      {"a", 99, 15},    // a: still 10 → alert #2
      {"c", 100, 100},  // c: no rule before 200 → unmatched
      {"a", 100, 15},   // a: 20 from 100 → none
      {"a", 150, 25},   // a: 20 → alert #3
      {"c", 250, 2},    // c: 1 from 200 → alert #1
      {"d", 250, 5},    // d: no rule before 300 → unmatched
      {"d", 300, 5},    // d: 0 from 300 → alert #1
      {"b", 400, 51},   // b: 50 → alert #2
  };
  StreamExecutionEnvironment env(std::map<std::string, std::string>{
      {"state.backend.type", backend}, {"pipeline.auto-watermark-interval", "10"}});
  env.setParallelism(p);
  auto rule_stream =
      env.addSource(SlowRules(rules))
          .assignTimestampsAndWatermarks(WatermarkStrategy<Rule>::forMonotonousTimestamps());
  RunThresholdAlerts(env, rule_stream, events);

  EXPECT_EQ(std::multiset<Alert>(g_alerts.begin(), g_alerts.end()),
            (std::multiset<Alert>{{"a", 10, 15, 10, 1},
                                  {"b", 20, 6, 5, 1},
                                  {"a", 99, 15, 10, 2},
                                  {"a", 150, 25, 20, 3},
                                  {"c", 250, 2, 1, 1},
                                  {"d", 300, 5, 0, 1},
                                  {"b", 400, 51, 50, 2}}));
  EXPECT_EQ(std::multiset<Unmatched>(g_unmatched.begin(), g_unmatched.end()),
            (std::multiset<Unmatched>{{"c", 100}, {"d", 250}}));
  std::map<int, int> every_rule_everywhere;
  for (int s = 0; s < p; ++s) every_rule_everywhere[s] = static_cast<int>(rules.size());
  EXPECT_EQ(g_rules_per_subtask, every_rule_everywhere);
}

// The rule stream emits one rule and then stays open without events; marked
// idle, it must not hold back the watermark, so the event's timer fires while
// the rule stream is still running.
class RulesThenIdle : public SourceFunction<Rule> {
 public:
  void run(SourceContext& ctx) override {
    ctx.collectWithTimestamp(Rule("a", 0, 10), 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!g_alerted.load() && ctx.isRunning() && std::chrono::steady_clock::now() < deadline) {
      ctx.flush();  // also runs the watermark operator's periodic (idleness) check
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

TEST_P(KeyedBroadcastTest, IdleBroadcastInputDoesNotHoldBackTimers) {
  const auto& [p, backend] = GetParam();
  ResetKeyedRecorders();
  StreamExecutionEnvironment env(std::map<std::string, std::string>{
      {"state.backend.type", backend}, {"pipeline.auto-watermark-interval", "10"}});
  env.setParallelism(p);
  auto rule_stream = env.addSource(RulesThenIdle())
                         .assignTimestampsAndWatermarks(
                             WatermarkStrategy<Rule>::forMonotonousTimestamps().withIdleness(
                                 std::chrono::milliseconds(50)));
  auto started = std::chrono::steady_clock::now();
  RunThresholdAlerts(env, rule_stream, {{"a", 100, 50}});
  // The rule stream's own watermark stays at -1 until it ends; the alert came
  // from the event stream's watermark alone, before the rules source gave up.
  EXPECT_THAT(g_alerts, ElementsAre(Alert("a", 100, 50, 10, 1)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

INSTANTIATE_TEST_SUITE_P(ParallelismAndBackend, KeyedBroadcastTest,
                         ::testing::Combine(::testing::Values(1, 3),
                                            ::testing::Values("hashmap", "rocksdb")));

// ---- Keyed state has no current key on the broadcast side. ----

std::atomic<int> g_keyed_elements{0};

class KeyedStateInBroadcast
    : public KeyedBroadcastProcessFunction<std::string, std::string, int, std::string> {
 public:
  void processElement(const std::string&, ReadOnlyContext&, Collector<std::string>&) override {
    getRuntimeContext().getState(ValueStateDescriptor<int>("seen")).update(1);
    ++g_keyed_elements;
  }
  void processBroadcastElement(const int&, Context&, Collector<std::string>&) override {
    getRuntimeContext().getState(ValueStateDescriptor<int>("seen")).update(2);
  }
};

// Sends one broadcast element once the keyed records were processed, so the
// backend still holds the last record's key when it arrives.
class OneAfterKeyedRecords : public SourceFunction<int> {
 public:
  void run(SourceContext& ctx) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (g_keyed_elements.load() < 2 && ctx.isRunning() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ctx.collect(1);
  }
};

TEST(KeyedBroadcastErrorTest, KeyedStateOnTheBroadcastSideFails) {
  g_keyed_elements = 0;
  StreamExecutionEnvironment env;
  MapStateDescriptor<int, int> d("d");
  ConnectBroadcast(
      env.fromElements(std::string("x"), std::string("y")).keyBy([](const std::string& s) {
        return s;
      }),
      Broadcast(env.addSource(OneAfterKeyedRecords()), d))
      .process(KeyedStateInBroadcast())
      .addSink([](const std::string&) {});
  try {
    env.execute("keyed state on the broadcast side");
    FAIL() << "expected the job to fail";
  } catch (const JobExecutionException& e) {
    EXPECT_THAT(e.what(), HasSubstr("keyed state 'seen' was accessed without a current key"));
  }
  EXPECT_EQ(g_keyed_elements.load(), 2);
}


// applyToKeyedState visits every key of this instance with its state scoped to
// it; the visits here double each key's sum and report it.
std::atomic<int> g_applied_elements{0};
std::mutex g_applied_mu;
std::vector<std::string> g_applied;

class DoubleAllSums
    : public KeyedBroadcastProcessFunction<std::string, std::pair<std::string, int>, int, std::string> {
 public:
  void processElement(const std::pair<std::string, int>& e, ReadOnlyContext&, Collector<std::string>&) override {
    auto& sum = getRuntimeContext().getState(kSum);
    sum.update(sum.value().value_or(0) + e.second);
    ++g_applied_elements;
  }
  void processBroadcastElement(const int& factor, Context& ctx, Collector<std::string>& out) override {
    ctx.applyToKeyedState(kSum, [&](const std::string& key, ValueState<int64_t>& sum) {
      sum.update(*sum.value() * factor);
      out.collect(key + "=" + std::to_string(*sum.value()));
    });
  }
  static inline const ValueStateDescriptor<int64_t> kSum{"sum"};
};

class FactorAfterKeyedRecords : public SourceFunction<int> {
 public:
  void run(SourceContext& ctx) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (g_applied_elements.load() < 100 && ctx.isRunning() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ctx.collect(2);
  }
};

TEST(KeyedBroadcastApplyTest, ApplyToKeyedStateVisitsEveryKeyOnBothBackends) {
  std::map<std::string, int64_t> expected;
  std::vector<std::pair<std::string, int>> elements;
  for (int i = 0; i < 100; ++i) {
    elements.emplace_back("k" + std::to_string(i % 10), i);
    expected["k" + std::to_string(i % 10)] += i;
  }
  std::vector<std::string> want;
  for (const auto& [k, v] : expected) want.push_back(k + "=" + std::to_string(v * 2));
  for (const char* backend : {"hashmap", "rocksdb"}) {
    g_applied_elements = 0;
    g_applied.clear();
    StreamExecutionEnvironment env(std::map<std::string, std::string>{{"state.backend.type", backend}});
    env.setParallelism(2);
    MapStateDescriptor<int, int> d("unused");
    ConnectBroadcast(env.fromCollection(elements).keyBy([](const std::pair<std::string, int>& e) { return e.first; }),
                     Broadcast(env.addSource(FactorAfterKeyedRecords()), d))
        .process(DoubleAllSums())
        .addSink([](const std::string& line) {
          std::lock_guard<std::mutex> lock(g_applied_mu);
          g_applied.push_back(line);
        });
    env.execute("apply to keyed state");
    std::sort(g_applied.begin(), g_applied.end());
    EXPECT_EQ(g_applied, want) << backend;
  }
}

}  // namespace
// Broadcast state goes into checkpoints as operator state: every restored
// instance, at any parallelism, gets the full contents of one old instance.
TEST(BroadcastStateCheckpointTest, RestoredInstancesGetTheWholeState) {
  const MapStateDescriptor<std::string, int64_t> rules("rules");
  std::vector<internal::BroadcastStateSpec> specs{internal::MakeBroadcastStateSpec(rules)};
  std::map<std::string, int64_t> expected;
  std::vector<std::vector<internal::OperatorStateList>> snapshots;
  for (int subtask = 0; subtask < 2; ++subtask) {  // two old instances with the same contents
    internal::BroadcastStateRegistry registry(specs);
    OperatorStateStore store;
    registry.Bind(store);
    for (int i = 0; i < 50; ++i) {
      registry.Get(rules).put("rule-" + std::to_string(i), i * i);
      expected["rule-" + std::to_string(i)] = i * i;
    }
    registry.Get(rules).remove("rule-7");
    snapshots.push_back(store.Snapshot());
  }
  expected.erase("rule-7");
  ASSERT_EQ(snapshots[0].size(), 1u);
  EXPECT_EQ(snapshots[0][0].mode, internal::OperatorStateMode::kBroadcast);
  for (int subtask = 0; subtask < 3; ++subtask) {  // restored at parallelism 3
    internal::BroadcastStateRegistry registry(specs);
    OperatorStateStore store;
    store.SetRestored(snapshots[static_cast<size_t>(subtask) % snapshots.size()]);
    registry.Bind(store);
    std::map<std::string, int64_t> got;
    for (const auto& [k, v] : registry.Get(rules).entries()) got[k] = v;
    EXPECT_EQ(got, expected) << "subtask " << subtask;
  }
}

}  // namespace eddy
