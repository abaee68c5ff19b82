// LoginFailDetect with a KeyedProcessFunction: no window can express "the
// next login after a failure" (the notes compare it to the rising
// temperature of the timer example), so each user's logins are buffered in
// MapState by timestamp and replayed in event-time order by timers, as the
// watermark passes them; ListState holds the user's current run of failures.
#include <string>
#include <vector>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

class ConsecutiveFailures : public eddy::KeyedProcessFunction<int64_t, LoginEvent, std::string> {
 public:
  ConsecutiveFailures(int fails, int64_t within) : fails_(fails), within_(within) {}

  void processElement(const LoginEvent& login, Context& ctx, eddy::Collector<std::string>&) override {
    auto& pending = Pending();
    std::vector<LoginEvent> at = pending.get(login.timestamp).value_or(std::vector<LoginEvent>{});
    at.push_back(login);
    pending.put(login.timestamp, at);
    ctx.timerService().registerEventTimeTimer(login.timestamp);
  }

  void onTimer(int64_t time, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    auto& pending = Pending();
    const std::vector<LoginEvent> logins = pending.get(time).value_or(std::vector<LoginEvent>{});
    pending.remove(time);
    auto& run = Run();
    for (const LoginEvent& login : logins) {
      if (login.event_type != "fail") {
        run.clear();
        continue;
      }
      std::vector<int64_t> failures = run.get();
      failures.push_back(login.timestamp);
      if (static_cast<int>(failures.size()) > fails_) failures.erase(failures.begin());
      run.update(failures);
      if (static_cast<int>(failures.size()) == fails_ && failures.back() - failures.front() < within_) {
        out.collect(std::to_string(ctx.getCurrentKey()) + "," + std::to_string(failures.front()) + "," +
                    std::to_string(failures.back()) + "," + std::to_string(fails_));
      }
    }
  }

 private:
  eddy::MapState<int64_t, std::vector<LoginEvent>>& Pending() {
    return getRuntimeContext().getMapState(
        eddy::MapStateDescriptor<int64_t, std::vector<LoginEvent>>("logins-by-time"));
  }
  eddy::ListState<int64_t>& Run() {
    return getRuntimeContext().getListState(eddy::ListStateDescriptor<int64_t>("failure-run"));
  }
  int fails_;
  int64_t within_;
};

}  // namespace

eddy::DataStream<std::string> LoginFailDetect(eddy::DataStream<LoginEvent> logins, const LoginFailOptions& options) {
  if (options.fails < 1) throw std::invalid_argument("LoginFailDetect: --fails must be at least 1");
  return logins.keyBy([](const LoginEvent& e) { return e.user_id; })
      .process(ConsecutiveFailures(options.fails, options.within.count()))
      .name("consecutive failures")
      .uid("login-fail-detect");
}

}  // namespace user_behavior
