// TimerQueue, the ordered and deduplicated timers of one time domain, against
// a plain reference: a map from timer to its registration number.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>

#include "eddy/internal/timers.h"
#include "gtest/gtest.h"

namespace eddy::internal {
namespace {

using Key = std::tuple<int64_t, int, std::string, std::string>;  // time, key group, key, namespace

TimerView ViewOf(const Key& k) { return {std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)}; }

TEST(TimerQueueTest, FiresByTimeThenRegistrationAndDeduplicates) {
  TimerQueue queue;
  std::map<Key, uint64_t> reference;  // timer -> registration number
  uint64_t registrations = 0;
  std::mt19937_64 random(7);
  auto random_key = [&] {
    const int64_t key = static_cast<int64_t>(random() % 40);
    std::string name_space;
    if (random() % 2 == 0) name_space = std::string(1 + random() % 3, 'n');  // "", "n", "nn", "nnn"
    return Key{static_cast<int64_t>(random() % 30), static_cast<int>(key % 4), std::string(1 + key, 'k'),
               name_space};
  };
  Key last;
  for (int step = 0; step < 50'000; ++step) {
    switch (random() % 5) {
      case 0:
      case 1: {  // register, often the timer registered just before (as windows do)
        const Key k = random() % 3 == 0 && step > 0 ? last : random_key();
        const bool fresh = !reference.contains(k);
        ASSERT_EQ(queue.insert(ViewOf(k)), fresh) << "step " << step;
        if (fresh) reference[k] = registrations++;
        last = k;
        break;
      }
      case 2: {  // delete, sometimes one that does not exist
        const Key k = random() % 2 == 0 ? last : random_key();
        queue.erase(ViewOf(k));
        reference.erase(k);
        break;
      }
      case 3: {  // fire the earliest: least time, then least registration number
        ASSERT_EQ(queue.empty(), reference.empty());
        if (reference.empty()) break;
        auto want = reference.begin();
        for (auto it = reference.begin(); it != reference.end(); ++it) {
          if (std::get<0>(it->first) < std::get<0>(want->first) ||
              (std::get<0>(it->first) == std::get<0>(want->first) && it->second < want->second)) {
            want = it;
          }
        }
        ASSERT_EQ(queue.top().timestamp, std::get<0>(want->first));
        InternalTimer got = queue.pop();
        ASSERT_EQ((Key{got.timestamp, got.key_group, got.key, got.name_space}), want->first) << "step " << step;
        reference.erase(want);
        break;
      }
      case 4:
        ASSERT_EQ(queue.size(), reference.size()) << "step " << step;
        break;
    }
  }
  size_t visited = 0;
  queue.ForEach([&](const InternalTimer& t) {
    ++visited;
    EXPECT_TRUE(reference.contains(Key{t.timestamp, t.key_group, t.key, t.name_space}));
  });
  EXPECT_EQ(visited, reference.size());
  EXPECT_GT(reference.size(), 10u);
}

}  // namespace
}  // namespace eddy::internal
