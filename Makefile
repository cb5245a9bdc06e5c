# Thin wrapper (DESIGN.md): scripts/deps.sh → cmake configure/build → demo | test | bench | fuzz
#
# `make` and `make demo` install only the build dependencies and build only
# the libraries, the command and the examples (no tests, no benchmarks, no
# -Werror); `make test` installs the test tools and builds the rest in its
# own trees.
BUILD      ?= build
TEST_BUILD ?= build-test
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
FUZZ_BUILD ?= build-fuzz
CMAKE_GEN  := -G Ninja
JOBS       ?= $(shell nproc)
CTEST_ARGS ?= --output-on-failure -j $(JOBS)
# What every test tree turns on (tests/CMakeLists.txt, bench/CMakeLists.txt).
TEST_OPTS  := -DTAAP_TESTS=ON -DTAAP_WERROR=ON

.PHONY: all deps deps-test build demo test test-release test-asan test-clang bench fuzz \
	memcheck soak mutate install uninstall deb clean nginx-module build-matrix

all: build

deps:
	@sh scripts/deps.sh build

deps-test:
	@sh scripts/deps.sh test

# Configured every time (a second or less): the options are stated here, so
# a tree configured earlier with tests on gets them turned off again.
build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAAP_TESTS=OFF \
	  -DTAAP_BENCH=OFF -DTAAP_WERROR=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The TAAP gateway: ngx_http_taap_module.so for Debian's nginx (docs/GATEWAY.md),
# in $(BUILD)/nginx-module/. Every tree with nginx-dev installed builds it
# (the test trees do: `make test` builds and tests it).
nginx-module:
	@sh scripts/deps.sh build gateway
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAAP_TESTS=OFF \
	  -DTAAP_BENCH=OFF -DTAAP_WERROR=OFF >/dev/null
	@cmake --build $(BUILD) --target nginx_module
	@echo "$(BUILD)/nginx-module/ngx_http_taap_module.so"

# The main job: build, then T-Mobile's Quick Start against the local emulator.
demo: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAAP_TESTS=OFF \
	  -DTAAP_BENCH=OFF -DTAAP_WERROR=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target taap
	@$(BUILD)/taap quickstart

# The whole suite: the release build, then the same tests under ASan + UBSan,
# then a clang build of everything (tests, benchmarks) with -Werror.
test: test-release test-asan test-clang

# A test skips (exit 77) only when a tool it drives is missing; deps.sh
# installs them all, so a skip here means a broken set-up: fail loudly.
NO_SKIPS = if grep -q 'did not run' ctest.log; then \
	  echo "make test: some tests were skipped (see above): run scripts/deps.sh" >&2; exit 1; fi

$(TEST_BUILD)/build.ninja: | deps-test
	@cmake -S . -B $(TEST_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(TEST_OPTS) >/dev/null

test-release: deps-test $(TEST_BUILD)/build.ninja
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ctest $(CTEST_ARGS) -O ctest.log && $(NO_SKIPS)

$(ASAN_BUILD)/build.ninja: | deps-test
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTAAP_SANITIZE=ON \
	  $(TEST_OPTS) >/dev/null

test-asan: deps-test $(ASAN_BUILD)/build.ninja
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS) -O ctest.log && \
	  $(NO_SKIPS)

$(CLANG_BUILD)/build.ninja: | deps-test
	@cmake -S . -B $(CLANG_BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang $(TEST_OPTS) \
	  -DTAAP_BENCH=ON >/dev/null

test-clang: deps-test $(CLANG_BUILD)/build.ninja
	@cmake --build $(CLANG_BUILD) -j $(JOBS) --target all bench_all
	@echo "clang -Wall -Wextra -Werror: clean"

# Packagers' build types: gcc and clang x Release, Debug, RelWithDebInfo,
# MinSizeRel, tests and benchmarks included, -Werror and no warning line at
# all (scripts/build-matrix.sh; trees in MATRIX_DIR, default /tmp/taap-matrix).
# Eight whole builds one after another: long, so not part of `make test`.
build-matrix: deps-test
	@JOBS=$(JOBS) sh scripts/build-matrix.sh

# The benchmarks build in the test tree (they share the tests' server harness).
bench: deps-test $(TEST_BUILD)/build.ninja
	@sh scripts/deps.sh bench
	@cmake -S . -B $(TEST_BUILD) -DTAAP_BENCH=ON >/dev/null
	@cmake --build $(TEST_BUILD) --target bench_all
	@sh bench/run.sh $(TEST_BUILD)

fuzz:
	@sh scripts/deps.sh test
	@cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DTAAP_FUZZ=ON \
	  -DTAAP_TESTS=OFF -DTAAP_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-600}

# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the .pc files are
# written for PREFIX; DESTDIR only moves where the files land.
PREFIX ?= /usr/local
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Removes what the last `make install` from $(BUILD) wrote (same DESTDIR).
uninstall:
	@DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(BUILD)/install_manifest.txt -P cmake/uninstall.cmake

# A Debian package of what make install writes, for /usr:
# $(BUILD)/packages/taap_VERSION_ARCH.deb (dpkg -i / dpkg -r).
deb: build
	@cd $(BUILD) && cpack -G DEB

clean:
	@rm -rf $(BUILD) $(TEST_BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)

# Mutation testing (tests/mutate/mutants.txt): each mutant planted alone,
# its group's tests rebuilt and run, the source restored; every mutant must
# be killed. MUTANTS="V01 J02" runs only those. Takes about an hour.
mutate: deps-test
	@sh tests/mutate/mutate.sh $(MUTANTS)

# Load the emulator for SOAK_SECONDS (600) at SOAK_CONNECTIONS (32) with valid
# tokens and PoPs, its clock 10x (the 70 s replay window passes ~85 times);
# zero errors and server RSS within 2 MiB after two replay windows.
soak: deps-test $(TEST_BUILD)/build.ninja
	@cmake --build $(TEST_BUILD) --target taap_soak
	@$(TEST_BUILD)/tests/taap_soak $${SOAK_SECONDS:-600} $${SOAK_CONNECTIONS:-32}

# The e2e suite (C programs and shell tests) with every taap process under
# valgrind memcheck; fails on any memory error or definite leak.
memcheck: deps-test $(TEST_BUILD)/build.ninja
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@sh tests/memcheck/run.sh $(TEST_BUILD)
