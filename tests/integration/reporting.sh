#!/usr/bin/env bash
# Progress and summaries of index and verify: progress lines count up to the
# total with bytes, audio, speed and ETA; --quiet silences them but keeps the
# summary; --summary-json writes valid JSON whose numbers match the run.
source "$(dirname "$0")/common.sh"
command -v jq > /dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
C=$WORK/corpus
mkdir -p "$C"
for i in $(seq 1 12); do "$MKOPUS" --channels $((1 + i % 2)) --seconds $((4 + i % 5)) --seed "$i" "$C/r$i.opus" > /dev/null; done
head -c 1500 "$C/r1.opus" > "$C/cut.opus" # damaged: cut inside a page

mpi 2 "$OPUSARC" index --progress 0.001 --summary-json "$WORK/i.json" -o "$WORK/a.h5" "$C" > "$WORK/out.txt" 2> /dev/null ||
  [ $? = 3 ] || fail "index exit code"
grep "progress: " "$WORK/out.txt" > "$WORK/p.txt" || fail "no progress lines"
grep -Eq "progress: [0-9]+/13 recordings \([0-9.]+%\), [0-9.]+ of [0-9.]+ MB, [0-9.]+ h audio, [0-9]+x real time, ETA [0-9?]" \
  "$WORK/p.txt" || { cat "$WORK/p.txt"; fail "progress line format"; }
# Counts never go down and stay within the total.
sed -E 's/.*progress: ([0-9]+)\/13.*/\1/' "$WORK/p.txt" | awk 'p > $1 || $1 > 13 { exit 1 } { p = $1 }' ||
  fail "progress counts go backwards or beyond the total"
sed -E 's/.*, ([0-9.]+) of ([0-9.]+) MB.*/\1 \2/' "$WORK/p.txt" | awk 'p > $1 || $1 > $2 { exit 1 } { p = $1 }' ||
  fail "progress bytes go backwards or beyond the total"
grep -q "indexed 13, failed 0 recordings" "$WORK/out.txt" || fail "summary line"
grep -q "damaged: 1 of the indexed recordings" "$WORK/out.txt" || fail "damaged line"
# Within one long recording the share done (from bytes) moves before it ends.
mkdir -p "$WORK/long"
"$MKOPUS" --seconds 240 --seed 5 "$WORK/long/long.opus" > /dev/null
"$OPUSARC" index --progress 0.001 -o "$WORK/long.h5" "$WORK/long" > "$WORK/long.txt"
grep -Eq "progress: 0/1 recordings \([0-9.]*[1-9][0-9.]*%\), [0-9.]+ of" "$WORK/long.txt" ||
  { cat "$WORK/long.txt"; fail "progress stands still during a long recording"; }
jq -e '.command == "index" and .ranks == 2 and .indexed == 13 and .failed == 0 and .damaged == 1 and .audio_hours > 0
       and (.phases | keys | sort) == ["decode", "hdf5_write", "metadata", "scan"]
       and ([.phases[].max_seconds] | all(. >= 0)) and .phases.decode.max_seconds <= .wall_seconds' \
  "$WORK/i.json" > /dev/null || { cat "$WORK/i.json"; fail "index summary JSON"; }
samples=$("$OPUSARC" info --json "$WORK/a.h5" | jq '.samples')
jq -e --argjson s "$samples" '.samples == $s' "$WORK/i.json" > /dev/null ||
  fail "samples in the JSON ($(jq .samples "$WORK/i.json")) differ from the archive's ($samples)"

# --quiet: no progress, the summary stays.
mpi 2 "$OPUSARC" index -q --progress 0.001 --allow-failures -o "$WORK/b.h5" "$C" > "$WORK/out.txt" 2> /dev/null
grep -q "progress:" "$WORK/out.txt" && fail "--quiet printed progress"
grep -q "indexed 13, failed 0 recordings" "$WORK/out.txt" || fail "--quiet lost the summary"

# On a terminal (a pseudo-terminal from script(1)) a plain process redraws a
# bar instead of printing lines; under mpirun, even on a terminal, lines.
if command -v script > /dev/null; then
  script -qec "$OPUSARC index --progress 0.001 --allow-failures -o $WORK/c.h5 $C" /dev/null > "$WORK/tty.txt" 2>&1
  tr '\r' '\n' < "$WORK/tty.txt" | grep -E '^\[[#.]{20}\] [0-9]+/13 recordings' > /dev/null || { cat "$WORK/tty.txt"; fail "no bar on a terminal"; }
  grep -q "progress:" "$WORK/tty.txt" && fail "progress lines as well as a bar on a terminal"
  script -qec "$MPIEXEC -np 1 $OPUSARC index --progress 0.001 --allow-failures -o $WORK/d.h5 $C" /dev/null > "$WORK/tty.txt" 2>&1
  grep -q "progress:" "$WORK/tty.txt" || { cat "$WORK/tty.txt"; fail "no progress lines under mpirun"; }
  tr '\r' '\n' < "$WORK/tty.txt" | grep '^\[[#.]' > /dev/null && fail "a bar under mpirun"
fi

# verify.
mpi 3 "$OPUSARC" verify --progress 0.001 --summary-json "$WORK/v.json" "$WORK/a.h5" > "$WORK/out.txt"
grep -q "progress: .*/13 recordings" "$WORK/out.txt" || fail "verify progress"
jq -e '.command == "verify" and .ranks == 3 and .mismatched == 0 and .intervals > 0
       and (.phases | keys | sort) == ["open", "verify"]' "$WORK/v.json" > /dev/null ||
  { cat "$WORK/v.json"; fail "verify summary JSON"; }
# A summary that cannot be written is an error, not silence.
set +e
"$OPUSARC" verify -q --summary-json "$WORK/nodir/v.json" "$WORK/a.h5" 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" != 0 ] && grep -q "nodir/v.json: directory .*nodir: No such file or directory" "$WORK/err.txt" || fail "unwritable summary not reported"
echo "reporting: progress lines, --quiet and --summary-json behave"
