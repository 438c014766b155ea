#!/usr/bin/env bash
# Latency of one read from a plain process (issue 17): whole-process wall time,
# median of RUNS runs each, of
#   opusfile   bench/of_range: open, op_pcm_seek, op_read_float of a 3 s range (the reference)
#   info       opusarc info ARCHIVE
#   extract    opusarc extract ARCHIVE --recording R --start A --end B --format f32 -o OUT
#   reader     examples/read_range (libopusarc's read-only API, no MPI) of the same range
# on the benchmark corpus's archive, with the ratio of each to opusfile. The
# outputs of extract and reader are compared with opusfile's bytes (of_range
# seeks, so its samples may differ from the exact decode: the count is shown).
#   bench/bench_latency.sh [RUNS]        (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
RUNS=${1:-21}
BUILD_TYPE=Release scripts/build.sh > /dev/null
C=$(bench/corpus.sh)
A=$BENCH_DIR/latency.h5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
[ -f "$A" ] || "$B/opusarc" index -q -o "$A" "$C" > /dev/null
name=music/sad.opus start=960000 end=1104000
median() { # median of the wall seconds of RUNS runs of a command
  local i t0 t1 times=()
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    times+=("$(((t1 - t0) / 1000))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) {printf "%.1f", $1 / 1000}'
}
of=$(median "$B/bench/of_range" "$C/$name" $start $end "$T/of.f32")
info=$(median "$B/opusarc" info "$A")
ext=$(median "$B/opusarc" extract "$A" --recording "$name" --start $start --end $end --format f32 -o "$T/x.f32" --force)
rdr=$(median sh -c "\"$B/bench/read_range\" \"$A\" $name $start $end > \"$T/r.f32\"")
"$B/tests/opusref" "$C/$name" $start $end "$T/ref.f32" > /dev/null
same() { cmp -s "$1" "$T/ref.f32" && echo "equal to opusfile's linear decode" || echo "DIFFERS from opusfile's linear decode"; }
printf '| %-9s | %9s | %11s | %s |\n' read "median ms" "vs opusfile" samples
printf '|%s|\n' "-----------|-----------|-------------|---------"
printf '| %-9s | %9s | %11s | %s |\n' opusfile "$of" 1.00 "seek + read (its seeking is not exact)"
for row in "info $info -" "extract $ext $T/x.f32" "reader $rdr $T/r.f32"; do
  set -- $row
  printf '| %-9s | %9s | %11s | %s |\n' "$1" "$2" "$(awk -v a="$2" -v b="$of" 'BEGIN{printf "%.2f", a/b}')" \
    "$([ "$3" = - ] && echo - || same "$3")"
done
echo
echo "whole-process wall time, median of $RUNS runs; range: $name [$start, $end) (3 s), 1 process, no launcher"
