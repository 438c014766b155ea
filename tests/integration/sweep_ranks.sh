#!/usr/bin/env bash
# Sweeps in shares (issue 18): each rank reads only its part of the queries
# file, or makes the windows of its share of the rows, or its share of the
# time spans), plans it, and
# ranks that run out take units from the others' queues. Whatever the rank
# count (1, 2, 3, 8) the outputs are the same: directories byte for byte,
# clips files dataset by dataset (h5diff), the counts of the summary and
# the rows named as failed. Also: an id used twice in two ranks' shares, a
# queries file read by rank 0 alone (stdin, a pipe) and sent out through
# temporary files, a Raven table
# whose other ranks' shares begin with a second view, and one query cut into
# pieces that other ranks decode.
source "$(dirname "$0")/common.sh"
command -v h5diff > /dev/null || fail "h5diff is needed (hdf5-tools)"
C=$WORK/c
mkdir -p "$C/site1" "$C/site2"
"$MKOPUS" --channels 2 --seconds 30 --seed 81 "$C/site1/20240501_050000.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 30 --seed 82 "$C/site1/20240501_050030.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 20 --seed 83 --mode silk --signal speech "$C/site2/20240501_050010.opus" > /dev/null
"$MKOPUS" --channels 2 --seconds 70 --seed 84 --links 2 "$C/long_20240501_060000.opus" > /dev/null
mpi 2 "$OPUSARC" index -q -o "$WORK/a.h5" --start-from-name '%Y%m%d_%H%M%S' --start-tz +00:00 "$C"

# ~300 queries with a label column; two bad rows, one early and one late.
"$MKQUERIES" "$WORK/a.h5" 40 7 | awk -F, 'NR == 1 {print $0 ",label"; next} {print $0 ",lab" NR}' > "$WORK/q0.csv"
{
  head -n 20 "$WORK/q0.csv"
  echo "bad1,nope.opus,0,10,x"
  tail -n +21 "$WORK/q0.csv"
  echo "bad2,site2/20240501_050010.opus,0,99999999,y"
} > "$WORK/q.csv"
nq=$(($(wc -l < "$WORK/q.csv") - 1))
echo "$nq queries"

# run NAME NP ARGS...: an extraction at NP ranks; its summary counts and
# the lines it named as failed are kept in NAME.sum / NAME.err.
run() {
  local name=$1 np=$2
  shift 2
  set +e
  mpi "$np" "$OPUSARC" extract "$WORK/a.h5" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err.raw"
  echo "exit $?" > "$WORK/$name.sum"
  set -e
  grep -o "extracted [0-9]*, failed [0-9]* queries" "$WORK/$name.out" >> "$WORK/$name.sum" || true
  grep -o "[a-z]*.csv:[0-9]*: .*\|window .*" "$WORK/$name.err.raw" | sed 's/^[a-z]*.csv/q.csv/' | sort > "$WORK/$name.err" || true
}
same() { # same NAME NP: NAME at NP ranks against NAME at 1 rank
  cmp -s "$WORK/$1-1.sum" "$WORK/$1-$2.sum" || { cat "$WORK/$1-1.sum" "$WORK/$1-$2.sum"; fail "$1: summary at $2 ranks"; }
  cmp -s "$WORK/$1-1.err" "$WORK/$1-$2.err" || { diff "$WORK/$1-1.err" "$WORK/$1-$2.err"; fail "$1: errors at $2 ranks"; }
}

for np in 1 2 3 8; do
  run dir-$np "$np" --queries "$WORK/q.csv" --out-dir "$WORK/d$np" --format f32 --piece 1
  run clips-$np "$np" --queries "$WORK/q.csv" --out "$WORK/c$np.h5" --piece 1
  run win-$np "$np" --windows 1 --hop 0.7 --units seconds --tail pad --out "$WORK/w$np.h5"
  run time-$np "$np" --from 2024-05-01T05:00:05Z --to 2024-05-01T05:00:50Z --join --out "$WORK/t$np.h5"
  run daily-$np "$np" --daily 05:00-05:01 --tz +00:00 --format f32 --out-dir "$WORK/y$np" --piece 2
done
grep -q "exit 1" "$WORK/dir-1.sum" && grep -q "extracted $((nq - 2)), failed 2 queries" "$WORK/dir-1.sum" ||
  { cat "$WORK/dir-1.sum"; fail "bad rows at 1 rank"; }
[ "$(wc -l < "$WORK/dir-1.err")" = 2 ] || { cat "$WORK/dir-1.err"; fail "two bad rows named"; }
[ "$(ls "$WORK/d1" | wc -l)" = $((nq - 2)) ] || fail "outputs at 1 rank"
for np in 2 3 8; do
  diff -r "$WORK/d1" "$WORK/d$np" > /dev/null || fail "directory outputs at $np ranks differ from 1 rank"
  diff -r "$WORK/y1" "$WORK/y$np" > /dev/null || fail "--daily outputs at $np ranks differ from 1 rank"
  for k in c w t; do h5diff "$WORK/${k}1.h5" "$WORK/$k$np.h5" > /dev/null || fail "$k$np.h5 differs from 1 rank"; done
  for name in dir clips win time daily; do same "$name" "$np"; done
done
ls "$WORK/d8" "$WORK/y8" "$WORK" | grep partial && fail "temporary files left"
# Windows at 8 ranks over 4 recordings: each rank reads its share of the
# rows, so most read one or none. Windows of the one recording a pattern
# names (on the last rank) are those one rank makes; the errors are agreed.
for np in 1 8; do
  mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --windows 2 --hop 2 --units seconds --match 'site2/*' \
    --out "$WORK/wm$np.h5" > /dev/null
done
h5diff "$WORK/wm1.h5" "$WORK/wm8.h5" > /dev/null || fail "windows of one matched recording at 8 ranks differ"
expect 1 "more than the window limit, 10" mpi 8 "$OPUSARC" extract "$WORK/a.h5" --windows 1 --hop 1 --units seconds \
  --max-windows 10 --out "$WORK/wmax.h5"
expect 1 "matches no indexed recording" mpi 8 "$OPUSARC" extract "$WORK/a.h5" --windows 1 --hop 1 --units seconds \
  --match 'nothing/*' --out "$WORK/wnone.h5"
expect 1 "no window fits" mpi 8 "$OPUSARC" extract "$WORK/a.h5" --windows 600 --hop 600 --units seconds \
  --out "$WORK/wfit.h5"
[ ! -e "$WORK/wmax.h5" ] && [ ! -e "$WORK/wnone.h5" ] && [ ! -e "$WORK/wfit.h5" ] || fail "a refused window sweep wrote"
# /queries written 7 rows at a time on ranks 0 and 2, at once on rank 1
# (test builds: fault point "table"): the same table.
OPUSARC_FAULT=table@0,table@2 run clips7-3 3 --queries "$WORK/q.csv" --out "$WORK/c7.h5" --piece 1
h5diff "$WORK/c1.h5" "$WORK/c7.h5" > /dev/null || fail "a table written in rounds differs"
"$REFCHECK" "$C" <(grep -v '^bad' "$WORK/q.csv" | cut -d, -f1-4) "$WORK/d8" f32 || fail "8-rank outputs differ from opusfile"

# Sweeps in rounds (test builds: fault point "batch" makes a rank's batches
# 3 queries, so ~100 rounds here; "ids" spills a rank's ids to a temporary
# file past 256 bytes, so in many sorted runs; "lines" reads the queries
# file 61 bytes at a time, so rows cross blocks): at 1 rank, and at 3 ranks
# where ranks 0 and 2 run in batches of 3 and rank 1 in one. The same
# outputs, counts and named rows; an id used twice in two batches of one
# rank is still found, spilled or not.
for np in 1 3; do
  f=batch@0,ids@0,lines@0; [ "$np" = 3 ] && f=batch@0,batch@2,ids@1,ids@2,lines@1,lines@2
  OPUSARC_FAULT=$f run bdir-$np "$np" --queries "$WORK/q.csv" --out-dir "$WORK/bd$np" --format f32 --piece 1
  OPUSARC_FAULT=$f run bclips-$np "$np" --queries "$WORK/q.csv" --out "$WORK/bc$np.h5" --piece 1
  OPUSARC_FAULT=$f run bwin-$np "$np" --windows 1 --hop 0.7 --units seconds --tail pad --out "$WORK/bw$np.h5"
  OPUSARC_FAULT=$f run btime-$np "$np" --from 2024-05-01T05:00:05Z --to 2024-05-01T05:00:50Z --join --out "$WORK/bt$np.h5"
  OPUSARC_FAULT=$f run bdaily-$np "$np" --daily 05:00-05:01 --tz +00:00 --format f32 --out-dir "$WORK/by$np" --piece 2
  diff -r "$WORK/d1" "$WORK/bd$np" > /dev/null || fail "outputs in batches of 3 at $np ranks differ"
  diff -r "$WORK/y1" "$WORK/by$np" > /dev/null || fail "--daily outputs in batches of 3 at $np ranks differ"
  for k in c w t; do h5diff "$WORK/${k}1.h5" "$WORK/b$k$np.h5" > /dev/null || fail "b$k$np.h5 differs from one round"; done
  for name in dir clips win time daily; do
    cmp -s "$WORK/$name-1.sum" "$WORK/b$name-$np.sum" || fail "$name in rounds at $np ranks: summary"
    cmp -s "$WORK/$name-1.err" "$WORK/b$name-$np.err" || fail "$name in rounds at $np ranks: named rows"
  done
done
{ head -n 3 "$WORK/q0.csv"; sed -n '4,$p' "$WORK/q0.csv"; echo "q000002,long_20240501_060000.opus,0,480,z"; } > "$WORK/dup2.csv"
for f in batch@0 batch@0,ids@0; do
  OPUSARC_FAULT=$f expect 1 "dup2.csv:3 and $WORK/dup2.csv:$(wc -l < "$WORK/dup2.csv"): duplicate id \"q000002\"" \
    mpi 1 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/dup2.csv" --out-dir "$WORK/dup2" --format f32
  [ -z "$(ls -A "$WORK/dup2" 2> /dev/null)" ] || fail "outputs written despite a duplicate id in another batch ($f)"
done
# A queries file touched between the survey and the run (test builds: fault
# point "changed" on rank 1) is refused on every rank; no clips file is left.
cp "$WORK/q.csv" "$WORK/touched.csv"
OPUSARC_FAULT=changed@1 expect 1 "touched.csv changed while the sweep read it" \
  mpi 3 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/touched.csv" --out "$WORK/touched.h5"
[ ! -e "$WORK/touched.h5" ] && ! ls "$WORK" | grep "touched.h5.*partial" > /dev/null || fail "a clips file left after a refused run"
# Spilled at 3 ranks: the two lines of an id given twice meet on one rank.
OPUSARC_FAULT=ids@0,ids@1,ids@2 expect 1 "duplicate id \"q000002\"" \
  mpi 3 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/dup2.csv" --out-dir "$WORK/dup3" --format f32

# CRLF line ends, blank lines and no line end at the end: the same rows and
# line numbers at 8 ranks as at 1.
{ head -n 40 "$WORK/q.csv"; echo; echo; sed -n '41,$p' "$WORK/q.csv"; } | sed 's/$/\r/' | head -c -2 > "$WORK/crlf.csv"
# (Rank 0 and rank 5 read it 61 bytes at a time: lines and CR LF pairs cross blocks.)
for np in 1 8; do
  OPUSARC_FAULT=lines@0,lines@5 run crlf-$np "$np" --queries "$WORK/crlf.csv" --out-dir "$WORK/crlf$np" --format f32
done
same crlf 8
diff -r "$WORK/d1" "$WORK/crlf8" > /dev/null || fail "a CRLF table at 8 ranks differs"
grep -q "q.csv:606: range" "$WORK/crlf-8.err" || { cat "$WORK/crlf-8.err"; fail "line numbers past blank lines"; }

# An id used twice, in the shares of rank 0 and rank 7: refused before any
# output, both lines named.
{ cat "$WORK/q0.csv"; echo "q000001,long_20240501_060000.opus,0,480,z"; } > "$WORK/dup.csv"
last=$(wc -l < "$WORK/dup.csv")
expect 1 "dup.csv:2 and $WORK/dup.csv:$last: duplicate id \"q000001\"" mpi 8 "$OPUSARC" extract "$WORK/a.h5" \
  --queries "$WORK/dup.csv" --out-dir "$WORK/dup" --format f32
[ -z "$(ls -A "$WORK/dup" 2> /dev/null)" ] || fail "outputs written despite a duplicate id"

# Read by rank 0 and sent out: stdin is no file every rank can read.
mpi 8 "$OPUSARC" extract -q "$WORK/a.h5" --queries /dev/stdin --out-dir "$WORK/stdin" --format f32 --piece 1 \
  < "$WORK/q.csv" 2> /dev/null || true
diff -r "$WORK/d1" "$WORK/stdin" > /dev/null || fail "--queries /dev/stdin at 8 ranks differs"
# A pipe: rank 0 copies it into a temporary file and sends the other ranks
# their rows into temporary files of their own, from which they read them
# like a queries file (here 61 bytes at a time in batches of 3: fault
# points lines and batch). The same clips file; the bad rows named by their
# lines in the whole table; no temporary file left.
mkdir -p "$WORK/tmp"
bad_lines=$(grep -o "q.csv:[0-9]*" "$WORK/dir-1.err" | cut -d: -f2 | tr '\n' ' ')
[ -n "$bad_lines" ] || fail "no bad rows to look for"
set +e
cat "$WORK/q.csv" | TMPDIR=$WORK/tmp OPUSARC_FAULT=lines@0,lines@1,lines@2,batch@0,batch@2 mpi 3 "$OPUSARC" extract \
  "$WORK/a.h5" --queries /dev/stdin --out "$WORK/pipe3.h5" --piece 1 > "$WORK/pipe3.txt" 2>&1
echo "exit $?" >> "$WORK/pipe3.txt"
cat "$WORK/q.csv" | TMPDIR=$WORK/tmp "$OPUSARC" extract "$WORK/a.h5" --queries /dev/stdin --out-dir "$WORK/pipe1" \
  --format f32 --piece 1 > "$WORK/pipe1.txt" 2>&1
echo "exit $?" >> "$WORK/pipe1.txt"
set -e
h5diff "$WORK/c1.h5" "$WORK/pipe3.h5" > /dev/null || fail "--queries from a pipe at 3 ranks differs"
diff -r "$WORK/d1" "$WORK/pipe1" > /dev/null || fail "--queries from a pipe without MPI differs"
for f in pipe3 pipe1; do
  grep -q "extracted $((nq - 2)), failed 2 queries" "$WORK/$f.txt" && grep -q "exit 1" "$WORK/$f.txt" ||
    { cat "$WORK/$f.txt"; fail "$f: summary"; }
  for l in $bad_lines; do grep -q "/dev/stdin:$l: " "$WORK/$f.txt" || { cat "$WORK/$f.txt"; fail "$f: line $l not named"; }; done
done
[ -z "$(ls -A "$WORK/tmp")" ] || { ls "$WORK/tmp"; fail "temporary files left"; }
# Nowhere to copy the pipe to (TMPDIR under a file; without a launcher, as
# mpirun makes its own directory in TMPDIR): refused, naming the place.
cat "$WORK/q.csv" | TMPDIR=$WORK/q.csv/x expect 1 "cannot make a temporary file for the queries ($WORK/q.csv/x/opusarc-queries-" \
  "$OPUSARC" extract "$WORK/a.h5" --queries /dev/stdin --out-dir "$WORK/pipe-no" --format f32
[ -z "$(ls -A "$WORK/pipe-no" 2> /dev/null)" ] || fail "a refused sweep wrote outputs"

# A Raven table, each selection in two views, Spectrogram first after the
# first row: every share keeps the view of the table's first row.
tab=$'\t'
{
  echo "Selection${tab}View${tab}Begin Time (s)${tab}End Time (s)${tab}Begin File${tab}Species"
  for i in $(seq 1 60); do
    for view in "Waveform 1" "Spectrogram 1"; do
      [ "$i" -gt 1 ] && [ "$view" = "Waveform 1" ] && continue
      echo "$i${tab}$view${tab}$((i % 25)).5${tab}$((i % 25 + 1)).25${tab}20240501_050000.opus${tab}S$i"
    done
    [ "$i" -gt 1 ] && echo "$i${tab}Waveform 1${tab}$((i % 25)).5${tab}$((i % 25 + 1)).25${tab}20240501_050000.opus${tab}S$i"
  done
} > "$WORK/sel.txt"
for np in 1 8; do
  mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/sel.txt" --queries-format raven \
    --out "$WORK/r$np.h5" || fail "raven table at $np ranks"
done
h5diff "$WORK/r1.h5" "$WORK/r8.h5" > /dev/null || fail "raven table at 8 ranks differs"
/usr/bin/python3 -c "import h5py,sys; sys.exit(len(h5py.File('$WORK/r8.h5','r')['queries']) != 60)" ||
  fail "raven: one row per selection (the first row's view)"

# One query, a whole 70 s recording, cut into 1 s pieces: rank 0 holds it, the others take pieces.
len=$("$OPUSARC" info --json "$WORK/a.h5" | tr '{' '\n' | grep '"name": "long_' | sed 's/.*"samples": \([0-9]*\),.*/\1/')
printf 'id,recording,start,end\nall,long_20240501_060000.opus,0,%s\n' "$len" > "$WORK/one.csv"
mpi 4 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/one.csv" --out "$WORK/one4.h5" --piece 1 > "$WORK/one.out" 2>&1 ||
  { cat "$WORK/one.out"; fail "one long query at 4 ranks"; }
grep -q "work units: $(((len + 47999) / 48000)), [1-9][0-9]* of them run by a rank other than the one holding their queries" "$WORK/one.out" ||
  { cat "$WORK/one.out"; fail "no piece was taken by another rank"; }
"$OPUSARC" extract -q "$WORK/a.h5" --recording long_20240501_060000.opus --start 0 --end "$len" --format f32 \
  -o "$WORK/one.f32"
"$CLIPGET" "$WORK/one4.h5" all "$WORK/one4.f32" > /dev/null
cmp -s "$WORK/one.f32" "$WORK/one4.f32" || fail "the pieced query differs from a single extraction"
echo "sweep_ranks: shares at 1/2/3/8 ranks identical; duplicate ids across shares; stdin; raven views; pieces taken"
