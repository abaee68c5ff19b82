// Checkpoint storage on a filesystem path: a local directory, or a shared mount
// in real clusters, named by a plain path or a file:// URI. Every file is
// written atomically (a temporary file in the same directory, then rename), so
// a reader never sees half a file. The functions take resolved paths; the
// layout of a job's checkpoints is
//   <state.checkpoints.dir>/<job-id>/chk-<n>/{_metadata, op-...}
//   <state.checkpoints.dir>/<job-id>/{shared/, taskowned/}
// and a savepoint is a self-contained directory
//   <state.savepoints.dir>/savepoint-<first 6 of job id>-<random 12 hex>/.
// Other URI schemes (s3://, hdfs://) would be further implementations of these
// few operations.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eddy/checkpoint.pb.h"

namespace eddy::checkpoint {

inline constexpr char kMetadataFile[] = "_metadata";
inline constexpr uint32_t kMetadataVersion = 1;

// "file:///a/b" or "/a/b" → "/a/b"; InvalidArgument naming `what` for other
// schemes or an empty value.
absl::StatusOr<std::string> ResolvePath(std::string_view uri, std::string_view what);

// Writes `data` to `path` atomically, creating parent directories.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Reads `length` bytes at `offset`.
absl::StatusOr<std::string> ReadFileRange(const std::string& path, int64_t offset, int64_t length);
// Deletes a directory tree; absent is fine.
absl::Status RemoveTree(const std::string& path);

// A file written in pieces, made visible under its name by Commit().
class AtomicFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);
  ~AtomicFileWriter();  // removes the temporary file unless committed
  absl::Status Append(std::string_view data);
  int64_t size() const { return size_; }
  absl::Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string temp) : path_(std::move(path)), temp_(std::move(temp)) {}
  std::string path_;
  std::string temp_;
  std::ofstream out_;
  int64_t size_ = 0;
  bool committed_ = false;
};

// The directory of checkpoint `id` of a job.
std::string CheckpointDirectory(const std::string& checkpoints_dir, const std::string& job_id, int64_t id);
// A fresh savepoint directory name under `savepoints_dir`.
std::string NewSavepointDirectory(const std::string& savepoints_dir, const std::string& job_id);

// Reads and checks a _metadata file. `path` is the metadata file or the
// directory holding it (a checkpoint or savepoint directory). The error says
// what is wrong and where.
absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(const std::string& path, std::string* directory);
absl::Status WriteMetadata(const std::string& directory, const proto::CheckpointMetadata& metadata);

// Completed checkpoints of a job, newest first: chk-<n> directories holding a
// _metadata file.
std::vector<std::pair<int64_t, std::string>> ListCompletedCheckpoints(const std::string& job_dir);

}  // namespace eddy::checkpoint
