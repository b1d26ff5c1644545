# The README's two commands: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all bootstrap build demo test soak bench clean fuzz-build fuzz fuzz-smoke test-asan test-tsan

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD_DIR)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: bootstrap $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	bash examples/discord/run_demo.sh $(BUILD_DIR)

# Every unit and end-to-end test, then each fuzzer for 30 s.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz-smoke

# The differential test of readiness on more random projects: make soak SEEDS=200
SEEDS ?= 100
soak: build
	DERIVED_SOAK_SEEDS=$(SEEDS) $(BUILD_DIR)/derived_tests --gtest_filter='*DifferentialReadiness.*'

bench: build
	$(BUILD_DIR)/derived_bench

# --- fuzzing (fuzz/README.md): make fuzz FUZZ_SECONDS=600 ---------------------------
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2

$(FUZZ_BUILD_DIR)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDERIVED_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++

fuzz-build: bootstrap $(FUZZ_BUILD_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh $(FUZZ_BUILD_DIR)

fuzz-smoke: fuzz-build
	FUZZ_SECONDS=30 FUZZ_JOBS=2 bash fuzz/run.sh $(FUZZ_BUILD_DIR)

# --- the whole suite under sanitizers (tests/sanitizers/README.md) ------------------
build-asan/CMakeCache.txt: | bootstrap
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDERIVED_SANITIZE=address

build-tsan/CMakeCache.txt: | bootstrap
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDERIVED_SANITIZE=thread

test-asan: bootstrap build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS) --target derived_tests
	bash tests/sanitizers/run.sh build-asan -j $(JOBS)

test-tsan: bootstrap build-tsan/CMakeCache.txt
	cmake --build build-tsan -j $(JOBS) --target derived_tests
	bash tests/sanitizers/run.sh build-tsan -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR) build-asan build-tsan
