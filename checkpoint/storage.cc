// Filesystem checkpoint storage (see storage.h).
#include "checkpoint/storage.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eddy::checkpoint {
namespace fs = std::filesystem;

namespace {
std::string RandomHex(int digits) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  for (int i = 0; i < digits; ++i) out.push_back("0123456789abcdef"[rng() % 16]);
  return out;
}
}  // namespace

absl::StatusOr<std::string> ResolvePath(std::string_view uri, std::string_view what) {
  std::string_view path = uri;
  if (path.starts_with("file://")) {
    path.remove_prefix(7);
  } else if (auto scheme = path.find("://"); scheme != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " '", std::string(uri), "' uses the scheme '",
                                                   std::string(path.substr(0, scheme)),
                                                   "': only file:// URIs and plain paths are supported"));
  }
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is empty"));
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(path), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(std::string(what), " '", std::string(uri), "': ", ec.message()));
  return p.lexically_normal().string();
}

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create the directory of ", path, ": ", ec.message()));
  std::string temp = absl::StrCat(path, ".inprogress-", RandomHex(8));
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter(path, temp));
  w->out_.open(temp, std::ios::binary | std::ios::trunc);
  if (!w->out_) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  fs::remove(temp_, ec);
}

absl::Status AtomicFileWriter::Append(std::string_view data) {
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out_) return absl::UnavailableError(absl::StrCat("writing ", temp_, " failed"));
  size_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  out_.flush();
  out_.close();
  if (!out_) return absl::UnavailableError(absl::StrCat("writing ", temp_, " failed"));
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", temp_, " to ", path_, ": ", ec.message()));
  committed_ = true;
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  auto writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = (*writer)->Append(data); !s.ok()) return s;
  return (*writer)->Commit();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", path, " failed"));
  return data;
}

absl::StatusOr<std::string> ReadFileRange(const std::string& path, int64_t offset, int64_t length) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  in.seekg(offset);
  std::string data(static_cast<size_t>(length), '\0');
  in.read(data.data(), length);
  if (in.gcount() != length) {
    return absl::DataLossError(absl::StrCat(path, " is truncated: expected ", length, " bytes at offset ", offset));
  }
  return data;
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot delete ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string CheckpointDirectory(const std::string& checkpoints_dir, const std::string& job_id, int64_t id) {
  return (fs::path(checkpoints_dir) / job_id / absl::StrCat("chk-", id)).string();
}

std::string NewSavepointDirectory(const std::string& savepoints_dir, const std::string& job_id) {
  return (fs::path(savepoints_dir) / absl::StrCat("savepoint-", job_id.substr(0, 6), "-", RandomHex(12))).string();
}

absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(const std::string& path, std::string* directory) {
  std::error_code ec;
  fs::path file(path);
  if (fs::is_directory(file, ec)) file /= kMetadataFile;
  if (!fs::exists(file, ec)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint or savepoint at ", path, ": ", file.string(),
                                            " does not exist"));
  }
  auto data = ReadWholeFile(file.string());
  if (!data.ok()) return data.status();
  proto::CheckpointMetadata metadata;
  if (!metadata.ParseFromString(*data) || metadata.version() == 0) {
    return absl::DataLossError(absl::StrCat(file.string(), " is not a valid checkpoint metadata file"));
  }
  if (metadata.version() > kMetadataVersion) {
    return absl::FailedPreconditionError(absl::StrCat(file.string(), " has metadata version ", metadata.version(),
                                                      "; this Eddy reads version ", kMetadataVersion));
  }
  if (directory != nullptr) *directory = file.parent_path().string();
  return metadata;
}

absl::Status WriteMetadata(const std::string& directory, const proto::CheckpointMetadata& metadata) {
  return WriteFileAtomically((fs::path(directory) / kMetadataFile).string(), metadata.SerializeAsString());
}

std::vector<std::pair<int64_t, std::string>> ListCompletedCheckpoints(const std::string& job_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("chk-")) continue;
    int64_t id = 0;
    try {
      id = std::stoll(name.substr(4));
    } catch (...) {
      continue;
    }
    if (fs::exists(entry.path() / kMetadataFile, ec)) out.emplace_back(id, entry.path().string());
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

}  // namespace eddy::checkpoint
