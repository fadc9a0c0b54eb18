# fedc: the two commands a new machine needs are `make run` and `make test`.
BUILD_DIR   ?= build
FUZZ_DIR    ?= build-fuzz
DEB_DIR     ?= build-deb
BUILD_TYPE  ?= RelWithDebInfo
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
EXAMPLE     ?= examples/fedavg.fed
PREFIX      ?= /usr/local

.PHONY: all deps configure build run test install deb bench fuzz mutate format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

# Builds everything and runs the flagship example: FedAvg on the digits
# data split Dirichlet(0.5) over 100 simulated clients, 10 per round, for
# 100 rounds with evaluation every 20.
run: build
	$(BUILD_DIR)/bin/fedc $(EXAMPLE) -o $(BUILD_DIR)/fedavg
	$(BUILD_DIR)/fedavg --data examples/data/digits.csv.gz \
	  --partition dirichlet:0.5 --clients 100 --clients-per-round 10 \
	  --rounds 100 --eval-every 20 --seed 1 --progress always

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure

# Installs fedc, libfedrt, the stdlib, docs and examples under PREFIX
# (default /usr/local); DESTDIR=/stage puts them under /stage/PREFIX for
# packaging. The installed tree works from any prefix (docs/usage.md).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# The Debian package: $(DEB_DIR)/fedc_<version>_amd64.deb (CPack,
# cmake/Packaging.cmake), from a release build of its own whose runtime
# runs on any x86-64 (FEDC_PORTABLE_RUNTIME), not only on this machine.
deb: deps
	cmake -S . -B $(DEB_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DFEDC_PORTABLE_RUNTIME=ON -DFEDC_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(DEB_DIR) --target fedc fedrt_main
	cd $(DEB_DIR) && cpack -G DEB

# Benchmarks against their peers (bench/); they report ratios, never fail.
bench: build
	/usr/bin/python3 bench/run_bench.py $(BUILD_DIR)

# Fuzzes the front end for FUZZ_SECONDS (libFuzzer + ASan, built with clang).
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# Plants each bug of scripts/mutants.txt in a scratch copy (build-mutate/)
# and runs the suite against it: every mutant must be caught. Slow (a
# rebuild and a test run per mutant), so not part of `make test`.
# MUTANTS="id ..." runs only those.
mutate: deps
	/usr/bin/python3 scripts/mutate.py $(MUTANTS)

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(DEB_DIR) build-mutate
