#!/usr/bin/env bash
# Query tables and labels (issue 14): extra CSV columns are kept as string
# columns of the clips file's /queries; Raven selection tables and BirdNET
# results are read directly (files matched by path tail, name, or name
# without extension; a second view skipped; File Offset honoured), with
# --pad-seconds cut at the recording's edges. Read back with h5py through
# examples/clips_dataset.py (the README's example), whose samples must equal
# the independent C reader (tests/tools/clipget) and single extractions.
source "$(dirname "$0")/common.sh"
: "${CLIPGET:?}"
PY=/usr/bin/python3
"$PY" -c "import h5py, numpy" || fail "python3 with h5py and numpy is needed (scripts/install-deps.sh)"
EXAMPLE=$(cd "$(dirname "$0")/../../examples" && pwd)/clips_dataset.py
C=$WORK/c
mkdir -p "$C/s1" "$C/s2"
"$MKOPUS" --channels 2 --seconds 12 --seed 5 "$C/long.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 3 --seed 6 "$C/s1/x.opus" > /dev/null
"$MKOPUS" --channels 1 --seconds 3 --seed 7 "$C/s2/x.opus" > /dev/null
"$OPUSARC" index -q -o "$WORK/a.h5" --root "$C" "$C"
single() { "$OPUSARC" extract -q "$WORK/a.h5" --recording "$1" --start "$2" --end "$3" --format f32 --force -o "$4"; }
field() { # field CLIPS.h5 ID NAME: a /queries field of one row, as text
  "$PY" - "$@" << 'EOF'
import sys, h5py
rows = h5py.File(sys.argv[1], "r")["queries"][...]
row = rows[[i for i in range(len(rows)) if rows["id"][i].decode() == sys.argv[2]][0]]
v = row[sys.argv[3]]
print(v.decode("utf-8") if isinstance(v, bytes) else v)
EOF
}

# A CSV with label columns: quoted commas, UTF-8, a name that clashes with
# a built-in field, an empty name; a bad row is counted, not kept.
printf '%s\n' 'id,recording,start,end,species,score,start,' \
  'q1,long.opus,48000,96000,"Turdus merula, male",0.93,abc,x1' \
  'q2,long.opus,0,24000,Rougegorge familier é,0.5,,x2' \
  'q3,nope.opus,0,10,z,1,,' > "$WORK/l.csv"
expect 1 "l.csv:4: " "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/l.csv" --out "$WORK/l.h5"
[ "$(field "$WORK/l.h5" q1 species)" = "Turdus merula, male" ] || fail "label with a quoted comma"
[ "$(field "$WORK/l.h5" q2 species)" = "Rougegorge familier é" ] || fail "UTF-8 label"
[ "$(field "$WORK/l.h5" q1 score)" = 0.93 ] && [ "$(field "$WORK/l.h5" q1 label_start)" = abc ] &&
  [ "$(field "$WORK/l.h5" q2 column8)" = x2 ] && [ "$(field "$WORK/l.h5" q2 label_start)" = "" ] ||
  fail "label columns: score, label_start, column8"
"$PY" -c "import h5py,sys; sys.exit(len(h5py.File('$WORK/l.h5','r')['queries']) != 2)" || fail "a bad row has a row"
expect 1 "label columns (first: species) are kept in clips files (--out) only" "$OPUSARC" extract "$WORK/a.h5" \
  --queries "$WORK/l.csv" --format f32 --out-dir "$WORK/ld"
single long.opus 48000 96000 "$WORK/q1.f32"
cmp -s "$WORK/ld/q1.f32" "$WORK/q1.f32" || fail "q1 in a directory"

# A Raven selection table (two views of each selection, a Windows path, File
# Offset (s) differing from Begin Time (s)), padded by 0.25 s.
tab=$'\t'
{
  echo "Selection${tab}View${tab}Channel${tab}Begin Time (s)${tab}End Time (s)${tab}Low Freq (Hz)${tab}High Freq (Hz)${tab}Begin Path${tab}File Offset (s)${tab}Species"
  echo "1${tab}Waveform 1${tab}1${tab}100.5${tab}101.5${tab}100${tab}5000${tab}D:\\rec\\long.WAV${tab}0.5${tab}TURMER"
  echo "1${tab}Spectrogram 1${tab}1${tab}100.5${tab}101.5${tab}100${tab}5000${tab}D:\\rec\\long.WAV${tab}0.5${tab}TURMER"
  echo "2${tab}Waveform 1${tab}1${tab}2.6${tab}2.95${tab}100${tab}5000${tab}/field/s2/x.opus${tab}2.6${tab}ERIRUB"
  echo "3${tab}Waveform 1${tab}1${tab}0.1${tab}0.4${tab}100${tab}5000${tab}x.opus${tab}0.1${tab}ERIRUB"
  echo "4${tab}Waveform 1${tab}1${tab}0.1${tab}0.4${tab}100${tab}5000${tab}E:\\s1\\x.wav${tab}0.1${tab}PARMAJ"
} > "$WORK/sel.txt"
set +e
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/sel.txt" --queries-format raven --pad-seconds 0.25 \
  --out "$WORK/r.h5" > "$WORK/out.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$WORK/out.txt"; fail "raven: exit $rc (one ambiguous row)"; }
grep -q "sel.txt: 1 rows of other views (View is not \"Waveform 1\") skipped" "$WORK/out.txt" &&
  grep -q 'sel.txt:5: "x.opus" could be 2 recordings' "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "raven messages"; }
[ "$(field "$WORK/r.h5" long.opus_s1 start)" = 12000 ] && [ "$(field "$WORK/r.h5" long.opus_s1 end)" = 84000 ] ||
  fail "raven: File Offset and padding"
[ "$(field "$WORK/r.h5" long.opus_s1 Species)" = TURMER ] && [ "$(field "$WORK/r.h5" long.opus_s1 Channel)" = 1 ] ||
  fail "raven labels"
# s2/x.opus by its path; s1\x.wav by its path without extension; x.opus at
# 2.6-2.95 s + 0.25 s passes the recording's end (3 s less the encoder's
# delay): cut there, not failed.
[ "$(field "$WORK/r.h5" s2~x.opus_s2 start)" = 112800 ] || fail "raven: path tail"
end=$(field "$WORK/r.h5" s2~x.opus_s2 end)
[ "$end" -lt 144000 ] && [ "$end" -gt 142000 ] || fail "raven: padding cut at the end ($end)"
[ "$(field "$WORK/r.h5" s1~x.opus_s4 start)" = 0 ] || fail "raven: padding cut at the start"
"$CLIPGET" "$WORK/r.h5" long.opus_s1 "$WORK/clip.f32" > /dev/null
single long.opus 12000 84000 "$WORK/ref.f32"
cmp -s "$WORK/clip.f32" "$WORK/ref.f32" || fail "raven clip samples"
# A Selection column past a short row's last field (fuzz_tables found it read past the row):
# that row is named by its line, the full one by its selection.
{
  echo "Begin Time (s)${tab}End Time (s)${tab}Begin Path${tab}Species${tab}Selection"
  echo "0.5${tab}1.5${tab}long.opus"
  echo "0.5${tab}1.5${tab}long.opus${tab}TURMER${tab}7"
} > "$WORK/short_rows.txt"
"$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/short_rows.txt" --queries-format raven --out "$WORK/sr.h5" \
  > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; fail "raven: short rows"; }
[ "$(field "$WORK/sr.h5" long.opus_l2 start)" = 24000 ] && [ "$(field "$WORK/sr.h5" long.opus_s7 end)" = 72000 ] ||
  fail "raven: short rows named by line and selection"

# BirdNET-Analyzer results (CSV with a File column).
printf '%s\n' 'Start (s),End (s),Scientific name,Common name,Confidence,File' \
  '3.0,6.0,Turdus merula,Eurasian Blackbird,0.8123,/data/c/long.opus' \
  '9.0,12.0,Erithacus rubecula,European Robin,0.5012,/data/c/long.opus' > "$WORK/bn.csv"
expect 0 "extracted 2, failed 0" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/bn.csv" --queries-format birdnet \
  --clamp --out "$WORK/b.h5"
[ "$(field "$WORK/b.h5" long.opus_l2 'Common name')" = "Eurasian Blackbird" ] &&
  [ "$(field "$WORK/b.h5" long.opus_l3 Confidence)" = 0.5012 ] || fail "birdnet labels"
[ "$(field "$WORK/b.h5" long.opus_l2 start)" = 144000 ] || fail "birdnet start"
printf 'Start (s),End (s),Scientific name\n1,2,x\n' > "$WORK/bn0.csv"
expect 1 "a detector table needs the columns" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/bn0.csv" \
  --queries-format birdnet --out "$WORK/b0.h5"
expect 1 "(BirdNET results? read them as BirdNET's format)" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/bn.csv" \
  --out "$WORK/b1.h5"
expect 2 "--queries-format and --pad-seconds go with --queries" "$OPUSARC" extract "$WORK/a.h5" --windows 1 \
  --pad-seconds 1 --out "$WORK/b3.h5"
expect 2 "--pad-seconds needs a number of seconds from 0 to 86400, not '-1'" "$OPUSARC" extract "$WORK/a.h5" \
  --queries "$WORK/bn.csv" --queries-format birdnet --pad-seconds -1 --out "$WORK/b4.h5"
[ ! -e "$WORK/b3.h5" ] && [ ! -e "$WORK/b4.h5" ] || fail "a refused command wrote its output"
expect 2 "--queries-format must be csv, raven or birdnet" "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/bn.csv" \
  --queries-format xls --out "$WORK/b2.h5"

# The README's example reads the clips files: flat and fixed-shape, labels
# and samples, equal to clipget's.
"$PY" "$EXAMPLE" "$WORK/r.h5" "$WORK" > "$WORK/ex.txt"
grep -q "^long.opus_s1 rate=48000 shape=72000x2 Selection=1 View=Waveform 1 Channel=1 .*Species=TURMER$" \
  "$WORK/ex.txt" || { cat "$WORK/ex.txt"; fail "example output"; }
"$PY" -c "import numpy as np, sys; a = np.load('$WORK/long.opus_s1.npy'); b = np.fromfile('$WORK/clip.f32', dtype='<f4')
sys.exit(not np.array_equal(a.reshape(-1), b))" || fail "example samples differ from clipget's"
"$OPUSARC" extract -q "$WORK/a.h5" --windows 1 --units seconds --match long.opus --mono --shape fixed \
  --out "$WORK/f.h5"
"$PY" "$EXAMPLE" "$WORK/f.h5" "$WORK" > "$WORK/ex.txt"
[ "$(grep -c "shape=48000x1" "$WORK/ex.txt")" = 11 ] || { cat "$WORK/ex.txt"; fail "example on fixed clips"; }
"$CLIPGET" "$WORK/f.h5" long.opus_240000 "$WORK/w.f32" > /dev/null
"$PY" -c "import numpy as np, sys; a = np.load('$WORK/long.opus_240000.npy'); b = np.fromfile('$WORK/w.f32', dtype='<f4')
sys.exit(not np.array_equal(a.reshape(-1), b))" || fail "example samples (fixed) differ from clipget's"
echo "tables: all checks passed"
