// KvStore: the byte-level, ordered key-value store under the serializing keyed
// state backends. The rocksdb backend implements it in libeddy
// (taskmanager/rocksdb_backend.cc) so that no public header includes RocksDB;
// the state implementations in keyed_state.h only see this interface.
//
// A store holds named columns (RocksDB column families), one per state. Keys
// are compared as unsigned bytes. A store is used by one task thread.
#pragma once

#include <memory>
#include <string>
#include <vector>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eddy::internal {

// A read-only, consistent view of a store at one moment, readable from another
// thread while the store keeps changing (asynchronous snapshots). The store
// must outlive its views.
class KvStoreView {
 public:
  virtual ~KvStoreView() = default;
  // The columns that existed when the view was taken, by name.
  virtual const std::vector<std::string>& column_names() const = 0;
  // As KvStore::Scan, over column `column_names()[index]`.
  virtual absl::Status Scan(
      size_t index, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // A handle for the column called `name`, created empty on first use; the
  // same name always yields the same handle.
  virtual absl::StatusOr<int> OpenColumn(const std::string& name) = 0;

  // Reads the value of `key` into `*value`; false if there is none.
  virtual absl::StatusOr<bool> Get(int column, std::string_view key, std::string* value) = 0;
  virtual absl::Status Put(int column, std::string_view key, std::string_view value) = 0;
  // Deleting an absent key is not an error.
  virtual absl::Status Delete(int column, std::string_view key) = 0;

  // Calls `visit(key, value)` for each entry whose key starts with `prefix`, in
  // ascending key order, until `visit` returns false. The scan reads a
  // snapshot taken when it starts: `visit` may modify the store, and does not
  // see its own modifications.
  virtual absl::Status Scan(
      int column, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) = 0;
  // Deletes every entry whose key starts with `prefix`.
  virtual absl::Status DeletePrefix(int column, std::string_view prefix) = 0;

  // A view of the store as it is now.
  virtual absl::StatusOr<std::unique_ptr<KvStoreView>> CreateView() = 0;

  // ---- Incremental checkpoints (stores that have files) ----
  // Writes a consistent copy of the store's files into the new directory
  // `dir` (hard links where possible) and returns the file names.
  virtual absl::StatusOr<std::vector<std::string>> CreateCheckpoint(const std::string& dir) {
    return absl::UnimplementedError("this store has no files to checkpoint");
  }
  // Copies every entry whose 2-byte key-group prefix is in [first, last] from
  // the store files in `dir` (made by CreateCheckpoint) into this store.
  virtual absl::Status ImportKeyGroups(const std::string& dir, int first, int last) {
    return absl::UnimplementedError("this store cannot import store files");
  }

  // Closes the store and deletes its files; idempotent. No other method may
  // be called afterwards.
  virtual absl::Status Close() = 0;
  // Where the store keeps its files (empty for stores without any).
  virtual std::string directory() const = 0;
};

}  // namespace eddy::internal
