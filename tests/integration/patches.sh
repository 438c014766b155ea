#!/usr/bin/env bash
# Checkpoint kind 3 (issue 16): where no pre-roll is exact (SILK speech),
# `index` stores a pre-roll of 16 packets plus a patch of the decoder
# memory. On SILK speech at 12 and 16 kbit/s (real speech, opusenc
# --speech): the auto archive holds patches; ranges starting before, at and
# inside every patched interval, extracted by other processes than the
# indexer (the patch is applied to a decoder of that process), equal
# opusfile's linear decode at 1 and 2 ranks; `verify` passes, and with
# --no-snapshots too; a damaged patch is found by `verify` and refused by
# `extract`, and `--no-snapshots` still reads that range exactly.
source "$(dirname "$0")/common.sh"
: "${OPUSREF:?}" "${H5TAMPER:?}"
PY=/usr/bin/python3
C=$WORK/c
mkdir -p "$C"
# Real speech: Asterisk's first 200 English prompts (~12 minutes) joined,
# encoded by opusenc --speech (SILK) at 12 and 16 kbit/s. (Synthetic
# speech from mkopus converges under pre-roll and gives no patches.)
SPEECH=/usr/share/asterisk/sounds/en
# The package's own directory where nothing links "en" to it.
[ -d "$SPEECH" ] || SPEECH=/usr/share/asterisk/sounds/en_US_f_Allison
[ -d "$SPEECH" ] && command -v opusenc > /dev/null || fail "needs asterisk-core-sounds-en-wav and opus-tools (scripts/install-deps.sh)"
mapfile -t prompts < <(find -L "$SPEECH" -name '*.wav' | sort | head -200)
sox "${prompts[@]}" "$WORK/speech.wav"
for kbps in 12 16; do opusenc --quiet --speech --bitrate "$kbps" "$WORK/speech.wav" "$C/speech_${kbps}k.opus"; done
"$OPUSARC" index -q -o "$WORK/a.h5" "$C"
"$OPUSARC" info --json --summary "$WORK/a.h5" > "$WORK/info.json"
patches=$(jq .patches "$WORK/info.json")
[ "$patches" -gt 0 ] || { cat "$WORK/info.json"; fail "no patched pre-rolls on SILK speech"; }
# Ranges around each patched interval: recording, start, end (samples).
"$PY" - "$WORK/a.h5" > "$WORK/q.csv" <<'PYEOF'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    names, strings = f["recordings"][...], f["strings"][...].tobytes()
    links, ivs = f["links"][...], f["intervals"][...]
    print("id,recording,start,end")
    for k, v in enumerate(ivs):
        if v["kind"] != 3:
            continue
        l = links[v["link"]]
        r = names[l["recording"]]
        name = strings[r["name_off"]:r["name_off"] + r["name_len"]].decode()
        at = int(l["out_start"] + v["link_pos"] - l["pre_skip"])
        for d, (a, b) in enumerate([(at - 480, at + 9600), (at, at + 960), (at + 7, at + 30000)]):
            b = min(b, int(r["samples"]))
            if 0 <= a < b:
                print(f"p{k}_{d},{name},{a},{b}")
PYEOF
[ "$(wc -l < "$WORK/q.csv")" -gt 3 ] || fail "no ranges around patched intervals"
for np in 1 2; do
  rm -rf "$WORK/o$np"
  mpi "$np" "$OPUSARC" extract -q "$WORK/a.h5" --queries "$WORK/q.csv" --format f32 --out-dir "$WORK/o$np"
done
n=0
while IFS=, read -r id rec start end; do
  [ "$id" = id ] && continue
  "$OPUSREF" "$C/$rec" "$start" "$end" "$WORK/ref.f32" > /dev/null
  for np in 1 2; do
    cmp -s "$WORK/o$np/$id.f32" "$WORK/ref.f32" || fail "$id ($rec $start-$end, $np ranks) differs from opusfile"
  done
  n=$((n + 1))
done < "$WORK/q.csv"
"$OPUSARC" verify -q "$WORK/a.h5" || fail "verify"
"$OPUSARC" verify -q --no-snapshots "$WORK/a.h5" || fail "verify --no-snapshots"
# A damaged patch: one byte flipped inside the first patch's bytes.
read -r off size rec at < <("$PY" - "$WORK/a.h5" <<'PYEOF'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    names, strings, links = f["recordings"][...], f["strings"][...].tobytes(), f["links"][...]
    for v in f["intervals"][...]:
        if v["kind"] == 3:
            l = links[v["link"]]
            r = names[l["recording"]]
            name = strings[r["name_off"]:r["name_off"] + r["name_len"]].decode()
            print(v["state_offset"], v["state_size"], name, int(l["out_start"] + v["link_pos"] - l["pre_skip"]))
            break
PYEOF
)
cp "$WORK/a.h5" "$WORK/bad.h5"
"$H5TAMPER" "$WORK/bad.h5" --xor /checkpoints/state $((off + size / 2)) 0x55
expect 1 "patch" "$OPUSARC" verify "$WORK/bad.h5"
expect 1 "patch" "$OPUSARC" extract "$WORK/bad.h5" --recording "$rec" --start "$at" --end $((at + 960)) --format f32 \
  -o "$WORK/bad.f32"
"$OPUSARC" extract -q --no-snapshots "$WORK/bad.h5" --recording "$rec" --start "$at" --end $((at + 960)) --format f32 \
  -o "$WORK/ns.f32"
"$OPUSREF" "$C/$rec" "$at" $((at + 960)) "$WORK/ref.f32" > /dev/null
cmp -s "$WORK/ns.f32" "$WORK/ref.f32" || fail "--no-snapshots on the damaged archive differs from opusfile"
echo "patches: $patches patched intervals, $n ranges exact at 1 and 2 ranks; all checks passed"
