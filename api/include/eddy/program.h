// EDDY_PROGRAM: registers a program of a job library. The same program body runs
// in the client (to build and submit the job graph) and on every TaskManager (to
// rebuild the operators it was given), so it must build its graph
// deterministically; side effects belong in functions, not in the body.
#pragma once

#include <string>
#include <vector>

#include "eddy/environment.h"
#include "eddy/version.h"

namespace eddy {

using ProgramFunction = void (*)(StreamExecutionEnvironment& env, const ParameterTool& args);

namespace internal {
// Records a program; called by EDDY_PROGRAM during static initialisation of the
// library. `abi_version` is the version the library was compiled against.
bool RegisterProgram(const char* name, ProgramFunction function, int abi_version);
}  // namespace internal

}  // namespace eddy

#define EDDY_PROGRAM(Name, env, args)                                                        \
  static void EddyProgram_##Name(::eddy::StreamExecutionEnvironment& env,                    \
                                 const ::eddy::ParameterTool& args);                         \
  [[maybe_unused]] static const bool eddy_program_registered_##Name =                        \
      ::eddy::internal::RegisterProgram(#Name, &EddyProgram_##Name, EDDY_ABI_VERSION);       \
  static void EddyProgram_##Name(::eddy::StreamExecutionEnvironment& env,                    \
                                 [[maybe_unused]] const ::eddy::ParameterTool& args)
