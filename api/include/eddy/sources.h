// Built-in sources: collections, text files, sockets, sequences and generators.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/functions.h"

namespace eddy {

// Emits the given elements in order (non-parallel).
template <class T>
class CollectionSource : public SourceFunction<T> {
 public:
  explicit CollectionSource(std::vector<T> elements)
      : elements_(std::make_shared<const std::vector<T>>(std::move(elements))) {}
  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    for (const T& e : *elements_) {
      if (!ctx.isRunning()) return;
      ctx.collect(e);
    }
  }

 private:
  std::shared_ptr<const std::vector<T>> elements_;  // shared by every copy
};

// Lines of a file, or of every regular file under a directory (sorted by path).
// Files are cut into byte-range splits; subtask i reads splits i, i+p, i+2p...
// A split owns every line that starts inside it, so no line is read twice.
class TextFileSource : public RichParallelSourceFunction<std::string> {
 public:
  explicit TextFileSource(std::string path, int64_t split_size = 8 << 20)
      : path_(std::move(path)), split_size_(split_size) {}
  void run(SourceContext& ctx) override;

 private:
  std::string path_;
  int64_t split_size_;
};

// Lines from a TCP server. Ends when the server closes the connection.
class SocketTextSource : public SourceFunction<std::string> {
 public:
  SocketTextSource(std::string host, int port, char delimiter)
      : host_(std::move(host)), port_(port), delimiter_(delimiter) {}
  SocketTextSource(const SocketTextSource& other)
      : host_(other.host_), port_(other.port_), delimiter_(other.delimiter_) {}
  void run(SourceContext& ctx) override;
  void cancel() override;

 private:
  std::string host_;
  int port_;
  char delimiter_;
  std::atomic<int> fd_{-1};
};

// The numbers [from, to]; each subtask emits one contiguous range.
class SequenceSource : public RichParallelSourceFunction<int64_t> {
 public:
  SequenceSource(int64_t from, int64_t to) : from_(from), to_(to) {}
  void run(SourceContext& ctx) override;

 private:
  int64_t from_;
  int64_t to_;
};

// Limits a source to a number of records per second (over all its subtasks).
class RateLimiterStrategy {
 public:
  static RateLimiterStrategy noLimit() { return RateLimiterStrategy(0); }
  static RateLimiterStrategy perSecond(double records_per_second) {
    return RateLimiterStrategy(records_per_second);
  }
  double records_per_second() const { return rate_; }

 private:
  explicit RateLimiterStrategy(double rate) : rate_(rate) {}
  double rate_;
};

namespace internal {
// Sleeps as needed so that emitting record number `emitted` (counted from the
// start) keeps to `rate` per second; flushes `ctx` before sleeping.
class RateLimiter {
 public:
  explicit RateLimiter(double rate) : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  template <class Ctx>
  void Acquire(int64_t emitted, Ctx& ctx) {
    if (rate_ <= 0) return;
    auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(emitted) / rate_));
    auto now = std::chrono::steady_clock::now();
    if (due > now) {
      ctx.flush();
      std::this_thread::sleep_until(due);
    }
  }

 private:
  double rate_;
  std::chrono::steady_clock::time_point start_;
};
}  // namespace internal

// Generates records from their index: record i is generator(i), for i in
// [0, count) (count < 0: unbounded). Subtasks take contiguous index ranges.
template <class T>
class DataGeneratorSource : public RichParallelSourceFunction<T> {
 public:
  using Generator = std::function<T(int64_t)>;
  DataGeneratorSource(Generator generator, int64_t count,
                      RateLimiterStrategy rate = RateLimiterStrategy::noLimit())
      : generator_(std::move(generator)), count_(count), rate_(rate) {}

  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    const int p = this->getRuntimeContext().getNumberOfParallelSubtasks();
    const int i = this->getRuntimeContext().getIndexOfThisSubtask();
    int64_t begin = 0, end = -1;
    if (count_ >= 0) {
      // count * i / p, computed as q * i + r * i / p (count = q * p + r) so that
      // counts near INT64_MAX (Flink's "unbounded" idiom) do not overflow.
      const int64_t q = count_ / p, r = count_ % p;
      begin = q * i + r * i / p;
      end = q * (i + 1) + r * (i + 1) / p;
    }
    internal::RateLimiter limiter(rate_.records_per_second() / p);
    int64_t emitted = 0;
    if (count_ < 0) {
      // Unbounded: subtask i takes indexes i, i+p, i+2p, ...
      for (int64_t index = i; ctx.isRunning(); index += p) {
        limiter.Acquire(emitted++, ctx);
        ctx.collect(generator_(index));
      }
      return;
    }
    for (int64_t index = begin; index < end && ctx.isRunning(); ++index) {
      limiter.Acquire(emitted++, ctx);
      ctx.collect(generator_(index));
    }
  }

 private:
  Generator generator_;
  int64_t count_;
  RateLimiterStrategy rate_;
};

}  // namespace eddy
