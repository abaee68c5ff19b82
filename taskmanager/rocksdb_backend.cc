// The rocksdb state backend's KvStore over RocksDB, and the factory that picks
// an operator instance's keyed backend from the configuration.
#include "taskmanager/rocksdb_backend.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace eddy::runtime {

namespace {

absl::Status FromRocksDb(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = "rocksdb " + what + ": " + status.ToString();
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kNotSupported:
      return absl::UnimplementedError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

rocksdb::Slice ToSlice(std::string_view bytes) {
  return rocksdb::Slice(bytes.data(), bytes.size());
}

// The smallest key greater than every key starting with `prefix`, or false if
// there is none (the prefix is empty or all 0xff bytes).
bool PrefixSuccessor(std::string_view prefix, std::string* out) {
  out->assign(prefix.data(), prefix.size());
  while (!out->empty() && static_cast<unsigned char>(out->back()) == 0xff) out->pop_back();
  if (out->empty()) return false;
  out->back() = static_cast<char>(static_cast<unsigned char>(out->back()) + 1);
  return true;
}

// Options of a state's column family. State reads are point lookups, many of
// them for entries that do not exist yet (a new key, a new window): Bloom
// filters over whole keys, in the memtable and in every table file, answer
// those without searching.
rocksdb::ColumnFamilyOptions StateColumnOptions() {
  rocksdb::ColumnFamilyOptions options;
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.1;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

class RocksDbKvStore final : public internal::KvStore {
 public:
  RocksDbKvStore(std::string directory, std::unique_ptr<rocksdb::DB> db)
      : directory_(std::move(directory)), db_(std::move(db)) {
    write_options_.disableWAL = true;  // State is recovered from checkpoints, never from a WAL.
  }
  ~RocksDbKvStore() override {
    // Deliberately ignored: a destructor cannot report; the backend calls
    // Close() itself when it wants the outcome.
    absl::Status ignored = Close();
    (void)ignored;
  }

  absl::StatusOr<int> OpenColumn(const std::string& name) override {
    if (db_ == nullptr) return Closed();
    auto it = columns_.find(name);
    if (it != columns_.end()) return it->second;
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    if (name == rocksdb::kDefaultColumnFamilyName) {
      handle = db_->DefaultColumnFamily();
    } else {
      absl::Status status =
          FromRocksDb(db_->CreateColumnFamily(StateColumnOptions(), name, &handle),
                      "creating column family '" + name + "' in " + directory_);
      if (!status.ok()) return status;
    }
    handles_.push_back(handle);
    const int column = static_cast<int>(handles_.size()) - 1;
    columns_.emplace(name, column);
    return column;
  }

  absl::StatusOr<bool> Get(int column, std::string_view key, std::string* value) override {
    if (db_ == nullptr) return Closed();
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), handles_[column], ToSlice(key), value);
    if (status.IsNotFound()) return false;
    absl::Status converted = FromRocksDb(status, "get");
    if (!converted.ok()) return converted;
    return true;
  }

  absl::Status Put(int column, std::string_view key, std::string_view value) override {
    if (db_ == nullptr) return Closed();
    return FromRocksDb(db_->Put(write_options_, handles_[column], ToSlice(key), ToSlice(value)),
                       "put");
  }

  absl::Status Delete(int column, std::string_view key) override {
    if (db_ == nullptr) return Closed();
    return FromRocksDb(db_->Delete(write_options_, handles_[column], ToSlice(key)), "delete");
  }

  absl::Status Scan(
      int column, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) override {
    if (db_ == nullptr) return Closed();
    std::string upper;
    rocksdb::Slice upper_slice;
    rocksdb::ReadOptions options;
    if (PrefixSuccessor(prefix, &upper)) {
      upper_slice = rocksdb::Slice(upper);
      options.iterate_upper_bound = &upper_slice;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handles_[column]));
    for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      if (!key.starts_with(ToSlice(prefix))) break;
      const rocksdb::Slice value = it->value();
      if (!visit(std::string_view(key.data(), key.size()),
                 std::string_view(value.data(), value.size()))) {
        break;
      }
    }
    return FromRocksDb(it->status(), "scan");
  }

  absl::StatusOr<std::unique_ptr<internal::KvStoreView>> CreateView() override;

  absl::StatusOr<std::vector<std::string>> CreateCheckpoint(const std::string& dir) override {
    if (db_ == nullptr) return Closed();
    rocksdb::Checkpoint* raw = nullptr;
    absl::Status s = FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint");
    if (!s.ok()) return s;
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush 0: flush the memtables, so the files hold everything.
    s = FromRocksDb(checkpoint->CreateCheckpoint(dir, 0), "creating checkpoint " + dir);
    if (!s.ok()) return s;
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path().filename().string());
    return files;
  }

  absl::Status ImportKeyGroups(const std::string& dir, int first, int last) override {
    if (db_ == nullptr) return Closed();
    rocksdb::Options options;
    std::vector<std::string> names;
    absl::Status s = FromRocksDb(rocksdb::DB::ListColumnFamilies(options, dir, &names), "listing " + dir);
    if (!s.ok()) return s;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    s = FromRocksDb(rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw), "opening " + dir);
    if (!s.ok()) return s;
    std::unique_ptr<rocksdb::DB> source(raw);
    const char lower[2] = {static_cast<char>((first >> 8) & 0xff), static_cast<char>(first & 0xff)};
    for (size_t i = 0; i < names.size() && s.ok(); ++i) {
      if (names[i] == rocksdb::kDefaultColumnFamilyName) continue;
      auto column = OpenColumn(names[i]);
      if (!column.ok()) {
        s = column.status();
        break;
      }
      rocksdb::WriteBatch batch;
      std::unique_ptr<rocksdb::Iterator> it(source->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->Seek(rocksdb::Slice(lower, 2)); it->Valid(); it->Next()) {
        const rocksdb::Slice key = it->key();
        if (key.size() < 2) continue;
        const int kg = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
        if (kg > last) break;
        batch.Put(handles_[static_cast<size_t>(*column)], key, it->value());
        if (batch.Count() >= 10000) {
          s = FromRocksDb(db_->Write(write_options_, &batch), "import");
          batch.Clear();
          if (!s.ok()) break;
        }
      }
      if (s.ok()) s = FromRocksDb(it->status(), "reading " + dir);
      if (s.ok() && batch.Count() > 0) s = FromRocksDb(db_->Write(write_options_, &batch), "import");
    }
    for (auto* h : handles) (void)source->DestroyColumnFamilyHandle(h);
    return s;
  }

  absl::Status DeletePrefix(int column, std::string_view prefix) override {
    if (db_ == nullptr) return Closed();
    rocksdb::WriteBatch batch;
    absl::Status status = Scan(column, prefix, [&](std::string_view key, std::string_view) {
      batch.Delete(handles_[column], ToSlice(key));
      return true;
    });
    if (!status.ok() || batch.Count() == 0) return status;
    return FromRocksDb(db_->Write(write_options_, &batch), "delete prefix");
  }

  absl::Status Close() override {
    if (db_ == nullptr) return absl::OkStatus();
    absl::Status status;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      if (handle == db_->DefaultColumnFamily()) continue;
      absl::Status destroyed = FromRocksDb(db_->DestroyColumnFamilyHandle(handle), "close");
      if (status.ok()) status = destroyed;
    }
    handles_.clear();
    columns_.clear();
    absl::Status closed = FromRocksDb(db_->Close(), "closing " + directory_);
    if (status.ok()) status = closed;
    db_.reset();
    std::error_code error;
    std::filesystem::remove_all(directory_, error);
    if (error && status.ok()) {
      status = absl::InternalError("cannot delete rocksdb directory " + directory_ + ": " +
                                   error.message());
    }
    return status;
  }

  std::string directory() const override { return directory_; }

 private:
  static absl::Status Closed() { return absl::FailedPreconditionError("rocksdb store is closed"); }
  friend class RocksDbView;

  std::string directory_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
  std::map<std::string, int> columns_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by column; destroyed on Close
};

// Pins a RocksDB snapshot: iterators read the version of the moment.
class RocksDbView final : public internal::KvStoreView {
 public:
  RocksDbView(rocksdb::DB* db, std::vector<std::string> names,
              std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(db), snapshot_(db->GetSnapshot()), names_(std::move(names)), handles_(std::move(handles)) {}
  ~RocksDbView() override { db_->ReleaseSnapshot(snapshot_); }
  const std::vector<std::string>& column_names() const override { return names_; }
  absl::Status Scan(size_t index, std::string_view prefix,
                    absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) override {
    std::string upper;
    rocksdb::Slice upper_slice;
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    options.fill_cache = false;
    if (PrefixSuccessor(prefix, &upper)) {
      upper_slice = rocksdb::Slice(upper);
      options.iterate_upper_bound = &upper_slice;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handles_[index]));
    for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      if (!key.starts_with(ToSlice(prefix))) break;
      const rocksdb::Slice value = it->value();
      if (!visit(std::string_view(key.data(), key.size()), std::string_view(value.data(), value.size()))) break;
    }
    return FromRocksDb(it->status(), "snapshot scan");
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

absl::StatusOr<std::unique_ptr<internal::KvStoreView>> RocksDbKvStore::CreateView() {
  if (db_ == nullptr) return Closed();
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (const auto& [name, column] : columns_) {
    names.push_back(name);
    handles.push_back(handles_[static_cast<size_t>(column)]);
  }
  return std::unique_ptr<internal::KvStoreView>(
      std::make_unique<RocksDbView>(db_.get(), std::move(names), std::move(handles)));
}

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// File-name-safe, bounded form of an operator id.
std::string SanitizeForPath(const std::string& id) {
  std::string out;
  for (char c : id.substr(0, 96)) {
    const bool safe =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(safe ? c : '_');
  }
  return out.empty() ? "operator" : out;
}

// Creates a fresh, uniquely named instance directory under one of the
// configured local directories.
absl::StatusOr<std::string> CreateInstanceDirectory(const std::string& localdirs,
                                                    const std::string& operator_id) {
  std::vector<std::string> roots;
  size_t start = 0;
  while (start <= localdirs.size()) {
    size_t comma = localdirs.find(',', start);
    if (comma == std::string::npos) comma = localdirs.size();
    std::string root = Trim(std::string_view(localdirs).substr(start, comma - start));
    if (!root.empty()) roots.push_back(std::move(root));
    start = comma + 1;
  }
  if (roots.empty()) {
    std::error_code error;
    std::filesystem::path temp = std::filesystem::temp_directory_path(error);
    if (error) return absl::InternalError("no temporary directory: " + error.message());
    roots.push_back(temp.string());
  }
  std::random_device seed;
  std::mt19937_64 random(seed());
  const std::string& root = roots[random() % roots.size()];
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error) {
    return absl::FailedPreconditionError("cannot create " +
                                         std::string(kStateBackendRocksdbLocalDir.key) + " " +
                                         root + ": " + error.message());
  }
  for (int attempt = 0; attempt < 16; ++attempt) {
    char suffix[17];
    std::snprintf(suffix, sizeof(suffix), "%016llx", static_cast<unsigned long long>(random()));
    std::filesystem::path directory =
        std::filesystem::path(root) /
        ("eddy-rocksdb-" + SanitizeForPath(operator_id) + "-" + suffix);
    if (std::filesystem::create_directory(directory, error)) return directory.string();
    if (error) {
      return absl::FailedPreconditionError("cannot create rocksdb directory " + directory.string() +
                                           ": " + error.message());
    }
  }
  return absl::InternalError("cannot find a fresh rocksdb directory name under " + root);
}

}  // namespace

absl::StatusOr<std::unique_ptr<internal::KvStore>> OpenRocksDbKvStore(
    const std::string& directory) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  // The database is deleted on close: flushing memtables then is wasted work.
  options.avoid_flush_during_shutdown = true;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 1;
  rocksdb::DB* raw = nullptr;
  absl::Status status =
      FromRocksDb(rocksdb::DB::Open(options, directory, &raw), "open " + directory);
  if (!status.ok()) return status;
  return std::unique_ptr<internal::KvStore>(
      std::make_unique<RocksDbKvStore>(directory, std::unique_ptr<rocksdb::DB>(raw)));
}

absl::StatusOr<std::unique_ptr<internal::KeyedStateBackend>> CreateKeyedStateBackend(
    const std::map<std::string, std::string>& config, KeyGroupRange range, int max_parallelism,
    const std::string& operator_id) {
  auto lookup = [&config](const ConfigOption& option) {
    auto it = config.find(std::string(option.key));
    return it == config.end() ? std::string(option.default_value) : it->second;
  };
  const std::string type = lookup(kStateBackendType);
  const std::string normalized = ToLower(Trim(type));
  if (normalized == "hashmap") {
    return std::make_unique<internal::KeyedStateBackend>(range, max_parallelism);
  }
  if (normalized != "rocksdb") {
    return absl::InvalidArgumentError("unknown state.backend.type '" + type +
                                      "': expected hashmap or rocksdb");
  }
  const std::string cache_entries = Trim(lookup(kStateBackendRocksdbCacheEntries));
  int64_t entries = 0;
  if (!absl::SimpleAtoi(cache_entries, &entries) || entries < 1) {
    return absl::InvalidArgumentError(std::string(kStateBackendRocksdbCacheEntries.key) + ": '" + cache_entries +
                                      "' is not a positive number of entries");
  }
  absl::StatusOr<std::string> directory =
      CreateInstanceDirectory(lookup(kStateBackendRocksdbLocalDir), operator_id);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<internal::KvStore>> store = OpenRocksDbKvStore(*directory);
  if (!store.ok()) {
    std::error_code ignored;  // Best effort: the open error is what matters.
    std::filesystem::remove_all(*directory, ignored);
    return store.status();
  }
  auto backend =
      std::make_unique<internal::KeyedStateBackend>(range, max_parallelism, *std::move(store), "rocksdb");
  backend->SetKvCacheEntries(static_cast<size_t>(entries));
  return backend;
}

}  // namespace eddy::runtime
