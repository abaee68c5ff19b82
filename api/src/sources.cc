// The built-in non-template sources: text files, sockets, sequences, and how
// the replayable ones checkpoint and restore their position.
#include "eddy/sources.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace eddy {
namespace {

namespace fs = std::filesystem;

bool IsHidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}

// Every regular file under `path`, sorted, so all subtasks see the same list.
std::vector<std::pair<std::string, int64_t>> ListFiles(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw std::runtime_error("input path does not exist: " + path);
  std::vector<std::pair<std::string, int64_t>> files;
  if (fs::is_regular_file(st)) {
    files.emplace_back(path, static_cast<int64_t>(fs::file_size(path)));
    return files;
  }
  if (!fs::is_directory(st)) throw std::runtime_error("input path is not a file or directory: " + path);
  fs::recursive_directory_iterator it(path, ec), end;
  if (ec) throw std::runtime_error("cannot list " + path + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("cannot list " + path + ": " + ec.message());
    if (IsHidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) {
      files.emplace_back(it->path().string(), static_cast<int64_t>(it->file_size()));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
  ~FileReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Seek(int64_t offset) {
    if (::lseek(fd_, offset, SEEK_SET) < 0) {
      throw std::runtime_error("cannot seek in " + path_ + ": " + std::strerror(errno));
    }
    pos_ = offset;
    begin_ = end_ = 0;
  }
  // Reads up to and excluding the next '\n' into `line` (which is replaced).
  // Returns false at end of file with nothing read.
  bool ReadLine(std::string* line) {
    line->clear();
    bool any = false;
    while (true) {
      if (begin_ == end_ && !Fill()) return any;
      any = true;
      const char* start = buf_.data() + begin_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      if (nl != nullptr) {
        size_t n = static_cast<size_t>(nl - start);
        line->append(start, n);
        begin_ += n + 1;
        pos_ += static_cast<int64_t>(n + 1);
        return true;
      }
      line->append(start, end_ - begin_);
      pos_ += static_cast<int64_t>(end_ - begin_);
      begin_ = end_;
    }
  }
  int64_t position() const { return pos_; }

 private:
  bool Fill() {
    ssize_t n;
    do {
      n = ::read(fd_, buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
    begin_ = 0;
    end_ = static_cast<size_t>(n);
    return n > 0;
  }
  std::string path_;
  int fd_ = -1;
  std::vector<char> buf_ = std::vector<char>(1 << 20);
  size_t begin_ = 0;
  size_t end_ = 0;
  int64_t pos_ = 0;
};

}  // namespace

std::vector<internal::TextFileSplit> TextFileSource::AssignedSplits() {
  const size_t p = static_cast<size_t>(getRuntimeContext().getNumberOfParallelSubtasks());
  const size_t index = static_cast<size_t>(getRuntimeContext().getIndexOfThisSubtask());
  std::vector<internal::TextFileSplit> mine;
  size_t s = 0;  // the number of the split over all subtasks
  for (const auto& [path, size] : ListFiles(path_)) {
    for (int64_t start = 0; start < size; start += split_size_, ++s) {
      if (s % p == index) mine.push_back({path, start, std::min(size, start + split_size_)});
    }
  }
  return mine;
}

void TextFileSource::initializeState(FunctionInitializationContext& context) {
  state_ = &context.getOperatorStateStore().getListState(ListStateDescriptor<internal::TextFileSplit>("file-splits"));
  splits_ = context.isRestored() ? state_->get() : AssignedSplits();
  current_ = 0;
  initialized_ = true;
}

void TextFileSource::snapshotState(const FunctionSnapshotContext&) {
  if (state_ == nullptr) return;
  state_->update(
      std::vector<internal::TextFileSplit>(splits_.begin() + static_cast<ptrdiff_t>(current_), splits_.end()));
}

void TextFileSource::run(SourceContext& ctx) {
  if (!initialized_) {
    splits_ = AssignedSplits();
    current_ = 0;
    initialized_ = true;
  }
  std::string line;
  for (; current_ < splits_.size(); ++current_) {
    if (!ctx.isRunning()) return;
    internal::TextFileSplit& split = splits_[current_];
    FileReader reader(split.path);
    if (split.offset != internal::TextFileSplit::kUnopened) {
      // Restored: a line not emitted yet starts exactly here.
      reader.Seek(split.offset);
    } else if (split.start > 0) {
      // A split owns the lines that start inside [start, end): skip the tail of
      // a line that began in the previous split.
      reader.Seek(split.start - 1);
      if (!reader.ReadLine(&line)) continue;
    }
    // split.offset is the start of the line being collected while collect()
    // runs, and of the next line once it returned.
    split.offset = reader.position();
    while (split.offset < split.end) {
      if (!ctx.isRunning()) return;
      if (!reader.ReadLine(&line)) break;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      ctx.collect(line);
      split.offset = reader.position();
    }
  }
}

void SocketTextSource::run(SourceContext& ctx) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  std::string where = host_ + ":" + std::to_string(port_);
  int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &addrs);
  if (rc != 0) throw std::runtime_error("cannot resolve " + where + ": " + ::gai_strerror(rc));
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last_errno = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addrs);
  if (fd < 0) throw std::runtime_error("cannot connect to " + where + ": " + std::strerror(last_errno));
  fd_ = fd;

  std::string pending;
  std::vector<char> buf(64 * 1024);
  while (ctx.isRunning()) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 200);
    if (ready == 0) {
      ctx.flush();
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // peer closed (or the source was cancelled)
    size_t begin = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (buf[i] != delimiter_) continue;
      pending.append(buf.data() + begin, i - begin);
      if (delimiter_ == '\n' && !pending.empty() && pending.back() == '\r') pending.pop_back();
      ctx.collect(pending);
      pending.clear();
      begin = i + 1;
    }
    pending.append(buf.data() + begin, static_cast<size_t>(n) - begin);
  }
  if (!pending.empty() && ctx.isRunning()) ctx.collect(pending);
  int old = fd_.exchange(-1);
  if (old >= 0) ::close(old);
}

void SocketTextSource::cancel() {
  int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

std::vector<internal::SequenceRange> SequenceSource::AssignedRanges() {
  const int64_t p = getRuntimeContext().getNumberOfParallelSubtasks();
  const int64_t i = getRuntimeContext().getIndexOfThisSubtask();
  if (to_ < from_) return {};
  // [from, to] may hold up to 2^64 numbers (fromSequence(1, INT64_MAX) is the
  // usual "unbounded" sequence): split it in 128-bit arithmetic and count
  // positions, so neither total * (i + 1) nor an exclusive end past INT64_MAX
  // overflows.
  using u128 = unsigned __int128;
  const u128 total = static_cast<u128>(static_cast<uint64_t>(to_) - static_cast<uint64_t>(from_)) + 1;
  const u128 begin = total * static_cast<u128>(i) / static_cast<u128>(p);
  const u128 end = total * static_cast<u128>(i + 1) / static_cast<u128>(p);  // exclusive
  if (begin == end) return {};
  // from + begin and from + end - 1, wrapping like int64.
  const uint64_t first = static_cast<uint64_t>(from_) + static_cast<uint64_t>(begin);
  const uint64_t last = static_cast<uint64_t>(from_) + static_cast<uint64_t>(end - 1);
  return {{static_cast<int64_t>(first), static_cast<int64_t>(last)}};
}

void SequenceSource::initializeState(FunctionInitializationContext& context) {
  state_ = &context.getOperatorStateStore().getListState(
      ListStateDescriptor<internal::SequenceRange>("sequence-ranges"));
  ranges_ = context.isRestored() ? state_->get() : AssignedRanges();
  for (const internal::SequenceRange& r : ranges_) {
    if (r.last < r.first) throw std::logic_error("SequenceSource cannot restore its checkpointed ranges: one is empty");
  }
  current_ = 0;
  initialized_ = true;
}

void SequenceSource::snapshotState(const FunctionSnapshotContext&) {
  if (state_ == nullptr) return;
  state_->update(
      std::vector<internal::SequenceRange>(ranges_.begin() + static_cast<ptrdiff_t>(current_), ranges_.end()));
}

void SequenceSource::run(SourceContext& ctx) {
  if (!initialized_) {
    ranges_ = AssignedRanges();
    current_ = 0;
    initialized_ = true;
  }
  // r.first is the number being collected while collect() runs; the range is
  // dropped (current_ moves on) once its last number was emitted.
  for (; current_ < ranges_.size(); ++current_) {
    internal::SequenceRange& r = ranges_[current_];
    while (true) {
      if (!ctx.isRunning()) return;
      ctx.collect(r.first);
      if (r.first == r.last) break;
      ++r.first;
    }
  }
}

}  // namespace eddy
