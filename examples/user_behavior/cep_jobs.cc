// LoginFailDetect and OrderTimeout with CEP: the same results as the
// KeyedProcessFunction versions, from a pattern instead of hand-kept state.
// The CEP operator orders each key's events by event time itself.
#include <eddy/cep.h>

#include <string>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

using eddy::cep::CEP;
using eddy::cep::Match;
using eddy::cep::Pattern;

bool IsFail(const LoginEvent& e) { return e.event_type == "fail"; }

// Two failures as the notes write it (begin/next); more with times(n), whose
// consecutive() makes a success in between break the run just as next() does.
Pattern<LoginEvent> FailurePattern(const LoginFailOptions& options) {
  if (options.fails == 2) {
    return Pattern<LoginEvent>::begin("first").where(IsFail).next("last").where(IsFail).within(options.within);
  }
  return Pattern<LoginEvent>::begin("fails").where(IsFail).times(options.fails).consecutive().within(options.within);
}

}  // namespace

eddy::DataStream<std::string> LoginFailDetectCep(eddy::DataStream<LoginEvent> logins, const LoginFailOptions& options) {
  if (options.fails < 2) throw std::invalid_argument("LoginFailDetectCep: --fails must be at least 2");
  const int fails = options.fails;
  return CEP::pattern(logins.keyBy([](const LoginEvent& e) { return e.user_id; }), FailurePattern(options))
      .select([fails](const Match<LoginEvent>& m) {
        const LoginEvent& first = fails == 2 ? m.at("first").front() : m.at("fails").front();
        const LoginEvent& last = fails == 2 ? m.at("last").back() : m.at("fails").back();
        return std::to_string(first.user_id) + "," + std::to_string(first.timestamp) + "," +
               std::to_string(last.timestamp) + "," + std::to_string(fails);
      })
      .name("consecutive failures (CEP)")
      .uid("login-fail-detect-cep");
}

OrderResults OrderTimeoutCep(eddy::DataStream<OrderEvent> orders, const OrderTimeoutOptions& options) {
  const eddy::OutputTag<std::string> timeout_tag("timed-out");
  auto pattern = Pattern<OrderEvent>::begin("create")
                     .where([](const OrderEvent& e) { return e.event_type == "create"; })
                     .followedBy("pay")
                     .where([](const OrderEvent& e) { return e.event_type == "pay"; })
                     .within(options.timeout);
  auto paid = CEP::pattern(orders.keyBy([](const OrderEvent& e) { return e.order_id; }), pattern)
                  .select(
                      timeout_tag,
                      [](const Match<OrderEvent>& partial, int64_t) {
                        const OrderEvent& create = partial.at("create").front();
                        return std::to_string(create.order_id) + "," + std::to_string(create.timestamp);
                      },
                      [](const Match<OrderEvent>& m) {
                        const OrderEvent& create = m.at("create").front();
                        return std::to_string(create.order_id) + "," + std::to_string(create.timestamp) + "," +
                               std::to_string(m.at("pay").front().timestamp);
                      })
                  .name("match payments (CEP)")
                  .uid("order-timeout-cep");
  return {paid, paid.getSideOutput(timeout_tag)};
}

}  // namespace user_behavior
