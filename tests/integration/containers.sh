#!/usr/bin/env bash
# Opus in WebM, Matroska, MP4 and CAF (issue 15): indexed through
# libavformat with the packets as they are, and exact against FFmpeg's own
# decode with libopus of the same file (`ffmpeg -request_sample_fmt flt
# -c:a libopus -i FILE -f f32le`: without the first option FFmpeg's libopus
# decoder gives 16-bit samples), which applies the container's pre-skip and
# end trimming: whole
# recordings and ranges, 2 ranks, pre-rolls and snapshots. Files made by
# remuxing Ogg (`-c copy`: WebM/Matroska keep the end trimming as
# DiscardPadding, MP4 states the pre-skip on its first packet, CAF keeps
# neither), by encoding with libopus straight into WebM (as a browser's
# recorder does), a WebM saved as .opus, 5.1 in Matroska (against opusfile
# on the Ogg original: FFmpeg reorders channels); an MP4 holding video only
# fails naming what it holds, one holding AAC only is refused as lossy
# without --import-lossy (integration_import imports such files).
source "$(dirname "$0")/common.sh"
: "${OPUSREF:?}"
command -v ffmpeg > /dev/null || fail "ffmpeg is needed (scripts/install-deps.sh installs it)"
C=$WORK/c && O=$WORK/orig
mkdir -p "$C" "$O"
"$MKOPUS" --channels 2 --seconds 7 --seed 1 --trim 500 "$O/st.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 5 --seed 2 --mode silk --frame-ms 40 "$O/speech.opus" > /dev/null
"$MKOPUS" --channels 6 --family 1 --seconds 4 --seed 3 "$O/surround.opus" > /dev/null
ff() { ffmpeg -nostdin -v error -y "$@"; }
for ext in webm mka mp4 caf; do ff -i "$O/st.opus" -c copy "$C/st.$ext"; done
ff -i "$O/speech.opus" -c copy "$C/speech.mkv"
ff -i "$O/speech.opus" -c copy -f mp4 "$C/speech.m4a"
ff -f lavfi -i "sine=frequency=440:duration=3.3:sample_rate=48000" -c:a libopus -b:a 48k "$C/recorder.webm"
ff -i "$O/st.opus" -c copy -f webm "$C/webm_named.opus"
ff -i "$O/surround.opus" -c copy "$C/surround.mka"
ff -f lavfi -i "sine=frequency=300:duration=1" -c:a aac "$C/aac_only.m4a"
ff -f lavfi -i "testsrc=duration=1:size=64x48:rate=10" -c:v mpeg4 "$C/video_only.mp4"

# The reference of each recording, and its length.
declare -A LEN CH
for f in "$C"/*; do
  name=$(basename "$f")
  case $name in aac_only.m4a | video_only.mp4) continue ;; esac
  if [ "$name" = surround.mka ]; then
    "$OPUSREF" "$O/surround.opus" 0 999999999 "$WORK/$name.ref" > /dev/null 2>&1 || true # reads to the end
    CH[$name]=6
  else
    ff -request_sample_fmt flt -c:a libopus -i "$f" -f f32le "$WORK/$name.ref"
    CH[$name]=$(ffprobe -v error -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$f")
  fi
  LEN[$name]=$(($(stat -c %s "$WORK/$name.ref") / (4 * CH[$name])))
  [ "${LEN[$name]}" -gt 48000 ] || fail "$name: reference of ${LEN[$name]} samples"
done
# What FFmpeg keeps, as the containers state it: these are the figures the
# test is about (a WebM remux keeps the Ogg file's trimming, MP4 its pre-skip
# only, CAF neither).
[ "${LEN[st.webm]}" = $((7 * 48000 - 312 - 500)) ] || fail "st.webm: ${LEN[st.webm]} samples in FFmpeg's decode"
[ "${LEN[st.mp4]}" = $((7 * 48000 - 312)) ] || fail "st.mp4: ${LEN[st.mp4]} samples in FFmpeg's decode"
[ "${LEN[st.caf]}" = $((7 * 48000)) ] || fail "st.caf: ${LEN[st.caf]} samples in FFmpeg's decode"

for kind in preroll snapshot; do
  rm -f "$WORK/a.h5"
  expect 3 "indexed 9, failed 2" mpi 2 "$OPUSARC" index -o "$WORK/a.h5" --checkpoint-every 0.5 --checkpoints "$kind" "$C"
  grep -q "video_only.mp4: not indexed: mov,mp4,m4a,3gp,3g2,mj2 file holds no Opus audio stream: it holds mpeg4 video" \
    "$WORK/log.txt" || fail "the video-only file is not named with what it holds"
  grep -q "aac_only.m4a: not indexed: aac audio is lossy" "$WORK/log.txt" || fail "the AAC file is not refused as lossy"
  "$OPUSARC" info --json "$WORK/a.h5" > "$WORK/info.json"
  printf 'id,recording,start,end\n' > "$WORK/q.csv"
  for name in "${!LEN[@]}"; do
    n=${LEN[$name]}
    grep -F "\"name\": \"$name\"" "$WORK/info.json" | grep -q "\"status\": \"ok\", \"channels\": ${CH[$name]}, \"samples\": $n," ||
      fail "$kind: $name is not ok with ${CH[$name]} channels and $n samples"
    k=0
    for r in "0:$n" "0:1" "$((n - 1)):$n" "$((n / 3)):$((n / 3 + 30000))" "$((n / 2 - 7)):$((n - 100))"; do
      echo "${name//./_}_$((k++)),$name,${r%:*},${r#*:}" >> "$WORK/q.csv"
    done
  done
  rm -rf "$WORK/o"
  mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --format f32 --out-dir "$WORK/o"
  while IFS=, read -r id rec start end; do
    [ "$id" = id ] && continue
    bytes=$((4 * CH[$rec]))
    dd if="$WORK/$rec.ref" of="$WORK/want.f32" bs="$bytes" skip="$start" count=$((end - start)) status=none
    cmp -s "$WORK/o/$id.f32" "$WORK/want.f32" || fail "$kind: $id differs from FFmpeg's decode"
  done < "$WORK/q.csv"
  "$OPUSARC" verify -q "$WORK/a.h5" || fail "$kind: verify"
done
grep -F '"name": "st.webm"' "$WORK/info.json" | grep -q '"tags": "container=matroska,webm' || fail "container not in the tags"
echo "containers: all checks passed"
