#!/usr/bin/env bash
# Nothing is lost (issue 11, cases 1-5, 10 and 13 for index): one writer per
# archive, whose lock dies with its holder; no output replaces an input or
# an existing file without --force; planted names are never followed;
# --resume refuses other inputs, changed sources and other options, naming
# them; a stopped run keeps its committed work; summaries describe the
# archive. Each check below failed on the main of 2026-11-24.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C/a" "$C/b"
for i in 1 2 3 4 5 6; do
  "$MKOPUS" --channels $((i % 2 + 1)) --seconds 4 --seed "$i" "$C/a/r$i.opus" > /dev/null
done
"$MKOPUS" --channels 1 --seconds 3 --seed 40 "$C/b/new.opus" > /dev/null
IDX=(index -q --batch-mb 0.02)

rows() { "$OPUSARC" info "$1" | sed -n '/^status/,$p'; }
wait_for() { # wait_for FILE PATTERN: up to 30 s
  for _ in $(seq 300); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.1; done
  fail "$1 never showed '$2'"
}

"$OPUSARC" "${IDX[@]}" -o "$WORK/ref.h5" "$C/a"
rows "$WORK/ref.h5" > "$WORK/ref.rows"

# 1. One writer per archive. A job holding the lock (stalled on purpose)
# makes a second one refuse at once, naming host, pid and Slurm job; once
# the holder is killed with -9, --resume proceeds.
for mode in flock file; do
  lockenv=()
  [ "$mode" = file ] && lockenv=(OPUSARC_LOCK=file)
  rm -f "$WORK/l.h5"*
  env "${lockenv[@]}" OPUSARC_FAULT=stall@0 SLURM_JOB_ID=4242 "$OPUSARC" "${IDX[@]}" -o "$WORK/l.h5" "$C/a" \
    > /dev/null 2>&1 &
  holder=$!
  wait_for "$WORK/l.h5.lock" "pid=$holder"
  expect 1 "is being written by another job (host $(hostname), pid $holder, Slurm job 4242" \
    env "${lockenv[@]}" "$OPUSARC" "${IDX[@]}" -o "$WORK/l.h5" "$C/a"
  expect 1 "is being written by another job" env "${lockenv[@]}" "$OPUSARC" "${IDX[@]}" --resume --force \
    -o "$WORK/l.h5" "$C/a"
  [ "$mode" = file ] && { grep -q "remove $WORK/l.h5.lock" "$WORK/log.txt" || fail "file lock: no advice"; }
  kill -9 "$holder"
  wait "$holder" || true
  expect 0 "" env "${lockenv[@]}" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/l.h5" "$C/a"
  [ "$mode" = file ] && { grep -q "took over the stale lock" "$WORK/log.txt" || fail "stale file lock not named"; }
  rows "$WORK/l.h5" | diff -q "$WORK/ref.rows" - > /dev/null || fail "$mode lock: archive differs"
  [ ! -e "$WORK/l.h5.lock" ] || fail "$mode lock: lock file left after the run"
done

# 2. Outputs never replace an input, and replace an existing output only
# with --force.
cp "$C/a/r1.opus" "$WORK/keep.opus"
expect 1 "is an input of this command" "$OPUSARC" "${IDX[@]}" --force -o "$C/a/r1.opus" "$C/a"
cmp -s "$C/a/r1.opus" "$WORK/keep.opus" || fail "index --force replaced an input"
echo "previous" > "$WORK/x.f32"
expect 1 "already exists (use --force" "$OPUSARC" extract "$WORK/ref.h5" --recording r1.opus --start 0 \
  --end 100 --format f32 -o "$WORK/x.f32"
[ "$(cat "$WORK/x.f32")" = previous ] || fail "extract -o replaced an existing file without --force"
cp "$WORK/ref.h5" "$WORK/ref.copy"
expect 1 "is an input of this command" "$OPUSARC" extract "$WORK/ref.h5" --recording r1.opus --start 0 \
  --end 100 --format f32 --force -o "$WORK/ref.h5"
cmp -s "$WORK/ref.h5" "$WORK/ref.copy" || fail "extract -o ARCHIVE --force destroyed the archive"
mkdir "$WORK/adir"
expect 1 "is a directory" "$OPUSARC" extract "$WORK/ref.h5" --recording r1.opus --start 0 --end 100 \
  --format f32 -o "$WORK/adir"
"$OPUSARC" extract -q "$WORK/ref.h5" --recording r1.opus --start 0 --end 100 --format f32 --force \
  -o "$WORK/x.f32" || fail "--force did not replace an output"
[ "$(stat -c %s "$WORK/x.f32")" = $((100 * 2 * 4)) ] || fail "replaced output has the wrong size"

# 3. Planted names are never followed; FIFOs are not replaced.
echo "victim" > "$WORK/victim"
mkfifo "$WORK/fifo.f32"
expect 1 "is a FIFO" "$OPUSARC" extract "$WORK/ref.h5" --recording r1.opus --start 0 --end 100 --format f32 \
  --force -o "$WORK/fifo.f32"
[ -p "$WORK/fifo.f32" ] || fail "the FIFO was replaced"
ln -s "$WORK/fifo.f32" "$WORK/to-fifo"
expect 1 "is a FIFO" "$OPUSARC" extract "$WORK/ref.h5" --recording r1.opus --start 0 --end 100 --format f32 \
  -o "$WORK/to-fifo"
ln -s "$WORK/victim" "$WORK/p.h5.partial"
ln -s "$WORK/victim" "$WORK/p.h5.partial.commit.tmp"
"$OPUSARC" "${IDX[@]}" --force -o "$WORK/p.h5" "$C/a" || fail "index with a planted .partial"
[ "$(cat "$WORK/victim")" = victim ] || fail "index wrote through a planted symlink"
mkdir -p "$WORK/sw"
{ echo "id,recording,start,end"; echo "long,r2.opus,0,150000"; echo "short,r3.opus,0,4800"; } > "$WORK/q.csv"
ln -s "$WORK/victim" "$WORK/sw/long.f32.partial"
ln -s "$WORK/victim" "$WORK/clips.h5.partial"
printf '%0200000d' 0 > "$WORK/sw/short.f32.partial" # a stale, longer temporary file of a killed sweep
mpi 2 "$OPUSARC" extract -q "$WORK/ref.h5" --queries "$WORK/q.csv" --piece 1 --out-dir "$WORK/sw" --format f32 ||
  fail "sweep with planted temporary names"
mpi 2 "$OPUSARC" extract -q "$WORK/ref.h5" --queries "$WORK/q.csv" --piece 1 --out "$WORK/clips.h5" ||
  fail "clips with a planted temporary name"
[ "$(cat "$WORK/victim")" = victim ] || fail "a sweep wrote through a planted symlink"
"$REFCHECK" "$C/a" "$WORK/q.csv" "$WORK/sw" f32 > /dev/null || fail "sweep outputs differ from opusfile"
"$REFCHECK" "$C/a" "$WORK/q.csv" "$WORK/clips.h5" h5 > /dev/null || fail "clips differ from opusfile"
expect 1 "sw/long.f32 already exists" mpi 2 "$OPUSARC" extract "$WORK/ref.h5" --queries "$WORK/q.csv" \
  --out-dir "$WORK/sw" --format f32
expect 1 "already exists" "$OPUSARC" extract "$WORK/ref.h5" --queries "$WORK/q.csv" --out "$WORK/clips.h5"
ln -s "$WORK/ref.h5" "$WORK/alias.h5"
expect 1 "is an input of this command" "$OPUSARC" extract "$WORK/ref.h5" --queries "$WORK/q.csv" --force \
  --out "$WORK/alias.h5"
cmp -s "$WORK/ref.h5" "$WORK/ref.copy" || fail "--out through a symlink destroyed the archive"
cp "$WORK/q.csv" "$WORK/q.copy"
expect 1 "is an input of this command" "$OPUSARC" extract "$WORK/ref.h5" --queries "$WORK/q.csv" --force \
  --out "$WORK/q.csv"
cmp -s "$WORK/q.csv" "$WORK/q.copy" || fail "--out replaced the queries file"
ls "$C/a"/*.opus > "$WORK/list.txt"
expect 1 "is an input of this command" "$OPUSARC" "${IDX[@]}" --force -o "$WORK/list.txt" --list "$WORK/list.txt"
ls "$WORK/sw" | grep -v '^long.f32$\|^short.f32$\|^long.f32.partial$\|^short.f32.partial$' && fail "files left in sw"

# 4. --resume on a complete archive compares the inputs with what it holds.
cp -r "$C/a" "$WORK/c2"
"$OPUSARC" "${IDX[@]}" -o "$WORK/c.h5" "$WORK/c2"
expect 0 "is complete: nothing to resume" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/c.h5" "$WORK/c2"
cp "$C/b/new.opus" "$WORK/c2/"
expect 1 "1 new recording (new.opus)" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/c.h5" "$WORK/c2"
grep -q "It was not changed" "$WORK/log.txt" || fail "refusal does not say the archive was kept"
rm "$WORK/c2/new.opus"
touch -d "2020-01-01 00:00" "$WORK/c2/r3.opus"
expect 1 "r3.opus: modification time" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/c.h5" "$WORK/c2"
cp "$WORK/c2/r4.opus" "$WORK/r4.tmp" && mv "$WORK/r4.tmp" "$WORK/c2/r4.opus"
expect 1 "r4.opus: modification time, inode" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/c.h5" "$WORK/c2"
rm "$WORK/c2/r5.opus"
expect 1 "1 recording no longer in the inputs (r5.opus)" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/c.h5" "$WORK/c2"
rows "$WORK/c.h5" | diff -q "$WORK/ref.rows" - > /dev/null || fail "a refused --resume changed the archive"

# A killed --force rebuild: the old archive stays, the rebuild's .partial
# is not orphaned, and --force --resume finishes it.
"$OPUSARC" "${IDX[@]}" -o "$WORK/f.h5" "$C/b"
OPUSARC_FAULT=rename@0 "$OPUSARC" "${IDX[@]}" --force -o "$WORK/f.h5" "$C/a" > /dev/null 2>&1 &&
  fail "the rename fault did not stop the rebuild"
[ -e "$WORK/f.h5.partial" ] && [ -e "$WORK/f.h5.partial.commit" ] || fail "rebuild left no resumable partial"
expect 1 "holds an interrupted rebuild" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/f.h5" "$C/a"
expect 0 "resuming" "$OPUSARC" index --batch-mb 0.02 --force --resume -o "$WORK/f.h5" "$C/a"
rows "$WORK/f.h5" | diff -q "$WORK/ref.rows" - > /dev/null || fail "finished rebuild differs"

# A changed source since it was committed, and other options: refused,
# naming the file / the option as typed; the committed work is kept.
cp -r "$C/a" "$WORK/c3"
OPUSARC_FAULT=rename@0 "$OPUSARC" "${IDX[@]}" -o "$WORK/k.h5" "$WORK/c3" > /dev/null 2>&1 && fail "no kill"
touch -d "2020-01-01 00:00" "$WORK/c3/r2.opus"
expect 1 "r2.opus: modification time" "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/k.h5" "$WORK/c3"
[ -e "$WORK/k.h5.partial.commit" ] || fail "a refused --resume discarded the committed work"
rm -rf "$WORK/c3" "$WORK/k.h5"* && cp -r "$C/a" "$WORK/c3"
OPUSARC_FAULT=rename@0 "$OPUSARC" "${IDX[@]}" -o "$WORK/k.h5" "$WORK/c3" > /dev/null 2>&1 && fail "no kill"
expect 1 "bitrate: 32 in the interrupted run, 64 now" "$OPUSARC" "${IDX[@]}" --bitrate 64 --resume \
  -o "$WORK/k.h5" "$WORK/c3"
expect 1 "checkpoint-every: 2 in the interrupted run, 1 now" "$OPUSARC" "${IDX[@]}" --checkpoint-every 1 --resume \
  -o "$WORK/k.h5" "$WORK/c3"
grep -q "application=" "$WORK/log.txt" && fail "internal option text shown"
[ -e "$WORK/k.h5.partial.commit" ] || fail "other options discarded the committed work"

# 10. After --resume the summary describes the archive.
"$OPUSARC" index --batch-mb 0.02 -o "$WORK/t.h5" "$C/a" > "$WORK/plain.txt"
OPUSARC_FAULT=rename@0 "$OPUSARC" "${IDX[@]}" -o "$WORK/t2.h5" "$C/a" > /dev/null 2>&1 && fail "no kill"
"$OPUSARC" index --batch-mb 0.02 --resume -o "$WORK/t2.h5" "$C/a" > "$WORK/resumed.txt"
totals=$(grep -o 'indexed 6, failed 0 recordings: [^;]*' "$WORK/plain.txt" | sed 's/.*recordings//')
grep -qF "indexed 6, failed 0 recordings (incl. the interrupted run's)$totals;" "$WORK/resumed.txt" ||
  { cat "$WORK/plain.txt" "$WORK/resumed.txt"; fail "resumed summary does not describe the archive"; }

# --list: empty lines and '#' comments are skipped (documented); a file
# whose name starts with '#' is given as ./#name.
cp "$C/a/r1.opus" "$WORK/#hash.opus"
printf '# my recorders\n\n%s\n%s\n./#hash.opus\n' "$C/a/r2.opus" "$C/a/r3.opus" > "$WORK/files.txt"
(cd "$WORK" && "$OPUSARC" "${IDX[@]}" -o "$WORK/list.h5" --list files.txt) || fail "index --list"
[ "$("$OPUSARC" info "$WORK/list.h5" | grep -c '^ok ')" = 3 ] || fail "--list: 3 recordings expected"

# The disk-space reservation asks for what a batch needs, not a fixed
# 4 MiB more: an archive that fits a 1 MiB file system is written.
if mkdir -p "$WORK/small" && mount -t tmpfs -o size=1m tmpfs "$WORK/small" 2> /dev/null; then
  "$OPUSARC" "${IDX[@]}" -o "$WORK/small/s.h5" "$C/a" || { umount "$WORK/small"; fail "a batch that fits was refused"; }
  umount "$WORK/small"
fi

# 13. SIGTERM (Slurm's time limit, scancel) stops index at a commit, says
# so, and --resume continues to the same archive; under mpirun too.
for launch in plain mpirun; do
  rm -f "$WORK/s.h5"*
  if [ "$launch" = plain ]; then
    OPUSARC_FAULT=slow@0 "$OPUSARC" index --batch-mb 0.01 -o "$WORK/s.h5" "$C/a" > "$WORK/term.txt" 2>&1 &
  else
    OPUSARC_FAULT=slow@0,slow@1 "$MPIEXEC" -np 2 "$OPUSARC" index --batch-mb 0.01 -o "$WORK/s.h5" "$C/a" > "$WORK/term.txt" 2>&1 &
  fi
  job=$!
  for _ in $(seq 300); do [ -e "$WORK/s.h5.partial.commit" ] && break; sleep 0.1; done
  # Slurm signals every process of the job; mpirun itself does not pass a
  # SIGTERM on to its ranks (Open MPI 4.1), so signal them as Slurm does.
  if [ "$launch" = plain ]; then kill -TERM "$job"; else pkill -TERM -P "$job"; fi
  set +e
  wait "$job"
  rc=$?
  set -e
  [ "$rc" = 1 ] || { cat "$WORK/term.txt"; fail "$launch: SIGTERM exit $rc, expected 1"; }
  grep -q "stopped by SIGTERM at a commit: .*s.h5.partial kept with [0-9]* committed recordings" "$WORK/term.txt" ||
    { cat "$WORK/term.txt"; fail "$launch: no message after SIGTERM"; }
  "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/s.h5" "$C/a" || fail "$launch: resume after SIGTERM"
  rows "$WORK/s.h5" | diff -q "$WORK/ref.rows" - > /dev/null || fail "$launch: archive after SIGTERM differs"
done

echo "never_lose: one writer per archive, inputs and outputs protected, resume refuses differences, SIGTERM"
