// ResourceManager (see resource_manager.h).
#include "jobmanager/resource_manager.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "spdlog/spdlog.h"

namespace eddy::jobmanager {

ResourceManager::ResourceManager(std::chrono::milliseconds heartbeat_interval,
                                 std::chrono::milliseconds heartbeat_timeout,
                                 std::string jobmanager_id)
    : heartbeat_interval_(heartbeat_interval),
      heartbeat_timeout_(heartbeat_timeout),
      jobmanager_id_(std::move(jobmanager_id)) {}

ResourceManager::~ResourceManager() { Stop(); }

void ResourceManager::SetLossListener(LossListener listener) { loss_listener_ = std::move(listener); }

void ResourceManager::Start() { monitor_ = std::thread([this] { MonitorLoop(); }); }

void ResourceManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

grpc::Status ResourceManager::RegisterTaskExecutor(grpc::ServerContext*,
                                                   const proto::RegisterTaskExecutorRequest* request,
                                                   proto::RegisterTaskExecutorResponse* response) {
  if (request->resource_id().empty() || request->num_slots() < 1 || request->rpc_address().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "registration needs a resource id, an RPC address and at least one slot");
  }
  auto channel = grpc::CreateChannel(request->rpc_address(), grpc::InsecureChannelCredentials());
  {
    std::lock_guard<std::mutex> lock(mu_);
    TaskExecutorRecord& record = executors_[request->resource_id()];
    bool fresh = record.slot_owner.empty();
    record.info = *request;
    record.stub = proto::TaskExecutorService::NewStub(channel);
    record.last_heartbeat = std::chrono::steady_clock::now();
    record.last_heartbeat_epoch_ms = EpochMillis();
    if (fresh) record.slot_owner.assign(static_cast<size_t>(request->num_slots()), "");
  }
  cv_.notify_all();
  spdlog::info("Registered TaskManager {} at {} with {} slots", request->resource_id(),
               request->rpc_address(), request->num_slots());
  response->set_jobmanager_id(jobmanager_id_);
  return grpc::Status::OK;
}

grpc::Status ResourceManager::Heartbeat(grpc::ServerContext*, const proto::TaskExecutorHeartbeat* request,
                                        proto::HeartbeatResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = executors_.find(request->resource_id());
  response->set_known(it != executors_.end());
  if (it == executors_.end()) return grpc::Status::OK;
  it->second.last_heartbeat = std::chrono::steady_clock::now();
  it->second.last_heartbeat_epoch_ms = EpochMillis();
  for (const auto& m : request->metrics()) metrics_[m.attempt_id()] = m;
  return grpc::Status::OK;
}

void ResourceManager::MonitorLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, heartbeat_interval_);
    if (stopping_) break;
    // Heartbeat every TaskManager; a refused connection is immediate evidence.
    std::vector<std::pair<std::string, std::shared_ptr<proto::TaskExecutorService::Stub>>> targets;
    std::vector<std::pair<std::string, std::string>> lost;
    auto now = std::chrono::steady_clock::now();
    for (auto& [id, record] : executors_) {
      if (now - record.last_heartbeat > heartbeat_timeout_) {
        lost.emplace_back(id, absl::StrCat("no heartbeat for ", heartbeat_timeout_.count(), " ms"));
      } else {
        targets.emplace_back(id, record.stub);
      }
    }
    lock.unlock();
    for (auto& [id, reason] : lost) Remove(id, reason);
    for (auto& [id, stub] : targets) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + heartbeat_interval_);
      proto::JobManagerHeartbeat hb;
      hb.set_jobmanager_id(jobmanager_id_);
      proto::HeartbeatResponse resp;
      grpc::Status s = stub->Heartbeat(&ctx, hb, &resp);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
        Remove(id, absl::StrCat("its RPC endpoint is unreachable: ", s.error_message()));
      }
    }
    lock.lock();
  }
}

void ResourceManager::ReportUnreachable(const std::string& resource_id, const std::string& reason) {
  Remove(resource_id, reason);
}

void ResourceManager::Remove(const std::string& resource_id, const std::string& reason) {
  std::string address;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = executors_.find(resource_id);
    if (it == executors_.end()) return;
    address = it->second.info.rpc_address();
    executors_.erase(it);
  }
  spdlog::warn("TaskManager {} at {} is lost: {}", resource_id, address, reason);
  if (loss_listener_) loss_listener_(resource_id, address, reason);
}

int ResourceManager::FreeSlotsLocked() const {
  int free = 0;
  for (const auto& [id, record] : executors_) {
    for (const auto& owner : record.slot_owner) free += owner.empty() ? 1 : 0;
  }
  return free;
}

absl::StatusOr<std::vector<SlotAssignment>> ResourceManager::AllocateSlots(
    const std::string& job_id, int count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool enough = cv_.wait_for(lock, timeout, [&] { return stopping_ || FreeSlotsLocked() >= count; });
  if (!enough || stopping_) {
    int total = 0;
    for (const auto& [id, record] : executors_) total += static_cast<int>(record.slot_owner.size());
    return absl::ResourceExhaustedError(absl::StrCat(
        "could not allocate ", count, " slots within ", timeout.count(), " ms: ", FreeSlotsLocked(),
        " of ", total, " slots are free on ", executors_.size(), " TaskManagers"));
  }
  // Fill TaskManagers one after another, as Flink's default slot matching does.
  std::vector<SlotAssignment> slots;
  for (auto& [id, record] : executors_) {
    for (size_t i = 0; i < record.slot_owner.size() && static_cast<int>(slots.size()) < count; ++i) {
      if (!record.slot_owner[i].empty()) continue;
      record.slot_owner[i] = job_id;
      slots.push_back({id, record.info.rpc_address(), record.info.data_address(), static_cast<int>(i)});
    }
  }
  return slots;
}

void ResourceManager::ReleaseSlots(const std::string& job_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, record] : executors_) {
      for (auto& owner : record.slot_owner) {
        if (owner == job_id) owner.clear();
      }
    }
  }
  cv_.notify_all();
}

std::shared_ptr<proto::TaskExecutorService::Stub> ResourceManager::Stub(const std::string& resource_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = executors_.find(resource_id);
  return it == executors_.end() ? nullptr : it->second.stub;
}

std::vector<dispatcher::TaskManagerView> ResourceManager::View() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<dispatcher::TaskManagerView> views;
  for (const auto& [id, record] : executors_) {
    dispatcher::TaskManagerView v;
    v.id = id;
    v.path = record.info.rpc_address();
    auto colon = record.info.data_address().rfind(':');
    v.data_port = colon == std::string::npos ? 0 : std::atoi(record.info.data_address().c_str() + colon + 1);
    v.last_heartbeat = record.last_heartbeat_epoch_ms;
    v.slots_number = static_cast<int>(record.slot_owner.size());
    for (const auto& owner : record.slot_owner) v.free_slots += owner.empty() ? 1 : 0;
    views.push_back(v);
  }
  return views;
}

std::map<std::string, proto::TaskMetrics> ResourceManager::Metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return metrics_;
}

}  // namespace eddy::jobmanager
