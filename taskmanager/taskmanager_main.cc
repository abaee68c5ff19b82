// `taskmanager`: the TaskManager daemon. Offers taskmanager.numberOfTaskSlots
// slots to the JobManager at jobmanager.rpc.address:port and runs the tasks it
// is given. Runs in the foreground until SIGTERM or SIGINT.
//
//   taskmanager [--configDir DIR] [-D key=value]...
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/process.h"
#include "eddy/version.h"
#include "spdlog/spdlog.h"
#include "taskmanager/task_executor.h"

namespace eddy {
namespace {

int Fail(const std::string& message) { return DaemonFailure(message); }

int Main(const std::vector<std::string>& argv) {
  auto config = StartDaemon("taskmanager", argv);
  if (!config.ok()) return Fail(std::string(config.status().message()));

  auto jm_host = config->GetString("jobmanager.rpc.address", "localhost");
  auto jm_port = config->GetInt("jobmanager.rpc.port", 6123);
  auto bind_host = config->GetString("taskmanager.bind-host", "localhost");
  auto rpc_port = config->GetInt("taskmanager.rpc.port", 0);
  auto data_port = config->GetInt("taskmanager.data.port", 0);
  auto slots = config->GetInt("taskmanager.numberOfTaskSlots", 1);
  auto buffers = config->GetInt("taskmanager.memory.network.buffers", 2048);
  auto segment = config->GetMemorySize("taskmanager.memory.segment-size", runtime::kDefaultSegmentSize);
  auto interval = config->GetDuration("heartbeat.interval", std::chrono::milliseconds(1000));
  auto timeout = config->GetDuration("heartbeat.timeout", std::chrono::milliseconds(5000));
  for (const absl::Status& s : {jm_host.status(), jm_port.status(), bind_host.status(), rpc_port.status(),
                                data_port.status(), slots.status(), buffers.status(), segment.status(),
                                interval.status(), timeout.status()}) {
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  if (*slots < 1) return Fail("taskmanager.numberOfTaskSlots must be at least 1, got " + std::to_string(*slots));
  std::string host = config->GetString("taskmanager.host", *bind_host).value_or(*bind_host);

  runtime::TaskExecutorOptions options;
  options.jobmanager_address = absl::StrCat(*jm_host, ":", *jm_port);
  options.data_bind_host = *bind_host;
  options.data_port = static_cast<int>(*data_port);
  options.num_slots = static_cast<int>(*slots);
  options.network_buffers = static_cast<int>(*buffers);
  options.segment_size = static_cast<uint32_t>(*segment);
  options.heartbeat_interval = *interval;
  options.heartbeat_timeout = *timeout;
  options.library_cache_dir = config->GetString("taskmanager.library-cache.dir", "").value_or("");
  runtime::TaskExecutor executor(options);

  grpc::ServerBuilder builder;
  int bound_port = 0;
  std::string listen = absl::StrCat(*bind_host, ":", *rpc_port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(1 << 30);
  builder.RegisterService(&executor);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) return Fail("cannot listen for RPC on " + listen + " (taskmanager.rpc.port)");
  executor.SetRpcAddress(absl::StrCat(host, ":", bound_port));
  if (auto s = executor.Start(); !s.ok()) {
    server->Shutdown();
    return Fail(std::string(s.message()));
  }
  spdlog::info("TaskManager {} (Eddy {}) with {} slots: RPC on {}:{}, data on {}, JobManager {}",
               executor.resource_id(), EDDY_VERSION, *slots, host, bound_port, executor.data_address(),
               options.jobmanager_address);

  std::string sig = WaitForTerminationSignal();
  spdlog::info("TaskManager received {}, shutting down", sig);
  executor.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace eddy

int main(int argc, char** argv) { return eddy::Main(std::vector<std::string>(argv + 1, argv + argc)); }
