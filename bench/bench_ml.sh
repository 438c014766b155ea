#!/usr/bin/env bash
# Clips for ML (issue 14), one run on the real-audio corpus (bench/corpus.sh):
#   - about 10,000 windows (default: 0.75 s windows over the music tracks, W=0.75) into one HDF5
#     clips file at 16 kHz mono (--rate 16000 --mono --shape fixed), beside the same windows
#     at 48 kHz as decoded (float32, stereo), on 1 and NP ranks: queries/s and bytes written
#   - the same 16 kHz mono windows made by ffmpeg (libopus decoder, soxr resampler at
#     28-bit precision) from the Ogg files: one ffmpeg per window on a random sample of
#     SAMPLE windows (how a script would cut windows), and one ffmpeg per recording
#     converting it whole (the fastest any tool can go: no seeking, one process per file)
#   - sox rate -v (from opusdec's float decode, sox cannot read Opus) per recording, whole
#   - the correlation of one window against ffmpeg's (a different decoder and seek:
#     the same audio, not the same samples)
#
#   bench/bench_ml.sh          (W=0.75 window seconds, NP=2, SAMPLE=300, REPEAT=2: best of 2)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
W=${W:-0.75}
NP=${NP:-2}
SAMPLE=${SAMPLE:-300}
REPEAT=${REPEAT:-2}
BUILD_DIR=$B BUILD_TYPE=Release scripts/build.sh > /dev/null
command -v ffmpeg > /dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg > /dev/null; }
C=$(bench/corpus.sh)
A=$BENCH_DIR/sweep.h5
[ -f "$A" ] || "$B/opusarc" index -q -o "$A" "$C"
O=$BENCH_DIR/ml
rm -rf "$O" && mkdir -p "$O"

rate() { grep -o '([0-9.]* queries/s' | tr -d '(' | awk '{print $1}'; }
# best NP ARGS...: the highest queries/s of REPEAT sweeps (the file named by OUT removed first)
best() {
  local np=$1 r v top=0
  shift
  for r in $(seq "$REPEAT"); do
    rm -f "$OUT"
    v=$(mpirun -np "$np" "$B/opusarc" extract "$A" --windows "$W" --units seconds --match 'music/*' "$@" --out "$OUT" | rate)
    top=$(awk -v a="$v" -v b="$top" 'BEGIN{print (a > b) ? a : b}')
  done
  echo "$top"
}
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN{printf "%.1f", b / 1e6}'; }
q16=$(OUT=$O/w16.h5 best 1 --rate 16000 --mono --shape fixed)
q16n=$(OUT=$O/w16.h5 best "$NP" --rate 16000 --mono --shape fixed)
q48=$(OUT=$O/w48.h5 best 1)
q48n=$(OUT=$O/w48.h5 best "$NP")
n=$(h5dump -H -d /clips "$O/w16.h5" | grep -o 'SIMPLE { ( [0-9]*' | awk '{print $4}')
s16=$(mb "$O/w16.h5") s48=$(mb "$O/w48.h5")

# The same windows as (file, start s), one line each.
"$B/opusarc" info --json "$A" | tr '{' '\n' | grep '"name": "music/' |
  sed 's/.*"name": "\([^"]*\)".*"samples": \([0-9]*\),.*/\1 \2/' > "$O/lengths.txt"
awk -v w="$W" '{k = int($2 / (w * 48000)); for (i = 0; i < k; i++) print $1, i * w}' "$O/lengths.txt" > "$O/windows.txt"
shuf -n "$SAMPLE" --random-source=<(yes) "$O/windows.txt" > "$O/sample.txt"
ff() { ffmpeg -nostdin -v error -y -c:a libopus "$@"; }
AF="aresample=resampler=soxr:precision=28"
mkdir -p "$O/ff"
t0=$(date +%s.%N)
k=0
while read -r name start; do
  ff -ss "$start" -t "$W" -i "$C/$name" -ac 1 -af "$AF" -ar 16000 -f f32le "$O/ff/$k.f32"
  k=$((k + 1))
done < "$O/sample.txt"
t1=$(date +%s.%N)
qff=$(awk -v n="$SAMPLE" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n / (b - a)}')
bff=$(du -sb "$O/ff" | awk -v n="$SAMPLE" -v all="$n" '{printf "%.1f", $1 / n * all / 1e6}')

# Whole recordings: ffmpeg, and opusdec | sox rate -v.
mkdir -p "$O/whole" "$O/sox"
t0=$(date +%s.%N)
while read -r name _; do
  ff -i "$C/$name" -ac 1 -af "$AF" -ar 16000 -f f32le "$O/whole/$(basename "$name").f32"
done < "$O/lengths.txt"
t1=$(date +%s.%N)
qwhole=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n / (b - a)}')
t0=$(date +%s.%N)
while read -r name _; do
  opusdec --quiet --float --force-wav "$C/$name" - 2> /dev/null | sox -V1 -t wav - -t f32 "$O/sox/$(basename "$name").f32" remix - rate -v 16000
done < "$O/lengths.txt"
t1=$(date +%s.%N)
qsox=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n / (b - a)}')
bwhole=$(du -sb "$O/whole" | awk '{printf "%.1f", $1 / 1e6}')

# One window against ffmpeg's: opusarc's row vs ffmpeg's cut of the same second.
read -r name start < <(sed -n 1p "$O/sample.txt")
stem=$(printf '%s' "$name" | sed 's|/|~|g')
"$B/tests/clipget" "$O/w16.h5" "${stem}_$(awk -v s="$start" 'BEGIN{printf "%d", s * 48000}')" "$O/one.f32" > /dev/null
corr=$("$B/tests/soxrcheck" --corr "$O/ff/0.f32" "$O/one.f32" 0 | awk '{print $2}')

r() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
echo
echo "$n windows of $W s over the music tracks ($(nproc) cores), one HDF5 clips file each:"
printf '| %-56s | %10s | %9s | %8s |\n' measure queries/s "MB written" "ratio"
printf '|%s|\n' "----------------------------------------------------------|------------|-----------|----------"
printf '| %-56s | %10s | %9s | %8s |\n' "opusarc, 48 kHz float32 stereo as decoded, 1 rank" "$q48" "$s48" "1.00"
printf '| %-56s | %10s | %9s | %8s |\n' "opusarc, 48 kHz float32 stereo as decoded, $NP ranks" "$q48n" "$s48" "$(r "$q48n" "$q48")"
printf '| %-56s | %10s | %9s | %8s |\n' "opusarc --rate 16000 --mono --shape fixed, 1 rank" "$q16" "$s16" "$(r "$q16" "$q48")"
printf '| %-56s | %10s | %9s | %8s |\n' "opusarc --rate 16000 --mono --shape fixed, $NP ranks" "$q16n" "$s16" "$(r "$q16n" "$q48")"
printf '| %-56s | %10s | %9s | %8s |\n' "ffmpeg -ss/-t per window (soxr 28-bit), $SAMPLE sampled" "$qff" "$bff" "$(r "$qff" "$q48")"
printf '| %-56s | %10s | %9s | %8s |\n' "ffmpeg, whole recordings (windows' worth per second)" "$qwhole" "$bwhole" "$(r "$qwhole" "$q48")"
printf '| %-56s | %10s | %9s | %8s |\n' "opusdec | sox rate -v, whole recordings (same)" "$qsox" "$bwhole" "$(r "$qsox" "$q48")"
echo "16 kHz mono vs 48 kHz stereo bytes: $(r "$s16" "$s48")x; one window vs ffmpeg's cut of it: correlation $corr"
echo "(ffmpeg's MB for the sampled windows are scaled to all $n; whole-recording outputs are not cut into windows)"
