// The records of the e-commerce user-behaviour applications, their CSV (and
// Apache-log) text forms, and the strict parsers the jobs read them with.
//
// Every timestamp is held in epoch milliseconds; the text forms carry epoch
// seconds (or, for web logs, "dd/MM/yyyy:HH:mm:ss +zzzz"). A parser rejects a
// line with a message that says what was wrong: tests/user_behavior/reference.py
// applies the same rules, so both skip exactly the same lines.
#pragma once

#include <absl/status/statusor.h>
#include <eddy/serializer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace user_behavior {

// UserBehavior.csv: userId,itemId,categoryId,behavior,timestamp
// behavior is one of pv, buy, cart, fav.
struct UserBehavior {
  int64_t user_id = 0;
  int64_t item_id = 0;
  int64_t category_id = 0;
  std::string behavior;
  int64_t timestamp = 0;
};
EDDY_FIELDS(UserBehavior, user_id, item_id, category_id, behavior, timestamp);

// apache.log: "ip - userId dd/MM/yyyy:HH:mm:ss +zzzz METHOD url"
// (userId is "-" for anonymous visitors).
struct ApacheLogEvent {
  std::string ip;
  std::string user_id;
  int64_t timestamp = 0;
  std::string method;
  std::string url;
};
EDDY_FIELDS(ApacheLogEvent, ip, user_id, timestamp, method, url);

// AdClickLog.csv: userId,adId,province,city,timestamp
struct AdClickEvent {
  int64_t user_id = 0;
  int64_t ad_id = 0;
  std::string province;
  std::string city;
  int64_t timestamp = 0;
};
EDDY_FIELDS(AdClickEvent, user_id, ad_id, province, city, timestamp);

// AppMarketing.csv: userId,behavior,channel,timestamp
// behavior is one of click, download, install, uninstall.
struct MarketingUserBehavior {
  int64_t user_id = 0;
  std::string behavior;
  std::string channel;
  int64_t timestamp = 0;
};
EDDY_FIELDS(MarketingUserBehavior, user_id, behavior, channel, timestamp);

// LoginLog.csv: userId,ip,eventType,timestamp; eventType is success or fail.
struct LoginEvent {
  int64_t user_id = 0;
  std::string ip;
  std::string event_type;
  int64_t timestamp = 0;
};
EDDY_FIELDS(LoginEvent, user_id, ip, event_type, timestamp);

// OrderLog.csv: orderId,eventType,txId,timestamp; eventType is create (with
// an empty txId) or pay.
struct OrderEvent {
  int64_t order_id = 0;
  std::string event_type;
  std::string tx_id;
  int64_t timestamp = 0;
};
EDDY_FIELDS(OrderEvent, order_id, event_type, tx_id, timestamp);

absl::StatusOr<UserBehavior> ParseUserBehavior(std::string_view line);
absl::StatusOr<ApacheLogEvent> ParseApacheLogEvent(std::string_view line);
absl::StatusOr<AdClickEvent> ParseAdClickEvent(std::string_view line);
absl::StatusOr<MarketingUserBehavior> ParseMarketingUserBehavior(std::string_view line);
absl::StatusOr<LoginEvent> ParseLoginEvent(std::string_view line);
absl::StatusOr<OrderEvent> ParseOrderEvent(std::string_view line);

// The line each parser reads back into the same record (no newline).
std::string ToLine(const UserBehavior& r);
std::string ToLine(const ApacheLogEvent& r);
std::string ToLine(const AdClickEvent& r);
std::string ToLine(const MarketingUserBehavior& r);
std::string ToLine(const LoginEvent& r);
std::string ToLine(const OrderEvent& r);

// The UTC calendar date "yyyy-MM-dd" of an epoch-millisecond time.
std::string UtcDate(int64_t epoch_ms);

constexpr int64_t kMillisPerDay = 24 * 3600 * 1000;

}  // namespace user_behavior
