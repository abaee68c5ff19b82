// The data set generators: a splitmix64 stream per data set, events built in
// time order, then put in arrival order (timestamp + random delay).
#include "generators.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

namespace user_behavior {
namespace {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  // In [0, n), the small values far more often: index k with density ~ u^skew.
  int64_t Skewed(int64_t n, double skew) {
    return std::min<int64_t>(n - 1, static_cast<int64_t>(static_cast<double>(n) * std::pow(Uniform(), skew)));
  }
  template <class T, size_t N>
  const T& Pick(const std::array<T, N>& values) {
    return values[static_cast<size_t>(Below(static_cast<int64_t>(N)))];
  }

 private:
  uint64_t state_;
};

// Distinct streams for the data sets even under the same seed.
Random StreamFor(uint64_t seed, uint64_t data_set) { return Random(seed * 0x100000001B3ULL + data_set); }

// Reorders `events` by timestamp + delays[i] (ties keep generation order), so
// that no event is more than max(delays) behind an event before it.
template <class T>
std::vector<T> InArrivalOrder(std::vector<T> events, const std::vector<int64_t>& delays) {
  std::vector<size_t> order(events.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return events[a].timestamp + delays[a] < events[b].timestamp + delays[b];
  });
  std::vector<T> arrived;
  arrived.reserve(events.size());
  for (size_t i : order) arrived.push_back(std::move(events[i]));
  return arrived;
}

constexpr int64_t kSecond = 1000;

}  // namespace

std::vector<UserBehavior> GenerateUserBehavior(int64_t count, uint64_t seed) {
  Random random = StreamFor(seed, 1);
  std::vector<UserBehavior> events;
  std::vector<int64_t> delays;
  for (int64_t i = 0; i < count; ++i) {
    UserBehavior e;
    e.user_id = 1 + random.Skewed(5000, 1.5);
    const int64_t item = random.Skewed(1000, 4.0);  // a few hot items
    e.item_id = 10007 + item * 7919 % 100000;
    e.category_id = 1 + item % 40;
    const double b = random.Uniform();
    e.behavior = b < 0.85 ? "pv" : b < 0.91 ? "cart" : b < 0.96 ? "fav" : "buy";
    e.timestamp = (1511661600 + i * 2 / 5) * kSecond;
    events.push_back(e);
    delays.push_back(random.Below(kUserBehaviorMaxDelayMs / kSecond + 1) * kSecond);
  }
  return InArrivalOrder(std::move(events), delays);
}

std::vector<ApacheLogEvent> GenerateApacheLogs(int64_t count, uint64_t seed) {
  static constexpr std::array<const char*, 24> kPages = {"/presentations/",
                                                         "/blog/tags/puppet?flav=rss20",
                                                         "/projects/xdotool/",
                                                         "/articles/dynamic-dns-with-dhcp/",
                                                         "/blog/geekery/",
                                                         "/reset.css",
                                                         "/projects/",
                                                         "/blog/",
                                                         "/articles/ppp-over-ssh/",
                                                         "/about/",
                                                         "/presentations/logstash-puppetconf-2012/",
                                                         "/projects/grok/",
                                                         "/blog/tags/ruby",
                                                         "/misc/",
                                                         "/projects/fex/",
                                                         "/articles/",
                                                         "/blog/geekery/xvfb-firefox.html",
                                                         "/projects/xdotool/xdotool.xhtml",
                                                         "/search?q=logstash",
                                                         "/blog/tags/firefox?flav=rss20",
                                                         "/files/",
                                                         "/talks/",
                                                         "/contact/",
                                                         "/"};
  static constexpr std::array<const char*, 6> kStatic = {"/images/jordan-80.png", "/favicon.ico",
                                                         "/style2.css",           "/images/web/2009/banner.png",
                                                         "/js/jquery.js",         "/images/googledotcom.png"};
  static constexpr std::array<const char*, 3> kMethods = {"GET", "POST", "HEAD"};
  Random random = StreamFor(seed, 2);
  std::vector<ApacheLogEvent> events;
  std::vector<int64_t> delays;
  for (int64_t i = 0; i < count; ++i) {
    ApacheLogEvent e;
    const int64_t host = random.Skewed(300, 2.0);
    e.ip = "83.149." + std::to_string(9 + host / 200) + "." + std::to_string(host % 200 + 16);
    e.user_id = random.Uniform() < 0.7 ? "-" : std::to_string(1000 + random.Below(500));
    e.timestamp = (1431857100 + i / 3) * kSecond;
    const double m = random.Uniform();
    e.method = kMethods[m < 0.9 ? 0 : m < 0.97 ? 1 : 2];
    e.url =
        random.Uniform() < 0.2 ? random.Pick(kStatic) : kPages[static_cast<size_t>(random.Skewed(kPages.size(), 2.5))];
    events.push_back(e);
    const double d = random.Uniform();
    delays.push_back(d < 0.95    ? random.Below(2) * kSecond              // within the 1 s bound
                     : d < 0.98  ? (2 + random.Below(49)) * kSecond       // late, within allowed lateness
                     : d < 0.995 ? (60 + random.Below(241)) * kSecond     // too late for some windows
                                 : (700 + random.Below(201)) * kSecond);  // too late for every window
  }
  return InArrivalOrder(std::move(events), delays);
}

std::vector<AdClickEvent> GenerateAdClicks(int64_t count, uint64_t seed) {
  static constexpr std::array<const char*, 8> kProvinces = {"beijing", "shanghai", "guangdong", "zhejiang",
                                                            "jiangsu", "sichuan",  "hubei",     "fujian"};
  static constexpr std::array<const char*, 8> kCities = {"beijing", "shanghai", "guangzhou", "hangzhou",
                                                         "nanjing", "chengdu",  "wuhan",     "xiamen"};
  Random random = StreamFor(seed, 3);
  std::vector<AdClickEvent> events;
  std::vector<int64_t> delays;
  for (int64_t i = 0; i < count; ++i) {
    AdClickEvent e;
    if (random.Uniform() < 0.15) {
      const double b = random.Uniform();
      const int64_t bot = b < 0.5 ? 0 : b < 0.8 ? 1 : 2;  // unequal zeal
      e.user_id = 937001 + bot;
      e.ad_id = 5 + bot * 3;
    } else {
      e.user_id = 1 + random.Skewed(2000, 1.5);
      e.ad_id = 1 + random.Skewed(20, 2.0);
    }
    // A user clicks from home: the province follows from the user.
    const size_t where = static_cast<size_t>((e.user_id * 2654435761ULL) % kProvinces.size());
    e.province = kProvinces[where];
    e.city = kCities[where];
    e.timestamp = (1511737200 + i) * kSecond;
    events.push_back(e);
    delays.push_back(random.Below(kAdClickMaxDelayMs / kSecond + 1) * kSecond);
  }
  return InArrivalOrder(std::move(events), delays);
}

std::vector<MarketingUserBehavior> GenerateMarketing(int64_t count, uint64_t seed) {
  static constexpr std::array<const char*, 6> kChannels = {"appstore", "huaweistore", "xiaomistore",
                                                           "weibo",    "wechat",      "tieba"};
  Random random = StreamFor(seed, 4);
  std::vector<MarketingUserBehavior> events;
  std::vector<int64_t> delays;
  for (int64_t i = 0; i < count; ++i) {
    MarketingUserBehavior e;
    e.user_id = 1 + random.Below(100000);
    const double b = random.Uniform();
    e.behavior = b < 0.5 ? "click" : b < 0.75 ? "download" : b < 0.9 ? "install" : "uninstall";
    e.channel = kChannels[static_cast<size_t>(random.Skewed(kChannels.size(), 1.8))];
    e.timestamp = (1511654400 + i * 2) * kSecond;
    events.push_back(e);
    delays.push_back(random.Below(kMarketingMaxDelayMs / kSecond + 1) * kSecond);
  }
  return InArrivalOrder(std::move(events), delays);
}

std::vector<LoginEvent> GenerateLogins(int64_t count, uint64_t seed) {
  Random random = StreamFor(seed, 5);
  std::vector<LoginEvent> events;
  std::vector<int64_t> delays;
  int64_t attacker = 0;
  int64_t burst_left = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (burst_left == 0 && random.Uniform() < 0.06) {
      attacker = 1 + random.Below(500);
      burst_left = 2 + random.Below(5);
    }
    LoginEvent e;
    // In a burst, most seconds carry the attacker's next failure; the others
    // (somebody else, or the attacker getting in) break or stretch the run.
    if (burst_left > 0 && random.Uniform() < 0.75) {
      e.user_id = attacker;
      e.event_type = random.Uniform() < 0.1 ? "success" : "fail";
      --burst_left;
    } else {
      e.user_id = 1 + random.Below(500);
      e.event_type = random.Uniform() < 0.9 ? "success" : "fail";
    }
    e.ip = "192.168." + std::to_string(e.user_id % 256) + "." + std::to_string(random.Below(254) + 1);
    e.timestamp = (1558429200 + i) * kSecond;
    events.push_back(e);
    delays.push_back(random.Below(kLoginMaxDelayMs / kSecond + 1) * kSecond);
  }
  return InArrivalOrder(std::move(events), delays);
}

std::vector<OrderEvent> GenerateOrders(int64_t orders, uint64_t seed) {
  Random random = StreamFor(seed, 6);
  std::vector<OrderEvent> events;
  std::vector<int64_t> delays;
  auto add = [&](OrderEvent e) {
    events.push_back(std::move(e));
    delays.push_back(random.Below(kOrderMaxDelayMs / kSecond + 1) * kSecond);
  };
  for (int64_t i = 0; i < orders; ++i) {
    const int64_t id = 34729 + i;
    const int64_t created = (1558429200 + i * 3) * kSecond;
    const double outcome = random.Uniform();
    const std::string tx = "tx" + std::to_string(random.Next() % 1000000007ULL);
    if (outcome >= 0.97) {  // a payment for an order never created
      add({id, "pay", tx, created});
      continue;
    }
    add({id, "create", "", created});
    const int64_t paid_after_s = outcome < 0.75   ? 1 + random.Below(899)    // in time
                                 : outcome < 0.78 ? 900                      // exactly at the deadline: too late
                                 : outcome < 0.85 ? 901 + random.Below(900)  // too late
                                                  : -1;                      // never
    if (paid_after_s > 0) add({id, "pay", tx, created + paid_after_s * kSecond});
  }
  return InArrivalOrder(std::move(events), delays);
}

}  // namespace user_behavior
