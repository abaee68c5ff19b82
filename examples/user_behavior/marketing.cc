// The marketing statistics: app-market events per channel and behaviour, and
// ad clicks per province behind a click-fraud blacklist.
#include <string>
#include <utility>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

using ChannelBehavior = std::pair<std::string, std::string>;

struct ChannelCount {
  ChannelBehavior key;
  int64_t window_end = 0;
  int64_t count = 0;
};
EDDY_FIELDS(ChannelCount, key, window_end, count);

class TotalLine : public eddy::ProcessAllWindowFunction<int64_t, std::string, eddy::TimeWindow> {
 public:
  void process(Context& ctx, const std::vector<int64_t>& count, eddy::Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.window().getEnd()) + ",ALL,ALL," + std::to_string(count.front()));
  }
};

struct ProvinceCount {
  std::string province;
  int64_t window_end = 0;
  int64_t count = 0;
};
EDDY_FIELDS(ProvinceCount, province, window_end, count);

using UserAd = std::pair<int64_t, int64_t>;

// Counts each user's clicks on one ad per UTC day (MapState day -> clicks);
// passes the first `max_clicks` of a day, reports the user on the next one
// and drops the rest. A timer at the next midnight clears the day: by then
// the watermark is past every click of that day.
class BlacklistFilter : public eddy::KeyedProcessFunction<UserAd, AdClickEvent, AdClickEvent> {
 public:
  BlacklistFilter(int64_t max_clicks, eddy::OutputTag<std::string> tag)
      : max_clicks_(max_clicks), tag_(std::move(tag)) {}
  void processElement(const AdClickEvent& click, Context& ctx, eddy::Collector<AdClickEvent>& out) override {
    const int64_t day = click.timestamp / kMillisPerDay;
    auto& clicks = Clicks();
    const std::optional<int64_t> before = clicks.get(day);
    if (!before) ctx.timerService().registerEventTimeTimer((day + 1) * kMillisPerDay);
    const int64_t count = before.value_or(0) + 1;
    clicks.put(day, count);
    if (count <= max_clicks_) {
      out.collect(click);
    } else if (count == max_clicks_ + 1) {
      ctx.output(tag_,
                 std::to_string(click.user_id) + "," + std::to_string(click.ad_id) + "," + UtcDate(click.timestamp));
    }
  }
  void onTimer(int64_t midnight, OnTimerContext&, eddy::Collector<AdClickEvent>&) override {
    Clicks().remove(midnight / kMillisPerDay - 1);
  }

 private:
  eddy::MapState<int64_t, int64_t>& Clicks() {
    return getRuntimeContext().getMapState(eddy::MapStateDescriptor<int64_t, int64_t>("clicks-per-day"));
  }
  int64_t max_clicks_;
  eddy::OutputTag<std::string> tag_;
};

}  // namespace

eddy::DataStream<std::string> AppMarketing(eddy::DataStream<MarketingUserBehavior> events,
                                           const SlidingOptions& options) {
  const auto windows = eddy::SlidingEventTimeWindows::of(options.size, options.slide);
  auto by_channel =
      events.keyBy([](const MarketingUserBehavior& e) { return ChannelBehavior(e.channel, e.behavior); })
          .window(windows)
          .aggregate(CountAggregate<MarketingUserBehavior>(), WithWindowEnd<ChannelBehavior, ChannelCount>())
          .name("events per channel and behaviour")
          .uid("marketing-by-channel")
          .map([](const ChannelCount& c) {
            return std::to_string(c.window_end) + "," + c.key.first + "," + c.key.second + "," +
                   std::to_string(c.count);
          })
          .name("channel lines")
          .uid("marketing-channel-lines");
  auto total = events.windowAll(windows)
                   .aggregate(CountAggregate<MarketingUserBehavior>(), TotalLine())
                   .name("events in total")
                   .uid("marketing-total");
  return by_channel.union_(total);
}

AdClickResults AdClickStatistics(eddy::DataStream<AdClickEvent> clicks, const AdClickOptions& options) {
  const eddy::OutputTag<std::string> blacklist_tag("blacklist");
  auto filtered = clicks.keyBy([](const AdClickEvent& c) { return UserAd(c.user_id, c.ad_id); })
                      .process(BlacklistFilter(options.max_clicks_per_day, blacklist_tag))
                      .name("blacklist filter")
                      .uid("ad-click-blacklist");
  auto by_province = filtered.keyBy([](const AdClickEvent& c) { return c.province; })
                         .window(eddy::SlidingEventTimeWindows::of(options.window.size, options.window.slide))
                         .aggregate(CountAggregate<AdClickEvent>(), WithWindowEnd<std::string, ProvinceCount>())
                         .name("clicks per province and window")
                         .uid("ad-click-by-province")
                         .map([](const ProvinceCount& c) {
                           return std::to_string(c.window_end) + "," + c.province + "," + std::to_string(c.count);
                         })
                         .name("province lines")
                         .uid("ad-click-province-lines");
  return {by_province, filtered.getSideOutput(blacklist_tag)};
}

}  // namespace user_behavior
