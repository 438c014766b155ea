#!/usr/bin/env bash
# Other audio (issue 15): MP3, Ogg Vorbis and AAC (lossy) and ALAC and
# WavPack (lossless), decoded by libavcodec and encoded with libopus like
# PCM. Lossy sources fail, named, without --import-lossy; with it every file
# is indexed at its source rate (libavcodec's trimming of encoder delay and
# padding applied: the length equals FFmpeg's decode), extraction equals a
# straight decode of the stored packets (pktdecode), and extraction at the
# source rate is the source's audio (correlation with FFmpeg's decode).
source "$(dirname "$0")/common.sh"
: "${PKTDECODE:?}"
command -v ffmpeg > /dev/null || fail "ffmpeg is needed (scripts/install-deps.sh installs it)"
PY=/usr/bin/python3
C=$WORK/c
mkdir -p "$C"
ff() { ffmpeg -nostdin -v error -y "$@"; }
tone() { echo "sine=frequency=$1:duration=$2:sample_rate=$3"; }
ff -f lavfi -i "$(tone 440 4 44100)" -f lavfi -i "$(tone 660 4 44100)" -filter_complex amerge -c:a libmp3lame -b:a 160k "$C/song.mp3"
ff -f lavfi -i "$(tone 700 3 22050)" -c:a libvorbis -q:a 5 "$C/bird.ogg"
ff -f lavfi -i "$(tone 500 2.5 32000)" -c:a aac -b:a 96k "$C/voice.m4a"
ff -f lavfi -i "$(tone 523 2 48000)" -c:a alac "$C/lossless.m4a"
ff -f lavfi -i "$(tone 300 3 16000)" -c:a wavpack "$C/field.wv"
declare -A RATE=([song.mp3]=44100 [bird.ogg]=22050 [voice.m4a]=32000 [lossless.m4a]=48000 [field.wv]=16000)

expect 3 "indexed 2, failed 3" "$OPUSARC" index -o "$WORK/strict.h5" "$C"
for f in song.mp3:mp3 bird.ogg:vorbis voice.m4a:aac; do
  grep -q "${f%%:*}: not indexed: ${f#*:} audio is lossy: encoding it to Opus loses quality a second time (index --import-lossy imports it anyway)" \
    "$WORK/log.txt" || fail "${f%%:*}: no lossy refusal"
done
# The archive keeps the reason without the command line's advice.
"$OPUSARC" info --json "$WORK/strict.h5" | jq -r '.recordings[] | select(.name == "song.mp3") | .error' > "$WORK/why.txt"
grep -qx "mp3 audio is lossy: encoding it to Opus loses quality a second time" "$WORK/why.txt" ||
  { cat "$WORK/why.txt"; fail "the stored reason of song.mp3"; }

mpi 2 "$OPUSARC" index -q --import-lossy -o "$WORK/a.h5" "$C" || fail "index --import-lossy"
"$OPUSARC" info --json "$WORK/a.h5" > "$WORK/info.json"
row=0
jq -c '.recordings[]' "$WORK/info.json" > "$WORK/rows.txt"
while read -r line; do
  name=$(jq -r .name <<< "$line")
  rate=${RATE[$name]}
  ff -i "$C/$name" -f f32le -c:a pcm_f32le "$WORK/src.f32"
  ch=$(jq .channels <<< "$line")
  frames=$(($(stat -c %s "$WORK/src.f32") / (4 * ch)))
  [ "$(jq .status <<< "$line")" = '"ok"' ] && [ "$(jq .source_rate <<< "$line")" = "$rate" ] &&
    [ "$(jq .source_frames <<< "$line")" = "$frames" ] ||
    fail "$name: not ok at $rate Hz with $frames frames: $line"
  jq -r .tags <<< "$line" | grep -q "^codec=" || fail "$name: codec not in the tags"
  n=$(jq .samples <<< "$line")
  "$OPUSARC" extract -q "$WORK/a.h5" --recording "$name" --start 0 --end "$n" --rate native --format f32 -o "$WORK/x.f32" --force
  "$PKTDECODE" "$WORK/a.h5" "$row" "$WORK/ref.f32" || fail "pktdecode $name"
  cmp -s "$WORK/x.f32" "$WORK/ref.f32" || fail "$name: extraction differs from the straight decode of its packets"
  "$OPUSARC" extract -q "$WORK/a.h5" --recording "$name" --start 0 --end "$n" --rate "$rate" --format f32 -o "$WORK/y.f32" --force
  "$PY" - "$WORK/y.f32" "$WORK/src.f32" "$ch" "$name" <<'PYEOF'
import sys
import numpy as np
y = np.fromfile(sys.argv[1], dtype="<f4")
s = np.fromfile(sys.argv[2], dtype="<f4")
if len(y) != len(s):
    sys.exit("%s: %d samples at the source rate, the source has %d" % (sys.argv[4], len(y), len(s)))
c = np.corrcoef(y, s)[0, 1]
if c < 0.99:
    sys.exit("%s: correlation with the source %.4f" % (sys.argv[4], c))
PYEOF
  row=$((row + 1))
done < "$WORK/rows.txt"
[ "$row" = 5 ] || fail "5 recordings expected, saw $row"
"$OPUSARC" verify -q "$WORK/a.h5" || fail "verify"
echo "import: all checks passed"
