#!/usr/bin/env bash
# Builds and runs every test: once with warnings as errors, once under
# AddressSanitizer + UndefinedBehaviorSanitizer (both with the fault-injection
# points compiled in: -DOPUSARC_FAULTS=ON); then the libFuzzer targets
# for a bounded, reproducible number of inputs (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

echo "== build (warnings are errors) =="
BUILD_DIR=build scripts/build.sh -DOPUSARC_WERROR=ON -DOPUSARC_FAULTS=ON
echo "== tests =="
(cd build && ctest --output-on-failure -j1)

echo "== build with ASan + UBSan =="
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DOPUSARC_SANITIZE=ON -DOPUSARC_WERROR=ON -DOPUSARC_FAULTS=ON
echo "== tests under ASan + UBSan =="
# Open MPI keeps allocations until exit; leak reports would be its, not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j1)

echo "== fuzzing (libFuzzer, ASan + UBSan, fixed seed) =="
scripts/fuzz.sh
