#!/usr/bin/env bash
# Growing corpora (issue 12): `index --append` adds a week's recordings to an
# archive as a new segment file, with MPI, and
# - the grown archive holds what one index of everything holds and gives
#   the samples opusfile gives (refcheck), and passes verify;
# - appending the same inputs again adds nothing; a changed source with a
#   name already in the archive is a conflict (exit 4), never a replacement;
# - other checkpoint options are refused, naming the option;
# - a job killed at any moment (fault points between segment and list and
#   before the segment's rename, random kill -9 of all ranks or of one)
#   leaves the archive openable with everything it held, exact, and
#   --resume finishes the append;
# - readers during an append see the archive before or after it;
# - a rebuilt base makes the old list stale (ignored), a listed segment
#   that is missing or a damaged list is an error, never a silent subset.
# APPEND_TRIALS (default 20) sets the random kill trials.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
for w in 1 2 3; do
  mkdir -p "$C/week$w"
  for i in $(seq 1 8); do
    "$MKOPUS" --channels $((1 + (i + w) % 2)) --seconds $((6 + (i * w) % 9)) --seed $((w * 100 + i)) \
      "$C/week$w/r$i.opus" > /dev/null
  done
done
IDX=(index -q --root "$C" --batch-mb 0.05)
# Per-recording facts that do not depend on where rows were stored, by name.
rows() {
  "$OPUSARC" info --json "$1" | grep '^  {"name"' | sed -E 's/"(first_interval|data_offset)": [0-9]+, //g' | sort
}
count() { "$OPUSARC" info --json "$1" | jq '.recordings_ok + .recordings_failed'; }

mpi 2 "$OPUSARC" "${IDX[@]}" -o "$WORK/all.h5" "$C"
rows "$WORK/all.h5" > "$WORK/all.rows"
"$OPUSARC" "${IDX[@]}" -o "$WORK/w1.h5" "$C/week1"
rows "$WORK/w1.h5" > "$WORK/w1.rows"

# Week by week, on different rank counts.
cp "$WORK/w1.h5" "$WORK/a.h5"
mpi 3 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a.h5" "$C/week2"
mpi 1 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a.h5" "$C/week3" "$C/week1"
[ -f "$WORK/a.seg-0001.h5" ] && [ -f "$WORK/a.seg-0002.h5" ] || fail "segment files"
"$OPUSARC" info "$WORK/a.h5" | grep -q "segments     2 appended" || fail "info does not show the segments"
rows "$WORK/a.h5" | diff "$WORK/all.rows" - || fail "appended archive differs from one index of everything"
"$MKQUERIES" "$WORK/a.h5" 3 11 > "$WORK/q.csv"
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/a.out" --format f32
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/a.out" f32 > /dev/null || fail "extraction from an appended archive not exact"
"$OPUSARC" extract -q "$WORK/all.h5" --queries "$WORK/q.csv" --out-dir "$WORK/all.out" --format f32
diff -r "$WORK/all.out" "$WORK/a.out" > /dev/null || fail "appended and single archives give other samples"
mpi 2 "$OPUSARC" verify -q "$WORK/a.h5" > /dev/null || fail "verify of the appended archive"

# Again: nothing added, no new segment.
expect 0 "nothing to append to .*: 16 inputs already in it and unchanged, 0 conflicts" \
  mpi 2 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a.h5" "$C/week2" "$C/week3"
[ ! -e "$WORK/a.seg-0003.h5" ] || fail "appending the same inputs twice made a segment"

# A changed source whose name is in the archive: reported, not added, exit
# 4; a new recording given with it is added.
cp -a "$C/week1" "$WORK/week1b" # a copy: same sizes and times, other inodes
touch -d '2020-01-01 00:00' "$WORK/week1b/r3.opus"
"$MKOPUS" --channels 1 --seconds 3 --seed 999 "$WORK/week1b/new.opus" > /dev/null
expect 4 "week1/r3.opus: not added: .*modification time" \
  "$OPUSARC" index -q --root "$WORK/week1b" --prefix week1/ --append -o "$WORK/a.h5" "$WORK/week1b"
grep -q "7 skipped" "$WORK/log.txt" || { cat "$WORK/log.txt"; fail "the unchanged names were not skipped"; }
[ "$(count "$WORK/a.h5")" = 25 ] || fail "the new recording was not added with the conflict"
rows "$WORK/a.h5" | grep '"name": "week1/r3.opus"' | diff <(grep '"name": "week1/r3.opus"' "$WORK/all.rows") - ||
  fail "the conflicting recording was replaced"

# The archive's settings, or a refusal naming the option; no archive.
expect 1 "its checkpoint spacing is 2 s, this run's 5 s" \
  "$OPUSARC" "${IDX[@]}" --checkpoint-every 5 --append -o "$WORK/a.h5" "$C/week2"
expect 1 "no such archive" "$OPUSARC" "${IDX[@]}" --append -o "$WORK/none.h5" "$C/week2"
[ ! -e "$WORK/none.h5" ] || fail "--append made an archive"

# Killed between the complete segment and the list: the archive reads as
# before; the same command with --resume lists the segment.
cp "$WORK/w1.h5" "$WORK/k.h5"
OPUSARC_FAULT=list@0 mpi 2 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/k.h5" "$C/week2" > /dev/null 2>&1 &&
  fail "the list fault did not stop the append"
[ -f "$WORK/k.seg-0001.h5" ] || fail "list fault: no complete segment"
rows "$WORK/k.h5" | diff "$WORK/w1.rows" - > /dev/null || fail "list fault: the archive does not read as before"
expect 0 "now listed" mpi 2 "$OPUSARC" "${IDX[@]}" --resume --append -o "$WORK/k.h5" "$C/week2"
[ "$(count "$WORK/k.h5")" = 16 ] || fail "list fault: the adopted segment is not read"
# Killed before the segment's rename: resumed from its commits.
OPUSARC_FAULT=rename@0 mpi 2 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/k.h5" "$C/week3" > /dev/null 2>&1 &&
  fail "the rename fault did not stop the append"
[ -f "$WORK/k.seg-0002.h5.partial" ] || fail "rename fault: no partial segment"
[ "$(count "$WORK/k.h5")" = 16 ] || fail "rename fault: the archive changed"
expect 1 "use --resume" mpi 2 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/k.h5" "$C/week3"
mpi 2 "$OPUSARC" "${IDX[@]}" --resume --append -o "$WORK/k.h5" "$C/week3" > /dev/null
rows "$WORK/k.h5" | diff "$WORK/all.rows" - > /dev/null || fail "rename fault: resumed append differs"

# Readers while an append runs see the archive before or after it.
cp "$WORK/w1.h5" "$WORK/r.h5"
OPUSARC_FAULT=slow@0 mpi 2 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/r.h5" "$C/week2" "$C/week3" > /dev/null 2>&1 &
writer=$!
# Readers extract week1's ranges (there before) and check them every time.
{ head -n 1 "$WORK/q.csv"; grep ',week1/' "$WORK/q.csv"; } > "$WORK/q1.csv"
"$OPUSARC" extract -q "$WORK/all.h5" --queries "$WORK/q1.csv" --out-dir "$WORK/q1.ref" --format f32
seen=""
while kill -0 "$writer" 2> /dev/null; do
  n=$("$OPUSARC" info --json "$WORK/r.h5" | jq '.recordings_ok + .recordings_failed') || fail "a reader failed during an append"
  [ "$n" = 8 ] || [ "$n" = 24 ] || fail "a reader saw $n recordings during an append"
  rm -rf "$WORK/q1.out"
  "$OPUSARC" extract -q "$WORK/r.h5" --queries "$WORK/q1.csv" --out-dir "$WORK/q1.out" --format f32 ||
    fail "extraction during an append failed"
  diff -r "$WORK/q1.ref" "$WORK/q1.out" > /dev/null || fail "extraction during an append gave other samples"
  seen="$seen $n"
done
wait "$writer" || fail "the slow append failed"
[ "$(count "$WORK/r.h5")" = 24 ] || fail "slow append: result"

# One append run in the background, killed after delay_ms (all or one rank)
# unless delay_ms < 0; returns its exit code.
append_once() {
  local np=$1 delay_ms=$2 victim=$3
  mpi "$np" "$OPUSARC" "${IDX[@]}" --resume --append -o "$WORK/x.h5" "$C/week2" "$C/week3" \
    > "$WORK/run.out" 2>&1 &
  local pid=$!
  [ "$delay_ms" -lt 0 ] || kill_run "$pid" "$delay_ms" "$victim"
  local rc=0
  wait "$pid" || rc=$?
  for _ in $(seq 1 100); do pgrep -f "$WORK/x.h5" > /dev/null || break; sleep 0.1; done
  pgrep -f "$WORK/x.h5" > /dev/null && fail "processes of a killed append still running"
  return $rc
}
cp "$WORK/w1.h5" "$WORK/x.h5"
t0=$(date +%s%N)
append_once 2 -1 none || fail "timing run"
span_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
RANDOM=${APPEND_SEED:-1}
trials=${APPEND_TRIALS:-20}
before=0 after=0
for t in $(seq 1 "$trials"); do
  rm -f "$WORK"/x.*
  cp "$WORK/w1.h5" "$WORK/x.h5"
  for attempt in 1 2 3 4; do
    np=$((1 + RANDOM % 3))
    if [ "$attempt" = 1 ]; then
      victim=$([ $((RANDOM % 2)) = 0 ] && echo all || echo one)
      append_once "$np" $((RANDOM * span_ms / 32768)) "$victim" || true
      # After the kill: openable, everything it held, nothing half-added.
      n=$(count "$WORK/x.h5") || fail "trial $t: the archive cannot be read after a kill"
      [ "$n" = 8 ] || [ "$n" = 24 ] || fail "trial $t: $n recordings after a kill"
      [ "$n" = 8 ] && before=$((before + 1)) || after=$((after + 1))
      rows "$WORK/x.h5" | grep -c '"name": "week1/' | grep -qx 8 || fail "trial $t: week1 lost"
    else
      append_once "$np" -1 none || { cat "$WORK/run.out"; fail "trial $t: the resumed append failed"; }
      break
    fi
  done
  rows "$WORK/x.h5" | diff "$WORK/all.rows" - > /dev/null || fail "trial $t: the archive differs after resuming"
  left=$(cd "$WORK" && ls x.*partial* x.*.lock 2> /dev/null || true)
  [ -z "$left" ] || fail "trial $t: leftovers: $left"
done
"$OPUSARC" extract -q "$WORK/x.h5" --queries "$WORK/q.csv" --out-dir "$WORK/x.out" --format f32
diff -r "$WORK/all.out" "$WORK/x.out" > /dev/null || fail "samples differ after the kill trials"

# A rebuilt base: its old list is stale and ignored; the next append
# begins a new list and passes over the old segment names.
cp "$WORK/a.h5" "$WORK/a-kept.h5"
"$OPUSARC" "${IDX[@]}" --force -o "$WORK/a.h5" "$C/week1"
"$OPUSARC" info "$WORK/a.h5" | grep -q "is stale" || fail "a stale list is not reported"
[ "$(count "$WORK/a.h5")" = 8 ] || fail "a stale list was read"
expect 0 "appended 8 recordings to .* as .*a.seg-0004.h5" "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a.h5" "$C/week2"
[ "$(count "$WORK/a.h5")" = 16 ] || fail "append after a rebuild"
# A listed segment missing, a damaged list: errors, never a subset.
mv "$WORK/a.seg-0004.h5" "$WORK/moved.h5"
expect 1 "segment a.seg-0004.h5 listed in" "$OPUSARC" info "$WORK/a.h5"
mv "$WORK/moved.h5" "$WORK/a.seg-0004.h5"
sed -i 's/seg-0004/seg-0005/' "$WORK/a.h5.segments"
expect 1 "damaged segment list" "$OPUSARC" info "$WORK/a.h5"
echo "append: 3 weeks on 3, 1 rank counts = one index of everything (rows, samples = opusfile, verify);" \
     "repeated append adds nothing; a changed source is a conflict (exit 4); kill between segment and list" \
     "and before the rename resumed; $trials random kill -9 trials left the archive readable ($before with" \
     "the 8 recordings before the append, $after with all 24) and resumed to identical rows and samples; readers during an append saw:$seen"
