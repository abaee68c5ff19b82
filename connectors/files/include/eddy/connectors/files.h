// FileSource: reads the files under a directory as records of a format (text
// lines, CSV, JSON lines), once (bounded) or watching for new files
// (continuous), with exactly-once progress across failures and rescaling.
//
//   env.addSource(eddy::connectors::FileSource<std::string>::forRecordStreamFormat(
//                     eddy::connectors::TextLineFormat(), "/data/in")
//                     .monitorContinuously(1000)
//                     .build(),
//                 "files");
//
// Which files. Every regular file under the directory, recursively; a file or
// directory whose name starts with '.' or '_' is ignored. Files must be
// complete and unchanging once they are visible: producers write them under
// such a hidden name (or elsewhere on the same file system) and rename them
// into place, and leave them until they are read (a file listed but gone
// when its turn comes fails the task). A path that names a single file reads
// that file.
//
// Parallelism. Each file belongs to one subtask: OwnerOf(relative path,
// parallelism), a stable hash, so every subtask decides alone and the same on
// every run. A subtask reads its files one after the other in path order, each
// from its start to its end. Few files spread unevenly over many subtasks.
//
// Bounded mode (the default) reads the files present when the subtask starts
// and ends. Continuous mode (monitorContinuously) lists the directory again
// every interval and reads the files that appeared since; it never ends.
//
// Checkpoints. The source keeps, in union list operator state, every file its
// subtask knows with its progress: done, or the byte offset and line number of
// the next record to emit (0 / line 1 for a file not started). On restore, at
// any parallelism, each subtask takes the entries it owns by the same hash and
// goes on from there, so no record is lost or read twice. In continuous mode
// files not in the state are new and read from their start; in bounded mode a
// restored subtask reads only the files of the state. The state grows by one
// entry per file ever read: move or delete old files and start a fresh job from
// time to time if millions of files pass through one directory.
//
// Bad records. A record that cannot be parsed (bad CSV quoting, a wrong field
// count, invalid JSON, a mapper that throws) fails the task with a message
// naming file:line and the reason, or with onParseError(ParseErrorPolicy::kSkip)
// is dropped with one log line naming file:line, and counted in the subtask's
// "numSkippedRecords" counter.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy::connectors {

// What a FileSource does with a record it cannot parse.
enum class ParseErrorPolicy {
  kFail,  // fail the task, naming file:line and the reason (the default)
  kSkip,  // drop it, log file:line and the reason, count it in numSkippedRecords
};

namespace internal {

// How a file is cut into records.
enum class Framing {
  kLines,  // one record per line
  kCsv,    // one record per line, except that a quoted field may span lines
};

// What a format gives the source: how to cut a file into records and how to
// turn one record's text into a value.
template <class T>
struct RecordDecoder {
  Framing framing = Framing::kLines;
  char delimiter = ',';      // kCsv: the field delimiter
  char quote = '"';          // kCsv: the quote character
  bool skip_header = false;  // the first record of every file is not data
  // The value of a record (without its line terminator); nullopt for a record
  // that holds nothing (a blank line of CSV or JSON lines); an error names why
  // the record cannot be parsed.
  std::function<absl::StatusOr<std::optional<T>>(std::string_view text)> decode;
};

// The fields of one CSV record: fields are separated by `delimiter`; a field
// that starts with `quote` ends at the next lone quote, and a doubled quote
// inside it stands for one quote character. Errors: a quote inside an unquoted
// field, text after a closing quote, an unterminated quoted field.
absl::StatusOr<std::vector<std::string>> ParseCsvFields(std::string_view text, char delimiter, char quote);

// The text of an exception a user mapper threw.
std::string DescribeCurrentException();

// True for text of spaces, tabs and '\r' only.
bool IsBlank(std::string_view text);

// One file's entry in the source's checkpointed state.
struct FileProgress {
  std::string path;      // relative to the source's directory ('/'-separated);
                         // empty when the source reads a single file
  int64_t offset = 0;    // byte offset of the next record to emit
  int64_t line = 1;      // line number of that record (1-based)
  bool done = false;     // every record of the file was emitted
};
EDDY_FIELDS(FileProgress, path, offset, line, done);

// The subtask (0 <= result < parallelism) that reads the file at `relative_path`.
int OwnerOf(std::string_view relative_path, int parallelism);

// One record as read from a file.
struct RawRecord {
  std::string text;  // without line terminators ('\n', and '\r' before it)
  int64_t line = 0;  // the line it starts on (1-based)
};

// Reads the records of one file from a position; throws std::runtime_error
// naming the file when it cannot be opened or read.
class RecordReader {
 public:
  RecordReader(std::string path, Framing framing, char delimiter, char quote);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Moves to byte `offset`, where line number `line` starts.
  void Seek(int64_t offset, int64_t line);
  // The next record; false at the end of the file. A CSV record whose quoted
  // field does not close before the end of the file is returned as its first
  // line alone (which then fails to parse), and reading goes on after it.
  bool Next(RawRecord* record);
  // Where the record after the last one returned starts.
  int64_t offset() const { return offset_; }
  int64_t line() const { return line_; }

 private:
  bool ReadLine(std::string* line);
  bool Fill();

  std::string path_;
  Framing framing_;
  char delimiter_;
  char quote_;
  int fd_ = -1;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  int64_t offset_ = 0;
  int64_t line_ = 1;
};

// The files one subtask owns and its progress on each (not thread-safe; the
// source uses it on its task's thread only).
class FileAssignment {
 public:
  explicit FileAssignment(std::string root) : root_(std::move(root)) {}

  // Sets the subtask; owned files are those OwnerOf maps to it.
  void SetSubtask(int index, int parallelism);
  // Takes the restored entries of all old subtasks (union state) that this
  // subtask owns. An entry given twice keeps its most advanced progress.
  void Restore(const std::vector<FileProgress>& entries);
  // Lists the directory and adds the owned files not known yet. Throws
  // std::runtime_error naming the path if it does not exist or cannot be listed.
  void Discover();
  // The first (in path order) owned file not done, or null.
  FileProgress* NextUnfinished();
  // Every owned file known, for the checkpoint.
  std::vector<FileProgress> Entries() const;
  // The file's path on disk.
  std::string FullPath(const FileProgress& file) const;
  bool assigned() const { return parallelism_ > 0; }

 private:
  std::string root_;
  int index_ = 0;
  int parallelism_ = 0;
  std::map<std::string, FileProgress> files_;  // by relative path
  std::set<std::string> unfinished_;            // paths of files_ that may not be done
};

// Logs a record a source skips.
void LogSkippedRecord(const std::string& path, int64_t line, std::string_view reason);

// A cancel flag that a copy of its owner does not share: each parallel
// instance, copied from the user's object, is cancelled on its own.
class CancelFlag {
 public:
  CancelFlag() = default;
  CancelFlag(const CancelFlag&) {}
  CancelFlag& operator=(const CancelFlag&) { return *this; }
  void Set() { set_.store(true, std::memory_order_relaxed); }
  bool IsSet() const { return set_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> set_{false};
};

}  // namespace internal

// Every line of a file is a record, a std::string without its line
// terminator ("\n" or "\r\n"); an empty line is an empty string.
class TextLineFormat {
 public:
  using RecordType = std::string;
  // ---- used by FileSource ----
  internal::RecordDecoder<std::string> Decoder() const {
    internal::RecordDecoder<std::string> decoder;
    decoder.decode = [](std::string_view text) -> absl::StatusOr<std::optional<std::string>> {
      return std::optional<std::string>(std::string(text));
    };
    return decoder;
  }
};

// CSV (RFC 4180 style): fields separated by a delimiter (','); a field may be
// quoted ('"'), and then holds delimiters, line breaks (each read as '\n')
// and doubled quotes, which stand for one quote. Blank lines are skipped. A
// quoted field still open at the end of the file makes its first line a bad
// record; reading goes on with the next line. The mapper turns a
// record's fields into a T; what it throws makes the record a bad one.
template <class T>
class CsvFormat {
 public:
  using RecordType = T;
  using Mapper = std::function<T(const std::vector<std::string>& fields)>;

  explicit CsvFormat(Mapper mapper) : mapper_(std::move(mapper)) {}
  CsvFormat withDelimiter(char delimiter) const {
    CsvFormat copy = *this;
    copy.delimiter_ = delimiter;
    return copy;
  }
  CsvFormat withQuoteChar(char quote) const {
    CsvFormat copy = *this;
    copy.quote_ = quote;
    return copy;
  }
  // The first record of every file is a header, not data.
  CsvFormat withHeader(bool header = true) const {
    CsvFormat copy = *this;
    copy.header_ = header;
    return copy;
  }
  // A record with another number of fields is a bad record.
  CsvFormat withFieldCount(int count) const {
    CsvFormat copy = *this;
    copy.field_count_ = count;
    return copy;
  }

  // ---- used by FileSource ----
  internal::RecordDecoder<T> Decoder() const {
    if (delimiter_ == quote_ || delimiter_ == '\n' || quote_ == '\n' || delimiter_ == '\r' || quote_ == '\r') {
      throw std::invalid_argument("CsvFormat: the delimiter and the quote character must differ and not be a line break");
    }
    internal::RecordDecoder<T> decoder;
    decoder.framing = internal::Framing::kCsv;
    decoder.delimiter = delimiter_;
    decoder.quote = quote_;
    decoder.skip_header = header_;
    decoder.decode = [mapper = mapper_, delimiter = delimiter_, quote = quote_,
                      count = field_count_](std::string_view text) -> absl::StatusOr<std::optional<T>> {
      if (internal::IsBlank(text)) return std::optional<T>();
      absl::StatusOr<std::vector<std::string>> fields = internal::ParseCsvFields(text, delimiter, quote);
      if (!fields.ok()) return fields.status();
      if (count >= 0 && fields->size() != static_cast<size_t>(count)) {
        return absl::InvalidArgumentError("expected " + std::to_string(count) + " fields, found " +
                                          std::to_string(fields->size()));
      }
      try {
        return std::optional<T>(mapper(*fields));
      } catch (...) {
        return absl::InvalidArgumentError("the mapper failed: " + internal::DescribeCurrentException());
      }
    };
    return decoder;
  }

 private:
  Mapper mapper_;
  char delimiter_ = ',';
  char quote_ = '"';
  bool header_ = false;
  int field_count_ = -1;  // any
};

// JSON lines: every line holds one JSON value; blank lines are skipped. The
// mapper turns the parsed value into a T; what it throws (nlohmann's
// type_error for a missing or mistyped member, too) makes the record a bad one.
template <class T>
class JsonLinesFormat {
 public:
  using RecordType = T;
  using Mapper = std::function<T(const nlohmann::json& value)>;

  explicit JsonLinesFormat(Mapper mapper) : mapper_(std::move(mapper)) {}

  // ---- used by FileSource ----
  internal::RecordDecoder<T> Decoder() const {
    internal::RecordDecoder<T> decoder;
    decoder.decode = [mapper = mapper_](std::string_view text) -> absl::StatusOr<std::optional<T>> {
      if (internal::IsBlank(text)) return std::optional<T>();
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        return absl::InvalidArgumentError(std::string("invalid JSON: ") + e.what());
      }
      try {
        return std::optional<T>(mapper(value));
      } catch (...) {
        return absl::InvalidArgumentError("the mapper failed: " + internal::DescribeCurrentException());
      }
    };
    return decoder;
  }

 private:
  Mapper mapper_;
};

// The source function; see the top of this file. Build it with
// forRecordStreamFormat(...).build() and add it with env.addSource.
template <class T>
class FileSource : public RichParallelSourceFunction<T>, public CheckpointedFunction {
 public:
  class Builder {
   public:
    // Lists the directory again every `interval_ms` for new files; the source
    // then never ends. Throws std::invalid_argument unless interval_ms > 0.
    Builder& monitorContinuously(int64_t interval_ms) {
      if (interval_ms <= 0) {
        throw std::invalid_argument("FileSource: the monitoring interval must be positive, got " +
                                    std::to_string(interval_ms) + " ms");
      }
      interval_ms_ = interval_ms;
      return *this;
    }
    // What to do with a record that cannot be parsed (default kFail).
    Builder& onParseError(ParseErrorPolicy policy) {
      policy_ = policy;
      return *this;
    }
    FileSource build() const { return FileSource(path_, decoder_, interval_ms_, policy_); }

   private:
    friend class FileSource;
    Builder(std::string path, internal::RecordDecoder<T> decoder)
        : path_(std::move(path)), decoder_(std::move(decoder)) {}
    std::string path_;
    internal::RecordDecoder<T> decoder_;
    int64_t interval_ms_ = 0;  // 0: bounded
    ParseErrorPolicy policy_ = ParseErrorPolicy::kFail;
  };

  // A source reading the files under `path` (or the file `path`) as `format`:
  // TextLineFormat (T = std::string), CsvFormat<T> or JsonLinesFormat<T>.
  template <class Format>
  static Builder forRecordStreamFormat(const Format& format, std::string path) {
    static_assert(std::is_same_v<typename Format::RecordType, T>,
                  "FileSource<T>::forRecordStreamFormat: the format's RecordType must be T "
                  "(TextLineFormat gives std::string)");
    return Builder(std::move(path), format.Decoder());
  }

  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getUnionListState(
        ListStateDescriptor<internal::FileProgress>("file-source-progress"));
    AssignSubtask();
    if (context.isRestored()) {
      files_.Restore(state_->get());
      restored_ = true;
    } else {
      files_.Discover();
    }
  }

  void snapshotState(const FunctionSnapshotContext&) override {
    if (state_ != nullptr) state_->update(files_.Entries());
  }

  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    if (!files_.assigned()) {
      AssignSubtask();
      files_.Discover();
    }
    skipped_ = &this->getRuntimeContext().getMetricGroup().counter("numSkippedRecords");
    // A restored subtask in continuous mode also looks for files now.
    if (restored_ && interval_ms_ > 0) files_.Discover();
    while (true) {
      while (internal::FileProgress* file = files_.NextUnfinished()) {
        if (!ReadFile(*file, ctx)) return;
      }
      if (interval_ms_ <= 0 || !WaitForNextScan(ctx)) return;
      files_.Discover();
    }
  }

  void cancel() override { cancelled_.Set(); }

 private:
  FileSource(std::string path, internal::RecordDecoder<T> decoder, int64_t interval_ms, ParseErrorPolicy policy)
      : files_(std::move(path)), decoder_(std::move(decoder)), interval_ms_(interval_ms), policy_(policy) {}

  void AssignSubtask() {
    files_.SetSubtask(this->getRuntimeContext().getIndexOfThisSubtask(),
                      this->getRuntimeContext().getNumberOfParallelSubtasks());
  }

  bool Running(typename SourceFunction<T>::SourceContext& ctx) const {
    return ctx.isRunning() && !cancelled_.IsSet();
  }

  // Emits the file's records from its position on; false if cancelled first.
  // file.offset points at the record being collected while collect() runs
  // (the snapshot taken there replays it) and moves past it afterwards.
  bool ReadFile(internal::FileProgress& file, typename SourceFunction<T>::SourceContext& ctx) {
    const std::string path = files_.FullPath(file);
    internal::RecordReader reader(path, decoder_.framing, decoder_.delimiter, decoder_.quote);
    reader.Seek(file.offset, file.line);
    internal::RawRecord record;
    if (decoder_.skip_header && file.offset == 0 && reader.Next(&record)) {
      file.offset = reader.offset();
      file.line = reader.line();
    }
    int64_t silent = 0;  // records in a row that emitted nothing
    while (true) {
      if (!Running(ctx)) return false;
      if (!reader.Next(&record)) break;
      absl::StatusOr<std::optional<T>> value = decoder_.decode(record.text);
      if (value.ok() && value->has_value()) {
        ctx.collect(**value);
        silent = 0;
      } else if (!value.ok() && policy_ == ParseErrorPolicy::kFail) {
        throw std::runtime_error("FileSource cannot parse " + path + ":" + std::to_string(record.line) + ": " +
                                 std::string(value.status().message()));
      } else if (!value.ok()) {
        internal::LogSkippedRecord(path, record.line, std::string(value.status().message()));
        skipped_->inc();
      }
      file.offset = reader.offset();
      file.line = reader.line();
      // Checkpoints are taken inside collect() and flush(): give one a chance
      // on long stretches of skipped or blank records too.
      if (!value.ok() || !value->has_value()) {
        if (++silent % 256 == 0) ctx.flush();
      }
    }
    file.done = true;
    return true;
  }

  // Sleeps until the next listing, flushing (where checkpoints are taken) in
  // short steps; false if cancelled first.
  bool WaitForNextScan(typename SourceFunction<T>::SourceContext& ctx) {
    constexpr auto kStep = std::chrono::milliseconds(20);
    const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval_ms_);
    while (Running(ctx)) {
      ctx.flush();
      const auto now = std::chrono::steady_clock::now();
      if (now >= due) return Running(ctx);
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kStep, due - now));
    }
    return false;
  }

  internal::FileAssignment files_;
  internal::RecordDecoder<T> decoder_;
  int64_t interval_ms_;  // <= 0: bounded
  ParseErrorPolicy policy_;
  bool restored_ = false;
  Counter* skipped_ = nullptr;  // numSkippedRecords, set in run()
  ListState<internal::FileProgress>* state_ = nullptr;
  internal::CancelFlag cancelled_;
};

}  // namespace eddy::connectors
