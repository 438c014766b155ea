#!/usr/bin/env bash
# Every user error ends in one clear message, a non-zero exit, and no output
# file left behind; bad recordings fail alone and are listed in the archive.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C/good" "$C/bad"
"$MKOPUS" --channels 2 --seconds 3 --seed 1 "$C/good/a.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 2 --seed 2 "$C/good/b.opus" > /dev/null
head -c 3000 "$C/good/a.opus" > "$C/bad/truncated.opus"
printf 'this is not an ogg file at all' > "$C/bad/text.opus"
: > "$C/bad/empty.opus"
# A packet whose framing is invalid (packet 17 of the stream).
"$MKOPUS" --channels 1 --seconds 2 --seed 3 --bad-packet 17 "$C/bad/badpacket.opus" > /dev/null
# Flip one byte inside a page body: the page CRC no longer matches.
cp "$C/good/a.opus" "$C/bad/crc.opus"
printf '\x55' | dd of="$C/bad/crc.opus" bs=1 seek=5000 conv=notrunc status=none

expect_fail() { # expect_fail CODE PATTERN CMD...: exit code CODE and PATTERN on stderr
  local code=$1 pattern=$2; shift 2
  set +e
  "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [ "$got" = "$code" ] || { cat "$WORK/err.txt"; fail "exit $got, expected $code: $*"; }
  grep -q -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' in messages of: $*"; }
}

# Corpus with bad files: archive written, exit 3, failures named with reasons;
# damaged files (cut short, a bad page) keep what they hold and are named.
expect_fail 3 "truncated.opus: damaged: file ends inside a page at byte" mpi 2 "$OPUSARC" index -o "$WORK/a.h5" "$C"
grep -q "text.opus: not indexed: not an Ogg file" "$WORK/err.txt" || fail "text file reason"
grep -q "crc.opus: damaged: [0-9]* bytes of corrupt data at byte" "$WORK/err.txt" || fail "CRC damage"
grep -q "empty.opus: not indexed" "$WORK/err.txt" || fail "empty file reason"
grep -q "badpacket.opus: not indexed: packet 17: stream 0: code-1 packet with odd payload" "$WORK/err.txt" ||
  fail "bad packet reason"
grep -q "indexed 4, failed 3" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "summary line"; }
grep -q "damaged: 2 of the indexed recordings" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "damaged summary"; }
[ -f "$WORK/a.h5" ] && [ ! -e "$WORK/a.h5.partial" ] || fail "archive not renamed into place"
"$OPUSARC" info --json "$WORK/a.h5" > "$WORK/info.json"
[ "$(grep -o '"status": "failed"' "$WORK/info.json" | wc -l)" = 3 ] || fail "3 failed rows expected"
[ "$(grep -o '"status": "damaged"' "$WORK/info.json" | wc -l)" = 2 ] || fail "2 damaged rows expected"
grep -q '"failed_packet": 17,' "$WORK/info.json" || fail "failed packet number stored"
grep -q '"damage": "damaged: file ends inside a page' "$WORK/info.json" || fail "damage text stored"
"$OPUSARC" index -q --allow-failures -o "$WORK/b.h5" "$C" 2> /dev/null || fail "--allow-failures exit code"
# --allow-damaged: exit 0 when nothing failed, 3 while something did.
mkdir -p "$WORK/dmg" && cp "$C/bad/truncated.opus" "$C/bad/crc.opus" "$C/good/b.opus" "$WORK/dmg/"
"$OPUSARC" index -q --allow-damaged -o "$WORK/d.h5" "$WORK/dmg" 2> /dev/null || fail "--allow-damaged exit code"
expect_fail 3 "damaged" "$OPUSARC" index -o "$WORK/d2.h5" "$WORK/dmg"
expect_fail 3 "text.opus: not indexed" "$OPUSARC" index --allow-damaged -o "$WORK/d3.h5" "$C"

# Index usage errors.
expect_fail 2 "-o ARCHIVE.h5 is required" "$OPUSARC" index "$C"
expect_fail 2 "checkpoint-every" "$OPUSARC" index -o "$WORK/x.h5" --checkpoint-every -1 "$C"
expect_fail 2 "no INPUT" "$OPUSARC" index -o "$WORK/x.h5"
expect_fail 1 "No such file or directory" "$OPUSARC" index -o "$WORK/x.h5" "$WORK/missing"
expect_fail 1 "already exists" "$OPUSARC" index -o "$WORK/a.h5" "$C/good"
expect_fail 1 "nodir: No such file or directory" "$OPUSARC" index -o "$WORK/nodir/x.h5" "$C/good"
[ ! -e "$WORK/x.h5" ] && [ ! -e "$WORK/x.h5.partial" ] || fail "output left behind by a failed index"

# Extract errors: no output file may remain.
X=("$OPUSARC" extract "$WORK/a.h5" --format f32 -o "$WORK/o.f32")
expect_fail 1 'no recording named "nope"' "${X[@]}" --recording nope --start 0 --end 10
expect_fail 1 "outside recording" "${X[@]}" --recording good/a.opus --start 0 --end 999999999
expect_fail 1 "outside recording" "${X[@]}" --recording good/a.opus --start -5 --end 10
expect_fail 1 "empty range" "${X[@]}" --recording good/a.opus --start 100 --end 100
expect_fail 1 "failed at indexing" "${X[@]}" --recording bad/text.opus --start 0 --end 10
expect_fail 2 "integer sample" "${X[@]}" --recording good/a.opus --start 1.5 --end 10
expect_fail 2 "format" "$OPUSARC" extract "$WORK/a.h5" --recording good/a.opus --start 0 --end 10 -o "$WORK/o.f32"
[ ! -e "$WORK/o.f32" ] || fail "output left behind by a failed extract"
ls "$WORK" | grep partial > /dev/null && fail "temporary file left behind"
expect_fail 1 "not an HDF5 file" "$OPUSARC" extract "$C/good/a.opus" --recording x --start 0 --end 1 --format f32 -o "$WORK/o.f32"
expect_fail 1 "cannot open archive" "$OPUSARC" info "$WORK/missing.h5"
# A foreign HDF5 file (a copy of one dataset, no opusarc attributes).
h5copy -i "$WORK/a.h5" -o "$WORK/foreign.h5" -s /strings -d /strings
expect_fail 1 "not an opusarc archive" "$OPUSARC" info "$WORK/foreign.h5"
# A truncated archive.
head -c 5000 "$WORK/a.h5" > "$WORK/cut.h5"
expect_fail 1 "cut.h5" "$OPUSARC" extract "$WORK/cut.h5" --recording good/a.opus --start 0 --end 10 --format f32 -o "$WORK/o.f32"
[ ! -e "$WORK/o.f32" ] || fail "output left behind"

# Queries with bad rows: good rows still written, bad ones reported by line.
cat > "$WORK/q.csv" <<CSV
id,recording,start,end
ok1,good/a.opus,0,4800
bad_name,nope,0,10
ok2,good/b.opus,100,200
bad_range,good/b.opus,50,10
bad/id,good/b.opus,0,10
bad_fields,good/b.opus,0
CSV
expect_fail 1 "q.csv:3: no recording named" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/qo" --format wav
grep -q "q.csv:5: empty range" "$WORK/err.txt" || fail "bad range row reported"
grep -q "q.csv:6: id" "$WORK/err.txt" || fail "bad id row reported"
grep -q "q.csv:7: expected 4 fields" "$WORK/err.txt" || fail "short row reported"
grep -q "extracted 2, failed 4" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "query summary"; }
[ "$(ls "$WORK/qo")" = "$(printf 'ok1.wav\nok2.wav')" ] || { ls "$WORK/qo"; fail "exactly the good outputs"; }
printf 'name,rec\n' > "$WORK/badhdr.csv"
expect_fail 1 "header must be" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/badhdr.csv" --out-dir "$WORK/qo" --format f32
echo "cli_errors: all error paths behave"
