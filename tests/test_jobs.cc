// Job programs used only by the end-to-end tests (libeddy-test-jobs.so).
#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>
#include <utility>

#include <eddy/cep.h>
#include <eddy/eddy.h>

#include "running_totals.h"

using eddy_test::KV;
using eddy_test::RunningTotals;

// An endless source feeding a deliberately slow sink (1 ms per record per
// subtask) through a keyBy: backpressure must throttle the source.
EDDY_PROGRAM(Throttled, env, args) {
  env.fromSequence(0, std::numeric_limits<int64_t>::max())
      .name("numbers")
      .map([](const int64_t& v) { return KV(v % 100, v); })
      .keyBy([](const KV& kv) { return kv.first; })
      .addSink([](const KV&) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }, "slow");
  env.execute("Throttled");
}

// Keyed sums of [1, n] by v % 7, for checking records that cross TaskManagers.
EDDY_PROGRAM(KeyedSums, env, args) {
  int64_t n = args.getLong("n", 1000000);
  env.fromSequence(1, n)
      .map([](const int64_t& v) { return KV(v % 7, v); })
      .keyBy([](const KV& kv) { return kv.first; })
      .sum(1)
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("Keyed sums");
}


// The fault-tolerance job: n generated records (v % keys, v) at a bounded rate
// from one source subtask,
// running totals per key, written by the exactly-once file sink, with
// checkpoints every `interval` ms.
EDDY_PROGRAM(ExactlyOnceTotals, env, args) {
  const int64_t n = args.getLong("n", 20000);
  const int64_t keys = args.getLong("keys", 13);
  const double rate = static_cast<double>(args.getLong("rate", 4000));
  env.enableCheckpointing(args.getLong("interval", 500));
  env.addSource(eddy::DataGeneratorSource<KV>([keys](int64_t i) { return KV(i % keys, i); }, n,
                                              eddy::RateLimiterStrategy::perSecond(rate)),
                "generator")
      .setParallelism(1)  // one producer: each key's records keep their order, so totals are deterministic
      .keyBy([](const KV& kv) { return kv.first; })
      .process(RunningTotals())
      .name("totals")
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("Exactly-once totals");
}

namespace {
struct Tick {
  int64_t key = 0;
  int64_t value = 0;
};
EDDY_FIELDS(Tick, key, value);

class WindowLine : public eddy::WindowFunction<Tick, std::string, int64_t, eddy::TimeWindow> {
 public:
  void apply(const int64_t& key, const eddy::TimeWindow& w, const std::vector<Tick>& in,
             eddy::Collector<std::string>& out) override {
    int64_t sum = 0;
    for (const Tick& t : in) sum += t.value;
    out.collect(std::to_string(key) + "," + std::to_string(w.getEnd()) + "," + std::to_string(in.size()) + "," +
                std::to_string(sum));
  }
};
}  // namespace

// Event-time windows over a slow generator, for savepoint/restore: record i is
// (i % keys, i) at event time i * 10 ms; 1 s tumbling windows per key emit
// "key,window_end,count,sum". Windows open across a savepoint need both
// their keyed state and their event-time timers restored.
EDDY_PROGRAM(WindowTotals, env, args) {
  const int64_t n = args.getLong("n", 20000);
  const int64_t keys = args.getLong("keys", 7);
  const double rate = static_cast<double>(args.getLong("rate", 2000));
  env.enableCheckpointing(args.getLong("interval", 500));
  env.addSource(eddy::DataGeneratorSource<Tick>([keys](int64_t i) { return Tick{i % keys, i}; }, n,
                                                eddy::RateLimiterStrategy::perSecond(rate)),
                "ticks")
      .uid("ticks")
      .assignTimestampsAndWatermarks(
          eddy::WatermarkStrategy<Tick>::forMonotonousTimestamps().withTimestampAssigner(
              [](const Tick& t, int64_t) { return t.value * 10; }))
      .keyBy([](const Tick& t) { return t.key; })
      .window(eddy::TumblingEventTimeWindows::of(std::chrono::seconds(1)))
      .apply(WindowLine())
      .uid("windows")
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")))
      .uid("sink");
  env.execute("Window totals");
}

namespace {
struct Login {
  int64_t user = 0;
  bool failed = false;
  int64_t time = 0;  // ms
};
EDDY_FIELDS(Login, user, failed, time);
}  // namespace

// CEP under failures: n logins, login i by user i % users at event time
// i * 100 ms, failed when (i * 7919) % 10 < 4; per user, two consecutive
// failed logins less than 2 s apart are a match, written as
// "user,first_time,second_time" by the exactly-once file sink.
EDDY_PROGRAM(CepLoginFail, env, args) {
  const int64_t n = args.getLong("n", 20000);
  const int64_t users = args.getLong("users", 7);
  env.enableCheckpointing(args.getLong("interval", 300));
  auto logins =
      env.addSource(eddy::DataGeneratorSource<Login>(
                        [users](int64_t i) { return Login{i % users, (i * 7919) % 10 < 4, i * 100}; }, n,
                        eddy::RateLimiterStrategy::perSecond(static_cast<double>(args.getLong("rate", 2000)))),
                    "logins")
          .setParallelism(1)
          .assignTimestampsAndWatermarks(eddy::WatermarkStrategy<Login>::forMonotonousTimestamps().withTimestampAssigner(
              [](const Login& l, int64_t) { return l.time; }));
  auto pattern = eddy::cep::Pattern<Login>::begin("first")
                     .where([](const Login& l) { return l.failed; })
                     .next("second")
                     .where([](const Login& l) { return l.failed; })
                     .within(std::chrono::seconds(2));
  eddy::cep::CEP::pattern(logins.keyBy([](const Login& l) { return l.user; }), pattern)
      .select([](const eddy::cep::Match<Login>& m) {
        return std::to_string(m.at("first").front().user) + "," + std::to_string(m.at("first").front().time) + "," +
               std::to_string(m.at("second").front().time);
      })
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("CEP login fail");
}
