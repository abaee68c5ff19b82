// OrderTimeout with a KeyedProcessFunction: per order, the creation and
// payment times in ValueState and an event-time timer at the deadline.
// Events of an order may arrive in either order; a payment whose order is
// not created by the time the watermark passes it is dropped.
#include <string>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

class MatchPayments : public eddy::KeyedProcessFunction<int64_t, OrderEvent, std::string> {
 public:
  MatchPayments(int64_t timeout, eddy::OutputTag<std::string> tag) : timeout_(timeout), tag_(std::move(tag)) {}

  void processElement(const OrderEvent& e, Context& ctx, eddy::Collector<std::string>& out) override {
    auto& created = Created();
    auto& paid = Paid();
    if (e.event_type == "create") {
      if (std::optional<int64_t> pay = paid.value()) {  // the payment came first
        ctx.timerService().deleteEventTimeTimer(*pay);
        Decide(e.timestamp, *pay, ctx, out);
        paid.clear();
        return;
      }
      created.update(e.timestamp);
      ctx.timerService().registerEventTimeTimer(e.timestamp + timeout_);
      return;
    }
    std::optional<int64_t> create = created.value();
    if (!create) {
      paid.update(e.timestamp);
      ctx.timerService().registerEventTimeTimer(e.timestamp);  // a creation can only come before this
      return;
    }
    // A payment at or after the deadline is left to the deadline's timer.
    if (e.timestamp < *create + timeout_) {
      ctx.timerService().deleteEventTimeTimer(*create + timeout_);
      Decide(*create, e.timestamp, ctx, out);
      created.clear();
    }
  }

  void onTimer(int64_t time, OnTimerContext& ctx, eddy::Collector<std::string>&) override {
    if (std::optional<int64_t> create = Created().value(); create && time == *create + timeout_) {
      ctx.output(tag_, TimedOut(ctx.getCurrentKey(), *create));
      Created().clear();
    }
    Paid().clear();  // a payment without a creation
  }

 private:
  void Decide(int64_t create, int64_t pay, Context& ctx, eddy::Collector<std::string>& out) {
    const std::string order = std::to_string(ctx.getCurrentKey());
    if (create < pay && pay < create + timeout_) {
      out.collect(order + "," + std::to_string(create) + "," + std::to_string(pay));
    } else {
      ctx.output(tag_, TimedOut(ctx.getCurrentKey(), create));
    }
  }
  static std::string TimedOut(int64_t order, int64_t create) {
    return std::to_string(order) + "," + std::to_string(create);
  }
  eddy::ValueState<int64_t>& Created() {
    return getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("created"));
  }
  eddy::ValueState<int64_t>& Paid() {
    return getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("paid"));
  }
  int64_t timeout_;
  eddy::OutputTag<std::string> tag_;
};

}  // namespace

OrderResults OrderTimeout(eddy::DataStream<OrderEvent> orders, const OrderTimeoutOptions& options) {
  const eddy::OutputTag<std::string> timeout_tag("timed-out");
  auto paid = orders.keyBy([](const OrderEvent& e) { return e.order_id; })
                  .process(MatchPayments(options.timeout.count(), timeout_tag))
                  .name("match payments")
                  .uid("order-timeout-match");
  return {paid, paid.getSideOutput(timeout_tag)};
}

}  // namespace user_behavior
