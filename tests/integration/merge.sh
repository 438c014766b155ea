#!/usr/bin/env bash
# `opusarc merge` (issue 12): archives indexed separately become one archive
# equal to indexing the union (rows, samples = opusfile, verify), on 1-3
# ranks, with snapshots copied; an appended archive merges with its
# segments; names held twice are kept once when the source is the same and
# refused when not; other checkpoint settings, an input as output and an
# existing output are refused; an interrupted merge resumes.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
for b in 1 2; do
  mkdir -p "$C/batch$b"
  for i in $(seq 1 6); do
    "$MKOPUS" --channels $((1 + (i + b) % 2)) --seconds $((5 + i)) --seed $((b * 10 + i)) "$C/batch$b/r$i.opus" > /dev/null
  done
done
IDX=(index -q --root "$C" --checkpoints snapshot --checkpoint-every 1 --batch-mb 0.05)
rows() {
  "$OPUSARC" info --json "$1" | grep '^  {"name"' | sed -E 's/"(first_interval|data_offset)": [0-9]+, //g' | sort
}
"$OPUSARC" "${IDX[@]}" -o "$WORK/u.h5" "$C"
"$OPUSARC" "${IDX[@]}" -o "$WORK/a.h5" "$C/batch1"
mpi 2 "$OPUSARC" "${IDX[@]}" -o "$WORK/b.h5" "$C/batch2"
rows "$WORK/u.h5" > "$WORK/u.rows"
"$MKQUERIES" "$WORK/u.h5" 4 5 > "$WORK/q.csv"
"$OPUSARC" extract -q "$WORK/u.h5" --queries "$WORK/q.csv" --out-dir "$WORK/u.out" --format f32
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/u.out" f32 > /dev/null || fail "reference extraction not exact"
"$OPUSARC" info "$WORK/u.h5" | grep -q ' 0 snapshots' && fail "the reference has no snapshots to copy"

for np in 1 2 3; do
  rm -rf "$WORK/m.h5" "$WORK/m.out"
  mpi "$np" "$OPUSARC" merge -q --batch-mb 0.05 -o "$WORK/m.h5" "$WORK/b.h5" "$WORK/a.h5" > /dev/null
  rows "$WORK/m.h5" | diff "$WORK/u.rows" - || fail "np $np: merged rows differ from indexing the union"
  "$OPUSARC" extract -q "$WORK/m.h5" --queries "$WORK/q.csv" --out-dir "$WORK/m.out" --format f32
  diff -r "$WORK/u.out" "$WORK/m.out" > /dev/null || fail "np $np: merged samples differ"
  mpi 2 "$OPUSARC" verify -q "$WORK/m.h5" > /dev/null || fail "np $np: verify of the merged archive"
done
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/m.out" f32 > /dev/null || fail "merged extraction not exact (opusfile)"

# An appended archive merges with its segments.
cp "$WORK/a.h5" "$WORK/g.h5"
"$OPUSARC" "${IDX[@]}" --append -o "$WORK/g.h5" "$C/batch2" > /dev/null
"$OPUSARC" merge -q -o "$WORK/gm.h5" "$WORK/g.h5" > /dev/null
rows "$WORK/gm.h5" | diff "$WORK/u.rows" - || fail "merge of an appended archive"
# The same recordings twice: kept once.
expect 0 "6 held twice, kept once" "$OPUSARC" merge -o "$WORK/twice.h5" "$WORK/a.h5" "$WORK/u.h5"
rows "$WORK/twice.h5" | diff "$WORK/u.rows" - || fail "rows held twice"

# Refusals, nothing written.
mkdir -p "$WORK/other/batch1"
"$MKOPUS" --channels 1 --seconds 3 --seed 77 "$WORK/other/batch1/r1.opus" > /dev/null
"$OPUSARC" index -q --root "$WORK/other" --checkpoints snapshot --checkpoint-every 1 -o "$WORK/o.h5" "$WORK/other"
expect 1 'both hold "batch1/r1.opus", from different sources' "$OPUSARC" merge -o "$WORK/x.h5" "$WORK/a.h5" "$WORK/o.h5"
"$OPUSARC" index -q --root "$C" --checkpoint-every 1 -o "$WORK/auto.h5" "$C/batch2"
expect 1 "checkpoint kind of .* is snapshot, of .* auto" "$OPUSARC" merge -o "$WORK/x.h5" "$WORK/a.h5" "$WORK/auto.h5"
expect 1 "is an input of this command" "$OPUSARC" merge --force -o "$WORK/a.h5" "$WORK/a.h5" "$WORK/b.h5"
expect 1 "is an input of this command" "$OPUSARC" merge --force -o "$WORK/g.seg-0001.h5" "$WORK/g.h5" "$WORK/b.h5"
expect 1 "already exists" "$OPUSARC" merge -o "$WORK/m.h5" "$WORK/a.h5" "$WORK/b.h5"
[ ! -e "$WORK/x.h5" ] || fail "a refused merge wrote its output"
rows "$WORK/a.h5" | grep -c '"name"' | grep -qx 6 || fail "an input changed"

# Killed before the rename: --resume finishes it.
OPUSARC_FAULT=rename@0 mpi 2 "$OPUSARC" merge -q --batch-mb 0.05 -o "$WORK/k.h5" "$WORK/a.h5" "$WORK/b.h5" \
  > /dev/null 2>&1 && fail "the rename fault did not stop the merge"
[ -e "$WORK/k.h5.partial" ] && [ ! -e "$WORK/k.h5" ] || fail "rename fault: expected only k.h5.partial"
mpi 2 "$OPUSARC" merge -q --resume -o "$WORK/k.h5" "$WORK/a.h5" "$WORK/b.h5" > /dev/null
rows "$WORK/k.h5" | diff "$WORK/u.rows" - || fail "resumed merge"
echo "merge: two archives (snapshots) on 1-3 ranks = indexing the union (rows, samples, opusfile, verify);" \
     "an appended archive with its segment; names held twice kept once or refused; settings, input as" \
     "output, existing output refused; interrupted merge resumed"
