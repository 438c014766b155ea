#!/usr/bin/env bash
# PCM import (one run): `opusarc index` on WAV corpora beside opusenc (opus-tools) encoding
# the same files at the same bitrate, complexity and frame size, one file after another on one
# core; size against the WAV input; exactness of extracted ranges against a straight decode of
# the stored packets (tests/tools/pktdecode).
#   music: Wesnoth tracks as 44.1 kHz stereo WAV (resampled by opusarc), 64 kbit/s
#   speech: Asterisk prompts joined into 12 8 kHz mono WAV sessions (native rate), 16 kbit/s
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
B=${BUILD_DIR:-build}
TRACKS=${TRACKS:-12}
BUILD_TYPE=Release scripts/build.sh > /dev/null
bench/corpus.sh > /dev/null # installs the audio packages and tools
P=$BENCH_DIR/pcm
if [ ! -f "$P/.done" ]; then
  rm -rf "$P" && mkdir -p "$P/music" "$P/speech"
  for f in $(ls /usr/share/games/wesnoth/1.16/data/core/music/*.ogg | head -n "$TRACKS"); do
    oggdec -Q -o "$P/music/$(basename "$f" .ogg).wav" "$f"
  done
  mapfile -t prompts < <(find -L /usr/share/asterisk/sounds/en -name '*.wav' | sort)
  per=$(((${#prompts[@]} + 11) / 12))
  for i in $(seq 0 11); do
    part=("${prompts[@]:$((i * per)):$per}")
    [ ${#part[@]} -gt 0 ] && sox "${part[@]}" "$P/speech/session$i.wav"
  done
  touch "$P/.done"
fi
now() { date +%s.%N; }
audio_of() { soxi -D "$1"/*.wav | awk '{s+=$1} END{print s}'; }
echo "corpus: $(ls "$P/music" | wc -l) music WAVs 44.1 kHz stereo ($(du -sh "$P/music" | cut -f1)), $(ls "$P/speech" | wc -l) speech WAVs 8 kHz mono ($(du -sh "$P/speech" | cut -f1))"
printf '\n| %-8s | %-38s | %11s | %8s | %10s |\n' corpus measure "x real time" "vs opusenc" "size/WAV"
printf '|%s|\n' "----------|----------------------------------------|-------------|----------|------------"
for kind in music speech; do
  rate=$([ $kind = music ] && echo 32 || echo 16)
  total=$([ $kind = music ] && echo 64 || echo 16)
  audio=$(audio_of "$P/$kind")
  wav=$(du -sb "$P/$kind" | cut -f1)
  rm -rf "$BENCH_DIR/oe" && mkdir -p "$BENCH_DIR/oe"
  t0=$(now)
  for f in "$P/$kind"/*.wav; do opusenc --quiet --bitrate "$total" --comp 10 --framesize 20 "$f" "$BENCH_DIR/oe/$(basename "$f" .wav).opus"; done
  t1=$(now)
  oe=$(awk -v a="$audio" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.1f", a/(t1-t0)}')
  oesize=$(du -sb "$BENCH_DIR/oe" | cut -f1)
  printf '| %-8s | %-38s | %11s | %8s | %10.4f |\n' $kind "opusenc $total kbit/s, 1 core" "$oe" 1.00 "$(awk -v a="$oesize" -v b="$wav" 'BEGIN{print a/b}')"
  for np in 1 2; do
    rm -f "$BENCH_DIR/imp.h5"
    t0=$(now)
    mpirun -np $np "$B/opusarc" index -q -o "$BENCH_DIR/imp.h5" --bitrate $rate "$P/$kind" > /dev/null
    t1=$(now)
    v=$(awk -v a="$audio" -v t0="$t0" -v t1="$t1" -v np=$np 'BEGIN{printf "%.1f", a/(t1-t0)/np}')
    size=$(stat -c %s "$BENCH_DIR/imp.h5")
    printf '| %-8s | %-38s | %11s | %8.2f | %10.4f |\n' $kind "opusarc index -np $np (per rank, wall)" "$v" \
      "$(awk -v a="$v" -v b="$oe" 'BEGIN{print a/b}')" "$(awk -v a="$size" -v b="$wav" 'BEGIN{print a/b}')"
  done
  # Exactness of ranges against a straight decode of the stored packets.
  "$B/tests/mkqueries" "$BENCH_DIR/imp.h5" 20 3 > "$BENCH_DIR/iq.csv"
  rm -rf "$BENCH_DIR/iout"
  "$B/opusarc" extract "$BENCH_DIR/imp.h5" --queries "$BENCH_DIR/iq.csv" --out-dir "$BENCH_DIR/iout" --format f32 -q
  "$B/opusarc" info --json "$BENCH_DIR/imp.h5" | tr '{' '\n' | grep '"name"' > "$BENCH_DIR/irows.txt"
  ok=0 bad=0 row=0
  while read -r line; do
    name=$(echo "$line" | sed 's/.*"name": "\([^"]*\)".*/\1/')
    ch=$(echo "$line" | grep -o '"channels": [0-9]*' | grep -o '[0-9]*$')
    "$B/tests/pktdecode" "$BENCH_DIR/imp.h5" "$row" "$BENCH_DIR/iref.f32"
    while IFS=, read -r id rec start end; do
      [ "$rec" = "$name" ] || continue
      if cmp -s <(tail -c +$((start * ch * 4 + 1)) "$BENCH_DIR/iref.f32" | head -c $(((end - start) * ch * 4))) \
        "$BENCH_DIR/iout/$id.f32"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    done < <(tail -n +2 "$BENCH_DIR/iq.csv")
    row=$((row + 1))
  done < "$BENCH_DIR/irows.txt"
  echo "  $kind: $ok ranges equal the straight decode of the stored packets, $bad differ"
done
