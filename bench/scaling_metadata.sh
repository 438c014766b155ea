#!/usr/bin/env bash
# What opening an archive costs against its number of recordings N (issue
# 18, "archive open"): for N = 10^3 .. 10^6, a synthetic archive
# (bench/mkmany: N recordings rows over one real 3 s recording's packets)
# and, as whole processes without MPI, the wall time and peak RSS of
#   first   `opusarc extract --recording` of the first row's name (found at once)
#   last    the same for the last row's name (the name lookup reads every row)
#   index   examples/read_range by name of the last row (the C reader)
#   python  opusarc.open(A).read(last name, ...) in a fresh /usr/bin/python3 (numpy imported too)
#   info    `opusarc info --summary` (sums every row)
# each against N = 10^3 in the same run. The extracted samples are checked
# equal to those of the first N's first recording (all rows decode alike).
# Then `index` of INDEX_N real 1 s clips (default 10000; 100 distinct
# tests/mkopus clips copied in a tree of 100 directories) at INDEX_RANKS
# ranks (default "1 2 4 8"): wall time and each rank's peak RSS (issue 18's
# goal: per-rank memory falling as ranks grow).
#   bench/scaling_metadata.sh [MAX_EXPONENT]      (default 6: up to 10^6)
# INDEX_N=0 skips the index part; SWEEP_Q="" the sweep part; LIST_N=1000000 adds the
# corpus list's own cost, FLAT_N=1000000 the same for one flat directory, TIME_N="1000
# 1000000" time queries against N (see each part).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
MAXE=${1:-6}
BUILD_TYPE=Release scripts/build.sh > /dev/null
O=$BENCH_DIR/metadata
mkdir -p "$O"
"$B/tests/mkopus" --seconds 3 --seed 7 "$O/source.opus" > /dev/null
# measure CMD...: "seconds kB" of the whole process, run without MPI's launcher environment.
measure() {
  env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u SLURM_STEP_ID /usr/bin/time -o "$O/time.txt" -f '%e %M' "$@" \
    > /dev/null 2> "$O/stderr.txt" || { cat "$O/stderr.txt" >&2; exit 1; }
  tail -1 "$O/time.txt"
}
printf '| %-9s | %-6s | %9s | %9s | %7s | %7s |\n' N case seconds "peak MB" "x time" "x RSS"
printf '|%s|\n' "-----------|--------|-----------|-----------|---------|---------"
declare -A T0 M0
for e in $(seq 3 "$MAXE"); do
  n=$((10 ** e))
  a=$O/n$n.h5
  [ -f "$a" ] || "$B/bench/mkmany" "$n" "$a" "$O/source.opus" > /dev/null
  last=$(printf 'r%07d.opus' $((n - 1)))
  for c in first last index python info; do
    case $c in
      first) set -- "$B/opusarc" extract "$a" --recording r0000000.opus --start 1000 --end 49000 --format f32 -o "$O/out_$c.f32" --force -q ;;
      last) set -- "$B/opusarc" extract "$a" --recording "$last" --start 1000 --end 49000 --format f32 -o "$O/out_$c.f32" --force -q ;;
      index) set -- sh -c "\"$B/bench/read_range\" \"$a\" \"$last\" 1000 49000 > \"$O/out_$c.f32\"" ;;
      python) set -- env PYTHONPATH="$PWD/python" OPUSARC_LIBRARY="$PWD/$B/libopusarc.so.0" /usr/bin/python3 -c \
        "import sys, opusarc; opusarc.open(sys.argv[1]).read(sys.argv[2], 1000, 49000).tofile(sys.argv[3])" \
        "$a" "$last" "$O/out_$c.f32" ;;
      info) set -- "$B/opusarc" info --summary "$a" ;;
    esac
    read -r secs kb < <(measure "$@")
    [ -n "${T0[$c]:-}" ] || { T0[$c]=$secs; M0[$c]=$kb; }
    printf '| %-9s | %-6s | %9.3f | %9.1f | %7.2f | %7.2f |\n' "$n" "$c" "$secs" "$(echo "$kb / 1024" | bc -l)" \
      "$(echo "$secs / (${T0[$c]} + 0.001)" | bc -l)" "$(echo "$kb / ${M0[$c]}" | bc -l)"
  done
  for c in first last index python; do
    [ -f "$O/ref.f32" ] || cp "$O/out_$c.f32" "$O/ref.f32"
    cmp -s "$O/out_$c.f32" "$O/ref.f32" || { echo "N=$n $c: samples differ" >&2; exit 1; }
  done
done
echo
echo "Synthetic archives in $O (bench/mkmany); 'x' columns are against N = 1000 in this run."

# Long recordings: LONG_HOURS="1 4 24" (default: none) indexes one mono
# 16 kbit/s file of each length (tests/mkopus, complexity 0, made once) at one
# rank and prints its peak RSS, with the default batch (256 MB: the whole
# recording fits in it) and with --batch-mb LONG_BATCH_MB (default 8: the
# batch spills its packets and checkpoints to a file next to the output).
# A recording is read a page at a time, so what grows with its length is the
# batch, which --batch-mb caps (issue 18: <= 64 MB whatever the length).
if [ -n "${LONG_HOURS:-}" ]; then
  LB=${LONG_BATCH_MB:-8}
  echo
  printf '| %-6s | %9s | %9s | %14s | %9s | %15s |\n' hours "file MB" seconds "peak MB (256)" seconds "peak MB ($LB)"
  printf '|%s|\n' "--------|-----------|-----------|----------------|-----------|-----------------"
  for h in $LONG_HOURS; do
    f=$O/long$h.opus
    [ -f "$f" ] || "$B/tests/mkopus" --seconds $((h * 3600)) --bitrate 16000 --complexity 0 --seed "$h" "$f" > /dev/null
    row=""
    for bm in 256 "$LB"; do
      rm -f "$O/long.h5"
      env -u OMPI_COMM_WORLD_SIZE /usr/bin/time -o "$O/time.txt" -f '%e %M' "$B/opusarc" index -q --batch-mb "$bm" \
        -o "$O/long.h5" "$f" > /dev/null
      read -r secs kb < "$O/time.txt"
      row="$row $secs $kb"
    done
    read -r s1 k1 s2 k2 <<< "$row"
    printf '| %-6s | %9.1f | %9.2f | %14.1f | %9.2f | %15.1f |\n' "$h" "$(echo "$(stat -c %s "$f") / 1000000" | bc -l)" \
      "$s1" "$(echo "$k1 / 1024" | bc -l)" "$s2" "$(echo "$k2 / 1024" | bc -l)"
  done
fi

INDEX_N=${INDEX_N:-10000}
INDEX_RANKS=${INDEX_RANKS:-1 2 4 8}
INDEX_BATCH_MB=${INDEX_BATCH_MB:-8} # small, so the rows batch does not hide what grows with N
SWEEP_Q=${SWEEP_Q-20000 200000}
# phases SUMMARY.json: the slowest rank's seconds in each phase of index.
phases() {
  python3 -c "import json, sys; p = json.load(open(sys.argv[1]))['phases']
print(' / '.join('%.2f' % p[k]['max_seconds'] for k in ('scan', 'decode', 'hdf5_write', 'metadata')))" "$1"
}
index_part() {
C=$O/clips$INDEX_N
if [ ! -f "$C/.done" ]; then
  # 100 distinct 1 s clips (tests/mkopus), copied under INDEX_N names in 100
  # directories: every file its own inode, as in a real corpus.
  echo "building $INDEX_N clips of 1 s (once) ..." >&2
  rm -rf "$C"
  mkdir -p "$C/seeds"
  for i in $(seq 0 99); do "$B/tests/mkopus" --seconds 1 --seed "$i" --bitrate 16000 "$C/seeds/s$i.opus" > /dev/null; done
  python3 - "$C" "$INDEX_N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
seeds = [open(os.path.join(root, "seeds", f"s{i}.opus"), "rb").read() for i in range(100)]
for i in range(n):
    d = os.path.join(root, "tree", str(i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"c{i}.opus"), "wb") as f:
        f.write(seeds[i % 100])
PY
  touch "$C/.done"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo
echo "index --batch-mb $INDEX_BATCH_MB of $INDEX_N clips ($C/tree): peak RSS of each rank (the ranks walk and sort the list together,"
echo "none holds it whole); 'x' is the mean of ranks 1.. against one rank's RSS"
printf '| %-9s | %5s | %9s | %-40s | %6s | %-34s |\n' N ranks seconds "peak MB per rank (rank 0 first)" "others" \
  "slowest rank's s: scan/decode/write/meta"
printf '|%s|\n' "-----------|-------|-----------|------------------------------------------|--------|------------------------------------"
one=""
for np in $INDEX_RANKS; do
  rm -f "$O/i.h5" "$O/i.h5".partial* "$O/i.h5.lock" "$O"/rss.*
  t0=$(date +%s.%N)
  mpirun -np "$np" sh -c '/usr/bin/time -o "$0/rss.${OMPI_COMM_WORLD_RANK:-0}" -f %M "$1" index -q --batch-mb "$3" \
    --summary-json "$0/summary.json" -o "$0/i.h5" "$2" > /dev/null' "$O" "$PWD/$B/opusarc" "$C/tree" "$INDEX_BATCH_MB"
  t1=$(date +%s.%N)
  rss=$(for r in $(seq 0 $((np - 1))); do printf '%.1f ' "$(echo "$(tail -1 "$O/rss.$r") / 1024" | bc -l)"; done)
  [ -n "$one" ] || one=$(echo "$(tail -1 "$O/rss.0") / 1024" | bc -l)
  others=-
  if [ "$np" -gt 1 ]; then
    others=$(for r in $(seq 1 $((np - 1))); do tail -1 "$O/rss.$r"; done | awk -v one="$one" '{ s += $1 } END { printf "%.2fx", s / NR / 1024 / one }')
  fi
  printf '| %-9s | %5s | %9.2f | %-40s | %6s | %-34s |\n' "$INDEX_N" "$np" "$(echo "$t1 - $t0" | bc -l)" "$rss" "$others" \
    "$(phases "$O/summary.json")"
done
}

sweep_part() {
# Sweeps: SWEEP_Q queries (default "20000 200000"; 2 ms ranges of random
# recordings of the 10^4-recording synthetic archive, or of its first
# SWEEP_RECS: with 10, overlapping ranges share decodes and 2,000,000
# queries take ~1 min a rank) into one clips file at SWEEP_RANKS ranks
# (default "1 2 4 8"): wall time and each rank's peak RSS. Each rank reads
# its part of the CSV a block at a time and runs it in rounds of at most
# 65,536 queries (issue 18: memory per rank that does not grow with the
# list); 'x Q' is the mean RSS against the smallest Q at the same rank count.
# SWEEP_STDIN=1: the same CSV on stdin (--queries /dev/stdin), which rank 0
# copies into a temporary file and sends on in blocks into the other ranks'.
SWEEP_RANKS=${SWEEP_RANKS:-1 2 4 8}
SWEEP_RECS=${SWEEP_RECS:-10000}
a=$O/n10000.h5
[ -f "$a" ] || "$B/bench/mkmany" 10000 "$a" "$O/source.opus" > /dev/null
echo
echo "extract --queries ${SWEEP_STDIN:+/dev/stdin < }Q.csv --out clips.h5 (2 ms ranges over $SWEEP_RECS recordings of $a): peak RSS of each rank"
printf '| %-8s | %5s | %9s | %-44s | %6s |\n' queries ranks seconds "peak MB per rank (rank 0 first)" "x Q"
printf '|%s|\n' "----------|-------|-----------|----------------------------------------------|--------"
declare -A SMALL
for q in $SWEEP_Q; do
  python3 - "$q" "$SWEEP_RECS" > "$O/q$q.csv" <<'PY'
import random, sys
random.seed(18)
print("id,recording,start,end")
for i in range(int(sys.argv[1])):
    s = random.randrange(0, 3 * 48000 - 312 - 96)  # mkmany rows: 3 s less the pre-skip
    print(f"q{i},r{random.randrange(int(sys.argv[2])):07d}.opus,{s},{s + 96}")
PY
  for np in $SWEEP_RANKS; do
    rm -f "$O/clips.h5" "$O"/rss.*
    t0=$(date +%s.%N)
    qpath=$O/q$q.csv
    [ -n "${SWEEP_STDIN:-}" ] && qpath=/dev/stdin
    mpirun -np "$np" sh -c '/usr/bin/time -o "$0/rss.${OMPI_COMM_WORLD_RANK:-0}" -f %M "$1" extract -q "$2" --queries "$3" --out "$0/clips.h5" > /dev/null' \
      "$O" "$PWD/$B/opusarc" "$a" "$qpath" < "$O/q$q.csv"
    t1=$(date +%s.%N)
    rss=$(for r in $(seq 0 $((np - 1))); do printf '%.1f ' "$(echo "$(tail -1 "$O/rss.$r") / 1024" | bc -l)"; done)
    mean=$(for r in $(seq 0 $((np - 1))); do tail -1 "$O/rss.$r"; done | awk '{ s += $1 } END { print s / NR }')
    [ -n "${SMALL[$np]:-}" ] || SMALL[$np]=$mean
    printf '| %-8s | %5s | %9.2f | %-44s | %5.2fx |\n' "$q" "$np" "$(echo "$t1 - $t0" | bc -l)" "$rss" \
      "$(echo "$mean / ${SMALL[$np]}" | bc -l)"
  done
done
rm -f "$O/clips.h5"
}

# The corpus list alone, with no audio to decode, so what is left is the
# list's own cost per rank (issue 18: it falls as ranks are added, rank 0
# included, since the ranks sort the list among them). Every entry is
# walked, sorted, split and written as a failed row:
#   LIST_N (default 0; e.g. 1000000) --list lines naming files that do not exist;
#   FLAT_N (default 0; e.g. 1000000) empty .opus files in one directory (made once):
#     its reader deals the files out in rounds, so it never holds them all.
LIST_N=${LIST_N:-0}
FLAT_N=${FLAT_N:-0}
failed_part() { # failed_part WHAT N INDEX-ARGS...: a row per rank count
  local what=$1 n=$2
  shift 2
  echo
  echo "index --batch-mb $INDEX_BATCH_MB $what: peak RSS of each rank (rank 0 first)"
  printf '| %-9s | %5s | %9s | %-46s |\n' entries ranks seconds "peak MB per rank (rank 0 first)"
  printf '|%s|\n' "-----------|-------|-----------|------------------------------------------------"
  for np in $INDEX_RANKS; do
    rm -f "$O/l.h5" "$O/l.h5".partial* "$O/l.h5.lock" "$O"/rss.*
    t0=$(date +%s.%N)
    # exit 3 (every recording failed, as meant) must not stop mpirun
    mpirun -np "$np" sh -c 'o=$0 bin=$1 mb=$2; shift 2
      /usr/bin/time -o "$o/rss.${OMPI_COMM_WORLD_RANK:-0}" -f %M "$bin" index -q --batch-mb "$mb" -o "$o/l.h5" "$@" \
        > /dev/null 2>&1 || true' "$O" "$PWD/$B/opusarc" "$INDEX_BATCH_MB" "$@"
    t1=$(date +%s.%N)
    rss=$(for r in $(seq 0 $((np - 1))); do printf '%.1f ' "$(echo "$(tail -1 "$O/rss.$r") / 1024" | bc -l)"; done)
    printf '| %-9s | %5s | %9.2f | %-46s |\n' "$n" "$np" "$(echo "$t1 - $t0" | bc -l)" "$rss"
  done
  rm -f "$O/l.h5"
}
list_part() {
  local list=$O/list$LIST_N.txt
  [ -f "$list" ] || python3 -c "
for i in range($LIST_N): print(f'/nonexistent/opusarc-bench/d{i % 1000}/c{i}.opus')" > "$list"
  failed_part "--list of $LIST_N missing files" "$LIST_N" --list "$list"
}
flat_part() {
  local dir=$O/flat$FLAT_N
  [ -d "$dir" ] || python3 -c "
import os
os.makedirs('$dir.tmp', exist_ok=True)
for i in range($FLAT_N): os.close(os.open(f'$dir.tmp/c{i:07d}.opus', os.O_CREAT | os.O_WRONLY, 0o644))
os.rename('$dir.tmp', '$dir')"
  failed_part "of one directory of $FLAT_N empty .opus files" "$FLAT_N" "$dir"
}

# Time queries against N: TIME_N="1000 1000000" (default: none) makes
# synthetic archives whose recordings follow each other on a clock (mkmany
# N ... 3: recording i starts 3 i seconds after 2021-01-01T00:00:00Z) and
# runs, as whole processes without MPI,
#   span    --from/--to over 10 s in the middle (4 outputs)
#   daily   --daily 00:10-00:10:06 --tz Z on every day the recordings cover
# each against the first N. A rank reads the rows a block at a time to find
# what its spans overlap (one pass for up to 65,536 spans), keeping none.
TIME_N=${TIME_N:-}
time_part() {
  echo
  echo "time queries (extract --out-dir, f32) on synthetic archives on a clock"
  printf '| %-9s | %-6s | %9s | %9s | %7s | %7s |\n' N case seconds "peak MB" "x time" "x RSS"
  printf '|%s|\n' "-----------|--------|-----------|-----------|---------|---------"
  local n a mid c secs kb
  declare -A t0 m0
  for n in $TIME_N; do
    a=$O/clock$n.h5
    [ -f "$a" ] || "$B/bench/mkmany" "$n" "$a" "$O/source.opus" 3 > /dev/null
    mid=$(date -u -d "@$((1609459200 + n * 3 / 2))" +%Y-%m-%dT%H:%M:%SZ)
    for c in span daily; do
      rm -rf "$O/time_out"
      case $c in
        span) set -- --from "$mid" --to "$(date -u -d "$mid + 10 seconds" +%Y-%m-%dT%H:%M:%SZ)" ;;
        daily) set -- --daily 00:10-00:10:06 --tz Z ;;
      esac
      read -r secs kb < <(measure "$B/opusarc" extract -q "$a" "$@" --format f32 --out-dir "$O/time_out")
      [ -n "${t0[$c]:-}" ] || { t0[$c]=$secs; m0[$c]=$kb; }
      printf '| %-9s | %-6s | %9.3f | %9.1f | %7.2f | %7.2f |\n' "$n" "$c" "$secs" "$(echo "$kb / 1024" | bc -l)" \
        "$(echo "$secs / (${t0[$c]} + 0.001)" | bc -l)" "$(echo "$kb / ${m0[$c]}" | bc -l)"
    done
  done
  rm -rf "$O/time_out"
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ -n "$TIME_N" ] && time_part
[ "$INDEX_N" -gt 0 ] && index_part
[ "$LIST_N" -gt 0 ] && list_part
[ "$FLAT_N" -gt 0 ] && flat_part
[ -n "$SWEEP_Q" ] && sweep_part
exit 0
