#!/usr/bin/env bash
# Exactness contract, end to end: a corpus covering mapping families 0/1/255,
# SILK/Hybrid/CELT, 2.5-60 ms frames, pre-skip, gain, end trimming, starting
# granules and chained links is indexed with -np 1 and -np 2; every range
# from mkqueries (edges, checkpoints +-1, link boundaries, random) extracted
# in separate processes must equal opusfile's linear decode bit for bit, and
# both archives must give identical bytes.
source "$(dirname "$0")/common.sh"
C=$WORK/corpus
mkdir -p "$C/speech" "$C/music" "$C/multi"
modes=$WORK/modes.txt
{
  "$MKOPUS" --channels 1 --mode silk --bitrate 12000 --signal speech --frame-ms 10 --seconds 9 --seed 1 "$C/speech/silk_nb_10ms.opus"
  "$MKOPUS" --channels 1 --mode silk --bitrate 20000 --signal speech --frame-ms 40 --seconds 9 --seed 2 "$C/speech/silk_wb_40ms.opus"
  "$MKOPUS" --channels 2 --mode silk --bitrate 24000 --signal speech --frame-ms 60 --seconds 9 --seed 3 "$C/speech/silk_st_60ms.opus"
  "$MKOPUS" --channels 1 --mode hybrid --bitrate 28000 --signal speech --frame-ms 20 --seconds 9 --seed 4 "$C/speech/hybrid_mono.opus"
  "$MKOPUS" --channels 2 --mode hybrid --bitrate 40000 --signal music --frame-ms 10 --seconds 9 --seed 5 "$C/music/hybrid_st_10ms.opus"
  "$MKOPUS" --channels 2 --mode celt --bitrate 96000 --frame-ms 2.5 --seconds 6 --seed 6 "$C/music/celt_2.5ms.opus"
  "$MKOPUS" --channels 2 --mode celt --bitrate 64000 --frame-ms 5 --seconds 7 --seed 7 "$C/music/celt_5ms.opus"
  "$MKOPUS" --channels 1 --bitrate 48000 --signal chirp --frame-ms 20 --seconds 9 --seed 8 "$C/music/auto_chirp.opus"
  "$MKOPUS" --channels 2 --bitrate 64000 --signal noise --frame-ms 20 --seconds 8 --trim 517 --pre-skip 4000 --gain 768 --seed 9 "$C/music/trim_gain.opus"
  "$MKOPUS" --channels 2 --bitrate 64000 --frame-ms 20 --seconds 6 --start-granule 96000 --seed 10 "$C/music/start_granule.opus"
  "$MKOPUS" --channels 6 --family 1 --bitrate 160000 --seconds 8 --seed 11 "$C/multi/surround51.opus"
  "$MKOPUS" --channels 3 --family 255 --bitrate 72000 --seconds 7 --seed 12 "$C/multi/family255.opus"
  "$MKOPUS" --channels 2 --bitrate 48000 --seconds 5 --links 3 --trim 211 --pre-skip 700 --gain -512 --seed 13 "$C/multi/chained.opus"
  "$MKOPUS" --channels 1 --mode silk --bitrate 16000 --signal speech --seconds 4 --links 2 --seed 14 "$C/speech/chained_silk.opus"
  "$MKOPUS" --channels 1 --bitrate 32000 --seconds 0.05 --trim 100 --seed 15 "$C/music/tiny.opus"
} > "$modes"
awk '{for(i=2;i<=NF;i++){split($i,a,"=");s[a[1]]+=a[2]}} END{for(k in s) print k, s[k]}' "$modes"
for m in silk hybrid celt; do
  awk -v m="$m" '{for(i=2;i<=NF;i++){split($i,a,"="); if(a[1]==m) s+=a[2]}} END{exit !(s>0)}' "$modes" ||
    fail "the test corpus has no $m packets"
done

mpi 1 "$OPUSARC" index -q -o "$WORK/np1.h5" --checkpoint-every 2 "$C" || fail "index -np 1"
mpi 2 "$OPUSARC" index -q -o "$WORK/np2.h5" --checkpoint-every 2 "$C" || fail "index -np 2"
"$OPUSARC" info "$WORK/np2.h5"

# Same recordings, durations and packet counts either way.
for np in 1 2; do
  "$OPUSARC" info --json "$WORK/np$np.h5" | grep '"name"' | sed 's/"source_bytes.*//' > "$WORK/list$np.txt"
done
diff "$WORK/list1.txt" "$WORK/list2.txt" || fail "np 1 and np 2 archives hold different recordings"
[ "$(grep -c '"status": "ok"' "$WORK/list1.txt")" = 15 ] || fail "expected 15 indexed recordings"

"$MKQUERIES" "$WORK/np2.h5" 25 7 > "$WORK/q.csv"
echo "$(($(wc -l < "$WORK/q.csv") - 1)) queries"
for np in 1 2; do
  "$OPUSARC" extract "$WORK/np$np.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out$np" --format f32 -q ||
    fail "extract from np$np archive"
  "$REFCHECK" "$C" "$WORK/q.csv" "$WORK/out$np" f32 || fail "np$np extraction differs from opusfile"
done
diff -r "$WORK/out1" "$WORK/out2" > /dev/null || fail "np 1 and np 2 archives extract different bytes"

# Extraction with address randomisation off, so libopus is surely mapped
# elsewhere than in the indexing processes: snapshots must be relocated.
if setarch "$(uname -m)" -R true 2> /dev/null; then
  setarch "$(uname -m)" -R "$OPUSARC" extract "$WORK/np1.h5" --queries "$WORK/q.csv" --out-dir "$WORK/out_norand" \
    --format f32 -q || fail "extract without ASLR"
  "$REFCHECK" "$C" "$WORK/q.csv" "$WORK/out_norand" f32 || fail "extraction without ASLR differs"
fi

# Parallel query extraction and the other output formats.
head -n 120 "$WORK/q.csv" > "$WORK/q_small.csv"
mpi 2 "$OPUSARC" extract "$WORK/np1.h5" --queries "$WORK/q_small.csv" --out-dir "$WORK/s16" --format s16 -q ||
  fail "extract s16 with 2 ranks"
"$REFCHECK" "$C" "$WORK/q_small.csv" "$WORK/s16" s16 || fail "s16 output"
"$OPUSARC" extract "$WORK/np1.h5" --queries "$WORK/q_small.csv" --out-dir "$WORK/wav" --format wav -q ||
  fail "extract wav"
"$REFCHECK" "$C" "$WORK/q_small.csv" "$WORK/wav" wav || fail "wav output"

# Single-range form, in seconds.
"$OPUSARC" extract "$WORK/np1.h5" --recording music/trim_gain.opus --start 1.5 --end 4.25 --units seconds \
  --format f32 -o "$WORK/one.f32" || fail "single extract"
printf 'id,recording,start,end\none,music/trim_gain.opus,72000,204000\n' > "$WORK/one.csv"
"$REFCHECK" "$C" "$WORK/one.csv" "$WORK" f32 || fail "single extract in seconds"
echo "exactness: all ranges bit-identical to opusfile"
