// The user-behaviour analysis programs of libeddy-user-behavior.so:
//
//   eddy run -c <Program> libeddy-user-behavior.so [--input PATH] [--output DIR] [options]
//
// Without --input a program generates its data (--events N, --seed S; the
// same records user-behavior-gen writes). With --output DIR each result
// stream goes to DIR/<stream>/part-*, otherwise to stdout as "<stream>: line".
// Every program takes --out-of-orderness-ms (default: its data set's bound).
//
//   HotItems            UserBehavior.csv  hot-items            [--top 3 --window-minutes 60 --slide-minutes 5]
//   HotPages            apache.log        hot-pages, late-pages [--top 3 --window-seconds 600 --slide-seconds 5
//                                                               --allowed-lateness-seconds 60]
//   PageView            UserBehavior.csv  page-view            [--window-minutes 60]
//   UniqueVisitor       UserBehavior.csv  unique-visitor       [--window-minutes 60 --bloom-bits 1048576
//                                                               --bloom-hashes 3]
//   AppMarketing        AppMarketing.csv  app-marketing        [--window-seconds 3600 --slide-seconds 5]
//   AdClickStatistics   AdClickLog.csv    ad-clicks, blacklist [--max-clicks 100 --window-seconds 3600
//                                                               --slide-seconds 5]
//   LoginFailDetect     LoginLog.csv      login-fail           [--fails 2 --within-seconds 2]
//   LoginFailDetectCep  the same with CEP (--fails 3: times(3))
//   OrderTimeout        OrderLog.csv      orders-paid, orders-timed-out [--timeout-minutes 15]
//   OrderTimeoutCep     the same with CEP
#include <eddy/eddy.h>

#include <chrono>
#include <string>

#include "job_support.h"
#include "jobs.h"

namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A positive duration option, in the unit of `Unit`.
template <class Unit>
milliseconds Duration(const eddy::ParameterTool& args, const std::string& name, int64_t default_value) {
  const int64_t value = args.getLong(name, default_value);
  if (value <= 0) throw std::invalid_argument("--" + name + " must be positive, got " + std::to_string(value));
  return std::chrono::duration_cast<milliseconds>(Unit(value));
}

int Top(const eddy::ParameterTool& args) {
  const int top = args.getInt("top", 3);
  if (top <= 0) throw std::invalid_argument("--top must be positive, got " + std::to_string(top));
  return top;
}

}  // namespace

using namespace user_behavior;

EDDY_PROGRAM(HotItems, env, args) {
  auto behaviors = ReadEvents(env, args, UserBehaviorData());
  HotItemsOptions options{Top(args), Duration<minutes>(args, "window-minutes", 60),
                          Duration<minutes>(args, "slide-minutes", 5)};
  WriteResults(HotItems(behaviors, options), args, "hot-items");
  env.execute("Hot items");
}

EDDY_PROGRAM(HotPages, env, args) {
  auto logs = ReadEvents(env, args, ApacheLogData());
  HotPagesOptions options{Top(args), Duration<seconds>(args, "window-seconds", 600),
                          Duration<seconds>(args, "slide-seconds", 5),
                          seconds(args.getLong("allowed-lateness-seconds", 60))};
  if (options.allowed_lateness.count() < 0) throw std::invalid_argument("--allowed-lateness-seconds is negative");
  HotPagesResults results = HotPages(logs, options);
  WriteResults(results.rankings, args, "hot-pages");
  WriteResults(results.late, args, "late-pages");
  env.execute("Hot pages");
}

EDDY_PROGRAM(PageView, env, args) {
  auto behaviors = ReadEvents(env, args, UserBehaviorData());
  WriteResults(PageView(behaviors, Duration<minutes>(args, "window-minutes", 60)), args, "page-view");
  env.execute("Page views");
}

EDDY_PROGRAM(UniqueVisitor, env, args) {
  auto behaviors = ReadEvents(env, args, UserBehaviorData());
  UniqueVisitorOptions options{Duration<minutes>(args, "window-minutes", 60), args.getLong("bloom-bits", 1 << 20),
                               args.getInt("bloom-hashes", 3)};
  WriteResults(UniqueVisitor(behaviors, options), args, "unique-visitor");
  env.execute("Unique visitors");
}

EDDY_PROGRAM(AppMarketing, env, args) {
  auto events = ReadEvents(env, args, MarketingData());
  SlidingOptions options{Duration<seconds>(args, "window-seconds", 3600), Duration<seconds>(args, "slide-seconds", 5)};
  WriteResults(AppMarketing(events, options), args, "app-marketing");
  env.execute("App marketing by channel");
}

EDDY_PROGRAM(AdClickStatistics, env, args) {
  auto clicks = ReadEvents(env, args, AdClickData());
  AdClickOptions options{
      args.getLong("max-clicks", 100),
      {Duration<seconds>(args, "window-seconds", 3600), Duration<seconds>(args, "slide-seconds", 5)}};
  AdClickResults results = AdClickStatistics(clicks, options);
  WriteResults(results.by_province, args, "ad-clicks");
  WriteResults(results.blacklist, args, "blacklist");
  env.execute("Ad clicks by province");
}

namespace {
LoginFailOptions LoginFailArgs(const eddy::ParameterTool& args) {
  return {args.getInt("fails", 2), Duration<seconds>(args, "within-seconds", 2)};
}
}  // namespace

EDDY_PROGRAM(LoginFailDetect, env, args) {
  WriteResults(LoginFailDetect(ReadEvents(env, args, LoginData()), LoginFailArgs(args)), args, "login-fail");
  env.execute("Login failure detection");
}

EDDY_PROGRAM(LoginFailDetectCep, env, args) {
  WriteResults(LoginFailDetectCep(ReadEvents(env, args, LoginData()), LoginFailArgs(args)), args, "login-fail");
  env.execute("Login failure detection (CEP)");
}

namespace {
void WriteOrderResults(const OrderResults& results, const eddy::ParameterTool& args) {
  WriteResults(results.paid, args, "orders-paid");
  WriteResults(results.timed_out, args, "orders-timed-out");
}

OrderTimeoutOptions OrderArgs(const eddy::ParameterTool& args) {
  return {Duration<minutes>(args, "timeout-minutes", 15)};
}
}  // namespace

EDDY_PROGRAM(OrderTimeout, env, args) {
  WriteOrderResults(OrderTimeout(ReadEvents(env, args, OrderData()), OrderArgs(args)), args);
  env.execute("Order payment timeout");
}

EDDY_PROGRAM(OrderTimeoutCep, env, args) {
  WriteOrderResults(OrderTimeoutCep(ReadEvents(env, args, OrderData()), OrderArgs(args)), args);
  env.execute("Order payment timeout (CEP)");
}
