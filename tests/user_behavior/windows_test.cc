// The windowed applications on the embedded cluster, against hand-computed
// results: HotItems' ranking and its ties, HotPages' on-time and updated
// rankings with late data, and the per-day blacklist of AdClickStatistics.
// Each runs at parallelism 1 and 3 and must give the same lines.
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jobs.h"
#include "test_support.h"

namespace user_behavior {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::Collect;
using testing::EventTimeStream;
using testing::Results;
using Lines = std::multiset<std::string>;

UserBehavior View(int64_t item, int64_t ms, std::string behavior = "pv") { return {1, item, 1, behavior, ms}; }

TEST(HotItemsTest, RanksBySlidingWindowWithTiesBySmallerItem) {
  // Windows of 10 s every 5 s, top 2. Item 1's carts must not count.
  const std::vector<UserBehavior> behaviors = {View(3, 1000), View(1, 1500, "cart"), View(3, 6000),
                                               View(4, 7000), View(1, 7500, "cart"), View(4, 8000),
                                               View(4, 12000)};
  const Lines expected = {
      "5000,1,3,1",                  // [-5 s, 5 s): 3 once
      "10000,1,3,2", "10000,2,4,2",  // [0, 10 s): a tie, 3 before 4
      "15000,1,4,3", "15000,2,3,1",  // [5 s, 15 s)
      "20000,1,4,1",                 // [10 s, 20 s)
  };
  for (int parallelism : {1, 3}) {
    Results::Clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(parallelism);
    Collect(HotItems(EventTimeStream(env, behaviors, 1000), {2, seconds(10), seconds(5)}), "items");
    env.execute("hot items");
    EXPECT_EQ(Results::Of("items"), expected) << "parallelism " << parallelism;
  }
}

ApacheLogEvent Visit(std::string url, int64_t ms) { return {"10.0.0.1", "-", ms, "GET", std::move(url)}; }

TEST(HotPagesTest, OnTimeRankingThenUpdatedByLateVisitsAndTooLateOnesAside) {
  // Tumbling 10 s windows, 5 s allowed lateness, watermark = largest - 1001 ms.
  const std::vector<ApacheLogEvent> visits = {
      Visit("/a", 1000),          // watermark after: -1
      Visit("/b", 2000),          // 999
      Visit("/a", 9000),          // 7999
      Visit("/a", 12000),         // 10999: [0, 10 s) fires with /a 2, /b 1
      Visit("/b", 5000),          // late but allowed: /b 2, of which 1 on time
      Visit("/d", 6000),          // late but allowed, and /d's only visit
      Visit("/c", 16000),         // 14999: [0, 10 s) closes (9999 + 5000 <= 14999)
      Visit("/b", 3000),          // too late for its only window: side output
      Visit("/style.css", 4000),  // not a page
  };
  const Lines expected = {
      "10000,ontime,1,/a,2",  "10000,ontime,2,/b,1", "10000,updated,1,/a,2", "10000,updated,2,/b,2",
      "10000,updated,3,/d,1", "20000,ontime,1,/a,1", "20000,ontime,2,/c,1",  // the end of input fires [10 s, 20 s)
  };
  for (int parallelism : {1, 3}) {
    Results::Clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(parallelism);
    HotPagesResults results = HotPages(EventTimeStream(env, visits, 1000), {3, seconds(10), seconds(10), seconds(5)});
    Collect(results.rankings, "rankings");
    Collect(results.late, "late");
    env.execute("hot pages");
    EXPECT_EQ(Results::Of("rankings"), expected) << "parallelism " << parallelism;
    EXPECT_EQ(Results::Of("late"), Lines{"3000,/b"}) << "parallelism " << parallelism;
  }
}

TEST(AdClickStatisticsTest, BlacklistsPerDayAndStartsAfreshAtMidnight) {
  const int64_t midnight = 1511740800000;  // 2017-11-27T00:00:00Z
  auto click = [](int64_t user, int64_t ad, int64_t ms) {
    return AdClickEvent{user, ad, user == 1 ? "beijing" : "shanghai", "city", ms};
  };
  const int64_t s = 1000;
  // At most 3 clicks per user, ad and day.
  const std::vector<AdClickEvent> clicks = {
      click(1, 7, midnight - 10 * s), click(1, 7, midnight - 9 * s),
      click(1, 7, midnight - 8 * s),  click(1, 7, midnight - 7 * s),  // the 4th: reported for 2017-11-26
      click(1, 7, midnight - 6 * s),                                  // the 5th: dropped silently
      click(2, 7, midnight - 5 * s),  click(2, 7, midnight - 4 * s),
      click(2, 7, midnight - 3 * s),  click(1, 8, midnight - 1 * s),  // another ad
      click(1, 7, midnight + 5 * s),                                  // a new day: counted from zero
      click(2, 7, midnight - 2 * s),  // arrives after midnight's click, still the 26th's 4th
      click(1, 7, midnight + 6 * s),  click(1, 7, midnight + 7 * s),
      click(1, 7, midnight + 8 * s),  // the 4th of the 27th
  };
  const Lines expected_counts = {
      std::to_string(midnight) + ",beijing,4",  // user 1: 3 on ad 7, 1 on ad 8
      std::to_string(midnight) + ",shanghai,3",
      std::to_string(midnight + 3600 * s) + ",beijing,3",
  };
  const Lines expected_blacklist = {"1,7,2017-11-26", "2,7,2017-11-26", "1,7,2017-11-27"};
  for (int parallelism : {1, 3}) {
    Results::Clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(parallelism);
    AdClickResults results = AdClickStatistics(EventTimeStream(env, clicks, 10 * s), {3, {hours(1), hours(1)}});
    Collect(results.by_province, "counts");
    Collect(results.blacklist, "blacklist");
    env.execute("ad clicks");
    EXPECT_EQ(Results::Of("counts"), expected_counts) << "parallelism " << parallelism;
    EXPECT_EQ(Results::Of("blacklist"), expected_blacklist) << "parallelism " << parallelism;
  }
}

}  // namespace
}  // namespace user_behavior
