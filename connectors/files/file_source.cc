// The non-template parts of FileSource: listing and assigning files, reading
// records at byte offsets, CSV fields, and logging skipped records.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "eddy/connectors/files.h"
#include "spdlog/spdlog.h"

namespace eddy::connectors::internal {
namespace {

namespace fs = std::filesystem;

bool IsHidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

// True while `text` (a CSV record so far) ends inside a quoted field: only a
// quote at the start of a field opens one, so stray quotes elsewhere (bad
// records) do not join lines.
bool EndsInsideQuotes(std::string_view text, char delimiter, char quote) {
  enum { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted } state = kFieldStart;
  for (char c : text) {
    switch (state) {
      case kFieldStart:
        state = c == quote ? kQuoted : c == delimiter ? kFieldStart : kUnquoted;
        break;
      case kUnquoted:
        if (c == delimiter) state = kFieldStart;
        break;
      case kQuoted:
        if (c == quote) state = kQuoteInQuoted;
        break;
      case kQuoteInQuoted:  // a doubled quote, or the closing one
        state = c == quote ? kQuoted : c == delimiter ? kFieldStart : kUnquoted;
        break;
    }
  }
  return state == kQuoted;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseCsvFields(std::string_view text, char delimiter, char quote) {
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < text.size() && text[i] == quote) {
      const size_t opened = i++;
      while (true) {
        if (i >= text.size()) {
          return absl::InvalidArgumentError("unterminated quoted field (opened at column " +
                                            std::to_string(opened + 1) + ")");
        }
        if (text[i] == quote) {
          if (i + 1 < text.size() && text[i + 1] == quote) {
            field.push_back(quote);
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(text[i++]);
      }
      if (i < text.size() && text[i] != delimiter) {
        return absl::InvalidArgumentError("unexpected character after the closing quote at column " +
                                          std::to_string(i + 1));
      }
    } else {
      while (i < text.size() && text[i] != delimiter) {
        if (text[i] == quote) {
          return absl::InvalidArgumentError("quote character inside an unquoted field at column " +
                                            std::to_string(i + 1));
        }
        field.push_back(text[i++]);
      }
    }
    fields.push_back(field);
    if (i >= text.size()) return fields;
    ++i;  // the delimiter
  }
}

std::string DescribeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r") == std::string_view::npos;
}

int OwnerOf(std::string_view relative_path, int parallelism) {
  // FNV-1a: stable across processes and runs, unlike std::hash.
  uint64_t hash = 14695981039346656037ULL;
  for (char c : relative_path) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return static_cast<int>(hash % static_cast<uint64_t>(parallelism));
}

// ---- RecordReader ----

RecordReader::RecordReader(std::string path, Framing framing, char delimiter, char quote)
    : path_(std::move(path)), framing_(framing), delimiter_(delimiter), quote_(quote), buffer_(1 << 16) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("FileSource cannot open " + path_ + ": " + std::strerror(errno));
}

RecordReader::~RecordReader() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordReader::Seek(int64_t offset, int64_t line) {
  if (::lseek(fd_, offset, SEEK_SET) < 0) {
    throw std::runtime_error("FileSource cannot seek to byte " + std::to_string(offset) + " of " + path_ + ": " +
                             std::strerror(errno));
  }
  offset_ = offset;
  line_ = line;
  begin_ = end_ = 0;
}

bool RecordReader::Fill() {
  ssize_t n;
  do {
    n = ::read(fd_, buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw std::runtime_error("FileSource cannot read " + path_ + ": " + std::strerror(errno));
  begin_ = 0;
  end_ = static_cast<size_t>(n);
  return n > 0;
}

bool RecordReader::ReadLine(std::string* line) {
  line->clear();
  bool any = false;
  while (true) {
    if (begin_ == end_ && !Fill()) break;
    any = true;
    const char* start = buffer_.data() + begin_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      const size_t n = static_cast<size_t>(nl - start);
      line->append(start, n);
      begin_ += n + 1;
      offset_ += static_cast<int64_t>(n + 1);
      break;
    }
    line->append(start, end_ - begin_);
    offset_ += static_cast<int64_t>(end_ - begin_);
    begin_ = end_;
  }
  if (!any) return false;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  ++line_;
  return true;
}

bool RecordReader::Next(RawRecord* record) {
  record->line = line_;
  if (!ReadLine(&record->text)) return false;
  if (framing_ != Framing::kCsv || !EndsInsideQuotes(record->text, delimiter_, quote_)) return true;
  const int64_t first_end = offset_, first_end_line = line_;
  const size_t first_size = record->text.size();
  std::string more;
  while (EndsInsideQuotes(record->text, delimiter_, quote_)) {
    if (!ReadLine(&more)) {
      // Never closed: the first line alone is the (bad) record.
      record->text.resize(first_size);
      Seek(first_end, first_end_line);
      return true;
    }
    record->text.push_back('\n');
    record->text += more;
  }
  return true;
}

// ---- FileAssignment ----

void FileAssignment::SetSubtask(int index, int parallelism) {
  if (parallelism <= 0 || index < 0 || index >= parallelism) {
    throw std::logic_error("FileSource: subtask " + std::to_string(index) + " of " + std::to_string(parallelism));
  }
  index_ = index;
  parallelism_ = parallelism;
}

void FileAssignment::Restore(const std::vector<FileProgress>& entries) {
  for (const FileProgress& entry : entries) {
    if (OwnerOf(entry.path, parallelism_) != index_) continue;
    auto [it, added] = files_.emplace(entry.path, entry);
    FileProgress& known = it->second;
    if (!added && !known.done && (entry.done || entry.offset > known.offset)) known = entry;
    if (!known.done) unfinished_.insert(entry.path);
  }
}

void FileAssignment::Discover() {
  std::error_code ec;
  const fs::file_status status = fs::status(root_, ec);
  if (ec || !fs::exists(status)) throw std::runtime_error("FileSource: input path does not exist: " + root_);
  auto add = [this](const std::string& relative) {
    if (OwnerOf(relative, parallelism_) != index_) return;
    if (files_.emplace(relative, FileProgress{relative}).second) unfinished_.insert(relative);
  };
  if (fs::is_regular_file(status)) {
    add("");
    return;
  }
  if (!fs::is_directory(status)) {
    throw std::runtime_error("FileSource: input path is neither a file nor a directory: " + root_);
  }
  const fs::path root(root_);
  fs::recursive_directory_iterator it(root, ec), end;
  if (ec) throw std::runtime_error("FileSource cannot list " + root_ + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("FileSource cannot list " + root_ + ": " + ec.message());
    if (IsHidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) add(it->path().lexically_relative(root).generic_string());
  }
}

FileProgress* FileAssignment::NextUnfinished() {
  while (!unfinished_.empty()) {
    FileProgress& file = files_.at(*unfinished_.begin());
    if (!file.done) return &file;
    unfinished_.erase(unfinished_.begin());
  }
  return nullptr;
}

std::vector<FileProgress> FileAssignment::Entries() const {
  std::vector<FileProgress> out;
  out.reserve(files_.size());
  for (const auto& [path, file] : files_) out.push_back(file);
  return out;
}

std::string FileAssignment::FullPath(const FileProgress& file) const {
  return file.path.empty() ? root_ : (fs::path(root_) / file.path).string();
}

void LogSkippedRecord(const std::string& path, int64_t line, std::string_view reason) {
  spdlog::warn("FileSource skipped the record at {}:{}: {}", path, line, reason);
}

}  // namespace eddy::connectors::internal
