// Job library loading and program running (see program_loader.h).
#include "client/program_loader.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eddy/version.h"

namespace eddy::internal {
void SetContextEnvironment(StreamExecutionEnvironment* env);
}

namespace eddy::client {
namespace {

std::mutex g_libraries_mu;
std::map<std::string, std::shared_ptr<JobLibrary>>& Libraries() {
  static auto* libraries = new std::map<std::string, std::shared_ptr<JobLibrary>>();
  return *libraries;
}

// Calls the program with `env` as the context environment and turns whatever
// the program throws into a Status.
absl::Status CallProgram(const internal::RegisteredProgram& program, StreamExecutionEnvironment& env,
                         const std::vector<std::string>& args, bool* aborted) {
  internal::SetContextEnvironment(&env);
  absl::Status status;
  try {
    ParameterTool params = ParameterTool::fromArgs(args);
    program.function(env, params);
  } catch (const internal::ProgramAbort&) {
    *aborted = true;
  } catch (const JobExecutionException& e) {
    status = absl::AbortedError(e.what());
  } catch (const std::exception& e) {
    status = absl::InvalidArgumentError(absl::StrCat("program ", program.name, " threw: ", e.what()));
  } catch (...) {
    status = absl::InvalidArgumentError(absl::StrCat("program ", program.name, " threw an unknown exception"));
  }
  internal::SetContextEnvironment(nullptr);
  return status;
}

}  // namespace

absl::StatusOr<std::shared_ptr<JobLibrary>> JobLibrary::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("job library not found: ", path));
  }
  std::string canonical = std::filesystem::canonical(path, ec).string();
  std::lock_guard<std::mutex> lock(g_libraries_mu);
  auto it = Libraries().find(canonical);
  if (it != Libraries().end()) return it->second;

  auto& registry = internal::ProgramRegistry::Instance();
  registry.BeginCapture();
  void* handle = ::dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::vector<internal::RegisteredProgram> programs = registry.EndCapture();
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load job library ", path, ": ", why ? why : "unknown error"));
  }
  if (programs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an Eddy job library: it defines no EDDY_PROGRAM"));
  }
  auto library = std::shared_ptr<JobLibrary>(new JobLibrary());
  library->path_ = canonical;
  library->programs_ = std::move(programs);
  Libraries()[canonical] = library;  // never unloaded: its code may still run
  return library;
}

std::shared_ptr<JobLibrary> JobLibrary::Builtin() {
  auto library = std::shared_ptr<JobLibrary>(new JobLibrary());
  library->path_ = "<builtin>";
  library->programs_ = internal::ProgramRegistry::Instance().Builtin();
  return library;
}

std::vector<std::string> JobLibrary::ProgramNames() const {
  std::vector<std::string> names;
  for (const auto& p : programs_) names.push_back(p.name);
  return names;
}

absl::StatusOr<internal::RegisteredProgram> JobLibrary::Find(const std::string& name) const {
  const internal::RegisteredProgram* found = nullptr;
  if (name.empty()) {
    if (programs_.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          path_, " holds several programs; choose one with -c: ", absl::StrJoin(ProgramNames(), ", ")));
    }
    found = &programs_[0];
  } else {
    for (const auto& p : programs_) {
      if (p.name == name) found = &p;
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("no program '", name, "' in ", path_,
                                            "; it holds: ", absl::StrJoin(ProgramNames(), ", ")));
  }
  if (found->abi_version != EDDY_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(
        "program '", found->name, "' in ", path_, " was built against Eddy ABI version ",
        found->abi_version, ", but this is ABI version ", EDDY_ABI_VERSION, "; rebuild the job library"));
  }
  return *found;
}

absl::Status RunProgram(const internal::RegisteredProgram& program, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& config,
                        std::shared_ptr<internal::PipelineExecutor> executor) {
  std::unique_ptr<StreamExecutionEnvironment> env;
  try {
    env = std::make_unique<StreamExecutionEnvironment>(config);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  env->SetProgram(program.name, args);
  env->SetExecutor(std::move(executor));
  bool aborted = false;
  return CallProgram(program, *env, args, &aborted);
}

absl::StatusOr<MaterializedProgram> MaterializeProgram(const internal::RegisteredProgram& program,
                                                       const std::vector<std::string>& args,
                                                       const std::map<std::string, std::string>& config) {
  std::unique_ptr<StreamExecutionEnvironment> env;
  try {
    env = std::make_unique<StreamExecutionEnvironment>(config);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  env->SetProgram(program.name, args);
  env->SetMode(internal::EnvironmentMode::kMaterialize);
  bool aborted = false;
  absl::Status status = CallProgram(program, *env, args, &aborted);
  if (!status.ok()) return status;
  if (!aborted) {
    return absl::FailedPreconditionError(
        absl::StrCat("program ", program.name, " did not call execute() when rebuilt"));
  }
  if (!env->materialized_error().empty()) return absl::InvalidArgumentError(env->materialized_error());
  MaterializedProgram result;
  result.graph = env->materialized_graph();
  if (!result.job_graph.ParseFromString(env->materialized_job_graph())) {
    return absl::InternalError("rebuilt job graph does not parse");
  }
  return result;
}

absl::StatusOr<std::shared_ptr<internal::StreamGraph>> RebuildJobGraph(
    const internal::RegisteredProgram& program, const proto::JobGraph& job) {
  std::vector<std::string> args(job.program_args().begin(), job.program_args().end());
  std::map<std::string, std::string> config(job.config().begin(), job.config().end());
  auto rebuilt = MaterializeProgram(program, args, config);
  if (!rebuilt.ok()) return rebuilt.status();
  if (rebuilt->job_graph.fingerprint() != job.fingerprint()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "program built a different graph on this TaskManager: fingerprint ",
        rebuilt->job_graph.fingerprint(), ", expected ", job.fingerprint(),
        " (programs must build their graph deterministically)"));
  }
  return rebuilt->graph;
}

}  // namespace eddy::client
