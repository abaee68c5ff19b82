// HotItems: every `slide`, the items with the most page views over the last
// `size`. Views are counted incrementally per item and window (an
// AggregateFunction with a window function that adds the window's end); the
// counts of one window meet in a KeyedProcessFunction keyed by window end,
// which keeps them in ListState until the watermark passes the end and then
// ranks them.
#include <string>
#include <utility>
#include <vector>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

struct ItemViewCount {
  int64_t item_id = 0;
  int64_t window_end = 0;
  int64_t count = 0;
};
EDDY_FIELDS(ItemViewCount, item_id, window_end, count);

class RankItems : public eddy::KeyedProcessFunction<int64_t, ItemViewCount, std::string> {
 public:
  explicit RankItems(int top) : top_(top) {}
  void processElement(const ItemViewCount& count, Context& ctx, eddy::Collector<std::string>&) override {
    Counts().add(count);
    // Every count of the window came before the watermark that passed its end.
    ctx.timerService().registerEventTimeTimer(count.window_end + 1);
  }
  void onTimer(int64_t, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    std::vector<std::pair<int64_t, int64_t>> views;
    for (const ItemViewCount& c : Counts().get()) views.emplace_back(c.item_id, c.count);
    Counts().clear();
    const std::string window_end = std::to_string(ctx.getCurrentKey());
    int rank = 0;
    for (const auto& [item, count] : TopN(std::move(views), static_cast<size_t>(top_))) {
      out.collect(window_end + "," + std::to_string(++rank) + "," + std::to_string(item) + "," + std::to_string(count));
    }
  }

 private:
  eddy::ListState<ItemViewCount>& Counts() {
    return getRuntimeContext().getListState(eddy::ListStateDescriptor<ItemViewCount>("window-counts"));
  }
  int top_;
};

}  // namespace

eddy::DataStream<std::string> HotItems(eddy::DataStream<UserBehavior> behaviors, const HotItemsOptions& options) {
  return behaviors.filter([](const UserBehavior& b) { return b.behavior == "pv"; })
      .setParallelism(1)
      .name("page views")
      .uid("hot-items-pv")
      .keyBy([](const UserBehavior& b) { return b.item_id; })
      .window(eddy::SlidingEventTimeWindows::of(options.size, options.slide))
      .aggregate(CountAggregate<UserBehavior>(), WithWindowEnd<int64_t, ItemViewCount>())
      .name("views per item and window")
      .uid("hot-items-count")
      .keyBy([](const ItemViewCount& c) { return c.window_end; })
      .process(RankItems(options.top))
      .name("top items")
      .uid("hot-items-top");
}

}  // namespace user_behavior
