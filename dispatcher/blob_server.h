// BlobServer: job libraries stored by their sha256 digest, served to
// TaskManagers in chunks (BlobService).
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eddy/rpc.grpc.pb.h"

namespace eddy::dispatcher {

// The sha256 of `data` as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

class BlobServer final : public proto::BlobService::Service {
 public:
  // Stores blobs under `directory` (created if needed).
  explicit BlobServer(std::string directory);
  // Stores `data`; returns its digest. Storing the same bytes twice is free.
  absl::StatusOr<std::string> Put(std::string_view data);
  const std::string& directory() const { return directory_; }

  grpc::Status GetBlob(grpc::ServerContext* context, const proto::BlobRequest* request,
                       grpc::ServerWriter<proto::BlobChunk>* writer) override;

 private:
  std::string PathOf(const std::string& digest) const;
  std::string directory_;
  std::mutex mu_;
};

}  // namespace eddy::dispatcher
