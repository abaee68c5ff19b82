// The user-behaviour analysis pipelines, each from an event-time stream of
// records to result lines (CSV; times in epoch milliseconds). programs.cc
// wraps each in an EDDY_PROGRAM; the tests call them directly.
//
// Every pipeline gives the same lines at any parallelism, provided its input
// arrives in one fixed order with watermarks after the records that raise
// them (ReadEvents does both), because which records are late, and which
// clicks come first in a day, depend on the order alone.
#pragma once

#include <eddy/eddy.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "records.h"

namespace user_behavior {

using std::chrono::milliseconds;

// ---- HotItems: the most viewed items of each sliding window ----
// Lines "windowEnd,rank,itemId,views" for the `top` items with the most pv
// events in each window (ties: smaller itemId first); windows of `size`
// every `slide`.
struct HotItemsOptions {
  int top = 3;
  milliseconds size = std::chrono::hours(1);
  milliseconds slide = std::chrono::minutes(5);
};
eddy::DataStream<std::string> HotItems(eddy::DataStream<UserBehavior> behaviors, const HotItemsOptions& options);

// ---- HotPages: the most visited pages of each sliding window ----
// Pages are the URLs that do not end in .css, .js, .png or .ico. Windows of
// `size` every `slide` accept late visits for `allowed_lateness` after
// their end. `rankings` holds, per window, "windowEnd,ontime,rank,url,visits"
// counting the visits that were on time (when the watermark passed the
// window's end), and, if late visits changed any count, also
// "windowEnd,updated,rank,url,visits" with every visit counted. `late` holds
// "timestamp,url" for visits too late for every window.
struct HotPagesOptions {
  int top = 3;
  milliseconds size = std::chrono::minutes(10);
  milliseconds slide = std::chrono::seconds(5);
  milliseconds allowed_lateness = std::chrono::minutes(1);
};
struct HotPagesResults {
  eddy::DataStream<std::string> rankings;
  eddy::DataStream<std::string> late;
};
HotPagesResults HotPages(eddy::DataStream<ApacheLogEvent> logs, const HotPagesOptions& options);

// ---- PageView: "windowEnd,pv" per tumbling window of `size` ----
eddy::DataStream<std::string> PageView(eddy::DataStream<UserBehavior> behaviors, milliseconds size);

// ---- UniqueVisitor: distinct users with pv events per tumbling window ----
// "windowEnd,exact,n" from a set of user ids, and "windowEnd,bloom,n" from a
// Bloom filter of `bloom_bits` bits and `bloom_hashes` hash functions kept in
// keyed state: a user counts when not all of its bits were set yet, so the
// Bloom count never exceeds the exact one and falls short by the users that
// collided with earlier ones (see BloomFilter in unique_visitor.cc).
struct UniqueVisitorOptions {
  milliseconds size = std::chrono::hours(1);
  int64_t bloom_bits = int64_t{1} << 20;
  int bloom_hashes = 3;
};
eddy::DataStream<std::string> UniqueVisitor(eddy::DataStream<UserBehavior> behaviors,
                                            const UniqueVisitorOptions& options);

// The Bloom filter of UniqueVisitor, over `bits` (a string of bits/8 bytes,
// rounded up): sets the bits of `user` and returns whether any was unset.
bool BloomAdd(std::string& bits, int64_t bit_count, int hashes, int64_t user);

// ---- AppMarketing: app-market events per sliding window ----
// "windowEnd,channel,behavior,count" per channel and behaviour and
// "windowEnd,ALL,ALL,count" over all events.
struct SlidingOptions {
  milliseconds size = std::chrono::hours(1);
  milliseconds slide = std::chrono::seconds(5);
};
eddy::DataStream<std::string> AppMarketing(eddy::DataStream<MarketingUserBehavior> events,
                                           const SlidingOptions& options);

// ---- AdClickStatistics: clicks per province, without click fraud ----
// A user's clicks on one ad beyond `max_clicks_per_day` in a UTC day are
// dropped, and reported once that day in `blacklist` as
// "userId,adId,yyyy-MM-dd"; the day's count is reset by a timer at the next
// midnight. `by_province` holds "windowEnd,province,clicks" over the rest.
struct AdClickOptions {
  int64_t max_clicks_per_day = 100;
  SlidingOptions window;
};
struct AdClickResults {
  eddy::DataStream<std::string> by_province;
  eddy::DataStream<std::string> blacklist;
};
AdClickResults AdClickStatistics(eddy::DataStream<AdClickEvent> clicks, const AdClickOptions& options);

// ---- LoginFailDetect: consecutive failed logins ----
// Each user's logins are taken in event-time order; whenever `fails`
// consecutive logins failed and the last came less than `within` after the
// first, "userId,firstFailTime,lastFailTime,fails" is emitted (so a run of
// fails+1 failures gives two overlapping warnings). A success breaks a run.
struct LoginFailOptions {
  int fails = 2;
  milliseconds within = std::chrono::seconds(2);
};
eddy::DataStream<std::string> LoginFailDetect(eddy::DataStream<LoginEvent> logins, const LoginFailOptions& options);
// The same with a CEP pattern: begin/next for two failures, times(n).consecutive() for more.
eddy::DataStream<std::string> LoginFailDetectCep(eddy::DataStream<LoginEvent> logins, const LoginFailOptions& options);

// ---- OrderTimeout: orders paid in time, and orders that were not ----
// An order created at c and paid at p with c < p < c + timeout is matched:
// "orderId,c,p" in `paid`. An order created and not paid before c + timeout
// timed out: "orderId,c" in `timed_out`. A payment without a creation is
// ignored. Each order has at most one create and one pay event.
struct OrderTimeoutOptions {
  milliseconds timeout = std::chrono::minutes(15);
};
struct OrderResults {
  eddy::DataStream<std::string> paid;
  eddy::DataStream<std::string> timed_out;
};
OrderResults OrderTimeout(eddy::DataStream<OrderEvent> orders, const OrderTimeoutOptions& options);
// The same with the CEP pattern create followedBy pay within the timeout,
// timed-out partial matches going to the side output.
OrderResults OrderTimeoutCep(eddy::DataStream<OrderEvent> orders, const OrderTimeoutOptions& options);

}  // namespace user_behavior
