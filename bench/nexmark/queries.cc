#include "queries.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace nexmark {
namespace {

using std::chrono::milliseconds;

int64_t Newest(int64_t a, int64_t b) { return std::max(a, b); }

// ---- Shared window aggregate: a count and the newest creation time. ----

struct CountAcc {
  int64_t count = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(CountAcc, count, created_us);

class CountEvents : public eddy::AggregateFunction<Event, CountAcc, CountAcc> {
 public:
  CountAcc createAccumulator() override { return {}; }
  CountAcc add(const Event& e, CountAcc acc) override {
    ++acc.count;
    acc.created_us = Newest(acc.created_us, e.created_us);
    return acc;
  }
  CountAcc getResult(const CountAcc& acc) override { return acc; }
  CountAcc merge(CountAcc a, CountAcc b) override { return {a.count + b.count, Newest(a.created_us, b.created_us)}; }
};

bool IsBid(const Event& e) { return e.isBid(); }
int64_t BidAuction(const Event& e) { return e.bid.auction; }
int64_t BidBidder(const Event& e) { return e.bid.bidder; }

// ---- q3 ----

struct PendingAuction {
  int64_t id = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(PendingAuction, id, created_us);

// Keyed by person id = seller: remembers the person (their result fields)
// and the auctions that came before them.
class LocalItemSuggestion : public eddy::KeyedCoProcessFunction<int64_t, Event, Event, Q3Result> {
 public:
  void open(eddy::RuntimeContext& ctx) override {
    seller_ = &ctx.getState(eddy::ValueStateDescriptor<Q3Result>("q3-seller"));
    pending_ = &ctx.getListState(eddy::ListStateDescriptor<PendingAuction>("q3-pending-auctions"));
  }
  void processElement1(const Event& e, Context&, eddy::Collector<Q3Result>& out) override {
    Q3Result seller{e.person.name, e.person.city, e.person.state, 0, e.created_us};
    for (const PendingAuction& a : pending_->get()) Emit(seller, a, out);
    pending_->clear();
    seller_->update(seller);
  }
  void processElement2(const Event& e, Context&, eddy::Collector<Q3Result>& out) override {
    PendingAuction auction{e.auction.id, e.created_us};
    if (const Q3Result* seller = seller_->mutableValue()) {
      Emit(*seller, auction, out);
    } else {
      pending_->add(auction);
    }
  }

 private:
  static void Emit(const Q3Result& seller, const PendingAuction& auction, eddy::Collector<Q3Result>& out) {
    Q3Result r = seller;
    r.auctionId = auction.id;
    r.created_us = Newest(seller.created_us, auction.created_us);
    out.collect(r);
  }
  eddy::ValueState<Q3Result>* seller_ = nullptr;
  eddy::ListState<PendingAuction>* pending_ = nullptr;
};

// ---- q4 ----

struct OpenAuction {
  int64_t id = 0;
  int64_t category = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(OpenAuction, id, category, dateTime, expires, created_us);

struct BidPrice {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t dateTime = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(BidPrice, auction, price, dateTime, created_us);

// Keyed by auction id: the highest bid between the auction's dateTime and
// expires, emitted when the watermark passes expires. A bid may come before
// its auction; it waits until the watermark passes its own time, after which
// an auction it could belong to (one with dateTime <= the bid's) would have
// been late.
class WinningBids : public eddy::KeyedCoProcessFunction<int64_t, OpenAuction, BidPrice, WinningBid> {
 public:
  void open(eddy::RuntimeContext& ctx) override {
    auction_ = &ctx.getState(eddy::ValueStateDescriptor<OpenAuction>("q4-auction"));
    best_ = &ctx.getState(eddy::ValueStateDescriptor<BidPrice>("q4-best-bid"));
    early_ = &ctx.getListState(eddy::ListStateDescriptor<BidPrice>("q4-early-bids"));
  }
  void processElement1(const OpenAuction& a, Context& ctx, eddy::Collector<WinningBid>&) override {
    auction_->update(a);
    ctx.timerService().registerEventTimeTimer(a.expires);
    std::vector<BidPrice> early = early_->get();
    if (early.empty()) return;
    early_->clear();
    for (const BidPrice& b : early) Consider(a, b);
  }
  void processElement2(const BidPrice& b, Context& ctx, eddy::Collector<WinningBid>&) override {
    if (std::optional<OpenAuction> a = auction_->value()) {
      Consider(*a, b);
    } else {
      early_->add(b);
      ctx.timerService().registerEventTimeTimer(b.dateTime);
    }
  }
  void onTimer(int64_t time, OnTimerContext&, eddy::Collector<WinningBid>& out) override {
    std::optional<OpenAuction> a = auction_->value();
    if (!a) {
      // An early bid's time passed without its auction. Bids up to `time` can
      // no longer match (their auction would be late); later ones still can.
      std::vector<BidPrice> early = early_->get();
      std::erase_if(early, [time](const BidPrice& b) { return b.dateTime <= time; });
      early_->update(early);
      return;
    }
    if (time != a->expires) return;
    if (std::optional<BidPrice> best = best_->value()) {
      out.collect(WinningBid{a->id, a->category, best->price, Newest(a->created_us, best->created_us)});
    }
    auction_->clear();
    best_->clear();
  }

 private:
  void Consider(const OpenAuction& a, const BidPrice& b) {
    if (b.dateTime < a.dateTime || b.dateTime > a.expires) return;
    BidPrice* best = best_->mutableValue();
    if (best == nullptr) {
      best_->update(b);
    } else if (b.price > best->price) {
      *best = b;
    }
  }
  eddy::ValueState<OpenAuction>* auction_ = nullptr;
  eddy::ValueState<BidPrice>* best_ = nullptr;
  eddy::ListState<BidPrice>* early_ = nullptr;
};

struct PriceSum {
  int64_t sum = 0;
  int64_t count = 0;
};
EDDY_FIELDS(PriceSum, sum, count);

// Keyed by category: the running average of winning prices.
class AveragePerCategory : public eddy::KeyedProcessFunction<int64_t, WinningBid, Q4Result> {
 public:
  void open(eddy::RuntimeContext& ctx) override {
    sum_ = &ctx.getState(eddy::ValueStateDescriptor<PriceSum>("q4-price-sum"));
  }
  void processElement(const WinningBid& w, Context&, eddy::Collector<Q4Result>& out) override {
    PriceSum s = sum_->value().value_or(PriceSum{});
    s.sum += w.price;
    ++s.count;
    sum_->update(s);
    out.collect(Q4Result{w.category, s.count, static_cast<double>(s.sum) / static_cast<double>(s.count), w.created_us});
  }

 private:
  eddy::ValueState<PriceSum>* sum_ = nullptr;
};

// ---- q5 ----

class AuctionCountOfWindow : public eddy::ProcessWindowFunction<CountAcc, Q5Result, int64_t, eddy::TimeWindow> {
 public:
  void process(const int64_t& auction, Context& ctx, const std::vector<CountAcc>& counts,
               eddy::Collector<Q5Result>& out) override {
    const eddy::TimeWindow& w = ctx.window();
    out.collect(Q5Result{auction, counts.front().count, w.start, w.end, counts.front().created_us});
  }
};

// Keyed by window end: keeps the auctions with the highest count of the
// window and emits them once the watermark passes the window, when every
// auction's count has arrived. A result depends on every count of its window,
// so it carries the newest creation time of them all.
class HottestOfWindow : public eddy::KeyedProcessFunction<int64_t, Q5Result, Q5Result> {
 public:
  void open(eddy::RuntimeContext& ctx) override {
    best_ = &ctx.getListState(eddy::ListStateDescriptor<Q5Result>("q5-hottest"));
    newest_ = &ctx.getState(eddy::ValueStateDescriptor<int64_t>("q5-newest-event"));
  }
  void processElement(const Q5Result& r, Context& ctx, eddy::Collector<Q5Result>&) override {
    std::vector<Q5Result> best = best_->get();
    if (best.empty()) ctx.timerService().registerEventTimeTimer(r.windowEnd - 1);
    if (best.empty() || r.num > best.front().num) {
      best_->update({r});
    } else if (r.num == best.front().num) {
      best_->add(r);
    }
    newest_->update(Newest(newest_->value().value_or(0), r.created_us));
  }
  void onTimer(int64_t, OnTimerContext&, eddy::Collector<Q5Result>& out) override {
    const int64_t newest = newest_->value().value_or(0);
    for (Q5Result r : best_->get()) {
      r.created_us = newest;
      out.collect(r);
    }
    best_->clear();
    newest_->clear();
  }

 private:
  eddy::ListState<Q5Result>* best_ = nullptr;
  eddy::ValueState<int64_t>* newest_ = nullptr;
};

// ---- q7 ----

struct HighestBids {
  int64_t price = -1;
  std::vector<Q7Result> bids;  // every bid with that price
  int64_t created_us = 0;
};
EDDY_FIELDS(HighestBids, price, bids, created_us);

class KeepHighestBids : public eddy::AggregateFunction<Event, HighestBids, HighestBids> {
 public:
  HighestBids createAccumulator() override { return {}; }
  HighestBids add(const Event& e, HighestBids acc) override {
    const Bid& b = e.bid;
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids.clear();
    }
    if (b.price == acc.price) acc.bids.push_back(Q7Result{b.auction, b.price, b.bidder, b.dateTime, b.extra, 0});
    acc.created_us = Newest(acc.created_us, e.created_us);
    return acc;
  }
  HighestBids getResult(const HighestBids& acc) override { return acc; }
  HighestBids merge(HighestBids a, HighestBids b) override {
    if (b.price > a.price) std::swap(a, b);
    if (b.price == a.price) a.bids.insert(a.bids.end(), b.bids.begin(), b.bids.end());
    a.created_us = Newest(a.created_us, b.created_us);
    return a;
  }
};

class EmitHighestBids : public eddy::ProcessAllWindowFunction<HighestBids, Q7Result, eddy::TimeWindow> {
 public:
  void process(Context&, const std::vector<HighestBids>& results, eddy::Collector<Q7Result>& out) override {
    for (const HighestBids& h : results) {
      for (Q7Result r : h.bids) {
        r.created_us = h.created_us;
        out.collect(r);
      }
    }
  }
};

// ---- q8 ----

struct NewPerson {
  int64_t id = 0;
  std::string name;
  int64_t dateTime = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(NewPerson, id, name, dateTime, created_us);

struct NewAuction {
  int64_t seller = 0;
  int64_t created_us = 0;
};
EDDY_FIELDS(NewAuction, seller, created_us);

class NewUsers : public eddy::CoGroupFunction<NewPerson, NewAuction, Q8Result> {
 public:
  void coGroup(const std::vector<NewPerson>& persons, const std::vector<NewAuction>& auctions,
               eddy::Collector<Q8Result>& out) override {
    if (persons.empty() || auctions.empty()) return;
    int64_t created = 0;
    for (const NewAuction& a : auctions) created = Newest(created, a.created_us);
    for (const NewPerson& p : persons) {
      const int64_t start = eddy::TimeWindow::getWindowStartWithOffset(p.dateTime, 0, kQ8WindowMs);
      out.collect(Q8Result{p.id, p.name, start, Newest(created, p.created_us)});
    }
  }
};

// ---- q11, q12 ----

class SessionOfBidder : public eddy::ProcessWindowFunction<CountAcc, Q11Result, int64_t, eddy::TimeWindow> {
 public:
  void process(const int64_t& bidder, Context& ctx, const std::vector<CountAcc>& counts,
               eddy::Collector<Q11Result>& out) override {
    out.collect(
        Q11Result{bidder, counts.front().count, ctx.window().start, ctx.window().end, counts.front().created_us});
  }
};

class BidsOfBidder : public eddy::ProcessWindowFunction<CountAcc, Q12Result, int64_t, eddy::TimeWindow> {
 public:
  void process(const int64_t& bidder, Context&, const std::vector<CountAcc>& counts,
               eddy::Collector<Q12Result>& out) override {
    out.collect(Q12Result{bidder, counts.front().count, counts.front().created_us});
  }
};

}  // namespace

eddy::DataStream<Event> NexmarkEvents(eddy::StreamExecutionEnvironment& env, const GeneratorConfig& config, double rate,
                                      const std::string& stats_dir, int64_t linger_ms) {
  return env.addSource(NexmarkSource(config, rate, stats_dir, linger_ms), "Nexmark")
      .uid("nexmark-source")
      .assignTimestampsAndWatermarks(
          eddy::WatermarkStrategy<Event>::forBoundedOutOfOrderness(milliseconds(config.max_out_of_order_ms))
              .withTimestampAssigner([](const Event& e, int64_t) { return e.dateTime(); }))
      .uid("nexmark-timestamps");
}

eddy::DataStream<Event> Q0(eddy::DataStream<Event> events) { return events; }

eddy::DataStream<Q1Result> Q1(eddy::DataStream<Event> events) {
  return events.filter(IsBid)
      .name("q1-bids")
      .uid("q1-bids")
      .map([](const Event& e) {
        const Bid& b = e.bid;
        return Q1Result{b.auction,  b.bidder, kDollarToEuro * static_cast<double>(b.price),
                        b.dateTime, b.extra,  e.created_us};
      })
      .name("q1-to-euro")
      .uid("q1-to-euro");
}

eddy::DataStream<Q2Result> Q2(eddy::DataStream<Event> events) {
  return events.filter([](const Event& e) { return e.isBid() && e.bid.auction % kQ2AuctionModulus == 0; })
      .name("q2-selection")
      .uid("q2-selection")
      .map([](const Event& e) {
        return Q2Result{e.bid.auction, e.bid.price, e.created_us};
      })
      .name("q2-project")
      .uid("q2-project");
}

eddy::DataStream<Q3Result> Q3(eddy::DataStream<Event> events) {
  auto persons = events.filter([](const Event& e) { return e.isPerson() && IsQ3State(e.person.state); })
                     .name("q3-persons")
                     .uid("q3-persons");
  auto auctions = events.filter([](const Event& e) { return e.isAuction() && e.auction.category == kQ3Category; })
                      .name("q3-auctions")
                      .uid("q3-auctions");
  return persons.keyBy([](const Event& e) { return e.person.id; })
      .connect(auctions.keyBy([](const Event& e) { return e.auction.seller; }))
      .process(LocalItemSuggestion())
      .name("q3-join")
      .uid("q3-join");
}

eddy::DataStream<Q4Result> Q4(eddy::DataStream<Event> events) {
  auto auctions = events.filter([](const Event& e) { return e.isAuction(); })
                      .name("q4-auctions")
                      .uid("q4-auctions")
                      .map([](const Event& e) {
                        const Auction& a = e.auction;
                        return OpenAuction{a.id, a.category, a.dateTime, a.expires, e.created_us};
                      })
                      .name("q4-auction-fields")
                      .uid("q4-auction-fields");
  auto bids = events.filter(IsBid)
                  .name("q4-bids")
                  .uid("q4-bids")
                  .map([](const Event& e) {
                    return BidPrice{e.bid.auction, e.bid.price, e.bid.dateTime, e.created_us};
                  })
                  .name("q4-bid-fields")
                  .uid("q4-bid-fields");
  return auctions.keyBy([](const OpenAuction& a) { return a.id; })
      .connect(bids.keyBy([](const BidPrice& b) { return b.auction; }))
      .process(WinningBids())
      .name("q4-winning-bids")
      .uid("q4-winning-bids")
      .keyBy([](const WinningBid& w) { return w.category; })
      .process(AveragePerCategory())
      .name("q4-average")
      .uid("q4-average");
}

eddy::DataStream<Q5Result> Q5(eddy::DataStream<Event> events) {
  return events.filter(IsBid)
      .name("q5-bids")
      .uid("q5-bids")
      .keyBy(BidAuction)
      .window(eddy::SlidingEventTimeWindows::of(milliseconds(kQ5WindowMs), milliseconds(kQ5SlideMs)))
      .aggregate(CountEvents(), AuctionCountOfWindow())
      .name("q5-bids-per-auction")
      .uid("q5-bids-per-auction")
      .keyBy([](const Q5Result& r) { return r.windowEnd; })
      .process(HottestOfWindow())
      .name("q5-hottest")
      .uid("q5-hottest");
}

eddy::DataStream<Q7Result> Q7(eddy::DataStream<Event> events) {
  return events.filter(IsBid)
      .name("q7-bids")
      .uid("q7-bids")
      .windowAll(eddy::TumblingEventTimeWindows::of(milliseconds(kQ7WindowMs)))
      .aggregate(KeepHighestBids(), EmitHighestBids())
      .name("q7-highest-bids")
      .uid("q7-highest-bids");
}

eddy::DataStream<Q8Result> Q8(eddy::DataStream<Event> events) {
  auto persons = events.filter([](const Event& e) { return e.isPerson(); })
                     .name("q8-persons")
                     .uid("q8-persons")
                     .map([](const Event& e) {
                       return NewPerson{e.person.id, e.person.name, e.person.dateTime, e.created_us};
                     })
                     .name("q8-person-fields")
                     .uid("q8-person-fields");
  auto auctions = events.filter([](const Event& e) { return e.isAuction(); })
                      .name("q8-auctions")
                      .uid("q8-auctions")
                      .map([](const Event& e) {
                        return NewAuction{e.auction.seller, e.created_us};
                      })
                      .name("q8-auction-fields")
                      .uid("q8-auction-fields");
  return persons.coGroup(auctions)
      .where([](const NewPerson& p) { return p.id; })
      .equalTo([](const NewAuction& a) { return a.seller; })
      .window(eddy::TumblingEventTimeWindows::of(milliseconds(kQ8WindowMs)))
      .apply(NewUsers())
      .name("q8-new-users")
      .uid("q8-new-users");
}

eddy::DataStream<Q11Result> Q11(eddy::DataStream<Event> events) {
  return events.filter(IsBid)
      .name("q11-bids")
      .uid("q11-bids")
      .keyBy(BidBidder)
      .window(eddy::EventTimeSessionWindows::withGap(milliseconds(kQ11GapMs)))
      .aggregate(CountEvents(), SessionOfBidder())
      .name("q11-sessions")
      .uid("q11-sessions");
}

eddy::DataStream<Q12Result> Q12(eddy::DataStream<Event> events, milliseconds window) {
  return events.filter(IsBid)
      .name("q12-bids")
      .uid("q12-bids")
      .keyBy(BidBidder)
      .window(eddy::TumblingProcessingTimeWindows::of(window))
      .aggregate(CountEvents(), BidsOfBidder())
      .name("q12-bids-per-window")
      .uid("q12-bids-per-window");
}

}  // namespace nexmark
