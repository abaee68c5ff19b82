// Tests of the in-process network stack: record framing, writer → subpartition
// → input gate round trips through small buffer pools, backpressure, partition
// isolation, pool reservation and cancellation.
#include "taskmanager/network.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "taskmanager/network_test_util.h"
#include "gtest/gtest.h"

namespace eddy::runtime {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr uint32_t kSegment = kDefaultSegmentSize;

using testing_util::MakeRecord;
using testing_util::Uniform;

// The wire frame of a record, written independently of RecordWriter: LEB128
// length, then the bytes.
std::string Frame(const std::string& record) {
  std::string out;
  uint64_t n = record.size();
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n != 0);
  return out + record;
}

// Compares record lists without printing megabytes on failure.
void ExpectSameRecords(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), want[i].size()) << "record " << i;
    ASSERT_TRUE(got[i] == want[i]) << "record " << i << " has different bytes";
  }
}

// ---- RecordFramer ----

TEST(RecordFramerTest, ReassemblesRandomRecordsFromRandomChunks) {
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE(round);
    std::vector<std::string> records;
    std::string stream;
    const int count = static_cast<int>(Uniform(1, 40));
    for (int i = 0; i < count; ++i) {
      // Sizes 0..100000, biased towards small ones so that headers split too.
      size_t size;
      switch (Uniform(0, 2)) {
        case 0: size = static_cast<size_t>(Uniform(0, 3)); break;
        case 1: size = static_cast<size_t>(Uniform(0, 300)); break;
        default: size = static_cast<size_t>(Uniform(0, 100000)); break;
      }
      records.push_back(MakeRecord(static_cast<uint64_t>(round * 1000 + i), size));
      stream += Frame(records.back());
    }
    // Chunk sizes from tiny (every header split) to larger than most records.
    const int64_t max_chunk = std::vector<int64_t>{1, 3, 200, 40000, 300000}[static_cast<size_t>(round % 5)];
    RecordFramer framer;
    std::vector<std::string> got;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t n = std::min(stream.size() - pos, static_cast<size_t>(Uniform(0, max_chunk)));
      ASSERT_TRUE(framer.Feed(std::string_view(stream).substr(pos, n), [&](std::string_view r) {
        got.emplace_back(r);
        return true;
      }));
      pos += n;
    }
    EXPECT_FALSE(framer.HasPartialRecord());
    ExpectSameRecords(got, records);
  }
}

TEST(RecordFramerTest, KeepsAPartialRecordUntilItsLastByte) {
  const std::string record = MakeRecord(7, 1000);
  const std::string frame = Frame(record);
  RecordFramer framer;
  int calls = 0;
  auto count = [&](std::string_view r) {
    ++calls;
    EXPECT_TRUE(r == record);
    return true;
  };
  ASSERT_TRUE(framer.Feed(std::string_view(frame).substr(0, 1), count));  // half the header
  EXPECT_TRUE(framer.HasPartialRecord());
  ASSERT_TRUE(framer.Feed(std::string_view(frame).substr(1, frame.size() - 2), count));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(framer.HasPartialRecord());
  ASSERT_TRUE(framer.Feed(std::string_view(frame).substr(frame.size() - 1), count));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(framer.HasPartialRecord());
}

TEST(RecordFramerTest, StopsWhenTheCallbackReturnsFalse) {
  const std::string stream = Frame("a") + Frame("bb") + Frame("ccc");
  RecordFramer framer;
  std::vector<std::string> got;
  EXPECT_FALSE(framer.Feed(stream, [&](std::string_view r) {
    got.emplace_back(r);
    return got.size() < 2;
  }));
  EXPECT_THAT(got, ::testing::ElementsAre("a", "bb"));
}

// ---- Writer → subpartition → gate ----

// A partition of `subpartitions` channels owning `buffers` buffers of `global`.
std::unique_ptr<ResultPartition> MakePartition(NetworkBufferPool& global, int buffers, int subpartitions) {
  std::vector<std::unique_ptr<NetworkBuffer>> reserved;
  absl::Status s = global.Reserve(buffers, &reserved);
  EXPECT_TRUE(s.ok()) << s;
  return std::make_unique<ResultPartition>(
      subpartitions, std::make_unique<LocalBufferPool>(&global, std::move(reserved)));
}

// Gate channels (input 0) reading `subpartitions` in this process.
std::vector<InputGate::ChannelSpec> LocalChannels(std::initializer_list<Subpartition*> subpartitions) {
  std::vector<InputGate::ChannelSpec> channels;
  for (Subpartition* s : subpartitions) channels.push_back({std::make_unique<LocalInputChannel>(s), 0});
  return channels;
}

// What a consumer saw on one channel: records, and "#W<n>" for watermark n.
using ChannelLog = std::vector<std::string>;

std::string WatermarkEntry(int64_t w) { return "#W" + std::to_string(w); }

// Reads every channel of `gate` until each has ended (or the gate is
// cancelled), the way a task's input loop does.
std::vector<ChannelLog> ReadAll(InputGate& gate) {
  const int n = gate.num_channels();
  std::vector<RecordFramer> framers(static_cast<size_t>(n));
  std::vector<ChannelLog> logs(static_cast<size_t>(n));
  int live = n;
  while (live > 0) {
    const int c = gate.WaitForChannel([] {});
    if (c < 0) break;
    InputChannel* channel = gate.channel(c).channel.get();
    while (true) {
      std::string_view data;
      NetworkEvent event;
      const Subpartition::PollResult r = channel->Poll(&data, &event);
      if (r == Subpartition::PollResult::kNone) break;
      if (r == Subpartition::PollResult::kError) {
        ADD_FAILURE() << "local channel " << c << " failed: " << channel->failure();
        return logs;
      }
      if (r == Subpartition::PollResult::kData) {
        framers[static_cast<size_t>(c)].Feed(data, [&](std::string_view rec) {
          logs[static_cast<size_t>(c)].emplace_back(rec);
          return true;
        });
      } else if (event.kind == NetworkEvent::kWatermark) {
        logs[static_cast<size_t>(c)].push_back(WatermarkEntry(event.value));
      } else {
        EXPECT_FALSE(framers[static_cast<size_t>(c)].HasPartialRecord()) << "channel " << c;
        --live;
        break;
      }
    }
  }
  return logs;
}

TEST(NetworkTest, RoundTripOfLargeRecordsThroughThreeBuffers) {
  NetworkBufferPool global(3, kSegment);
  auto partition = MakePartition(global, 3, 2);
  // (A unique_ptr: local channels must not outlive the partition they read.)
  auto gate = std::make_unique<InputGate>(
      LocalChannels({&partition->subpartition(0), &partition->subpartition(1)}));

  // Records up to ~10 segments long, routed to random channels, with
  // watermarks in between; each channel must see its own sequence exactly.
  struct Item {
    int channel;  // -1: a watermark to all
    std::string record;
    int64_t watermark;
  };
  std::vector<Item> items;
  std::vector<ChannelLog> expected(2);
  for (int i = 0; i < 80; ++i) {
    if (i % 10 == 9) {
      items.push_back({-1, "", i});
      for (auto& log : expected) log.push_back(WatermarkEntry(i));
      continue;
    }
    const size_t size = i % 3 == 0 ? static_cast<size_t>(Uniform(0, 40)) : static_cast<size_t>(Uniform(40000, 330000));
    const int channel = static_cast<int>(Uniform(0, 1));
    items.push_back({channel, MakeRecord(static_cast<uint64_t>(i), size), 0});
    expected[static_cast<size_t>(channel)].push_back(items.back().record);
  }

  auto reader = std::async(std::launch::async, [&] { return ReadAll(*gate); });
  std::thread writer_thread([&] {
    RecordWriter writer(partition.get(), /*flush_always=*/false);
    try {
      for (const Item& item : items) {
        if (item.channel < 0) {
          writer.BroadcastWatermark(item.watermark);
        } else {
          writer.Emit(item.channel, item.record);
        }
      }
      writer.Finish();
    } catch (const TaskCancelled&) {
    }
  });
  if (reader.wait_for(60s) != std::future_status::ready) {
    partition->Cancel();
    gate->Cancel();
    writer_thread.join();
    FAIL() << "the reader did not finish: records lost or a deadlock";
  }
  writer_thread.join();
  std::vector<ChannelLog> logs = reader.get();
  ASSERT_EQ(logs.size(), 2u);
  for (int c = 0; c < 2; ++c) {
    SCOPED_TRACE(c);
    ExpectSameRecords(logs[static_cast<size_t>(c)], expected[static_cast<size_t>(c)]);
  }
  EXPECT_EQ(global.available(), 0);  // still owned by the partition
  gate.reset();
  partition.reset();
  EXPECT_EQ(global.available(), 3);
}

// gate.WaitForChannel(), giving up (and cancelling the gate) after 10 s so a
// lost notification fails the test instead of hanging it.
int WaitForChannelOrGiveUp(InputGate& gate, std::atomic<bool>* idle_called) {
  auto waiting = std::async(std::launch::async, [&] { return gate.WaitForChannel([&] { *idle_called = true; }); });
  if (waiting.wait_for(10s) != std::future_status::ready) gate.Cancel();
  return waiting.get();
}

TEST(NetworkTest, FlushMakesAPartlyFilledBufferReadable) {
  NetworkBufferPool global(2, kSegment);
  auto partition = MakePartition(global, 2, 1);
  InputGate gate(LocalChannels({&partition->subpartition(0)}));
  RecordWriter writer(partition.get(), /*flush_always=*/false);
  writer.Emit(0, "hello");
  writer.Flush();
  std::atomic<bool> idle_called{false};
  ASSERT_EQ(WaitForChannelOrGiveUp(gate, &idle_called), 0);
  EXPECT_FALSE(idle_called.load()) << "data was queued: no reason to go idle";
  std::string_view data;
  NetworkEvent event;
  ASSERT_EQ(partition->subpartition(0).Poll(&data, &event), Subpartition::PollResult::kData);
  EXPECT_EQ(std::string(data), Frame("hello"));
  EXPECT_EQ(partition->subpartition(0).Poll(&data, &event), Subpartition::PollResult::kNone);
  writer.Emit(0, "world");
  writer.Flush();
  ASSERT_EQ(WaitForChannelOrGiveUp(gate, &idle_called), 0);
  ASSERT_EQ(partition->subpartition(0).Poll(&data, &event), Subpartition::PollResult::kData);
  EXPECT_EQ(std::string(data), Frame("world"));
  writer.Finish();
  ASSERT_EQ(WaitForChannelOrGiveUp(gate, &idle_called), 0);
  ASSERT_EQ(partition->subpartition(0).Poll(&data, &event), Subpartition::PollResult::kEvent);
  EXPECT_EQ(event.kind, NetworkEvent::kEndOfPartition);
}

// Waits until `counter` has not changed for `quiet`; false after `deadline`.
bool WaitUntilStable(const std::atomic<int64_t>& counter, std::chrono::milliseconds quiet,
                     std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  int64_t last = counter.load();
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(quiet);
    const int64_t now = counter.load();
    if (now == last && now > 0) return true;
    last = now;
  }
  return false;
}

TEST(NetworkTest, WriterBlocksWhenThePoolIsExhaustedAndResumesWhenDrained) {
  constexpr int kBuffers = 4;
  constexpr size_t kRecordSize = 1000;  // 1002 bytes framed
  constexpr int kRecords = 600;         // ~600 KB, far more than 4 buffers
  NetworkBufferPool global(kBuffers, kSegment);
  auto partition = MakePartition(global, kBuffers, 1);
  InputGate gate(LocalChannels({&partition->subpartition(0)}));
  std::vector<std::string> records;
  for (int i = 0; i < kRecords; ++i) records.push_back(MakeRecord(static_cast<uint64_t>(i), kRecordSize));

  std::atomic<int64_t> written{0};  // framed bytes of records Emit() returned for
  std::atomic<bool> done{false};
  std::thread writer_thread([&] {
    RecordWriter writer(partition.get(), /*flush_always=*/false);
    try {
      for (const std::string& r : records) {
        writer.Emit(0, r);
        written += static_cast<int64_t>(Frame(r).size());
      }
      writer.Finish();
      done = true;
    } catch (const TaskCancelled&) {
    }
  });

  // Nobody reads: the writer fills its buffers and blocks on the next one.
  const bool stable = WaitUntilStable(written, 100ms, 20s);
  if (!stable || done) {
    partition->Cancel();
    writer_thread.join();
    FAIL() << "the writer did not block: wrote " << written.load() << " bytes, done=" << done.load();
  }
  const int64_t blocked_at = written.load();
  const int64_t capacity = int64_t{kBuffers} * kSegment;
  EXPECT_LE(blocked_at, capacity);
  EXPECT_GT(blocked_at, capacity - static_cast<int64_t>(kRecordSize + 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(written.load(), blocked_at) << "the writer kept writing without free buffers";
  EXPECT_FALSE(done.load());

  // Drain: everything arrives, in order.
  auto reader = std::async(std::launch::async, [&] { return ReadAll(gate); });
  if (reader.wait_for(60s) != std::future_status::ready) {
    partition->Cancel();
    gate.Cancel();
    writer_thread.join();
    FAIL() << "the reader did not finish after draining";
  }
  writer_thread.join();
  EXPECT_TRUE(done.load());
  std::vector<ChannelLog> logs = reader.get();
  ASSERT_EQ(logs.size(), 1u);
  ExpectSameRecords(logs[0], records);
}

TEST(NetworkTest, SlowConsumerOfOnePartitionDoesNotBlockAnother) {
  NetworkBufferPool global(8, kSegment);
  auto slow = MakePartition(global, 4, 1);
  auto fast = MakePartition(global, 4, 1);
  InputGate slow_gate(LocalChannels({&slow->subpartition(0)}));
  InputGate fast_gate(LocalChannels({&fast->subpartition(0)}));
  std::vector<std::string> records;
  for (int i = 0; i < 400; ++i) records.push_back(MakeRecord(static_cast<uint64_t>(i), 5000));  // ~2 MB

  auto write_all = [&records](ResultPartition* partition, std::atomic<bool>* done) {
    RecordWriter writer(partition, /*flush_always=*/false);
    try {
      for (const std::string& r : records) writer.Emit(0, r);
      writer.Finish();
      *done = true;
    } catch (const TaskCancelled&) {
    }
  };
  std::atomic<bool> slow_done{false}, fast_done{false};
  std::thread slow_writer(write_all, slow.get(), &slow_done);
  auto fast_reader = std::async(std::launch::async, [&] { return ReadAll(fast_gate); });
  std::thread fast_writer(write_all, fast.get(), &fast_done);

  // The fast pair finishes although the slow partition's writer is stuck.
  const bool fast_finished = fast_reader.wait_for(60s) == std::future_status::ready;
  EXPECT_TRUE(fast_finished) << "a blocked partition stalled another one";
  EXPECT_FALSE(slow_done.load()) << "the slow partition's writer should be blocked";
  if (!fast_finished) {
    fast->Cancel();
    fast_gate.Cancel();
  }
  fast_writer.join();
  if (fast_finished) {
    EXPECT_TRUE(fast_done.load());
    std::vector<ChannelLog> logs = fast_reader.get();
    ExpectSameRecords(logs[0], records);
  }

  // Now the slow consumer reads, and its writer completes too.
  auto slow_reader = std::async(std::launch::async, [&] { return ReadAll(slow_gate); });
  if (slow_reader.wait_for(60s) != std::future_status::ready) {
    slow->Cancel();
    slow_gate.Cancel();
    slow_writer.join();
    FAIL() << "the slow partition did not drain";
  }
  slow_writer.join();
  EXPECT_TRUE(slow_done.load());
  ExpectSameRecords(slow_reader.get()[0], records);
}

// ---- Pools ----

TEST(NetworkBufferPoolTest, ReserveBeyondCapacityIsResourceExhausted) {
  NetworkBufferPool global(10, 1024);
  EXPECT_EQ(global.total(), 10);
  EXPECT_EQ(global.available(), 10);
  std::vector<std::unique_ptr<NetworkBuffer>> first;
  ASSERT_TRUE(global.Reserve(6, &first).ok());
  ASSERT_EQ(first.size(), 6u);
  for (const auto& b : first) EXPECT_EQ(b->capacity, 1024u);
  EXPECT_EQ(global.available(), 4);

  std::vector<std::unique_ptr<NetworkBuffer>> second;
  absl::Status s = global.Reserve(5, &second);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("taskmanager.memory.network.buffers"));
  EXPECT_TRUE(second.empty()) << "a failed reservation takes nothing";
  EXPECT_EQ(global.available(), 4);

  ASSERT_TRUE(global.Reserve(4, &second).ok());
  EXPECT_EQ(global.available(), 0);
  global.Release(std::move(first));
  global.Release(std::move(second));
  EXPECT_EQ(global.available(), 10);
}

TEST(LocalBufferPoolTest, RecycleWakesABlockedRequest) {
  NetworkBufferPool global(2, 1024);
  std::vector<std::unique_ptr<NetworkBuffer>> reserved;
  ASSERT_TRUE(global.Reserve(2, &reserved).ok());
  LocalBufferPool local(&global, std::move(reserved));
  NetworkBuffer* a = local.Request();
  NetworkBuffer* b = local.Request();
  ASSERT_NE(a, b);
  a->size = 17;
  auto third = std::async(std::launch::async, [&] { return local.Request(); });
  EXPECT_EQ(third.wait_for(200ms), std::future_status::timeout) << "Request() should block on an empty pool";
  local.Recycle(a);
  if (third.wait_for(10s) != std::future_status::ready) {
    local.Cancel();  // lets the async Request() end (by throwing) so the test can finish
    FAIL() << "Recycle() did not wake Request()";
  }
  NetworkBuffer* c = third.get();
  EXPECT_EQ(c, a);
  EXPECT_EQ(c->size.load(), 0u) << "a requested buffer starts empty";
  local.Recycle(b);
  local.Recycle(c);
}

TEST(LocalBufferPoolTest, CancelUnblocksABlockedRequest) {
  NetworkBufferPool global(2, 1024);
  std::vector<std::unique_ptr<NetworkBuffer>> reserved;
  ASSERT_TRUE(global.Reserve(2, &reserved).ok());
  {
    LocalBufferPool local(&global, std::move(reserved));
    NetworkBuffer* a = local.Request();
    local.Request();
    auto blocked = std::async(std::launch::async, [&]() -> std::string {
      try {
        local.Request();
        return "returned a buffer";
      } catch (const TaskCancelled&) {
        return "cancelled";
      }
    });
    EXPECT_EQ(blocked.wait_for(200ms), std::future_status::timeout) << "Request() should block";
    local.Cancel();
    if (blocked.wait_for(10s) != std::future_status::ready) {
      local.Recycle(a);  // lets the async Request() return so the test can finish
      FAIL() << "Cancel() did not wake Request()";
    }
    EXPECT_EQ(blocked.get(), "cancelled");
    // Later requests fail at once.
    EXPECT_THROW(local.Request(), TaskCancelled);
    EXPECT_EQ(global.available(), 0);
  }
  EXPECT_EQ(global.available(), 2) << "the local pool returns its buffers when destroyed";
}

}  // namespace
}  // namespace eddy::runtime
