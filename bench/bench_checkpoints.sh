#!/usr/bin/env bash
# Checkpoint kinds and spacings on the real-audio corpus (bench/corpus.sh):
# for each setting, one run of
#   - index overhead: (archive bytes - packet payload bytes) / payload bytes
#   - indexing speed (1 rank, wall) beside a bare libopus decode of the same packets
#   - median time per random 3 s range (1 rank, archive in page cache) beside
#     opusfile's op_pcm_seek + op_read_float over the same ranges in the same run
#   - exactness of those ranges against opusfile's linear decode (opusarc and
#     opusfile's seeking both)
#
#   bench/bench_checkpoints.sh [QUERIES]      (default 1000 queries per setting)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
QUERIES=${1:-1000}
BUILD_TYPE=Release scripts/build.sh > /dev/null
C=$(bench/corpus.sh)
mapfile -t files < <(find "$C" -name '*.opus' | sort)
bare=$("$B/bench/bare_decode" "${files[@]}" | awk '{print $4}')
audio=$("$B/bench/bare_decode" "${files[@]}" | awk '{print $2}')
echo "corpus: ${#files[@]} files, $(awk -v a="$audio" 'BEGIN{printf "%.2f h", a/3600}'), bare decode ${bare}x real time; $QUERIES random 3 s ranges per setting"
printf '\n| %-26s | %9s | %8s | %8s | %10s | %10s | %7s | %12s | %13s |\n' setting overhead "index x" "vs bare" "opusarc ms" "opusfile ms" ratio "opusarc exact" "opusfile exact"
printf '|%s|\n' "----------------------------|-----------|----------|----------|------------|------------|---------|--------------|---------------"
run() { # run LABEL INDEX-OPTIONS...
  local label=$1
  shift
  local a=$BENCH_DIR/ck.h5 t0 t1
  rm -f "$a"
  t0=$(date +%s.%N)
  "$B/opusarc" index -q -o "$a" "$@" "$C" > /dev/null
  t1=$(date +%s.%N)
  local ov speed
  ov=$("$B/opusarc" info --json --summary "$a" | grep -o '"overhead_percent": [0-9.]*' | awk '{print $2}')
  speed=$(awk -v a="$audio" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.0f", a/(t1-t0)}')
  local out
  out=$("$B/bench/seek_bench" "$a" "$C" "$QUERIES" 7 3)
  local ours of oe fe
  ours=$(echo "$out" | awk '/^opusarc/ {print $3}')
  of=$(echo "$out" | awk '/^opusfile/ {print $3}')
  oe=$(echo "$out" | awk '/^opusarc/ {print $NF}')
  fe=$(echo "$out" | awk '/^opusfile/ {print $NF}')
  printf '| %-26s | %8.2f%% | %8s | %8.2f | %10s | %10s | %7.2f | %12s | %13s |\n' "$label" "$ov" "$speed" \
    "$(awk -v s="$speed" -v b="$bare" 'BEGIN{print s/b}')" "$ours" "$of" "$(awk -v a="$ours" -v b="$of" 'BEGIN{print a/b}')" "$oe" "$fe"
}
run "auto, 2 s (default)"
run "auto, 1 s" --checkpoint-every 1
run "auto, 4 s" --checkpoint-every 4
run "preroll only, 2 s" --checkpoints preroll
run "snapshot, 2 s" --checkpoints snapshot --checkpoint-every 2
run "snapshot, 5 s" --checkpoints snapshot --checkpoint-every 5
run "snapshot, 10 s" --checkpoints snapshot --checkpoint-every 10
