// The Nexmark queries on the DataStream API, each a function from the event
// stream to its result stream, shared by the job library's programs and the
// correctness tests. Event time comes from each event's dateTime, with a
// bounded-out-of-orderness watermark of the generator's bound.
//
//   q0  pass-through: every event
//   q1  currency conversion: every bid, price in euros (0.908 per dollar)
//   q2  selection: bids on auctions whose id is a multiple of 123
//   q3  local item suggestion: sellers in OR, ID or CA with their
//       category-10 auctions (an unbounded join on seller = person id)
//   q4  average winning price per category of the auctions that closed
//       (bids between an auction's dateTime and expires, inclusive)
//   q5  hot items: per sliding window (10 s, every 2 s) the auctions with
//       the most bids
//   q7  highest bid: per tumbling 10 s window the bids with the highest price
//   q8  new users: people who registered and opened an auction in the same
//       tumbling 10 s window (a window coGroup)
//   q11 user sessions: bids per bidder session (gap 10 s)
//   q12 processing-time windows: bids per bidder per processing-time window
#pragma once

#include <eddy/eddy.h>

#include <chrono>
#include <string>

#include "generator.h"
#include "model.h"

namespace nexmark {

// The generator as a source, with timestamps and watermarks. `rate` is in
// events per second over all subtasks (0: unthrottled); see NexmarkSource
// for `stats_dir` and `linger_ms`.
eddy::DataStream<Event> NexmarkEvents(eddy::StreamExecutionEnvironment& env, const GeneratorConfig& config, double rate,
                                      const std::string& stats_dir = "", int64_t linger_ms = 0);

eddy::DataStream<Event> Q0(eddy::DataStream<Event> events);
eddy::DataStream<Q1Result> Q1(eddy::DataStream<Event> events);
eddy::DataStream<Q2Result> Q2(eddy::DataStream<Event> events);
eddy::DataStream<Q3Result> Q3(eddy::DataStream<Event> events);
eddy::DataStream<Q4Result> Q4(eddy::DataStream<Event> events);
eddy::DataStream<Q5Result> Q5(eddy::DataStream<Event> events);
eddy::DataStream<Q7Result> Q7(eddy::DataStream<Event> events);
eddy::DataStream<Q8Result> Q8(eddy::DataStream<Event> events);
eddy::DataStream<Q11Result> Q11(eddy::DataStream<Event> events);
eddy::DataStream<Q12Result> Q12(eddy::DataStream<Event> events,
                                std::chrono::milliseconds window = std::chrono::seconds(10));

// Query parameters, shared with the reference implementation.
inline constexpr int64_t kQ2AuctionModulus = 123;
inline constexpr double kDollarToEuro = 0.908;
inline constexpr int64_t kQ3Category = 10;
inline constexpr int64_t kQ5WindowMs = 10'000;
inline constexpr int64_t kQ5SlideMs = 2'000;
inline constexpr int64_t kQ7WindowMs = 10'000;
inline constexpr int64_t kQ8WindowMs = 10'000;
inline constexpr int64_t kQ11GapMs = 10'000;

// q3's states.
inline bool IsQ3State(const std::string& state) { return state == "OR" || state == "ID" || state == "CA"; }

}  // namespace nexmark
