// The registry EDDY_PROGRAM writes into. Programs registered while a job
// library is being loaded are captured for that library; all others belong to
// the executable itself (tests and embedded uses).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "eddy/program.h"

namespace eddy::internal {

struct RegisteredProgram {
  std::string name;
  ProgramFunction function = nullptr;
  int abi_version = 0;
};

class ProgramRegistry {
 public:
  static ProgramRegistry& Instance();

  void Register(RegisteredProgram program);
  // Starts collecting registrations (the caller is about to dlopen a library).
  // Holds a lock until EndCapture, so libraries load one at a time.
  void BeginCapture();
  std::vector<RegisteredProgram> EndCapture();
  // Programs compiled into the executable.
  std::vector<RegisteredProgram> Builtin() const;

 private:
  mutable std::mutex mu_;
  std::mutex capture_mu_;
  bool capturing_ = false;
  std::vector<RegisteredProgram> captured_;
  std::vector<RegisteredProgram> builtin_;
};

}  // namespace eddy::internal
