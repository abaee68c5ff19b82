// The JobManager's REST endpoint: Flink's monitoring API (paths under /v1 and
// without it, Flink's JSON field names) rendered from a ClusterView, plus
// cancellation, savepoints and stop-with-savepoint, so that curl scripts and
// tools written for Flink's REST API work against Eddy.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "dispatcher/cluster_view.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace eddy::dispatcher {

class RestServer {
 public:
  // `view` must outlive the server. `port` 0 picks a free port (see port()).
  RestServer(ClusterView* view, std::string bind_address, int port);
  ~RestServer();  // Stops the server.

  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds, listens and serves on a background thread. Unavailable names
  // address:port when the socket cannot be bound; FailedPrecondition if the
  // server was already started.
  absl::Status Start();

  // Stops accepting requests and joins the serving thread; idempotent.
  void Stop();

  // The bound port once Start() succeeded (the chosen one for port 0).
  int port() const { return port_; }

 private:
  ClusterView* const view_;
  const std::string bind_address_;
  int port_;
  bool started_ = false;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace eddy::dispatcher
