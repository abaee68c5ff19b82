# eddy_add_job(<name> SOURCES <files>... [LIBRARIES <libs>...])
#
# Builds a job library: a shared module holding EDDY_PROGRAMs, which `eddy run`
# loads (lib<name>.so). Used inside the Eddy tree and, through
# find_package(Eddy), by users' own projects.
function(eddy_add_job name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "eddy_add_job(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Eddy::eddy ${ARG_LIBRARIES})
  target_compile_features(${name} PRIVATE cxx_std_20)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
