#!/usr/bin/env bash
# The bad-input table of the README: a corpus of every kind of bad input
# next to good recordings, indexed on 2 and 3 ranks. Each bad one becomes a
# failed row with its reason; the good ones are intact and exact; the job
# ends with "indexed N, failed M" and exit 3 (0 with --allow-failures).
# Run as an unprivileged user (root reads any file) so that an unreadable
# file and directory are really unreadable.
source "$(dirname "$0")/common.sh"
: "${MKBAD:?}" "${MKPCM:?}"
C=$WORK/corpus
mkdir -p "$C/good" "$C/bad/locked" "$C/dup1" "$C/dup2"
for i in 1 2 3 4; do "$MKOPUS" --channels $((1 + i % 2)) --seconds 4 --seed "$i" "$C/good/g$i.opus" > /dev/null; done
"$MKOPUS" --channels 1 --seconds 3 --seed 9 "$C/dup1/same.opus" > /dev/null
B=$C/bad
head -c 3000 "$C/good/g1.opus" > "$B/truncated.opus"
"$MKBAD" bitflip "$C/good/g2.opus" "$B/bitflip.opus" 7 3
cp "$C/good/g3.opus" "$B/badcrc.opus"  # the CRC field of the third page, bytes 22-25 of that page
off=$(grep -abo OggS "$B/badcrc.opus" | sed -n 3p | cut -d: -f1)
printf '\x00\x00\x00\x00' | dd of="$B/badcrc.opus" bs=1 seek=$((off + 22)) conv=notrunc status=none
"$MKBAD" no-head "$B/nohead.opus"
"$MKPCM" "$WORK/v.oga" 44100 1 2 > /dev/null && mv "$WORK/v.oga" "$B/vorbis.ogg"
"$MKBAD" flac-in-ogg "$B/flac.ogg"
: > "$B/empty.opus"
"$MKBAD" random "$B/random.opus" 5000 3
"$MKBAD" head "$B/channels255.opus" 255 1 312
"$MKBAD" head "$B/family0_3ch.opus" 3 0 312
"$MKBAD" head "$B/preskip_beyond.opus" 1 0 60000
"$MKBAD" backwards "$B/backwards.opus"
"$MKOPUS" --channels 1 --seconds 2 --seed 5 --bad-packet 17 "$B/rejected_packet.opus" > /dev/null
printf 'RIFF\x24\x00\x00\x00WAVEjunk' > "$B/corrupt.wav"
cp "$C/good/g4.opus" "$B/unreadable.opus"
chmod 000 "$B/unreadable.opus"
cp "$C/good/g4.opus" "$B/locked/inside.opus"
chmod 000 "$B/locked"
ln -s loop.opus "$B/loop.opus"
ln -s "$C/good" "$B/dirlink"           # directory links are not followed: no double counting
mkfifo "$B/fifo.opus"                  # never opened: not a regular file
cp "$C/dup1/same.opus" "$C/dup2/same.opus"

# Runs opusarc as an unprivileged user when we are root (from a copy of the
# binary: the build tree may not be readable by that user).
mkdir -p "$WORK/bin" && cp "$OPUSARC" "$WORK/bin/opusarc" && OPUSARC=$WORK/bin/opusarc
unprivileged=1
if [ "$(id -u)" = 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups true 2> /dev/null; then
  unprivileged=0 # cannot drop privileges here: unreadable files are readable to us
  echo "bad_input: cannot run as an unprivileged user; the unreadable file and directory cases are skipped"
  rm -rf "$B/unreadable.opus" "$B/locked"
fi
as_user() {
  if [ "$(id -u)" = 0 ] && [ "$unprivileged" = 1 ]; then
    chown -R nobody "$WORK" && chmod 000 "$B/unreadable.opus" "$B/locked"
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$WORK" "$@"
  else
    "$@"
  fi
}
GOOD=5   # good/g1-4 and dup1/same.opus (dup2/same.opus is the duplicate)
DAMAGED=3 # truncated, bitflip, badcrc: kept up to and after the damage
BAD=$((unprivileged ? 16 : 14))
for np in 2 3; do
  rm -f "$WORK/a.h5"
  rc=0
  as_user "$MPIEXEC" -np "$np" "$OPUSARC" index -o "$WORK/a.h5" "$C/good" "$C/bad" "$C/dup1" "$C/dup2" \
    > "$WORK/out.txt" 2> "$WORK/err.txt" || rc=$?
  [ "$rc" = 3 ] || { cat "$WORK/err.txt"; fail "np $np: exit $rc, expected 3"; }
  grep -q "indexed $((GOOD + DAMAGED)), failed $BAD recordings" "$WORK/out.txt" ||
    { cat "$WORK/out.txt"; fail "np $np: summary line"; }
  grep -q "damaged: $DAMAGED of the indexed recordings" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "np $np: damaged"; }
done
"$OPUSARC" info --json "$WORK/a.h5" > "$WORK/info.json"
reason() { # reason NAME PATTERN: the failed row of NAME carries PATTERN
  grep -F "\"name\": \"$1\"" "$WORK/info.json" | grep '"status": "failed".*"error": "[^"]*'"$2" ||
    { grep -F "\"name\": \"$1\"" "$WORK/info.json"; fail "$1: no failed row with reason '$2'"; }
  grep -F "\"name\": \"$1\"" "$WORK/info.json" | grep "\"status\": \"failed\"" | sed -E 's/.*"error": "([^"]*)".*/| `'"$1"'` | \1 |/' >> "$WORK/table.md"
}
damaged() { # damaged NAME PATTERN: NAME is a damaged row whose damage text carries PATTERN
  grep -F "\"name\": \"$1\"" "$WORK/info.json" | grep '"status": "damaged".*"damage": "[^"]*'"$2" ||
    { grep -F "\"name\": \"$1\"" "$WORK/info.json"; fail "$1: no damaged row with '$2'"; }
  grep -F "\"name\": \"$1\"" "$WORK/info.json" | sed -E 's/.*"damage": "([^"]*)".*/| `'"$1"'` | \1 |/' >> "$WORK/table.md"
}
damaged truncated.opus "file ends inside a page at byte"
damaged bitflip.opus "corrupt data at byte"
damaged badcrc.opus "corrupt data at byte [0-9]* skipped; hole before byte"
reason nohead.opus "no Opus stream (found unknown codec)"
reason vorbis.ogg "vorbis audio is lossy: encoding it to Opus loses quality a second time" # no CLI advice in the archive
reason flac.ogg "no Opus stream (found FLAC), before byte offset 431; cannot import it: "
reason empty.opus "empty"
reason random.opus "not an Ogg file"
reason channels255.opus "channel"
reason family0_3ch.opus "channel"
reason preskip_beyond.opus "pre-skip"
reason backwards.opus "granule"
reason rejected_packet.opus "packet 17"
reason corrupt.wav "."
if [ "$unprivileged" = 1 ]; then
  reason unreadable.opus "Permission denied"
  reason locked "Permission denied"
fi
reason loop.opus "Too many levels of symbolic links"
reason fifo.opus "not a regular file"
reason same.opus "duplicate recording name"
[ "$(grep -c '"status": "failed"' "$WORK/info.json")" = "$BAD" ] || fail "expected $BAD failed rows"
[ "$(grep -c '"status": "damaged"' "$WORK/info.json")" = "$DAMAGED" ] || fail "expected $DAMAGED damaged rows"
grep -q '"name": "dirlink' "$WORK/info.json" && fail "a directory symlink was followed"
# The good recordings are exact: every one in full, against opusfile's linear decode.
{
  echo "id,recording,start,end"
  grep '"status": "ok"' "$WORK/info.json" | sed -nE 's/.*"name": "([^"]*)".*"samples": ([0-9]+),.*/\1 \2/p' |
    while read -r name n; do echo "q_${name%.opus},$name,0,$n"; done
} > "$WORK/q.csv"
[ "$(wc -l < "$WORK/q.csv")" = $((GOOD + 1)) ] || fail "good recordings missing"
"$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out" --format f32
mkdir -p "$WORK/ref" && for f in "$C"/good/*.opus "$C/dup1/same.opus"; do ln -sf "$f" "$WORK/ref/$(basename "$f")"; done
"$REFCHECK" "$WORK/ref" "$WORK/q.csv" "$WORK/out" f32 > /dev/null || fail "good recordings not exact"
as_user "$OPUSARC" index -q --allow-failures -o "$WORK/b.h5" "$C/bad" 2> /dev/null || fail "--allow-failures: exit 0"
echo "bad_input: $BAD bad inputs failed alone with their reasons, $DAMAGED damaged kept; $GOOD good recordings exact (np 2 and 3)"
cat "$WORK/table.md"
