# The ThreadSanitizer build (TOOLREGISTRY_TSAN): the library's sources minus the socket
# server and the CLI, and a test binary of only the unit tests that run threads, so that the
# build stays short. `make tsan-test` builds and runs it.
get_target_property(tsan_lib_sources toolregistry_lib SOURCES)
list(FILTER tsan_lib_sources EXCLUDE REGEX "src/http/server\\.cpp$|src/cli/")
add_library(toolregistry_tsan_lib STATIC EXCLUDE_FROM_ALL ${tsan_lib_sources})
toolregistry_copy_usage(toolregistry_lib toolregistry_tsan_lib)
set(tsan_flags -fsanitize=thread -fno-omit-frame-pointer)
target_compile_options(toolregistry_tsan_lib PUBLIC ${tsan_flags})
target_link_options(toolregistry_tsan_lib PUBLIC ${tsan_flags})
toolregistry_warnings(toolregistry_tsan_lib)

find_package(GTest REQUIRED)
add_executable(toolregistry_tsan_tests EXCLUDE_FROM_ALL
  src/core/concurrency_test.cpp
  src/core/rate_limiter_test.cpp
  src/store/store_test.cpp
  src/net/curl_http_client_test.cpp
  src/http/worker_pool_test.cpp
)
target_link_libraries(toolregistry_tsan_tests PRIVATE toolregistry_tsan_lib GTest::gtest GTest::gtest_main)
toolregistry_warnings(toolregistry_tsan_tests)
