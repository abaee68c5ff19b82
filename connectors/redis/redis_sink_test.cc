// RedisSink against a real redis-server that each test starts on a free
// loopback port in a temporary directory. The sink is driven the way a task
// drives it (runtime context, initializeState, open, records, snapshotState,
// finish, close) and inside real jobs on the embedded cluster; what Redis
// holds is read back with hiredis and compared with values computed here by
// plain loops over the same records.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/testing/function_harness.h"
#include "eddy/checkpoint.h"
#include "eddy/connectors/redis.h"
#include "eddy/eddy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using eddy::connectors::RedisConfig;
using eddy::connectors::RedisSink;
using eddy::connectors::RedisWrite;
using ::testing::HasSubstr;

// ---- A redis-server of the test's own ----

// A loopback port nothing listens on right now.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind a loopback socket");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

// The test's own client, to read back what the sink wrote.
class Client {
 public:
  explicit Client(int port, int database = 0) {
    context_.reset(redisConnect("127.0.0.1", port));
    if (context_ == nullptr || context_->err) throw std::runtime_error("test client cannot connect");
    if (database != 0) Command({"SELECT", std::to_string(database)});
  }
  Reply Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (reply == nullptr) throw std::runtime_error(std::string("test client: ") + context_->errstr);
    return reply;
  }
  // GET key, or "<nil>".
  std::string Get(const std::string& key) {
    Reply r = Command({"GET", key});
    return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "<nil>";
  }
  int64_t Integer(const std::vector<std::string>& args) {
    Reply r = Command(args);
    if (r->type != REDIS_REPLY_INTEGER) throw std::runtime_error("not an integer reply: " + args[0]);
    return r->integer;
  }
  // The strings of an array reply.
  std::vector<std::string> Strings(const std::vector<std::string>& args) {
    Reply r = Command(args);
    std::vector<std::string> out;
    for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
    return out;
  }

 private:
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

// redis-server on a free loopback port, without persistence, in a temporary
// directory; stopped and removed when destroyed.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {}) {
    dir_ = fs::path(::testing::TempDir()) /
           ("eddy_redis_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    // Another process may take the chosen port between FreePort() and the
    // server's bind: try a few ports.
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) Start(extra_args);
    if (pid_ <= 0) throw std::runtime_error("redis-server did not start; see " + (dir_ / "redis.log").string());
  }
  ~RedisServer() {
    Stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  int port() const { return port_; }
  // Kills the server now (a crash, as far as clients can tell).
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  void Start(const std::vector<std::string>& extra_args) {
    port_ = FreePort();
    const std::string dir = dir_.string(), log = (dir_ / "redis.log").string();
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir",        dir,      "--logfile",           log};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (::posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start redis-server (is it installed?)");
    }
    // Ready once it answers PING (with NOAUTH if it wants a password).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) return;  // exited: port taken
      std::unique_ptr<redisContext, ContextDeleter> c(redisConnect("127.0.0.1", port_));
      if (c != nullptr && c->err == 0) {
        Reply r(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
        if (r != nullptr) {
          pid_ = pid;
          return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }

  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// ---- Driving a sink as a task does ----

// One sink instance, copied and opened the way the runtime does it, as
// subtask 0 of 1.
template <class T>
using SinkHarness = eddy::testing::FunctionHarness<RedisSink<T>>;

// The Redis commands `harness`'s sink sent.
template <class T>
int64_t Commands(SinkHarness<T>& harness) {
  return harness.runtime().Count("numRedisCommands");
}

RedisConfig ConfigFor(int port, int batch_size = 100) {
  RedisConfig config;
  config.port = port;
  config.batch_size = batch_size;
  return config;
}

// A page view: who, which page, and an amount.
struct View {
  std::string user;
  std::string page;
  int64_t amount = 0;
};

// Seeded views over few users and pages, so that keys repeat.
std::vector<View> Views(int n, int users, int pages, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<View> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(View{"u" + std::to_string(random() % users), "p" + std::to_string(random() % pages),
                       static_cast<int64_t>(random() % 1000) - 200});
  }
  return out;
}

class RedisSinkTest : public ::testing::Test {
 protected:
  RedisServer server_;
};

// ---- Each command ----

TEST_F(RedisSinkTest, EachCommandWritesWhatAReferenceComputationPredicts) {
  const std::vector<View> views = Views(3000, 40, 25, 7);
  // The commands, each on keys of its own; a batch size that does not divide
  // the record count, so that full batches and a last partial one are sent.
  std::vector<RedisSink<View>> sinks = {
      RedisSink<View>(ConfigFor(server_.port(), 7),
                      [](const View& v) { return RedisWrite::set("last:" + v.user, v.page); }),
      RedisSink<View>(
          ConfigFor(server_.port(), 7),
          [](const View& v) { return RedisWrite::hset("pages:" + v.user, v.page, std::to_string(v.amount)); }),
      RedisSink<View>(ConfigFor(server_.port(), 7),
                      [](const View& v) { return RedisWrite::lpush("history:" + v.user, v.page); }),
      RedisSink<View>(ConfigFor(server_.port(), 7),
                      [](const View& v) { return RedisWrite::zadd("rank", v.amount / 4.0, v.page); }),
      RedisSink<View>(ConfigFor(server_.port(), 7),
                      [](const View& v) { return RedisWrite::incrBy("total:" + v.user, v.amount); }),
      RedisSink<View>(ConfigFor(server_.port(), 7),
                      [](const View& v) { return RedisWrite::sadd("seen:" + v.user, v.page); }),
      RedisSink<View>(ConfigFor(server_.port(), 7), [](const View& v) { return RedisWrite::pfadd("uv", v.user); }),
      RedisSink<View>(
          ConfigFor(server_.port(), 7),
          [](const View& v) { return RedisWrite::set("ttl:" + v.user, v.page).withExpire(std::chrono::seconds(500)); }),
  };
  std::vector<int64_t> commands;
  for (const auto& sink : sinks) {
    SinkHarness<View> harness(sink);
    harness.Write(views);
    harness.Finish();
    harness.Close();
    commands.push_back(Commands(harness));
  }

  // The reference: what each command leaves, by plain loops.
  std::map<std::string, std::string> last;
  std::map<std::string, std::map<std::string, std::string>> pages;
  std::map<std::string, std::vector<std::string>> history;  // newest first, as LRANGE gives it
  std::map<std::string, double> rank;
  std::map<std::string, int64_t> total;
  std::map<std::string, std::set<std::string>> seen;
  std::set<std::string> users;
  for (const View& v : views) {
    last[v.user] = v.page;
    pages[v.user][v.page] = std::to_string(v.amount);
    history[v.user].insert(history[v.user].begin(), v.page);
    rank[v.page] = v.amount / 4.0;
    total[v.user] += v.amount;
    seen[v.user].insert(v.page);
    users.insert(v.user);
  }

  Client client(server_.port());
  for (const std::string& user : users) {
    EXPECT_EQ(client.Get("last:" + user), last[user]) << user;
    std::map<std::string, std::string> hash;
    const auto flat = client.Strings({"HGETALL", "pages:" + user});
    for (size_t i = 0; i + 1 < flat.size(); i += 2) hash[flat[i]] = flat[i + 1];
    EXPECT_EQ(hash, pages[user]) << user;
    EXPECT_EQ(client.Strings({"LRANGE", "history:" + user, "0", "-1"}), history[user]) << user;
    EXPECT_EQ(client.Get("total:" + user), std::to_string(total[user])) << user;
    const auto members = client.Strings({"SMEMBERS", "seen:" + user});
    EXPECT_EQ(std::set<std::string>(members.begin(), members.end()), seen[user]) << user;
    EXPECT_EQ(client.Get("ttl:" + user), last[user]) << user;
    const int64_t ttl = client.Integer({"TTL", "ttl:" + user});
    EXPECT_GT(ttl, 400) << user;
    EXPECT_LE(ttl, 500) << user;
  }
  std::map<std::string, double> zset;
  const auto flat = client.Strings({"ZRANGE", "rank", "0", "-1", "WITHSCORES"});
  for (size_t i = 0; i + 1 < flat.size(); i += 2) zset[flat[i]] = std::stod(flat[i + 1]);
  EXPECT_EQ(zset, rank);
  // HyperLogLog counts are estimates: Redis promises a standard error of
  // 0.81%; with 40 elements it is exact in practice, allow one off.
  EXPECT_NEAR(client.Integer({"PFCOUNT", "uv"}), static_cast<int64_t>(users.size()), 1);

  // numRedisCommands: one command per record, two with EXPIRE.
  const int64_t n = static_cast<int64_t>(views.size());
  EXPECT_EQ(commands, (std::vector<int64_t>{n, n, n, n, n, n, n, 2 * n}));
}

TEST_F(RedisSinkTest, BinaryKeysAndValuesArriveUnchanged) {
  const std::string key("k\0ey\r\n", 6), value("v\0\xff\n", 4);
  SinkHarness<int> harness(
      RedisSink<int>(ConfigFor(server_.port()), [&](const int&) { return RedisWrite::set(key, value); }));
  harness.Write(std::vector<int>{1});
  harness.Close();
  EXPECT_EQ(Client(server_.port()).Get(key), value);
}

// ---- When records reach Redis ----

TEST_F(RedisSinkTest, RecordsAreInRedisOnceSnapshotStateReturns) {
  auto set_key = [](const int& i) { return RedisWrite::set("k" + std::to_string(i), "v" + std::to_string(i)); };
  Client client(server_.port());
  SinkHarness<int> harness(RedisSink<int>(ConfigFor(server_.port(), 1000), set_key));
  std::vector<int> first(25);
  for (int i = 0; i < 25; ++i) first[i] = i;
  harness.Write(first);
  // Queued in the pipeline, not yet sent: Redis has none of them.
  EXPECT_EQ(client.Integer({"DBSIZE"}), 0);
  EXPECT_EQ(Commands(harness), 0);
  harness.Checkpoint(1);
  EXPECT_EQ(client.Integer({"DBSIZE"}), 25);
  for (int i : first) EXPECT_EQ(client.Get("k" + std::to_string(i)), "v" + std::to_string(i));
  EXPECT_EQ(Commands(harness), 25);

  // Later records wait for the next checkpoint; earlier ones stay.
  harness.Write(std::vector<int>{25, 26});
  EXPECT_EQ(client.Integer({"DBSIZE"}), 25);
  harness.Checkpoint(2);
  EXPECT_EQ(client.Integer({"DBSIZE"}), 27);
  EXPECT_EQ(client.Get("k26"), "v26");
  harness.Close();
}

TEST_F(RedisSinkTest, FullBatchesAreSentAndCheckedAndFinishSendsTheRest) {
  Client client(server_.port());
  SinkHarness<int> harness(RedisSink<int>(ConfigFor(server_.port(), 4),
                                          [](const int& i) { return RedisWrite::set("k" + std::to_string(i), "x"); }));
  std::vector<int> records(10);
  for (int i = 0; i < 10; ++i) records[i] = i;
  harness.Write(records);
  // Two full batches of 4 are in Redis, the last 2 records are still queued.
  std::vector<std::string> present;
  for (int i : records) {
    if (client.Get("k" + std::to_string(i)) == "x") present.push_back("k" + std::to_string(i));
  }
  EXPECT_EQ(present, (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}));
  harness.Finish();
  EXPECT_EQ(client.Integer({"DBSIZE"}), 10);
  EXPECT_EQ(Commands(harness), 10);
  harness.Close();
}

// A crash after checkpoint 1 and a restart from it, as the runtime does it:
// the sink is destroyed without close(), and a new instance gets the records
// after the checkpoint again. (The embedded cluster does not restart failed
// jobs, so the replay is driven here.)
TEST_F(RedisSinkTest, ReplayFromACheckpointRepeatsUpsertsHarmlesslyAndIncrementsTwice) {
  constexpr int kBatch = 4;
  std::vector<std::pair<std::string, int64_t>> before, after;
  for (int64_t i = 0; i < 30; ++i) before.emplace_back("k" + std::to_string(i % 5), i);
  for (int64_t i = 30; i < 40; ++i) after.emplace_back("k" + std::to_string(i % 5), i);
  using Record = std::pair<std::string, int64_t>;
  const RedisSink<Record> set_sink(ConfigFor(server_.port(), kBatch), [](const Record& r) {
    return RedisWrite::set("last:" + r.first, std::to_string(r.second));
  });
  const RedisSink<Record> incr_sink(ConfigFor(server_.port(), kBatch),
                                    [](const Record& r) { return RedisWrite::incrBy("total:" + r.first, r.second); });
  for (const auto* sink : {&set_sink, &incr_sink}) {
    auto first = std::make_unique<SinkHarness<Record>>(*sink);
    first->Write(before);
    first->Checkpoint(1);
    first->Write(after);  // two full batches of 4 reach Redis, 2 records do not
    first.reset();        // crash
    SinkHarness<Record> restarted(*sink);
    restarted.Write(after);
    restarted.Finish();
    restarted.Close();
  }

  // SET: what one run without failure leaves. INCRBY: the increments of the
  // 8 replayed records that had reached Redis before the crash count twice.
  std::map<std::string, int64_t> last, total;
  for (const auto& r : before) last[r.first] = r.second, total[r.first] += r.second;
  for (const auto& r : after) last[r.first] = r.second, total[r.first] += r.second;
  for (size_t i = 0; i < 2 * kBatch; ++i) total[after[i].first] += after[i].second;
  Client client(server_.port());
  for (const auto& [key, value] : last) EXPECT_EQ(client.Get("last:" + key), std::to_string(value)) << key;
  for (const auto& [key, value] : total) EXPECT_EQ(client.Get("total:" + key), std::to_string(value)) << key;
}

// ---- Real jobs on the embedded cluster ----

std::pair<std::string, int64_t> KeyOf(const int64_t& i) { return {"key" + std::to_string(i * 7919 % 37), i}; }

TEST_F(RedisSinkTest, JobWritesPerKeySumsWithSetAtParallelismTwo) {
  constexpr int64_t kRecords = 20000;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.enableCheckpointing(20);
  // Slow enough for checkpoints to be taken while records flow.
  env.fromSequence(0, kRecords - 1)
      .map([](const int64_t& i) {
        if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return KeyOf(i);
      })
      .keyBy([](const std::pair<std::string, int64_t>& p) { return p.first; })
      .sum(1)
      .addSink(RedisSink<std::pair<std::string, int64_t>>(ConfigFor(server_.port()),
                                                          [](const std::pair<std::string, int64_t>& p) {
                                                            return RedisWrite::set("sum:" + p.first,
                                                                                   std::to_string(p.second));
                                                          }),
               "redis");
  env.execute("redis-per-key-sums");

  std::map<std::string, int64_t> reference;
  for (int64_t i = 0; i < kRecords; ++i) reference["sum:" + KeyOf(i).first] += i;
  Client client(server_.port());
  EXPECT_EQ(client.Integer({"DBSIZE"}), static_cast<int64_t>(reference.size()));
  for (const auto& [key, sum] : reference) EXPECT_EQ(client.Get(key), std::to_string(sum)) << key;
}

TEST_F(RedisSinkTest, JobFailsWithTheServerAddressWhenRedisIsUnreachable) {
  const int port = FreePort();
  RedisConfig config = ConfigFor(port);
  config.max_connect_attempts = 2;
  config.connect_backoff = std::chrono::milliseconds(10);
  eddy::StreamExecutionEnvironment env;
  env.fromSequence(0, 9).addSink(
      RedisSink<int64_t>(config, [](const int64_t& i) { return RedisWrite::set("k", std::to_string(i)); }), "redis");
  try {
    env.execute("redis-unreachable");
    FAIL() << "the job succeeded without a Redis server";
  } catch (const eddy::JobExecutionException& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port)));
  }
}

// ---- Failures ----

TEST_F(RedisSinkTest, UnreachableServerFailsAfterBoundedAttemptsNamingHostAndPort) {
  const int port = FreePort();
  RedisConfig config = ConfigFor(port);
  config.max_connect_attempts = 3;
  config.connect_backoff = std::chrono::milliseconds(50);
  const RedisSink<int> sink(config, [](const int&) { return RedisWrite::set("k", "v"); });
  const auto start = std::chrono::steady_clock::now();
  try {
    SinkHarness<int> harness(sink);
    FAIL() << "open() connected to a port nothing listens on";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(e.what(), HasSubstr("after 3 connection attempts"));
    EXPECT_THAT(e.what(), HasSubstr("Connection refused"));
  }
  // Backoff 50 + 100 ms between three refused attempts: well under a second;
  // the bound only guards against unbounded retrying.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(RedisSinkTest, ErrorReplyNamesTheCommandAndTheKey) {
  Client client(server_.port());
  client.Command({"LPUSH", "a-list", "x"});
  const std::vector<std::string> keys = {"fine", "a-list", "after"};
  SinkHarness<std::string> harness(RedisSink<std::string>(
      ConfigFor(server_.port()), [](const std::string& key) { return RedisWrite::hset(key, "field", "value"); }));
  harness.Write(keys);
  try {
    harness.Checkpoint(1);
    FAIL() << "HSET on a list was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("HSET"));
    EXPECT_THAT(e.what(), HasSubstr("'a-list'"));
    EXPECT_THAT(e.what(), HasSubstr("WRONGTYPE"));
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server_.port())));
  }
  // The command before the bad one was applied; the list is unchanged.
  EXPECT_EQ(client.Strings({"HGETALL", "fine"}), (std::vector<std::string>{"field", "value"}));
  EXPECT_EQ(client.Strings({"LRANGE", "a-list", "0", "-1"}), std::vector<std::string>{"x"});
  // The task is failing: close() does not hang and reports the same error.
  EXPECT_THROW(harness.Close(), std::runtime_error);
}

TEST_F(RedisSinkTest, LostConnectionFailsNamingHostAndPort) {
  SinkHarness<int> harness(
      RedisSink<int>(ConfigFor(server_.port()), [](const int& i) { return RedisWrite::incrBy("n", i); }));
  harness.Write(std::vector<int>{1, 2, 3});
  harness.Checkpoint(1);
  EXPECT_EQ(Client(server_.port()).Get("n"), "6");
  server_.Stop();
  harness.Write(std::vector<int>{4, 5});
  try {
    harness.Checkpoint(2);
    FAIL() << "writing to a stopped server succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server_.port())));
    EXPECT_THAT(e.what(), HasSubstr("failed while writing INCRBY on key 'n'"));
  }
}

TEST_F(RedisSinkTest, ServerThatStopsAnsweringFailsAfterTheCommandTimeout) {
  // A listening socket that accepts connections and never answers.
  const int port = FreePort();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const std::unique_ptr<const int, void (*)(const int*)> closer(&fd, [](const int* f) { ::close(*f); });
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  RedisConfig config = ConfigFor(port);
  config.command_timeout = std::chrono::milliseconds(200);
  SinkHarness<int> harness(RedisSink<int>(config, [](const int&) { return RedisWrite::sadd("members", "m"); }));
  harness.Write(std::vector<int>{1});
  try {
    harness.Checkpoint(1);
    FAIL() << "a server that never answers confirmed the write";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(e.what(), HasSubstr("SADD on key 'members'"));
    EXPECT_THAT(e.what(), HasSubstr("no reply within the command timeout of 200 ms"));
  }
}

// ---- Configuration ----

TEST(RedisSinkConfigTest, BadSettingsAreRejectedNamingTheField) {
  auto mapper = [](const int&) { return RedisWrite::set("k", "v"); };
  RedisConfig config;
  config.batch_size = 0;
  EXPECT_THAT([&] { RedisSink<int>(config, mapper); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("batch_size 0")));
  config = RedisConfig();
  config.port = 70000;
  EXPECT_THAT([&] { RedisSink<int>(config, mapper); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("port 70000")));
  config = RedisConfig();
  config.max_connect_attempts = 0;
  EXPECT_THAT([&] { RedisSink<int>(config, mapper); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("max_connect_attempts")));
  EXPECT_THAT([&] { RedisSink<int>(RedisConfig(), nullptr); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("mapper")));
}

TEST(RedisSinkAuthTest, PasswordAndDatabaseAreUsedAndAWrongPasswordIsReported) {
  RedisServer server({"--requirepass", "s3cret"});
  RedisConfig config = ConfigFor(server.port());
  config.password = "s3cret";
  config.database = 3;
  SinkHarness<int> harness(RedisSink<int>(config, [](const int&) { return RedisWrite::set("where", "db3"); }));
  harness.Write(std::vector<int>{1});
  harness.Close();
  Client db0(server.port());
  db0.Command({"AUTH", "s3cret"});
  EXPECT_EQ(db0.Get("where"), "<nil>");
  db0.Command({"SELECT", "3"});
  EXPECT_EQ(db0.Get("where"), "db3");

  config.password = "bad-pw-7731";
  try {
    SinkHarness<int> refused(RedisSink<int>(config, [](const int&) { return RedisWrite::set("k", "v"); }));
    FAIL() << "a wrong password was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(server.port()) + " refused AUTH"));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("bad-pw-7731")));
  }
}

}  // namespace
