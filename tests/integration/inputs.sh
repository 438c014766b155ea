#!/usr/bin/env bash
# Real-world inputs (issue 15): ambisonic Opus, channel mapping family 2
# (orders 1, 2 and 3, and order 1 with a stereo pair) and family 3 (the
# projection decoder with its demixing matrix: orders 1-3, and 3 with a
# stereo pair), indexed and extracted exactly, against msdecode
# (tests/tools: libogg + libopus's multistream or projection decoder from
# the first packet, written apart; opusfile refuses these files), through
# link starts, pre-rolls and snapshots (restored in other processes), at 2
# ranks; .oga files (any letter case) are found by the scan.
source "$(dirname "$0")/common.sh"
: "${MSDECODE:?}"
C=$WORK/c
mkdir -p "$C"
for ch in 4 6 9 16; do
  "$MKOPUS" --channels "$ch" --family 2 --seconds 3 --seed "$ch" "$C/amb$ch.opus" > /dev/null
done
# Family 3: libopus's projection (ambisonics with a demixing matrix), orders
# 1-3 and order 3 with a stereo pair.
for ch in 4 9 16 18; do
  "$MKOPUS" --channels "$ch" --family 3 --seconds 3 --seed "$((ch + 50))" "$C/proj$ch.opus" > /dev/null
done
cp "$C/amb4.opus" "$C/voice.OGA"
for kind in preroll snapshot; do
  mpi 2 "$OPUSARC" index -q -o "$WORK/$kind.h5" --checkpoint-every 0.5 --checkpoints "$kind" "$C"
  "$OPUSARC" info "$WORK/$kind.h5" > "$WORK/info.txt"
  grep -q "recordings   9 ok, 0 failed" "$WORK/info.txt" || { cat "$WORK/info.txt"; fail "$kind: 9 recordings"; }
  grep -q " voice.OGA$" "$WORK/info.txt" || fail "the .OGA file was not found"
  printf 'id,recording,start,end\n' > "$WORK/q.csv"
  for rec in amb4 amb6 amb9 amb16 proj4 proj9 proj16 proj18; do
    for range in 0:4800 30000:100000 71000:143000 95999:96001; do
      echo "${rec}_${range%:*},$rec.opus,${range%:*},${range#*:}" >> "$WORK/q.csv"
    done
  done
  rm -rf "$WORK/o"
  mpi 2 "$OPUSARC" extract -q "$WORK/$kind.h5" --queries "$WORK/q.csv" --format f32 --out-dir "$WORK/o"
  while IFS=, read -r id rec start end; do
    [ "$id" = id ] && continue
    n=$("$MSDECODE" "$C/$rec" "$start" "$end" "$WORK/ref.f32")
    [ "$n" = "${rec//[!0-9]/}" ] || fail "$rec: msdecode says $n channels"
    cmp -s "$WORK/o/$id.f32" "$WORK/ref.f32" || fail "$kind: $id differs from the straight decode"
  done < "$WORK/q.csv"
done
grep -q "snapshots" "$WORK/info.txt" && ! grep -q " 0 snapshots" "$WORK/info.txt" ||
  { cat "$WORK/info.txt"; fail "the snapshot archive has no snapshots"; }
echo "inputs: all checks passed"
