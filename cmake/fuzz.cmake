# libFuzzer targets (fuzz/*_fuzzer.cpp), built with clang when TOOLREGISTRY_FUZZ is on: the
# library's sources again, instrumented (-fsanitize=fuzzer-no-link,address,undefined), minus
# the CLI, which no target calls (connection_fuzzer drives the socket server). `make fuzz`
# builds and runs them.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TOOLREGISTRY_FUZZ needs clang (CC=clang-14 CXX=clang++-14)")
endif()

get_target_property(fuzz_lib_sources toolregistry_lib SOURCES)
list(FILTER fuzz_lib_sources EXCLUDE REGEX "src/cli/")
add_library(toolregistry_fuzz_lib STATIC EXCLUDE_FROM_ALL ${fuzz_lib_sources})
toolregistry_copy_usage(toolregistry_lib toolregistry_fuzz_lib)
set(fuzz_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
target_compile_options(toolregistry_fuzz_lib PUBLIC ${fuzz_sanitizers} -fsanitize=fuzzer-no-link)
toolregistry_warnings(toolregistry_fuzz_lib)
# clang 14 cannot emit UBSan's function-type check in a coroutine ("Cannot represent a
# difference across sections", llvm/llvm-project#49689): server.cpp, the one source with
# coroutines, is built without that one check.
set_property(SOURCE src/http/server.cpp APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=function)

set(TOOLREGISTRY_FUZZERS router connection request_body url integration oauth_token sts_xml)
add_custom_target(fuzzers)
foreach(name ${TOOLREGISTRY_FUZZERS})
  add_executable(${name}_fuzzer EXCLUDE_FROM_ALL fuzz/${name}_fuzzer.cpp)
  target_link_libraries(${name}_fuzzer PRIVATE toolregistry_fuzz_lib)
  target_link_options(${name}_fuzzer PRIVATE ${fuzz_sanitizers} -fsanitize=fuzzer)
  toolregistry_warnings(${name}_fuzzer)
  add_dependencies(fuzzers ${name}_fuzzer)
endforeach()
