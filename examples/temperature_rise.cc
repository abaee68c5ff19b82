// TemperatureRise: a sensor whose temperature keeps rising for 10 seconds (in
// processing time) raises an alert — the notes' KeyedProcessFunction example.
//
//   eddy run -c TemperatureRise libeddy-examples.so [--sensors 10] [--rate 20] [--seconds 30]
//
// Readings come from a generator: sensor i's temperature follows a slow wave,
// so some sensors rise long enough to alert. State: the last temperature and
// the pending timer of each sensor.
#include <cmath>
#include <cstdint>
#include <string>

#include <eddy/eddy.h>

namespace {

struct SensorReading {
  std::string id;
  int64_t timestamp = 0;
  double temperature = 0;
};
EDDY_FIELDS(SensorReading, id, timestamp, temperature);

class TemperatureRiseAlert : public eddy::KeyedProcessFunction<std::string, SensorReading, std::string> {
 public:
  explicit TemperatureRiseAlert(int64_t interval_ms) : interval_ms_(interval_ms) {}

  void processElement(const SensorReading& r, Context& ctx, eddy::Collector<std::string>& out) override {
    auto& last = getRuntimeContext().getState(eddy::ValueStateDescriptor<double>("last-temp"));
    auto& timer = getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("timer"));
    std::optional<double> previous = last.value();
    last.update(r.temperature);
    std::optional<int64_t> pending = timer.value();
    if (previous && r.temperature > *previous && !pending) {
      // Rising and no alert pending: alert unless it drops within the interval.
      int64_t at = ctx.timerService().currentProcessingTime() + interval_ms_;
      ctx.timerService().registerProcessingTimeTimer(at);
      timer.update(at);
    } else if (previous && r.temperature < *previous && pending) {
      ctx.timerService().deleteProcessingTimeTimer(*pending);
      timer.clear();
    }
  }

  void onTimer(int64_t, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    out.collect("sensor " + ctx.getCurrentKey() + ": temperature rose for " +
                std::to_string(interval_ms_ / 1000) + " s in a row");
    getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("timer")).clear();
  }

 private:
  int64_t interval_ms_;
};

}  // namespace

EDDY_PROGRAM(TemperatureRise, env, args) {
  const int sensors = args.getInt("sensors", 10);
  const double rate = static_cast<double>(args.getLong("rate", 20));
  const int64_t seconds = args.getLong("seconds", 30);
  const int64_t interval = args.getLong("interval-ms", 10000);
  const int64_t count = static_cast<int64_t>(rate * static_cast<double>(seconds));
  env.addSource(eddy::DataGeneratorSource<SensorReading>(
                    [sensors, rate](int64_t i) {
                      SensorReading r;
                      r.id = "sensor_" + std::to_string(i % sensors);
                      r.timestamp = i;
                      // Each sensor rises and falls on its own period (20 s to 110 s).
                      double t = static_cast<double>(i / sensors) / (rate / sensors);
                      double period = 20.0 + 10.0 * static_cast<double>(i % sensors);
                      r.temperature = 20.0 + 10.0 * std::sin(2 * M_PI * t / period);
                      return r;
                    },
                    count, eddy::RateLimiterStrategy::perSecond(rate)),
                "sensors")
      .setParallelism(1)
      .keyBy([](const SensorReading& r) { return r.id; })
      .process(TemperatureRiseAlert(interval))
      .name("rise-detector")
      .uid("rise-detector")
      .print();
  env.execute("Temperature rise");
}
