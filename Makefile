# Thin wrapper (DESIGN.md): scripts/deps.sh → cmake configure/build → demo | test | bench | fuzz
BUILD      ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
FUZZ_BUILD ?= build-fuzz
CMAKE_GEN  := -G Ninja
JOBS       ?= $(shell nproc)
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build demo test test-release test-asan test-clang bench fuzz memcheck soak install clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja: | deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: build, then T-Mobile's Quick Start against the local emulator.
demo: build
	@$(BUILD)/taap quickstart

# The whole suite: the release build, then the same tests under ASan + UBSan,
# then a clang build of everything (tests, benchmarks) with -Werror.
test: test-release test-asan test-clang

# A test skips (exit 77) only when a tool it drives is missing; deps.sh
# installs them all, so a skip here means a broken set-up: fail loudly.
NO_SKIPS = if grep -q 'did not run' ctest.log; then \
	  echo "make test: some tests were skipped (see above): run scripts/deps.sh" >&2; exit 1; fi

test-release: build
	@cd $(BUILD) && ctest $(CTEST_ARGS) -O ctest.log && $(NO_SKIPS)

$(ASAN_BUILD)/build.ninja: | deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTAAP_SANITIZE=ON \
	  -DTAAP_BENCH=OFF >/dev/null

test-asan: deps $(ASAN_BUILD)/build.ninja
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS) -O ctest.log && \
	  $(NO_SKIPS)

$(CLANG_BUILD)/build.ninja: | deps
	@cmake -S . -B $(CLANG_BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DTAAP_WERROR=ON >/dev/null

test-clang: deps $(CLANG_BUILD)/build.ninja
	@cmake --build $(CLANG_BUILD) -j $(JOBS) --target all bench_all
	@echo "clang -Wall -Wextra -Werror: clean"

bench: build
	@sh scripts/deps.sh bench
	@cmake --build $(BUILD) --target bench_all
	@sh bench/run.sh $(BUILD)

fuzz:
	@sh scripts/deps.sh
	@cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DTAAP_FUZZ=ON \
	  -DTAAP_TESTS=OFF -DTAAP_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-60}

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX),)

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)

# Load the emulator for SOAK_SECONDS (600) at SOAK_CONNECTIONS (32) with valid
# tokens and PoPs, its clock 10x (the 70 s replay window passes ~85 times);
# zero errors and server RSS within 2 MiB after two replay windows.
soak: build
	@cmake --build $(BUILD) --target taap_soak
	@$(BUILD)/tests/taap_soak $${SOAK_SECONDS:-600} $${SOAK_CONNECTIONS:-32}

# The e2e suite (C programs and shell tests) with every taap process under
# valgrind memcheck; fails on any memory error or definite leak.
memcheck: build
	@sh tests/memcheck/run.sh $(BUILD)
