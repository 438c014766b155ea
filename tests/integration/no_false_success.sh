#!/usr/bin/env bash
# No wrong result reported as success (issue 11, cases 6-9, 11-13 for
# sweeps, and the misleading messages): duplicate and colliding ids are
# refused or impossible, uncovered audio is counted, damaged PCM is a failed
# row, stdin queries work on many ranks, a full disk ends a clips sweep with
# one message, a stopped sweep says what it wrote and leaves no temporary
# files. Each check below failed on the main of 2026-11-24.
source "$(dirname "$0")/common.sh"
: "${MKPCM:?}"
C=$WORK/corpus
mkdir -p "$C/x" "$C/deep/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})"
"$MKOPUS" --channels 1 --seconds 6 --seed 1 "$C/x/y.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 5 --seed 2 "$C/x_y.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 1 --seed 3 "$C/short.opus" > /dev/null
long=$(printf 'n%.0s' {1..40})
"$MKOPUS" --channels 1 --seconds 3 --seed 4 "$C/deep/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})/${long}1.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 3 --seed 5 "$C/deep/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})/${long}2.opus" > /dev/null
mpi 2 "$OPUSARC" index -q -o "$WORK/a.h5" "$C"

# 6. Duplicate query ids: refused before the sweep, both lines named.
cat > "$WORK/dup.csv" << CSV
id,recording,start,end
dup,x/y.opus,0,4800
other,x_y.opus,0,4800
dup,x_y.opus,100,9700
CSV
for np in 1 2; do
  expect 1 "dup.csv:2 and .*dup.csv:4: duplicate id \"dup\"" mpi "$np" "$OPUSARC" extract "$WORK/a.h5" \
    --queries "$WORK/dup.csv" --out-dir "$WORK/dup$np" --format f32 --piece 1
  [ -z "$(ls -A "$WORK/dup$np" 2> /dev/null)" ] || fail "a refused sweep wrote files"
done

# 7. Window ids are unique: x/y.opus next to x_y.opus, and two deep paths
# whose first 100 characters agree.
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --hop 1 --units seconds --out-dir "$WORK/win" --format f32 \
  > "$WORK/win.txt" || fail "windows"
n=$(grep -o 'extracted [0-9]*' "$WORK/win.txt" | grep -o '[0-9]*')
[ "$(ls "$WORK/win" | wc -l)" = "$n" ] || fail "windows: $n extracted but $(ls "$WORK/win" | wc -l) files"
want=$("$OPUSARC" info --json "$WORK/a.h5" | jq '[.recordings[] | (.samples / 48000 | floor)] | add')
[ "$n" = "$want" ] || fail "windows: $n, expected $want"
[ "$(ls "$WORK/win" | grep '^deep~' | sed 's/_[0-9]*.f32$//' | sort -u | wc -l)" = 2 ] ||
  fail "the two deep recordings share window ids"
ls "$WORK/win" | grep -q '^x~y.opus_0.f32$' && ls "$WORK/win" | grep -q '^x_y.opus_0.f32$' || fail "window names"

# 8. Uncovered audio is counted: a 2.5 s window leaves short.opus out and
# tails of the others; a window longer than everything is an error.
expect 0 "not covered: 1 recording shorter than a window and the tails of 4" "$OPUSARC" extract "$WORK/a.h5" \
  --windows 2.5 --hop 2.5 --units seconds --out "$WORK/w25.h5"
expect 1 "no window fits" "$OPUSARC" extract "$WORK/a.h5" --windows 60 --hop 60 --units seconds --out "$WORK/w60.h5"
[ ! -e "$WORK/w60.h5" ] || fail "an empty clips file was written"
expect 1 "matches no indexed recording" "$OPUSARC" extract "$WORK/a.h5" --windows 1 --hop 1 --units seconds \
  --match 'nothing/*' --out "$WORK/wm.h5"
expect 1 "more than the window limit, 10" "$OPUSARC" extract "$WORK/a.h5" --windows 1 --hop 1 --units seconds \
  --max-windows 10 --out "$WORK/wmax.h5"

# 9. Damaged PCM is a failed row with the reason, counted in the summary.
P=$WORK/pcm
mkdir -p "$P"
"$MKPCM" "$P/good.wav" 16000 1 2 > /dev/null
"$MKPCM" "$P/whole.wav" 16000 1 4 > /dev/null
head -c 60000 "$P/whole.wav" > "$P/truncated.wav" && rm "$P/whole.wav"
"$MKPCM" "$P/nan.wav" 16000 1 2 --float --nan-at 5000 > /dev/null
"$MKPCM" "$P/empty.wav" 16000 1 0 > /dev/null
expect 3 "indexed 1, failed 3" "$OPUSARC" index -o "$WORK/p.h5" "$P"
"$OPUSARC" info "$WORK/p.h5" > "$WORK/pinfo.txt"
grep -A1 truncated.wav "$WORK/pinfo.txt" | grep -q "reason: truncated: the header promises 128000 bytes" ||
  { cat "$WORK/pinfo.txt"; fail "truncated WAV not a failed row"; }
grep -A1 nan.wav "$WORK/pinfo.txt" | grep -q "reason: sample frame 5000, channel 1 is NaN" || fail "NaN WAV"
grep -A1 empty.wav "$WORK/pinfo.txt" | grep -q "reason: no audio" || fail "0-frame WAV"

# 11. Queries from stdin on 2 ranks: rank 0 reads, every rank gets them.
"$MKQUERIES" "$WORK/a.h5" 12 7 > "$WORK/q.csv"
timeout 120 "$MPIEXEC" -np 2 "$OPUSARC" extract -q "$WORK/a.h5" --queries /dev/stdin --out-dir "$WORK/stdin" \
  --format f32 < "$WORK/q.csv" || fail "--queries /dev/stdin at np 2"
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/stdin" f32 > /dev/null || fail "stdin queries differ from opusfile"

# Messages: -q keeps the summary; a UTF-8 byte-order mark is accepted; a
# trailing comma is a bad row; a missing output directory parent, an
# unwritable one, and -o naming a directory are found before decoding.
printf '\xEF\xBB\xBF' | cat - "$WORK/q.csv" > "$WORK/bom.csv"
expect 0 "extracted $(($(wc -l < "$WORK/q.csv") - 1)), failed 0" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/bom.csv" --out "$WORK/bom.h5"
{ echo "id,recording,start,end"; echo "t1,x/y.opus,0,4800,"; echo "t2,x/y.opus,0,4800"; } > "$WORK/comma.csv"
expect 1 "comma.csv:2: expected 4 fields" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/comma.csv" \
  --out-dir "$WORK/comma" --format f32
[ -e "$WORK/comma/t2.f32" ] && [ ! -e "$WORK/comma/t1.f32" ] || fail "trailing comma row"
echo "not a dir" > "$WORK/plainfile"
expect 1 "plainfile: not a directory" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" \
  --out-dir "$WORK/plainfile" --format f32
if [ "$(id -u)" = 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2> /dev/null; then
  mkdir -p "$WORK/ro" && chmod 755 "$WORK/ro" && chmod o+rx "$WORK" && chmod -R o+r "$WORK/a.h5" "$WORK/q.csv"
  expect 1 "ro: Permission denied" setpriv --reuid=nobody --regid=nogroup --clear-groups "$OPUSARC" extract \
    "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/ro" --format f32
  expect 1 "cannot write in $WORK/ro: Permission denied" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$OPUSARC" index -o "$WORK/ro/x.h5" "$C"
  grep -q "recordings, " "$WORK/log.txt" && fail "the corpus was scanned before the output was checked"
fi

# Names: invalid UTF-8 and terminal escapes stay out of JSON and terminals;
# a.opus and ./a.opus are one file.
N=$WORK/names
mkdir -p "$N"
"$MKOPUS" --channels 1 --seconds 1 --seed 9 "$N/$(printf 'bad\xff\xfename.opus')" > /dev/null
"$MKOPUS" --channels 1 --seconds 1 --seed 10 "$N/$(printf 'esc\x1b[31mred.opus')" > /dev/null
(cd "$N" && "$OPUSARC" index -q --allow-failures -o "$WORK/n.h5" . "./$(printf 'esc\x1b[31mred.opus')" \
  "$(printf 'esc\x1b[31mred.opus')") || fail "names corpus"
"$OPUSARC" info --json "$WORK/n.h5" | jq -e . > /dev/null || fail "info --json is not valid JSON"
"$OPUSARC" info "$WORK/n.h5" > "$WORK/ninfo.txt"
grep -q $'\x1b' "$WORK/ninfo.txt" && fail "a terminal escape reached info's output"
grep -q 'the same file as' "$WORK/ninfo.txt" || fail "a file given twice was not recognised"
[ "$(grep -c '^ok ' "$WORK/ninfo.txt")" = 2 ] || { cat "$WORK/ninfo.txt"; fail "2 recordings expected ok"; }

# 12. A clips file on a full file system: one message, exit 1, no crash or
# hang, nothing left (where this machine lets us mount a small tmpfs).
if mkdir -p "$WORK/full" && mount -t tmpfs -o size=256k tmpfs "$WORK/full" 2> /dev/null; then
  trap 'umount "$WORK/full" 2> /dev/null || true; rm -rf "$WORK"' EXIT
  for np in 1 2; do
    expect 1 "No space left on device" timeout 120 "$MPIEXEC" -np "$np" "$OPUSARC" extract "$WORK/a.h5" \
      --windows 1 --hop 1 --units seconds --out "$WORK/full/clips.h5"
    grep -q "Segmentation\|signal 11\|core dumped" "$WORK/log.txt" && fail "np $np: crashed"
    [ -z "$(ls -A "$WORK/full")" ] || fail "np $np: files left on the full file system"
  done
  umount "$WORK/full"
else
  echo "no tmpfs mount here: full-disk case skipped"
fi

# 13. SIGTERM stops a sweep: what was written is named and exact, no
# temporary file is left. Signalled as Slurm does, every rank.
{ echo "id,recording,start,end"; for i in $(seq 1 60); do echo "q$i,x/y.opus,$((i * 4600)),$((i * 4600 + 100))"; done; } \
  > "$WORK/many.csv"
OPUSARC_FAULT=slow@0,slow@1 "$MPIEXEC" -np 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/many.csv" \
  --out-dir "$WORK/term" --format f32 > "$WORK/term.txt" 2>&1 &
job=$!
for _ in $(seq 300); do [ "$(ls "$WORK/term" 2> /dev/null | grep -c 'f32$')" -ge 3 ] && break; sleep 0.05; done
pkill -TERM -P "$job"
set +e
wait "$job"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$WORK/term.txt"; fail "sweep after SIGTERM: exit $rc"; }
written=$(grep -o 'stopped by SIGTERM: [0-9]* queries written' "$WORK/term.txt" | grep -o '[0-9][0-9]*' | head -1) ||
  { cat "$WORK/term.txt"; fail "no stop message"; }
[ "$(ls "$WORK/term" | grep -c 'f32$')" = "$written" ] || fail "files on disk differ from the $written reported"
ls "$WORK/term" | grep partial && fail "temporary files left after SIGTERM"
[ "$written" -lt 60 ] || fail "the sweep was not stopped"
{ head -n 1 "$WORK/many.csv"; for f in "$WORK"/term/*.f32; do grep "^$(basename "$f" .f32)," "$WORK/many.csv"; done; } \
  > "$WORK/done.csv"
"$REFCHECK" "$C" "$WORK/done.csv" "$WORK/term" f32 > /dev/null || fail "files kept after SIGTERM differ"

echo "no_false_success: ids unique, coverage counted, damaged PCM failed, stdin, full disk, SIGTERM, messages"
