#!/usr/bin/env bash
# Archive format versions (issue 16). Format 7 keeps each packet's length
# and first (TOC) byte in /packets/heads, apart from its other bytes.
# Archives of formats 3 to 6 still read: they are made here from a format-7
# archive by tests/tools/downgrade.py, written apart from the C code from
# docs/FORMAT.md (length prefixes in /packets/data, /links without
# first_packet, /recordings without the fields later formats added). For
# each: `info` names the version, `verify` passes, and ranges equal
# opusfile's linear decode (msdecode for the family-3 file, which opusfile
# cannot read) and the format-7 archive's. `merge` turns each back into
# format 7 (the same packet, link, interval and snapshot datasets as indexing
# anew), and
# `index --append` adds a format-7 segment to a format-6 archive, read as one.
source "$(dirname "$0")/common.sh"
: "${OPUSREF:?}" "${MSDECODE:?}"
PY=/usr/bin/python3
DOWNGRADE="$PY $(dirname "$0")/../tools/downgrade.py"
C=$WORK/c
mkdir -p "$C" "$WORK/more"
"$MKOPUS" --channels 1 --seconds 9 --seed 1 --mode silk --bitrate 12000 "$C/speech.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 8 --seed 2 --frame-ms 2.5 "$C/short.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 8 --seed 3 --links 3 "$C/chain.opus" > /dev/null
"$MKOPUS" --channels 6 --family 1 --seconds 5 --seed 4 "$C/surround.opus" > /dev/null
"$MKOPUS" --channels 9 --family 3 --seconds 5 --seed 5 "$C/proj.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 6 --seed 6 "$WORK/more/new.opus" > /dev/null

# reference FILE START END OUT: the independent decode of [START, END).
reference() {
  case $1 in
    */proj.opus) "$MSDECODE" "$@" > /dev/null ;;
    *) "$OPUSREF" "$@" > /dev/null ;;
  esac
}
# check ARCHIVE DIR NAME...: ranges of each recording equal the reference
# (decoded once per file and range, kept in WORK/ref).
check() {
  local a=$1 dir=$2 name range id
  shift 2
  printf 'id,recording,start,end\n' > "$WORK/q.csv"
  for name in "$@"; do
    for range in 0:2000 1000:96000 100000:101000 150001:200000; do
      echo "${name%.opus}_${range/:/_},$name,${range%:*},${range#*:}" >> "$WORK/q.csv"
    done
  done
  rm -rf "$WORK/o"
  "$OPUSARC" extract -q "$a" --queries "$WORK/q.csv" --format f32 --out-dir "$WORK/o"
  mkdir -p "$WORK/ref"
  while IFS=, read -r id name start end; do
    [ "$id" = id ] && continue
    [ -f "$WORK/ref/$id.f32" ] || reference "$dir/$name" "$start" "$end" "$WORK/ref/$id.f32"
    cmp -s "$WORK/o/$id.f32" "$WORK/ref/$id.f32" || fail "$a: $id differs from the reference decode"
  done < "$WORK/q.csv"
}
names=(chain.opus proj.opus short.opus speech.opus surround.opus)
for mode in auto snapshot; do
  "$OPUSARC" index -q --checkpoints "$mode" --checkpoint-every 1 -o "$WORK/$mode.h5" "$C"
  h5dump -H -d /packets/heads "$WORK/$mode.h5" > /dev/null || fail "$mode: no /packets/heads"
  check "$WORK/$mode.h5" "$C" "${names[@]}"
  for v in 3 4 5 6; do
    cp "$WORK/$mode.h5" "$WORK/v$v.h5"
    $DOWNGRADE "$WORK/v$v.h5" "$v"
    "$OPUSARC" info "$WORK/v$v.h5" | grep -q "(format $v," || fail "$mode: the rewritten archive is not format $v"
    ! h5dump -H -d /packets/heads "$WORK/v$v.h5" > /dev/null 2>&1 || fail "format $v: /packets/heads left"
    "$OPUSARC" verify -q "$WORK/v$v.h5" || fail "$mode, format $v: verify"
    check "$WORK/v$v.h5" "$C" "${names[@]}"
    rm -f "$WORK/m.h5"
    "$OPUSARC" merge -q -o "$WORK/m.h5" "$WORK/v$v.h5"
    "$OPUSARC" info "$WORK/m.h5" | grep -q "(format 7," || fail "format $v merged: not format 7"
    "$PY" - "$WORK/m.h5" "$WORK/$mode.h5" <<'PYEOF' || fail "format $v merged: not what indexing anew wrote"
import sys
import h5py
import numpy as np
with h5py.File(sys.argv[1], "r") as m, h5py.File(sys.argv[2], "r") as a:
    for name in ("packets/heads", "packets/data", "links", "intervals", "checkpoints/state"):
        if not np.array_equal(m[name][...], a[name][...]):
            sys.exit(f"/{name} differs")
PYEOF
    "$OPUSARC" verify -q "$WORK/m.h5" || fail "format $v merged: verify"
    check "$WORK/m.h5" "$C" chain.opus proj.opus
  done
done
# A format-7 segment appended to a format-6 archive.
"$OPUSARC" index -q --checkpoints snapshot --checkpoint-every 1 --append -o "$WORK/v6.h5" "$WORK/more"
"$OPUSARC" info "$WORK/v6.h5" | grep -q "recordings   6 ok" || fail "append to format 6: 6 recordings"
"$OPUSARC" verify -q "$WORK/v6.h5" || fail "append to format 6: verify"
check "$WORK/v6.h5" "$WORK/more" new.opus
check "$WORK/v6.h5" "$C" short.opus proj.opus
echo "versions: all checks passed"
