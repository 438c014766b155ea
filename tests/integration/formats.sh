#!/usr/bin/env bash
# Output formats (issue 14, first part): wav16, wav24, flac, flac24 hold the
# exact decode rounded to nearest and clipped, checked sample by sample by an
# independent conversion (tests/tools/pcmcheck, reading with libsndfile),
# with the right header (rate, channels, bits); clipped samples are counted
# and the count said; a time-expanded recording's file says its source rate;
# sweeps (2 ranks) and joined queries write the same files.
source "$(dirname "$0")/common.sh"
: "${MKPCM:?}" "${PCMCHECK:?}" "${CHANMIX:?}"
C=$WORK/c
mkdir -p "$C"
# +15 dB of header gain: the decode goes past full scale, so integer formats clip.
"$MKOPUS" --channels 2 --seconds 6 --seed 3 --gain 3840 "$C/loud.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 6 --seed 4 "$C/quiet.opus" > /dev/null
"$MKPCM" "$C/bat.wav" 384000 1 1 --seed 2
"$OPUSARC" index -q -o "$WORK/a.h5" --high-rate time-expand "$C"

ref() { "$OPUSARC" extract -q "$WORK/a.h5" --recording "$1" --start "$2" --end "$3" --units seconds --format f32 --force -o "$4"; }
ref loud.opus 1 4 "$WORK/loud.f32"
for spec in wav16:wav:16 wav24:wav:24 flac:flac:16 flac24:flac:24; do
  IFS=: read -r fmt ext bits <<< "$spec"
  "$OPUSARC" extract "$WORK/a.h5" --recording loud.opus --start 1 --end 4 --units seconds --format "$fmt" \
    -o "$WORK/loud.$fmt.$ext" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; fail "extract $fmt"; }
  n=$("$PCMCHECK" "$WORK/loud.f32" "$WORK/loud.$fmt.$ext" 2 "$bits" 48000 | sed 's/clipped //') || fail "$fmt differs"
  [ "$n" -gt 0 ] || fail "$fmt: the loud file should clip (the test needs it)"
  grep -q "$n samples clipped to the $bits-bit range" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "$fmt: clip count $n not said"; }
done
# A file that does not clip says nothing of clipping.
ref quiet.opus 0 5.5 "$WORK/quiet.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording quiet.opus --start 0 --end 287688 --format f32 -o "$WORK/quiet.full.f32"
"$OPUSARC" extract "$WORK/a.h5" --recording quiet.opus --start 0 --end 5.5 --units seconds --format flac -o "$WORK/q.flac" \
  > "$WORK/out.txt" 2>&1
[ "$("$PCMCHECK" "$WORK/quiet.f32" "$WORK/q.flac" 1 16 48000)" = "clipped 0" ] || fail "quiet flac"
if grep -q clipped "$WORK/out.txt"; then fail "clipping said where there was none"; fi
# s16 counts its clipping too.
expect 0 "samples clipped to the 16-bit range" "$OPUSARC" extract "$WORK/a.h5" --recording loud.opus --start 1 \
  --end 4 --units seconds --format s16 -o "$WORK/loud.s16"

# The time-expanded bat file: its WAV says 384000 Hz, real time as in its source.
ref bat.wav 0.25 0.75 "$WORK/bat.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bat.wav --start 0.25 --end 0.75 --units seconds --format wav24 \
  -o "$WORK/bat.wav"
"$PCMCHECK" "$WORK/bat.f32" "$WORK/bat.wav" 1 24 384000 > /dev/null || fail "time-expanded WAV header or samples"

# A sweep at 2 ranks writes the same flac files as single extractions.
printf 'id,recording,start,end\nl1,loud.opus,1,4\nq1,quiet.opus,0,5.5\nl2,loud.opus,0.5,5.5\n' > "$WORK/q.csv"
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --units seconds --format flac --out-dir "$WORK/o" \
  > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; fail "flac sweep"; }
"$PCMCHECK" "$WORK/loud.f32" "$WORK/o/l1.flac" 2 16 48000 > /dev/null || fail "sweep l1"
"$PCMCHECK" "$WORK/quiet.f32" "$WORK/o/q1.flac" 1 16 48000 > /dev/null || fail "sweep q1"
ref loud.opus 0.5 5.5 "$WORK/l2.f32"
n1=$("$PCMCHECK" "$WORK/loud.f32" "$WORK/o/l1.flac" 2 16 48000 | sed 's/clipped //')
n2=$("$PCMCHECK" "$WORK/l2.f32" "$WORK/o/l2.flac" 2 16 48000 | sed 's/clipped //') || fail "sweep l2"
grep -q "$((n1 + n2)) samples clipped to the 16-bit range" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "sweep clip count"; }
# --hop defaults to the window length: the same windows as --hop LEN.
"$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --units seconds --match 'quiet.opus' --format f32 --out-dir "$WORK/w1"
"$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --hop 1 --units seconds --match 'quiet.opus' --format f32 --out-dir "$WORK/w2"
[ "$(ls "$WORK/w1" | wc -l)" = 5 ] && diff -r "$WORK/w1" "$WORK/w2" > /dev/null || fail "--hop default"
# --tail: quiet.opus is 287688 samples; 2 s windows leave 95688 after two.
"$OPUSARC" extract -q "$WORK/a.h5" --recording quiet.opus --start 192000 --end 287688 --format f32 -o "$WORK/tail.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --windows 2 --units seconds --tail keep --match quiet.opus --format f32 --out-dir "$WORK/tk"
"$OPUSARC" extract "$WORK/a.h5" --windows 2 --units seconds --tail pad --match quiet.opus --format f32 --out-dir "$WORK/tp" \
  > "$WORK/out.txt" 2>&1
grep -q "1 last windows padded with zeros" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "padding not said"; }
[ "$(ls "$WORK/tk" | wc -l)" = 3 ] && [ "$(ls "$WORK/tp" | wc -l)" = 3 ] || fail "--tail keep/pad: 3 windows"
cmp -s "$WORK/tk/quiet.opus_192000.f32" "$WORK/tail.f32" || fail "--tail keep"
cat "$WORK/tail.f32" <(head -c $((312 * 4)) /dev/zero) | cmp -s - "$WORK/tp/quiet.opus_192000.f32" || fail "--tail pad"
cmp -s "$WORK/tk/quiet.opus_0.f32" "$WORK/tp/quiet.opus_0.f32" || fail "whole windows differ between keep and pad"
# A recording shorter than a window: none (drop, an error), one padded, one kept.
expect 1 "tail pad or keep makes one window" "$OPUSARC" extract "$WORK/a.h5" --windows 10 --units seconds \
  --match quiet.opus --format f32 --out-dir "$WORK/td"
"$OPUSARC" extract -q "$WORK/a.h5" --windows 10 --units seconds --tail pad --match quiet.opus --out "$WORK/tp.h5"
h5dump -d /clips -b LE -o "$WORK/tp.bin" "$WORK/tp.h5" > /dev/null
cat "$WORK/quiet.full.f32" <(head -c $(((480000 - 287688) * 4)) /dev/zero) | cmp -s - "$WORK/tp.bin" || fail "short recording padded"

# --clamp: a range past the end is cut to the recording and said; without
# it the error speaks seconds when seconds were given.
expect 1 'range 5.000000-10.000000 s is outside recording "quiet.opus", which lasts 5.993500 s' "$OPUSARC" extract \
  "$WORK/a.h5" --recording quiet.opus --start 5 --end 10 --units seconds --format f32 -o "$WORK/cl.f32"
expect 0 "the range was cut to the recording (--clamp): 5.000000-5.993500 s" "$OPUSARC" extract "$WORK/a.h5" \
  --recording quiet.opus --start 5 --end 10 --units seconds --clamp --format f32 -o "$WORK/cl.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording quiet.opus --start 240000 --end 287688 --format f32 -o "$WORK/cl.ref"
cmp -s "$WORK/cl.f32" "$WORK/cl.ref" || fail "--clamp at the end"
printf 'id,recording,start,end\nc1,quiet.opus,-1,2\nc2,quiet.opus,7,9\n' > "$WORK/c.csv"
set +e
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/c.csv" --units seconds --clamp --format f32 --out-dir "$WORK/oc2" \
  > "$WORK/out.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "1 ranges cut to their recording" "$WORK/out.txt" &&
  grep -q 'c.csv:3: range 7.000000-9.000000 s is outside recording "quiet.opus", which lasts 5.993500 s (entirely' \
  "$WORK/out.txt" ||
  { cat "$WORK/out.txt"; fail "--clamp in a CSV"; }
"$OPUSARC" extract -q "$WORK/a.h5" --recording quiet.opus --start 0 --end 2 --units seconds --format f32 -o "$WORK/c1.ref"
cmp -s "$WORK/oc2/c1.f32" "$WORK/c1.ref" || fail "--clamp at the start"

# --mono and --channels: the decode transformed, against chanmix (written apart).
"$CHANMIX" "$WORK/loud.f32" 2 mono "$WORK/loud.mono.f32"
"$CHANMIX" "$WORK/loud.f32" 2 2,1,2 "$WORK/loud.212.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording loud.opus --start 1 --end 4 --units seconds --mono --format f32 -o "$WORK/m.f32"
cmp -s "$WORK/m.f32" "$WORK/loud.mono.f32" || fail "--mono"
"$OPUSARC" extract -q "$WORK/a.h5" --recording loud.opus --start 1 --end 4 --units seconds --channels 2,1,2 --format f32 \
  -o "$WORK/c.f32"
cmp -s "$WORK/c.f32" "$WORK/loud.212.f32" || fail "--channels 2,1,2"
# In sweeps (3 ranks, pieces of 1 s, and the clips file), and as 16-bit WAV.
mpi 3 "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --units seconds --mono --piece 1 --format f32 \
  --out-dir "$WORK/om"
cmp -s "$WORK/om/l1.f32" "$WORK/loud.mono.f32" || fail "--mono in a sweep"
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --units seconds --mono --out "$WORK/m.h5"
h5dump -d /clips -b LE -o "$WORK/mclips.bin" "$WORK/m.h5" > /dev/null
head -c "$(stat -c %s "$WORK/loud.mono.f32")" "$WORK/mclips.bin" | cmp -s - "$WORK/loud.mono.f32" || fail "--mono clips"
"$OPUSARC" extract -q "$WORK/a.h5" --recording loud.opus --start 1 --end 4 --units seconds --mono --format wav16 -o "$WORK/m.wav"
"$PCMCHECK" "$WORK/loud.mono.f32" "$WORK/m.wav" 1 16 48000 > /dev/null || fail "--mono wav16"
# A channel the recording lacks: that query fails, the others are written.
set +e
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --units seconds --channels 2 --format f32 --out-dir "$WORK/oc" \
  > "$WORK/out.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$WORK/out.txt"; fail "missing channel: exit $rc"; }
grep -q -- 'q.csv:3: the channel selection names a channel that recording "quiet.opus" (1 channel) does not have' \
  "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "missing channel not named"; }
[ -e "$WORK/oc/l1.f32" ] && [ ! -e "$WORK/oc/q1.f32" ] || fail "missing channel: the other queries"
echo "formats: all checks passed"
