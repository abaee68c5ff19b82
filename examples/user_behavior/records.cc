// Parsers and printers of the user-behaviour records. The rules are strict on
// purpose, and tests/user_behavior/reference.py applies the very same ones:
// fields are separated by exactly one ',' (web logs: one ' '), integers are
// 1 to 18 decimal digits without sign or blanks, timestamps are epoch seconds
// up to 10^11, and one trailing '\r' is ignored.
#include "records.h"

#include <absl/status/status.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <vector>

namespace user_behavior {
namespace {

constexpr int64_t kMaxEpochSeconds = 100'000'000'000;

std::string_view WithoutCarriageReturn(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::vector<std::string_view> Split(std::string_view line, char separator) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t end = line.find(separator, start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

absl::StatusOr<std::vector<std::string_view>> Fields(std::string_view line, char separator, size_t expected,
                                                     std::string_view layout) {
  std::vector<std::string_view> fields = Split(WithoutCarriageReturn(line), separator);
  if (fields.size() != expected) {
    return Invalid("expected " + std::to_string(expected) + " fields (" + std::string(layout) + "), got " +
                   std::to_string(fields.size()));
  }
  return fields;
}

absl::StatusOr<int64_t> Integer(std::string_view text, std::string_view name) {
  bool digits = !text.empty() && text.size() <= 18;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits) return Invalid(std::string(name) + " '" + std::string(text) + "' is not a number of 1 to 18 digits");
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

absl::StatusOr<int64_t> EpochSecondsAsMillis(std::string_view text) {
  absl::StatusOr<int64_t> seconds = Integer(text, "timestamp");
  if (!seconds.ok()) return seconds.status();
  if (*seconds > kMaxEpochSeconds) return Invalid("timestamp " + std::string(text) + " is beyond 10^11 seconds");
  return *seconds * 1000;
}

absl::StatusOr<std::string> OneOf(std::string_view text, std::string_view name,
                                  std::initializer_list<std::string_view> allowed) {
  std::string list;
  for (std::string_view a : allowed) {
    if (text == a) return std::string(text);
    if (!list.empty()) list += '/';
    list += a;
  }
  return Invalid(std::string(name) + " '" + std::string(text) + "' is not one of " + list);
}

absl::StatusOr<std::string> NonEmpty(std::string_view text, std::string_view name) {
  if (text.empty()) return Invalid(std::string(name) + " is empty");
  return std::string(text);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr std::array<int64_t, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// A fixed-width run of digits at `pos` of `text`, or -1.
int64_t DigitsAt(std::string_view text, size_t pos, size_t width) {
  int64_t value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// "dd/MM/yyyy:HH:mm:ss" and "+zzzz" to epoch milliseconds.
absl::StatusOr<int64_t> ApacheTime(std::string_view time, std::string_view zone) {
  const std::string bad_time = "time '" + std::string(time) + "' is not dd/MM/yyyy:HH:mm:ss";
  if (time.size() != 19 || time[2] != '/' || time[5] != '/' || time[10] != ':' || time[13] != ':' || time[16] != ':') {
    return Invalid(bad_time);
  }
  const int64_t day = DigitsAt(time, 0, 2), month = DigitsAt(time, 3, 2), year = DigitsAt(time, 6, 4);
  const int64_t hour = DigitsAt(time, 11, 2), minute = DigitsAt(time, 14, 2), second = DigitsAt(time, 17, 2);
  if (day < 0 || month < 0 || year < 0 || hour < 0 || minute < 0 || second < 0) return Invalid(bad_time);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return Invalid("time '" + std::string(time) + "' is not a valid date and time");
  }
  if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-') || DigitsAt(zone, 1, 4) < 0 || DigitsAt(zone, 1, 2) > 23 ||
      DigitsAt(zone, 3, 2) > 59) {
    return Invalid("time zone '" + std::string(zone) + "' is not +HHMM or -HHMM");
  }
  const int64_t offset = (zone[0] == '-' ? -1 : 1) * (DigitsAt(zone, 1, 2) * 60 + DigitsAt(zone, 3, 2)) * 60;
  const int64_t local = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return (local - offset) * 1000;
}

std::string Seconds(int64_t millis) { return std::to_string(millis / 1000); }

}  // namespace

absl::StatusOr<UserBehavior> ParseUserBehavior(std::string_view line) {
  auto f = Fields(line, ',', 5, "userId,itemId,categoryId,behavior,timestamp");
  if (!f.ok()) return f.status();
  UserBehavior r;
  auto user = Integer((*f)[0], "userId");
  auto item = Integer((*f)[1], "itemId");
  auto category = Integer((*f)[2], "categoryId");
  auto behavior = OneOf((*f)[3], "behavior", {"pv", "buy", "cart", "fav"});
  auto ts = EpochSecondsAsMillis((*f)[4]);
  for (const absl::Status& s : {user.status(), item.status(), category.status(), behavior.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  return UserBehavior{*user, *item, *category, *behavior, *ts};
}

absl::StatusOr<ApacheLogEvent> ParseApacheLogEvent(std::string_view line) {
  auto f = Fields(line, ' ', 7, "ip - userId dd/MM/yyyy:HH:mm:ss +zzzz method url");
  if (!f.ok()) return f.status();
  auto ip = NonEmpty((*f)[0], "ip");
  auto user = NonEmpty((*f)[2], "userId");
  auto ts = ApacheTime((*f)[3], (*f)[4]);
  for (const absl::Status& s : {ip.status(), user.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  std::string_view method = (*f)[5], url = (*f)[6];
  bool upper = !method.empty();
  for (char c : method) upper = upper && c >= 'A' && c <= 'Z';
  if (!upper) return Invalid("method '" + std::string(method) + "' is not an upper-case word");
  if (url.empty() || url.front() != '/') return Invalid("url '" + std::string(url) + "' does not start with '/'");
  return ApacheLogEvent{*ip, *user, *ts, std::string(method), std::string(url)};
}

absl::StatusOr<AdClickEvent> ParseAdClickEvent(std::string_view line) {
  auto f = Fields(line, ',', 5, "userId,adId,province,city,timestamp");
  if (!f.ok()) return f.status();
  auto user = Integer((*f)[0], "userId");
  auto ad = Integer((*f)[1], "adId");
  auto province = NonEmpty((*f)[2], "province");
  auto city = NonEmpty((*f)[3], "city");
  auto ts = EpochSecondsAsMillis((*f)[4]);
  for (const absl::Status& s : {user.status(), ad.status(), province.status(), city.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  return AdClickEvent{*user, *ad, *province, *city, *ts};
}

absl::StatusOr<MarketingUserBehavior> ParseMarketingUserBehavior(std::string_view line) {
  auto f = Fields(line, ',', 4, "userId,behavior,channel,timestamp");
  if (!f.ok()) return f.status();
  auto user = Integer((*f)[0], "userId");
  auto behavior = OneOf((*f)[1], "behavior", {"click", "download", "install", "uninstall"});
  auto channel = NonEmpty((*f)[2], "channel");
  auto ts = EpochSecondsAsMillis((*f)[3]);
  for (const absl::Status& s : {user.status(), behavior.status(), channel.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  return MarketingUserBehavior{*user, *behavior, *channel, *ts};
}

absl::StatusOr<LoginEvent> ParseLoginEvent(std::string_view line) {
  auto f = Fields(line, ',', 4, "userId,ip,eventType,timestamp");
  if (!f.ok()) return f.status();
  auto user = Integer((*f)[0], "userId");
  auto ip = NonEmpty((*f)[1], "ip");
  auto type = OneOf((*f)[2], "eventType", {"success", "fail"});
  auto ts = EpochSecondsAsMillis((*f)[3]);
  for (const absl::Status& s : {user.status(), ip.status(), type.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  return LoginEvent{*user, *ip, *type, *ts};
}

absl::StatusOr<OrderEvent> ParseOrderEvent(std::string_view line) {
  auto f = Fields(line, ',', 4, "orderId,eventType,txId,timestamp");
  if (!f.ok()) return f.status();
  auto order = Integer((*f)[0], "orderId");
  auto type = OneOf((*f)[1], "eventType", {"create", "pay"});
  auto ts = EpochSecondsAsMillis((*f)[3]);
  for (const absl::Status& s : {order.status(), type.status(), ts.status()}) {
    if (!s.ok()) return s;
  }
  if (*type == "pay" && (*f)[2].empty()) return Invalid("a pay event needs a txId");
  return OrderEvent{*order, *type, std::string((*f)[2]), *ts};
}

std::string ToLine(const UserBehavior& r) {
  return std::to_string(r.user_id) + "," + std::to_string(r.item_id) + "," + std::to_string(r.category_id) + "," +
         r.behavior + "," + Seconds(r.timestamp);
}

std::string ToLine(const ApacheLogEvent& r) {
  // Always written in UTC.
  const int64_t rest = r.timestamp / 1000 % 86400;
  const std::string date = UtcDate(r.timestamp);  // yyyy-MM-dd
  char time[32];
  std::snprintf(time, sizeof(time), "%s/%s/%s:%02lld:%02lld:%02lld", date.substr(8, 2).c_str(),
                date.substr(5, 2).c_str(), date.substr(0, 4).c_str(), static_cast<long long>(rest / 3600),
                static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60));
  return r.ip + " - " + r.user_id + " " + time + " +0000 " + r.method + " " + r.url;
}

std::string ToLine(const AdClickEvent& r) {
  return std::to_string(r.user_id) + "," + std::to_string(r.ad_id) + "," + r.province + "," + r.city + "," +
         Seconds(r.timestamp);
}

std::string ToLine(const MarketingUserBehavior& r) {
  return std::to_string(r.user_id) + "," + r.behavior + "," + r.channel + "," + Seconds(r.timestamp);
}

std::string ToLine(const LoginEvent& r) {
  return std::to_string(r.user_id) + "," + r.ip + "," + r.event_type + "," + Seconds(r.timestamp);
}

std::string ToLine(const OrderEvent& r) {
  return std::to_string(r.order_id) + "," + r.event_type + "," + r.tx_id + "," + Seconds(r.timestamp);
}

std::string UtcDate(int64_t epoch_ms) {
  // Inverse of DaysFromCivil (Howard Hinnant's civil_from_days).
  int64_t z = epoch_ms / kMillisPerDay - (epoch_ms % kMillisPerDay < 0 ? 1 : 0) + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char text[48];
  std::snprintf(text, sizeof(text), "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d));
  return text;
}

}  // namespace user_behavior
