// The Nexmark generator and queries: the generator's proportions, ids and
// time bounds checked by hand; each query run on the embedded cluster at
// parallelism 1 and 2 on both state backends over 50 000 generated events
// and compared, as a multiset, with the single-threaded reference (q4 by its
// final averages and the count of updates, q12 by each bidder's total).
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "eddy/eddy.h"
#include "gtest/gtest.h"
#include "queries.h"
#include "reference.h"

namespace nexmark {
namespace {

GeneratorConfig TestConfig() {
  GeneratorConfig config;
  config.events = 50'000;
  config.events_per_second = 1'000;  // 50 s of event time: several windows of every query
  config.max_out_of_order_ms = 1'000;
  return config;
}

TEST(GeneratorTest, ProportionsIdsAndTimesFollowNexmark) {
  const GeneratorConfig config = TestConfig();
  int64_t persons = 0, auctions = 0, bids = 0, hot_auction_bids = 0;
  for (int64_t i = 0; i < 5000; ++i) {
    const Event e = GenerateEvent(i, config);
    const int64_t nominal = config.base_time_ms + i * 1000 / config.events_per_second;
    EXPECT_LE(e.dateTime(), nominal) << i;
    EXPECT_GE(e.dateTime(), nominal - config.max_out_of_order_ms) << i;
    if (i % 50 == 0) {
      ASSERT_TRUE(e.isPerson()) << i;
      EXPECT_EQ(e.person.id, 1000 + persons);  // dense ids from 1000
      ++persons;
    } else if (i % 50 < 4) {
      ASSERT_TRUE(e.isAuction()) << i;
      EXPECT_EQ(e.auction.id, 1000 + auctions);
      EXPECT_GT(e.auction.expires, e.auction.dateTime);
      EXPECT_GE(e.auction.category, 10);
      EXPECT_LT(e.auction.category, 15);
      ++auctions;
    } else {
      ASSERT_TRUE(e.isBid()) << i;
      // Bids name auctions generated so far, or up to 10 ahead.
      EXPECT_LT(e.bid.auction, 1000 + auctions + 10);
      if ((e.bid.auction - 1000) % 100 == 0) ++hot_auction_bids;
      ++bids;
    }
  }
  EXPECT_EQ(persons, 100);
  EXPECT_EQ(auctions, 300);
  EXPECT_EQ(bids, 4600);
  // Half of the bids go to the hot auction (and a few more by chance).
  EXPECT_GT(hot_auction_bids, bids * 45 / 100);
  // A pure function of the index.
  EXPECT_EQ(eddy::ToString(GenerateEvent(1234, config)), eddy::ToString(GenerateEvent(1234, config)));
  EXPECT_NE(eddy::ToString(GenerateEvent(1234, config)), eddy::ToString(GenerateEvent(1235, config)));
}

TEST(GeneratorTest, EventsSurviveSerialization) {
  const GeneratorConfig config = TestConfig();
  for (int64_t i : {0, 1, 7}) {  // a person, an auction, a bid
    Event e = GenerateEvent(i, config);
    e.created_us = 42;
    std::string bytes;
    eddy::DataOutput out(&bytes);
    eddy::TypeSerializer<Event>::Serialize(e, out);
    Event back;
    eddy::DataInput in(bytes);
    eddy::TypeSerializer<Event>::Deserialize(in, back);
    ASSERT_TRUE(in.ok()) << in.error();
    EXPECT_EQ(back.type, e.type);
    EXPECT_EQ(eddy::ToString(back), eddy::ToString(e));
    EXPECT_EQ(back.created_us, 42);
  }
  std::string bad = "\x07";
  eddy::DataInput in(bad);
  Event back;
  eddy::TypeSerializer<Event>::Deserialize(in, back);
  EXPECT_FALSE(in.ok());
  EXPECT_NE(in.error().find("invalid Nexmark event tag 7"), std::string::npos) << in.error();
}

TEST(GeneratorTest, BadArgumentsAreNamed) {
  auto parse = [](std::vector<std::string> argv) {
    return GeneratorConfig::FromArgs(eddy::ParameterTool::fromArgs(argv));
  };
  EXPECT_EQ(parse({"--events", "7", "--rate", "500"}).events_per_second, 500);
  EXPECT_EQ(parse({"--rate", "500", "--time-rate", "20"}).events_per_second, 20);
  // (Negative values cannot be tested yet: ParameterTool::fromArgs crashes on
  // "-3".)
  try {
    parse({"--time-rate", "0"});
    FAIL() << "a zero event-time rate was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--time-rate"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse({"--events", "many"}), std::invalid_argument);
}

// Results of one job, shared by every copy of the collecting sink.
template <class R>
struct Collected {
  std::mutex mu;
  std::vector<R> results;
};

// (parallelism, state.backend.type): results must depend on neither.
class QueryTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {
 protected:
  // Runs `query` over the test events on the embedded cluster and returns what
  // it emitted.
  template <class R, class Query>
  std::vector<R> RunOnEngine(Query query, int64_t linger_ms = 0) {
    eddy::StreamExecutionEnvironment env({{"state.backend.type", std::get<1>(GetParam())}});
    env.setParallelism(std::get<0>(GetParam()));
    auto collected = std::make_shared<Collected<R>>();
    query(NexmarkEvents(env, TestConfig(), 0, "", linger_ms)).addSink([collected](const R& r) {
      std::lock_guard<std::mutex> lock(collected->mu);
      collected->results.push_back(r);
    });
    env.execute("nexmark test");
    return std::move(collected->results);
  }

  // The printed form of every result, without creation times.
  template <class R>
  static std::multiset<std::string> Canonical(const std::vector<R>& results) {
    std::multiset<std::string> out;
    for (const R& r : results) out.insert(eddy::ToString(WithoutCreation(r)));
    return out;
  }

  template <class R>
  static std::vector<R> Reference(void (*reference)(const GeneratorConfig&, const Emit<R>&)) {
    std::vector<R> out;
    reference(TestConfig(), [&out](const R& r) { out.push_back(r); });
    return out;
  }

  // Runs `query` and expects exactly the reference's results.
  template <class R, class Query>
  void ExpectSameAsReference(Query query, void (*reference)(const GeneratorConfig&, const Emit<R>&),
                             size_t min_results) {
    const std::vector<R> expected = Reference(reference);
    ASSERT_GE(expected.size(), min_results) << "the test events should exercise the query";
    const std::vector<R> got = RunOnEngine<R>(query);
    EXPECT_EQ(got.size(), expected.size());
    EXPECT_TRUE(Canonical(got) == Canonical(expected));
    for (const R& r : got) {
      EXPECT_GT(r.created_us, 0) << "results carry the creation time of their events";
      if (r.created_us <= 0) break;
    }
  }
};

TEST_P(QueryTest, Q0PassesEveryEventThrough) { ExpectSameAsReference<Event>(Q0, ReferenceQ0, 50'000); }
TEST_P(QueryTest, Q1ConvertsEveryBid) { ExpectSameAsReference<Q1Result>(Q1, ReferenceQ1, 40'000); }
TEST_P(QueryTest, Q2SelectsAuctions) { ExpectSameAsReference<Q2Result>(Q2, ReferenceQ2, 50); }
TEST_P(QueryTest, Q3JoinsLocalSellersWithTheirAuctions) { ExpectSameAsReference<Q3Result>(Q3, ReferenceQ3, 100); }
TEST_P(QueryTest, Q5FindsTheHottestAuctionOfEveryWindow) { ExpectSameAsReference<Q5Result>(Q5, ReferenceQ5, 25); }
TEST_P(QueryTest, Q7FindsTheHighestBidOfEveryWindow) { ExpectSameAsReference<Q7Result>(Q7, ReferenceQ7, 5); }
TEST_P(QueryTest, Q8FindsNewUsersWhoOpenedAuctions) { ExpectSameAsReference<Q8Result>(Q8, ReferenceQ8, 100); }
TEST_P(QueryTest, Q11CountsBidsPerSession) { ExpectSameAsReference<Q11Result>(Q11, ReferenceQ11, 1'000); }

TEST_P(QueryTest, Q4AveragesWinningPricesPerCategory) {
  std::map<int64_t, Q4Result> expected;
  for (const Q4Result& r : Reference(ReferenceQ4)) expected[r.category] = r;
  ASSERT_EQ(expected.size(), 5u);
  // Every closed auction with a winning bid updates its category once: the
  // updates of a category count 1, 2, ..., its total; the last is the final
  // average.
  std::map<int64_t, std::set<int64_t>> closed;
  std::map<int64_t, Q4Result> final_results;
  for (const Q4Result& r : RunOnEngine<Q4Result>(Q4)) {
    EXPECT_TRUE(closed[r.category].insert(r.closed).second)
        << "update " << r.closed << " of " << r.category << " twice";
    Q4Result& f = final_results[r.category];
    if (r.closed > f.closed) f = WithoutCreation(r);
  }
  ASSERT_EQ(final_results.size(), expected.size());
  for (const auto& [category, want] : expected) {
    const Q4Result& got = final_results[category];
    EXPECT_EQ(got.closed, want.closed) << "category " << category;
    EXPECT_EQ(got.average, want.average) << "category " << category;
    EXPECT_EQ(static_cast<int64_t>(closed[category].size()), want.closed) << "category " << category;
  }
}

TEST_P(QueryTest, Q12CountsEveryBidOnceWhateverTheWindows) {
  std::map<int64_t, int64_t> expected;
  for (const Q12Result& r : Reference(ReferenceQ12Totals)) expected[r.bidder] = r.bidCount;
  // Short windows, and the source stays open until the last one has fired.
  auto query = [](eddy::DataStream<Event> events) { return Q12(events, std::chrono::milliseconds(100)); };
  std::map<int64_t, int64_t> got;
  for (const Q12Result& r : RunOnEngine<Q12Result>(query, /*linger_ms=*/400)) got[r.bidder] += r.bidCount;
  EXPECT_EQ(got, expected);
}

INSTANTIATE_TEST_SUITE_P(ParallelismAndBackend, QueryTest,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Values("hashmap", "rocksdb")));

}  // namespace
}  // namespace nexmark
