// Keyed state larger than memory on the rocksdb backend: N keys, each holding a
// 100-byte value, written through a keyed map function. Prints the state size
// (N x 100 B, and the RocksDB directory's size) beside the process's peak
// resident memory. Usage: large_state_bench [keys=20000000] [localdir=/tmp]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "eddy/eddy.h"

namespace {

std::atomic<int64_t> g_seen{0};
std::atomic<bool> g_done{false};
std::atomic<uint64_t> g_dir_peak{0};

class StoreValue : public eddy::RichMapFunction<int64_t, int64_t> {
 public:
  int64_t map(const int64_t& key) override {
    auto& state = getRuntimeContext().getState(eddy::ValueStateDescriptor<std::string>("payload"));
    // Pseudo-random bytes, so that compression does not shrink the state.
    std::string value(100, '\0');
    uint64_t x = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < value.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::memcpy(value.data() + i, &x, std::min<size_t>(8, value.size() - i));
    }
    state.update(value);
    return key;
  }
};

int64_t PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t keys = argc > 1 ? std::atoll(argv[1]) : 20000000;
  std::string base = argc > 2 ? argv[2] : "/tmp";
  std::string dir = base + "/eddy-large-state-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::thread watcher([&] {
    while (!g_done) {
      g_dir_peak = std::max<uint64_t>(g_dir_peak, DirBytes(dir));
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  });
  eddy::StreamExecutionEnvironment env({{"state.backend.type", "rocksdb"},
                                        {"state.backend.rocksdb.localdir", dir}});
  env.setParallelism(1);
  auto start = std::chrono::steady_clock::now();
  env.fromSequence(0, keys - 1)
      .keyBy([](const int64_t& k) { return k; })
      .map(StoreValue())
      .addSink([](const int64_t&) { ++g_seen; });
  env.execute("large state");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_done = true;
  watcher.join();
  std::printf("keys: %lld, state written: %.0f MB (keys x 100 B), RocksDB directory peak: %.0f MB\n",
              static_cast<long long>(keys), keys * 100.0 / 1e6, g_dir_peak / 1e6);
  std::printf("peak resident memory: %.0f MB; %.1f s, %.0f records/s; records seen %lld\n",
              PeakRssKb() / 1e3, s, keys / s, static_cast<long long>(g_seen.load()));
  std::filesystem::remove_all(dir);
  return 0;
}
