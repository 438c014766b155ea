#!/usr/bin/env bash
# Indexing speed beside a bare libopus decode of the same packets, on a real
# corpus built from Debian packages (Wesnoth's music, Asterisk's English
# prompts), then exactness of hundreds of random ranges against opusfile.
#
#   bench/bench_index.sh            # installs the audio packages if missing (root)
#   BENCH_DIR=/scratch/b bench/bench_index.sh
#
# Prints a table; nothing here is a pass/fail test except the exactness check.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
REPEAT=${REPEAT:-3}

BUILD_TYPE=Release scripts/build.sh > /dev/null
C=$(bench/corpus.sh)
mapfile -t files < <(find "$C" -name '*.opus' | sort)
music_n=$(find "$C/music" -name '*.opus' | wc -l)
speech_n=$(find "$C/speech" -name '*.opus' | wc -l)

best() { sort -g | tail -n 1; } # best of REPEAT runs (least disturbed)
echo
echo "corpus: ${#files[@]} files ($music_n music at 64 kbit/s stereo, $speech_n speech at 16 kbit/s mono), $(du -sh "$C" | cut -f1), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

bare=$(for r in $(seq "$REPEAT"); do "$B/bench/bare_decode" "${files[@]}" | awk '{print $4}'; done | best)
audio=$("$B/bench/bare_decode" "${files[@]}" | awk '{print $2}')

run_index() { # prints x real time per rank for np ranks
  local np=$1 t0 t1
  rm -f "$BENCH_DIR/bench.h5"
  t0=$(date +%s.%N)
  mpirun -np "$np" "$B/opusarc" index -q -o "$BENCH_DIR/bench.h5" "$C" > /dev/null
  t1=$(date +%s.%N)
  awk -v a="$audio" -v t0="$t0" -v t1="$t1" -v np="$np" 'BEGIN{printf "%.1f\n", a / (t1 - t0) / np}'
}
idx1=$(for r in $(seq "$REPEAT"); do run_index 1; done | best)
idx2=$(for r in $(seq "$REPEAT"); do run_index 2; done | best)

printf '\n%-48s %12s %10s\n' "measure" "x real time" "vs bare"
printf '%-48s %12s %10s\n' "bare libopus linear decode, 1 core" "$bare" "1.00"
for np in 1 2; do
  v=$([ $np = 1 ] && echo "$idx1" || echo "$idx2")
  printf '%-48s %12s %10s\n' "opusarc index, mpirun -np $np, per rank (wall)" "$v" \
    "$(awk -v a="$v" -v b="$bare" 'BEGIN{printf "%.2f", a / b}')"
done
echo "(audio: $(awk -v a="$audio" 'BEGIN{printf "%.2f h", a / 3600}'); index wall time includes MPI start-up, scan and HDF5 writes)"

echo
"$B/opusarc" info --summary "$BENCH_DIR/bench.h5"
echo
echo "exactness: random ranges of the np=2 archive against opusfile's linear decode"
"$B/tests/mkqueries" "$BENCH_DIR/bench.h5" 20 42 > "$BENCH_DIR/q.csv"
rm -rf "$BENCH_DIR/out"
mpirun -np 2 "$B/opusarc" extract "$BENCH_DIR/bench.h5" --queries "$BENCH_DIR/q.csv" --out-dir "$BENCH_DIR/out" --format f32
"$B/tests/refcheck" "$C" "$BENCH_DIR/q.csv" "$BENCH_DIR/out" f32
