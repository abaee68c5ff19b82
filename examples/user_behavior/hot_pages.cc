// HotPages: every `slide`, the pages with the most visits over the last
// `size`, with late visits accepted for `allowed_lateness` and the rest sent
// to a side output.
//
// A window fires when the watermark passes its end and again for every late
// visit, and the firings of one window reach the ranking from several
// subtasks in no fixed order. To rank deterministically, each visit carries
// the watermark it arrived under, the window's accumulator keeps those of
// visits that arrived after their own timestamp, and every firing reports,
// besides the count, how many of the visits were on time for that window
// (arrived before the watermark reached its end). The ranking then emits the
// on-time ranking when the watermark passes the window's end, and an updated
// one when the window closes for good, if late visits changed it.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

struct PageVisit {
  std::string url;
  int64_t timestamp = 0;
  int64_t arrival_watermark = 0;  // the watermark when the visit arrived
};
EDDY_FIELDS(PageVisit, url, timestamp, arrival_watermark);

struct VisitAccumulator {
  int64_t count = 0;
  // Arrival watermarks of the visits that came after the watermark had
  // passed their timestamp: late for the windows ending at or before it.
  std::vector<int64_t> late_arrivals;
};
EDDY_FIELDS(VisitAccumulator, count, late_arrivals);

struct PageCount {
  int64_t count = 0;
  int64_t on_time = 0;  // visits that arrived before the watermark reached the window's end
};
EDDY_FIELDS(PageCount, count, on_time);

struct UrlViewCount {
  std::string url;
  int64_t window_end = 0;
  PageCount counts;
};
EDDY_FIELDS(UrlViewCount, url, window_end, counts);

bool IsPage(const std::string& url) {
  for (std::string_view resource : {".css", ".js", ".png", ".ico"}) {
    if (url.size() >= resource.size() && url.compare(url.size() - resource.size(), resource.size(), resource) == 0) {
      return false;
    }
  }
  return true;
}

class CountVisits : public eddy::AggregateFunction<PageVisit, VisitAccumulator, VisitAccumulator> {
 public:
  VisitAccumulator createAccumulator() override { return {}; }
  VisitAccumulator add(const PageVisit& visit, VisitAccumulator acc) override {
    ++acc.count;
    if (visit.arrival_watermark >= visit.timestamp) acc.late_arrivals.push_back(visit.arrival_watermark);
    return acc;
  }
  VisitAccumulator getResult(const VisitAccumulator& acc) override { return acc; }
  VisitAccumulator merge(VisitAccumulator a, VisitAccumulator b) override {
    a.count += b.count;
    a.late_arrivals.insert(a.late_arrivals.end(), b.late_arrivals.begin(), b.late_arrivals.end());
    return a;
  }
};

class ToUrlViewCount
    : public eddy::ProcessWindowFunction<VisitAccumulator, UrlViewCount, std::string, eddy::TimeWindow> {
 public:
  void process(const std::string& url, Context& ctx, const std::vector<VisitAccumulator>& acc,
               eddy::Collector<UrlViewCount>& out) override {
    const int64_t max_timestamp = ctx.window().maxTimestamp();
    const auto late = std::count_if(acc.front().late_arrivals.begin(), acc.front().late_arrivals.end(),
                                    [&](int64_t watermark) { return watermark >= max_timestamp; });
    out.collect(UrlViewCount{url, ctx.window().getEnd(), {acc.front().count, acc.front().count - late}});
  }
};

class RankPages : public eddy::KeyedProcessFunction<int64_t, UrlViewCount, std::string> {
 public:
  RankPages(int top, int64_t allowed_lateness) : top_(top), allowed_lateness_(allowed_lateness) {}

  void processElement(const UrlViewCount& update, Context& ctx, eddy::Collector<std::string>&) override {
    Counts().put(update.url, update.counts);
    const int64_t end = update.window_end;
    // Once the watermark passed end + 1 the on-time ranking is out; later
    // updates only count for the final one.
    if (ctx.timerService().currentWatermark() < OnTimeTimer(end)) {
      ctx.timerService().registerEventTimeTimer(OnTimeTimer(end));
    }
    ctx.timerService().registerEventTimeTimer(FinalTimer(end));
  }

  void onTimer(int64_t time, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    const int64_t end = ctx.getCurrentKey();
    std::vector<std::pair<std::string, PageCount>> pages = Counts().entries();
    if (time == OnTimeTimer(end)) {
      std::vector<std::pair<std::string, int64_t>> on_time;
      for (const auto& [url, c] : pages) {
        if (c.on_time > 0) on_time.emplace_back(url, c.on_time);
      }
      Emit(end, "ontime", std::move(on_time), out);
    }
    if (time == FinalTimer(end)) {
      std::vector<std::pair<std::string, int64_t>> all;
      bool updated = false;
      for (const auto& [url, c] : pages) {
        all.emplace_back(url, c.count);
        updated = updated || c.count != c.on_time;
      }
      if (updated) Emit(end, "updated", std::move(all), out);
      Counts().clear();
    }
  }

 private:
  static int64_t OnTimeTimer(int64_t end) { return end + 1; }
  // Updates stop once the watermark passes end - 1 + allowed lateness.
  int64_t FinalTimer(int64_t end) const { return end + std::max<int64_t>(allowed_lateness_, 1); }

  void Emit(int64_t end, const std::string& kind, std::vector<std::pair<std::string, int64_t>> counts,
            eddy::Collector<std::string>& out) {
    int rank = 0;
    for (const auto& [url, count] : TopN(std::move(counts), static_cast<size_t>(top_))) {
      out.collect(std::to_string(end) + "," + kind + "," + std::to_string(++rank) + "," + url + "," +
                  std::to_string(count));
    }
  }
  eddy::MapState<std::string, PageCount>& Counts() {
    return getRuntimeContext().getMapState(eddy::MapStateDescriptor<std::string, PageCount>("page-counts"));
  }

  int top_;
  int64_t allowed_lateness_;
};

}  // namespace

HotPagesResults HotPages(eddy::DataStream<ApacheLogEvent> logs, const HotPagesOptions& options) {
  const eddy::OutputTag<PageVisit> late_tag("late-visits");
  auto counts = logs.process([](const ApacheLogEvent& e, eddy::ProcessFunction<ApacheLogEvent, PageVisit>::Context& ctx,
                                eddy::Collector<PageVisit>& out) {
                      if (IsPage(e.url))
                        out.collect(PageVisit{e.url, e.timestamp, ctx.timerService().currentWatermark()});
                    })
                    .setParallelism(1)
                    .name("page visits")
                    .uid("hot-pages-visits")
                    .keyBy([](const PageVisit& v) { return v.url; })
                    .window(eddy::SlidingEventTimeWindows::of(options.size, options.slide))
                    .allowedLateness(options.allowed_lateness)
                    .sideOutputLateData(late_tag)
                    .aggregate(CountVisits(), ToUrlViewCount())
                    .name("visits per page and window")
                    .uid("hot-pages-count");
  auto late = counts.getSideOutput(late_tag)
                  .map([](const PageVisit& v) { return std::to_string(v.timestamp) + "," + v.url; })
                  .name("late visits")
                  .uid("hot-pages-late");
  auto rankings = counts.keyBy([](const UrlViewCount& c) { return c.window_end; })
                      .process(RankPages(options.top, options.allowed_lateness.count()))
                      .name("top pages")
                      .uid("hot-pages-top");
  return {rankings, late};
}

}  // namespace user_behavior
