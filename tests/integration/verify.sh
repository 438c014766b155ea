#!/usr/bin/env bash
# Checkpoint kinds and integrity: archives built with --checkpoints auto,
# preroll and snapshot all extract exactly; `verify` (with 1 and 2 ranks)
# passes on them, and after one payload byte is damaged it names the
# recording and sample range; `extract --verify` refuses ranges touching the
# damaged interval while other ranges still extract; a forged snapshot is
# found by verify and never loaded with --no-snapshots.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C"
"$MKOPUS" --channels 1 --mode silk --bitrate 16000 --signal speech --seconds 24 --seed 21 "$C/speech.opus" > /dev/null
"$MKOPUS" --channels 2 --bitrate 64000 --signal music --seconds 24 --seed 22 "$C/music.opus" > /dev/null
"$MKOPUS" --channels 2 --mode hybrid --bitrate 32000 --signal speech --seconds 15 --links 2 --seed 23 "$C/hybrid.opus" > /dev/null

for mode in auto preroll snapshot; do
  "$OPUSARC" index -q -o "$WORK/$mode.h5" --checkpoints "$mode" --checkpoint-every 1 "$C" || fail "index --checkpoints $mode"
  "$OPUSARC" info "$WORK/$mode.h5" | grep -E '^intervals'
done
"$OPUSARC" info "$WORK/snapshot.h5" | grep " 0 verified pre-rolls" > /dev/null || fail "snapshot mode stored pre-rolls"
"$OPUSARC" info "$WORK/preroll.h5" | grep ", 0 snapshots" > /dev/null || fail "preroll mode stored snapshots"
"$OPUSARC" info "$WORK/auto.h5" | grep -v " 0 verified pre-rolls" > /dev/null || fail "auto mode found no pre-rolls"

"$MKQUERIES" "$WORK/auto.h5" 30 5 > "$WORK/q.csv"
for mode in auto preroll snapshot; do
  "$OPUSARC" extract "$WORK/$mode.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out_$mode" --format f32 -q ||
    fail "extract from $mode archive"
  "$REFCHECK" "$C" "$WORK/q.csv" "$WORK/out_$mode" f32 || fail "$mode archive extraction differs from opusfile"
  "$OPUSARC" verify "$WORK/$mode.h5" > "$WORK/v.txt" || { cat "$WORK/v.txt"; fail "verify on intact $mode archive"; }
  grep -q "0 mismatched" "$WORK/v.txt" || fail "verify summary"
done
mpi 2 "$OPUSARC" verify -q "$WORK/auto.h5" || fail "verify with 2 ranks"
"$OPUSARC" extract "$WORK/auto.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out_verified" --format f32 -q --verify ||
  fail "extract --verify on an intact archive"

# Change the stored CRC of one interval of music.opus: verify must name the
# recording and that interval's samples, and nothing else.
row=$("$OPUSARC" info --json "$WORK/auto.h5" | tr '{' '\n' | grep '"name": "music.opus"')
first=$(echo "$row" | grep -o '"first_interval": [0-9]*' | grep -o '[0-9]*$')
[ -n "$first" ] || fail "cannot locate music.opus in info --json"
"$H5TAMPER" "$WORK/auto.h5" --crc $((first + 5)) 0x1 || fail "h5tamper"
set +e
mpi 2 "$OPUSARC" verify "$WORK/auto.h5" > "$WORK/v.txt" 2> "$WORK/v.err"
rc=$?
set -e
cat "$WORK/v.err"
[ "$rc" = 1 ] || fail "verify exit $rc on a damaged archive"
[ "$(grep -c MISMATCH "$WORK/v.err")" = 1 ] || fail "exactly one mismatch expected"
grep -q 'MISMATCH "music.opus" samples \[[0-9]*, [0-9]*) (interval '"$((first + 5))"')' "$WORK/v.err" ||
  fail "mismatch not named with its range"
grep -q "1 mismatched" "$WORK/v.txt" || fail "summary counts the mismatch"

# A forged snapshot: interval 4 of music.opus gets the (valid, CRC-correct)
# snapshot of its interval 12. Extraction trusts it and goes wrong; verify
# finds it; --no-snapshots never loads it and stays exact.
cp "$WORK/snapshot.h5" "$WORK/forged.h5"
row=$("$OPUSARC" info --json "$WORK/forged.h5" | tr '{' '\n' | grep '"name": "music.opus"')
first=$(echo "$row" | grep -o '"first_interval": [0-9]*' | grep -o '[0-9]*$')
"$H5TAMPER" "$WORK/forged.h5" --copy-state $((first + 4)) $((first + 12)) || fail "h5tamper --copy-state"
printf 'id,recording,start,end\nf,music.opus,206400,230400\n' > "$WORK/qf.csv"
"$OPUSARC" extract -q "$WORK/forged.h5" --queries "$WORK/qf.csv" --out-dir "$WORK/out_forged" --format f32
"$REFCHECK" "$C" "$WORK/qf.csv" "$WORK/out_forged" f32 > /dev/null 2>&1 &&
  fail "the forged snapshot made no difference (the test would prove nothing)"
"$OPUSARC" extract -q --no-snapshots "$WORK/forged.h5" --queries "$WORK/qf.csv" --out-dir "$WORK/out_nosnap" --format f32
"$REFCHECK" "$C" "$WORK/qf.csv" "$WORK/out_nosnap" f32 || fail "extract --no-snapshots differs from opusfile"
set +e
"$OPUSARC" verify "$WORK/forged.h5" > /dev/null 2> "$WORK/v.err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'MISMATCH "music.opus" .*(interval '"$((first + 4))"')' "$WORK/v.err" ||
  { cat "$WORK/v.err"; fail "verify did not find the forged snapshot"; }
"$OPUSARC" verify --no-snapshots "$WORK/forged.h5" > "$WORK/v.txt" || fail "verify --no-snapshots on the forged archive"
grep -q "0 mismatched" "$WORK/v.txt" || fail "verify --no-snapshots summary"
# Every mode's archive stays exact without snapshots, over all the queries.
for mode in auto snapshot; do
  "$OPUSARC" extract -q --no-snapshots "$WORK/$mode.h5" --queries "$WORK/q.csv" --out-dir "$WORK/ns_$mode" --format f32
  "$REFCHECK" "$C" "$WORK/q.csv" "$WORK/ns_$mode" f32 || fail "extract --no-snapshots from $mode differs from opusfile"
done

# A damaged packet byte: either a mismatch or a decode error, named.
cp "$WORK/snapshot.h5" "$WORK/bytes.h5"
row=$("$OPUSARC" info --json "$WORK/bytes.h5" | tr '{' '\n' | grep '"name": "speech.opus"')
offset=$(echo "$row" | grep -o '"data_offset": [0-9]*' | grep -o '[0-9]*$')
"$H5TAMPER" "$WORK/bytes.h5" --xor /packets/data $((offset + 5000)) 0x55
set +e
"$OPUSARC" verify "$WORK/bytes.h5" 2> "$WORK/v.err" > /dev/null
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '"speech.opus"' "$WORK/v.err" || { cat "$WORK/v.err"; fail "damaged packet byte not found"; }

# extract --verify: the damaged region is refused, intact recordings still extract.
printf 'id,recording,start,end\nall,music.opus,0,1150000\nok,speech.opus,0,480000\nok2,music.opus,0,10\n' > "$WORK/q2.csv"
set +e
"$OPUSARC" extract "$WORK/auto.h5" --queries "$WORK/q2.csv" --out-dir "$WORK/out_damaged" --format f32 --verify \
  2> "$WORK/x.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "extract --verify exit $rc"
grep -q "q2.csv:2: .*does not match the indexed decode\|q2.csv:2: " "$WORK/x.err" || { cat "$WORK/x.err"; fail "reason"; }
[ -f "$WORK/out_damaged/ok.f32" ] && [ -f "$WORK/out_damaged/ok2.f32" ] && [ ! -e "$WORK/out_damaged/all.f32" ] ||
  fail "outputs after extract --verify"
echo "verify: modes exact, damage found"
