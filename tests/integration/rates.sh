#!/usr/bin/env bash
# Output rates (issue 14): --rate HZ resamples the exact decode with libsoxr
# (very high quality, one thread). Proven against an independent path: the
# recording decoded straight through by opusfile (tests/tools/opusref),
# mixed to mono apart (chanmix) and resampled in one call of libsoxr at the
# documented settings (soxrcheck): equal bit for bit. The same samples come
# from single extractions and from sweeps at 1, 2 and 3 ranks with long
# queries cut into 1 s pieces, into files and into clips files; sox's own
# `rate -v` agrees (correlation). Time-expanded recordings come back at
# their source rate by default, at any --rate, and as stored with --rate
# native; flac and wav16 at a new rate have headers sox reads right.
source "$(dirname "$0")/common.sh"
: "${MKPCM:?}" "${CHANMIX:?}" "${OPUSREF:?}" "${SOXRCHECK:?}" "${CLIPGET:?}"
command -v sox > /dev/null || fail "sox is needed (scripts/install-deps.sh installs it)"
C=$WORK/c
mkdir -p "$C"
"$MKOPUS" --channels 2 --seconds 12 --seed 5 "$C/long.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 3 --seed 6 "$C/short.opus" > /dev/null
"$MKPCM" "$C/bat.wav" 384000 1 1 --seed 2
"$OPUSARC" index -q -o "$WORK/a.h5" --high-rate time-expand "$C"

# The independent 16 kHz mono reference of long.opus [24000, 500000).
"$OPUSREF" "$C/long.opus" 24000 500000 "$WORK/ref.f32" > /dev/null
"$CHANMIX" "$WORK/ref.f32" 2 mono "$WORK/ref.mono.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording long.opus --start 24000 --end 500000 --rate 16000 --mono \
  --format f32 -o "$WORK/one.f32"
"$SOXRCHECK" "$WORK/ref.mono.f32" "$WORK/one.f32" 1 48000 16000 > /dev/null || fail "--rate 16000 --mono (f32)"
"$OPUSARC" extract -q "$WORK/a.h5" --recording long.opus --start 24000 --end 500000 --rate 16000 --mono \
  --format wav -o "$WORK/one.wav"
"$SOXRCHECK" "$WORK/ref.mono.f32" "$WORK/one.wav" 1 48000 16000 > /dev/null || fail "--rate 16000 --mono (wav)"
# Stereo at 44.1 kHz, a ratio that is not a whole number.
"$OPUSARC" extract -q "$WORK/a.h5" --recording long.opus --start 24000 --end 500000 --rate 44100 --format f32 \
  -o "$WORK/st.f32"
"$SOXRCHECK" "$WORK/ref.f32" "$WORK/st.f32" 2 48000 44100 > /dev/null || fail "--rate 44100 stereo"

# sox's rate -v from the same reference agrees.
sox -t raw -r 48000 -c 1 -e floating-point -b 32 "$WORK/ref.mono.f32" -t raw -r 16000 -e floating-point -b 32 \
  "$WORK/sox.f32" rate -v
"$SOXRCHECK" --corr "$WORK/sox.f32" "$WORK/one.f32" 0.9999 > /dev/null || fail "sox rate -v disagrees"

# Sweeps: the same samples at 1, 2, 3 ranks with 1 s pieces (the long
# query is decoded in pieces by several ranks and resampled in one go).
printf 'id,recording,start,end\nlong,long.opus,24000,500000\nshort,short.opus,48000,72000\nbat,bat.wav,0,192000\n' \
  > "$WORK/q.csv"
"$OPUSARC" extract -q "$WORK/a.h5" --recording short.opus --start 48000 --end 72000 --rate 16000 --mono \
  --format f32 -o "$WORK/short.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 192000 --rate 16000 --format f32 -o "$WORK/bat.f32"
for np in 1 2 3; do
  mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --rate 16000 --mono --piece 1 --format f32 \
    --out-dir "$WORK/o$np"
  mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --rate 16000 --mono --piece 1 \
    --out "$WORK/h$np.h5"
  for id in long short bat; do
    ref=$WORK/one.f32
    [ "$id" = long ] || ref=$WORK/$id.f32
    cmp -s "$WORK/o$np/$id.f32" "$ref" || fail "$np ranks: $id.f32 differs from the single extraction"
    info=$("$CLIPGET" "$WORK/h$np.h5" "$id" "$WORK/clip.f32")
    cmp -s "$WORK/clip.f32" "$ref" || fail "$np ranks: clip $id differs from the single extraction"
    case "$info" in "rate 16000 channels 1 "*) ;; *) fail "clip $id: $info";; esac
  done
  ls "$WORK" | grep -q partial && fail "$np ranks: a temporary file was left"
  h5dump -a /sample_rate "$WORK/h$np.h5" | grep -q "(0): 16000" || fail "/sample_rate of the clips file"
  h5dump -a /format_version "$WORK/h$np.h5" | grep -q "(0): 2" || fail "/format_version of the clips file"
done
ls "$WORK/o3" | grep -q partial && fail "a temporary file was left in the output directory"

# Windows at 16 kHz: each 1 s window is 16000 frames, resampled on its own.
"$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --units seconds --match long.opus --rate 16000 --mono --out "$WORK/w.h5"
"$OPUSREF" "$C/long.opus" 96000 144000 "$WORK/w2.f32" > /dev/null
"$CHANMIX" "$WORK/w2.f32" 2 mono "$WORK/w2.mono.f32"
"$CLIPGET" "$WORK/w.h5" long.opus_96000 "$WORK/clip.f32" | grep -q "frames 16000 " || fail "window length at 16 kHz"
"$SOXRCHECK" "$WORK/w2.mono.f32" "$WORK/clip.f32" 1 48000 16000 > /dev/null || fail "window at 16 kHz"

# --shape fixed: /clips as [n, frames] (mono) or [n, frames, channels],
# chunked by row; each row equals the same window in a flat clips file.
mpi 3 "$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --units seconds --tail pad --rate 16000 --mono --shape fixed \
  --out "$WORK/fixed.h5"
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --units seconds --tail pad --rate 16000 --mono --out "$WORK/flat.h5"
h5dump -p -H "$WORK/fixed.h5" > "$WORK/fixed.txt"
grep -q "DATASPACE  SIMPLE { ( 16, 16000 ) / ( 16, 16000 ) }" "$WORK/fixed.txt" &&
  grep -q "CHUNKED ( 1, 16000 )" "$WORK/fixed.txt" || { cat "$WORK/fixed.txt"; fail "fixed shape: dims or chunks"; }
for id in long.opus_96000 short.opus_96000 bat.wav_0 long.opus_528000; do
  "$CLIPGET" "$WORK/fixed.h5" "$id" "$WORK/row.f32" | grep -q "frames 16000 rank 2" || fail "fixed row $id"
  "$CLIPGET" "$WORK/flat.h5" "$id" "$WORK/flatclip.f32" > /dev/null
  cmp -s "$WORK/row.f32" "$WORK/flatclip.f32" || fail "fixed row $id differs from the flat clip"
done
"$CLIPGET" "$WORK/fixed.h5" long.opus_96000 "$WORK/row.f32" > /dev/null
cmp -s "$WORK/row.f32" "$WORK/clip.f32" || fail "fixed row differs from the window written alone"
"$OPUSARC" extract -q "$WORK/a.h5" --windows 0.5 --units seconds --match long.opus --shape fixed --out "$WORK/f3.h5"
h5dump -H "$WORK/f3.h5" | grep -q "DATASPACE  SIMPLE { ( 23, 24000, 2 ) / ( 23, 24000, 2 ) }" || fail "fixed 3-D"
expect 1 "fixed-shape clips need one length and channel count: " "$OPUSARC" extract "$WORK/a.h5" --windows 1 \
  --units seconds --tail keep --shape fixed --out "$WORK/bad.h5"
[ ! -e "$WORK/bad.h5" ] || fail "a refused fixed shape wrote a file"
expect 2 "--shape fixed goes with --out CLIPS.h5" "$OPUSARC" extract "$WORK/a.h5" --windows 1 --shape fixed \
  --format f32 --out-dir "$WORK/bad"

# Time-expanded: the time base by default (384 kHz), any rate, or native.
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 192000 --format f32 -o "$WORK/bat.stored.f32"
"$SOXRCHECK" "$WORK/bat.stored.f32" "$WORK/bat.f32" 1 384000 16000 > /dev/null || fail "time-expanded to 16 kHz"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 0.5 --units seconds --rate 96000 --format wav \
  -o "$WORK/bat96.wav"
"$SOXRCHECK" "$WORK/bat.stored.f32" "$WORK/bat96.wav" 1 384000 96000 > /dev/null || fail "time-expanded to 96 kHz"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 0.5 --units seconds --format wav \
  -o "$WORK/bat384.wav"
[ "$(sox --i -r "$WORK/bat384.wav")" = 384000 ] || fail "time-expanded default rate"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 0.5 --units seconds --rate native --format wav \
  -o "$WORK/batn.wav"
[ "$(sox --i -r "$WORK/batn.wav")" = 48000 ] && [ "$(sox --i -s "$WORK/batn.wav")" = 192000 ] ||
  fail "--rate native: the stored samples at 48 kHz"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0 --end 0.5 --units seconds --rate native --format f32 \
  -o "$WORK/batn.f32"
cmp -s "$WORK/batn.f32" "$WORK/bat.stored.f32" || fail "--rate native samples"

# flac, wav16, wav24 at a new rate: headers as sox reads them.
for spec in flac:flac:16 wav16:wav:16 flac24:flac:24 wav24:wav:24; do
  IFS=: read -r fmt ext bits <<< "$spec"
  "$OPUSARC" extract -q "$WORK/a.h5" --recording long.opus --start 24000 --end 500000 --rate 22050 --format "$fmt" \
    -o "$WORK/h.$fmt.$ext"
  want=$(( (476000 * 22050 + 24000) / 48000 ))
  [ "$(sox --i -r "$WORK/h.$fmt.$ext")" = 22050 ] && [ "$(sox --i -c "$WORK/h.$fmt.$ext")" = 2 ] &&
    [ "$(sox --i -b "$WORK/h.$fmt.$ext")" = "$bits" ] && [ "$(sox --i -s "$WORK/h.$fmt.$ext")" = "$want" ] ||
    fail "$fmt header: $(sox --i "$WORK/h.$fmt.$ext")"
done

# Bad rates are refused before anything is read.
expect 2 "--rate needs native or a whole number of Hz from 8000 to 384000, not '7999'" "$OPUSARC" extract \
  "$WORK/a.h5" --recording long.opus --start 0 --end 1000 --rate 7999 --format f32 -o "$WORK/x.f32"
expect 2 "not '16k'" "$OPUSARC" extract "$WORK/a.h5" --recording long.opus --start 0 --end 1000 --rate 16k \
  --format f32 -o "$WORK/x.f32"
[ ! -e "$WORK/x.f32" ] || fail "a refused command wrote its output"
echo "rates: all checks passed"
