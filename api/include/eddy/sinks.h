// Built-in sinks: print to stdout/stderr in Flink's format, and a row-format
// file sink writing one part file per subtask.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "eddy/format.h"
#include "eddy/functions.h"

namespace eddy {

namespace internal {
// Writes whole lines to stdout or stderr without interleaving across subtasks.
void WriteToStdStream(bool to_stderr, std::string_view text);

// Appends bytes to <dir>/part-<subtask>-0, creating the directory.
class PartFileWriter {
 public:
  PartFileWriter(std::string directory, int subtask);
  ~PartFileWriter();
  PartFileWriter(const PartFileWriter&) = delete;
  PartFileWriter& operator=(const PartFileWriter&) = delete;
  // Throws std::runtime_error with the path and errno text on failure.
  void Write(std::string_view bytes);
  void Flush();

 private:
  std::string path_;
  int fd_ = -1;
};
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

// Row-format file sink: FileSink::forRowFormat(dir) writes each record's
// printed form and a newline to <dir>/part-<subtask>-0.
class FileSink {
 public:
  static FileSink forRowFormat(std::string directory) { return FileSink(std::move(directory)); }
  const std::string& directory() const { return directory_; }

 private:
  explicit FileSink(std::string directory) : directory_(std::move(directory)) {}
  std::string directory_;
};

template <class T>
class RowFileSinkFunction : public RichSinkFunction<T> {
 public:
  explicit RowFileSinkFunction(std::string directory) : directory_(std::move(directory)) {}
  RowFileSinkFunction(const RowFileSinkFunction& o) : directory_(o.directory_) {}
  void open(RuntimeContext& ctx) override {
    writer_ = std::make_unique<internal::PartFileWriter>(directory_, ctx.getIndexOfThisSubtask());
  }
  void invoke(const T& value) override {
    AppendToString(buffer_, value);
    buffer_ += '\n';
    if (buffer_.size() >= kFlushBytes) onIdle();
  }
  void onIdle() {
    if (buffer_.empty() || !writer_) return;
    writer_->Write(buffer_);
    buffer_.clear();
  }
  void finish() override { onIdle(); }
  void close() override {
    onIdle();
    writer_.reset();
  }

 private:
  static constexpr size_t kFlushBytes = 64 * 1024;
  std::string directory_;
  std::unique_ptr<internal::PartFileWriter> writer_;
  std::string buffer_;
};

}  // namespace eddy
