// Event time and timers on the embedded cluster: watermarks from a
// WatermarkStrategy, event-time and processing-time timers of a
// KeyedProcessFunction, and the errors of a record without a timestamp.
#include <atomic>
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

using Reading = std::tuple<std::string, int64_t, double>;  // sensor, time, temperature
using Fired = std::pair<std::string, int64_t>;

std::mutex g_mu;
std::vector<Fired> g_fired;

// Registers an event-time timer 10 after each element; reports each firing.
class TimerAfterTen : public eddy::KeyedProcessFunction<std::string, Reading, Fired> {
 public:
  void processElement(const Reading& r, Context& ctx, eddy::Collector<Fired>& out) override {
    ctx.timerService().registerEventTimeTimer(std::get<1>(r) + 10);
  }
  void onTimer(int64_t ts, OnTimerContext& ctx, eddy::Collector<Fired>& out) override {
    EXPECT_EQ(ctx.timeDomain(), eddy::TimeDomain::EVENT_TIME);
    // A timer fires only once the watermark passed it.
    EXPECT_GE(ctx.timerService().currentWatermark(), ts);
    out.collect(Fired(ctx.getCurrentKey(), ts));
  }
};

TEST(EventTimeTest, EventTimeTimersFireOncePerKeyAndTime) {
  std::vector<Reading> readings;
  std::set<Fired> expected;
  for (int i = 0; i < 300; ++i) {
    std::string sensor = "s" + std::to_string(i % 7);
    int64_t t = 1000 + (i * 37) % 500;  // out of order, with repeats per key
    readings.emplace_back(sensor, t, 20.0);
    expected.insert({sensor, t + 10});
  }
  for (int p : {1, 3}) {
    g_fired.clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    env.fromCollection(readings)
        .assignTimestampsAndWatermarks(
            eddy::WatermarkStrategy<Reading>::forBoundedOutOfOrderness(std::chrono::milliseconds(100))
                .withTimestampAssigner([](const Reading& r, int64_t) { return std::get<1>(r); }))
        .keyBy([](const Reading& r) { return std::get<0>(r); })
        .process(TimerAfterTen())
        .addSink([](const Fired& f) {
          std::lock_guard<std::mutex> lock(g_mu);
          g_fired.push_back(f);
        });
    env.execute("timers");
    std::multiset<Fired> got(g_fired.begin(), g_fired.end());
    EXPECT_EQ(got, std::multiset<Fired>(expected.begin(), expected.end())) << "parallelism " << p;
  }
}

// Emits a few elements, then waits so processing-time timers can fire.
class SlowSource : public eddy::SourceFunction<Reading> {
 public:
  void run(SourceContext& ctx) override {
    for (int i = 0; i < 3; ++i) ctx.collect(Reading("k" + std::to_string(i), i, 1.0));
    for (int i = 0; i < 30 && ctx.isRunning(); ++i) {
      ctx.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
};

class ProcessingTimeEcho : public eddy::KeyedProcessFunction<std::string, Reading, Fired> {
 public:
  void processElement(const Reading& r, Context& ctx, eddy::Collector<Fired>& out) override {
    int64_t now = ctx.timerService().currentProcessingTime();
    ctx.timerService().registerProcessingTimeTimer(now + 50);
    ctx.timerService().registerProcessingTimeTimer(now + 50);  // same time: one timer
  }
  void onTimer(int64_t ts, OnTimerContext& ctx, eddy::Collector<Fired>& out) override {
    EXPECT_EQ(ctx.timeDomain(), eddy::TimeDomain::PROCESSING_TIME);
    EXPECT_GE(ctx.timerService().currentProcessingTime(), ts);
    out.collect(Fired(ctx.getCurrentKey(), 0));
  }
};

TEST(EventTimeTest, ProcessingTimeTimersFireOnTheTaskThread) {
  g_fired.clear();
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.addSource(SlowSource())
      .keyBy([](const Reading& r) { return std::get<0>(r); })
      .process(ProcessingTimeEcho())
      .addSink([](const Fired& f) {
        std::lock_guard<std::mutex> lock(g_mu);
        g_fired.push_back(f);
      });
  env.execute("processing time");
  std::multiset<Fired> got(g_fired.begin(), g_fired.end());
  EXPECT_EQ(got, (std::multiset<Fired>{{"k0", 0}, {"k1", 0}, {"k2", 0}}));
}

TEST(EventTimeTest, RecordWithoutTimestampIsAClearError) {
  eddy::StreamExecutionEnvironment env;
  env.fromElements(1, 2, 3)
      .assignTimestampsAndWatermarks(eddy::WatermarkStrategy<int>::forMonotonousTimestamps())
      .addSink([](const int&) {});
  try {
    env.execute("no timestamps");
    FAIL() << "expected the job to fail";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("has no timestamp"), std::string::npos) << e.what();
  }
}

TEST(EventTimeTest, NegativeBoundIsRejected) {
  EXPECT_THROW(eddy::WatermarkStrategy<int>::forBoundedOutOfOrderness(std::chrono::milliseconds(-1)),
               std::invalid_argument);
}

}  // namespace

namespace {

using Order = std::pair<std::string, int64_t>;    // order id, time
using Payment = std::pair<std::string, int64_t>;  // order id, time
using Outcome = std::pair<std::string, std::string>;  // order id, "paid" / "timeout"

std::vector<Outcome> g_outcomes;

// Matches each order with its payment; an order unpaid 15 after it was placed
// (in event time) times out.
class OrderPayMatch : public eddy::KeyedCoProcessFunction<std::string, Order, Payment, Outcome> {
 public:
  void processElement1(const Order& o, Context& ctx, eddy::Collector<Outcome>& out) override {
    auto& paid = getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("paid"));
    if (paid.value().value_or(false)) {
      out.collect({o.first, "paid"});
      return;
    }
    getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("ordered")).update(true);
    ctx.timerService().registerEventTimeTimer(o.second + 15);
  }
  void processElement2(const Payment& p, Context& ctx, eddy::Collector<Outcome>& out) override {
    auto& ordered = getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("ordered"));
    if (ordered.value().value_or(false)) {
      ordered.clear();
      getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("done")).update(true);
      out.collect({p.first, "paid"});
    } else {
      getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("paid")).update(true);
    }
  }
  void onTimer(int64_t, OnTimerContext& ctx, eddy::Collector<Outcome>& out) override {
    auto& ordered = getRuntimeContext().getState(eddy::ValueStateDescriptor<bool>("ordered"));
    if (ordered.value().value_or(false)) out.collect({ctx.getCurrentKey(), "timeout"});
    ordered.clear();
  }
};

TEST(EventTimeTest, KeyedCoProcessMatchesTwoStreamsWithTimers) {
  std::vector<Order> orders;
  std::vector<Payment> payments;
  std::multiset<Outcome> expected;
  for (int i = 0; i < 200; ++i) {
    std::string id = "o" + std::to_string(i);
    orders.emplace_back(id, i * 10);
    if (i % 3 != 0) {
      payments.emplace_back(id, i * 10 + 5);  // paid in time
      expected.insert({id, "paid"});
    } else {
      expected.insert({id, "timeout"});
    }
  }
  for (int p : {1, 2}) {
    g_outcomes.clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    auto by_time = [](const std::pair<std::string, int64_t>& e, int64_t) { return e.second; };
    auto order_stream = env.fromCollection(orders).assignTimestampsAndWatermarks(
        eddy::WatermarkStrategy<Order>::forMonotonousTimestamps().withTimestampAssigner(by_time));
    auto payment_stream = env.fromCollection(payments).assignTimestampsAndWatermarks(
        eddy::WatermarkStrategy<Payment>::forMonotonousTimestamps().withTimestampAssigner(by_time));
    auto id = [](const std::pair<std::string, int64_t>& e) { return e.first; };
    order_stream.keyBy(id)
        .connect(payment_stream.keyBy(id))
        .process(OrderPayMatch())
        .addSink([](const Outcome& o) {
          std::lock_guard<std::mutex> lock(g_mu);
          g_outcomes.push_back(o);
        });
    env.execute("order pay match");
    EXPECT_EQ(std::multiset<Outcome>(g_outcomes.begin(), g_outcomes.end()), expected) << "parallelism " << p;
  }
}

}  // namespace

namespace {
TEST(EventTimeTest, TimersOnANonKeyedStreamAreAClearError) {
  eddy::StreamExecutionEnvironment env;
  env.fromElements(1, 2)
      .process<int>([](const int& v, eddy::ProcessFunction<int, int>::Context& ctx, eddy::Collector<int>& out) {
        EXPECT_GT(ctx.timerService().currentProcessingTime(), 0);
        ctx.timerService().registerEventTimeTimer(10);
      })
      .addSink([](const int&) {});
  try {
    env.execute("non-keyed timers");
    FAIL() << "expected a failure";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_NE(std::string(e.what()).find("only supported on keyed streams"), std::string::npos) << e.what();
  }
}
}  // namespace

// Subtask 0 emits readings with timestamps and a watermark past them, then
// waits (up to 10 s) until the timers they registered fired downstream;
// subtask 1 has nothing to read and marks itself idle, then stays running
// until subtask 0 is done. Only idleness lets the watermark pass the keyBy.
std::atomic<bool> g_idle_timer_fired{false};
std::atomic<bool> g_idle_source_done{false};

class OneActiveSubtask : public eddy::RichParallelSourceFunction<Reading> {
 public:
  void run(SourceContext& ctx) override {
    if (getRuntimeContext().getIndexOfThisSubtask() == 1) {
      ctx.markAsTemporarilyIdle();
      while (!g_idle_source_done.load() && ctx.isRunning()) {
        ctx.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return;
    }
    for (int i = 0; i < 5; ++i) ctx.collectWithTimestamp(Reading("k" + std::to_string(i), 100 + i, 1.0), 100 + i);
    ctx.emitWatermark(1000);
    for (int i = 0; i < 2000 && !g_idle_timer_fired.load() && ctx.isRunning(); ++i) {
      ctx.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    fired_before_end_ = g_idle_timer_fired.load();
    g_idle_source_done.store(true);
    EXPECT_TRUE(fired_before_end_) << "the idle subtask held the watermark back";
  }

 private:
  bool fired_before_end_ = false;
};

TEST(EventTimeTest, AnIdleSourceSubtaskDoesNotHoldBackTheWatermark) {
  g_fired.clear();
  eddy::StreamExecutionEnvironment env;
  env.addSource(OneActiveSubtask(), "one active subtask")
      .setParallelism(2)
      .keyBy([](const Reading& r) { return std::get<0>(r); })
      .process(TimerAfterTen())
      .setParallelism(1)
      .addSink([](const Fired& f) {
        std::lock_guard<std::mutex> lock(g_mu);
        g_fired.push_back(f);
        g_idle_timer_fired.store(true);
      });
  env.execute("idle source subtask");
  std::lock_guard<std::mutex> lock(g_mu);
  std::multiset<Fired> got(g_fired.begin(), g_fired.end());
  std::multiset<Fired> want;
  for (int i = 0; i < 5; ++i) want.insert(Fired("k" + std::to_string(i), 110 + i));
  EXPECT_EQ(got, want);
  EXPECT_TRUE(g_idle_timer_fired.load());
}
