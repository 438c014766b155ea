#!/usr/bin/env bash
# An archive indexed under another libopus build: extract refuses with a
# message naming both builds; with --decode-from-start it decodes from the
# recording start instead and the samples are still exact.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C"
"$MKOPUS" --channels 2 --seconds 12 --seed 3 "$C/a.opus" > /dev/null
"$MKOPUS" --channels 1 --mode silk --signal speech --bitrate 16000 --seconds 9 --links 2 --seed 4 "$C/b.opus" > /dev/null
"$OPUSARC" index -q -o "$WORK/a.h5" --checkpoint-every 1 "$C"
"$MKQUERIES" "$WORK/a.h5" 10 3 > "$WORK/q.csv"
"$H5TAMPER" "$WORK/a.h5" libopus_code_hash 0x1234 || fail "h5tamper"

set +e
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/refused" --format f32 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] || fail "extract under a foreign build exited $rc"
grep -q "only restore under the same build" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "message"; }
grep -q "0000000000001234" "$WORK/err.txt" || fail "message names the archive's build"
grep -q "use --decode-from-start" "$WORK/err.txt" || fail "the command line's hint is missing"
[ -z "$(ls -A "$WORK/refused" 2> /dev/null)" ] || fail "outputs written although refused"

"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out" --format f32 -q --decode-from-start ||
  fail "--decode-from-start"
"$REFCHECK" "$C" "$WORK/q.csv" "$WORK/out" f32 || fail "--decode-from-start output differs"

# Format version from the future: refused, naming the version.
"$H5TAMPER" "$WORK/a.h5" format_version 99
set +e
"$OPUSARC" info "$WORK/a.h5" 2> "$WORK/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "format version 99 is not supported" "$WORK/err.txt" || fail "future format version"
echo "foreign_build: refused, then exact from the start"
