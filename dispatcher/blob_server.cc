// BlobServer (see blob_server.h).
#include "dispatcher/blob_server.h"

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eddy/ids.h"

namespace eddy::dispatcher {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

BlobServer::BlobServer(std::string directory) : directory_(std::move(directory)) {
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
}

std::string BlobServer::PathOf(const std::string& digest) const {
  return (std::filesystem::path(directory_) / (digest + ".so")).string();
}

absl::StatusOr<std::string> BlobServer::Put(std::string_view data) {
  std::string digest = Sha256Hex(data);
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = PathOf(digest);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return digest;
  // Temp file, then rename: a reader never sees a partial blob.
  std::string tmp = path + "." + Id16::Generate().ToHex() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write blob ", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot store blob ", path, ": ", ec.message()));
  return digest;
}

grpc::Status BlobServer::GetBlob(grpc::ServerContext*, const proto::BlobRequest* request,
                                 grpc::ServerWriter<proto::BlobChunk>* writer) {
  const std::string& digest = request->digest();
  if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed blob digest '" + digest + "'");
  }
  std::ifstream in(PathOf(digest), std::ios::binary);
  if (!in) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no blob " + digest);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    proto::BlobChunk chunk;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "reader went away");
  }
  return grpc::Status::OK;
}

}  // namespace eddy::dispatcher
