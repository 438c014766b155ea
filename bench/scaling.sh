#!/usr/bin/env bash
# Scaling study: `opusarc index` and an extraction sweep at 1..N ranks.
#   strong: the same corpus at every rank count (speed-up, efficiency)
#   weak:   the corpus grows with the ranks (each rank gets a copy of the
#           same base set, by symlinks), so ideal wall time stays flat
#   sweep:  the same random 2 s queries at every rank count (queries/s)
# Writes SCALING_OUT/scaling.csv (metric,value,unit), one JSON summary per
# index run, and PNG plots drawn with gnuplot (if installed).
#
#   bench/scaling.sh                    on this machine (mpirun), ranks 1..nproc
# Environment:
#   SCALING_CORPUS   corpus directory (default: the real-audio corpus, bench/corpus.sh)
#   SCALING_OUT      results directory (default bench/results)
#   SCALING_RANKS    rank counts (default "1 2 .. nproc"; under Slurm 1..SLURM_NTASKS)
#   SCALING_WEAK     files per rank in the weak study (default 8)
#   SCALING_QUERIES  queries in the sweep (default 1000)
#   LAUNCH           launcher taking a rank count (default "mpirun -np"; jobs/scaling.sbatch: srun)
#   OPUSARC          the binary (default build/opusarc, built here if missing)
#   REPEAT           runs per point, the fastest kept (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OPUSARC=${OPUSARC:-build/opusarc}
[ -x "$OPUSARC" ] || { BUILD_TYPE=Release scripts/build.sh > /dev/null; OPUSARC=build/opusarc; }
C=${SCALING_CORPUS:-$(bench/corpus.sh)}
OUT=${SCALING_OUT:-bench/results}
max=${SLURM_NTASKS:-$(nproc)}
RANKS=${SCALING_RANKS:-$(seq -s ' ' 1 "$max")}
WEAK=${SCALING_WEAK:-8}
NQ=${SCALING_QUERIES:-1000}
REPEAT=${REPEAT:-1}
read -r -a LAUNCH <<< "${LAUNCH:-mpirun -np}"
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/opusarc-scaling.XXXXXX")
trap 'rm -rf "$W"' EXIT
CSV=$OUT/scaling.csv
echo "metric,value,unit" > "$CSV"
row() { echo "$1,$2,$3" >> "$CSV"; }
row cores "$(nproc)" count
row corpus_bytes "$(du -sbL "$C" | cut -f1)" B

# index_run NAME NP CORPUS: the fastest of REPEAT runs; leaves $W/NAME.json.
index_run() {
  local name=$1 np=$2 corpus=$3 best="" r
  for r in $(seq "$REPEAT"); do
    rm -f "$W/$name.h5"
    "${LAUNCH[@]}" "$np" "$OPUSARC" index -q --force --allow-failures --summary-json "$W/$name.try.json" \
      -o "$W/$name.h5" "$corpus" > /dev/null
    if [ -z "$best" ] || jq -e --slurpfile b "$W/$name.json" '.wall_seconds < $b[0].wall_seconds' "$W/$name.try.json" > /dev/null; then
      cp "$W/$name.try.json" "$W/$name.json"
      best=1
    fi
  done
  cp "$W/$name.json" "$OUT/$name.json"
}
record_index() { # record_index PREFIX NP: CSV rows from $W/PREFIX_npNP.json
  local j=$W/$1_np$2.json
  row "$1_wall_np$2" "$(jq .wall_seconds "$j")" s
  row "$1_x_real_time_np$2" "$(jq .x_real_time "$j")" x
  row "$1_audio_hours_np$2" "$(jq .audio_hours "$j")" h
  row "$1_archive_bytes_np$2" "$(stat -c %s "$W/$1_np$2.h5")" B
  row "$1_commits_np$2" "$(jq .commits "$j")" count
  for p in scan decode hdf5_write metadata; do row "$1_${p}_max_np$2" "$(jq ".phases.$p.max_seconds" "$j")" s; done
}

# Strong scaling: the whole corpus.
for np in $RANKS; do
  index_run "index_strong_np$np" "$np" "$C"
  record_index index_strong "$np"
  echo "index strong np $np: $(jq .wall_seconds "$W/index_strong_np$np.json") s" >&2
done

# The cost of a commit round: the whole corpus at the largest rank count with
# 1 MB batches (many rounds) against the strong run (one or few rounds).
top=${RANKS##* }
"${LAUNCH[@]}" "$top" "$OPUSARC" index -q --force --allow-failures --batch-mb 1 --summary-json "$W/rounds.json" \
  -o "$W/rounds.h5" "$C" > /dev/null
row "rounds_commits_np$top" "$(jq .commits "$W/rounds.json")" count
row "rounds_hdf5_write_max_np$top" "$(jq .phases.hdf5_write.max_seconds "$W/rounds.json")" s
row "rounds_wall_np$top" "$(jq .wall_seconds "$W/rounds.json")" s
rm -f "$W/rounds.h5"

# Weak scaling: np copies of the same WEAK files (symlinks; names differ by copy).
mapfile -t base < <(find -L "$C" -type f \( -name '*.opus' -o -name '*.ogg' \) | sort | head -n "$WEAK")
for np in $RANKS; do
  rm -rf "$W/weak"
  for k in $(seq 1 "$np"); do
    mkdir -p "$W/weak/copy$k"
    for f in "${base[@]}"; do ln -s "$(realpath "$f")" "$W/weak/copy$k/$(basename "$f")"; done
  done
  index_run "index_weak_np$np" "$np" "$W/weak"
  record_index index_weak "$np"
  echo "index weak np $np: $(jq .wall_seconds "$W/index_weak_np$np.json") s" >&2
done

# Sweep: NQ random 2 s ranges of the strong archive, int16 files into $W.
A=$W/index_strong_np1.h5
"$OPUSARC" info --json "$A" | jq -r '.recordings[] | select(.status == "ok") | "\(.name) \(.samples)"' > "$W/len.txt"
awk -v n="$NQ" 'BEGIN { srand(5) } { name[NR] = $1; len[NR] = $2 - 96000; tot += len[NR] }
  END { print "id,recording,start,end"
        for (i = 0; i < n; i++) { p = int(rand() * tot)
          for (r = 1; r <= NR; r++) { if (p < len[r]) { printf "q%06d,%s,%d,%d\n", i, name[r], p, p + 96000; break } p -= len[r] } } }' \
  "$W/len.txt" > "$W/q.csv"
for np in $RANKS; do
  best=0
  for r in $(seq "$REPEAT"); do
    rm -rf "$W/clips"
    rate=$("${LAUNCH[@]}" "$np" "$OPUSARC" extract "$A" --queries "$W/q.csv" --out-dir "$W/clips" --format s16 \
      --progress 0 | grep -o '([0-9.]* queries/s' | tr -d '(' | awk '{print $1}')
    best=$(awk -v a="$rate" -v b="$best" 'BEGIN { print (a > b) ? a : b }')
  done
  row "sweep_queries_per_s_np$np" "$best" "1/s"
  echo "sweep np $np: $best queries/s" >&2
done
rm -rf "$W/clips"

# Plots.
get() { awk -F, -v m="$1" '$1 == m { print $2 }' "$CSV"; }
: > "$W/strong.dat"
w1=$(get index_strong_wall_np1) s1=$(get sweep_queries_per_s_np1) k1=$(get index_weak_wall_np1)
for np in $RANKS; do
  echo "$np $(awk -v a="$w1" -v b="$(get index_strong_wall_np"$np")" 'BEGIN { print a / b }') \
$(awk -v a="$s1" -v b="$(get sweep_queries_per_s_np"$np")" 'BEGIN { print b / a }') \
$(awk -v a="$k1" -v b="$(get index_weak_wall_np"$np")" 'BEGIN { print a / b }')" >> "$W/strong.dat"
done
cp "$W/strong.dat" "$OUT/scaling.dat"
if command -v gnuplot > /dev/null; then
  gnuplot << GP
set terminal png size 640,420 noenhanced
set datafile separator whitespace
set key top left
set grid
set xlabel "MPI ranks ($(nproc) cores)"
set xtics 1
set output "$OUT/scaling-speedup.png"
set ylabel "speed-up over 1 rank"
set title "opusarc strong scaling: index and sweep"
plot "$OUT/scaling.dat" using 1:1 with lines dt 2 lc rgb "gray" title "ideal", \
     "" using 1:2 with linespoints lw 2 title "index (same corpus)", \
     "" using 1:3 with linespoints lw 2 title "sweep (same queries)"
set output "$OUT/scaling-weak.png"
set ylabel "weak-scaling efficiency (wall np1 / wall npN)"
set yrange [0:1.2]
set title "opusarc weak scaling: index, $WEAK files per rank"
plot 1 with lines dt 2 lc rgb "gray" title "ideal", \
     "$OUT/scaling.dat" using 1:4 with linespoints lw 2 title "index"
GP
fi
echo "scaling: $CSV$(command -v gnuplot > /dev/null && echo ", $OUT/scaling-speedup.png, $OUT/scaling-weak.png")" >&2
