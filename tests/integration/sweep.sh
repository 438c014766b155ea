#!/usr/bin/env bash
# Extraction sweeps: the same queries on 1, 2 and 3 ranks give identical
# bytes, all equal to opusfile's linear decode; long queries are cut into
# pieces decoded by different ranks (raw formats and HDF5); one HDF5 clips
# file written in parallel; fixed windows; bad rows reported once each.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C/music" "$C/speech"
"$MKOPUS" --channels 2 --bitrate 64000 --signal music --seconds 70 --seed 31 "$C/music/long.opus" > /dev/null
"$MKOPUS" --channels 1 --mode silk --bitrate 16000 --signal speech --seconds 30 --seed 32 "$C/speech/talk.opus" > /dev/null
"$MKOPUS" --channels 2 --bitrate 48000 --seconds 8 --links 3 --seed 33 "$C/music/chained.opus" > /dev/null
"$MKOPUS" --channels 6 --family 1 --bitrate 160000 --seconds 12 --seed 34 "$C/surround.opus" > /dev/null
mpi 2 "$OPUSARC" index -q -o "$WORK/a.h5" "$C"

# Random and edge ranges, plus whole recordings (long ones get cut).
"$MKQUERIES" "$WORK/a.h5" 40 9 > "$WORK/q.csv"
"$OPUSARC" info --json "$WORK/a.h5" | tr '{' '\n' | grep '"name"' |
  sed 's/.*"name": "\([^"]*\)".*"samples": \([0-9]*\),.*/\1 \2/' > "$WORK/lengths.txt"
awk '{printf "whole%d,%s,0,%s\n", NR, $1, $2}' "$WORK/lengths.txt" > "$WORK/whole.csv"
# refcheck wants rows grouped by recording: put the whole-recording rows after each group.
{
  head -n 1 "$WORK/q.csv"
  while read -r name len; do
    grep ",$name," "$WORK/q.csv" || true
    grep ",$name," "$WORK/whole.csv" || true
  done < "$WORK/lengths.txt"
} > "$WORK/all.csv"
echo "$(($(wc -l < "$WORK/all.csv") - 1)) queries"

for np in 1 2 3; do
  mpi "$np" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/all.csv" --out-dir "$WORK/out$np" --format f32 \
    --piece 5 -q || fail "sweep on $np ranks"
done
"$REFCHECK" "$C" "$WORK/all.csv" "$WORK/out3" f32 || fail "3-rank sweep differs from opusfile"
diff -r "$WORK/out1" "$WORK/out2" > /dev/null || fail "1 and 2 ranks differ"
diff -r "$WORK/out1" "$WORK/out3" > /dev/null || fail "1 and 3 ranks differ"
ls "$WORK/out3" | grep partial > /dev/null && fail "temporary files left"

mpi 3 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/all.csv" --out-dir "$WORK/s16" --format s16 --piece 3 -q ||
  fail "s16 sweep"
"$REFCHECK" "$C" "$WORK/all.csv" "$WORK/s16" s16 || fail "s16 pieces"

mpi 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/all.csv" --out "$WORK/clips.h5" --piece 4 -q ||
  fail "HDF5 sweep"
"$REFCHECK" "$C" "$WORK/all.csv" "$WORK/clips.h5" h5 || fail "HDF5 clips differ"
[ ! -e "$WORK/clips.h5.partial" ] || fail "partial HDF5 left"
set +e
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/all.csv" --out "$WORK/clips.h5" 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "already exists" "$WORK/err.txt" || fail "existing clips file not protected"
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/all.csv" --out "$WORK/clips.h5" > "$WORK/out.txt" 2>&1 || true
grep -q "extracted 0, failed" "$WORK/out.txt" || fail "a refused sweep must not count queries as extracted"

# Windows of 2 s every 1.5 s over music/*, in seconds.
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --windows 2 --hop 1.5 --units seconds --match 'music/*' \
  --out-dir "$WORK/win" --format wav -q || fail "windows"
{
  echo "id,recording,start,end"
  grep '^music/' "$WORK/lengths.txt" | while read -r name len; do
    stem=${name//\//\~}
    for ((s = 0; s + 96000 <= len; s += 72000)); do echo "${stem}_$s,$name,$s,$((s + 96000))"; done
  done
} > "$WORK/win.csv"
[ "$(ls "$WORK/win" | wc -l)" = "$(($(wc -l < "$WORK/win.csv") - 1))" ] || fail "window count"
"$REFCHECK" "$C" "$WORK/win.csv" "$WORK/win" wav || fail "windows differ"

# Bad rows, on 2 ranks: each reported once by line, good rows written.
cat > "$WORK/bad.csv" << CSV
id,recording,start,end
g1,music/long.opus,0,4800
b1,music/nope.opus,0,10
g2,speech/talk.opus,100,200000
b2,speech/talk.opus,0,99999999
CSV
set +e
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/bad.csv" --out-dir "$WORK/bad" --format f32 \
  > "$WORK/out.txt" 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] || fail "bad rows exit $rc"
[ "$(grep -c 'bad.csv:3: no recording named' "$WORK/err.txt")" = 1 ] || { cat "$WORK/err.txt"; fail "line 3 once"; }
[ "$(grep -c 'bad.csv:5: range' "$WORK/err.txt")" = 1 ] || fail "line 5 once"
grep -q "extracted 2, failed 2" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "summary"; }
[ "$(ls "$WORK/bad")" = "$(printf 'g1.f32\ng2.f32')" ] || fail "good outputs"
echo "sweep: identical on 1/2/3 ranks, exact, pieces, HDF5, windows, bad rows"
