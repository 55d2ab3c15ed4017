# Stratus: `make run` starts the gateway on the built-in demo; `make test` runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-unit test-sanitize bench format clean

all: build

deps:
	@bash scripts/deps.sh test

# PGO=1: the Release build is profile-guided (scripts/pgo.sh trains a profile first, and again
# whenever a source file changed). PGO=0 skips that, for a quicker edit-build loop; switching
# between the two rebuilds everything.
PGO ?= 1
PGO_MODE = $(if $(filter 1,$(PGO)),USE,OFF)

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATUS_PGO=$(PGO_MODE) $(CMAKE_FLAGS) >/dev/null
	$(if $(filter 1,$(PGO)),bash scripts/pgo.sh $(BUILD))
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/stratus serve --listen $(LISTEN) $(if $(CONFIG),--config $(CONFIG))

tests/integration/node_modules/.package-lock.json: tests/integration/package-lock.json
	cd tests/integration && npm ci --no-audit --no-fund --loglevel=error

test: build tests/integration/node_modules/.package-lock.json
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATUS_SANITIZE=ON -DSTRATUS_BENCH=OFF

# The unit and integration tests again, under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps $(ASAN_BUILD)/build.ninja tests/integration/node_modules/.package-lock.json
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  STRATUS_SANITIZED=1 ctest --output-on-failure -j $(JOBS) -LE perf

bench: build
	@bash scripts/deps.sh bench
	bash bench/load/run.sh $(BUILD)/stratus

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'bench/*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
