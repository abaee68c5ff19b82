// The keyed-state applications on the embedded cluster, against
// hand-computed results: LoginFailDetect (ProcessFunction and CEP) on the
// edge cases of "two failures within 2 s", OrderTimeout (both versions) on
// the edges of the 15-minute deadline, and UniqueVisitor's Bloom filter
// against its documented error bound.
#include <chrono>
#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jobs.h"
#include "test_support.h"

namespace user_behavior {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::Collect;
using testing::EventTimeStream;
using testing::Results;
using Lines = std::multiset<std::string>;

using LoginDetector =
    std::function<eddy::DataStream<std::string>(eddy::DataStream<LoginEvent>, const LoginFailOptions&)>;

LoginEvent Login(int64_t user, const char* type, int64_t ms) { return {user, "10.0.0.1", type, ms}; }

// In arrival order; event time sorts each user's logins first.
const std::vector<LoginEvent>& Logins() {
  static const std::vector<LoginEvent> logins = {
      Login(1, "fail", 1000), Login(1, "fail", 3000),                                // exactly 2 s apart: no
      Login(2, "fail", 1000), Login(2, "fail", 2999),                                // 1.999 s: warning
      Login(3, "fail", 1000), Login(3, "success", 1500), Login(3, "fail", 2000),     // a success between: no
      Login(4, "fail", 1000), Login(4, "fail", 1500),    Login(4, "fail", 2000),     // two overlapping warnings
      Login(5, "fail", 2000), Login(5, "fail", 1000),    Login(5, "success", 1500),  // in event time: a success between
      Login(6, "fail", 2000), Login(6, "fail", 1000),                                // in event time: 1000 then 2000
      Login(7, "fail", 1000), Login(7, "fail", 2000),    Login(7, "fail", 3000),     // three, 2 s from first to last
      Login(8, "fail", 1000), Login(8, "fail", 2000),    Login(8, "fail", 2900),     // three within 1.9 s
  };
  return logins;
}

void CheckLoginFailures(const LoginDetector& detect) {
  const Lines two = {"2,1000,2999,2", "4,1000,1500,2", "4,1500,2000,2", "6,1000,2000,2",
                     "7,1000,2000,2", "7,2000,3000,2", "8,1000,2000,2", "8,2000,2900,2"};
  const Lines three = {"4,1000,2000,3", "8,1000,2900,3"};
  for (int parallelism : {1, 3}) {
    for (int fails : {2, 3}) {
      Results::Clear();
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(parallelism);
      Collect(detect(EventTimeStream(env, Logins(), 5000), {fails, seconds(2)}), "warnings");
      env.execute("login failures");
      EXPECT_EQ(Results::Of("warnings"), fails == 2 ? two : three) << "parallelism " << parallelism;
    }
  }
}

TEST(LoginFailDetectTest, ProcessFunctionFindsConsecutiveFailuresInEventTime) { CheckLoginFailures(LoginFailDetect); }

TEST(LoginFailDetectTest, CepFindsTheSameWithNextAndTimes) { CheckLoginFailures(LoginFailDetectCep); }

using OrderMatcher = std::function<OrderResults(eddy::DataStream<OrderEvent>, const OrderTimeoutOptions&)>;

void CheckOrderTimeouts(const OrderMatcher& match) {
  auto order = [](int64_t id, const char* type, int64_t ms) {
    return OrderEvent{id, type, type == std::string("pay") ? "tx" + std::to_string(id) : "", ms};
  };
  const std::vector<OrderEvent> orders = {
      order(1, "create", 0),    order(2, "create", 1000), order(4, "pay", 3000),  // 4: never created
      order(5, "create", 4000),                                                   // 5: never paid
      order(3, "pay", 5000),    order(3, "create", 2000),                         // 3: paid first
      order(6, "create", 6000), order(1, "pay", 899999),                          // 1: 1 ms before the deadline
      order(2, "pay", 901000),                                                    // 2: at the deadline
      order(6, "pay", 2000000),                                                   // 6: long after
  };
  for (int parallelism : {1, 3}) {
    Results::Clear();
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(parallelism);
    OrderResults results = match(EventTimeStream(env, orders, 10000), {minutes(15)});
    Collect(results.paid, "paid");
    Collect(results.timed_out, "timed-out");
    env.execute("orders");
    EXPECT_EQ(Results::Of("paid"), (Lines{"1,0,899999", "3,2000,5000"})) << "parallelism " << parallelism;
    EXPECT_EQ(Results::Of("timed-out"), (Lines{"2,1000", "5,4000", "6,6000"})) << "parallelism " << parallelism;
  }
}

TEST(OrderTimeoutTest, ProcessFunctionMatchesPaymentsBeforeTheDeadline) { CheckOrderTimeouts(OrderTimeout); }

TEST(OrderTimeoutTest, CepMatchesTheSameAndTimesOutTheRest) { CheckOrderTimeouts(OrderTimeoutCep); }

TEST(BloomFilterTest, NeverOvercountsAndMissesNoMoreThanTheBound) {
  struct Case {
    int64_t bits;
    int hashes;
    int64_t users;
  };
  for (const Case& c : {Case{1 << 20, 3, 5000}, Case{1 << 16, 3, 5000}, Case{1 << 14, 3, 5000}, Case{4096, 2, 3000}}) {
    std::string filter(static_cast<size_t>((c.bits + 7) / 8), '\0');
    int64_t counted = 0;
    for (int64_t user = 1; user <= c.users; ++user) counted += BloomAdd(filter, c.bits, c.hashes, user * 7919) ? 1 : 0;
    for (int64_t user = 1; user <= c.users; ++user) {
      EXPECT_FALSE(BloomAdd(filter, c.bits, c.hashes, user * 7919)) << "a user seen before is never new";
    }
    // The bound of unique_visitor.cc: N (1 - e^(-k N / m))^k.
    const double n = static_cast<double>(c.users), k = c.hashes, m = static_cast<double>(c.bits);
    const double bound = n * std::pow(1 - std::exp(-k * n / m), k);
    EXPECT_LE(counted, c.users);
    EXPECT_LE(static_cast<double>(c.users - counted), bound) << c.bits << " bits, " << c.hashes << " hashes";
    if (bound < 0.01) {
      EXPECT_EQ(counted, c.users) << "a roomy filter misses nobody";
    }
    if (bound > 10) {
      EXPECT_LT(counted, c.users) << "a crowded filter misses some";
    }
  }
}

TEST(UniqueVisitorTest, ExactAndBloomCountsPerHour) {
  const int64_t hour = 3600 * 1000;
  auto view = [](int64_t user, int64_t ms, const char* behavior = "pv") {
    return UserBehavior{user, 1, 1, behavior, ms};
  };
  const std::vector<UserBehavior> views = {view(1, 10), view(2, 20),        view(3, 30),        view(2, 40),
                                           view(1, 50), view(4, 60, "buy"), view(5, hour + 10), view(5, hour + 20)};
  for (int parallelism : {1, 3}) {
    for (int64_t bits : {int64_t{1} << 20, int64_t{1}}) {
      Results::Clear();
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(parallelism);
      Collect(UniqueVisitor(EventTimeStream(env, views, 1000), {hours(1), bits, 1}), "uv");
      env.execute("unique visitors");
      // One bit: the first user of an hour sets it, every later one looks seen.
      const std::string first_hour_bloom = bits == 1 ? "1" : "3";
      const Lines expected = {std::to_string(hour) + ",exact,3", std::to_string(hour) + ",bloom," + first_hour_bloom,
                              std::to_string(2 * hour) + ",exact,1", std::to_string(2 * hour) + ",bloom,1"};
      EXPECT_EQ(Results::Of("uv"), expected) << "parallelism " << parallelism << ", " << bits << " bits";
    }
  }
}

}  // namespace
}  // namespace user_behavior
