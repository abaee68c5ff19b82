// Operator snapshot files (see snapshot_file.h).
#include "checkpoint/snapshot_file.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "checkpoint/storage.h"
#include "eddy/serializer.h"

namespace eddy::checkpoint {

std::string HandlePath(const std::string& directory, const proto::OperatorSubtaskState& handle) {
  std::filesystem::path file(handle.file());
  if (file.is_absolute()) return file.string();
  return (std::filesystem::path(directory) / file).string();
}

absl::StatusOr<proto::OperatorSubtaskState> WriteOperatorSnapshot(
    const std::string& directory, const std::string& file_name, int subtask,
    const std::vector<internal::OperatorStateList>& operator_state, internal::KeyedStateSnapshot* keyed,
    KeyGroupRange range, const std::string& backend) {
  proto::OperatorSubtaskState handle;
  handle.set_subtask(subtask);
  handle.set_file(file_name);
  const std::string path = (std::filesystem::path(directory) / file_name).string();
  auto writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();

  std::string section;
  DataOutput out(&section);
  out.WriteVarint64(operator_state.size());
  for (const internal::OperatorStateList& list : operator_state) {
    out.WriteString(list.name);
    out.WriteByte(static_cast<uint8_t>(list.mode));
    out.WriteVarint64(list.elements.size());
    for (const std::string& e : list.elements) out.WriteString(e);
  }
  handle.set_operator_state_offset(0);
  handle.set_operator_state_length(static_cast<int64_t>(section.size()));
  if (absl::Status s = (*writer)->Append(section); !s.ok()) return s;

  if (keyed != nullptr) {
    handle.set_key_group_start(range.start);
    handle.set_key_group_end(range.end);
    handle.set_backend(backend);
    for (int kg = range.start; kg <= range.end; ++kg) {
      handle.add_key_group_offsets((*writer)->size());
      section.clear();
      if (absl::Status s = keyed->AppendKeyGroup(kg, &section); !s.ok()) return s;
      if (absl::Status s = (*writer)->Append(section); !s.ok()) return s;
    }
    handle.add_key_group_offsets((*writer)->size());
  } else {
    handle.set_key_group_start(0);
    handle.set_key_group_end(-1);
  }
  handle.set_state_size((*writer)->size());
  if (absl::Status s = (*writer)->Commit(); !s.ok()) return s;
  return handle;
}

namespace {

absl::StatusOr<std::vector<internal::OperatorStateList>> ReadOperatorSection(const std::string& directory,
                                                                            const proto::OperatorSubtaskState& h) {
  std::vector<internal::OperatorStateList> lists;
  if (h.operator_state_length() == 0) return lists;
  const std::string path = HandlePath(directory, h);
  auto bytes = ReadFileRange(path, h.operator_state_offset(), h.operator_state_length());
  if (!bytes.ok()) return bytes.status();
  DataInput in(*bytes);
  uint64_t n = in.ReadVarint64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    internal::OperatorStateList list;
    in.ReadString(list.name);
    list.mode = static_cast<internal::OperatorStateMode>(in.ReadByte());
    uint64_t count = in.ReadVarint64();
    for (uint64_t k = 0; k < count && in.ok(); ++k) {
      std::string e;
      in.ReadString(e);
      list.elements.push_back(std::move(e));
    }
    lists.push_back(std::move(list));
  }
  if (!in.ok() || !in.AtEnd()) {
    return absl::DataLossError(absl::StrCat("the operator state in ", path, " is malformed",
                                            in.ok() ? std::string() : ": " + in.error()));
  }
  return lists;
}

// An incremental rocksdb snapshot: the store files are copied (hard-linked
// where the file system allows) into a local directory, and the key groups
// [first, last] imported from them.
absl::Status ImportStoreFiles(const proto::OperatorSubtaskState& h, const std::string& directory, int first,
                              int last, internal::KeyedStateBackend& backend) {
  namespace fs = std::filesystem;
  internal::KvStore* store = backend.kv_store();
  if (store == nullptr) {
    return absl::FailedPreconditionError(
        "the checkpoint holds rocksdb store files, but this job runs the hashmap backend: restore it with "
        "state.backend.type: rocksdb");
  }
  const std::string local = absl::StrCat(store->directory(), "-restore-", h.subtask());
  std::error_code ec;
  fs::remove_all(local, ec);
  fs::create_directories(local, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", local, ": ", ec.message()));
  auto fetch = [&](const std::string& rel, std::string name) -> absl::Status {
    const fs::path from = fs::path(directory) / rel;
    const fs::path to = fs::path(local) / name;
    fs::create_hard_link(from, to, ec);
    if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::DataLossError(absl::StrCat("cannot read the store file ", from.string(), ": ", ec.message()));
    return absl::OkStatus();
  };
  absl::Status s;
  for (const auto& rel : h.shared_files()) {
    std::string name = fs::path(rel).filename().string();
    name = name.substr(name.rfind('_') + 1);  // <instance>_<file>
    if (s.ok()) s = fetch(rel, name);
  }
  for (const auto& rel : h.private_files()) {
    if (s.ok()) s = fetch(rel, fs::path(rel).filename().string());
  }
  if (s.ok()) s = store->ImportKeyGroups(local, first, last);
  fs::remove_all(local, ec);
  return s;
}

}  // namespace

absl::StatusOr<std::vector<internal::OperatorStateList>> AssignOperatorState(
    const proto::OperatorStateHandles& op, const std::string& directory, int index, int parallelism) {
  // Per state name: mode and the lists of each old subtask, in subtask order.
  struct Gathered {
    internal::OperatorStateMode mode;
    std::vector<std::vector<std::string>> per_subtask;
  };
  std::map<std::string, Gathered> gathered;
  std::vector<proto::OperatorSubtaskState> subtasks(op.subtasks().begin(), op.subtasks().end());
  std::sort(subtasks.begin(), subtasks.end(), [](const auto& a, const auto& b) { return a.subtask() < b.subtask(); });
  for (const auto& h : subtasks) {
    auto lists = ReadOperatorSection(directory, h);
    if (!lists.ok()) return lists.status();
    for (auto& l : *lists) {
      Gathered& g = gathered[l.name];
      g.mode = l.mode;
      g.per_subtask.push_back(std::move(l.elements));
    }
  }
  std::vector<internal::OperatorStateList> out;
  for (auto& [name, g] : gathered) {
    internal::OperatorStateList list{name, g.mode, {}};
    if (g.mode == internal::OperatorStateMode::kBroadcast) {
      // Every old subtask held the same broadcast state.
      if (!g.per_subtask.empty()) list.elements = g.per_subtask[static_cast<size_t>(index) % g.per_subtask.size()];
    } else {
      std::vector<std::string> all;
      for (auto& part : g.per_subtask) {
        for (auto& e : part) all.push_back(std::move(e));
      }
      if (g.mode == internal::OperatorStateMode::kUnion) {
        list.elements = std::move(all);
      } else {
        const size_t n = all.size(), p = static_cast<size_t>(parallelism), i = static_cast<size_t>(index);
        const size_t begin = n * i / p, end = n * (i + 1) / p;
        for (size_t k = begin; k < end; ++k) list.elements.push_back(std::move(all[k]));
      }
    }
    out.push_back(std::move(list));
  }
  return out;
}

absl::Status RestoreKeyedState(const proto::OperatorStateHandles& op, const std::string& directory,
                               internal::KeyedStateBackend& backend) {
  if (op.max_parallelism() != backend.max_parallelism()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "operator '", op.name(), "' (uid ", op.uid(), ") was snapshotted with max parallelism ", op.max_parallelism(),
        ", but the job now has ", backend.max_parallelism(),
        ": keyed state cannot be redistributed over a different number of key groups"));
  }
  const KeyGroupRange mine = backend.key_group_range();
  for (const proto::OperatorSubtaskState& h : op.subtasks()) {
    const int start = std::max(mine.start, h.key_group_start());
    const int end = std::min(mine.end, h.key_group_end());
    if (start > end) continue;
    const int count = h.key_group_end() - h.key_group_start() + 1;
    if (h.key_group_offsets_size() != count + 1) {
      return absl::DataLossError(absl::StrCat("the state handle of '", op.name(), "' subtask ", h.subtask(),
                                              " has ", h.key_group_offsets_size(), " key-group offsets, expected ",
                                              count + 1));
    }
    const std::string path = HandlePath(directory, h);
    for (int kg = start; kg <= end; ++kg) {  // one key group at a time bounds the memory used
      const int64_t a = h.key_group_offsets(kg - h.key_group_start());
      const int64_t b = h.key_group_offsets(kg - h.key_group_start() + 1);
      if (b == a) continue;
      auto bytes = ReadFileRange(path, a, b - a);
      if (!bytes.ok()) return bytes.status();
      absl::Status s = backend.RestoreKeyGroup(kg, *bytes);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("restoring ", path, ": ", std::string(s.message())));
    }
    if (h.shared_files_size() + h.private_files_size() > 0) {
      absl::Status s = ImportStoreFiles(h, directory, start, end, backend);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace eddy::checkpoint
