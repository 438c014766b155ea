#!/usr/bin/env bash
# Crash safety: index jobs are killed (kill -9 of every process, or of one
# rank) at random moments, rerun with --resume (and sometimes killed again),
# until they finish. Every finished archive must hold the same recordings as
# an uninterrupted run, give the same samples, and pass `verify`.
# RESUME_TRIALS (default 24) and RESUME_SEED (default 1) set the trials.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C"
for i in $(seq 1 40); do
  "$MKOPUS" --channels $((1 + i % 2)) --seconds $((10 + i % 13)) --seed "$i" "$C/r$i.opus" > /dev/null
done
head -c 2000 "$C/r5.opus" > "$C/bad.opus"
IDX=(index --allow-failures --batch-mb 0.05)

# Per-recording facts that do not depend on where rows were stored.
rows() { "$OPUSARC" info --json "$1" | grep '^  {"name"' | sed -E 's/"(first_interval|data_offset)": [0-9]+, //g'; }
# Three 0.25 s ranges per recording (start, middle, end) as a query list.
rows_to_queries() {
  echo "id,recording,start,end"
  sed -nE 's/.*"name": "([^"]*)".*"status": "ok".*"samples": ([0-9]+),.*/\1 \2/p' | while read -r name n; do
    m=$((n / 2))
    echo "${name%.opus}_a,$name,0,12000"
    echo "${name%.opus}_m,$name,$m,$((m + 12000))"
    echo "${name%.opus}_z,$name,$((n - 12000)),$n"
  done
}

t0=$(date +%s%N)
mpi 2 "$OPUSARC" "${IDX[@]}" -o "$WORK/ref.h5" "$C" > /dev/null 2>&1
span_ms=$(( ($(date +%s%N) - t0) / 1000000 )) # kill points are drawn from this span
rows "$WORK/ref.h5" > "$WORK/ref.rows"
rows_to_queries < "$WORK/ref.rows" > "$WORK/q.csv"
[ "$(wc -l < "$WORK/q.csv")" = 121 ] || fail "query list from the reference archive"
"$OPUSARC" extract -q "$WORK/ref.h5" --queries "$WORK/q.csv" --out-dir "$WORK/ref.out" --format f32
# The reference itself is checked against opusfile's linear decode.
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/ref.out" f32 > /dev/null || fail "reference extraction not exact"


# Starts a run in the background; after `delay_ms` kills every process of it
# or one rank, or (delay_ms < 0) lets it finish. Returns the run's exit code.
run_once() {
  local np=$1 delay_ms=$2 victim=$3 out=${4:-$WORK/x.h5}
  mpi "$np" "$OPUSARC" "${IDX[@]}" --resume -o "$out" "$C" > "$WORK/run.out" 2> "$WORK/run.err" &
  local pid=$!
  [ "$delay_ms" -lt 0 ] || kill_run "$pid" "$delay_ms" "$victim"
  local rc=0
  wait "$pid" || rc=$?
  # Ranks orphaned by a killed mpirun die with it or finish on their own;
  # either way none may still be running when the next run starts.
  for _ in $(seq 1 100); do pgrep -f "$out" > /dev/null || break; sleep 0.1; done
  pgrep -f "$out" > /dev/null && fail "processes of a killed run still running"
  return $rc
}

# A kill in the narrowest window: the archive closed with its attributes,
# not yet renamed. The resumed run must finish it (it once failed silently
# because the attributes already existed).
OPUSARC_FAULT=rename@0 mpi 2 "$OPUSARC" "${IDX[@]}" -o "$WORK/k.h5" "$C" > /dev/null 2>&1 && fail "the rename fault did not stop the run"
[ -e "$WORK/k.h5.partial" ] && [ ! -e "$WORK/k.h5" ] || fail "rename fault: expected only k.h5.partial"
mpi 2 "$OPUSARC" "${IDX[@]}" --resume -o "$WORK/k.h5" "$C" > "$WORK/run.out" 2> "$WORK/run.err" ||
  { cat "$WORK/run.out" "$WORK/run.err"; fail "resume after a kill before the rename failed"; }
rows "$WORK/k.h5" | diff -q "$WORK/ref.rows" - > /dev/null || fail "resume after a kill before the rename: recordings differ"
"$OPUSARC" verify -q "$WORK/k.h5" > /dev/null || fail "resume after a kill before the rename: verify found damage"

# Killed after the rename, before the commit record is removed: the archive
# is complete and the next --resume says so and removes the record.
OPUSARC_FAULT=renamed@0 mpi 2 "$OPUSARC" "${IDX[@]}" -o "$WORK/k2.h5" "$C" > /dev/null 2>&1 && fail "the renamed fault did not stop the run"
[ -e "$WORK/k2.h5" ] && [ -e "$WORK/k2.h5.partial.commit" ] || fail "renamed fault: expected k2.h5 and its commit record"
"$OPUSARC" "${IDX[@]}" --resume -o "$WORK/k2.h5" "$C" 2>&1 | grep "is complete: nothing to resume" > /dev/null ||
  fail "--resume did not find k2.h5 complete"
[ ! -e "$WORK/k2.h5.partial.commit" ] || fail "the stale commit record of k2.h5 was not removed"

RANDOM=${RESUME_SEED:-1}
trials=${RESUME_TRIALS:-24}
kills=0 kept=0 fresh=0
for t in $(seq 1 "$trials"); do
  rm -rf "$WORK"/x.h5 "$WORK"/x.h5.* "$WORK/x.out"
  nkill=$((1 + RANDOM % 2))
  for attempt in 1 2 3 4; do
    np=$((1 + RANDOM % 3))
    if [ "$attempt" -le "$nkill" ]; then
      victim=$([ $((RANDOM % 2)) = 0 ] && echo all || echo one)
      delay=$((RANDOM * span_ms / 32768))
      kills=$((kills + 1))
      run_once "$np" "$delay" "$victim" || true
    else
      run_once "$np" -1 none || { cat "$WORK/run.out" "$WORK/run.err"; fail "trial $t: resumed run failed"; }
    fi
    if [ "$attempt" -gt 1 ]; then
      grep -q "resuming .*: [1-9][0-9]* of" "$WORK/run.out" "$WORK/run.err" && kept=$((kept + 1))
      grep -q "nothing to resume (no commit\|starting over" "$WORK/run.out" "$WORK/run.err" && fresh=$((fresh + 1))
    fi
    [ -f "$WORK/x.h5" ] && break
  done
  [ -f "$WORK/x.h5" ] || fail "trial $t: no archive after resuming"
  if [ -e "$WORK/x.h5.partial.commit" ] && [ ! -e "$WORK/x.h5.partial" ]; then
    # Killed between the rename and removing the commit record: the next
    # --resume finds the archive complete and removes the record.
    run_once 1 -1 none || fail "trial $t: --resume on a complete archive failed"
    grep -q "is complete: nothing to resume" "$WORK/run.out" "$WORK/run.err" || fail "trial $t: a complete archive was not recognised"
  fi
  left=$(cd "$WORK" && ls -d x.h5.* 2> /dev/null || true)
  [ -z "$left" ] || fail "trial $t: leftovers: $left"
  rows "$WORK/x.h5" > "$WORK/x.rows"
  diff "$WORK/ref.rows" "$WORK/x.rows" > /dev/null || { diff "$WORK/ref.rows" "$WORK/x.rows" | head; fail "trial $t: recordings differ"; }
  "$OPUSARC" extract -q "$WORK/x.h5" --queries "$WORK/q.csv" --out-dir "$WORK/x.out" --format f32
  diff -r "$WORK/ref.out" "$WORK/x.out" > /dev/null || fail "trial $t: extracted samples differ"
  "$OPUSARC" verify -q "$WORK/x.h5" > /dev/null || fail "trial $t: verify found damage"
done
[ "$kept" -gt 0 ] || fail "no resumed run kept committed work: the kill points missed every commit"
echo "resume: $trials trials, $kills kill points; $trials/$trials resumed to identical recordings and samples;" \
     "$kept resumed runs kept committed work, $fresh started over (killed before the first commit)," \
     "the others found the archive complete (killed after it was renamed) or were killed again"

# A finished archive: --resume says so and changes nothing.
"$OPUSARC" "${IDX[@]}" --resume -o "$WORK/x.h5" "$C" 2>&1 | grep "is complete" > /dev/null || fail "resume of a complete archive"
# A partial archive is not silently replaced without --resume or --force.
cp "$WORK/ref.h5" "$WORK/y.h5.partial"
set +e
"$OPUSARC" "${IDX[@]}" -o "$WORK/y.h5" "$C" > /dev/null 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "use --resume to continue it" "$WORK/err.txt" || fail "partial archive overwritten"
# Resuming with other options or another corpus starts over, saying why.
run_once 2 $((span_ms / 2)) all "$WORK/z.h5" || true
if [ -e "$WORK/z.h5.partial.commit" ]; then
  "$OPUSARC" "${IDX[@]}" --checkpoint-every 3 --resume -o "$WORK/z.h5" "$C" > /dev/null 2> "$WORK/err.txt" || true
  grep -q "options differ from the interrupted run" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "option change not noticed"; }
fi
echo "resume: all checks passed"
