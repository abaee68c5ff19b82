// HotItems (window top-N): every 5 minutes, the items with the most clicks in
// the last hour, on generated click data in event time.
//
//   eddy run -c HotItems libeddy-examples.so [--clicks 200000] [--items 500] [--top 3]
//
// Clicks → keyBy(item) → sliding 1 h / 5 min windows counted incrementally (an
// AggregateFunction with a ProcessWindowFunction that adds the window end) →
// keyBy(window end) → a KeyedProcessFunction that collects the window's counts
// in ListState and, when the watermark passes the window end, sorts them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <eddy/eddy.h>

namespace {

struct Click {
  int64_t user = 0;
  int64_t item = 0;
  int64_t timestamp = 0;  // ms
};
EDDY_FIELDS(Click, user, item, timestamp);

struct ItemViewCount {
  int64_t item = 0;
  int64_t window_end = 0;
  int64_t count = 0;
};
EDDY_FIELDS(ItemViewCount, item, window_end, count);

class CountClicks : public eddy::AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t createAccumulator() override { return 0; }
  int64_t add(const Click&, int64_t acc) override { return acc + 1; }
  int64_t getResult(const int64_t& acc) override { return acc; }
  int64_t merge(int64_t a, int64_t b) override { return a + b; }
};

class WithWindowEnd : public eddy::ProcessWindowFunction<int64_t, ItemViewCount, int64_t, eddy::TimeWindow> {
 public:
  void process(const int64_t& item, Context& ctx, const std::vector<int64_t>& count,
               eddy::Collector<ItemViewCount>& out) override {
    out.collect(ItemViewCount{item, ctx.window().end, count.front()});
  }
};

class TopN : public eddy::KeyedProcessFunction<int64_t, ItemViewCount, std::string> {
 public:
  explicit TopN(int n) : n_(n) {}
  void processElement(const ItemViewCount& v, Context& ctx, eddy::Collector<std::string>&) override {
    getRuntimeContext().getListState(eddy::ListStateDescriptor<ItemViewCount>("counts")).add(v);
    ctx.timerService().registerEventTimeTimer(v.window_end + 1);
  }
  void onTimer(int64_t ts, OnTimerContext&, eddy::Collector<std::string>& out) override {
    auto& state = getRuntimeContext().getListState(eddy::ListStateDescriptor<ItemViewCount>("counts"));
    std::vector<ItemViewCount> all = state.get();
    state.clear();
    std::sort(all.begin(), all.end(), [](const ItemViewCount& a, const ItemViewCount& b) {
      return a.count != b.count ? a.count > b.count : a.item < b.item;
    });
    std::string text = "window ending " + std::to_string(ts - 1) + ":";
    for (int i = 0; i < n_ && i < static_cast<int>(all.size()); ++i) {
      text += " #" + std::to_string(i + 1) + " item " + std::to_string(all[i].item) + " (" +
              std::to_string(all[i].count) + " clicks)";
    }
    out.collect(text);
  }

 private:
  int n_;
};

}  // namespace

EDDY_PROGRAM(HotItems, env, args) {
  const int64_t clicks = args.getLong("clicks", 200000);
  const int64_t items = args.getLong("items", 500);
  const int top = args.getInt("top", 3);
  using std::chrono::minutes;
  env.addSource(eddy::DataGeneratorSource<Click>(
                    [items](int64_t i) {
                      // Skewed popularity: item k is clicked about items/(k+1) times as often.
                      uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL;
                      x ^= x >> 29;
                      int64_t r = static_cast<int64_t>(x % static_cast<uint64_t>(items * items));
                      int64_t item = items - 1 - static_cast<int64_t>(std::sqrt(static_cast<double>(r)));
                      return Click{static_cast<int64_t>(x % 10000), item, i * 100};  // one click per 100 ms
                    },
                    clicks),
                "clicks")
      .setParallelism(1)
      .assignTimestampsAndWatermarks(
          eddy::WatermarkStrategy<Click>::forMonotonousTimestamps().withTimestampAssigner(
              [](const Click& c, int64_t) { return c.timestamp; }))
      .setParallelism(1)
      .keyBy([](const Click& c) { return c.item; })
      .window(eddy::SlidingEventTimeWindows::of(minutes(60), minutes(5)))
      .aggregate(CountClicks(), WithWindowEnd())
      .name("count-per-window").uid("count-per-window")
      .keyBy([](const ItemViewCount& v) { return v.window_end; })
      .process(TopN(top))
      .name("top-n").uid("top-n")
      .print();
  env.execute("Hot items");
}
