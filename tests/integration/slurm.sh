#!/usr/bin/env bash
# The shipped jobs/ scripts under a real single-node Slurm (Debian's
# slurm-wlm + munge, started here by scripts/slurm-local.sh and stopped at the
# end), 2 tasks each, configured only through the environment of sbatch (as a
# user would by editing the two lines at their top):
#   index.sbatch   -> archive complete, summary JSON, job log with summary;
#                     killed mid-run by scancel and submitted again: resumes;
#                     as an array of 2 tasks run one after the other
#   a copy of verify.sbatch with its ARCHIVE line edited, as a new user would
#   extract.sbatch -> every query exact against opusfile's linear decode
#   verify.sbatch  -> 0 mismatched (with VERIFY_OPTS=--no-snapshots)
#   scaling.sbatch -> the scaling study's CSV and plots, at 1 and 2 ranks
source "$(dirname "$0")/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || fail "the Slurm test starts slurmd and needs root"
S=$WORK/slurm
export SLURM_LOCAL_PORT=$((17000 + RANDOM % 2000))
trap '"$ROOT/scripts/slurm-local.sh" stop "$S" || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
eval "$("$ROOT/scripts/slurm-local.sh" start "$S")"
export SLURM_CONF

C=$WORK/corpus
mkdir -p "$C/site1" "$C/site2"
for i in $(seq 1 10); do
  "$MKOPUS" --channels $((1 + i % 2)) --seconds $((20 + 3 * i)) --seed "$i" "$C/site$((1 + i % 2))/r$i.opus" > /dev/null
done
export OPUSARC CORPUS=$C ARCHIVE=$WORK/out/corpus.h5
cd "$WORK"

# job_state ID: the job's final state as Slurm reports it.
job_state() { scontrol show job "$1" 2> /dev/null | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p'; }
submit_wait() { # submit_wait SCRIPT [sbatch options]: runs it to the end, prints the job id
  local script=$1; shift
  local id
  id=$(sbatch --parsable --wait "$@" "$ROOT/jobs/$script") || true
  echo "$id"
}

# index: killed once it has committed something, then submitted again.
id=$(sbatch --parsable --export=ALL,INDEX_OPTS=--batch-mb=0.05 "$ROOT/jobs/index.sbatch")
# Polls until the first commit; a slow machine may take a while to start the
# job, a fast one may finish it between two polls (then resume is still checked).
for _ in $(seq 1 1200); do
  [ -e "$ARCHIVE.partial.commit" ] || [ -e "$ARCHIVE" ] && break
  case $(job_state "$id") in FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  sleep 0.05
done
[ -e "$ARCHIVE.partial.commit" ] || [ -e "$ARCHIVE" ] ||
  fail "index job $id never committed: $(job_state "$id") (log: $(cat opusarc-index-"$id".out 2> /dev/null))"
scancel --signal=KILL "$id"
for _ in $(seq 1 100); do case $(job_state "$id") in RUNNING|PENDING|COMPLETING|"") sleep 0.1 ;; *) break ;; esac; done
[ ! -e "$ARCHIVE" ] || echo "slurm: the index job finished before scancel reached it (resume still checked below)"
id2=$(submit_wait index.sbatch --export=ALL,INDEX_OPTS=--batch-mb=0.05)
[ "$(job_state "$id2")" = COMPLETED ] || { cat opusarc-index-"$id2".out; fail "index job $id2: $(job_state "$id2")"; }
log=opusarc-index-$id2.out
[ -f "$ARCHIVE" ] && [ ! -e "$ARCHIVE.partial" ] || fail "no complete archive"
grep -Eq "resuming .* [0-9]+ of 10 recordings|is complete: nothing to resume" "$log" || { cat "$log"; fail "second index job did not resume"; }
jq -e '.ranks == 2 and .indexed == 10 and .failed == 0' "$ARCHIVE.summary.json" > /dev/null ||
  { cat "$log"; fail "index summary JSON"; }

# The pattern for corpora too large for one allocation: an array whose tasks
# run one after another, each resuming; here the first finishes the archive
# and the second finds it complete.
arr=$(sbatch --parsable --wait --array=1-2%1 --export=ALL,ARCHIVE="$WORK/out/chained.h5" "$ROOT/jobs/index.sbatch") || true
for t in 1 2; do
  [ "$(job_state "${arr}_$t")" = COMPLETED ] || fail "array task $t: $(job_state "${arr}_$t")"
done
[ -f "$WORK/out/chained.h5" ] || fail "array: no archive"
grep -q "chained.h5 is complete: nothing to resume" opusarc-index-*.out || fail "array: second task did not find the archive complete"

# A new user's way: copy a script, edit its two lines, submit.
sed -e "s|^ARCHIVE=.*|ARCHIVE=$ARCHIVE|" "$ROOT/jobs/verify.sbatch" > "$WORK/my-verify.sbatch"
grep -q "^ARCHIVE=$ARCHIVE\$" "$WORK/my-verify.sbatch" || fail "the ARCHIVE line of verify.sbatch is not where a user edits it"
id=$(sbatch --parsable --wait "$WORK/my-verify.sbatch") || true
[ "$(job_state "$id")" = COMPLETED ] || { cat opusarc-verify-"$id".out; fail "edited verify.sbatch: $(job_state "$id")"; }

# extract: interval edges and random ranges, checked against opusfile.
"$MKQUERIES" "$ARCHIVE" 5 7 > "$WORK/q.csv"
nq=$(($(wc -l < "$WORK/q.csv") - 1))
id=$(submit_wait extract.sbatch --export=ALL,QUERIES="$WORK/q.csv",FORMAT=f32,OUT_DIR="$WORK/clips")
[ "$(job_state "$id")" = COMPLETED ] || { cat opusarc-extract-"$id".out; fail "extract job $id: $(job_state "$id")"; }
grep -q "extracted $nq, failed 0" opusarc-extract-"$id".out || { cat opusarc-extract-"$id".out; fail "extract summary"; }
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/clips" f32 > /dev/null || fail "extraction under Slurm is not exact"

# verify.
id=$(submit_wait verify.sbatch --export=ALL,VERIFY_OPTS=--no-snapshots)
[ "$(job_state "$id")" = COMPLETED ] || { cat opusarc-verify-"$id".out; fail "verify job $id: $(job_state "$id")"; }
grep -q "0 mismatched, 0 recordings unreadable" opusarc-verify-"$id".out || fail "verify summary"
grep -q "on 2 ranks" opusarc-verify-"$id".out || fail "verify did not run on 2 ranks"

# scaling study, tiny.
id=$(submit_wait scaling.sbatch --export=ALL,OPUSARC_REPO="$ROOT",SCALING_CORPUS="$C",SCALING_OUT="$WORK/scaling",SCALING_QUERIES=100,SCALING_WEAK=3)
[ "$(job_state "$id")" = COMPLETED ] || { cat opusarc-scaling-"$id".out; fail "scaling job $id: $(job_state "$id")"; }
grep -q "^index_strong_wall_np2," "$WORK/scaling/scaling.csv" || { cat "$WORK/scaling/scaling.csv"; fail "scaling CSV"; }
echo "slurm: index (killed and resumed), extract, verify and scaling jobs ran under a real Slurm with 2 tasks"
