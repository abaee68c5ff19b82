#include "generator.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace nexmark {
namespace {

// Nexmark's proportions and id spaces.
constexpr int64_t kPersonProportion = 1;
constexpr int64_t kAuctionProportion = 3;
constexpr int64_t kBidProportion = 46;
constexpr int64_t kTotalProportion = kPersonProportion + kAuctionProportion + kBidProportion;
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int64_t kNumCategories = 5;
// Hot ids are multiples of these (so a few ids get most of the traffic) ...
constexpr int64_t kHotAuctionStep = 100;
constexpr int64_t kHotSellerStep = 100;
constexpr int64_t kHotBidderStep = 100;
// ... chosen with probability 1 - 1/ratio.
constexpr int64_t kHotAuctionRatio = 2;
constexpr int64_t kHotSellerRatio = 4;
constexpr int64_t kHotBidderRatio = 4;
constexpr int64_t kHotChannelRatio = 2;
constexpr int64_t kNumActivePeople = 1000;
constexpr int64_t kNumInFlightAuctions = 100;
// How far past the newest person / auction a random id may point.
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kAuctionIdLead = 10;
constexpr int kMinStringLength = 3;

constexpr std::array<std::string_view, 6> kStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kCities = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                                      "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                                        "Walton", "Smith",  "Jones",   "Noris"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};
constexpr std::array<std::string_view, 4> kHotUrls = {
    "https://www.nexmark.com/goo/gle/item.htm?query=1", "https://www.nexmark.com/fac/ebo/item.htm?query=1",
    "https://www.nexmark.com/bai/du/item.htm?query=1", "https://www.nexmark.com/app/le/item.htm?query=1"};

// A small, fast generator seeded per event (splitmix64), so that event i is
// the same wherever and whenever it is generated.
class Random {
 public:
  explicit Random(int64_t seed) : state_(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound); bound > 0.
  int64_t Below(int64_t bound) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(Next()) * static_cast<uint64_t>(bound)) >> 64);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

template <size_t N>
std::string_view Pick(Random& random, const std::array<std::string_view, N>& choices) {
  return choices[static_cast<size_t>(random.Below(static_cast<int64_t>(N)))];
}

// Random lower-case text with about one space in 13 characters, six bits of
// the generator per character (generating text is most of the generator's work).
void AppendExactString(Random& random, int length, std::string& out) {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz abcdefgh  ";
  static_assert(kChars.size() == 64);
  const size_t old_size = out.size();
  out.resize(old_size + static_cast<size_t>(length));
  char* p = out.data() + old_size;
  for (int i = 0; i < length;) {
    uint64_t bits = random.Next();
    for (int k = 0; k < 10 && i < length; ++k, ++i, bits >>= 6) p[i] = kChars[bits & 63];
  }
}

std::string NextString(Random& random, int max_length) {
  std::string s;
  AppendExactString(random, kMinStringLength + static_cast<int>(random.Below(max_length - kMinStringLength)), s);
  return s;
}

// Padding that brings a record of `current_size` bytes to about `average`
// (±20%).
std::string NextExtra(Random& random, int current_size, int average) {
  if (current_size > average) return "";
  const int wanted = average - current_size;
  const int delta = static_cast<int>(std::lround(wanted * 0.2));
  const int size = wanted - delta + (delta == 0 ? 0 : static_cast<int>(random.Below(2 * delta)));
  std::string s;
  AppendExactString(random, size, s);
  return s;
}

int64_t NextPrice(Random& random) { return std::llround(std::pow(10.0, random.Unit() * 6.0) * 100.0); }

// The newest person (0-based) generated at or before event `index`.
int64_t LastBase0PersonId(int64_t index) {
  const int64_t epoch = index / kTotalProportion;
  const int64_t offset = std::min(index % kTotalProportion, kPersonProportion - 1);
  return epoch * kPersonProportion + offset;
}

// The newest auction (0-based) generated at or before event `index`.
int64_t LastBase0AuctionId(int64_t index) {
  int64_t epoch = index / kTotalProportion;
  int64_t offset = index % kTotalProportion;
  if (offset < kPersonProportion) {
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

// One of the recently active people, possibly a few not generated yet.
int64_t NextBase0PersonId(int64_t index, Random& random) {
  const int64_t people = LastBase0PersonId(index) + 1;
  const int64_t active = std::min(people, kNumActivePeople);
  return people - active + random.Below(active + kPersonIdLead);
}

// One of the auctions in flight, possibly a few not generated yet.
int64_t NextBase0AuctionId(int64_t index, Random& random) {
  const int64_t newest = LastBase0AuctionId(index);
  const int64_t oldest = std::max<int64_t>(newest - kNumInFlightAuctions, 0);
  return oldest + random.Below(newest - oldest + 1 + kAuctionIdLead);
}

// An auction stays open for up to twice the time it takes to generate
// kNumInFlightAuctions more auctions.
int64_t NextAuctionLengthMs(int64_t index, Random& random, const GeneratorConfig& config) {
  const int64_t events_for_auctions = kNumInFlightAuctions * kTotalProportion / kAuctionProportion;
  const int64_t horizon = NominalTime(index + events_for_auctions, config) - NominalTime(index, config);
  return 1 + random.Below(std::max<int64_t>(horizon * 2, 1));
}

Person MakePerson(int64_t index, int64_t time, Random& random, const GeneratorConfig& config) {
  Person p;
  p.id = LastBase0PersonId(index) + kFirstPersonId;
  p.name = std::string(Pick(random, kFirstNames)) + " " + std::string(Pick(random, kLastNames));
  p.emailAddress = NextString(random, 7) + "@" + NextString(random, 5) + ".com";
  char card[20];
  std::snprintf(card, sizeof(card), "%04d %04d %04d %04d", static_cast<int>(random.Below(10000)),
                static_cast<int>(random.Below(10000)), static_cast<int>(random.Below(10000)),
                static_cast<int>(random.Below(10000)));
  p.creditCard = card;
  p.city = Pick(random, kCities);
  p.state = Pick(random, kStates);
  p.dateTime = time;
  const int size = 8 + static_cast<int>(p.name.size() + p.emailAddress.size() + p.creditCard.size() + p.city.size() +
                                        p.state.size());
  p.extra = NextExtra(random, size, config.avg_person_bytes);
  return p;
}

Auction MakeAuction(int64_t index, int64_t time, Random& random, const GeneratorConfig& config) {
  Auction a;
  a.id = LastBase0AuctionId(index) + kFirstAuctionId;
  int64_t seller;
  if (random.Below(kHotSellerRatio) > 0) {
    seller = LastBase0PersonId(index) / kHotSellerStep * kHotSellerStep;
  } else {
    seller = NextBase0PersonId(index, random);
  }
  a.seller = seller + kFirstPersonId;
  a.category = kFirstCategoryId + random.Below(kNumCategories);
  a.itemName = NextString(random, 20);
  a.description = NextString(random, 100);
  a.initialBid = NextPrice(random);
  a.reserve = a.initialBid + NextPrice(random);
  a.dateTime = time;
  a.expires = time + NextAuctionLengthMs(index, random, config);
  const int size = 8 + static_cast<int>(a.itemName.size() + a.description.size()) + 5 * 8;
  a.extra = NextExtra(random, size, config.avg_auction_bytes);
  return a;
}

Bid MakeBid(int64_t index, int64_t time, Random& random, const GeneratorConfig& config) {
  Bid b;
  int64_t auction;
  if (random.Below(kHotAuctionRatio) > 0) {
    auction = LastBase0AuctionId(index) / kHotAuctionStep * kHotAuctionStep;
  } else {
    auction = NextBase0AuctionId(index, random);
  }
  b.auction = auction + kFirstAuctionId;
  int64_t bidder;
  if (random.Below(kHotBidderRatio) > 0) {
    bidder = LastBase0PersonId(index) / kHotBidderStep * kHotBidderStep + 1;
  } else {
    bidder = NextBase0PersonId(index, random);
  }
  b.bidder = bidder + kFirstPersonId;
  b.price = NextPrice(random);
  if (random.Below(kHotChannelRatio) > 0) {
    const size_t i = static_cast<size_t>(random.Below(static_cast<int64_t>(kHotChannels.size())));
    b.channel = kHotChannels[i];
    b.url = kHotUrls[i];
  } else {
    const int64_t channel = random.Below(10000);
    b.channel = "channel-" + std::to_string(channel);
    b.url = "https://www.nexmark.com/item.htm?query=1&channel_id=" + std::to_string(channel);
  }
  b.dateTime = time;
  b.extra = NextExtra(random, 32, config.avg_bid_bytes);
  return b;
}

int64_t NonNegative(const eddy::ParameterTool& args, const std::string& key, int64_t default_value) {
  const int64_t v = args.getLong(key, default_value);
  if (v < 0) throw std::invalid_argument("--" + key + " must not be negative, got " + std::to_string(v));
  return v;
}

}  // namespace

GeneratorConfig GeneratorConfig::FromArgs(const eddy::ParameterTool& args) {
  GeneratorConfig c;
  c.events = NonNegative(args, "events", c.events);
  c.base_time_ms = args.getLong("base-time", c.base_time_ms);
  const int64_t rate = NonNegative(args, "rate", 0);
  c.events_per_second = NonNegative(args, "time-rate", rate > 0 ? rate : c.events_per_second);
  if (c.events_per_second == 0) throw std::invalid_argument("--time-rate must be positive");
  c.max_out_of_order_ms = NonNegative(args, "out-of-order-ms", c.max_out_of_order_ms);
  return c;
}

int64_t NominalTime(int64_t index, const GeneratorConfig& config) {
  return config.base_time_ms + static_cast<int64_t>(static_cast<__int128>(index) * 1000 / config.events_per_second);
}

Event GenerateEvent(int64_t index, const GeneratorConfig& config) {
  Random random(index);
  const int64_t delay = config.max_out_of_order_ms == 0 ? 0 : random.Below(config.max_out_of_order_ms + 1);
  const int64_t time = NominalTime(index, config) - delay;
  Event e;
  const int64_t rem = index % kTotalProportion;
  if (rem < kPersonProportion) {
    e.type = EventType::kPerson;
    e.person = MakePerson(index, time, random, config);
  } else if (rem < kPersonProportion + kAuctionProportion) {
    e.type = EventType::kAuction;
    e.auction = MakeAuction(index, time, random, config);
  } else {
    e.type = EventType::kBid;
    e.bid = MakeBid(index, time, random, config);
  }
  return e;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::ostream& operator<<(std::ostream& out, const Event& event) {
  switch (event.type) {
    case EventType::kPerson:
      return out << eddy::ToString(event.person);
    case EventType::kAuction:
      return out << eddy::ToString(event.auction);
    case EventType::kBid:
      return out << eddy::ToString(event.bid);
  }
  return out;
}

void NexmarkSource::AssignFresh() {
  const int p = getRuntimeContext().getNumberOfParallelSubtasks();
  const int k = getRuntimeContext().getIndexOfThisSubtask();
  splits_.clear();
  if (k < config_.events) splits_.push_back({k, config_.events, p});
  initialized_ = true;
}

void NexmarkSource::initializeState(eddy::FunctionInitializationContext& context) {
  state_ = &context.getOperatorStateStore().getListState(eddy::ListStateDescriptor<SourceSplit>("nexmark-splits"));
  if (!context.isRestored()) {
    AssignFresh();
    return;
  }
  splits_ = state_->get();
  for (const SourceSplit& s : splits_) {
    if (s.stride <= 0 || s.next < 0 || s.end > config_.events) {
      throw std::logic_error("NexmarkSource cannot restore split {next=" + std::to_string(s.next) +
                             ", end=" + std::to_string(s.end) + ", stride=" + std::to_string(s.stride) +
                             "}: it does not fit a run of " + std::to_string(config_.events) + " events");
    }
  }
  initialized_ = true;
}

void NexmarkSource::snapshotState(const eddy::FunctionSnapshotContext&) {
  if (state_ == nullptr) return;
  std::vector<SourceSplit> remaining;
  for (const SourceSplit& s : splits_) {
    if (s.next < s.end) remaining.push_back(s);
  }
  state_->update(remaining);
}

void NexmarkSource::run(SourceContext& ctx) {
  if (!initialized_) AssignFresh();
  const double rate = rate_ / getRuntimeContext().getNumberOfParallelSubtasks();
  const auto start = std::chrono::steady_clock::now();
  const int64_t first_us = NowMicros();
  int64_t emitted = 0;
  // Round-robin over the splits that have events left; splits_[k].next is the
  // event being collected while collect() runs (snapshots happen inside it).
  size_t k = 0;
  size_t exhausted = 0;
  while (exhausted < splits_.size() && ctx.isRunning()) {
    SourceSplit& s = splits_[k];
    k = (k + 1) % splits_.size();
    if (s.next >= s.end) {
      ++exhausted;
      continue;
    }
    exhausted = 0;
    if (rate > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(emitted) / rate));
      if (due > std::chrono::steady_clock::now()) {
        ctx.flush();
        std::this_thread::sleep_until(due);
      }
    }
    Event event = GenerateEvent(s.next, config_);
    event.created_us = NowMicros();
    ctx.collect(event);
    s.next += s.stride;
    ++emitted;
  }
  if (!stats_dir_.empty()) WriteStats(first_us, NowMicros(), emitted);
  const auto linger_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms_);
  while (ctx.isRunning() && std::chrono::steady_clock::now() < linger_until) {
    ctx.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NexmarkSource::WriteStats(int64_t first_us, int64_t last_us, int64_t emitted) {
  const std::string path = stats_dir_ + "/source-" + std::to_string(getRuntimeContext().getIndexOfThisSubtask()) + "-" +
                           std::to_string(getRuntimeContext().getAttemptNumber()) + ".txt";
  std::ofstream out(path);
  out << first_us << ' ' << last_us << ' ' << emitted << '\n';
  if (!out) throw std::runtime_error("cannot write the source statistics file " + path);
}

}  // namespace nexmark
