// Windows on the embedded cluster, each checked against a reference computed
// here by hand-written grouping: tumbling, sliding and session windows in event
// time, count windows, evictors, triggers, allowed lateness and late data,
// window functions of every kind, windowAll, processing-time windows, and the
// errors of bad window parameters. Every job runs at parallelism 1, 2 and 4 on
// both state backends.
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "eddy/eddy.h"
#include "gtest/gtest.h"

namespace {

using Event = std::tuple<std::string, int64_t, int64_t>;  // key, value, timestamp
using KV = std::pair<std::string, int64_t>;
using ms = std::chrono::milliseconds;

std::mutex g_mu;
std::vector<KV> g_kv;
std::vector<std::string> g_text;
std::vector<Event> g_late;

void Reset() {
  g_kv.clear();
  g_text.clear();
  g_late.clear();
}

// Watermark = the timestamp of each event: late data is fully deterministic.
class Punctuated : public eddy::WatermarkGenerator<Event> {
 public:
  void onEvent(const Event& e, int64_t ts, eddy::WatermarkOutput& out) override { out.emitWatermark(ts); }
  void onPeriodicEmit(eddy::WatermarkOutput&) override {}
};

eddy::DataStream<Event> Timestamped(eddy::StreamExecutionEnvironment& env, const std::vector<Event>& events,
                                    bool punctuated = false) {
  auto strategy = punctuated ? eddy::WatermarkStrategy<Event>::forGenerator([] { return std::make_unique<Punctuated>(); })
                             : eddy::WatermarkStrategy<Event>::forBoundedOutOfOrderness(ms(1000));
  // Chained to the one source instance, so watermarks follow the input order.
  return env.fromCollection(events)
      .assignTimestampsAndWatermarks(
          strategy.withTimestampAssigner([](const Event& e, int64_t) { return std::get<2>(e); }))
      .setParallelism(1);
}

auto KeyOf = [](const Event& e) { return std::get<0>(e); };
auto SumEvents = [](const Event& a, const Event& b) {
  return Event(std::get<0>(a), std::get<1>(a) + std::get<1>(b), std::max(std::get<2>(a), std::get<2>(b)));
};

void CollectKV(eddy::DataStream<Event> s) {
  s.addSink([](const Event& e) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_kv.emplace_back(std::get<0>(e), std::get<1>(e));
  });
}

std::vector<Event> RandomEvents(int n, int keys, int64_t max_ts, unsigned seed) {
  std::vector<Event> events;
  uint64_t x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t ts = static_cast<int64_t>((x >> 33) % static_cast<uint64_t>(max_ts));
    events.emplace_back("k" + std::to_string((x >> 20) % keys), static_cast<int64_t>((x >> 40) % 100), ts);
  }
  // Out of order by up to ~a second: sorted by time, then locally shuffled.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return std::get<2>(a) < std::get<2>(b); });
  for (size_t i = 0; i + 3 < events.size(); i += 4) std::swap(events[i], events[i + 3]);
  return events;
}

std::multiset<KV> AsSet(const std::vector<KV>& v) { return {v.begin(), v.end()}; }

// (parallelism, state.backend.type): results must not depend on either.
class WindowTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {
 protected:
  std::unique_ptr<eddy::StreamExecutionEnvironment> MakeEnv() {
    auto env = std::make_unique<eddy::StreamExecutionEnvironment>(
        std::map<std::string, std::string>{{"state.backend.type", std::get<1>(GetParam())}});
    env->setParallelism(std::get<0>(GetParam()));
    return env;
  }
};

TEST_P(WindowTest, TumblingEventTimeSums) {
  auto events = RandomEvents(2000, 5, 20000, 1);
  std::map<std::pair<std::string, int64_t>, int64_t> ref;  // (key, window start) → sum
  for (const auto& [k, v, ts] : events) ref[{k, ts - ts % 1000}] += v;
  std::multiset<KV> expected;
  for (const auto& [kw, sum] : ref) expected.insert({kw.first, sum});

  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(Timestamped(env, events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(1000))).reduce(SumEvents));
  env.execute("tumbling");
  EXPECT_EQ(AsSet(g_kv), expected);
}

TEST_P(WindowTest, SlidingEventTimeSums) {
  auto events = RandomEvents(1000, 3, 10000, 2);
  std::map<std::pair<std::string, int64_t>, int64_t> ref;
  for (const auto& [k, v, ts] : events) {
    for (int64_t start = ts - ts % 500; start > ts - 2000; start -= 500) ref[{k, start}] += v;
  }
  std::multiset<KV> expected;
  for (const auto& [kw, sum] : ref) expected.insert({kw.first, sum});

  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(Timestamped(env, events).keyBy(KeyOf).window(eddy::SlidingEventTimeWindows::of(ms(2000), ms(500))).reduce(SumEvents));
  env.execute("sliding");
  EXPECT_EQ(AsSet(g_kv), expected);
}

TEST_P(WindowTest, EventTimeSessionsMergeAndMatchTheReference) {
  // Bursts per key separated by gaps; sessions split where the gap exceeds 300.
  std::vector<Event> events;
  for (int k = 0; k < 4; ++k) {
    int64_t t = k * 7;
    for (int i = 0; i < 60; ++i) {
      t += (i % 10 == 9) ? 500 + k : 100;  // a long pause every 10 events
      events.emplace_back("k" + std::to_string(k), i, t);
    }
  }
  std::vector<Event> shuffled = events;
  std::sort(shuffled.begin(), shuffled.end(), [](const Event& a, const Event& b) { return std::get<2>(a) < std::get<2>(b); });
  for (size_t i = 0; i + 2 < shuffled.size(); i += 3) std::swap(shuffled[i], shuffled[i + 2]);  // out of order
  std::multiset<KV> expected;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> by_key;
  for (const auto& [k, v, ts] : events) by_key[k].emplace_back(ts, v);
  for (auto& [k, list] : by_key) {
    std::sort(list.begin(), list.end());
    int64_t end = list[0].first + 300, sum = 0;
    for (const auto& [ts, v] : list) {
      if (ts > end) {
        expected.insert({k, sum});
        sum = 0;
      }
      sum += v;
      end = std::max(end, ts + 300);
    }
    expected.insert({k, sum});
  }

  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(Timestamped(env, shuffled).keyBy(KeyOf).window(eddy::EventTimeSessionWindows::withGap(ms(300))).reduce(SumEvents));
  env.execute("sessions");
  EXPECT_EQ(AsSet(g_kv), expected);
}

TEST_P(WindowTest, DynamicSessionGapPerElement) {
  // Key "a" uses gap 50, key "b" gap 500: the same timestamps split differently.
  std::vector<Event> events;
  for (int64_t ts : {0, 100, 200, 300, 1000, 1100}) {
    events.emplace_back("a", 1, ts);
    events.emplace_back("b", 1, ts);
  }
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(Timestamped(env, events)
                .keyBy(KeyOf)
                .window(eddy::EventTimeSessionWindows::withDynamicGap(
                    [](const Event& e) { return std::get<0>(e) == "a" ? int64_t{50} : int64_t{500}; }))
                .reduce(SumEvents));
  env.execute("dynamic sessions");
  // a: every event alone (gaps of 100 > 50) → six 1s; b: {0..300} and {1000, 1100}.
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 1}, {"a", 1}, {"a", 1}, {"a", 1}, {"a", 1}, {"a", 1},
                                             {"b", 4}, {"b", 2}}));
}

TEST_P(WindowTest, CountWindowsTumblingAndSliding) {
  std::vector<Event> events;
  for (int i = 1; i <= 10; ++i) {
    events.emplace_back("x", i, i);
    events.emplace_back("y", 10 * i, i);
  }
  Reset();
  {
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    CollectKV(env.fromCollection(events).keyBy(KeyOf).countWindow(3).reduce(SumEvents));
    env.execute("count tumbling");
  }
  // Every 3 elements of a key, in arrival order; the last partial window never fires.
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"x", 6}, {"x", 15}, {"x", 24}, {"y", 60}, {"y", 150}, {"y", 240}}));
  Reset();
  {
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    CollectKV(env.fromCollection(events).keyBy(KeyOf).countWindow(3, 2).reduce(SumEvents));
    env.execute("count sliding");
  }
  // Every 2 elements: the sum of the last (up to) 3.
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"x", 3}, {"x", 9}, {"x", 15}, {"x", 21}, {"x", 27},
                                             {"y", 30}, {"y", 90}, {"y", 150}, {"y", 210}, {"y", 270}}));
}

// (key, start, end, count) from a ProcessWindowFunction.
class Describe : public eddy::ProcessWindowFunction<Event, std::string, std::string, eddy::TimeWindow> {
 public:
  void process(const std::string& key, Context& ctx, const std::vector<Event>& elements,
               eddy::Collector<std::string>& out) override {
    out.collect(key + "@" + std::to_string(ctx.window().start) + "-" + std::to_string(ctx.window().end) + ":" +
                std::to_string(elements.size()));
  }
};

void CollectText(eddy::DataStream<std::string> s) {
  s.addSink([](const std::string& t) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_text.push_back(t);
  });
}

TEST_P(WindowTest, ProcessWindowFunctionSeesTheWindow) {
  std::vector<Event> events{{"a", 1, 5}, {"a", 1, 7}, {"a", 1, 12}, {"b", 1, 19}};
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectText(Timestamped(env, events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(10))).process(Describe()));
  env.execute("process window");
  EXPECT_EQ(std::multiset<std::string>(g_text.begin(), g_text.end()),
            (std::multiset<std::string>{"a@0-10:2", "a@10-20:1", "b@10-20:1"}));
}

// The average value of a window.
class Average : public eddy::AggregateFunction<Event, std::pair<int64_t, int64_t>, double> {
 public:
  std::pair<int64_t, int64_t> createAccumulator() override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const Event& e, std::pair<int64_t, int64_t> acc) override {
    return {acc.first + std::get<1>(e), acc.second + 1};
  }
  double getResult(const std::pair<int64_t, int64_t>& acc) override {
    return static_cast<double>(acc.first) / static_cast<double>(acc.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a, std::pair<int64_t, int64_t> b) override {
    return {a.first + b.first, a.second + b.second};
  }
};

class LabelAverage : public eddy::ProcessWindowFunction<double, std::string, std::string, eddy::TimeWindow> {
 public:
  void process(const std::string& key, Context& ctx, const std::vector<double>& avg,
               eddy::Collector<std::string>& out) override {
    out.collect(key + "@" + std::to_string(ctx.window().start) + "=" + std::to_string(avg.at(0)));
  }
};

TEST_P(WindowTest, AggregateWithProcessWindowFunction) {
  std::vector<Event> events{{"a", 2, 1}, {"a", 4, 2}, {"a", 9, 15}, {"b", 3, 3}};
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  auto windowed = Timestamped(env, events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(10)));
  CollectText(windowed.aggregate(Average(), LabelAverage()));
  env.execute("aggregate");
  EXPECT_EQ(std::multiset<std::string>(g_text.begin(), g_text.end()),
            (std::multiset<std::string>{"a@0=" + std::to_string(3.0), "a@10=" + std::to_string(9.0),
                                        "b@0=" + std::to_string(3.0)}));
}

// Sums what the evictor left.
class SumValues : public eddy::WindowFunction<Event, KV, std::string, eddy::TimeWindow> {
 public:
  void apply(const std::string& key, const eddy::TimeWindow&, const std::vector<Event>& elements,
             eddy::Collector<KV>& out) override {
    int64_t sum = 0;
    for (const auto& e : elements) sum += std::get<1>(e);
    out.collect({key, sum});
  }
};

TEST_P(WindowTest, EvictorsTrimTheWindowBeforeTheFunction) {
  std::vector<Event> events;
  for (int i = 0; i < 10; ++i) events.emplace_back("a", i, i * 10);  // one 100 ms window
  Reset();
  {
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    Timestamped(env, events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(100)))
        .evictor(eddy::CountEvictor<Event, eddy::TimeWindow>::of(3))
        .apply(SumValues())
        .addSink([](const KV& kv) { std::lock_guard<std::mutex> lock(g_mu); g_kv.push_back(kv); });
    env.execute("count evictor");
  }
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 7 + 8 + 9}}));
  Reset();
  {
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    Timestamped(env, events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(100)))
        .evictor(eddy::TimeEvictor<Event, eddy::TimeWindow>::of(ms(25)))
        .apply(SumValues())
        .addSink([](const KV& kv) { std::lock_guard<std::mutex> lock(g_mu); g_kv.push_back(kv); });
    env.execute("time evictor");
  }
  // Newest is 90: keeps timestamps > 65, i.e. 70, 80, 90.
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 7 + 8 + 9}}));
}

TEST_P(WindowTest, LateDataGoesToTheSideOutputOrUpdatesWithinLateness) {
  // Punctuated watermarks: after (a,ts=25) the window [0,10) is closed.
  std::vector<Event> events{{"a", 1, 5}, {"a", 1, 25}, {"a", 100, 3}, {"a", 1, 27}};
  for (int64_t lateness : {0, 50}) {
    Reset();
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    eddy::OutputTag<Event> late("late");
    auto sums = Timestamped(env, events, /*punctuated=*/true)
                    .keyBy(KeyOf)
                    .window(eddy::TumblingEventTimeWindows::of(ms(10)))
                    .allowedLateness(ms(lateness))
                    .sideOutputLateData(late)
                    .reduce(SumEvents);
    CollectKV(sums);
    sums.getSideOutput(late).addSink([](const Event& e) {
      std::lock_guard<std::mutex> lock(g_mu);
      g_late.push_back(e);
    });
    env.execute("lateness");
    if (lateness == 0) {
      // [0,10) fired with 1; the late 100 is dropped to the side output; [20,30) = 2.
      EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 1}, {"a", 2}}));
      ASSERT_EQ(g_late.size(), 1u);
      EXPECT_EQ(std::get<1>(g_late[0]), 100);
    } else {
      // Within lateness the window fires again, updated: 1, then 101.
      EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 1}, {"a", 101}, {"a", 2}}));
      EXPECT_TRUE(g_late.empty());
    }
  }
}

TEST_P(WindowTest, ContinuousAndPurgingTriggers) {
  std::vector<Event> events;
  for (int i = 0; i < 10; ++i) events.emplace_back("a", 1, i * 10);  // window [0,100)
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(Timestamped(env, events, true)
                .keyBy(KeyOf)
                .window(eddy::TumblingEventTimeWindows::of(ms(100)))
                .trigger(eddy::PurgingTrigger<Event, eddy::TimeWindow>::of(
                    eddy::ContinuousEventTimeTrigger<Event, eddy::TimeWindow>::of(ms(30))))
                .reduce(SumEvents));
  env.execute("continuous purging");
  // Fires when the watermark reaches 30 (0..30: a record precedes its own
  // punctuated watermark), 60 (40..60) and 90 (70..90), purging each time; the
  // end of the window finds it empty.
  EXPECT_EQ(AsSet(g_kv), (std::multiset<KV>{{"a", 4}, {"a", 3}, {"a", 3}}));
}

class CountAll : public eddy::ProcessAllWindowFunction<Event, std::string, eddy::TimeWindow> {
 public:
  void process(Context& ctx, const std::vector<Event>& elements, eddy::Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.window().start) + ":" + std::to_string(elements.size()));
  }
};

TEST_P(WindowTest, WindowAllCountsEverything) {
  auto events = RandomEvents(500, 7, 3000, 3);
  std::map<int64_t, int> ref;
  for (const auto& e : events) ref[std::get<2>(e) - std::get<2>(e) % 1000]++;
  std::multiset<std::string> expected;
  for (const auto& [start, n] : ref) expected.insert(std::to_string(start) + ":" + std::to_string(n));
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectText(Timestamped(env, events).windowAll(eddy::TumblingEventTimeWindows::of(ms(1000))).process(CountAll()));
  env.execute("windowAll");
  EXPECT_EQ(std::multiset<std::string>(g_text.begin(), g_text.end()), expected);
}

// Emits `n` events, then waits long enough for processing-time windows to end.
class Trickle : public eddy::SourceFunction<Event> {
 public:
  void run(SourceContext& ctx) override {
    const std::string keys[] = {"k0", "k1", "k2"};
    for (int i = 0; i < 200; ++i) ctx.collect(Event(keys[i % 3], 1, 0));
    for (int i = 0; i < 25 && ctx.isRunning(); ++i) {
      ctx.flush();
      std::this_thread::sleep_for(ms(20));
    }
  }
};

TEST_P(WindowTest, ProcessingTimeWindowsFireOnTheClock) {
  Reset();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectKV(env.addSource(Trickle()).keyBy(KeyOf).window(eddy::TumblingProcessingTimeWindows::of(ms(100))).reduce(SumEvents));
  env.execute("processing time windows");
  std::map<std::string, int64_t> totals;
  for (const auto& [k, v] : g_kv) totals[k] += v;
  // Every element lands in exactly one window, whichever windows they were.
  EXPECT_EQ(totals, (std::map<std::string, int64_t>{{"k0", 67}, {"k1", 67}, {"k2", 66}}));
}

INSTANTIATE_TEST_SUITE_P(ParallelismAndBackend, WindowTest,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Values("hashmap", "rocksdb")));

TEST(WindowErrorsTest, BadParametersAreRejectedWhenTheGraphIsBuilt) {
  EXPECT_THROW(eddy::TumblingEventTimeWindows::of(ms(-5)), std::invalid_argument);
  EXPECT_THROW(eddy::SlidingEventTimeWindows::of(ms(10), ms(0)), std::invalid_argument);
  EXPECT_THROW(eddy::EventTimeSessionWindows::withGap(ms(0)), std::invalid_argument);
  EXPECT_THROW((eddy::CountTrigger<Event, eddy::GlobalWindow>::of(0)), std::invalid_argument);
}

TEST(WindowErrorsTest, EventTimeWindowWithoutTimestampsFailsTheJobClearly) {
  eddy::StreamExecutionEnvironment env;
  std::vector<Event> events{{"a", 1, 5}};
  env.fromCollection(events).keyBy(KeyOf).window(eddy::TumblingEventTimeWindows::of(ms(10))).reduce(SumEvents)
      .addSink([](const Event&) {});
  try {
    env.execute("no timestamps");
    FAIL() << "expected a failure";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("no timestamp"), std::string::npos) << e.what();
  }
}

}  // namespace
