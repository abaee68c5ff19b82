// The non-template, off-hot-path half of KeyedStateBackend: construction,
// namespaces, store keys, error messages, flushing and disposal.
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/state.h"

namespace eddy::internal {

namespace {

int64_t SystemTimeMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AppendNamespace(std::string_view name_space, std::string* out) {
  DataOutput output(out);
  output.WriteString(name_space);
}

}  // namespace

KeyedStateBackend::KeyedStateBackend(KeyGroupRange range, int max_parallelism)
    : range_(range),
      max_parallelism_(max_parallelism),
      type_("hashmap"),
      time_provider_(SystemTimeMillis) {}

KeyedStateBackend::KeyedStateBackend(KeyGroupRange range, int max_parallelism,
                                     std::unique_ptr<KvStore> store, std::string type)
    : range_(range),
      max_parallelism_(max_parallelism),
      type_(std::move(type)),
      store_(std::move(store)),
      time_provider_(SystemTimeMillis) {}

KeyedStateBackend::~KeyedStateBackend() {
  // Deliberately ignored: a destructor cannot report, and the runtime calls
  // Dispose() itself when it wants the outcome.
  absl::Status ignored = Dispose();
  (void)ignored;
}

void KeyedStateBackend::SetCurrentNamespace(std::string_view name_space) {
  namespace_.assign(name_space.data(), name_space.size());
  namespace_suffix_.clear();
  if (!name_space.empty()) {
    AppendNamespace(name_space, &namespace_suffix_);
    namespaced_key_ = current_key_;
    namespaced_key_ += namespace_suffix_;
  }
}

void KeyedStateBackend::BuildStateKey(std::string_view name_space, std::string* out) const {
  out->assign(current_key_);
  if (!name_space.empty()) AppendNamespace(name_space, out);
}

void KeyedStateBackend::BuildStoreKey(std::string_view name_space, std::string* out) const {
  out->clear();
  out->push_back(static_cast<char>((current_key_group_ >> 8) & 0xff));
  out->push_back(static_cast<char>(current_key_group_ & 0xff));
  out->append(current_key_);
  AppendNamespace(name_space, out);
}

void KeyedStateBackend::ThrowNoCurrentKey(const std::string& state_name) const {
  if (current_key_group_ < 0) {
    throw std::logic_error("keyed state '" + state_name +
                           "' was accessed without a current key: keyed state is only "
                           "available while a keyed operator (after keyBy) processes a "
                           "record or a timer");
  }
  throw std::logic_error("keyed state '" + state_name + "' was accessed for key group " +
                         std::to_string(current_key_group_) + ", which is outside this " + type_ +
                         " backend's " + range_.ToString());
}

absl::Status KeyedStateBackend::Flush() {
  for (WriteBackCache* cache : caches_) {
    absl::Status status = cache->WriteBack();
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status KeyedStateBackend::Dispose() {
  if (disposed_) return absl::OkStatus();
  disposed_ = true;
  caches_.clear();  // Their contents are being discarded with the states.
  states_.clear();
  current_key_.clear();
  current_slot_ = -1;
  current_key_group_ = -1;
  if (store_ == nullptr) return absl::OkStatus();
  absl::Status status = store_->Close();
  store_.reset();
  return status;
}

void ThrowStateError(const std::string& name, const absl::Status& status) {
  throw std::runtime_error("keyed state '" + name + "': " + status.ToString());
}

}  // namespace eddy::internal
