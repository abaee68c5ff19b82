// The non-template halves of the built-in sinks.
#include "eddy/sinks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace eddy::internal {

void WriteToStdStream(bool to_stderr, std::string_view text) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  FILE* f = to_stderr ? stderr : stdout;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}

PartFileWriter::PartFileWriter(std::string directory, int subtask) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw std::runtime_error("cannot create output directory " + directory + ": " + ec.message());
  path_ = (std::filesystem::path(directory) / ("part-" + std::to_string(subtask) + "-0")).string();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
}

PartFileWriter::~PartFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void PartFileWriter::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void PartFileWriter::Flush() {
  if (::fsync(fd_) != 0) throw std::runtime_error("cannot sync " + path_ + ": " + std::strerror(errno));
}

}  // namespace eddy::internal
