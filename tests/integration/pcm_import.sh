#!/usr/bin/env bash
# PCM import: WAV/FLAC/AIFF/W64/RF64 at native, resampled and ultrasonic
# rates become Opus recordings in the same archive; a file above 48 kHz fails
# alone unless --high-rate is given; start times from AudioMoth comments,
# GUANO and bext; extraction equals a separately written straight decode of
# the stored packets; --units seconds follows the source time base.
source "$(dirname "$0")/common.sh"
: "${MKPCM:?}" "${PKTDECODE:?}"
C=$WORK/corpus
mkdir -p "$C"
"$MKPCM" "$C/moth.wav" 16000 1 6 --comment "Recorded at 10:00:00 21/05/2021 (UTC+2) by AudioMoth 1.5.0"
"$MKPCM" "$C/cd.flac" 44100 2 5
"$MKPCM" "$C/full.aiff" 48000 1 4
"$MKPCM" "$C/wide.w64" 24000 2 3
"$MKPCM" "$C/phone.rf64" 8000 1 4
"$MKPCM" "$C/bext.wav" 32000 1 3 --bext 2020-01-02 03:04:05
"$MKPCM" "$C/bat.wav" 384000 1 2 --guano "GUANO|Version: 1.0
Timestamp: 2021-06-01T22:15:00Z
Species Auto ID: Myotis"
"$MKPCM" "$C/surround.wav" 48000 6 3   # libsndfile writes WAVE_FORMAT_EXTENSIBLE for 6 channels
"$MKOPUS" --channels 2 --seconds 4 --seed 3 "$C/native.opus" > /dev/null
# Corrupt and unsupported PCM files fail alone, with the reason.
mkdir -p "$WORK/badpcm"
printf 'RIFF\x10\x00\x00\x00WAVEjunkjunk' > "$WORK/badpcm/garbage.wav"
head -c 30 "$C/moth.wav" > "$WORK/badpcm/cut.wav"
cp "$C/phone.rf64" "$WORK/badpcm/ok.rf64"
set +e
"$OPUSARC" index -o "$WORK/bad.h5" "$WORK/badpcm" > "$WORK/out.txt" 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 3 ] && grep -q "indexed 1, failed 2" "$WORK/out.txt" || { cat "$WORK/out.txt" "$WORK/err.txt"; fail "bad PCM"; }
grep -q "garbage.wav: not indexed: cannot read as PCM audio" "$WORK/err.txt" || fail "garbage reason"
grep -q "cut.wav: not indexed: " "$WORK/err.txt" || fail "cut reason"

set +e
"$OPUSARC" index -o "$WORK/no_hr.h5" "$C" > /dev/null 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 3 ] || fail "index without --high-rate exit $rc"
grep -q "bat.wav: not indexed: sample rate 384000 Hz is above 48 kHz, .* (choose --high-rate resample or --high-rate time-expand)" "$WORK/err.txt" ||
  { cat "$WORK/err.txt"; fail "high-rate message"; }

mpi 2 "$OPUSARC" index -q -o "$WORK/a.h5" --high-rate time-expand --bitrate 48 "$C" || fail "index PCM corpus"
"$OPUSARC" index -q -o "$WORK/r.h5" --high-rate resample "$C/bat.wav" || fail "index with --high-rate resample"
"$OPUSARC" info --json "$WORK/a.h5" | tr '{' '\n' | grep '"name"' > "$WORK/rows.txt"
field() { grep "\"name\": \"$1\"" "$WORK/rows.txt" | grep -o "\"$2\": [^,]*" | sed -n 1p | sed 's/^[^:]*: //; s/"//g'; }
[ "$(field moth.wav start_utc)" = "2021-05-21T08:00:00Z" ] || fail "AudioMoth start time: $(field moth.wav start_utc)"
[ "$(field bat.wav start_utc)" = "2021-06-01T22:15:00Z" ] || fail "GUANO start time"
# bext carries a wall-clock time without a zone: kept as local, its UTC unknown.
[ "$(field bext.wav start_local)" = "2020-01-02T03:04:05" ] && [ "$(field bext.wav start_utc)" = null ] &&
  [ "$(field bext.wav utc_offset)" = null ] || fail "bext start time: $(field bext.wav start_local)"
[ "$(field moth.wav utc_offset)" = "+02:00" ] && [ "$(field moth.wav start_local)" = "2021-05-21T10:00:00" ] ||
  fail "AudioMoth offset kept"
[ "$(field moth.wav start_source)" = audiomoth ] && [ "$(field bat.wav start_source)" = guano ] &&
  [ "$(field bext.wav start_source)" = bext ] && [ "$(field cd.flac start_source)" = none ] || fail "start sources"
# Real seconds for the time-expanded bat file: it ends 2 s after it starts.
[ "$(field bat.wav end_utc)" = "2021-06-01T22:15:02Z" ] || fail "bat end time: $(field bat.wav end_utc)"
[ "$(field moth.wav rate_mode)" = native ] && [ "$(field moth.wav samples)" = 288000 ] || fail "16 kHz native"
[ "$(field cd.flac rate_mode)" = resampled ] && [ "$(field cd.flac source_rate)" = 44100 ] || fail "44.1 kHz"
[ "$(field bat.wav rate_mode)" = time-expanded ] && [ "$(field bat.wav samples)" = 768000 ] || fail "time expansion"
# info gives real seconds for a time-expanded recording (2 s at 384 kHz), not 768000 / 48000.
[ "$(field bat.wav seconds)" = 2.000000 ] || fail "info seconds of a time-expanded recording: $(field bat.wav seconds)"
[ "$(field native.opus rate_mode)" = opus ] || fail "Ogg Opus beside PCM"
[ "$(field surround.wav channels)" = 6 ] && [ "$(field surround.wav source_format)" = $((0x010000 | 0x0002)) ] ||
  fail "6-channel WAV"
"$OPUSARC" info --json "$WORK/r.h5" | grep '"rate_mode": "resampled", "start": "2021-06-01T22:15:00Z", "start_utc": "2021-06-01T22:15:00Z"' ||
  fail "resampled bat"

# Every range equals a straight decode of the stored packets (pktdecode).
"$MKQUERIES" "$WORK/a.h5" 12 4 > "$WORK/q.csv"
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out" --format f32 -q || fail "extract"
n=0
row=0
while read -r line; do
  name=$(echo "$line" | sed 's/.*"name": "\([^"]*\)".*/\1/')
  ch=$(echo "$line" | grep -o '"channels": [0-9]*' | grep -o '[0-9]*$')
  "$PKTDECODE" "$WORK/a.h5" "$row" "$WORK/ref.f32" || fail "pktdecode $name"
  while IFS=, read -r id rec start end; do
    [ "$rec" = "$name" ] || continue
    cmp -s <(tail -c +$((start * ch * 4 + 1)) "$WORK/ref.f32" | head -c $(((end - start) * ch * 4))) "$WORK/out/$id.f32" ||
      fail "$id ($name [$start, $end)) differs from the straight decode"
    n=$((n + 1))
  done < <(tail -n +2 "$WORK/q.csv")
  row=$((row + 1))
done < "$WORK/rows.txt"
echo "$n ranges equal the straight decode of the stored packets"
[ "$n" -gt 100 ] || fail "too few ranges checked"

# Seconds follow the source time base: 0.5 s of the 384 kHz recording is 192000 samples.
"$OPUSARC" extract "$WORK/a.h5" --recording bat.wav --start 1 --end 1.5 --units seconds --format f32 -o "$WORK/bat.f32"
[ "$(stat -c %s "$WORK/bat.f32")" = $((192000 * 4)) ] || fail "time-expanded seconds"
"$OPUSARC" verify -q "$WORK/a.h5" || fail "verify"
echo "pcm_import: ok"
