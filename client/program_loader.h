// Loads job libraries and runs their programs, in plan mode (client: build and
// submit the job graph) or materialize mode (TaskManager: rebuild the operators
// and check the graph fingerprint). Shared by the CLI and the TaskManagers.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/src/program_registry.h"
#include "eddy/environment.h"
#include "eddy/job_graph.pb.h"

namespace eddy::client {

class JobLibrary {
 public:
  // dlopen()s `path` (once per process) and collects its EDDY_PROGRAMs.
  // Errors say whether the file is missing, not loadable, or not an Eddy job.
  static absl::StatusOr<std::shared_ptr<JobLibrary>> Load(const std::string& path);
  // The programs compiled into this executable.
  static std::shared_ptr<JobLibrary> Builtin();

  // The program called `name` ("" picks the only one); NotFound lists the
  // available names; FailedPrecondition on an ABI mismatch.
  absl::StatusOr<internal::RegisteredProgram> Find(const std::string& name) const;
  const std::string& path() const { return path_; }
  std::vector<std::string> ProgramNames() const;

 private:
  std::string path_;
  std::vector<internal::RegisteredProgram> programs_;
};

// Runs `program` in plan mode: its execute() calls go to `executor`. Errors
// thrown by the program (including failed jobs) come back as a Status.
absl::Status RunProgram(const internal::RegisteredProgram& program,
                        const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& config,
                        std::shared_ptr<internal::PipelineExecutor> executor);

struct MaterializedProgram {
  std::shared_ptr<internal::StreamGraph> graph;
  proto::JobGraph job_graph;
};

// Runs `program` in materialize mode up to its first execute() and returns the
// graph it built.
absl::StatusOr<MaterializedProgram> MaterializeProgram(const internal::RegisteredProgram& program,
                                                       const std::vector<std::string>& args,
                                                       const std::map<std::string, std::string>& config);

// Rebuilds the graph of `job` from `program` and checks that it is the graph
// the client submitted.
absl::StatusOr<std::shared_ptr<internal::StreamGraph>> RebuildJobGraph(
    const internal::RegisteredProgram& program, const proto::JobGraph& job);

}  // namespace eddy::client
