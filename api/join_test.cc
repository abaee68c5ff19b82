// Joins (eddy/joins.h). On the embedded cluster, at parallelism 1 and 3 and on
// both state backends: interval joins with inclusive, exclusive and negative
// bounds, window joins over tumbling and sliding windows, and coGroups with
// keys present on one side only, each checked against nested loops over the
// same generated inputs. The interval join operator driven directly: exact
// cleanup times of its buffers and late data. And the errors: records without
// timestamps, bad bounds.
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "api/testing/function_harness.h"
#include "eddy/eddy.h"
#include "eddy/joins.h"
#include "gtest/gtest.h"

namespace shop {
// The right-hand input: a type of its own, keyed by `order` like the left's key.
struct Payment {
  std::string order;
  int64_t amount = 0;
  int64_t time = 0;
};
EDDY_FIELDS(Payment, order, amount, time);
}  // namespace shop

namespace {

using shop::Payment;
using Event = std::tuple<std::string, int64_t, int64_t>;  // key, value, timestamp
using ms = std::chrono::milliseconds;
// key, left value, left ts, right amount, right ts, context timestamp.
using Pair = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t, int64_t>;
// A result with the timestamp of the record that carried it.
template <class T>
using Stamped = std::pair<T, int64_t>;

std::mutex g_mu;

// Results of one job, collected by a sink at any parallelism.
template <class T>
class Results {
 public:
  void Clear() {
    std::lock_guard<std::mutex> lock(g_mu);
    values_.clear();
  }
  void Add(const T& v) {
    std::lock_guard<std::mutex> lock(g_mu);
    values_.push_back(v);
  }
  std::multiset<T> Get() {
    std::lock_guard<std::mutex> lock(g_mu);
    return {values_.begin(), values_.end()};
  }

 private:
  std::vector<T> values_;
};

Results<Stamped<Pair>> g_pairs;
Results<Stamped<std::string>> g_text;

// Records each result with its record timestamp.
template <class T>
void CollectStamped(eddy::DataStream<T> stream, Results<Stamped<T>>* results) {
  stream
      .process([](const T& v, typename eddy::ProcessFunction<T, Stamped<T>>::Context& ctx,
                  eddy::Collector<Stamped<T>>& out) { out.collect({v, ctx.timestamp().value_or(-1)}); })
      .addSink([results](const Stamped<T>& v) { results->Add(v); });
}

// Watermark = the largest timestamp so far - bound - 1, after every event: the
// join's buffers are cleaned up as the input goes, not only at its end.
template <class T>
class PerEventBounded : public eddy::WatermarkGenerator<T> {
 public:
  explicit PerEventBounded(int64_t bound) : bound_(bound) {}
  void onEvent(const T&, int64_t ts, eddy::WatermarkOutput& out) override {
    max_ = std::max(max_, ts);
    out.emitWatermark(max_ - bound_ - 1);
  }
  void onPeriodicEmit(eddy::WatermarkOutput&) override {}

 private:
  int64_t bound_;
  int64_t max_ = std::numeric_limits<int64_t>::min() / 2;
};

// How far behind the largest timestamp before it an element comes.
template <class T, class TsFn>
int64_t MaxDisorder(const std::vector<T>& elements, TsFn ts) {
  int64_t max = std::numeric_limits<int64_t>::min(), disorder = 0;
  for (const T& e : elements) {
    max = std::max(max, ts(e));
    disorder = std::max(disorder, max - ts(e));
  }
  return disorder;
}

// Chained to the one source instance, so watermarks follow the input order.
// The watermark is as tight as the input allows: no element is late for its
// own input (the reference results assume none is dropped), yet buffers and
// windows are released as early as the semantics permit, so releasing them
// too early shows up as missing results.
template <class T, class TsFn>
eddy::DataStream<T> Timestamped(eddy::StreamExecutionEnvironment& env, const std::vector<T>& elements, TsFn ts) {
  const int64_t bound = MaxDisorder(elements, ts);
  auto strategy =
      eddy::WatermarkStrategy<T>::forGenerator([bound] { return std::make_unique<PerEventBounded<T>>(bound); })
          .withTimestampAssigner([ts](const T& e, int64_t) { return ts(e); });
  return env.fromCollection(elements).assignTimestampsAndWatermarks(strategy).setParallelism(1);
}
auto EventTs = [](const Event& e) { return std::get<2>(e); };
auto PaymentTs = [](const Payment& p) { return p.time; };
auto EventKey = [](const Event& e) { return std::get<0>(e); };
auto PaymentKey = [](const Payment& p) { return p.order; };

uint64_t Next(uint64_t& x) {
  x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x >> 21;
}

// Timestamps on a 10 ms grid (so that pairs fall exactly on interval and
// window bounds), keys "k<first_key>".."k<first_key + keys - 1>", out of order
// by a few slots.
template <class T, class Make>
std::vector<T> Generate(int n, int first_key, int keys, int64_t slots, unsigned seed, Make make) {
  uint64_t x = seed;
  std::vector<std::tuple<int64_t, std::string, int64_t>> raw;  // ts, key, value
  for (int i = 0; i < n; ++i) {
    int64_t ts = static_cast<int64_t>(Next(x) % static_cast<uint64_t>(slots)) * 10;
    std::string key = "k" + std::to_string(first_key + static_cast<int>(Next(x) % static_cast<uint64_t>(keys)));
    raw.emplace_back(ts, key, static_cast<int64_t>(Next(x) % 1000));
  }
  std::sort(raw.begin(), raw.end());
  for (size_t i = 0; i + 3 < raw.size(); i += 4) std::swap(raw[i], raw[i + 3]);
  std::vector<T> out;
  for (const auto& [ts, key, value] : raw) out.push_back(make(key, value, ts));
  return out;
}
std::vector<Event> Events(int n, int first_key, int keys, int64_t slots, unsigned seed) {
  return Generate<Event>(n, first_key, keys, slots, seed,
                         [](const std::string& k, int64_t v, int64_t ts) { return Event(k, v, ts); });
}
std::vector<Payment> Payments(int n, int first_key, int keys, int64_t slots, unsigned seed) {
  return Generate<Payment>(n, first_key, keys, slots, seed,
                           [](const std::string& k, int64_t v, int64_t ts) { return Payment{k, v, ts}; });
}

// Emits every joined pair with both timestamps and the context's.
class PairUp : public eddy::ProcessJoinFunction<Event, Payment, Pair> {
 public:
  void processElement(const Event& left, const Payment& right, Context& ctx, eddy::Collector<Pair>& out) override {
    out.collect(Pair(std::get<0>(left), std::get<1>(left), ctx.getLeftTimestamp(), right.amount,
                     ctx.getRightTimestamp(), ctx.getTimestamp()));
  }
};

// (parallelism, state.backend.type): results must not depend on either.
class JoinTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {
 protected:
  std::unique_ptr<eddy::StreamExecutionEnvironment> MakeEnv() {
    auto env = std::make_unique<eddy::StreamExecutionEnvironment>(
        std::map<std::string, std::string>{{"state.backend.type", std::get<1>(GetParam())}});
    env->setParallelism(std::get<0>(GetParam()));
    return env;
  }

  // Interval join pairs of `left` and `right` with lower <= b.ts - a.ts <= upper
  // (inclusive bounds), by nested loops. Each pair's record timestamp is max.
  static std::multiset<Stamped<Pair>> Reference(const std::vector<Event>& left, const std::vector<Payment>& right,
                                                int64_t lower, int64_t upper) {
    std::multiset<Stamped<Pair>> expected;
    for (const auto& [key, value, ts] : left) {
      for (const Payment& p : right) {
        if (p.order != key || p.time - ts < lower || p.time - ts > upper) continue;
        int64_t max = std::max(ts, p.time);
        expected.insert({Pair(key, value, ts, p.amount, p.time, max), max});
      }
    }
    return expected;
  }

  // Runs intervalJoin(left, right).between(lower, upper) with the given
  // exclusivity and returns what it emitted.
  std::multiset<Stamped<Pair>> RunIntervalJoin(const std::vector<Event>& left, const std::vector<Payment>& right,
                                               int64_t lower, int64_t upper, bool lower_exclusive,
                                               bool upper_exclusive) {
    g_pairs.Clear();
    auto env_ptr = MakeEnv();
    auto& env = *env_ptr;
    auto joined = eddy::intervalJoin(Timestamped(env, left, EventTs).keyBy(EventKey),
                                     Timestamped(env, right, PaymentTs).keyBy(PaymentKey))
                      .between(ms(lower), ms(upper));
    if (lower_exclusive) joined.lowerBoundExclusive();
    if (upper_exclusive) joined.upperBoundExclusive();
    CollectStamped<Pair>(joined.process(PairUp()), &g_pairs);
    env.execute("interval join");
    return g_pairs.Get();
  }
};

TEST_P(JoinTest, IntervalJoinInclusiveBoundsMatchesNestedLoops) {
  auto left = Events(400, 0, 5, 400, 1);
  auto right = Payments(400, 0, 5, 400, 2);
  auto expected = Reference(left, right, -30, 50);
  ASSERT_GT(expected.size(), 300u);
  EXPECT_EQ(RunIntervalJoin(left, right, -30, 50, false, false), expected);
}

TEST_P(JoinTest, IntervalJoinExclusiveBoundsDropPairsOnTheBounds) {
  auto left = Events(400, 0, 5, 400, 3);
  auto right = Payments(400, 0, 5, 400, 4);
  // Exclusive (-30, 50) on a 10 ms grid is inclusive [-29, 49], i.e. [-20, 40].
  auto both = Reference(left, right, -20, 40);
  auto lower_only = Reference(left, right, -20, 50);
  auto upper_only = Reference(left, right, -30, 40);
  // The bounds are hit, or this would not test exclusivity.
  ASSERT_LT(both.size(), lower_only.size());
  ASSERT_LT(both.size(), upper_only.size());
  EXPECT_EQ(RunIntervalJoin(left, right, -30, 50, true, true), both);
  EXPECT_EQ(RunIntervalJoin(left, right, -30, 50, true, false), lower_only);
  EXPECT_EQ(RunIntervalJoin(left, right, -30, 50, false, true), upper_only);
}

TEST_P(JoinTest, IntervalJoinWithNegativeBoundsOnly) {
  // Payments 80 to 20 ms before the event: b.ts - a.ts in [-80, -20].
  auto left = Events(400, 0, 4, 400, 5);
  auto right = Payments(400, 0, 4, 400, 6);
  auto expected = Reference(left, right, -80, -20);
  ASSERT_GT(expected.size(), 300u);
  EXPECT_EQ(RunIntervalJoin(left, right, -80, -20, false, false), expected);
  // Exclusive upper bound: [-80, -30].
  EXPECT_EQ(RunIntervalJoin(left, right, -80, -20, false, true), Reference(left, right, -80, -30));
}

TEST_P(JoinTest, IntervalJoinOfEqualTimestampsOnly) {
  auto left = Events(300, 0, 3, 100, 7);
  auto right = Payments(300, 0, 3, 100, 8);
  auto expected = Reference(left, right, 0, 0);
  ASSERT_GT(expected.size(), 100u);
  EXPECT_EQ(RunIntervalJoin(left, right, 0, 0, false, false), expected);
}

TEST_P(JoinTest, IntervalJoinLambdaWithSideOutput) {
  auto left = Events(200, 0, 3, 200, 9);
  auto right = Payments(200, 0, 3, 200, 10);
  // Same-time pairs go to a side output as text, the others to the main output.
  std::multiset<Stamped<std::string>> expected_main, expected_side;
  for (const auto& [key, value, ts] : left) {
    for (const Payment& p : right) {
      if (p.order != key || p.time - ts < -20 || p.time - ts > 20) continue;
      std::string text = key + ":" + std::to_string(value) + "+" + std::to_string(p.amount);
      (p.time == ts ? expected_side : expected_main).insert({text, std::max(ts, p.time)});
    }
  }
  ASSERT_FALSE(expected_side.empty());

  g_text.Clear();
  Results<Stamped<std::string>> side;
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  eddy::OutputTag<std::string> same_time("same-time");
  auto joined = eddy::intervalJoin(Timestamped(env, left, EventTs).keyBy(EventKey),
                                   Timestamped(env, right, PaymentTs).keyBy(PaymentKey))
                    .between(ms(-20), ms(20))
                    .process([same_time](const Event& a, const Payment& b,
                                         eddy::ProcessJoinFunction<Event, Payment, std::string>::Context& ctx,
                                         eddy::Collector<std::string>& out) {
                      std::string text = std::get<0>(a) + ":" + std::to_string(std::get<1>(a)) + "+" +
                                         std::to_string(b.amount);
                      if (ctx.getLeftTimestamp() == ctx.getRightTimestamp()) {
                        ctx.output(same_time, text);
                      } else {
                        out.collect(text);
                      }
                    });
  CollectStamped<std::string>(joined, &g_text);
  CollectStamped<std::string>(joined.getSideOutput(same_time), &side);
  env.execute("interval join side output");
  EXPECT_EQ(g_text.Get(), expected_main);
  EXPECT_EQ(side.Get(), expected_side);
}

// Window join reference: every pair with equal keys in each window holding
// both, stamped with the window's max timestamp. Windows are [s, s + size)
// for s a multiple of `slide` (tumbling: slide == size).
std::multiset<Stamped<Pair>> WindowJoinReference(const std::vector<Event>& left, const std::vector<Payment>& right,
                                                 int64_t size, int64_t slide) {
  std::multiset<Stamped<Pair>> expected;
  for (const auto& [key, value, ts] : left) {
    for (const Payment& p : right) {
      if (p.order != key) continue;
      for (int64_t start = ts - ts % slide; start > ts - size; start -= slide) {
        if (p.time >= start && p.time < start + size) {
          expected.insert({Pair(key, value, ts, p.amount, p.time, 0), start + size - 1});
        }
      }
    }
  }
  return expected;
}

TEST_P(JoinTest, TumblingWindowJoinMatchesNestedLoops) {
  auto left = Events(400, 0, 5, 300, 11);
  auto right = Payments(400, 0, 5, 300, 12);
  auto expected = WindowJoinReference(left, right, 100, 100);
  ASSERT_GT(expected.size(), 300u);

  g_pairs.Clear();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  auto joined = eddy::join(Timestamped(env, left, EventTs), Timestamped(env, right, PaymentTs))
                    .where(EventKey)
                    .equalTo(PaymentKey)
                    .window(eddy::TumblingEventTimeWindows::of(ms(100)))
                    .apply([](const Event& a, const Payment& b) {
                      return Pair(std::get<0>(a), std::get<1>(a), std::get<2>(a), b.amount, b.time, 0);
                    });
  CollectStamped<Pair>(joined, &g_pairs);
  env.execute("tumbling window join");
  EXPECT_EQ(g_pairs.Get(), expected);
}

// A flat join that keeps pairs whose values sum to an even number, with a
// prefix set in open().
class EvenSums : public eddy::RichFlatJoinFunction<Event, Payment, std::string> {
 public:
  void open(eddy::RuntimeContext&) override { prefix_ = "even:"; }
  void join(const Event& a, const Payment& b, eddy::Collector<std::string>& out) override {
    if ((std::get<1>(a) + b.amount) % 2 == 0) {
      out.collect(prefix_ + std::get<0>(a) + "@" + std::to_string(std::get<2>(a)) + "/" + std::to_string(b.time));
    }
  }

 private:
  std::string prefix_ = "not opened:";
};

TEST_P(JoinTest, SlidingWindowFlatJoinMatchesNestedLoops) {
  auto left = Events(300, 0, 4, 300, 13);
  auto right = Payments(300, 0, 4, 300, 14);
  std::multiset<Stamped<std::string>> expected;
  for (const auto& [pair, window_max] : WindowJoinReference(left, right, 200, 50)) {
    const auto& [key, value, ts, amount, time, unused] = pair;
    if ((value + amount) % 2 == 0) {
      expected.insert({"even:" + key + "@" + std::to_string(ts) + "/" + std::to_string(time), window_max});
    }
  }
  ASSERT_GT(expected.size(), 300u);

  g_text.Clear();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectStamped<std::string>(eddy::join(Timestamped(env, left, EventTs), Timestamped(env, right, PaymentTs))
                                  .where(EventKey)
                                  .equalTo(PaymentKey)
                                  .window(eddy::SlidingEventTimeWindows::of(ms(200), ms(50)))
                                  .apply(EvenSums()),
                              &g_text);
  env.execute("sliding window join");
  EXPECT_EQ(g_text.Get(), expected);
}

// key, number of left elements, of right elements, sum of left values, of right amounts.
using Group = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t>;
Results<Stamped<Group>> g_groups;

class Summarize : public eddy::CoGroupFunction<Event, Payment, Group> {
 public:
  void coGroup(const std::vector<Event>& first, const std::vector<Payment>& second,
               eddy::Collector<Group>& out) override {
    Group g(first.empty() ? second.front().order : std::get<0>(first.front()), static_cast<int64_t>(first.size()),
            static_cast<int64_t>(second.size()), 0, 0);
    for (const Event& e : first) std::get<3>(g) += std::get<1>(e);
    for (const Payment& p : second) std::get<4>(g) += p.amount;
    out.collect(g);
  }
};

TEST_P(JoinTest, CoGroupSeesEveryKeyAndWindowEvenWithOneSideEmpty) {
  // Left keys k0..k4, right keys k3..k7: k0-k2 and k5-k7 are one-sided.
  auto left = Events(300, 0, 5, 300, 15);
  auto right = Payments(300, 3, 5, 300, 16);
  std::map<std::pair<std::string, int64_t>, Group> groups;  // (key, window start)
  auto group = [&](const std::string& key, int64_t ts) -> Group& {
    auto [it, inserted] = groups.try_emplace({key, ts - ts % 100}, key, 0, 0, 0, 0);
    return it->second;
  };
  for (const auto& [key, value, ts] : left) {
    Group& g = group(key, ts);
    std::get<1>(g) += 1;
    std::get<3>(g) += value;
  }
  for (const Payment& p : right) {
    Group& g = group(p.order, p.time);
    std::get<2>(g) += 1;
    std::get<4>(g) += p.amount;
  }
  std::multiset<Stamped<Group>> expected;
  int one_sided = 0;
  for (const auto& [key_window, g] : groups) {
    expected.insert({g, key_window.second + 99});
    if (std::get<1>(g) == 0 || std::get<2>(g) == 0) ++one_sided;
  }
  ASSERT_GT(one_sided, 10);

  g_groups.Clear();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectStamped<Group>(eddy::coGroup(Timestamped(env, left, EventTs), Timestamped(env, right, PaymentTs))
                            .where(EventKey)
                            .equalTo(PaymentKey)
                            .window(eddy::TumblingEventTimeWindows::of(ms(100)))
                            .apply(Summarize()),
                        &g_groups);
  env.execute("coGroup");
  EXPECT_EQ(g_groups.Get(), expected);
}

TEST_P(JoinTest, CoGroupLambdaOverSlidingWindows) {
  // Per key and window: how many (left, right) pairs there are.
  auto left = Events(200, 0, 3, 200, 17);
  auto right = Payments(200, 0, 3, 200, 18);
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> counts;  // (key, start) -> sizes
  for (const auto& [key, value, ts] : left) {
    for (int64_t start = ts - ts % 40; start > ts - 120; start -= 40) counts[{key, start}].first++;
  }
  for (const Payment& p : right) {
    for (int64_t start = p.time - p.time % 40; start > p.time - 120; start -= 40) counts[{p.order, start}].second++;
  }
  std::multiset<Stamped<std::string>> expected;
  for (const auto& [kw, n] : counts) {
    expected.insert({kw.first + "=" + std::to_string(n.first * n.second), kw.second + 119});
  }

  g_text.Clear();
  auto env_ptr = MakeEnv();
  auto& env = *env_ptr;
  CollectStamped<std::string>(
      eddy::coGroup(Timestamped(env, left, EventTs), Timestamped(env, right, PaymentTs))
          .where(EventKey)
          .equalTo(PaymentKey)
          .window(eddy::SlidingEventTimeWindows::of(ms(120), ms(40)))
          .apply([](const std::vector<Event>& a, const std::vector<Payment>& b, eddy::Collector<std::string>& out) {
            std::string key = a.empty() ? b.front().order : std::get<0>(a.front());
            out.collect(key + "=" + std::to_string(a.size() * b.size()));
          }),
      &g_text);
  env.execute("coGroup sliding");
  EXPECT_EQ(g_text.Get(), expected);
}

INSTANTIATE_TEST_SUITE_P(ParallelismAndBackend, JoinTest,
                         ::testing::Combine(::testing::Values(1, 3), ::testing::Values("hashmap", "rocksdb")));

// ---------------------------------------------------------------------------
// The interval join operator, driven directly.

class FakeOperatorContext : public eddy::internal::OperatorContext {
 public:
  explicit FakeOperatorContext(eddy::internal::KeyedStateBackend* backend)
      : backend_(backend), runtime_(/*subtask=*/0, /*parallelism=*/1, backend) {}
  eddy::RuntimeContext& runtime_context() override { return runtime_; }
  eddy::internal::KeyedStateBackend* keyed_state_backend() override { return backend_; }
  bool IsRunning() const override { return true; }
  void FlushOutputs() override {}
  int64_t CurrentProcessingTime() override { return 0; }
  void RegisterProcessingTimer(int64_t, std::function<void(int64_t)>) override {}
  void FireDueProcessingTimers() override {}
  const std::map<std::string, std::string>& job_config() override { return config_; }
  eddy::OperatorStateStore& operator_state_store() override { return operator_state_; }
  void RegisterCheckpointedFunction(eddy::CheckpointedFunction*) override {}
  void RegisterCheckpointListener(eddy::CheckpointListener*) override {}
  void RunPendingActions() override {}

 private:
  eddy::internal::KeyedStateBackend* backend_;
  eddy::testing::FakeRuntimeContext runtime_;
  std::map<std::string, std::string> config_;
  eddy::OperatorStateStore operator_state_;
};

template <class T>
class CollectingOutput : public eddy::internal::Output<T> {
 public:
  void Collect(const T& value, int64_t timestamp) override { records.emplace_back(value, timestamp); }
  void EmitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  std::vector<std::pair<T, int64_t>> records;
  std::vector<int64_t> watermarks;
};

TEST(IntervalJoinOperatorTest, BuffersUntilNothingOnTimeCanJoinAndRoutesLateData) {
  using Op = eddy::internal::IntervalJoinOperator<std::string, Event, Payment, Pair, decltype(EventKey),
                                                  decltype(PaymentKey), PairUp>;
  constexpr int kMaxParallelism = 128;
  eddy::internal::KeyedStateBackend backend(eddy::KeyGroupRange{0, kMaxParallelism - 1}, kMaxParallelism);
  FakeOperatorContext ctx(&backend);
  // b.ts - a.ts in [-20, 30]: a left element can join until the watermark
  // passes a + 30, a right one until it passes b + 20.
  Op op(EventKey, PaymentKey, -20, 30, PairUp(), "late-left", "late-right");
  CollectingOutput<Pair> out;
  CollectingOutput<Event> late_left;
  CollectingOutput<Payment> late_right;
  op.SetOutput(&out);
  op.SetSideOutput("late-left", &late_left);
  op.SetSideOutput("late-right", &late_right);
  op.Open(ctx);
  auto* lefts = dynamic_cast<eddy::internal::Input<Event>*>(op.GetInput(0));
  auto* rights = dynamic_cast<eddy::internal::Input<Payment>*>(op.GetInput(1));
  ASSERT_NE(lefts, nullptr);
  ASSERT_NE(rights, nullptr);
  auto watermark = [&](int64_t w) {
    lefts->ProcessWatermark(w);
    rights->ProcessWatermark(w);
  };
  // The buffered timestamps of key "k", per side.
  auto buffered = [&]() {
    backend.SetCurrentKey(eddy::SerializeToString(std::string("k")),
                          eddy::AssignToKeyGroup(eddy::StableKeyHash(std::string("k")), kMaxParallelism));
    backend.SetCurrentNamespace({});
    auto keys = [](auto& state) {
      auto k = state.keys();
      return std::set<int64_t>(k.begin(), k.end());
    };
    return std::make_pair(
        keys(eddy::internal::GetMapState(backend, eddy::MapStateDescriptor<int64_t, std::vector<Event>>(Op::kLeftBuffer))),
        keys(eddy::internal::GetMapState(backend,
                                         eddy::MapStateDescriptor<int64_t, std::vector<Payment>>(Op::kRightBuffer))));
  };
  using Sides = std::pair<std::set<int64_t>, std::set<int64_t>>;

  watermark(0);
  lefts->ProcessElement(Event("k", 1, 100), 100);
  rights->ProcessElement(Payment{"k", 10, 80}, 80);    // -20: joins a1
  rights->ProcessElement(Payment{"k", 20, 131}, 131);  // +31: too late for a1
  rights->ProcessElement(Payment{"k", 30, 130}, 130);  // +30: joins a1
  EXPECT_EQ(buffered(), (Sides{{100}, {80, 130, 131}}));

  watermark(100);  // b@80 may still meet a left element at 100
  lefts->ProcessElement(Event("k", 2, 100), 100);  // joins b@80 and b@130
  EXPECT_EQ(buffered(), (Sides{{100}, {80, 130, 131}}));

  watermark(101);  // nothing on time can reach b@80 now
  EXPECT_EQ(buffered(), (Sides{{100}, {130, 131}}));
  rights->ProcessElement(Payment{"k", 40, 95}, 95);  // late (95 < 101), though a@100 is in range
  lefts->ProcessElement(Event("k", 3, 99), 99);      // late
  EXPECT_EQ(buffered(), (Sides{{100}, {130, 131}}));

  watermark(130);  // a right element at 130 could still meet a@100
  EXPECT_EQ(buffered(), (Sides{{100}, {130, 131}}));
  watermark(131);
  EXPECT_EQ(buffered(), (Sides{{}, {130, 131}}));
  rights->ProcessElement(Payment{"k", 50, 131}, 131);  // on time, nothing left to join

  watermark(150);
  EXPECT_EQ(buffered(), (Sides{{}, {130, 131}}));
  watermark(151);  // b@130 is done
  EXPECT_EQ(buffered(), (Sides{{}, {131}}));
  watermark(152);  // and both at 131
  EXPECT_EQ(buffered(), (Sides{{}, {}}));

  using Emitted = std::multiset<std::pair<Pair, int64_t>>;
  Emitted expected{
      {Pair("k", 1, 100, 10, 80, 100), 100},
      {Pair("k", 1, 100, 30, 130, 130), 130},
      {Pair("k", 2, 100, 10, 80, 100), 100},
      {Pair("k", 2, 100, 30, 130, 130), 130},
  };
  EXPECT_EQ(Emitted(out.records.begin(), out.records.end()), expected);
  ASSERT_EQ(late_left.records.size(), 1u);
  EXPECT_EQ(late_left.records[0], std::make_pair(Event("k", 3, 99), int64_t{99}));
  ASSERT_EQ(late_right.records.size(), 1u);
  EXPECT_EQ(late_right.records[0].second, 95);
  EXPECT_EQ(late_right.records[0].first.amount, 40);
  EXPECT_EQ(out.watermarks, (std::vector<int64_t>{0, 100, 101, 130, 131, 150, 151, 152}));
  op.Close();
}

TEST(IntervalJoinOperatorTest, RecordWithoutTimestampThrows) {
  using Op = eddy::internal::IntervalJoinOperator<std::string, Event, Payment, Pair, decltype(EventKey),
                                                  decltype(PaymentKey), PairUp>;
  eddy::internal::KeyedStateBackend backend(eddy::KeyGroupRange{0, 127}, 128);
  FakeOperatorContext ctx(&backend);
  Op op(EventKey, PaymentKey, 0, 10, PairUp(), "", "");
  CollectingOutput<Pair> out;
  op.SetOutput(&out);
  op.Open(ctx);
  auto* rights = dynamic_cast<eddy::internal::Input<Payment>*>(op.GetInput(1));
  EXPECT_THROW(rights->ProcessElement(Payment{"k", 1, 0}, eddy::internal::kNoTimestamp), std::runtime_error);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(JoinErrorsTest, IntervalJoinWithoutTimestampsFailsTheJobClearly) {
  eddy::StreamExecutionEnvironment env;
  std::vector<Event> left{{"a", 1, 5}};
  std::vector<Payment> right{{"a", 2, 6}};
  eddy::intervalJoin(env.fromCollection(left).keyBy(EventKey), env.fromCollection(right).keyBy(PaymentKey))
      .between(ms(-10), ms(10))
      .process(PairUp())
      .addSink([](const Pair&) {});
  try {
    env.execute("no timestamps");
    FAIL() << "expected the job to fail";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("interval join has no timestamp"), std::string::npos) << e.what();
  }
}

TEST(JoinErrorsTest, WindowJoinWithoutTimestampsFailsTheJobClearly) {
  eddy::StreamExecutionEnvironment env;
  std::vector<Event> left{{"a", 1, 5}};
  std::vector<Payment> right{{"a", 2, 6}};
  eddy::join(env.fromCollection(left), env.fromCollection(right))
      .where(EventKey)
      .equalTo(PaymentKey)
      .window(eddy::TumblingEventTimeWindows::of(ms(10)))
      .apply([](const Event&, const Payment&) { return 1; })
      .addSink([](const int&) {});
  try {
    env.execute("no timestamps");
    FAIL() << "expected the job to fail";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("no timestamp"), std::string::npos) << e.what();
  }
}

TEST(JoinErrorsTest, BadIntervalBoundsAreRejectedWhenTheGraphIsBuilt) {
  eddy::StreamExecutionEnvironment env;
  std::vector<Event> left{{"a", 1, 5}};
  std::vector<Payment> right{{"a", 2, 6}};
  auto pending =
      eddy::intervalJoin(env.fromCollection(left).keyBy(EventKey), env.fromCollection(right).keyBy(PaymentKey));
  EXPECT_THROW(pending.between(ms(10), ms(-10)), std::invalid_argument);
  // [0, 0] with an exclusive end is empty, and so is (5, 6).
  EXPECT_THROW(pending.between(ms(0), ms(0)).lowerBoundExclusive().process(PairUp()), std::invalid_argument);
  EXPECT_THROW(pending.between(ms(5), ms(6)).lowerBoundExclusive().upperBoundExclusive().process(PairUp()),
               std::invalid_argument);
  EXPECT_NO_THROW(pending.between(ms(5), ms(7)).lowerBoundExclusive().upperBoundExclusive().process(PairUp()));
}

TEST(TaggedUnionTest, SerializerRoundTripsBothSidesAndRejectsABadTag) {
  using U = eddy::TaggedUnion<std::string, std::string>;
  for (const U& u : {U::one("left"), U::two("right")}) {
    U back = U::two("stale");
    std::string bytes = eddy::SerializeToString(u);
    eddy::DataInput in(bytes);
    eddy::TypeSerializer<U>::Deserialize(in, back);
    EXPECT_TRUE(in.ok() && in.AtEnd());
    EXPECT_EQ(back, u);
    EXPECT_EQ(back.isOne(), u.isOne());
  }
  std::string bad = "\x02x";
  eddy::DataInput in(bad);
  U value;
  eddy::TypeSerializer<U>::Deserialize(in, value);
  EXPECT_FALSE(in.ok());
  EXPECT_NE(in.error().find("invalid TaggedUnion tag 2"), std::string::npos) << in.error();
}

}  // namespace
