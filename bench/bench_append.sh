#!/usr/bin/env bash
# What an append costs against the size of the archive it grows (issue 12):
# archives of SIZES recordings (default 100 1000 10000, 2 s each); to each,
# 1% more recordings are appended, and also a fixed 20. The reference,
# measured in the same run, is indexing the same added recordings into a
# new archive of their own: append / reference near 1 at every size means
# the cost follows what is added, not the archive.
#
#   bench/bench_append.sh                 # SIZES="100 1000 10000" NP=2 REPEAT=3
#
# Prints a table; nothing here is a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench-append}
B=${BUILD_DIR:-build}
SIZES=${SIZES:-100 1000 10000}
NP=${NP:-2}
REPEAT=${REPEAT:-3}
BUILD_TYPE=Release scripts/build.sh > /dev/null
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/src"
# 50 distinct 2 s recordings, copied under new names (each copy its own file).
for i in $(seq 1 50); do
  "$B/tests/mkopus" --channels $((1 + i % 2)) --seconds 2 --seed "$i" "$BENCH_DIR/src/s$i.opus" > /dev/null
done
fill() { # fill DIR FIRST COUNT
  mkdir -p "$1"
  for k in $(seq "$2" $(($2 + $3 - 1))); do cp "$BENCH_DIR/src/s$((1 + k % 50)).opus" "$1/r$(printf %06d "$k").opus"; done
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}'; }
best() { sort -g | head -n 1; } # fastest of REPEAT runs (least disturbed)

printf '\n%-10s %-8s %12s %14s %10s\n' "archive" "added" "append (s)" "reference (s)" "ratio"
for n in $SIZES; do
  D=$BENCH_DIR/n$n
  fill "$D/base" 0 "$n"
  mpirun -np "$NP" "$B/opusarc" index -q --root "$D" -o "$D/base.h5" "$D/base" > /dev/null
  for add in $((n / 100 > 0 ? n / 100 : 1)) 20; do
    fill "$D/add$add" 1000000 "$add"
    app=$(for r in $(seq "$REPEAT"); do
      cp "$D/base.h5" "$D/a.h5"
      rm -f "$D"/a.seg-* "$D/a.h5.segments"
      seconds mpirun -np "$NP" "$B/opusarc" index -q --root "$D" --append -o "$D/a.h5" "$D/add$add"
    done | best)
    ref=$(for r in $(seq "$REPEAT"); do
      rm -f "$D/ref.h5"
      seconds mpirun -np "$NP" "$B/opusarc" index -q --root "$D" -o "$D/ref.h5" "$D/add$add"
    done | best)
    [ "$(cat "$D/a.h5.segments" | grep -c '^seg ')" = 1 ] || { echo "append did not make one segment" >&2; exit 1; }
    printf '%-10s %-8s %12.3f %14.3f %10.2f\n' "$n" "$add" "$app" "$ref" "$(awk -v a="$app" -v r="$ref" 'BEGIN{print a / r}')"
  done
  rm -rf "$D"
done
echo "(append: mpirun -np $NP index --append of the added recordings into the archive; reference: the same"
echo " recordings indexed into a new archive; both best of $REPEAT, including mpirun start-up)"
