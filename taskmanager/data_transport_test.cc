// Tests of the TCP data plane: two "TaskManagers" in one process (each with a
// partition registry, a data server and a connection manager) exchange records
// over loopback. Order and completeness of records and events, credit-based
// isolation of channels sharing a connection, bounded receiver memory,
// connection loss, late producers, unknown and released partitions.
#include "taskmanager/data_transport.h"

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

void ExpectSameRecords(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), want[i].size()) << "record " << i;
    ASSERT_TRUE(got[i] == want[i]) << "record " << i << " has different bytes";
  }
}

// One TaskManager's network stack.
struct TaskManagerNet {
  explicit TaskManagerNet(std::chrono::milliseconds request_timeout = 10s, int initial_credit = 4)
      : pool(64, kSegment),
        server(&registry, DataServerOptions{"127.0.0.1", 0, request_timeout}),
        connections(ConnectionManagerOptions{initial_credit, 5s}) {
    absl::Status s = server.Start();
    EXPECT_TRUE(s.ok()) << s;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }

  NetworkBufferPool pool;
  PartitionRegistry registry;
  DataServer server;
  ConnectionManager connections;
};

std::unique_ptr<ResultPartition> MakePartition(NetworkBufferPool& global, int buffers, int subpartitions) {
  std::vector<std::unique_ptr<NetworkBuffer>> reserved;
  absl::Status s = global.Reserve(buffers, &reserved);
  EXPECT_TRUE(s.ok()) << s;
  return std::make_unique<ResultPartition>(subpartitions,
                                           std::make_unique<LocalBufferPool>(&global, std::move(reserved)));
}

ResultPartitionId PartitionId(int edge, int subtask) {
  return {"0123456789abcdef0123456789abcdef", edge, subtask};
}

// A gate over remote channels to (partition, subpartition) pairs at `address`.
// The channels are also returned (unowned) for inspection.
std::unique_ptr<InputGate> RemoteGate(TaskManagerNet& consumer, const std::string& address,
                                      const std::vector<std::pair<ResultPartitionId, int>>& inputs,
                                      std::vector<RemoteInputChannel*>* raw = nullptr) {
  std::vector<InputGate::ChannelSpec> specs;
  for (const auto& [id, sub] : inputs) {
    auto channel = consumer.connections.CreateInputChannel(address, id, sub);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return nullptr;
    if (raw != nullptr) raw->push_back(channel->get());
    specs.push_back({std::move(*channel), 0});
  }
  return std::make_unique<InputGate>(std::move(specs));
}

// What a consumer saw on one channel: records, "#W<n>" for watermark n.
using ChannelLog = std::vector<std::string>;
std::string WatermarkEntry(int64_t w) { return "#W" + std::to_string(w); }

struct ReadResult {
  std::vector<ChannelLog> logs;
  std::vector<std::string> errors;  // per channel, empty if it ended normally
};

// Reads every channel of `gate` the way a task's input loop does, until each
// ended or failed (or the gate is cancelled).
ReadResult ReadAll(InputGate& gate) {
  const int n = gate.num_channels();
  std::vector<RecordFramer> framers(static_cast<size_t>(n));
  ReadResult result;
  result.logs.resize(static_cast<size_t>(n));
  result.errors.resize(static_cast<size_t>(n));
  int live = n;
  while (live > 0) {
    const int c = gate.WaitForChannel([] {});
    if (c < 0) break;
    InputChannel* channel = gate.channel(c).channel.get();
    for (int round = 0;; ++round) {
      if (round == 16) {
        gate.Requeue(c);
        break;
      }
      std::string_view data;
      NetworkEvent event;
      const Subpartition::PollResult r = channel->Poll(&data, &event);
      if (r == Subpartition::PollResult::kNone) break;
      if (r == Subpartition::PollResult::kError) {
        result.errors[static_cast<size_t>(c)] = std::string(channel->failure().message());
        --live;
        break;
      }
      if (r == Subpartition::PollResult::kData) {
        framers[static_cast<size_t>(c)].Feed(data, [&](std::string_view rec) {
          result.logs[static_cast<size_t>(c)].emplace_back(rec);
          return true;
        });
      } else if (event.kind == NetworkEvent::kWatermark) {
        result.logs[static_cast<size_t>(c)].push_back(WatermarkEntry(event.value));
      } else {
        EXPECT_FALSE(framers[static_cast<size_t>(c)].HasPartialRecord()) << "channel " << c;
        --live;
        break;
      }
    }
  }
  return result;
}

// Runs ReadAll on its own thread; cancels the gate (and fails) after `limit`.
ReadResult ReadAllWithin(InputGate& gate, std::chrono::seconds limit, const char* what) {
  auto reader = std::async(std::launch::async, [&] { return ReadAll(gate); });
  if (reader.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << what << ": the reader did not finish (records lost or a deadlock)";
    gate.Cancel();
  }
  return reader.get();
}

// Writes `records` to subpartition 0 of `partition`, then end-of-partition.
void WriteAll(ResultPartition* partition, const std::vector<std::string>* records, std::atomic<bool>* done) {
  RecordWriter writer(partition, /*flush_always=*/false);
  try {
    for (const std::string& r : *records) writer.Emit(0, r);
    writer.Finish();
    *done = true;
  } catch (const TaskCancelled&) {
  }
}

// ---- Round trips ----

class RoundTripTest : public ::testing::TestWithParam<bool> {};

TEST_P(RoundTripTest, RecordsAndEventsArriveInOrderOnBothSubpartitions) {
  const bool flush_always = GetParam();
  TaskManagerNet producer_tm, consumer_tm;
  auto partition = MakePartition(producer_tm.pool, 6, 2);
  const ResultPartitionId id = PartitionId(3, 1);
  ASSERT_TRUE(producer_tm.registry.Register(id, partition.get()).ok());
  auto gate = RemoteGate(consumer_tm, producer_tm.address(), {{id, 0}, {id, 1}});
  ASSERT_NE(gate, nullptr);

  // Small records and records of several segments, to random channels, with
  // watermarks to all in between.
  struct Item {
    int channel;  // -1: a watermark
    std::string record;
    int64_t watermark;
  };
  std::vector<Item> items;
  std::vector<ChannelLog> expected(2);
  const int count = flush_always ? 3000 : 400;
  for (int i = 0; i < count; ++i) {
    if (i % 50 == 49) {
      items.push_back({-1, "", i});
      for (auto& log : expected) log.push_back(WatermarkEntry(i));
      continue;
    }
    const size_t size = i % 4 == 0 && !flush_always ? static_cast<size_t>(Uniform(33000, 200000))
                                                    : static_cast<size_t>(Uniform(0, 300));
    const int channel = static_cast<int>(Uniform(0, 1));
    items.push_back({channel, MakeRecord(static_cast<uint64_t>(i), size), 0});
    expected[static_cast<size_t>(channel)].push_back(items.back().record);
  }

  std::thread writer_thread([&] {
    RecordWriter writer(partition.get(), flush_always);
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
  ReadResult result = ReadAllWithin(*gate, 60s, "round trip");
  partition->Cancel();
  writer_thread.join();
  for (int c = 0; c < 2; ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(result.errors[static_cast<size_t>(c)], "");
    ExpectSameRecords(result.logs[static_cast<size_t>(c)], expected[static_cast<size_t>(c)]);
  }
  EXPECT_EQ(producer_tm.server.num_connections(), 1) << "both channels share one connection";
  gate.reset();
  producer_tm.registry.Unregister(id);  // returns: every reader lease came back
}

INSTANTIATE_TEST_SUITE_P(BufferTimeout, RoundTripTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "FlushEveryRecord" : "FullBuffers"; });

// ---- Credit-based flow control ----

// Waits until `counter` has not changed for `quiet`; false after `deadline`.
template <class F>
bool WaitUntilStable(F&& value, std::chrono::milliseconds quiet, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  auto last = value();
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(quiet);
    auto now = value();
    if (now == last) return true;
    last = now;
  }
  return false;
}

TEST(CreditTest, AStalledChannelDoesNotBlockAnotherOnTheSameConnection) {
  constexpr int kCredit = 3;
  TaskManagerNet producer_tm;
  TaskManagerNet consumer_tm(10s, kCredit);
  auto slow = MakePartition(producer_tm.pool, 4, 1);
  auto fast = MakePartition(producer_tm.pool, 4, 1);
  const ResultPartitionId slow_id = PartitionId(0, 0), fast_id = PartitionId(0, 1);
  ASSERT_TRUE(producer_tm.registry.Register(slow_id, slow.get()).ok());
  ASSERT_TRUE(producer_tm.registry.Register(fast_id, fast.get()).ok());
  std::vector<RemoteInputChannel*> slow_channel, fast_channel;
  auto slow_gate = RemoteGate(consumer_tm, producer_tm.address(), {{slow_id, 0}}, &slow_channel);
  auto fast_gate = RemoteGate(consumer_tm, producer_tm.address(), {{fast_id, 0}}, &fast_channel);
  ASSERT_NE(slow_gate, nullptr);
  ASSERT_NE(fast_gate, nullptr);

  std::vector<std::string> records;  // ~4 MB: far more than credit + pool
  for (int i = 0; i < 800; ++i) records.push_back(MakeRecord(static_cast<uint64_t>(i), 5000));
  std::atomic<bool> slow_done{false}, fast_done{false};
  std::thread slow_writer(WriteAll, slow.get(), &records, &slow_done);
  std::thread fast_writer(WriteAll, fast.get(), &records, &fast_done);

  // Nobody polls the slow channel; the fast one still runs to completion.
  ReadResult fast_result = ReadAllWithin(*fast_gate, 60s, "fast channel");
  fast_writer.join();
  EXPECT_TRUE(fast_done.load());
  EXPECT_EQ(fast_result.errors[0], "");
  ExpectSameRecords(fast_result.logs[0], records);
  EXPECT_EQ(producer_tm.server.num_connections(), 1);

  // The slow producer is stuck on its exhausted pool; the receiver holds no
  // more of its buffers than it granted credit for.
  EXPECT_TRUE(WaitUntilStable([&] { return slow_channel[0]->queued_buffers(); }, 200ms, 20s));
  EXPECT_FALSE(slow_done.load()) << "the slow producer should be backpressured";
  EXPECT_EQ(slow_channel[0]->queued_buffers(), kCredit);
  EXPECT_LE(slow_channel[0]->max_queued_buffers(), kCredit);

  // Now it drains, in order, and still never exceeds its credit.
  ReadResult slow_result = ReadAllWithin(*slow_gate, 60s, "slow channel");
  if (!slow_done.load()) slow->Cancel();
  slow_writer.join();
  EXPECT_TRUE(slow_done.load());
  EXPECT_EQ(slow_result.errors[0], "");
  ExpectSameRecords(slow_result.logs[0], records);
  EXPECT_LE(slow_channel[0]->max_queued_buffers(), kCredit);
  EXPECT_LE(fast_channel[0]->max_queued_buffers(), kCredit);
}

// ---- Failures ----

TEST(FailureTest, LosingTheConnectionFailsTheChannelNamingTheAddress) {
  TaskManagerNet consumer_tm;
  auto producer_tm = std::make_unique<TaskManagerNet>();
  const std::string address = producer_tm->address();
  auto partition = MakePartition(producer_tm->pool, 4, 1);
  const ResultPartitionId id = PartitionId(1, 0);
  ASSERT_TRUE(producer_tm->registry.Register(id, partition.get()).ok());
  auto gate = RemoteGate(consumer_tm, address, {{id, 0}});
  ASSERT_NE(gate, nullptr);

  // An endless producer.
  std::atomic<bool> stop{false};
  std::thread writer_thread([&] {
    RecordWriter writer(partition.get(), false);
    try {
      for (uint64_t i = 0; !stop; ++i) writer.Emit(0, MakeRecord(i, 1000));
    } catch (const TaskCancelled&) {
    }
  });

  // Read a while, then the producer's TaskManager goes away.
  auto reader = std::async(std::launch::async, [&] { return ReadAll(*gate); });
  std::this_thread::sleep_for(300ms);
  producer_tm->server.Stop();
  const bool finished = reader.wait_for(30s) == std::future_status::ready;
  if (!finished) gate->Cancel();
  ReadResult result = reader.get();
  EXPECT_TRUE(finished) << "the channel did not notice the lost connection";
  EXPECT_GT(result.logs[0].size(), 0u) << "some records arrived before the loss";
  EXPECT_THAT(result.errors[0], HasSubstr("connection to TaskManager " + address + " lost"));

  // The server released its reader: the partition can be unregistered and freed.
  stop = true;
  partition->Cancel();
  writer_thread.join();
  producer_tm->registry.Unregister(id);
  partition.reset();
  producer_tm.reset();

  // Later channels to that address fail to connect, naming it.
  auto again = consumer_tm.connections.CreateInputChannel(address, id, 0);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr(address));
}

TEST(FailureTest, AProducerRegisteredAfterTheRequestIsWaitedFor) {
  TaskManagerNet producer_tm, consumer_tm;
  const ResultPartitionId id = PartitionId(2, 5);
  auto gate = RemoteGate(consumer_tm, producer_tm.address(), {{id, 0}});
  ASSERT_NE(gate, nullptr);
  std::this_thread::sleep_for(300ms);  // the request is waiting on the server by now

  auto partition = MakePartition(producer_tm.pool, 4, 1);
  ASSERT_TRUE(producer_tm.registry.Register(id, partition.get()).ok());
  std::vector<std::string> records;
  for (int i = 0; i < 100; ++i) records.push_back(MakeRecord(static_cast<uint64_t>(i), 3000));
  std::atomic<bool> done{false};
  std::thread writer_thread(WriteAll, partition.get(), &records, &done);
  ReadResult result = ReadAllWithin(*gate, 60s, "late producer");
  if (!done) partition->Cancel();
  writer_thread.join();
  EXPECT_EQ(result.errors[0], "");
  ExpectSameRecords(result.logs[0], records);
}

TEST(FailureTest, AnUnknownPartitionFailsTheChannelAfterTheTimeout) {
  TaskManagerNet producer_tm(200ms), consumer_tm;
  const ResultPartitionId id = PartitionId(7, 3);
  const auto start = std::chrono::steady_clock::now();
  auto gate = RemoteGate(consumer_tm, producer_tm.address(), {{id, 0}});
  ASSERT_NE(gate, nullptr);
  ReadResult result = ReadAllWithin(*gate, 30s, "unknown partition");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms) << "failed before the timeout";
  EXPECT_THAT(result.errors[0], HasSubstr(id.ToString()));
  EXPECT_THAT(result.errors[0], HasSubstr("not registered within 200 ms"));
  EXPECT_THAT(result.errors[0], HasSubstr(producer_tm.address()));
}

TEST(FailureTest, ABadSubpartitionIndexFailsTheChannel) {
  TaskManagerNet producer_tm, consumer_tm;
  auto partition = MakePartition(producer_tm.pool, 2, 1);
  const ResultPartitionId id = PartitionId(0, 0);
  ASSERT_TRUE(producer_tm.registry.Register(id, partition.get()).ok());
  auto gate = RemoteGate(consumer_tm, producer_tm.address(), {{id, 4}});
  ASSERT_NE(gate, nullptr);
  ReadResult result = ReadAllWithin(*gate, 30s, "bad subpartition");
  EXPECT_THAT(result.errors[0], HasSubstr("subpartition 4 requested"));
}

TEST(FailureTest, UnregisteringAPartitionDetachesItsRemoteReaders) {
  TaskManagerNet producer_tm, consumer_tm;
  auto partition = MakePartition(producer_tm.pool, 4, 1);
  const ResultPartitionId id = PartitionId(4, 0);
  ASSERT_TRUE(producer_tm.registry.Register(id, partition.get()).ok());
  std::vector<RemoteInputChannel*> channel;
  auto gate = RemoteGate(consumer_tm, producer_tm.address(), {{id, 0}}, &channel);
  ASSERT_NE(gate, nullptr);
  std::thread writer_thread([&] {
    RecordWriter writer(partition.get(), false);
    try {
      for (uint64_t i = 0;; ++i) writer.Emit(0, MakeRecord(i, 500));
    } catch (const TaskCancelled&) {
    }
  });
  // The consumer does not read: the server's reader is parked on missing credit.
  EXPECT_TRUE(WaitUntilStable([&] { return channel[0]->queued_buffers(); }, 200ms, 20s));
  auto unregistered = std::async(std::launch::async, [&] { producer_tm.registry.Unregister(id); });
  EXPECT_EQ(unregistered.wait_for(20s), std::future_status::ready) << "Unregister() hung on a remote reader";
  partition->Cancel();
  writer_thread.join();
  partition.reset();  // safe: nothing in the transport touches it any more
  ReadResult result = ReadAllWithin(*gate, 30s, "released partition");
  EXPECT_THAT(result.errors[0], HasSubstr("was released"));
  EXPECT_GT(result.logs[0].size(), 0u) << "what arrived before the release is still delivered";
}

TEST(FailureTest, DestroyingTheConnectionManagerFailsItsChannels) {
  TaskManagerNet producer_tm;
  auto consumer_tm = std::make_unique<TaskManagerNet>();
  const ResultPartitionId id = PartitionId(0, 0);
  auto gate = RemoteGate(*consumer_tm, producer_tm.address(), {{id, 0}});
  ASSERT_NE(gate, nullptr);
  consumer_tm.reset();  // the channel outlives its manager
  ReadResult result = ReadAllWithin(*gate, 30s, "closed manager");
  EXPECT_THAT(result.errors[0], HasSubstr("connection manager shut down"));
}

TEST(DataServerTest, StartFailureNamesTheAddress) {
  PartitionRegistry registry;
  DataServer first(&registry, DataServerOptions{"127.0.0.1", 0});
  ASSERT_TRUE(first.Start().ok());
  DataServer second(&registry, DataServerOptions{"127.0.0.1", first.port()});
  absl::Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("127.0.0.1:" + std::to_string(first.port())));
}

TEST(ConnectionManagerTest, AMalformedAddressIsInvalid) {
  ConnectionManager connections;
  auto channel = connections.CreateInputChannel("no-port", PartitionId(0, 0), 0);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(channel.status().message()), HasSubstr("no-port"));
}

// ---- Registry ----

TEST(PartitionRegistryTest, WaitForSeesALateRegistrationAndTimesOut) {
  NetworkBufferPool global(2, 1024);
  auto partition = MakePartition(global, 2, 1);
  PartitionRegistry registry;
  const ResultPartitionId id = PartitionId(1, 1);
  EXPECT_EQ(registry.WaitFor(id, std::chrono::steady_clock::now() + 50ms), nullptr);
  auto waiting = std::async(std::launch::async,
                            [&] { return registry.WaitFor(id, std::chrono::steady_clock::now() + 20s); });
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(registry.Register(id, partition.get()).ok());
  EXPECT_EQ(waiting.get(), partition.get());
  EXPECT_EQ(registry.Register(id, partition.get()).code(), absl::StatusCode::kAlreadyExists);
  registry.Release(id.job_id);
  EXPECT_EQ(registry.WaitFor(id, std::chrono::steady_clock::now()), nullptr);
}

// ---- The reader side of a subpartition that the server relies on ----

struct CountingListener : AvailabilityListener {
  void NotifyDataAvailable(int) override { ++notifications; }
  std::atomic<int> notifications{0};
};

TEST(SubpartitionTest, AListenerAttachedAfterDataIsNotifiedAtOnce) {
  NetworkBufferPool global(2, kSegment);
  auto partition = MakePartition(global, 2, 1);
  RecordWriter writer(partition.get(), false);
  writer.Emit(0, "early");
  writer.Flush();
  CountingListener listener;
  partition->subpartition(0).SetListener(&listener, 0);
  EXPECT_EQ(listener.notifications.load(), 1);
  partition->subpartition(0).SetListener(nullptr, 0);
}

TEST(SubpartitionTest, PollFlushedReturnsOnlyFlushedBytesAndRespectsNoData) {
  NetworkBufferPool global(2, kSegment);
  auto partition = MakePartition(global, 2, 1);
  Subpartition& sub = partition->subpartition(0);
  RecordWriter writer(partition.get(), false);
  std::string_view data;
  NetworkEvent event;
  writer.Emit(0, "abc");
  EXPECT_EQ(sub.PollFlushed(&data, &event, true), Subpartition::PollResult::kNone) << "not flushed yet";
  writer.Flush();
  writer.Emit(0, "defg");  // published, not flushed
  ASSERT_EQ(sub.PollFlushed(&data, &event, true), Subpartition::PollResult::kData);
  EXPECT_EQ(data.size(), 4u) << "only the flushed record (1 + 3 bytes)";
  writer.BroadcastWatermark(9);
  EXPECT_EQ(sub.PollFlushed(&data, &event, false), Subpartition::PollResult::kNone)
      << "data first, no credit";
  ASSERT_EQ(sub.PollFlushed(&data, &event, true), Subpartition::PollResult::kData);
  EXPECT_EQ(data.size(), 5u);
  ASSERT_EQ(sub.PollFlushed(&data, &event, false), Subpartition::PollResult::kEvent)
      << "events need no credit";
  EXPECT_EQ(event.value, 9);
}

}  // namespace
}  // namespace eddy::runtime
