#!/usr/bin/env bash
# Damaged Ogg Opus files (issue 15): pages lost (one hole, two holes), a
# file cut inside a page (stereo, 5.1 and ambisonic multistream), a hole
# and a cut together. Each is indexed as a damaged recording that keeps
# every complete page. The reference is a straight decode of the damaged
# file that reads past holes without resetting the decoder (msdecode, and
# opusfile's op_read_float, which also drops 80 ms after each hole), with
# silence inserted where tests/tools/oggcut.py measured the lost pages from
# the original's granule positions. Whole
# recordings and ranges that start, end and lie inside the silences, through
# pre-rolls and snapshots, at 2 and 3 ranks; `verify` passes; `info` names
# the damage; the exit code is 3 unless --allow-damaged.
source "$(dirname "$0")/common.sh"
: "${OPUSREF:?}" "${MSDECODE:?}"
PY=/usr/bin/python3
OGGCUT="$PY $(dirname "$0")/../tools/oggcut.py"
C=$WORK/c && O=$WORK/orig
mkdir -p "$C" "$O"
"$MKOPUS" --channels 2 --seconds 12 --seed 1 "$O/st.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 12 --seed 2 --page-packets 4 "$O/mono.opus" > /dev/null
"$MKOPUS" --channels 6 --family 1 --seconds 6 --seed 3 "$O/surround.opus" > /dev/null
"$MKOPUS" --channels 4 --family 2 --seconds 6 --seed 4 "$O/amb.opus" > /dev/null
$OGGCUT drop "$O/st.opus" "$C/one_hole.opus" 20 > "$WORK/one_hole.lost"
$OGGCUT drop "$O/st.opus" "$C/two_holes.opus" 9-11 40 > "$WORK/two_holes.lost"
$OGGCUT drop "$O/mono.opus" "$WORK/hc.opus" 30 > "$WORK/hole_cut.lost"
size() { stat -c %s "$1"; }
$OGGCUT cut "$WORK/hc.opus" "$C/hole_cut.opus" $(($(size "$WORK/hc.opus") * 3 / 4))
$OGGCUT cut "$O/st.opus" "$C/cut.opus" $(($(size "$O/st.opus") * 2 / 3 + 17))
$OGGCUT cut "$O/surround.opus" "$C/surround_cut.opus" $(($(size "$O/surround.opus") / 2 + 5))
$OGGCUT cut "$O/amb.opus" "$C/amb_cut.opus" $(($(size "$O/amb.opus") / 2 + 9))
: > "$WORK/cut.lost" && : > "$WORK/surround_cut.lost" && : > "$WORK/amb_cut.lost"
[ "$(wc -l < "$WORK/two_holes.lost")" = 2 ] || fail "oggcut: two runs expected"

ms_length() { # the samples msdecode finds in a file (it names them when asked for too many)
  { "$MSDECODE" "$1" 0 999999999 "$WORK/x.f32" 2>&1 || true; } | sed -nE 's/.*outside \[0, ([0-9]+)\).*/\1/p'
}
# expected NAME: the reference for C/NAME.opus as WORK/NAME.ref.f32; prints
# its sample count. It is msdecode's straight decode (libogg + libopus,
# written apart; it reads past a hole without resetting the decoder) with a
# silence put back for each run oggcut measured. Cross-check: opusfile's
# op_read_float decode of the same file (not for family 2, which it
# refuses) is that decode minus the 80 ms it discards after each hole.
expected() {
  local name=$1 n ch
  n=$(ms_length "$C/$name.opus")
  ch=$("$MSDECODE" "$C/$name.opus" 0 "$n" "$WORK/$name.ms.f32")
  if [ "$name" = amb_cut ]; then
    : > "$WORK/$name.of.f32" && echo none > "$WORK/$name.holes"
  else
    "$OPUSREF" "$C/$name.opus" 0 999999999 "$WORK/$name.of.f32" "$WORK/$name.holes" > /dev/null 2>&1 || true
  fi
  "$PY" - "$WORK/$name" "$ch" <<'PYEOF'
import sys
import numpy as np
base, ch = sys.argv[1], int(sys.argv[2])
ms = np.fromfile(base + ".ms.f32", dtype="<f4").reshape(-1, ch)
runs = [tuple(map(int, l.split())) for l in open(base + ".lost") if l.strip()]
parts, at, before = [], 0, 0
for start, n in runs:  # start: where the run begins in the recording
    cut = start - before
    parts += [ms[at:cut], np.zeros((n, ch), dtype="<f4")]
    at, before = cut, before + n
parts.append(ms[at:])
ref = np.concatenate(parts)
ref.tofile(base + ".ref.f32")
holes = open(base + ".holes").read().split()
if holes != ["none"]:
    of = np.fromfile(base + ".of.f32", dtype="<f4").reshape(-1, ch)
    keep, at, seen, before = [], 0, [], 0
    for i, (start, n) in enumerate(runs):
        cut = start - before
        keep.append(ms[at:cut])
        seen.append(cut - 3840 * i)
        at, before = cut + 3840, before + n
    keep.append(ms[at:])
    want = np.concatenate(keep)
    if [int(h) for h in holes] != seen:
        sys.exit("opusfile saw holes at %s, expected %s" % (holes, seen))
    if len(want) != len(of) or not np.array_equal(want, of):
        sys.exit("opusfile and msdecode disagree beyond the 80 ms after the holes")
print(len(ref))
PYEOF
}
NAMES="one_hole two_holes hole_cut cut surround_cut amb_cut"
declare -A LEN CH
for name in $NAMES; do
  LEN[$name]=$(expected "$name")
  CH[$name]=$(case $name in surround_cut) echo 6 ;; amb_cut) echo 4 ;; hole_cut) echo 1 ;; *) echo 2 ;; esac)
done
# A hole keeps the recording's length: the original's.
for name in one_hole two_holes; do
  orig=$(ms_length "$O/st.opus")
  [ "${LEN[$name]}" = "$orig" ] || fail "$name: reference has ${LEN[$name]} samples, the original $orig"
done

for kind in preroll snapshot; do
  for np in 2 3; do
    rm -f "$WORK/a.h5"
    expect 3 "damaged: 6 of the indexed recordings" mpi "$np" "$OPUSARC" index -o "$WORK/a.h5" \
      --checkpoint-every 0.5 --checkpoints "$kind" "$C"
    grep -q "two_holes.opus: damaged: hole before byte [0-9]*: [0-9]* samples lost, silence at sample" "$WORK/log.txt" ||
      fail "the damage is not named in the log"
    "$OPUSARC" info --json "$WORK/a.h5" > "$WORK/info.json"
    # Whole recordings, and ranges around every silence.
    printf 'id,recording,start,end\n' > "$WORK/q.csv"
    for name in $NAMES; do
      echo "${name}_all,$name.opus,0,${LEN[$name]}" >> "$WORK/q.csv"
      while read -r start n; do
        for r in "$((start - 1000)):$((start + n + 1000))" "$((start + 1)):$((start + n - 1))" \
                 "$((start + n / 2)):$((start + n + 30000))" "$((start - 30000)):$((start + 5))"; do
          echo "${name}_${r%:*},$name.opus,${r%:*},${r#*:}" >> "$WORK/q.csv"
        done
      done < "$WORK/$name.lost"
    done
    rm -rf "$WORK/o"
    mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --format f32 --out-dir "$WORK/o"
    while IFS=, read -r id rec start end; do
      [ "$id" = id ] && continue
      name=${rec%.opus}
      bytes=$((4 * CH[$name]))
      dd if="$WORK/$name.ref.f32" of="$WORK/want.f32" bs="$bytes" skip="$start" count=$((end - start)) status=none
      cmp -s "$WORK/o/$id.f32" "$WORK/want.f32" || fail "$kind np $np: $id differs from the reference"
    done < "$WORK/q.csv"
    mpi "$np" "$OPUSARC" verify -q "$WORK/a.h5" || fail "$kind np $np: verify"
  done
done
# One range that ends inside the silence of a hole, and one inside it
# entirely (each alone: a sweep may serve them with a wider decode).
while read -r start n; do
  for r in "$((start - 30000)):$((start + 5))" "$((start + 2)):$((start + n / 2))"; do
    a=${r%:*} b=${r#*:}
    "$OPUSARC" extract -q "$WORK/a.h5" --recording two_holes.opus --start "$a" --end "$b" --format f32 \
      -o "$WORK/one.f32" --force || fail "range $r of two_holes.opus"
    dd if="$WORK/two_holes.ref.f32" of="$WORK/want.f32" bs="$((4 * CH[two_holes]))" skip="$a" count=$((b - a)) \
      status=none
    cmp -s "$WORK/one.f32" "$WORK/want.f32" || fail "range $r of two_holes.opus differs from the reference"
  done
done < "$WORK/two_holes.lost"
# info: the damage and the silence, in the numbers oggcut measured.
for name in one_hole two_holes hole_cut; do
  lost=$(awk '{s += $2} END {print s}' "$WORK/$name.lost")
  grep -F "\"name\": \"$name.opus\"" "$WORK/info.json" | grep -q "\"status\": \"damaged\".*\"lost_samples\": $lost," ||
    fail "$name: info does not say $lost samples lost"
  while read -r start n; do
    grep -F "\"name\": \"$name.opus\"" "$WORK/info.json" | grep -q "$n samples lost, silence at sample $start" ||
      fail "$name: the silence at $start (+$n) is not named"
  done < "$WORK/$name.lost"
done
grep -F '"name": "surround_cut.opus"' "$WORK/info.json" | grep -q '"damage": "damaged: file ends inside a page at byte' ||
  fail "surround_cut: the cut is not named"
"$OPUSARC" info "$WORK/a.h5" | grep -q "^DAMAGED .*two_holes.opus" || fail "info text: DAMAGED"
"$OPUSARC" index -q --allow-damaged -o "$WORK/b.h5" "$C" || fail "--allow-damaged: exit 0"
# Archives of format 5 (before damaged rows) are still read: a format-7 archive
# of the intact originals rewritten by tests/tools/downgrade.py as format 5
# wrote it extracts the same samples and verifies (more in integration_versions).
"$OPUSARC" index -q -o "$WORK/v7.h5" "$O"
cp "$WORK/v7.h5" "$WORK/v5.h5"
"$PY" "$(dirname "$0")/../tools/downgrade.py" "$WORK/v5.h5" 5
"$OPUSARC" info "$WORK/v5.h5" | grep -q "format 5" || fail "the rewritten archive is not format 5"
for v in 5 7; do
  "$OPUSARC" extract -q "$WORK/v$v.h5" --recording st.opus --start 1000 --end 90000 --format f32 -o "$WORK/r$v.f32"
  "$OPUSARC" verify -q "$WORK/v$v.h5" || fail "format $v: verify"
done
cmp -s "$WORK/r5.f32" "$WORK/r7.f32" || fail "format 5 and 7 archives give different samples"
echo "damaged: all checks passed"
