// The non-template halves of the built-in sinks: the file sink's part files
// and their two-phase commit on the file system.
#include "eddy/sinks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>

namespace eddy {

DefaultRollingPolicy DefaultRollingPolicy::Builder::build() const {
  if (max_part_size_ <= 0) throw std::invalid_argument("DefaultRollingPolicy: max part size must be positive");
  if (rollover_interval_ms_ <= 0) {
    throw std::invalid_argument("DefaultRollingPolicy: rollover interval must be positive");
  }
  if (inactivity_interval_ms_ <= 0) {
    throw std::invalid_argument("DefaultRollingPolicy: inactivity interval must be positive");
  }
  return DefaultRollingPolicy(max_part_size_, rollover_interval_ms_, inactivity_interval_ms_);
}

DateTimeBucketAssigner::DateTimeBucketAssigner(std::string format) : format_(std::move(format)) {
  if (format_.empty()) throw std::invalid_argument("DateTimeBucketAssigner: the format is empty");
  if (format_.front() == '/' || format_.find("..") != std::string::npos) {
    throw std::invalid_argument("DateTimeBucketAssigner: format '" + format_ +
                                "' would leave the sink's directory (leading '/' or '..')");
  }
}

std::string DateTimeBucketAssigner::getBucketId(int64_t epoch_ms) const {
  // Floor division: times before 1970 belong to the second that contains them.
  const int64_t seconds = epoch_ms / 1000 - (epoch_ms % 1000 < 0 ? 1 : 0);
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) {
    throw std::invalid_argument("DateTimeBucketAssigner: time " + std::to_string(epoch_ms) + " is out of range");
  }
  auto two = [](int v) { return std::string(1, static_cast<char>('0' + v / 10)) + static_cast<char>('0' + v % 10); };
  std::string out;
  for (size_t i = 0; i < format_.size();) {
    const std::string_view rest = std::string_view(format_).substr(i);
    if (rest.starts_with("yyyy")) {
      char year[16];
      std::snprintf(year, sizeof(year), "%04d", tm.tm_year + 1900);
      out += year;
      i += 4;
    } else if (rest.starts_with("MM")) {
      out += two(tm.tm_mon + 1);
      i += 2;
    } else if (rest.starts_with("dd")) {
      out += two(tm.tm_mday);
      i += 2;
    } else if (rest.starts_with("HH")) {
      out += two(tm.tm_hour);
      i += 2;
    } else if (rest.starts_with("mm")) {
      out += two(tm.tm_min);
      i += 2;
    } else if (rest.starts_with("ss")) {
      out += two(tm.tm_sec);
      i += 2;
    } else {
      out += format_[i++];
    }
  }
  return out;
}

}  // namespace eddy

namespace eddy::internal {

void WriteToStdStream(bool to_stderr, std::string_view text) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  FILE* f = to_stderr ? stderr : stdout;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}

namespace {

[[noreturn]] void ThrowErrno(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

// "part-<subtask>-<counter>": the two numbers of a part's name, if it is one.
bool ParsePartName(std::string_view name, int64_t* subtask, int64_t* counter) {
  if (!name.starts_with("part-")) return false;
  name.remove_prefix(5);
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  auto parse = [](std::string_view digits, int64_t* out) {
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
    }
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
    return ec == std::errc() && ptr == digits.data() + digits.size();
  };
  return parse(name.substr(0, dash), subtask) && parse(name.substr(dash + 1), counter);
}

constexpr std::string_view kInProgressSuffix = ".inprogress";

}  // namespace

struct RowFileBuckets::OpenPart {
  FilePart part;
  std::string path;  // the in-progress file
  int fd = -1;
  std::string buffer;  // written to fd in kFlushBytes chunks
  int64_t size = 0;    // bytes of the part, buffered ones included
  int64_t opened_ms = 0;
  int64_t last_write_ms = 0;
};

RowFileBuckets::RowFileBuckets(FileSinkOptions options, int subtask, int parallelism,
                               const std::vector<PartCounter>& restored)
    : options_(std::move(options)),
      subtask_(subtask),
      next_part_counter_(0),
      needs_clock_(options_.bucket_assigner.has_value() || options_.rollover_interval_ms > 0 ||
                   options_.inactivity_interval_ms > 0) {
  std::error_code ec;
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) throw std::runtime_error("cannot create output directory " + options_.directory + ": " + ec.message());
  for (const PartCounter& c : restored) next_part_counter_ = std::max(next_part_counter_, c.next);
  DeleteOrphans(subtask, parallelism, restored);
  if (restored.empty()) {
    // A fresh job writing into a directory that already holds this subtask's
    // parts (an earlier run) continues after them rather than replacing them.
    std::filesystem::recursive_directory_iterator it(options_.directory, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with('.') && name.ends_with(kInProgressSuffix)) {
        name = name.substr(1, name.size() - 1 - kInProgressSuffix.size());
      }
      int64_t owner = 0, counter = 0;
      if (ParsePartName(name, &owner, &counter) && owner == subtask) {
        next_part_counter_ = std::max(next_part_counter_, counter + 1);
      }
    }
  }
}

RowFileBuckets::~RowFileBuckets() {
  for (auto& [bucket, part] : open_) {
    if (part->fd >= 0) ::close(part->fd);
  }
}

int64_t RowFileBuckets::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool RowFileBuckets::ShouldRoll(const OpenPart& part, int64_t now) const {
  return (options_.max_part_size > 0 && part.size >= options_.max_part_size) ||
         (options_.rollover_interval_ms > 0 && now - part.opened_ms >= options_.rollover_interval_ms) ||
         (options_.inactivity_interval_ms > 0 && now - part.last_write_ms >= options_.inactivity_interval_ms);
}

std::string RowFileBuckets::PathOf(const FilePart& part, bool in_progress) const {
  std::filesystem::path path(part.directory.empty() ? options_.directory : part.directory);
  if (!part.bucket.empty()) path /= part.bucket;
  path /= in_progress ? "." + part.name + std::string(kInProgressSuffix) : part.name;
  return path.string();
}

void RowFileBuckets::Write(FileSinkTransaction& txn, std::string_view bytes) {
  const int64_t now = needs_clock_ ? Now() : 0;
  if (options_.bucket_assigner) {
    // Buckets change at most once a second: format once per second.
    const int64_t second = now / 1000;
    if (second != cached_bucket_second_) {
      cached_bucket_ = options_.bucket_assigner->getBucketId(now);
      cached_bucket_second_ = second;
    }
  }
  const std::string& bucket = cached_bucket_;
  auto it = open_.find(bucket);
  if (it != open_.end() && ShouldRoll(*it->second, now)) {
    ClosePart(*it->second, /*sync=*/true);
    open_.erase(it);
    it = open_.end();
  }
  if (it == open_.end()) {
    auto part = std::make_unique<OpenPart>();
    part->part = {bucket, "part-" + std::to_string(subtask_) + "-" + std::to_string(next_part_counter_),
                  std::filesystem::absolute(options_.directory).string()};
    part->path = PathOf(part->part, /*in_progress=*/true);
    if (!bucket.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(options_.directory) / bucket, ec);
      if (ec) throw std::runtime_error("cannot create bucket directory " + bucket + ": " + ec.message());
    }
    part->fd = ::open(part->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (part->fd < 0) ThrowErrno("cannot open", part->path);
    ++next_part_counter_;
    part->opened_ms = now;
    txn.parts.push_back(part->part);
    it = open_.emplace(bucket, std::move(part)).first;
  }
  OpenPart& part = *it->second;
  part.buffer.append(bytes);
  part.size += static_cast<int64_t>(bytes.size());
  part.last_write_ms = now;
  if (part.buffer.size() >= kFlushBytes) FlushBuffer(part);
}

void RowFileBuckets::OnIdle() {
  const int64_t now = needs_clock_ ? Now() : 0;
  for (auto it = open_.begin(); it != open_.end();) {
    if (ShouldRoll(*it->second, now)) {
      ClosePart(*it->second, /*sync=*/true);
      it = open_.erase(it);
    } else {
      FlushBuffer(*it->second);
      ++it;
    }
  }
}

void RowFileBuckets::FlushBuffer(OpenPart& part) {
  std::string_view bytes = part.buffer;
  while (!bytes.empty()) {
    const ssize_t n = ::write(part.fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("cannot write", part.path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  part.buffer.clear();
}

void RowFileBuckets::ClosePart(OpenPart& part, bool sync) {
  if (part.fd < 0) return;
  if (sync) {
    FlushBuffer(part);
    if (::fsync(part.fd) != 0) ThrowErrno("cannot sync", part.path);
  }
  const int fd = part.fd;
  part.fd = -1;
  if (::close(fd) != 0 && sync) ThrowErrno("cannot close", part.path);
}

void RowFileBuckets::SyncDirectory(const FilePart& part) {
  const std::filesystem::path path = std::filesystem::path(PathOf(part, false)).parent_path();
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowErrno("cannot open directory", path.string());
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  // Some file systems cannot sync directories; the renames are still atomic.
  if (rc != 0 && errno != EINVAL && errno != EROFS) ThrowErrno("cannot sync directory", path.string());
}

void RowFileBuckets::PreCommit(const FileSinkTransaction& txn) {
  std::map<std::string, const FilePart*> dirs;
  for (const FilePart& p : txn.parts) {
    dirs.emplace(std::filesystem::path(PathOf(p, false)).parent_path().string(), &p);
    auto it = open_.find(p.bucket);
    if (it != open_.end() && it->second->part.name == p.name) {
      ClosePart(*it->second, /*sync=*/true);
      open_.erase(it);
    }
  }
  // The pending files' directory entries must survive a crash too.
  for (const auto& [dir, part] : dirs) SyncDirectory(*part);
}

void RowFileBuckets::Commit(const FileSinkTransaction& txn) {
  std::map<std::string, const FilePart*> dirs;
  for (const FilePart& p : txn.parts) {
    const std::string from = PathOf(p, /*in_progress=*/true);
    const std::string to = PathOf(p, /*in_progress=*/false);
    if (::rename(from.c_str(), to.c_str()) == 0) {
      dirs.emplace(std::filesystem::path(to).parent_path().string(), &p);
      continue;
    }
    if (errno != ENOENT) ThrowErrno("cannot commit " + from + " as", to);
    struct stat st;
    if (::stat(to.c_str(), &st) != 0) {
      throw std::runtime_error("cannot commit part file " + to + ": neither it nor its in-progress file " + from +
                               " exists");
    }
    // Committed before (a commit repeated on recovery).
  }
  for (const auto& [dir, part] : dirs) SyncDirectory(*part);
}

void RowFileBuckets::Abort(const FileSinkTransaction& txn) {
  for (const FilePart& p : txn.parts) {
    auto it = open_.find(p.bucket);
    if (it != open_.end() && it->second->part.name == p.name) {
      ClosePart(*it->second, /*sync=*/false);
      open_.erase(it);
    }
    const std::string path = PathOf(p, /*in_progress=*/true);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("cannot delete", path);
  }
}

void RowFileBuckets::DeleteOrphans(int subtask, int parallelism, const std::vector<PartCounter>& restored) {
  // Every part of a restored transaction of old subtask j has a counter below
  // j's next one: it was opened before the checkpoint, by j itself (restored
  // transactions are committed on restore, never carried into later ones).
  std::map<int64_t, int64_t> first_unreferenced;
  for (const PartCounter& c : restored) {
    auto [it, inserted] = first_unreferenced.emplace(c.subtask, c.next);
    if (!inserted) it->second = std::max(it->second, c.next);
  }
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(options_.directory, ec), end;
  if (ec) throw std::runtime_error("cannot list " + options_.directory + ": " + ec.message());
  std::vector<std::filesystem::path> orphans;
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("cannot list " + options_.directory + ": " + ec.message());
    const std::string file = it->path().filename().string();
    std::string_view name = file;
    if (!name.starts_with('.') || !name.ends_with(kInProgressSuffix)) continue;
    name.remove_prefix(1);
    name.remove_suffix(kInProgressSuffix.size());
    int64_t owner = 0, counter = 0;
    if (!ParsePartName(name, &owner, &counter)) continue;
    // Subtask j's files are this subtask's if j maps to it; only subtask j
    // itself writes new ones, and only after this cleanup.
    if (owner % parallelism != subtask) continue;
    auto known = first_unreferenced.find(owner);
    if (counter >= (known == first_unreferenced.end() ? 0 : known->second)) orphans.push_back(it->path());
  }
  for (const auto& path : orphans) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("cannot delete", path.string());
  }
}

}  // namespace eddy::internal
