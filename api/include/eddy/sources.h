// Built-in sources: collections, text files, sockets, sequences and generators.
//
// Every source here except SocketTextSource is a CheckpointedFunction: its
// operator state (getListState) lists the work it has not emitted yet, so it
// rewinds to the last checkpoint, also at another parallelism (the restored
// lists are redistributed in even contiguous parts, see eddy/checkpoint.h).
// Positions point at the record being collected while collect() runs and move
// past it once collect() returns, since snapshots happen inside collect().
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

namespace internal {

// Operator state of DataGeneratorSource: the indexes next, next + stride, ...
// that are below end (end < 0: unbounded) and not emitted yet.
struct GeneratorRange {
  int64_t next = 0;
  int64_t end = 0;
  int64_t stride = 1;
};
EDDY_FIELDS(GeneratorRange, next, end, stride);

// Operator state of SequenceSource: the numbers [first, last] (inclusive, so
// that a range ending at INT64_MAX needs no exclusive end) not emitted yet.
struct SequenceRange {
  int64_t first = 0;
  int64_t last = 0;
};
EDDY_FIELDS(SequenceRange, first, last);

// Operator state of TextFileSource: a split [start, end) of a file that is not
// read to its end yet. offset is where its next line to emit starts, or
// kUnopened if the split was never opened (then, as for any fresh split, the
// tail of a line begun before start is skipped first).
struct TextFileSplit {
  static constexpr int64_t kUnopened = -1;
  std::string path;
  int64_t start = 0;
  int64_t end = 0;
  int64_t offset = kUnopened;
};
EDDY_FIELDS(TextFileSplit, path, start, end, offset);

}  // namespace internal

// Emits the given elements in order (non-parallel). Checkpoints store the
// position of the next element to emit.
template <class T>
class CollectionSource : public SourceFunction<T>, public CheckpointedFunction {
 public:
  explicit CollectionSource(std::vector<T> elements)
      : elements_(std::make_shared<const std::vector<T>>(std::move(elements))) {}
  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    // position_ is the element being collected while collect() runs.
    for (; position_ < elements_->size(); ++position_) {
      if (!ctx.isRunning()) return;
      ctx.collect((*elements_)[position_]);
    }
  }

  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getListState(ListStateDescriptor<int64_t>("collection-position"));
    position_ = 0;
    if (!context.isRestored()) return;
    std::vector<int64_t> restored = state_->get();
    if (restored.size() > 1) {
      throw std::logic_error("CollectionSource restored " + std::to_string(restored.size()) +
                             " positions: it is not a parallel source and keeps one");
    }
    // No position: the snapshot did not hold this source yet, start over.
    if (!restored.empty()) position_ = static_cast<size_t>(std::max<int64_t>(restored.front(), 0));
  }
  void snapshotState(const FunctionSnapshotContext&) override {
    if (state_ != nullptr) state_->update({static_cast<int64_t>(position_)});
  }

 private:
  std::shared_ptr<const std::vector<T>> elements_;  // shared by every copy
  size_t position_ = 0;                              // the next element to emit
  ListState<int64_t>* state_ = nullptr;             // set by initializeState
};

// Lines of a file, or of every regular file under a directory (sorted by path).
// Files are cut into byte-range splits; subtask i reads splits i, i+p, i+2p...
// A split owns every line that starts inside it, so no line is read twice.
// Checkpoints store the splits not finished yet, each with the offset of its
// next line; a restored subtask reads the splits it is given from there (the
// files are not listed again).
class TextFileSource : public RichParallelSourceFunction<std::string>, public CheckpointedFunction {
 public:
  explicit TextFileSource(std::string path, int64_t split_size = 8 << 20)
      : path_(std::move(path)), split_size_(split_size) {}
  void run(SourceContext& ctx) override;
  void initializeState(FunctionInitializationContext& context) override;
  void snapshotState(const FunctionSnapshotContext& context) override;

 private:
  // This subtask's splits of a fresh start: i, i+p, i+2p...
  std::vector<internal::TextFileSplit> AssignedSplits();

  std::string path_;
  int64_t split_size_;
  bool initialized_ = false;                      // splits_ is set
  std::vector<internal::TextFileSplit> splits_;   // this subtask's, in reading order
  size_t current_ = 0;                            // splits_[0, current_) are read
  ListState<internal::TextFileSplit>* state_ = nullptr;
};

// Lines from a TCP server. Ends when the server closes the connection.
// Not replayable: it has no position to rewind to, so after a restore it reads
// on from whatever the server sends next (lines in flight are lost or, if the
// server resends, duplicated). It keeps no checkpointed state.
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

// The numbers [from, to]; each subtask emits one contiguous range. Checkpoints
// store the ranges not emitted yet; a restored subtask emits the ranges it is
// given, in order.
class SequenceSource : public RichParallelSourceFunction<int64_t>, public CheckpointedFunction {
 public:
  SequenceSource(int64_t from, int64_t to) : from_(from), to_(to) {}
  void run(SourceContext& ctx) override;
  void initializeState(FunctionInitializationContext& context) override;
  void snapshotState(const FunctionSnapshotContext& context) override;

 private:
  // This subtask's range of a fresh start (none if it has no numbers).
  std::vector<internal::SequenceRange> AssignedRanges();

  int64_t from_;
  int64_t to_;
  bool initialized_ = false;                     // ranges_ is set
  std::vector<internal::SequenceRange> ranges_;  // in emission order
  size_t current_ = 0;                           // ranges_[0, current_) are emitted
  ListState<internal::SequenceRange>* state_ = nullptr;
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
// [0, count) (count < 0: unbounded). Subtasks take contiguous index ranges
// (unbounded: subtask i takes i, i+p, i+2p...). Checkpoints store the index
// ranges (sequences) not emitted yet; a restored subtask emits the ranges it is
// given in order, and round-robins over unbounded sequences.
template <class T>
class DataGeneratorSource : public RichParallelSourceFunction<T>, public CheckpointedFunction {
 public:
  using Generator = std::function<T(int64_t)>;
  DataGeneratorSource(Generator generator, int64_t count,
                      RateLimiterStrategy rate = RateLimiterStrategy::noLimit())
      : generator_(std::move(generator)), count_(count), rate_(rate) {}

  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    if (!initialized_) AssignFresh();
    const int p = this->getRuntimeContext().getNumberOfParallelSubtasks();
    internal::RateLimiter limiter(rate_.records_per_second() / p);
    int64_t emitted = 0;
    // r.next is the index being collected while collect() runs.
    if (count_ < 0) {
      if (ranges_.empty()) return;  // restored at a parallelism with nothing left for this subtask
      for (size_t k = 0; ctx.isRunning(); k = (k + 1) % ranges_.size()) {
        internal::GeneratorRange& r = ranges_[k];
        limiter.Acquire(emitted++, ctx);
        ctx.collect(generator_(r.next));
        r.next += r.stride;
      }
      return;
    }
    for (internal::GeneratorRange& r : ranges_) {
      while (r.next < r.end && ctx.isRunning()) {
        limiter.Acquire(emitted++, ctx);
        ctx.collect(generator_(r.next));
        r.next += r.stride;
      }
      if (!ctx.isRunning()) return;
    }
  }

  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getListState(
        ListStateDescriptor<internal::GeneratorRange>("generator-ranges"));
    if (context.isRestored()) {
      ranges_ = state_->get();
      for (const internal::GeneratorRange& r : ranges_) {
        if (r.stride <= 0 || (r.end < 0) != (count_ < 0)) {
          throw std::logic_error(
              "DataGeneratorSource cannot restore its checkpointed index ranges: they were taken by a " +
              std::string(r.end < 0 ? "unbounded" : "bounded") + " generator");
        }
      }
      initialized_ = true;
    } else {
      AssignFresh();
    }
  }
  void snapshotState(const FunctionSnapshotContext&) override {
    if (state_ == nullptr) return;
    std::vector<internal::GeneratorRange> remaining;
    for (const internal::GeneratorRange& r : ranges_) {
      if (r.end < 0 || r.next < r.end) remaining.push_back(r);
    }
    state_->update(remaining);
  }

 private:
  void AssignFresh() {
    const int p = this->getRuntimeContext().getNumberOfParallelSubtasks();
    const int i = this->getRuntimeContext().getIndexOfThisSubtask();
    ranges_.clear();
    if (count_ < 0) {
      ranges_.push_back({i, -1, p});
    } else {
      // count * i / p, computed as q * i + r * i / p (count = q * p + r) so that
      // counts near INT64_MAX (Flink's "unbounded" idiom) do not overflow.
      const int64_t q = count_ / p, r = count_ % p;
      const int64_t begin = q * i + r * i / p;
      const int64_t end = q * (i + 1) + r * (i + 1) / p;
      if (begin < end) ranges_.push_back({begin, end, 1});
    }
    initialized_ = true;
  }

  Generator generator_;
  int64_t count_;
  RateLimiterStrategy rate_;
  bool initialized_ = false;                      // ranges_ is set
  std::vector<internal::GeneratorRange> ranges_;  // in emission order
  ListState<internal::GeneratorRange>* state_ = nullptr;
};

}  // namespace eddy
