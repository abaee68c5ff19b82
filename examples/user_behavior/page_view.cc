// PageView: page views per tumbling window. Views are spread over a few
// shards by user so that counting runs in parallel; the shards' counts of a
// window meet in a KeyedProcessFunction keyed by window end that adds them up
// once the watermark passes the end.
#include <string>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

constexpr int64_t kShards = 8;

struct ShardCount {
  int64_t shard = 0;
  int64_t window_end = 0;
  int64_t count = 0;
};
EDDY_FIELDS(ShardCount, shard, window_end, count);

class SumShards : public eddy::KeyedProcessFunction<int64_t, ShardCount, std::string> {
 public:
  void processElement(const ShardCount& c, Context& ctx, eddy::Collector<std::string>&) override {
    auto& total = Total();
    total.update(total.value().value_or(0) + c.count);
    ctx.timerService().registerEventTimeTimer(c.window_end + 1);
  }
  void onTimer(int64_t, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.getCurrentKey()) + "," + std::to_string(Total().value().value_or(0)));
    Total().clear();
  }

 private:
  eddy::ValueState<int64_t>& Total() {
    return getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("views"));
  }
};

}  // namespace

eddy::DataStream<std::string> PageView(eddy::DataStream<UserBehavior> behaviors, milliseconds size) {
  return behaviors.filter([](const UserBehavior& b) { return b.behavior == "pv"; })
      .setParallelism(1)
      .name("page views")
      .uid("page-view-pv")
      .keyBy([](const UserBehavior& b) { return b.user_id % kShards; })
      .window(eddy::TumblingEventTimeWindows::of(size))
      .aggregate(CountAggregate<UserBehavior>(), WithWindowEnd<int64_t, ShardCount>())
      .name("views per shard and window")
      .uid("page-view-count")
      .keyBy([](const ShardCount& c) { return c.window_end; })
      .process(SumShards())
      .name("views per window")
      .uid("page-view-sum");
}

}  // namespace user_behavior
