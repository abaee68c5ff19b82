// UniqueVisitor: distinct visitors per tumbling window, twice: exactly, with
// every user id of the window in a set (memory grows with the visitors), and
// with a Bloom filter of fixed size in keyed state, as one would at a scale
// where the set no longer fits (the notes' 10^9 users: 1 GB of ids, against
// one bit per user and hash).
//
// The Bloom count adds a user when at least one of its bits was still unset.
// A user whose bits were all set by earlier users (a false positive) is not
// counted, so the count never exceeds the exact one; after n users in m bits
// with k hashes a new user is missed with probability about
// (1 - e^(-k n / m))^k, so the expected shortfall after N users is at most
// N (1 - e^(-k N / m))^k.
#include <set>
#include <string>
#include <vector>

#include "job_support.h"
#include "jobs.h"

namespace user_behavior {
namespace {

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class CollectUsers : public eddy::AggregateFunction<UserBehavior, std::set<int64_t>, int64_t> {
 public:
  std::set<int64_t> createAccumulator() override { return {}; }
  std::set<int64_t> add(const UserBehavior& b, std::set<int64_t> users) override {
    users.insert(b.user_id);
    return users;
  }
  int64_t getResult(const std::set<int64_t>& users) override { return static_cast<int64_t>(users.size()); }
  std::set<int64_t> merge(std::set<int64_t> a, std::set<int64_t> b) override {
    a.merge(b);
    return a;
  }
};

class ExactLine : public eddy::ProcessAllWindowFunction<int64_t, std::string, eddy::TimeWindow> {
 public:
  void process(Context& ctx, const std::vector<int64_t>& users, eddy::Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.window().getEnd()) + ",exact," + std::to_string(users.front()));
  }
};

// Keyed by window start: the window's filter bits and count, emitted when
// the watermark reaches the window's last millisecond.
class BloomCount : public eddy::KeyedProcessFunction<int64_t, UserBehavior, std::string> {
 public:
  BloomCount(int64_t size, int64_t bits, int hashes) : size_(size), bits_(bits), hashes_(hashes) {}
  void processElement(const UserBehavior& b, Context& ctx, eddy::Collector<std::string>&) override {
    auto& filter = Filter();
    if (filter.mutableValue() == nullptr) {
      filter.update(std::string(static_cast<size_t>((bits_ + 7) / 8), '\0'));
      ctx.timerService().registerEventTimeTimer(ctx.getCurrentKey() + size_ - 1);
    }
    if (BloomAdd(*filter.mutableValue(), bits_, hashes_, b.user_id)) {
      auto& count = Count();
      count.update(count.value().value_or(0) + 1);
    }
  }
  void onTimer(int64_t, OnTimerContext& ctx, eddy::Collector<std::string>& out) override {
    out.collect(std::to_string(ctx.getCurrentKey() + size_) + ",bloom," + std::to_string(Count().value().value_or(0)));
    Filter().clear();
    Count().clear();
  }

 private:
  eddy::ValueState<std::string>& Filter() {
    return getRuntimeContext().getState(eddy::ValueStateDescriptor<std::string>("bloom-bits"));
  }
  eddy::ValueState<int64_t>& Count() {
    return getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("bloom-count"));
  }
  int64_t size_;
  int64_t bits_;
  int hashes_;
};

}  // namespace

bool BloomAdd(std::string& bits, int64_t bit_count, int hashes, int64_t user) {
  // Double hashing: bit i is h1 + i * h2 (mod m), with h2 odd.
  const uint64_t h1 = Mix(static_cast<uint64_t>(user));
  const uint64_t h2 = Mix(h1) | 1;
  bool added = false;
  for (int i = 0; i < hashes; ++i) {
    const uint64_t bit = (h1 + static_cast<uint64_t>(i) * h2) % static_cast<uint64_t>(bit_count);
    char& byte = bits[bit / 8];
    const char mask = static_cast<char>(1 << (bit % 8));
    if ((byte & mask) == 0) {
      byte = static_cast<char>(byte | mask);
      added = true;
    }
  }
  return added;
}

eddy::DataStream<std::string> UniqueVisitor(eddy::DataStream<UserBehavior> behaviors,
                                            const UniqueVisitorOptions& options) {
  if (options.bloom_bits <= 0 || options.bloom_hashes <= 0) {
    throw std::invalid_argument("UniqueVisitor: the Bloom filter needs a positive number of bits and hashes");
  }
  auto views = behaviors.filter([](const UserBehavior& b) { return b.behavior == "pv"; })
                   .setParallelism(1)
                   .name("page views")
                   .uid("unique-visitor-pv");
  auto exact = views.windowAll(eddy::TumblingEventTimeWindows::of(options.size))
                   .aggregate(CollectUsers(), ExactLine())
                   .name("visitors (set)")
                   .uid("unique-visitor-exact");
  const int64_t size = options.size.count();
  auto bloom = views
                   .keyBy([size](const UserBehavior& b) {
                     return eddy::TimeWindow::getWindowStartWithOffset(b.timestamp, 0, size);
                   })
                   .process(BloomCount(size, options.bloom_bits, options.bloom_hashes))
                   .name("visitors (Bloom filter)")
                   .uid("unique-visitor-bloom");
  return exact.union_(bloom);
}

}  // namespace user_behavior
