// The parsers (what they accept, what they refuse and how they say so) and
// the generators (deterministic, readable back, and out of order only within
// their data set's bound).
#include "records.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "generators.h"
#include "gtest/gtest.h"

namespace user_behavior {
namespace {

std::string ErrorOf(const absl::Status& status) { return std::string(status.message()); }

TEST(RecordsTest, ParsesUserBehaviorAndIgnoresOneCarriageReturn) {
  absl::StatusOr<UserBehavior> r = ParseUserBehavior("543462,1715,1464116,pv,1511658000\r");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user_id, 543462);
  EXPECT_EQ(r->item_id, 1715);
  EXPECT_EQ(r->category_id, 1464116);
  EXPECT_EQ(r->behavior, "pv");
  EXPECT_EQ(r->timestamp, 1511658000000);
}

TEST(RecordsTest, RefusesMalformedLinesSayingWhy) {
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,2,3,pv").status()),
            "expected 5 fields (userId,itemId,categoryId,behavior,timestamp), got 4");
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,2,3,click,5").status()), "behavior 'click' is not one of pv/buy/cart/fav");
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,x2,3,pv,5").status()), "itemId 'x2' is not a number of 1 to 18 digits");
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,2,3,pv,-5").status()), "timestamp '-5' is not a number of 1 to 18 digits");
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,2,3,pv, 5").status()), "timestamp ' 5' is not a number of 1 to 18 digits");
  EXPECT_EQ(ErrorOf(ParseUserBehavior("1,2,3,pv,100000000001").status()),
            "timestamp 100000000001 is beyond 10^11 seconds");
  EXPECT_FALSE(ParseUserBehavior("").ok());
  EXPECT_FALSE(ParseUserBehavior("1,2,3,pv,5\r\r").ok());
  EXPECT_EQ(ErrorOf(ParseOrderEvent("7,pay,,100").status()), "a pay event needs a txId");
  EXPECT_EQ(ErrorOf(ParseLoginEvent("7,1.2.3.4,maybe,100").status()), "eventType 'maybe' is not one of success/fail");
  EXPECT_EQ(ErrorOf(ParseAdClickEvent("7,3,,city,100").status()), "province is empty");
  EXPECT_EQ(ErrorOf(ParseMarketingUserBehavior("7,install,weibo").status()),
            "expected 4 fields (userId,behavior,channel,timestamp), got 3");
}

TEST(RecordsTest, ParsesApacheLogTimesWithTheirZone) {
  absl::StatusOr<ApacheLogEvent> r =
      ParseApacheLogEvent("83.149.9.216 - - 17/05/2015:10:05:03 +0000 GET /presentations/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ip, "83.149.9.216");
  EXPECT_EQ(r->user_id, "-");
  EXPECT_EQ(r->timestamp, 1431857103000);  // 2015-05-17T10:05:03Z: 10:05:00 is 1431857100
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url, "/presentations/");
  // 12:05:03 at +0200 and 08:35:03 at -0130 are the same instant.
  EXPECT_EQ(ParseApacheLogEvent("1.2.3.4 - 7 17/05/2015:12:05:03 +0200 GET /")->timestamp, 1431857103000);
  EXPECT_EQ(ParseApacheLogEvent("1.2.3.4 - 7 17/05/2015:08:35:03 -0130 GET /")->timestamp, 1431857103000);
  EXPECT_TRUE(ParseApacheLogEvent("1.2.3.4 - - 29/02/2016:00:00:00 +0000 GET /").ok());  // a leap day
  EXPECT_EQ(ErrorOf(ParseApacheLogEvent("1.2.3.4 - - 29/02/2015:00:00:00 +0000 GET /").status()),
            "time '29/02/2015:00:00:00' is not a valid date and time");
  EXPECT_EQ(ErrorOf(ParseApacheLogEvent("1.2.3.4 - - 17/05/2015 10:05:03 +0000 GET /").status()),
            "expected 7 fields (ip - userId dd/MM/yyyy:HH:mm:ss +zzzz method url), got 8");
  EXPECT_EQ(ErrorOf(ParseApacheLogEvent("1.2.3.4 - - 17/05/2015:10:05:03 UTC GET /").status()),
            "time zone 'UTC' is not +HHMM or -HHMM");
  EXPECT_EQ(ErrorOf(ParseApacheLogEvent("1.2.3.4 - - 17/05/2015:10:05:03 +0000 get /").status()),
            "method 'get' is not an upper-case word");
  EXPECT_EQ(ErrorOf(ParseApacheLogEvent("1.2.3.4 - - 17/05/2015:10:05:03 +0000 GET index").status()),
            "url 'index' does not start with '/'");
}

TEST(RecordsTest, UtcDates) {
  EXPECT_EQ(UtcDate(0), "1970-01-01");
  EXPECT_EQ(UtcDate(1511740799999), "2017-11-26");
  EXPECT_EQ(UtcDate(1511740800000), "2017-11-27");
  EXPECT_EQ(UtcDate(951782400000), "2000-02-29");
}

// Every generated record prints to a line that parses back to it; the same
// seed gives the same lines, another seed others; no timestamp is more than
// `bound` behind a timestamp before it.
template <class T, class Parse>
void CheckGenerated(std::vector<T> (*generate)(int64_t, uint64_t), Parse parse, int64_t count, int64_t bound) {
  const std::vector<T> records = generate(count, 7);
  std::vector<std::string> lines;
  int64_t largest = std::numeric_limits<int64_t>::min();
  int64_t worst = 0;
  for (const T& r : records) {
    lines.push_back(ToLine(r));
    absl::StatusOr<T> back = parse(lines.back());
    ASSERT_TRUE(back.ok()) << lines.back() << ": " << back.status();
    EXPECT_EQ(ToLine(*back), lines.back());
    if (lines.size() > 1) worst = std::max(worst, largest - r.timestamp);
    largest = std::max(largest, r.timestamp);
  }
  EXPECT_GT(worst, 0) << "the data is out of order";
  EXPECT_LE(worst, bound);
  std::vector<std::string> again;
  for (const T& r : generate(count, 7)) again.push_back(ToLine(r));
  EXPECT_EQ(again, lines);
  std::vector<std::string> other;
  for (const T& r : generate(count, 8)) other.push_back(ToLine(r));
  EXPECT_NE(other, lines);
}

TEST(GeneratorsTest, AreDeterministicReadableAndBoundedOutOfOrder) {
  CheckGenerated(&GenerateUserBehavior, &ParseUserBehavior, 5000, kUserBehaviorMaxDelayMs);
  CheckGenerated(&GenerateAdClicks, &ParseAdClickEvent, 5000, kAdClickMaxDelayMs);
  CheckGenerated(&GenerateMarketing, &ParseMarketingUserBehavior, 2000, kMarketingMaxDelayMs);
  CheckGenerated(&GenerateLogins, &ParseLoginEvent, 5000, kLoginMaxDelayMs);
  CheckGenerated(&GenerateOrders, &ParseOrderEvent, 2000, kOrderMaxDelayMs);
  CheckGenerated(&GenerateApacheLogs, &ParseApacheLogEvent, 10000, 900 * 1000);  // some are minutes late
}

TEST(GeneratorsTest, LoginsAndOrdersHaveNoTiesWithinAKey) {
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const LoginEvent& e : GenerateLogins(20000, 3)) {
    EXPECT_TRUE(seen.insert({e.user_id, e.timestamp}).second) << "user " << e.user_id << " twice at " << e.timestamp;
  }
  std::map<int64_t, std::map<std::string, int64_t>> orders;
  for (const OrderEvent& e : GenerateOrders(5000, 3)) {
    EXPECT_EQ(orders[e.order_id].count(e.event_type), 0u) << "order " << e.order_id << " has two " << e.event_type;
    orders[e.order_id][e.event_type] = e.timestamp;
  }
  for (const auto& [id, events] : orders) {
    if (events.count("create") && events.count("pay")) {
      EXPECT_LT(events.at("create"), events.at("pay")) << id;
    }
  }
}

}  // namespace
}  // namespace user_behavior
