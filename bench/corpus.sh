#!/usr/bin/env bash
# Builds (once) the real-audio benchmark corpus from Debian packages and
# prints its directory: Wesnoth's 41 music tracks (Vorbis -> opusenc 64 kbit/s
# stereo) and Asterisk's 568 English prompts joined into 12 sessions (opusenc
# 16 kbit/s mono). Installs the packages when missing (needs root).
set -euo pipefail
BENCH_DIR=${BENCH_DIR:-/tmp/opusarc-bench}
MUSIC=/usr/share/games/wesnoth/1.16/data/core/music
SPEECH=/usr/share/asterisk/sounds/en
need=()
[ -d "$MUSIC" ] || need+=(wesnoth-1.16-music)
[ -d "$SPEECH" ] || need+=(asterisk-core-sounds-en-wav)
command -v opusenc > /dev/null || need+=(opus-tools)
command -v oggdec > /dev/null || need+=(vorbis-tools)
command -v sox > /dev/null || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > /dev/null
fi

C=$BENCH_DIR/corpus
if [ ! -f "$C/.done" ]; then
  echo "building the real-audio corpus in $C (once) ..." >&2
  rm -rf "$C" && mkdir -p "$C/music" "$C/speech" "$BENCH_DIR/tmp"
  for f in "$MUSIC"/*.ogg; do
    n=$(basename "$f" .ogg)
    oggdec -Q -o "$BENCH_DIR/tmp/$n.wav" "$f"
    opusenc --quiet --bitrate 64 "$BENCH_DIR/tmp/$n.wav" "$C/music/$n.opus"
    rm -f "$BENCH_DIR/tmp/$n.wav"
  done
  # Asterisk prompts joined into 12 long mono recordings, as a speech archive.
  mapfile -t prompts < <(find -L "$SPEECH" -name '*.wav' | sort)
  [ ${#prompts[@]} -gt 0 ] || { echo "no speech prompts under $SPEECH" >&2; exit 1; }
  per=$(((${#prompts[@]} + 11) / 12))
  for i in $(seq 0 11); do
    part=("${prompts[@]:$((i * per)):$per}")
    [ ${#part[@]} -gt 0 ] || continue
    sox "${part[@]}" "$BENCH_DIR/tmp/speech$i.wav"
    opusenc --quiet --bitrate 16 "$BENCH_DIR/tmp/speech$i.wav" "$C/speech/session$i.opus"
    rm -f "$BENCH_DIR/tmp/speech$i.wav"
  done
  touch "$C/.done"
fi
echo "$C"
