#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded, reproducible number of inputs (fixed seed) from a seed corpus made
# here: Ogg Opus files from tests/tools/mkopus, snapshot blobs from them, and
# an archive of those files whose rows fuzz_archive edits.
#   scripts/fuzz.sh [RUNS_DEMUX] [RUNS_SNAPSHOT] [RUNS_ARCHIVE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_DEMUX=${1:-600000}
RUNS_SNAPSHOT=${2:-100000}
RUNS_ARCHIVE=${3:-10000}
command -v clang > /dev/null || { echo "fuzz: clang not installed" >&2; exit 1; }
CC=clang BUILD_DIR=build-fuzz scripts/build.sh -DOPUSARC_FUZZ=ON -DOPUSARC_TESTS=ON > /dev/null
F=build-fuzz
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/demux" "$S/snapshot" "$S/archive" "$S/seglist" "$S/clock" "$S/tables"
"$F/tests/mkopus" --channels 1 --seconds 0.3 --seed 1 "$S/demux/mono.opus" > /dev/null
"$F/tests/mkopus" --channels 2 --seconds 0.2 --links 2 --trim 100 --seed 2 "$S/demux/chained.opus" > /dev/null
"$F/tests/mkopus" --channels 6 --family 1 --seconds 0.2 --seed 3 "$S/demux/surround.opus" > /dev/null
"$F/tests/mkopus" --channels 1 --mode silk --seconds 0.3 --frame-ms 60 --seed 4 "$S/demux/silk.opus" > /dev/null
"$F/tests/mkopus" --channels 4 --family 3 --seconds 0.1 --seed 5 "$S/demux/projection.opus" > /dev/null
# Damaged: cut inside a page (a damaged row in the archive fuzz_archive edits).
head -c $(($(stat -c %s "$S/demux/chained.opus") - 20)) "$S/demux/chained.opus" > "$S/demux/cut.opus"
"$F/tests/fuzz/mkseed_snapshot" "$S/snapshot" "$S/demux/mono.opus" "$S/demux/chained.opus" "$S/demux/silk.opus"
export ASAN_OPTIONS=detect_leaks=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Short intervals: every checkpoint kind, many rows to edit.
"$F/opusarc" index -q --allow-damaged --checkpoint-every 0.05 --max-preroll 3 -o "$S/base.h5" "$S/demux" > /dev/null
"$F/opusarc" info "$S/base.h5" | grep '^intervals'
for i in 1 2 3 4 5 6 7 8; do "$F/tests/mkbad" random "$S/archive/seed$i" $((64 + i % 2)) "$i"; done
export FUZZ_ARCHIVE=$S/base.h5
# Segment lists: a body (first byte: the count the end line will carry).
printf '\001opusarc-segments 1\nbase 00000000000000ab 1234 2026-01-01T00:00:00Z\nseg a.seg-0001.h5\n' > "$S/seglist/one"
printf '\002opusarc-segments 1\nbase 1 2 3\nseg x.seg-0001.h5\nseg x.seg-0002.h5\n' > "$S/seglist/two"
# Start-time texts (first byte: which parser).
printf '\000Recorded at 05:00:00 01/05/2021 (UTC+1) by AudioMoth 24E1' > "$S/clock/moth"
printf '\001GUANO|Version: 1.0\nMake: X\nSerial: 7\nTimestamp: 2021-06-01T22:15:00.5-04:00\n' > "$S/clock/guano"
printf '\002vendor=x\nDATE=2021-05-01T05:00:00+01:00\nARTIST=AudioMoth 9\n' > "$S/clock/tags"
printf '\004%%Y%%m%%d_%%H%%M%%S|a/20210501_050000.wav' > "$S/clock/name"
printf '\0052021-05-01T05:00:00Z' > "$S/clock/iso"
# Query tables (first byte: format, units, clamp, padding).
printf '\000id,recording,start,end,species,,start\nq1,mono.opus,0,4800,"a, b",x,y\nq2,silk.opus,10,20,,,\n' > "$S/tables/csv"
printf '\001Selection\tView\tBegin Time (s)\tEnd Time (s)\tBegin Path\tFile Offset (s)\tSpecies\n1\tWaveform 1\t0.01\t0.1\tC:\\x\\mono.wav\t0.01\tA\n1\tSpectrogram 1\t0.01\t0.1\tmono.opus\t0.01\tA\n' > "$S/tables/raven"
printf '\022Start (s),End (s),Scientific name,Confidence,File\n0.0,0.1,X y,0.5,/d/chained.opus\n' > "$S/tables/birdnet"
# Found by fuzz_tables (session 11): a Selection column past a short row's last field.
echo 'AVNlbHRjZWlvbglWZ3cJQmVnaW4gVGltZSAocykJRW5kIFRpbWUgKHMpCUJlZ2luIFBhdGgJSmlsZSBPZmZzZXQgKAkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJMC4JMQkuIFBhdGgJSmlsZWlkIE9mZnNldCAoCQkJCQkJCQkJCQkJCQlTZWxlY3Rpb24JCQkJCQkJCQkJCQkwLgkxCS5teEMxOlxcb25vLndhdgkvLjBteEMxOlxcb25vLndhdgkvLjAxCUEKMQlTcGVj0XJvZ3JhbSAxCTAuMDEJMC4xCW1vbm8ub3A9cwkwLjAxCUEK' | base64 -d > "$S/tables/short_row"
export UBSAN_OPTIONS=halt_on_error=1
run() { # run TARGET RUNS MAXLEN [LIBFUZZER OPTIONS]
  local t0 t1
  t0=$(date +%s)
  "$F/tests/fuzz/fuzz_$1" -seed=1 -runs="$2" -max_len="$3" "${@:4}" "$S/$1" > "$S/$1.log" 2>&1 || {
    tail -n 40 "$S/$1.log"
    echo "fuzz_$1: FAILED"
    return 1
  }
  t1=$(date +%s)
  echo "fuzz_$1: $2 inputs in $((t1 - t0)) s, no crash ($(ls "$S/$1" | wc -l) corpus entries)"
}
run demux "$RUNS_DEMUX" 65536
run snapshot "$RUNS_SNAPSHOT" 40000
run archive "$RUNS_ARCHIVE" 128 -len_control=0
run seglist "${RUNS_SEGLIST:-200000}" 4096
run clock "${RUNS_CLOCK:-500000}" 512
run tables "${RUNS_TABLES:-200000}" 2048
