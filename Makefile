# The README's two commands: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all bootstrap build demo test soak bench clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD_DIR)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: bootstrap $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	bash examples/discord/run_demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The differential test of readiness on more random projects: make soak SEEDS=200
SEEDS ?= 100
soak: build
	DERIVED_SOAK_SEEDS=$(SEEDS) $(BUILD_DIR)/derived_tests --gtest_filter='DifferentialReadiness.*'

bench: build
	$(BUILD_DIR)/derived_bench

clean:
	rm -rf $(BUILD_DIR)
