// ResourceManager: the registry of TaskManagers and their slots. TaskManagers
// register and heartbeat; the ResourceManager heartbeats them back, notices
// lost ones (missed heartbeats or a refused RPC) and hands out slots to
// JobMasters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "dispatcher/cluster_view.h"
#include "eddy/rpc.grpc.pb.h"

namespace eddy::jobmanager {

struct SlotAssignment {
  std::string resource_id;
  std::string rpc_address;
  std::string data_address;
  int slot_index = 0;
};

class ResourceManager final : public proto::ResourceManagerService::Service {
 public:
  // Called (outside locks) when a TaskManager is declared lost.
  using LossListener = std::function<void(const std::string& resource_id, const std::string& address,
                                          const std::string& reason)>;

  ResourceManager(std::chrono::milliseconds heartbeat_interval,
                  std::chrono::milliseconds heartbeat_timeout, std::string jobmanager_id);
  ~ResourceManager() override;

  void SetLossListener(LossListener listener);
  void Start();
  void Stop();

  // Takes `count` free slots for `job_id`, waiting up to `timeout` for them.
  // ResourceExhausted "could not allocate N slots ..." if they do not appear.
  absl::StatusOr<std::vector<SlotAssignment>> AllocateSlots(const std::string& job_id, int count,
                                                            std::chrono::milliseconds timeout);
  void ReleaseSlots(const std::string& job_id);

  // A stub to the TaskExecutorService of `resource_id`, or null if unknown.
  std::shared_ptr<proto::TaskExecutorService::Stub> Stub(const std::string& resource_id);
  // Marks `resource_id` lost now (e.g. an RPC to it failed).
  void ReportUnreachable(const std::string& resource_id, const std::string& reason);

  std::vector<dispatcher::TaskManagerView> View();
  // Per-task metrics from the latest heartbeats, by attempt id.
  std::map<std::string, proto::TaskMetrics> Metrics();

  grpc::Status RegisterTaskExecutor(grpc::ServerContext* context,
                                    const proto::RegisterTaskExecutorRequest* request,
                                    proto::RegisterTaskExecutorResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const proto::TaskExecutorHeartbeat* request,
                         proto::HeartbeatResponse* response) override;

 private:
  struct TaskExecutorRecord {
    proto::RegisterTaskExecutorRequest info;
    std::shared_ptr<proto::TaskExecutorService::Stub> stub;
    std::chrono::steady_clock::time_point last_heartbeat;
    int64_t last_heartbeat_epoch_ms = 0;
    std::vector<std::string> slot_owner;  // job id per slot, "" if free
  };
  void MonitorLoop();
  void Remove(const std::string& resource_id, const std::string& reason);
  int FreeSlotsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::milliseconds heartbeat_interval_;
  const std::chrono::milliseconds heartbeat_timeout_;
  const std::string jobmanager_id_;
  LossListener loss_listener_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, TaskExecutorRecord> executors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, proto::TaskMetrics> metrics_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread monitor_;
};

}  // namespace eddy::jobmanager
