# Helpers shared by every component's CMakeLists.

# eddy_component(name SOURCES ... DEPS ...): an OBJECT library that becomes part
# of libeddy.so. Components see the repository root (private headers such as
# "common/config.h") and the public include trees.
function(eddy_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} OBJECT ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/common/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/api/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# eddy_test(name SOURCES ... [DEPS ...]): a GoogleTest binary registered with CTest.
function(eddy_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE eddy eddy_internal GTest::gtest GTest::gmock GTest::gtest_main ${ARG_DEPS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300
    ENVIRONMENT "EDDY_BUILD_DIR=${PROJECT_BINARY_DIR};EDDY_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
