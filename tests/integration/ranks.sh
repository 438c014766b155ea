#!/usr/bin/env bash
# The ranks walk the corpus together (each depth's directories split among
# them, --list lines likewise); rank 0 sorts the list and sends each rank
# only its share (no other rank holds it whole). Archives made at 1, 2, 3 and 8 ranks must
# hold the same rows and give the same samples: from a tree both deep
# (12 levels) and wide (60 files in one directory), by walk and by --list,
# through an interrupted run resumed at another rank count, and an append.
source "$(dirname "$0")/common.sh"
command -v jq > /dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
C=$WORK/tree
d=$C/deep
for level in $(seq 1 12); do
  d=$d/level$level
  mkdir -p "$d"
  "$MKOPUS" --seconds 0.$((3 + level % 7)) --channels $((1 + level % 2)) --seed "$level" "$d/r$level.opus" > /dev/null
done
mkdir -p "$C/wide" "$C/more"
for i in $(seq 1 60); do
  "$MKOPUS" --seconds 0.$((2 + i % 8)) --seed $((100 + i)) "$C/wide/w$(printf %02d "$i").opus" > /dev/null
done
for i in 1 2 3 4 5; do "$MKOPUS" --seconds 0.5 --seed $((200 + i)) "$C/more/m$i.opus" > /dev/null; done
head -c 900 "$C/wide/w07.opus" > "$C/wide/cut.opus" # one damaged file among them
# A longer chained recording (two links): with --batch-mb 0.02 its packets,
# heads and checkpoints spill and are written back in many pieces.
"$MKOPUS" --seconds 12 --seed 300 "$WORK/a.opus" > /dev/null
"$MKOPUS" --seconds 9 --seed 302 "$WORK/c.opus" > /dev/null
cat "$WORK/a.opus" "$WORK/c.opus" > "$C/wide/chained.opus"
ln -s "$C/deep/level1" "$C/wide/linked-dir"      # a link to a directory: not followed
ln -s "$C/wide/w01.opus" "$C/wide/zz-link.opus"  # a link to a file of the corpus: one file, indexed once
echo "not audio" > "$C/wide/notes.txt"
find "$C/deep" "$C/wide" -name "*.opus" | sort -r > "$WORK/list.txt" # --list: another order

# What must not depend on the rank count: every row's description (not the
# offsets into the shared datasets, which follow the ranks' write order) and
# the samples of every recording.
rows() {
  "$OPUSARC" info --json "$1" | jq -S '[.recordings[] | del(.first_link, .first_interval, .data_offset)]'
}
samples() { # samples ARCHIVE DIR: every recording whole, as f32
  local list=$WORK/q.csv
  "$OPUSARC" info --json "$1" | jq -r '.recordings[] | select(.samples > 0) |
    "\(.name | gsub("[/.]"; "_")),\(.name),0,\(.samples)"' | { echo id,recording,start,end; cat; } > "$list"
  "$OPUSARC" extract -q "$1" --queries "$list" --out-dir "$2" --format f32 > /dev/null
}
IDX=(index -q --allow-damaged --allow-failures --root "$C" --batch-mb 0.02)
mpi 1 "$OPUSARC" "${IDX[@]}" -o "$WORK/r1.h5" "$C/deep" "$C/wide"
rows "$WORK/r1.h5" > "$WORK/r1.rows"
[ "$(jq length "$WORK/r1.rows")" = 75 ] || fail "the 1-rank archive holds $(jq length "$WORK/r1.rows") rows, not 75"
jq -e '.[] | select(.name == "wide/zz-link.opus") | .error | test("the same file as wide/w01.opus")' "$WORK/r1.rows" \
  > /dev/null || fail "the link to a file of the corpus is not marked as the same file"
samples "$WORK/r1.h5" "$WORK/s1"
# The same without spilling (a batch that holds everything): spilled
# packets, heads and checkpoints come back in order.
mpi 1 "$OPUSARC" index -q --allow-damaged --allow-failures --root "$C" -o "$WORK/whole.h5" "$C/deep" "$C/wide"
rows "$WORK/whole.h5" | cmp -s - "$WORK/r1.rows" || fail "spilled batches: rows differ from a batch held whole"
samples "$WORK/whole.h5" "$WORK/swhole"
diff -r "$WORK/s1" "$WORK/swhole" > /dev/null || fail "spilled batches: samples differ from a batch held whole"
for ds in /packets/data /packets/heads /checkpoints/state; do
  h5dump -d "$ds" -b LE -o "$WORK/spill.bin" "$WORK/r1.h5" > /dev/null
  h5dump -d "$ds" -b LE -o "$WORK/whole.bin" "$WORK/whole.h5" > /dev/null
  cmp -s "$WORK/spill.bin" "$WORK/whole.bin" || fail "spilled batches: $ds differs from a batch held whole"
done
ls "$WORK"/r1.h5.spill-* > /dev/null 2>&1 && fail "a spill file was left behind"
for np in 2 3 8; do
  mpi "$np" "$OPUSARC" "${IDX[@]}" -o "$WORK/r$np.h5" "$C/deep" "$C/wide"
  rows "$WORK/r$np.h5" | cmp -s - "$WORK/r1.rows" || fail "$np ranks: rows differ from 1 rank's"
  samples "$WORK/r$np.h5" "$WORK/s$np"
  diff -r "$WORK/s1" "$WORK/s$np" > /dev/null || fail "$np ranks: samples differ from 1 rank's"
  mpi "$np" "$OPUSARC" "${IDX[@]}" --list "$WORK/list.txt" -o "$WORK/l$np.h5"
  rows "$WORK/l$np.h5" | cmp -s - "$WORK/r1.rows" || fail "$np ranks with --list: rows differ from the walk's"
done
# A directory is read and dealt out in rounds (65,536 files each; 7 with
# the fault point `round`, here on two of three ranks, so the ranks need
# different numbers of rounds): the same rows.
OPUSARC_FAULT=round@0,round@2 mpi 3 "$OPUSARC" "${IDX[@]}" -o "$WORK/rounds.h5" "$C/deep" "$C/wide"
rows "$WORK/rounds.h5" | cmp -s - "$WORK/r1.rows" || fail "a walk in rounds of 7 files: rows differ from 1 rank's"

# A sweep at 8 ranks writes what one process writes: every recording whole
# as files, and 0.25 s windows (hop 0.2 s) into one clips file.
mpi 8 "$OPUSARC" extract -q "$WORK/r1.h5" --queries "$WORK/q.csv" --out-dir "$WORK/sweep8" --format f32 > /dev/null
diff -r "$WORK/s1" "$WORK/sweep8" > /dev/null || fail "a sweep at 8 ranks differs from one process's"
for np in 1 8; do
  mpi "$np" "$OPUSARC" extract -q "$WORK/r1.h5" --windows 0.25 --hop 0.2 --units seconds --out "$WORK/w$np.h5" > /dev/null
  h5dump -d /clips -b LE -o "$WORK/w$np.bin" "$WORK/w$np.h5" > /dev/null
  h5dump -d /queries "$WORK/w$np.h5" | grep -v "HDF5 \"" > "$WORK/w$np.queries"
done
[ -s "$WORK/w1.bin" ] || fail "no windows written"
cmp -s "$WORK/w1.bin" "$WORK/w8.bin" || fail "windows at 8 ranks: /clips differs from 1 rank's"
cmp -s "$WORK/w1.queries" "$WORK/w8.queries" || fail "windows at 8 ranks: /queries differs from 1 rank's"

# Interrupted at 8 ranks after some commits, resumed at 3: the same archive.
interrupt_at_8() { # interrupt_at_8 ARCHIVE: indexing killed after its first commit
  OPUSARC_FAULT=slow@0 mpi 8 "$OPUSARC" "${IDX[@]}" -o "$1" "$C/deep" "$C/wide" > /dev/null 2>&1 &
  local run=$!
  for _ in $(seq 1 100); do
    [ -s "$1.partial.commit" ] && break
    sleep 0.1
  done
  kill_run "$run" 0 all
  wait "$run" 2> /dev/null || true
}
interrupt_at_8 "$WORK/k.h5"
mpi 3 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/k.h5" "$C/deep" "$C/wide" > "$WORK/resume.txt"
rows "$WORK/k.h5" | cmp -s - "$WORK/r1.rows" || fail "killed at 8 ranks, resumed at 3: rows differ"

# An output that is one of the inputs, found on whichever rank holds it in
# its run of the list: refused, the input untouched.
cp "$C/wide/w03.opus" "$WORK/w03.copy"
expect 1 "is an input of this command" mpi 8 "$OPUSARC" "${IDX[@]}" --force -o "$C/wide/w03.opus" "$C/deep" "$C/wide"
cmp -s "$C/wide/w03.opus" "$WORK/w03.copy" || fail "an input named as the output was changed"

# --resume at 8 ranks on complete archives: the same inputs are found
# complete (each rank checks its run against the rows); new inputs are
# refused, named (the list gathered on rank 0 only for the message).
expect 0 "is complete: nothing to resume" mpi 8 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/r8.h5" "$C/deep" "$C/wide"
expect 1 "5 new recordings (more/m1.opus, more/m2.opus, more/m3.opus, ...)" \
  mpi 8 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/r8.h5" "$C/deep" "$C/wide" "$C/more"
touch -r "$C/wide/w05.opus" "$WORK/w05.stamp" # its times, put back after
touch -d "2001-01-01" "$C/wide/w05.opus"
expect 1 "wide/w05.opus: modification time" mpi 3 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/r3.h5" "$C/deep" "$C/wide"
# An interrupted run resumed at 3 ranks with an input changed: refused, named.
interrupt_at_8 "$WORK/k2.h5"
touch -d "2002-02-02" "$C/wide/w05.opus"
expect 1 "the inputs differ from the interrupted run's (75 recordings then, 75 now; 1 source changed since it was indexed (wide/w05.opus: modification time))" \
  mpi 3 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/k2.h5" "$C/deep" "$C/wide"
[ -e "$WORK/k2.h5.partial.commit" ] || fail "a refused --resume at 3 ranks discarded the committed work"
touch -r "$WORK/w05.stamp" "$C/wide/w05.opus"

# An append at 8 ranks: the new rows are the same as a 1-rank append's.
cp "$WORK/r1.h5" "$WORK/a8.h5"
cp "$WORK/r1.h5" "$WORK/a1.h5"
mpi 8 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a8.h5" "$C/more"
mpi 1 "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a1.h5" "$C/more"
rows "$WORK/a8.h5" > "$WORK/a8.rows"
[ "$(jq length "$WORK/a8.rows")" = 80 ] || fail "after the append: $(jq length "$WORK/a8.rows") rows, not 80"
rows "$WORK/a1.h5" | cmp -s - "$WORK/a8.rows" || fail "an append at 8 ranks differs from one at 1 rank"
# An append that meets recordings the archive holds (skipped) among new
# ones: each rank cuts its run of the list to what is new.
mkdir -p "$C/later"
for i in 1 2 3; do "$MKOPUS" --seconds 0.4 --seed $((400 + i)) "$C/later/n$i.opus" > /dev/null; done
for np in 1 8; do
  mpi "$np" "$OPUSARC" "${IDX[@]}" --append -o "$WORK/a$np.h5" "$C/wide" "$C/later" > "$WORK/again$np.txt"
  rows "$WORK/a$np.h5" > "$WORK/again$np.rows"
done
[ "$(jq length "$WORK/again8.rows")" = 83 ] || fail "after the second append: $(jq length "$WORK/again8.rows") rows, not 83"
cmp -s "$WORK/again1.rows" "$WORK/again8.rows" || fail "an append of old and new inputs at 8 ranks differs from 1 rank's"
counts() { grep -o "appended [0-9]* recordings.*: [0-9]* skipped.*, [0-9]* conflicts" "$1" | sed 's/ to .* as .*:/:/'; }
[ -n "$(counts "$WORK/again1.txt")" ] || fail "no append summary at 1 rank: $(cat "$WORK/again1.txt")"
[ "$(counts "$WORK/again1.txt")" = "$(counts "$WORK/again8.txt")" ] ||
  fail "append counts at 8 ranks ($(counts "$WORK/again8.txt")) differ from 1 rank's ($(counts "$WORK/again1.txt"))"

# Names that clash, sorted across ranks: two directories with the same file
# names (duplicates), a hard link under another name (the same file), and
# a hard link whose first name is itself a duplicate (nothing more marked),
# a --list path given twice (a duplicate, and the same file as its walked name).
T=$WORK/twins
mkdir -p "$T/a" "$T/b"
for i in $(seq 10 39); do
  "$MKOPUS" --seconds 0.2 --seed $((500 + i)) "$T/a/t$i.opus" > /dev/null
  [ $((i % 3)) = 0 ] && "$MKOPUS" --seconds 0.2 --seed $((600 + i)) "$T/b/t$i.opus" > /dev/null
done
ln "$T/a/t11.opus" "$T/b/h11.opus"
ln "$T/a/t14.opus" "$T/b/t13.opus"
printf '%s\n' "$T/a/t20.opus" "$T/a/t20.opus" > "$WORK/twice.txt" # one path listed twice
for np in 1 3 8; do
  mpi "$np" "$OPUSARC" index -q --allow-failures -o "$WORK/t$np.h5" --list "$WORK/twice.txt" "$T/a" "$T/b"
  rows "$WORK/t$np.h5" > "$WORK/t$np.rows"
done
for np in 3 8; do cmp -s "$WORK/t1.rows" "$WORK/t$np.rows" || fail "clashing names at $np ranks: rows differ from 1 rank's"; done
jq -e '[.[] | select(.error != null and (.error | test("duplicate recording name")))] | length == 12' \
  "$WORK/t1.rows" > /dev/null || fail "the duplicate names are not all marked"
jq -e '.[] | select(.name == "t11.opus" and .path == "'"$T"'/a/t11.opus") | .error | test("the same file as h11.opus")' \
  "$WORK/t1.rows" > /dev/null || fail "a hard link under another name is not marked as the same file"
jq -e '.[] | select(.name == "t14.opus") | .error == null' "$WORK/t1.rows" > /dev/null \
  || fail "a file whose first name failed was marked again"

echo "ranks: rows and samples identical at 1, 2, 3 and 8 ranks (walk, --list, resume, append, sweeps) on a deep and wide tree"
