// The Redis sink's connection: connecting with bounded retries, pipelining
// commands with hiredis and checking every reply.
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "eddy/connectors/redis.h"

namespace eddy::connectors {

const char* RedisCommandName(RedisCommand command) {
  switch (command) {
    case RedisCommand::kSet:
      return "SET";
    case RedisCommand::kHset:
      return "HSET";
    case RedisCommand::kLpush:
      return "LPUSH";
    case RedisCommand::kZadd:
      return "ZADD";
    case RedisCommand::kIncrBy:
      return "INCRBY";
    case RedisCommand::kSadd:
      return "SADD";
    case RedisCommand::kPfadd:
      return "PFADD";
  }
  return "UNKNOWN";
}

namespace internal {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// The shortest text that reads back as the same double.
std::string FormatScore(double score) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, score);
  return std::string(buffer, result.ptr);
}

// Keys in error messages: quoted, and cut if very long.
std::string QuoteKey(const std::string& key) {
  constexpr size_t kMaxShown = 200;
  std::string quoted = "'";
  quoted.append(key, 0, kMaxShown);
  quoted += '\'';
  if (key.size() > kMaxShown) quoted += " (cut; " + std::to_string(key.size()) + " bytes)";
  return quoted;
}

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// hiredis sends with write(), which raises SIGPIPE on a socket the server has
// closed; a process that does not ignore SIGPIPE (an embedded cluster inside
// a user's program) would die of it. Blocks SIGPIPE on this thread while
// alive and discards one raised meanwhile, so the failure stays an error value.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~ScopedSigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec no_wait{0, 0};
      sigtimedwait(&pipe_, nullptr, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

}  // namespace

void ValidateRedisConfig(const RedisConfig& config) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("RedisConfig: " + what); };
  if (config.host.empty()) fail("host is empty");
  if (config.port < 1 || config.port > 65535) fail("port " + std::to_string(config.port) + " is not in 1..65535");
  if (config.database < 0) fail("database " + std::to_string(config.database) + " is negative");
  if (config.connect_timeout.count() <= 0) fail("connect_timeout must be positive");
  if (config.command_timeout.count() <= 0) fail("command_timeout must be positive");
  if (config.connect_backoff.count() < 0) fail("connect_backoff is negative");
  if (config.max_connect_attempts < 1) {
    fail("max_connect_attempts " + std::to_string(config.max_connect_attempts) + " is below 1");
  }
  if (config.batch_size < 1) fail("batch_size " + std::to_string(config.batch_size) + " is below 1");
}

class RedisWriter::Connection {
 public:
  Connection(const RedisConfig& config, Counter* acknowledged)
      : config_(config), address_(config.host + ":" + std::to_string(config.port)), acknowledged_(acknowledged) {
    Connect();
    if (config_.password) SetUp({"AUTH", *config_.password}, "AUTH");
    if (config_.database != 0) {
      const std::string db = std::to_string(config_.database);
      SetUp({"SELECT", db}, "SELECT " + db);
    }
    if (redisSetTimeout(context_.get(), ToTimeval(config_.command_timeout)) != REDIS_OK) {
      throw std::runtime_error("Redis at " + address_ + ": cannot set the command timeout: " + context_->errstr);
    }
  }

  void Write(const RedisWrite& write) {
    RequireUsable();
    const char* name = RedisCommandName(write.command);
    switch (write.command) {
      case RedisCommand::kSet:
      case RedisCommand::kLpush:
      case RedisCommand::kSadd:
      case RedisCommand::kPfadd:
        Append(name, write.key, {name, write.key, write.value});
        break;
      case RedisCommand::kHset:
        Append(name, write.key, {name, write.key, write.field, write.value});
        break;
      case RedisCommand::kZadd:
        Append(name, write.key, {name, write.key, FormatScore(write.score), write.value});
        break;
      case RedisCommand::kIncrBy:
        Append(name, write.key, {name, write.key, std::to_string(write.increment)});
        break;
    }
    if (write.expire) Append("EXPIRE", write.key, {"EXPIRE", write.key, std::to_string(write.expire->count())});
    if (static_cast<int>(sent_.size()) >= config_.batch_size) Flush();
  }

  void Flush() {
    RequireUsable();
    ScopedSigpipeBlock no_sigpipe;
    for (size_t i = 0; i < sent_.size(); ++i) {
      const Sent& sent = sent_[i];
      void* raw = nullptr;
      if (redisGetReply(context_.get(), &raw) != REDIS_OK) {
        // The connection is gone (or timed out): nothing after this reply is known.
        const bool timed_out = context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        const std::string cause = timed_out ? "no reply within the command timeout of " +
                                                  std::to_string(config_.command_timeout.count()) + " ms"
                                            : std::string(context_->errstr);
        Fail("Redis connection to " + address_ + " failed while writing " + sent.command + " on key " +
             QuoteKey(sent.key) + " (" + std::to_string(sent_.size() - i) + " commands unconfirmed): " + cause);
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR) {
        Fail("Redis at " + address_ + " rejected " + sent.command + " on key " + QuoteKey(sent.key) + ": " +
             std::string(reply->str, reply->len));
      }
      if (acknowledged_ != nullptr) acknowledged_->inc();
    }
    sent_.clear();
  }

 private:
  // A command sent and not yet confirmed, for error messages.
  struct Sent {
    std::string command;
    std::string key;
  };

  void Connect() {
    std::chrono::milliseconds backoff = config_.connect_backoff;
    std::string last_error;
    for (int attempt = 1; attempt <= config_.max_connect_attempts; ++attempt) {
      ContextPtr context(
          redisConnectWithTimeout(config_.host.c_str(), config_.port, ToTimeval(config_.connect_timeout)));
      if (context != nullptr && context->err == 0) {
        context_ = std::move(context);
        return;
      }
      last_error = context != nullptr ? context->errstr : "cannot allocate a connection";
      if (attempt < config_.max_connect_attempts) {
        std::this_thread::sleep_for(backoff);
        backoff *= 2;
      }
    }
    throw std::runtime_error("Redis at " + address_ + " is unreachable after " +
                             std::to_string(config_.max_connect_attempts) + " connection attempt" +
                             (config_.max_connect_attempts == 1 ? "" : "s") + ": " + last_error);
  }

  // Runs a connection set-up command and requires an OK reply; `shown` is
  // how the message names it (never the password).
  void SetUp(const std::vector<std::string>& args, const std::string& shown) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    ScopedSigpipeBlock no_sigpipe;
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (reply == nullptr) {
      throw std::runtime_error("Redis connection to " + address_ + " failed during " + shown + ": " + context_->errstr);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      throw std::runtime_error("Redis at " + address_ + " refused " + shown + ": " +
                               std::string(reply->str, reply->len));
    }
  }

  // Queues one command; `name` and `key` are kept for error messages.
  void Append(const char* name, const std::string& key, std::initializer_list<std::string_view> args) {
    argv_.clear();
    lengths_.clear();
    for (std::string_view a : args) {
      argv_.push_back(a.data());
      lengths_.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv_.size()), argv_.data(), lengths_.data()) !=
        REDIS_OK) {
      Fail(std::string("Redis connection to ") + address_ + ": cannot queue " + name + " on key " + QuoteKey(key) +
           ": " + context_->errstr);
    }
    sent_.push_back(Sent{name, key});
  }

  void RequireUsable() const {
    if (context_ == nullptr) {
      throw std::runtime_error("Redis connection to " + address_ + " is closed after an earlier error: " + failure_);
    }
  }
  // Drops the connection (its pipeline is in an unknown state) and throws.
  [[noreturn]] void Fail(const std::string& message) {
    failure_ = message;
    context_.reset();
    sent_.clear();
    throw std::runtime_error(message);
  }

  RedisConfig config_;
  std::string address_;  // host:port, for messages
  Counter* acknowledged_;
  ContextPtr context_;
  std::vector<Sent> sent_;
  std::string failure_;
  // Reused argument arrays of Append.
  std::vector<const char*> argv_;
  std::vector<size_t> lengths_;
};

RedisWriter::RedisWriter(const RedisConfig& config, Counter* acknowledged)
    : connection_(std::make_unique<Connection>(config, acknowledged)) {}
RedisWriter::~RedisWriter() = default;
void RedisWriter::Write(const RedisWrite& write) { connection_->Write(write); }
void RedisWriter::Flush() { connection_->Flush(); }

}  // namespace internal
}  // namespace eddy::connectors
