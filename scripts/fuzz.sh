#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded, reproducible number of inputs (fixed seed) from a seed corpus made
# here: Ogg Opus files from tests/tools/mkopus, snapshot blobs from them.
#   scripts/fuzz.sh [RUNS_DEMUX] [RUNS_SNAPSHOT]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_DEMUX=${1:-2000000}
RUNS_SNAPSHOT=${2:-100000}
command -v clang > /dev/null || { echo "fuzz: clang not installed" >&2; exit 1; }
CC=clang BUILD_DIR=build-fuzz scripts/build.sh -DOPUSARC_FUZZ=ON -DOPUSARC_TESTS=ON > /dev/null
F=build-fuzz
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/demux" "$S/snapshot"
"$F/tests/mkopus" --channels 1 --seconds 0.3 --seed 1 "$S/demux/mono.opus" > /dev/null
"$F/tests/mkopus" --channels 2 --seconds 0.2 --links 2 --trim 100 --seed 2 "$S/demux/chained.opus" > /dev/null
"$F/tests/mkopus" --channels 6 --family 1 --seconds 0.2 --seed 3 "$S/demux/surround.opus" > /dev/null
"$F/tests/mkopus" --channels 1 --mode silk --seconds 0.3 --frame-ms 60 --seed 4 "$S/demux/silk.opus" > /dev/null
"$F/tests/fuzz/mkseed_snapshot" "$S/snapshot" "$S/demux/mono.opus" "$S/demux/chained.opus" "$S/demux/silk.opus"
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1
run() { # run TARGET RUNS MAXLEN
  local t0 t1
  t0=$(date +%s)
  "$F/tests/fuzz/fuzz_$1" -seed=1 -runs="$2" -max_len="$3" "$S/$1" > "$S/$1.log" 2>&1 || {
    tail -n 40 "$S/$1.log"
    echo "fuzz_$1: FAILED"
    return 1
  }
  t1=$(date +%s)
  echo "fuzz_$1: $2 inputs in $((t1 - t0)) s, no crash ($(ls "$S/$1" | wc -l) corpus entries)"
}
run demux "$RUNS_DEMUX" 65536
run snapshot "$RUNS_SNAPSHOT" 40000
