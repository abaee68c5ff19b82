// Implementation of the program registry behind EDDY_PROGRAM.
#include "api/src/program_registry.h"

#include <utility>

namespace eddy::internal {

ProgramRegistry& ProgramRegistry::Instance() {
  static ProgramRegistry* registry = new ProgramRegistry();  // never destroyed: used at exit
  return *registry;
}

void ProgramRegistry::Register(RegisteredProgram program) {
  std::lock_guard<std::mutex> lock(mu_);
  (capturing_ ? captured_ : builtin_).push_back(std::move(program));
}

void ProgramRegistry::BeginCapture() {
  capture_mu_.lock();
  std::lock_guard<std::mutex> lock(mu_);
  capturing_ = true;
  captured_.clear();
}

std::vector<RegisteredProgram> ProgramRegistry::EndCapture() {
  std::vector<RegisteredProgram> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    capturing_ = false;
    result = std::move(captured_);
    captured_.clear();
  }
  capture_mu_.unlock();
  return result;
}

std::vector<RegisteredProgram> ProgramRegistry::Builtin() const {
  std::lock_guard<std::mutex> lock(mu_);
  return builtin_;
}

bool RegisterProgram(const char* name, ProgramFunction function, int abi_version) {
  ProgramRegistry::Instance().Register({name, function, abi_version});
  return true;
}

}  // namespace eddy::internal
