// `jobmanager`: the JobManager daemon — Dispatcher, ResourceManager, a
// JobMaster per job, BlobServer (gRPC on jobmanager.rpc.port) and the REST API
// (rest.port). Runs in the foreground until SIGTERM or SIGINT.
//
//   jobmanager [--configDir DIR] [-D key=value]...
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/process.h"
#include "dispatcher/blob_server.h"
#include "dispatcher/dispatcher.h"
#include "dispatcher/rest_server.h"
#include "eddy/ids.h"
#include "eddy/version.h"
#include "jobmanager/resource_manager.h"
#include "spdlog/spdlog.h"

namespace eddy {
namespace {

int Fail(const std::string& message) { return DaemonFailure(message); }

int Main(const std::vector<std::string>& argv) {
  auto config = StartDaemon("jobmanager", argv);
  if (!config.ok()) return Fail(std::string(config.status().message()));

  auto bind_host = config->GetString("jobmanager.bind-host", "localhost");
  auto rpc_port = config->GetInt("jobmanager.rpc.port", 6123);
  auto rest_bind = config->GetString("rest.bind-address", "localhost");
  auto rest_port = config->GetInt("rest.port", 8081);
  auto interval = config->GetDuration("heartbeat.interval", std::chrono::milliseconds(1000));
  auto timeout = config->GetDuration("heartbeat.timeout", std::chrono::milliseconds(5000));
  auto slot_timeout = config->GetDuration("slot.request.timeout", std::chrono::milliseconds(10000));
  for (const absl::Status& s : {bind_host.status(), rpc_port.status(), rest_bind.status(), rest_port.status(),
                                interval.status(), timeout.status(), slot_timeout.status()}) {
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  std::string blob_dir = config->GetString("blob.storage.directory", "").value_or("");
  if (blob_dir.empty()) {
    blob_dir = (std::filesystem::temp_directory_path() / ("eddy-blobs-" + Id16::Generate().ToHex())).string();
  }

  const std::string jobmanager_id = Id16::Generate().ToHex();
  jobmanager::ResourceManager resource_manager(*interval, *timeout, jobmanager_id);
  dispatcher::BlobServer blobs(blob_dir);
  dispatcher::Dispatcher dispatcher(&resource_manager, &blobs, config->entries(), *slot_timeout);
  resource_manager.SetLossListener(
      [&](const std::string& id, const std::string& address, const std::string& reason) {
        dispatcher.OnTaskManagerLost(id, address, reason);
      });

  std::string rpc_address = absl::StrCat(*bind_host, ":", *rpc_port);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(rpc_address, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(1 << 30);
  builder.RegisterService(static_cast<proto::DispatcherService::Service*>(&dispatcher));
  builder.RegisterService(static_cast<proto::JobMasterService::Service*>(&dispatcher));
  builder.RegisterService(&resource_manager);
  builder.RegisterService(&blobs);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) return Fail("cannot listen for RPC on " + rpc_address + " (jobmanager.rpc.port)");
  resource_manager.Start();

  dispatcher::RestServer rest(&dispatcher, *rest_bind, static_cast<int>(*rest_port));
  if (auto s = rest.Start(); !s.ok()) {
    server->Shutdown();
    resource_manager.Stop();
    return Fail(std::string(s.message()));
  }
  spdlog::info("JobManager {} (Eddy {}) listening for RPC on {} and REST on {}:{}", jobmanager_id,
               EDDY_VERSION, rpc_address, *rest_bind, rest.port());

  std::string sig = WaitForTerminationSignal();
  spdlog::info("JobManager received {}, shutting down", sig);
  rest.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  resource_manager.Stop();
  return 0;
}

}  // namespace
}  // namespace eddy

int main(int argc, char** argv) { return eddy::Main(std::vector<std::string>(argv + 1, argv + argc)); }
