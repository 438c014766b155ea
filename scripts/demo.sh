#!/usr/bin/env bash
# Demo: builds opusarc, makes a small corpus, indexes it with 2 MPI ranks,
# extracts a few ranges and checks them against opusfile's linear decode.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
scripts/build.sh
B=build
OUT=${DEMO_DIR:-demo-out}
rm -rf "$OUT"
mkdir -p "$OUT/corpus/recorder-A" "$OUT/corpus/recorder-B" "$OUT/corpus/broadcast"

echo
echo "== 1. a small built-in demo corpus (synthetic audio, encoded with libopus) =="
for i in 1 2 3; do
  $B/tests/mkopus --channels 1 --mode silk --bitrate 16000 --signal speech --seconds $((40 + 10 * i)) \
    --seed "$i" "$OUT/corpus/recorder-A/day$i.opus"
done
$B/tests/mkopus --channels 2 --bitrate 64000 --signal music --seconds 75 --seed 7 "$OUT/corpus/recorder-B/dawn.opus"
$B/tests/mkopus --channels 2 --bitrate 48000 --seconds 20 --links 3 --seed 8 "$OUT/corpus/recorder-B/chained.opus"
$B/tests/mkopus --channels 6 --family 1 --bitrate 192000 --seconds 30 --seed 9 "$OUT/corpus/broadcast/surround.opus"

echo
echo "== 2. index with 2 MPI ranks =="
mpirun -np 2 $B/opusarc index -o "$OUT/demo.h5" "$OUT/corpus"

echo
echo "== 3. what the archive holds =="
$B/opusarc info "$OUT/demo.h5"

echo
echo "== 4. extract ranges =="
$B/opusarc extract "$OUT/demo.h5" --recording recorder-A/day2.opus --start 12.5 --end 15.5 --units seconds \
  --format wav -o "$OUT/day2_12.5s.wav"
cat > "$OUT/queries.csv" <<CSV
id,recording,start,end
dawn_a,recorder-B/dawn.opus,0,144000
dawn_b,recorder-B/dawn.opus,1000000,1144000
chain_seam,recorder-B/chained.opus,950000,970000
surround,broadcast/surround.opus,480001,624001
day3_tail,recorder-A/day3.opus,3000000,3119000
CSV
mpirun -np 2 $B/opusarc extract "$OUT/demo.h5" --queries "$OUT/queries.csv" --out-dir "$OUT/clips" --format f32

echo
echo "== 5. check: every clip equals opusfile's straight decode, bit for bit =="
$B/tests/refcheck "$OUT/corpus" "$OUT/queries.csv" "$OUT/clips" f32
echo
echo "demo done: archive $OUT/demo.h5, clips in $OUT/clips, WAV $OUT/day2_12.5s.wav"
