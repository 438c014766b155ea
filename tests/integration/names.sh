#!/usr/bin/env bash
# Names that do not depend on how index was called (issue 12): with --root,
# `index small/*/` and `index small` give the same names (the site folder is
# kept, same-named files of two recorders do not collide); --prefix goes in
# front; an unknown name in extract gets the closest names as suggestions.
source "$(dirname "$0")/common.sh"
S=$WORK/small
mkdir -p "$S/site1" "$S/site2"
"$MKOPUS" --channels 1 --seconds 2 --seed 1 "$S/site1/20240501_050000.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 2 --seed 2 "$S/site2/20240501_050000.opus" > /dev/null
names() { "$OPUSARC" info --json "$1" | jq -r '.recordings[] | "\(.status) \(.name)"'; }

# The default rule: names are relative to each directory argument, so the
# site folders are lost and the two files collide.
expect 3 "duplicate recording name" "$OPUSARC" index -o "$WORK/default.h5" "$S"/*/
(cd "$WORK" && "$OPUSARC" index -q -o "$WORK/parent.h5" small)
(cd "$WORK" && "$OPUSARC" index -q --root small -o "$WORK/root1.h5" small/site1/ small/site2/)
"$OPUSARC" index -q --root "$S" -o "$WORK/root2.h5" "$S"
"$OPUSARC" index -q --root "$S" -o "$WORK/root3.h5" "$S/site2/20240501_050000.opus" "$S/site1/"
for f in root1 root2 root3; do
  names "$WORK/$f.h5" | diff <(printf 'ok site1/20240501_050000.opus\nok site2/20240501_050000.opus\n') - ||
    fail "$f: names depend on the arguments"
done
"$OPUSARC" index -q --root "$S" --prefix card07/ -o "$WORK/prefix.h5" "$S"
names "$WORK/prefix.h5" | grep -qx 'ok card07/site1/20240501_050000.opus' || fail "--prefix"
expect 3 "not below the root directory" "$OPUSARC" index --root "$S/site1" -o "$WORK/outside.h5" "$S"

# Suggestions for an unknown name: the same file name elsewhere, a typo.
expect 1 'did you mean "site1/20240501_050000.opus", "site2/20240501_050000.opus"' "$OPUSARC" extract \
  "$WORK/root2.h5" --recording 20240501_050000.opus --start 0 --end 10 --format f32 -o "$WORK/x.f32"
expect 1 'did you mean "site1/20240501_050000.opus"' "$OPUSARC" extract "$WORK/root2.h5" \
  --recording site1/20240501_05000.opus --start 0 --end 10 --format f32 -o "$WORK/x.f32"
{ echo "id,recording,start,end"; echo "a,site3/20240501_050000.opus,0,10"; } > "$WORK/q.csv"
expect 1 'q.csv:2: no recording named "site3/20240501_050000.opus" .*did you mean' "$OPUSARC" extract \
  "$WORK/root2.h5" --queries "$WORK/q.csv" --out-dir "$WORK/o" --format f32
echo "names: --root and --prefix give names independent of the arguments; suggestions for unknown names"
