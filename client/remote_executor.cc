// RemoteExecutor (see remote_executor.h).
#include "client/remote_executor.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace eddy::client {

std::unique_ptr<proto::DispatcherService::Stub> ConnectDispatcher(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(1 << 30);
  return proto::DispatcherService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

namespace {
[[noreturn]] void Fail(const std::string& message) { throw JobExecutionException(message); }

std::string Unreachable(const std::string& address, const grpc::Status& s) {
  return absl::StrCat("cannot reach the JobManager at ", address, " (jobmanager.rpc.address/port, -m): ",
                      s.error_message());
}
}  // namespace

JobExecutionResult RemoteExecutor::Execute(const std::string& job_graph,
                                           std::shared_ptr<internal::StreamGraph>) {
  const std::string& address = options_.jobmanager_address;
  auto stub = ConnectDispatcher(address);
  proto::JobGraph job;
  if (!job.ParseFromString(job_graph)) Fail("malformed job graph");
  std::ifstream in(options_.library_path, std::ios::binary);
  if (!in) Fail("cannot read job library " + options_.library_path);

  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(false);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  proto::SubmitJobResponse response;
  auto writer = stub->SubmitJob(&ctx, &response);
  proto::SubmitJobRequest part;
  *part.mutable_job_graph() = job;
  bool ok = writer->Write(part);
  std::string chunk(1 << 20, '\0');
  while (ok && in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    proto::SubmitJobRequest data;
    data.set_library_chunk(chunk.data(), static_cast<size_t>(n));
    ok = writer->Write(data);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Fail(Unreachable(address, status));
  }
  if (!status.ok()) Fail("the JobManager refused the job: " + status.error_message());
  const std::string job_id = response.job_id();
  if (options_.on_submitted) options_.on_submitted(job_id);
  if (options_.detached) return JobExecutionResult(job_id, 0);

  // Wait for a terminal state.
  int unreachable = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    grpc::ClientContext get_ctx;
    get_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    proto::JobId id;
    id.set_job_id(job_id);
    proto::JobStatusInfo info;
    grpc::Status s = stub->GetJob(&get_ctx, id, &info);
    if (!s.ok()) {
      if (++unreachable > 25) Fail(Unreachable(address, s));
      continue;
    }
    unreachable = 0;
    if (info.state() == "FINISHED") return JobExecutionResult(job_id, info.end_time() - info.start_time());
    if (info.state() == "FAILED") Fail("Job " + job_id + " failed: " + info.failure());
    if (info.state() == "CANCELED") Fail("Job " + job_id + " was cancelled");
  }
}

}  // namespace eddy::client
