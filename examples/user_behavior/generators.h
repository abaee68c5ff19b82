// Deterministic, seeded generators of the user-behaviour data sets. The same
// (count, seed) always gives the same records in the same order, so a job fed
// by a generator source sees exactly what user-behavior-gen writes to CSV.
//
// Records come in "arrival order": each event gets a random delay and events
// are ordered by timestamp + delay, so timestamps are out of order by at most
// the data set's bound (kMaxDelay...), except for the web logs, a few of
// which are deliberately minutes late to exercise allowed lateness and the
// late-data side output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "records.h"

namespace user_behavior {

// How far each data set's timestamps may run behind the largest one before
// them, which is the out-of-orderness bound its jobs use by default.
constexpr int64_t kUserBehaviorMaxDelayMs = 5000;
constexpr int64_t kAdClickMaxDelayMs = 5000;
constexpr int64_t kMarketingMaxDelayMs = 5000;
constexpr int64_t kLoginMaxDelayMs = 3000;
constexpr int64_t kOrderMaxDelayMs = 5000;
// Web logs: most events are at most 1 s late; about 5% are 2 s to 15 min late.
constexpr int64_t kApacheLogUsualDelayMs = 1000;

// `count` page views, carts, favourites and buys, 2.5 per second from
// 2017-11-26 02:00 UTC; a few hot items get most views.
std::vector<UserBehavior> GenerateUserBehavior(int64_t count, uint64_t seed);
// `count` web-server requests, 3 per second from 2015-05-17 10:05 UTC; a few
// hot pages, and one request in five for a static resource (.css .js .png .ico).
std::vector<ApacheLogEvent> GenerateApacheLogs(int64_t count, uint64_t seed);
// `count` ad clicks, one per second from 2017-11-26 23:00 UTC (so across a
// midnight); 15% come from three bots hammering one ad each.
std::vector<AdClickEvent> GenerateAdClicks(int64_t count, uint64_t seed);
// `count` app-market events, one every 2 s from 2017-11-26 00:00 UTC.
std::vector<MarketingUserBehavior> GenerateMarketing(int64_t count, uint64_t seed);
// `count` logins, one per second from 2019-05-21 09:00 UTC (so no user ever
// has two in the same second), with bursts of failures from attackers.
std::vector<LoginEvent> GenerateLogins(int64_t count, uint64_t seed);
// The events of `orders` orders, one created every 3 s from 2019-05-21 09:00
// UTC: most paid within 15 minutes, some paid exactly at or after 15 minutes,
// some never paid, and a few payments whose order was never created.
std::vector<OrderEvent> GenerateOrders(int64_t orders, uint64_t seed);

}  // namespace user_behavior
