#include "reference.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "queries.h"

namespace nexmark {
namespace {

// Calls `visit` with every event of the run, in sequence.
template <class F>
void ForEachEvent(const GeneratorConfig& config, F&& visit) {
  for (int64_t i = 0; i < config.events; ++i) visit(GenerateEvent(i, config));
}

int64_t WindowStart(int64_t time, int64_t size) { return eddy::TimeWindow::getWindowStartWithOffset(time, 0, size); }

// Hash of a pair of int64 (window start, id).
struct PairHash {
  size_t operator()(const std::pair<int64_t, int64_t>& p) const {
    return std::hash<int64_t>()(p.first * 0x9E3779B97F4A7C15ll ^ p.second);
  }
};

}  // namespace

void ReferenceQ0(const GeneratorConfig& config, const Emit<Event>& emit) { ForEachEvent(config, emit); }

void ReferenceQ1(const GeneratorConfig& config, const Emit<Q1Result>& emit) {
  ForEachEvent(config, [&](const Event& e) {
    if (!e.isBid()) return;
    emit(Q1Result{e.bid.auction, e.bid.bidder, kDollarToEuro * static_cast<double>(e.bid.price), e.bid.dateTime,
                  e.bid.extra, 0});
  });
}

void ReferenceQ2(const GeneratorConfig& config, const Emit<Q2Result>& emit) {
  ForEachEvent(config, [&](const Event& e) {
    if (e.isBid() && e.bid.auction % kQ2AuctionModulus == 0) emit(Q2Result{e.bid.auction, e.bid.price, 0});
  });
}

void ReferenceQ3(const GeneratorConfig& config, const Emit<Q3Result>& emit) {
  std::unordered_map<int64_t, Q3Result> sellers;      // person id → name, city, state
  std::vector<std::pair<int64_t, int64_t>> auctions;  // (auction id, seller)
  ForEachEvent(config, [&](const Event& e) {
    if (e.isPerson() && IsQ3State(e.person.state)) {
      sellers[e.person.id] = Q3Result{e.person.name, e.person.city, e.person.state, 0, 0};
    } else if (e.isAuction() && e.auction.category == kQ3Category) {
      auctions.emplace_back(e.auction.id, e.auction.seller);
    }
  });
  for (const auto& [id, seller] : auctions) {
    auto it = sellers.find(seller);
    if (it == sellers.end()) continue;
    Q3Result r = it->second;
    r.auctionId = id;
    emit(r);
  }
}

void ReferenceQ4(const GeneratorConfig& config, const Emit<Q4Result>& emit) {
  struct Open {
    int64_t category, start, expires;
    int64_t best = -1;  // highest price of a bid in [start, expires]; -1: none
  };
  std::unordered_map<int64_t, Open> auctions;
  std::unordered_map<int64_t, std::vector<std::pair<int64_t, int64_t>>> early;  // auction → (price, time)
  auto consider = [](Open& a, int64_t price, int64_t time) {
    if (time >= a.start && time <= a.expires) a.best = std::max(a.best, price);
  };
  ForEachEvent(config, [&](const Event& e) {
    if (e.isAuction()) {
      Open& a = auctions[e.auction.id] = Open{e.auction.category, e.auction.dateTime, e.auction.expires};
      auto it = early.find(e.auction.id);
      if (it == early.end()) return;
      for (const auto& [price, time] : it->second) consider(a, price, time);
      early.erase(it);
    } else if (e.isBid()) {
      auto it = auctions.find(e.bid.auction);
      if (it != auctions.end()) {
        consider(it->second, e.bid.price, e.bid.dateTime);
      } else {
        early[e.bid.auction].emplace_back(e.bid.price, e.bid.dateTime);
      }
    }
  });
  std::map<int64_t, std::pair<int64_t, int64_t>> per_category;  // category → (sum, count)
  for (const auto& [id, a] : auctions) {
    if (a.best < 0) continue;
    auto& [sum, count] = per_category[a.category];
    sum += a.best;
    ++count;
  }
  for (const auto& [category, sc] : per_category) {
    emit(Q4Result{category, sc.second, static_cast<double>(sc.first) / static_cast<double>(sc.second), 0});
  }
}

void ReferenceQ5(const GeneratorConfig& config, const Emit<Q5Result>& emit) {
  std::unordered_map<std::pair<int64_t, int64_t>, int64_t, PairHash> counts;  // (window start, auction) → bids
  ForEachEvent(config, [&](const Event& e) {
    if (!e.isBid()) return;
    const int64_t t = e.bid.dateTime;
    for (int64_t start = WindowStart(t, kQ5SlideMs); start > t - kQ5WindowMs; start -= kQ5SlideMs) {
      ++counts[{start, e.bid.auction}];
    }
  });
  std::unordered_map<int64_t, int64_t> most;  // window start → highest count
  for (const auto& [key, n] : counts) {
    int64_t& m = most[key.first];
    m = std::max(m, n);
  }
  for (const auto& [key, n] : counts) {
    if (n == most[key.first]) emit(Q5Result{key.second, n, key.first, key.first + kQ5WindowMs, 0});
  }
}

void ReferenceQ7(const GeneratorConfig& config, const Emit<Q7Result>& emit) {
  std::unordered_map<int64_t, std::vector<Q7Result>> highest;  // window start → bids with the top price
  ForEachEvent(config, [&](const Event& e) {
    if (!e.isBid()) return;
    const Bid& b = e.bid;
    std::vector<Q7Result>& top = highest[WindowStart(b.dateTime, kQ7WindowMs)];
    if (!top.empty() && b.price < top.front().price) return;
    if (!top.empty() && b.price > top.front().price) top.clear();
    top.push_back(Q7Result{b.auction, b.price, b.bidder, b.dateTime, b.extra, 0});
  });
  for (const auto& [start, top] : highest) {
    for (const Q7Result& r : top) emit(r);
  }
}

void ReferenceQ8(const GeneratorConfig& config, const Emit<Q8Result>& emit) {
  std::vector<Q8Result> persons;                                      // with their window start
  std::unordered_set<std::pair<int64_t, int64_t>, PairHash> sellers;  // (window start, seller)
  ForEachEvent(config, [&](const Event& e) {
    if (e.isPerson()) {
      persons.push_back(Q8Result{e.person.id, e.person.name, WindowStart(e.person.dateTime, kQ8WindowMs), 0});
    } else if (e.isAuction()) {
      sellers.insert({WindowStart(e.auction.dateTime, kQ8WindowMs), e.auction.seller});
    }
  });
  for (const Q8Result& p : persons) {
    if (sellers.count({p.windowStart, p.id})) emit(p);
  }
}

void ReferenceQ11(const GeneratorConfig& config, const Emit<Q11Result>& emit) {
  std::unordered_map<int64_t, std::vector<int64_t>> times;  // bidder → bid times
  ForEachEvent(config, [&](const Event& e) {
    if (e.isBid()) times[e.bid.bidder].push_back(e.bid.dateTime);
  });
  for (auto& [bidder, t] : times) {
    std::sort(t.begin(), t.end());
    size_t first = 0;
    for (size_t i = 1; i <= t.size(); ++i) {
      // A session ends where the next bid is more than the gap after the last
      // (windows [t, t + gap) that touch merge).
      if (i < t.size() && t[i] - t[i - 1] <= kQ11GapMs) continue;
      emit(Q11Result{bidder, static_cast<int64_t>(i - first), t[first], t[i - 1] + kQ11GapMs, 0});
      first = i;
    }
  }
}

void ReferenceQ12Totals(const GeneratorConfig& config, const Emit<Q12Result>& emit) {
  std::unordered_map<int64_t, int64_t> bids;
  ForEachEvent(config, [&](const Event& e) {
    if (e.isBid()) ++bids[e.bid.bidder];
  });
  for (const auto& [bidder, n] : bids) emit(Q12Result{bidder, n, 0});
}

}  // namespace nexmark
