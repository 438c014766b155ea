#!/usr/bin/env bash
# One rank fails (OPUSARC_FAULT=point@rank makes it fail at a chosen place)
# at np 2 and 3: every job ends within its time limit (no rank blocked in a
# collective), with one clear error, the documented exit code and no output
# presented as complete. Then a real EIO below HDF5 on one rank (ended by
# --io-timeout when it leaves HDF5's ranks stuck, then resumed), and a real
# full disk (a 256 KiB tmpfs, where this machine lets us mount one).
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C"
for i in 1 2 3 4 5 6; do "$MKOPUS" --channels $((1 + i % 2)) --seconds $((2 + i)) --seed "$i" "$C/f$i.opus" > /dev/null; done
"$OPUSARC" index -q -o "$WORK/good.h5" "$C"
"$OPUSARC" info --json "$WORK/good.h5" | sed -nE 's/.*"name": "([^"]*)".*"samples": ([0-9]+),.*/\1 \2/p' |
  awk 'BEGIN { print "id,recording,start,end" } { print "q" NR "," $1 ",0," ($2 < 96000 ? $2 : 96000) }' > "$WORK/q.csv"

# run FAULT NP EXPECTED_EXIT PATTERN CMD...: the job must end within 120 s.
run() {
  local fault=$1 np=$2 want=$3 pattern=$4; shift 4
  local rc=0
  OPUSARC_FAULT=$fault timeout 120 "$MPIEXEC" -np "$np" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || rc=$?
  [ "$rc" != 124 ] || fail "$fault at np $np: the job hung (killed by timeout): $*"
  [ "$rc" = "$want" ] || { cat "$WORK/err.txt"; fail "$fault at np $np: exit $rc, expected $want: $*"; }
  grep -q -- "$pattern" "$WORK/err.txt" "$WORK/out.txt" || { cat "$WORK/err.txt"; fail "$fault at np $np: no '$pattern'"; }
}
errors() { grep -c "error:" "$WORK/err.txt" || true; }

for np in 2 3; do
  last=$((np - 1))
  # Indexing: a failed write, a full disk, a commit record that cannot be written.
  for fault in "write@1" "enospc@$last" "commit@0"; do
    rm -f "$WORK"/x.h5*
    case $fault in
      write*) msg="writing to .*x.h5.partial failed: Input/output error" ;;
      enospc*) msg="writing to .*x.h5.partial failed: No space left on device" ;;
      commit*) msg="cannot write .*x.h5.partial.commit" ;;
    esac
    run "$fault" "$np" 1 "$msg" "$OPUSARC" index -q -o "$WORK/x.h5" "$C"
    [ "$(errors)" = 1 ] || { cat "$WORK/err.txt"; fail "$fault at np $np: expected exactly one error line"; }
    [ ! -e "$WORK/x.h5" ] && [ ! -e "$WORK/x.h5.partial" ] || fail "$fault at np $np: output left behind"
  done
  # Indexing: one rank cannot write its batch's spill file (batches of 20 KB spill at once).
  rm -f "$WORK"/x.h5*
  run "spill@$last" "$np" 1 "cannot write the batch's spill file .*x.h5.spill-.*: Input/output error" \
    "$OPUSARC" index -q --batch-mb 0.02 -o "$WORK/x.h5" "$C"
  [ "$(errors)" = 1 ] || { cat "$WORK/err.txt"; fail "spill fault at np $np: expected exactly one error line"; }
  [ ! -e "$WORK/x.h5" ] || fail "spill fault at np $np: an archive presented as complete"
  ls "$WORK"/x.h5.spill-* > /dev/null 2>&1 && fail "spill fault at np $np: a spill file was left behind"
  # Indexing: one rank fails in the shared walk, or cannot receive its share of the list.
  rm -f "$WORK"/x.h5*
  run "walk@$last" "$np" 1 "cannot walk the corpus (injected fault)" "$OPUSARC" index -q -o "$WORK/x.h5" "$C"
  [ "$(errors)" = 1 ] || { cat "$WORK/err.txt"; fail "walk fault at np $np: expected exactly one error line"; }
  run "share@$last" "$np" 1 "cannot share the corpus list: .*(injected fault)" "$OPUSARC" index -q -o "$WORK/x.h5" "$C"
  [ "$(errors)" = 1 ] || { cat "$WORK/err.txt"; fail "share fault at np $np: expected exactly one error line"; }
  [ ! -e "$WORK/x.h5" ] && [ ! -e "$WORK/x.h5.partial" ] || fail "share fault at np $np: output left behind"
  # Indexing: one rank cannot read its files; the others' recordings are kept.
  rm -f "$WORK"/x.h5*
  run "source@1" "$np" 3 "failed [1-9]" "$OPUSARC" index -q -o "$WORK/x.h5" "$C"
  grep -q "cannot read: Input/output error (injected fault)" "$WORK/err.txt" || fail "source fault reason"
  "$OPUSARC" info --json "$WORK/x.h5" | grep '"status": "ok"' > /dev/null || fail "good recordings lost with one rank's failures"
  # Extraction sweep: one rank cannot read the archive; its queries fail, the others are written.
  rm -rf "$WORK/out"
  run "read@1" "$np" 1 "failed [1-9]" "$OPUSARC" extract "$WORK/good.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out" --format f32
  [ "$(ls "$WORK/out" | wc -l)" -ge 1 ] || fail "read fault at np $np: no query written by the healthy ranks"
  ls "$WORK/out" | grep partial > /dev/null && fail "read fault at np $np: partial output left"
  # Sweep into one HDF5 clips file: no file presented as complete.
  rm -f "$WORK/clips.h5"
  run "read@$last" "$np" 1 "failed [1-9]" "$OPUSARC" extract "$WORK/good.h5" --queries "$WORK/q.csv" --out "$WORK/clips.h5"
  # One rank cannot open the archive: one message, nothing written.
  rm -rf "$WORK/out2"
  run "open@$last" "$np" 1 "cannot open archive (injected fault)" "$OPUSARC" extract "$WORK/good.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out2" --format f32
  [ ! -e "$WORK/out2" ] || [ -z "$(ls "$WORK/out2")" ] || fail "open fault at np $np: output written"
  # Verify: one rank's reads fail; reported, not hung.
  run "read@1" "$np" 1 "recordings unreadable" "$OPUSARC" verify -q "$WORK/good.h5"
  run "open@1" "$np" 1 "cannot open archive (injected fault)" "$OPUSARC" verify -q "$WORK/good.h5"
done
echo "faults: injected faults at np 2 and 3 all ended cleanly"

# A real I/O error below HDF5 (eio_shim.so: one rank's writes fail with EIO
# after its first N): inside a collective HDF5 call this leaves the ranks
# waiting for each other in different calls, and only --io-timeout ends the
# job. Every run must end well within the 120 s limit, and --resume (without
# the shim) must then finish an archive equal to the undisturbed one.
asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 # the shim is preloaded ahead of ASan's runtime
stuck=0 clean=0
"$OPUSARC" info --json "$WORK/good.h5" | grep '^  {"name"' | sed -E 's/"(first_interval|data_offset)": [0-9]+, //g' > "$WORK/good.rows"
# (np, failing rank, writes before the first failure): with OMPIO only
# aggregator ranks write, so the failing rank differs with np.
for case in "2 1 0" "2 1 1" "2 1 2" "3 0 0" "3 0 1" "3 0 2"; do
  read -r np victim after <<< "$case"
  rm -f "$WORK"/x.h5*
  rc=0
  ASAN_OPTIONS=$asan timeout 120 "$MPIEXEC" -np "$np" -x LD_PRELOAD="$EIO_SHIM" -x EIO_RANK="$victim" -x EIO_AFTER="$after" \
    "$OPUSARC" index -q --io-timeout 5 --batch-mb 0.02 -o "$WORK/x.h5" "$C" > "$WORK/out.txt" 2> "$WORK/err.txt" || rc=$?
  [ "$rc" != 124 ] || fail "EIO after $after writes on rank $victim of $np: the job hung until the test's limit"
  if grep -q "has not finished after 5 s" "$WORK/err.txt"; then stuck=$((stuck + 1));
  elif grep -q "writing to .*x.h5.partial failed: Input/output error" "$WORK/err.txt"; then clean=$((clean + 1));
  elif grep -q "cannot write the batch's spill file .*x.h5.spill-.*: Input/output error" "$WORK/err.txt"; then clean=$((clean + 1));
  elif [ "$rc" != 0 ]; then cat "$WORK/err.txt"; fail "EIO after $after writes on rank $victim of $np: exit $rc without a reason"; fi
  [ "$rc" = 0 ] || [ ! -e "$WORK/x.h5" ] || fail "EIO after $after writes on rank $victim of $np: an archive presented as complete"
  mpi "$np" "$OPUSARC" index -q --resume --batch-mb 0.02 -o "$WORK/x.h5" "$C" > /dev/null ||
    fail "EIO after $after writes on rank $victim of $np: --resume did not finish the archive"
  "$OPUSARC" info --json "$WORK/x.h5" | grep '^  {"name"' | sed -E 's/"(first_interval|data_offset)": [0-9]+, //g' |
    diff -q "$WORK/good.rows" - > /dev/null || fail "EIO after $after writes on rank $victim of $np: resumed archive differs"
  "$OPUSARC" verify -q "$WORK/x.h5" > /dev/null || fail "EIO after $after writes on rank $victim of $np: resumed archive fails verify"
done
[ "$stuck" -gt 0 ] || fail "no run got stuck in a collective call: the EIO case proves nothing here"
echo "faults: real EIO on one rank: $stuck runs stuck in HDF5 ended by --io-timeout, $clean failed cleanly; all resumed"

# A real full disk, if this machine lets us mount a small tmpfs.
if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/full" && mount -t tmpfs -o size=256k tmpfs "$WORK/full" 2> /dev/null; then
  trap 'umount "$WORK/full" 2> /dev/null || true; rm -rf "$WORK"' EXIT
  for i in 7 8 9 10; do "$MKOPUS" --seconds 30 --seed "$i" "$C/big$i.opus" > /dev/null; done
  run "" 2 1 "No space left on device\|failed" "$OPUSARC" index -q -o "$WORK/full/x.h5" "$C"
  [ ! -e "$WORK/full/x.h5" ] || fail "an archive presented as complete on a full disk"
  grep -m 3 "error:" "$WORK/err.txt" || true
  umount "$WORK/full"
  echo "faults: a real full disk (256 KiB tmpfs) ended cleanly"
else
  echo "faults: cannot mount a tmpfs here; the real full-disk case was skipped (injected ENOSPC above still ran)"
fi
