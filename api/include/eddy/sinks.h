// Built-in sinks: print to stdout/stderr in Flink's format, and the row-format
// file sink, exactly-once with checkpoints (Flink's FileSink).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/checkpoint.h"
#include "eddy/format.h"
#include "eddy/functions.h"
#include "eddy/serializer.h"
#include "eddy/two_phase_commit.h"

namespace eddy {

namespace internal {
// Writes whole lines to stdout or stderr without interleaving across subtasks.
void WriteToStdStream(bool to_stderr, std::string_view text);
}  // namespace internal

// print() / printToErr(): one line per record, "N> " prefix when parallel.
template <class T>
class PrintSinkFunction : public RichSinkFunction<T> {
 public:
  explicit PrintSinkFunction(bool to_stderr) : to_stderr_(to_stderr) {}
  PrintSinkFunction(const PrintSinkFunction& o) : to_stderr_(o.to_stderr_) {}
  void open(RuntimeContext& ctx) override {
    if (ctx.getNumberOfParallelSubtasks() > 1) {
      prefix_ = std::to_string(ctx.getIndexOfThisSubtask() + 1) + "> ";
    }
  }
  void invoke(const T& value) override {
    buffer_ += prefix_;
    AppendToString(buffer_, value);
    buffer_ += '\n';
    if (buffer_.size() >= kFlushBytes) onIdle();
  }
  void onIdle() {
    if (buffer_.empty()) return;
    internal::WriteToStdStream(to_stderr_, buffer_);
    buffer_.clear();
  }
  void finish() override { onIdle(); }
  void close() override { onIdle(); }

 private:
  static constexpr size_t kFlushBytes = 16 * 1024;
  bool to_stderr_;
  std::string prefix_;
  std::string buffer_;
};


// ---- FileSink ----
//
// FileSink::forRowFormat(dir) writes each record's printed form and a newline
// to part files under `dir`, with Flink's file sink lifecycle:
//
//   in-progress  <dir>/<bucket>/.part-<subtask>-<n>.inprogress   (hidden)
//   pending      the same file, flushed, synced and closed at a checkpoint
//   finished     <dir>/<bucket>/part-<subtask>-<n>, renamed once the
//                checkpoint completes
//
// so with checkpointing every record appears exactly once, when the first
// checkpoint after it completes, even across failures, restarts and
// rescaling. Without checkpointing the part files are renamed when the input
// ends; a failed or cancelled run leaves nothing visible (and removes its
// in-progress files). Part counters continue from the largest counter of the
// restored checkpoint, so new parts never reuse the name of an older one; a
// fresh start counts from 0 (part-<subtask>-0 first): write each run of a job
// to a directory of its own.
//
// A part is created by the first record that goes into it: a subtask or a
// checkpoint interval without records leaves no file. Parts roll at every
// checkpoint; withRollingPolicy(DefaultRollingPolicy) rolls by size and time
// as well (the default is OnCheckpointRollingPolicy, unlike Flink's, so that a
// job without checkpointing writes one part-<subtask>-0 per subtask and bucket).
//
// In-progress files that no checkpoint refers to (written after the restored
// checkpoint, or by a run that failed before its first checkpoint) are deleted
// when the sink starts.

// Rolls part files by size and time as well as at every checkpoint; Flink's
// DefaultRollingPolicy with its defaults (128 MiB, 60 s, 60 s) unless set.
// Time is processing time, checked before each record and when the task is idle.
class DefaultRollingPolicy {
 public:
  class Builder {
   public:
    // Rolls a part once it holds at least `bytes` (so a part may exceed it by one record).
    Builder& withMaxPartSize(int64_t bytes) {
      max_part_size_ = bytes;
      return *this;
    }
    // Rolls a part that has been open for `interval`.
    Builder& withRolloverInterval(std::chrono::milliseconds interval) {
      rollover_interval_ms_ = interval.count();
      return *this;
    }
    // Rolls a part that received no record for `interval`.
    Builder& withInactivityInterval(std::chrono::milliseconds interval) {
      inactivity_interval_ms_ = interval.count();
      return *this;
    }
    // Throws std::invalid_argument on a value that is not positive.
    DefaultRollingPolicy build() const;

   private:
    int64_t max_part_size_ = int64_t{128} << 20;
    int64_t rollover_interval_ms_ = 60'000;
    int64_t inactivity_interval_ms_ = 60'000;
  };
  static Builder builder() { return Builder(); }

  int64_t getMaxPartSize() const { return max_part_size_; }
  int64_t getRolloverIntervalMs() const { return rollover_interval_ms_; }
  int64_t getInactivityIntervalMs() const { return inactivity_interval_ms_; }

 private:
  DefaultRollingPolicy(int64_t max_part_size, int64_t rollover_interval_ms, int64_t inactivity_interval_ms)
      : max_part_size_(max_part_size),
        rollover_interval_ms_(rollover_interval_ms),
        inactivity_interval_ms_(inactivity_interval_ms) {}
  int64_t max_part_size_;
  int64_t rollover_interval_ms_;
  int64_t inactivity_interval_ms_;
};

// Rolls part files only at checkpoints (and at the end of the input): one part
// per subtask and bucket per checkpoint. The default of Eddy's FileSink.
class OnCheckpointRollingPolicy {
 public:
  static OnCheckpointRollingPolicy build() { return OnCheckpointRollingPolicy(); }
};

// Every record into the sink's directory itself. The default.
class BasePathBucketAssigner {};

// Buckets by the processing time a record is written at: the subdirectory is
// the time formatted with `format`, in which yyyy, MM, dd, HH, mm and ss stand
// for the UTC year, month, day, hour, minute and second and every other
// character is copied ("yyyy-MM-dd--HH", Flink's default, gives
// "2024-05-17--13"). Unlike Flink's, the zone is always UTC.
class DateTimeBucketAssigner {
 public:
  // Throws std::invalid_argument on an empty format, or one that could leave
  // the sink's directory (leading '/', "..").
  explicit DateTimeBucketAssigner(std::string format = "yyyy-MM-dd--HH");
  // The bucket (a relative path) of a record written at `epoch_ms`.
  std::string getBucketId(int64_t epoch_ms) const;
  const std::string& getFormat() const { return format_; }

 private:
  std::string format_;
};

namespace internal {

// One part file of a file sink transaction: <dir>/<bucket>/<name> once
// committed, <dir>/<bucket>/.<name>.inprogress before.
struct FilePart {
  std::string bucket;     // relative to the sink's directory; empty: the directory itself
  std::string name;       // part-<subtask>-<counter>
  std::string directory;  // the sink's directory when the part was opened (a restored
                          // job may write elsewhere, but commits its old parts in place)
};
EDDY_FIELDS(FilePart, bucket, name, directory);

// The transaction of RowFileSinkFunction: the parts opened since it began.
struct FileSinkTransaction {
  std::vector<FilePart> parts;
};
EDDY_FIELDS(FileSinkTransaction, parts);

// The counter subtask `subtask` would have given its next part when a
// checkpoint was taken; kept in union list state, so every subtask of a
// restored job sees all of them.
struct PartCounter {
  int64_t subtask = 0;
  int64_t next = 0;
};
EDDY_FIELDS(PartCounter, subtask, next);

// What a FileSink was configured with. A zero limit never rolls.
struct FileSinkOptions {
  std::string directory;
  int64_t max_part_size = 0;
  int64_t rollover_interval_ms = 0;
  int64_t inactivity_interval_ms = 0;
  std::optional<DateTimeBucketAssigner> bucket_assigner;
  // Processing time in epoch ms; the wall clock if empty (tests set it).
  std::function<int64_t()> clock;
};

// The part files of one file sink subtask (Flink's Buckets): writes lines into
// one open in-progress part per bucket, rolls, pre-commits, commits and aborts.
// Every method throws std::runtime_error with the path and errno text when
// the file system fails.
class RowFileBuckets {
 public:
  // Creates the directory and deletes the in-progress files that no restored
  // transaction refers to, of the old subtasks j this subtask owns
  // (j % parallelism == subtask): those with a counter at or above j's in
  // `restored` (any counter if j is not there). Part counters continue after
  // the largest restored one, so no part name of any old subtask is reused.
  RowFileBuckets(FileSinkOptions options, int subtask, int parallelism, const std::vector<PartCounter>& restored);
  // Closes open files without deleting them (what a crash leaves behind).
  ~RowFileBuckets();
  RowFileBuckets(const RowFileBuckets&) = delete;
  RowFileBuckets& operator=(const RowFileBuckets&) = delete;

  // Appends `bytes` (whole lines) to the record's bucket in `txn`, first
  // rolling that bucket's part if the policy says so; a new part is added to
  // `txn.parts` when it is opened.
  void Write(FileSinkTransaction& txn, std::string_view bytes);
  // Writes buffered bytes out and rolls parts due by time.
  void OnIdle();
  // Flushes, syncs and closes the open parts of `txn`.
  void PreCommit(const FileSinkTransaction& txn);
  // Renames the parts of `txn` to their visible names; a part whose
  // in-progress file is gone and whose visible file exists is already
  // committed.
  void Commit(const FileSinkTransaction& txn);
  // Closes and deletes the in-progress files of `txn`.
  void Abort(const FileSinkTransaction& txn);
  // The counter the next part will get (stored in checkpoints).
  int64_t next_part_counter() const { return next_part_counter_; }

 private:
  struct OpenPart;
  int64_t Now() const;
  bool ShouldRoll(const OpenPart& part, int64_t now) const;
  std::string PathOf(const FilePart& part, bool in_progress) const;
  void FlushBuffer(OpenPart& part);
  void ClosePart(OpenPart& part, bool sync);
  // fsyncs the directory holding `part`.
  void SyncDirectory(const FilePart& part);
  void DeleteOrphans(int subtask, int parallelism, const std::vector<PartCounter>& restored);

  static constexpr size_t kFlushBytes = 64 * 1024;
  FileSinkOptions options_;
  int subtask_;
  int64_t next_part_counter_;
  bool needs_clock_;
  std::map<std::string, std::unique_ptr<OpenPart>> open_;  // by bucket
  int64_t cached_bucket_second_ = -1;
  std::string cached_bucket_;
};

}  // namespace internal

// The row-format file sink's description: FileSink::forRowFormat(dir), then
// optionally withRollingPolicy / withBucketAssigner; datastream.sinkTo(sink).
class FileSink {
 public:
  static FileSink forRowFormat(std::string directory) { return FileSink(std::move(directory)); }
  FileSink withRollingPolicy(const DefaultRollingPolicy& policy) const {
    FileSink copy = *this;
    copy.options_.max_part_size = policy.getMaxPartSize();
    copy.options_.rollover_interval_ms = policy.getRolloverIntervalMs();
    copy.options_.inactivity_interval_ms = policy.getInactivityIntervalMs();
    return copy;
  }
  FileSink withRollingPolicy(const OnCheckpointRollingPolicy&) const {
    FileSink copy = *this;
    copy.options_.max_part_size = copy.options_.rollover_interval_ms = copy.options_.inactivity_interval_ms = 0;
    return copy;
  }
  FileSink withBucketAssigner(const DateTimeBucketAssigner& assigner) const {
    FileSink copy = *this;
    copy.options_.bucket_assigner = assigner;
    return copy;
  }
  FileSink withBucketAssigner(const BasePathBucketAssigner&) const {
    FileSink copy = *this;
    copy.options_.bucket_assigner.reset();
    return copy;
  }
  // For Flink's builder style; the sink is complete without it.
  FileSink build() const { return *this; }

  const std::string& directory() const { return options_.directory; }
  const internal::FileSinkOptions& options() const { return options_; }

 private:
  explicit FileSink(std::string directory) { options_.directory = std::move(directory); }
  internal::FileSinkOptions options_;
};

// The function behind sinkTo(FileSink): one transaction per checkpoint, made
// of the part files opened during it.
template <class T>
class RowFileSinkFunction : public TwoPhaseCommitSinkFunction<T, internal::FileSinkTransaction> {
  using Base = TwoPhaseCommitSinkFunction<T, internal::FileSinkTransaction>;
  using Txn = internal::FileSinkTransaction;

 public:
  using Base::invoke;

  explicit RowFileSinkFunction(std::string directory) { options_.directory = std::move(directory); }
  explicit RowFileSinkFunction(const FileSink& sink) : options_(sink.options()) {}
  explicit RowFileSinkFunction(internal::FileSinkOptions options) : options_(std::move(options)) {}
  RowFileSinkFunction(const RowFileSinkFunction& o) : Base(o), options_(o.options_) {}

  void initializeState(FunctionInitializationContext& context) override {
    counter_state_ = &context.getOperatorStateStore().getUnionListState(
        ListStateDescriptor<internal::PartCounter>(kCounterState));
    RuntimeContext& rc = this->getRuntimeContext();
    subtask_ = rc.getIndexOfThisSubtask();
    buckets_ = std::make_unique<internal::RowFileBuckets>(options_, subtask_, rc.getNumberOfParallelSubtasks(),
                                                          counter_state_->get());
    Base::initializeState(context);
  }
  void snapshotState(const FunctionSnapshotContext& context) override {
    Base::snapshotState(context);
    counter_state_->update({internal::PartCounter{subtask_, buckets_->next_part_counter()}});
  }
  // Between records when the task has nothing to do: write buffered lines out
  // and roll parts due by time.
  void onIdle() {
    if (buckets_) buckets_->OnIdle();
  }

 protected:
  Txn beginTransaction() override { return Txn{}; }
  void invoke(Txn& txn, const T& value) override {
    line_.clear();
    AppendToString(line_, value);
    line_ += '\n';
    buckets_->Write(txn, line_);
  }
  void preCommit(Txn& txn) override { buckets_->PreCommit(txn); }
  void commit(Txn& txn) override { buckets_->Commit(txn); }
  void abort(Txn& txn) override { buckets_->Abort(txn); }

 private:
  static constexpr const char* kCounterState = "file-sink-part-counter";
  internal::FileSinkOptions options_;
  ListState<internal::PartCounter>* counter_state_ = nullptr;
  int subtask_ = 0;
  std::unique_ptr<internal::RowFileBuckets> buckets_;
  std::string line_;
};

}  // namespace eddy
