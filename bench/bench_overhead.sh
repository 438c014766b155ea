#!/usr/bin/env bash
# Archive overhead and indexing speed on four corpora (issue 16), default
# settings, one run each, 1 rank:
#   bench   - the real-audio benchmark corpus (bench/corpus.sh: music 64 kbit/s, speech 16 kbit/s)
#   silk    - Asterisk's English prompts joined into 4 sessions, opusenc --speech at 12, 16 and
#             24 kbit/s (SILK), 12 files
#   short   - 8 of the music tracks, opusenc 64 kbit/s with 2.5, 5 and 10 ms frames, 24 files
#   clips   - CLIPS (default 20000) clips of 2 s (tests/tools/mkopus, speech-like and music-like
#             signals, 16-32 kbit/s)
# For each: payload (Opus packet bytes), the Ogg files' bytes, the archive's bytes, overhead
# over the payload and size against the Ogg files; the archive's parts (packets: /packets/data
# plus /packets/heads as stored, against the payload; index rows; snapshots) from `info`; the fixed cost of an archive (a one-file
# archive of the corpus's smallest file, minus its payload); indexing speed against a bare
# libopus decode of the same packets (bench/bare_decode, same run); median time of a random
# range (3 s; 1.5 s for clips) against opusfile's op_pcm_seek + op_read_float (bench/seek_bench,
# same process), and how many ranges were bit-identical to opusfile's linear decode.
#   bench/bench_overhead.sh [QUERIES] [CLIPS]     (defaults 500, 20000)
# CORPORA="silk short" runs only those (default: all four).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
QUERIES=${1:-500}
CLIPS=${2:-20000}
BUILD_TYPE=Release scripts/build.sh > /dev/null
BENCH=$(bench/corpus.sh)
MUSIC=/usr/share/games/wesnoth/1.16/data/core/music
SPEECH=/usr/share/asterisk/sounds/en
O=$BENCH_DIR/overhead
mkdir -p "$O/tmp"

if [ ! -f "$O/silk/.done" ]; then
  echo "building the SILK speech corpus (once) ..." >&2
  rm -rf "$O/silk" && mkdir -p "$O/silk"
  mapfile -t prompts < <(find -L "$SPEECH" -name '*.wav' | sort)
  per=$(((${#prompts[@]} + 3) / 4))
  for i in 0 1 2 3; do
    sox "${prompts[@]:$((i * per)):$per}" "$O/tmp/s$i.wav"
    for kbps in 12 16 24; do opusenc --quiet --speech --bitrate "$kbps" "$O/tmp/s$i.wav" "$O/silk/s${i}_${kbps}k.opus"; done
    rm -f "$O/tmp/s$i.wav"
  done
  touch "$O/silk/.done"
fi
if [ ! -f "$O/short/.done" ]; then
  echo "building the short-frame music corpus (once) ..." >&2
  rm -rf "$O/short" && mkdir -p "$O/short"
  mapfile -t tracks < <(find "$MUSIC" -name '*.ogg' | sort | head -8)
  for f in "${tracks[@]}"; do
    n=$(basename "$f" .ogg)
    oggdec -Q -o "$O/tmp/$n.wav" "$f"
    for ms in 2.5 5 10; do opusenc --quiet --bitrate 64 --framesize "$ms" "$O/tmp/$n.wav" "$O/short/${n}_${ms}ms.opus"; done
    rm -f "$O/tmp/$n.wav"
  done
  touch "$O/short/.done"
fi
if [ ! -f "$O/clips$CLIPS/.done" ]; then
  echo "building $CLIPS clips of 2 s (once) ..." >&2
  rm -rf "$O/clips$CLIPS" && mkdir -p "$O/clips$CLIPS"
  for i in $(seq 1 "$CLIPS"); do
    d=$O/clips$CLIPS/$((i / 1000))
    mkdir -p "$d"
    if ((i % 2)); then sig=speech kbps=16000; else sig=music kbps=32000; fi
    "$B/tests/mkopus" --seconds 2 --seed "$i" --signal "$sig" --bitrate "$kbps" "$d/c$i.opus" > /dev/null
  done
  touch "$O/clips$CLIPS/.done"
fi

printf '| %-6s | %5s | %9s | %9s | %10s | %8s | %7s | %8s | %8s | %8s | %9s | %8s | %7s | %7s | %7s | %9s |\n' corpus files \
  "payload MB" "Ogg MB" "archive MB" overhead "vs Ogg" "packets %" "index %" "snap %" "fixed kB" "index x" \
  "vs bare" "range" "floor" "exact"
printf '|%s|\n' "--------|-------|-----------|-----------|------------|----------|---------|----------|----------|----------|-----------|----------|---------|---------|---------|-----------"
run() { # run NAME DIR SECONDS
  local name=$1 dir=$2 secs=$3 a=$O/$1.h5 one=$O/one.h5
  mapfile -t files < <(find "$dir" -name '*.opus' | sort)
  local ogg bare audio t0 t1
  ogg=$(cat "${files[@]}" | wc -c)
  read -r _ audio _ bare < <("$B/bench/bare_decode" "${files[@]}")
  rm -f "$a" "$one"
  t0=$(date +%s.%N)
  "$B/opusarc" index -q -o "$a" "$dir" > /dev/null
  t1=$(date +%s.%N)
  "$B/opusarc" info --json --summary "$a" > "$O/info.json"
  local smallest
  smallest=$(ls -S "${files[@]}" | tail -1)
  "$B/opusarc" index -q -o "$one" "$smallest" > /dev/null
  local fixed
  fixed=$(( $(stat -c %s "$one") - $("$B/opusarc" info --json --summary "$one" | jq .payload_bytes) ))
  local out ours of oe fl
  out=$("$B/bench/seek_bench" "$a" "$dir" "$QUERIES" 7 "$secs")
  ours=$(echo "$out" | awk '/^opusarc/ {print $3}')
  of=$(echo "$out" | awk '/^opusfile/ {print $3}')
  oe=$(echo "$out" | awk '/^opusarc/ {print $NF}')
  fl=$(echo "$out" | awk '/^floor/ {print $3}')
  jq -r --argjson ogg "$ogg" --argjson fixed "$fixed" --arg name "$name" --arg n "${#files[@]}" \
    --arg speed "$(awk -v a="$audio" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.0f", a/(t1-t0)}')" \
    --arg bare "$bare" --arg ours "$ours" --arg of "$of" --arg oe "$oe" --arg fl "$fl" '
    def r(x; n): (x * pow(10; n) | round) / pow(10; n);
    "| \($name) | \($n) | \(r(.payload_bytes / 1e6; 3)) | \(r($ogg / 1e6; 3)) | \(r(.file_bytes / 1e6; 3)) | " +
    "\(r(.overhead_percent; 2))% | \(r(.file_bytes / $ogg; 3)) | " +
    "\(r((.stored_data_bytes - .payload_bytes) / .payload_bytes * 100; 2)) | " +
    "\(r(.stored_index_bytes / .payload_bytes * 100; 2)) | \(r(.snapshot_bytes / .payload_bytes * 100; 2)) | " +
    "\(r($fixed / 1000; 1)) | \($speed) | \(r(($speed | tonumber) / ($bare | tonumber); 2)) | " +
    "\(r(($ours | tonumber) / ($of | tonumber); 2)) | \(r(($fl | tonumber) / ($of | tonumber); 2)) | \($oe) |"' "$O/info.json"
}
CORPORA=" ${CORPORA:-bench silk short clips} "
[[ $CORPORA != *" bench "* ]] || run bench "$BENCH" 3
[[ $CORPORA != *" silk "* ]] || run silk "$O/silk" 3
[[ $CORPORA != *" short "* ]] || run short "$O/short" 3
[[ $CORPORA != *" clips "* ]] || run clips "$O/clips$CLIPS" 1.5
echo
echo "overhead = (archive bytes - payload) / payload; vs Ogg = archive / Ogg files; packets = packet bytes"
echo "and heads as stored minus the payload (negative: the heads column costs less than the TOC bytes it"
echo "takes out of the data), index = index rows (recordings, links, intervals, strings), snap = snapshots"
echo "and patches (checkpoint kinds 2 and 3),"
echo "each over the payload; fixed = a one-file archive's bytes beyond its payload; index x = audio seconds per"
echo "second of indexing (1 rank); vs bare = that / a bare libopus decode's; range = opusarc's median"
echo "ms per range / opusfile's (seek + read, same process); floor = decoding the range's own samples"
echo "(opusfile reading on from just before it, no seek) / opusfile's seek + read: no method of starting"
echo "a range goes below it on one core; exact = ranges equal to opusfile's linear decode"
