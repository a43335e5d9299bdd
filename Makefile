# vox2clip — the Makefile drives set-up, build, tests, benchmarks and the pipeline itself.
#
#   make            set-up (Debian packages), build, then the main job on the default study
#   make test       set-up (+ test oracles), build, every test; last line "N passed, N failed"
#   make build      build only (build/bin/v2c-*)
#   make asan       every test under AddressSanitizer + UBSan (build-asan/); `make test-asan-suites`
#                   only the I/O and regression suites (ASAN_SUITES)
#   make fuzz       each libFuzzer harness of fuzz/ for FUZZ_SECONDS (build-fuzz/, clang)
#   make bench      benchmarks against peers -> build/bench/results.json
#   make validate   simulated-design validations (minutes; not part of make test) -> build/validate/
#   make validate-ssl-control   issue 11's self-supervision negative control over seeds (about an hour)
#   make CONFIG=configs/haxby2001.yaml   the pipeline on another study

SHELL := /bin/bash
.DEFAULT_GOAL := all
.SECONDARY:

CXX ?= g++
# ccache, when installed, speeds up rebuilds (not needed: nothing installs it).
CCACHE ?= $(shell command -v ccache 2>/dev/null)
BUILD ?= build
# Compiling runs BUILD_JOBS at a time (every core) unless the command line gives -j itself, whose
# job slots the build then shares; only compiling: the stages run as the pipeline's rules say.
# (Recursive =: make puts -j into MAKEFLAGS after the makefiles are read.)
BUILD_JOBS ?= $(shell nproc)
BUILD_MAKE = $(MAKE) --no-print-directory $(if $(findstring -j,$(MAKEFLAGS)),,-j$(BUILD_JOBS))
# AVX2+FMA: fast on any x86-64 of the last decade (GCC 12 warns falsely inside Eigen's AVX-512 paths).
ARCH_FLAGS ?= -march=x86-64-v3 -mtune=native
OPT_FLAGS ?= -O2 -g
SAN_FLAGS ?=
VERSION := $(shell git describe --always --dirty --tags 2>/dev/null || echo unknown)

# ---- run environment of every recipe (the stages, tests and benchmarks) ----------------------
# OpenMP's idle threads sleep between parallel regions instead of spinning. A spinning worker
# takes the core that a stage's read-ahead thread needs: 2-thread pretraining at the 64-subject
# bench's shape (4000 voxels, latent 128) ran 24.1-25.0k samples/s with it against 19.7-19.9k
# spinning (2 rounds), and at 20000 voxels x latent 1024 the same either way (1251-1267 against
# 1220-1302, 3 rounds). libgomp reads it once, at start-up, so a stage cannot set it for itself;
# set it yourself when you run the binaries without make (README, "On a cluster").
export OMP_WAIT_POLICY ?= passive

# ---- set-up: Debian packages ---------------------------------------------------------------
# Armadillo is kept for its two LAPACK drivers, eig_sym(..., "dc") (ridge's eigendecomposition,
# math/linalg.cpp) and svd_econ(..., "dc") (Procrustes, models/align/common_space.cpp): Debian's
# OpenBLAS ships LAPACK but no LAPACKE, and calling the Fortran routines ourselves would mean
# hand-written workspace queries and fallbacks that Armadillo already does, tested.
BUILD_PACKAGES := g++ make pkg-config git libeigen3-dev libnifti2-dev libhdf5-dev \
                  libarmadillo-dev libopenblas-dev libboost-test-dev libyaml-cpp-dev \
                  libdeflate-dev zlib1g-dev nlohmann-json3-dev libopenmpi-dev openmpi-bin
TEST_PACKAGES  := python3 python3-numpy python3-scipy python3-nibabel python3-h5py python3-sklearn gzip \
                  chromium fonts-liberation fonts-dejavu-core
BENCH_PACKAGES := python3 python3-numpy python3-h5py python3-sklearn python3-torch python3-faiss gzip bc
FUZZ_PACKAGES  := clang libclang-rt-dev libomp-dev

.PHONY: setup setup-test setup-bench setup-fuzz
setup:
	@scripts/ensure-debian-packages.sh $(BUILD_PACKAGES)
setup-test: setup
	@scripts/ensure-debian-packages.sh $(TEST_PACKAGES)
setup-bench: setup
	@scripts/ensure-debian-packages.sh $(BENCH_PACKAGES)
setup-fuzz: setup
	@scripts/ensure-debian-packages.sh $(FUZZ_PACKAGES)

# ---- build ---------------------------------------------------------------------------------
INCLUDES := -I. -isystem /usr/include/nifti -isystem /usr/include/eigen3 \
            $(subst -I,-isystem ,$(shell pkg-config --cflags hdf5-serial 2>/dev/null))
WARNINGS := -Wall -Wextra -Wshadow -Wno-missing-field-initializers
CXXFLAGS_ALL := -std=c++20 $(OPT_FLAGS) $(ARCH_FLAGS) $(SAN_FLAGS) -fopenmp $(WARNINGS) $(INCLUDES) \
                -MMD -MP $(CXXFLAGS)
LDLIBS_ALL := $(SAN_FLAGS) -fopenmp -lhdf5_serial_cpp -lhdf5_serial -lnifti2 -lznz -ldeflate -lz \
              -lyaml-cpp -larmadillo -lopenblas -lpthread $(LDFLAGS)

# MPI stays out of the library: pipeline/dist/mpi_*.cpp are linked into the stages in MPI_STAGES only.
MPI_SRC   := $(wildcard pipeline/dist/mpi_*.cpp)
MPI_OBJ   := $(MPI_SRC:%.cpp=$(BUILD)/obj/%.o)
MPI_CFLAGS := $(subst -I,-isystem ,$(shell pkg-config --cflags ompi-c 2>/dev/null))
MPI_LIBS  := $(shell pkg-config --libs ompi-c 2>/dev/null)
LIB_SRC   := $(filter-out $(MPI_SRC),$(shell find pipeline -name '*.cpp' | sort))
STAGE_SRC := $(wildcard stages/*.cpp)
TEST_SRC  := $(wildcard tests/*.cpp)
BENCH_SRC := $(wildcard bench/*.cpp)
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
STAGE_BIN := $(STAGE_SRC:stages/%.cpp=$(BUILD)/bin/v2c-%)
MPI_STAGES := $(BUILD)/bin/v2c-pretrain
TEST_BIN  := $(BUILD)/bin/v2c-tests
BENCH_BIN := $(BENCH_SRC:bench/%.cpp=$(BUILD)/bin/bench-%)
LIB       := $(BUILD)/lib/libvox2clip.a

.PHONY: build
build: $(STAGE_BIN)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CCACHE) $(CXX) $(CXXFLAGS_ALL) -c $< -o $@

# The version goes into one object only, rebuilt when `git describe` changes.
VERSION_STAMP := $(BUILD)/version.txt
$(shell mkdir -p $(BUILD) && echo '$(VERSION)' | cmp -s - $(VERSION_STAMP) || echo '$(VERSION)' > $(VERSION_STAMP))
$(BUILD)/obj/pipeline/core/version.o: $(VERSION_STAMP)
$(BUILD)/obj/pipeline/core/version.o: CXXFLAGS_ALL += -DV2C_VERSION='"$(VERSION)"'

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/v2c-%: $(BUILD)/obj/stages/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $< $(LIB) $(LDLIBS_ALL) -o $@

$(MPI_OBJ): CXXFLAGS_ALL += $(MPI_CFLAGS)

$(MPI_STAGES): $(BUILD)/bin/v2c-%: $(BUILD)/obj/stages/%.o $(MPI_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $< $(MPI_OBJ) $(LIB) $(LDLIBS_ALL) $(MPI_LIBS) -o $@

$(BUILD)/bin/bench-%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) $< $(LIB) $(LDLIBS_ALL) -o $@

$(BUILD)/obj/tests/%.o: CXXFLAGS_ALL += -DBOOST_TEST_DYN_LINK

$(TEST_BIN): $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(filter %.o,$^) $(LIB) $(LDLIBS_ALL) -lboost_unit_test_framework -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------------------------
# `make test` replays every fuzz seed and saved crasher (fuzz/corpus, tests/regress/fuzz) through
# the harnesses built with clang ASan+UBSan (only the readers' objects: about 50 files), before the
# suites. The suites that read files or run stages on damaged inputs, under ASan+UBSan, are not: they need the stages built under ASan too, and on a fresh 2-core machine that
# build alone adds about as much as today's whole CI run (636 s; sanitized -O1 objects take
# 1.3-2.5x the CPU of -O2 ones: 6 s per core/io file, 20-33 s for Eigen-heavy ones), against a
# 20-minute budget. The fuzz harnesses (`make fuzz`) and tests/regress/fuzz/ cover the readers.
ASAN_SUITES ?= reliability,outputs,fuzz_regress,nifti,tsv,events,features,bdata,stage_errors,info
ASAN_MAKE = $(BUILD_MAKE) BUILD=build-asan OPT_FLAGS="-O1 -g" \
            SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# Leaks are not checked: HDF5 and OpenBLAS keep global state until exit.
export ASAN_OPTIONS ?= detect_leaks=0

.PHONY: test asan test-asan-suites
test: setup-test setup-fuzz
	@$(BUILD_MAKE) build $(TEST_BIN)
	@$(FUZZ_MAKE) fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=0 scripts/run-fuzz.sh $(FUZZ_TARGETS)
	@BUILD=$(BUILD) scripts/run-tests.sh

test-asan-suites:
	@$(ASAN_MAKE) build build-asan/bin/v2c-tests
	@echo "under ASan+UBSan ($(ASAN_SUITES)):"
	@BUILD=build-asan scripts/run-tests.sh --run_test=$(ASAN_SUITES)

asan:
	@$(ASAN_MAKE) build build-asan/bin/v2c-tests
	@BUILD=build-asan scripts/run-tests.sh

# ---- fuzzing (libFuzzer, Debian clang) -----------------------------------------------------
# Each harness (fuzz/<target>.cpp, bodies in fuzz/harness.h) runs for FUZZ_SECONDS from the seeds
# in fuzz/corpus/<target>/ and tests/regress/fuzz/<target>/; the readers are built with clang,
# ASan+UBSan and coverage, with the library's -march. A crasher lands in build-fuzz/crashes/<target>/:
# copy it to tests/regress/fuzz/<target>/ once fixed, so `make test` replays it.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/*.cpp)))
FUZZ_BUILD := build-fuzz
# Only what the harnesses read with (the archive links just the objects they use).
FUZZ_LIB_SRC := $(wildcard pipeline/core/*.cpp pipeline/io/*.cpp pipeline/io/nifti/*.cpp) \
                pipeline/math/metrics.cpp pipeline/models/ridge_config.cpp
FUZZ_MAKE = $(BUILD_MAKE) BUILD=$(FUZZ_BUILD) CXX=clang++ OPT_FLAGS="-O1 -g" \
            SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
            CXXFLAGS="-fsanitize=fuzzer-no-link" LIB_SRC="$(FUZZ_LIB_SRC)"

.PHONY: fuzz fuzz-build
fuzz: setup-fuzz
	@$(FUZZ_MAKE) fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/bin/fuzz-%)

$(BUILD)/bin/fuzz-%: $(BUILD)/obj/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	$(CXX) -fsanitize=fuzzer $< $(LIB) $(LDLIBS_ALL) -o $@

# ---- public datasets (network needed) ---------------------------------------------------
.PHONY: fetch-haxby2001 fetch-god fetch-horikawa2020
fetch-%:
	@scripts/ensure-debian-packages.sh curl python3
	datasets/fetch.sh $* data/$*

# ---- docs ----------------------------------------------------------------------------------
.PHONY: docs
docs: build
	scripts/gen-cli-reference.sh

# ---- benchmarks ----------------------------------------------------------------------------
.PHONY: bench
bench: setup-bench
	@$(BUILD_MAKE) build $(BENCH_BIN)
	@BUILD=$(BUILD) bench/run.sh

# ---- validation (not part of make test) ----------------------------------------------------
# designs.sh: event timing (issue 9); variants.sh: every model on each simulation variant over
# VALIDATE_SEEDS (default 1..5; docs/validation.md).
.PHONY: validate
validate: setup-test
	@$(BUILD_MAKE) build
	@BUILD=$(BUILD) validate/designs.sh
	@BUILD=$(BUILD) validate/variants.sh $(VALIDATE_SEEDS)
# ssl_control.sh: the default study linked and with simulate.spontaneous_linked false, at 25%, over
# SSL_CONTROL_SEEDS (default 1..3; docs/validation.md). Its own target: 6 default-size studies.
.PHONY: validate-ssl-control
validate-ssl-control: setup-test
	@$(BUILD_MAKE) build
	@BUILD=$(BUILD) validate/ssl_control.sh $(SSL_CONTROL_SEEDS)

# ---- the pipeline --------------------------------------------------------------------------
include pipeline.mk

.PHONY: format
# Formats every tracked C++ file with .clang-format (Debian's clang-format).
format:
	@scripts/ensure-debian-packages.sh clang-format
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

.PHONY: clean
clean:
	rm -rf build build-asan build-fuzz
