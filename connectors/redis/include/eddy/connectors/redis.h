// The Redis sink: writes one Redis command per record, pipelined, to one
// Redis server (link Eddy::connector_redis).
//
//   using namespace eddy::connectors;
//   RedisConfig config{.host = "127.0.0.1", .port = 6379};
//   counts.addSink(RedisSink<std::pair<std::string, int64_t>>(config, [](const auto& c) {
//     return RedisWrite::set("count:" + c.first, std::to_string(c.second));
//   }), "redis");
//
// Delivery guarantee. Commands are sent in pipelined batches; every reply is
// read and checked when a batch is full, when a checkpoint is taken
// (snapshotState), at the end of the input (finish) and in close(). A
// completed checkpoint therefore means every record before its barrier is in
// Redis, and a restart replays only records after it: at-least-once. The
// upserts SET, HSET, ZADD, SADD and PFADD write the same result when a record
// is replayed, so with them the end state is what an exactly-once run
// leaves. INCRBY and LPUSH are NOT idempotent: a replayed record adds its
// increment again, or pushes its value a second time. EXPIRE only resets a
// key's time to live.
//
// Failures fail the task (and the job restarts by its restart strategy) with
// a std::runtime_error that names the server as host:port: a server that
// cannot be reached after the configured connect attempts (the message gives
// the attempts and the client's last error), a connection lost or timed out
// while writing, and an error reply such as WRONGTYPE (the message gives the
// command and the key).
//
// Metrics: the subtask counter "numRedisCommands" counts the commands Redis
// acknowledged, EXPIRE included (connection set-up, AUTH and SELECT, is not
// counted).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/metrics.h"

namespace eddy::connectors {

// Where the sink writes and how it connects. Checked when the sink is built;
// a bad value throws std::invalid_argument naming the field.
struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Sent with AUTH after connecting, when set.
  std::optional<std::string> password;
  // Chosen with SELECT after connecting (0 is Redis' default).
  int database = 0;
  // Limit on one connection attempt.
  std::chrono::milliseconds connect_timeout{2000};
  // Connection attempts before the sink gives up (at least 1).
  int max_connect_attempts = 3;
  // Pause after the first failed attempt; doubled after each further one.
  std::chrono::milliseconds connect_backoff{100};
  // Limit on waiting for the server while writing; a slower server counts
  // as a lost connection.
  std::chrono::milliseconds command_timeout{10000};
  // Commands sent before their replies are read and checked (at least 1).
  int batch_size = 500;
};

// The Redis commands a sink can write.
enum class RedisCommand { kSet, kHset, kLpush, kZadd, kIncrBy, kSadd, kPfadd };

// The command name as Redis spells it ("SET", "HSET", ...).
const char* RedisCommandName(RedisCommand command);

// One command for one record, made with the factories below, optionally
// followed by EXPIRE on its key.
struct RedisWrite {
  // SET key value
  static RedisWrite set(std::string key, std::string value) {
    return RedisWrite(RedisCommand::kSet, std::move(key), {}, std::move(value));
  }
  // HSET key field value
  static RedisWrite hset(std::string key, std::string field, std::string value) {
    return RedisWrite(RedisCommand::kHset, std::move(key), std::move(field), std::move(value));
  }
  // LPUSH key value (not idempotent)
  static RedisWrite lpush(std::string key, std::string value) {
    return RedisWrite(RedisCommand::kLpush, std::move(key), {}, std::move(value));
  }
  // ZADD key score member
  static RedisWrite zadd(std::string key, double score, std::string member) {
    RedisWrite w(RedisCommand::kZadd, std::move(key), {}, std::move(member));
    w.score = score;
    return w;
  }
  // INCRBY key increment (not idempotent)
  static RedisWrite incrBy(std::string key, int64_t increment) {
    RedisWrite w(RedisCommand::kIncrBy, std::move(key), {}, {});
    w.increment = increment;
    return w;
  }
  // SADD key member
  static RedisWrite sadd(std::string key, std::string member) {
    return RedisWrite(RedisCommand::kSadd, std::move(key), {}, std::move(member));
  }
  // PFADD key element (HyperLogLog)
  static RedisWrite pfadd(std::string key, std::string element) {
    return RedisWrite(RedisCommand::kPfadd, std::move(key), {}, std::move(element));
  }
  // The same command followed by EXPIRE key ttl (whole seconds, at least 1).
  RedisWrite withExpire(std::chrono::seconds ttl) const {
    RedisWrite w = *this;
    w.expire = ttl;
    return w;
  }

  RedisCommand command;
  std::string key;
  std::string field;      // HSET only
  std::string value;      // the value, member or element
  double score = 0;       // ZADD only
  int64_t increment = 0;  // INCRBY only
  std::optional<std::chrono::seconds> expire;

 private:
  RedisWrite(RedisCommand c, std::string k, std::string f, std::string v)
      : command(c), key(std::move(k)), field(std::move(f)), value(std::move(v)) {}
};

namespace internal {

// One connection with its pipeline of unchecked commands. Not thread-safe;
// one per sink instance.
class RedisWriter {
 public:
  // Connects (with the configured attempts and backoff), authenticates and
  // selects the database; throws std::runtime_error naming host:port.
  // `acknowledged` (may be null) counts the commands whose replies were OK.
  RedisWriter(const RedisConfig& config, Counter* acknowledged);
  ~RedisWriter();
  RedisWriter(const RedisWriter&) = delete;
  RedisWriter& operator=(const RedisWriter&) = delete;

  // Queues `write` (and its EXPIRE); sends the pipeline and checks every
  // reply once batch_size commands are queued.
  void Write(const RedisWrite& write);
  // Sends everything queued and checks every reply. Throws std::runtime_error
  // on a lost connection or an error reply; the writer is unusable after.
  void Flush();

 private:
  class Connection;
  std::unique_ptr<Connection> connection_;
};

// Throws std::invalid_argument naming the first bad field of `config`.
void ValidateRedisConfig(const RedisConfig& config);

}  // namespace internal

// Writes every record as the command `mapper` makes of it. Each parallel
// instance opens its own connection in open(); copies (the runtime makes one
// per subtask) share only the configuration and the mapper.
template <class T>
class RedisSink : public RichSinkFunction<T>, public CheckpointedFunction {
 public:
  using Mapper = std::function<RedisWrite(const T&)>;

  // Throws std::invalid_argument on a bad configuration or an empty mapper.
  RedisSink(RedisConfig config, Mapper mapper) : config_(std::move(config)), mapper_(std::move(mapper)) {
    internal::ValidateRedisConfig(config_);
    if (!mapper_) throw std::invalid_argument("RedisSink: the mapper is empty");
  }
  RedisSink(const RedisSink& o) : config_(o.config_), mapper_(o.mapper_) {}
  RedisSink& operator=(const RedisSink&) = delete;

  void open(RuntimeContext& context) override {
    writer_ = std::make_unique<internal::RedisWriter>(config_, &context.getMetricGroup().counter("numRedisCommands"));
  }
  void invoke(const T& value) override { writer_->Write(mapper_(value)); }
  // Nothing of the sink's own is stored; a checkpoint waits until Redis has
  // acknowledged every command sent before its barrier.
  void initializeState(FunctionInitializationContext&) override {}
  void snapshotState(const FunctionSnapshotContext&) override {
    if (writer_) writer_->Flush();
  }
  void finish() override {
    if (writer_) writer_->Flush();
  }
  // Flushes and disconnects; the writer is dropped even when flushing throws.
  void close() override {
    std::unique_ptr<internal::RedisWriter> writer = std::move(writer_);
    if (writer) writer->Flush();
  }

 private:
  RedisConfig config_;
  Mapper mapper_;
  std::unique_ptr<internal::RedisWriter> writer_;
};

}  // namespace eddy::connectors
