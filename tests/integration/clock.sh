#!/usr/bin/env bash
# Recordings on a clock (issue 13): start times from AudioMoth comments,
# GUANO (with and without a zone), Ogg Opus comments and file names; a
# clock never set; time queries (--from/--to, --daily over several days,
# across midnight, in local time and UTC, a time CSV), one output per
# overlap or --join per recorder with gaps filled by silence of the exact
# length (--join=strict refuses), outputs that carry their absolute start.
# Every output sample is compared with the same range extracted by
# recording and seconds (exact against opusfile / a straight decode in the
# other tests); a joined output with that concatenation and zeros.
source "$(dirname "$0")/common.sh"
: "${MKPCM:?}" "${CLIPGET:?}" "${SOXRCHECK:?}"
C=$WORK/c
mkdir -p "$C/site1" "$C/site2" "$C/site3" "$C/bats" "$C/named"
moth() { # moth FILE SECONDS SEED "HH:MM:SS DD/MM/YYYY" SERIAL
  "$MKPCM" "$1" 16000 1 "$2" --seed "$3" --comment "Recorded at $4 (UTC+1) by AudioMoth $5 at medium gain"
}
# site1: AudioMoth AAAA, local time UTC+1, three files on 1 May (the second
# 0.5 s short, so a gap before the third) and one on 2 May.
moth "$C/site1/20210501_040000.wav" 60 1 "05:00:00 01/05/2021" AAAA
moth "$C/site1/20210501_040100.wav" 59.5 2 "05:01:00 01/05/2021" AAAA
moth "$C/site1/20210501_040200.wav" 60 3 "05:02:00 01/05/2021" AAAA
moth "$C/site1/20210502_040000.wav" 90 4 "05:00:00 02/05/2021" AAAA
# site2: AudioMoth BBBB, one file across local midnight and the dawn of 2 May.
moth "$C/site2/20210501_225930.wav" 60 5 "23:59:30 01/05/2021" BBBB
moth "$C/site2/20210502_035930.wav" 120 6 "04:59:30 02/05/2021" BBBB
# site3: Ogg Opus with DATE comments (UTC), two files that overlap by 0.25 s.
"$MKOPUS" --seconds 30 --seed 7 --comment "DATE=2021-05-01T04:00:10Z" --comment "ARTIST=AudioMoth CCCC" \
  "$C/site3/x.opus" > /dev/null
"$MKOPUS" --seconds 30 --seed 8 --comment "DATE=2021-05-01T04:00:39.750Z" --comment "ARTIST=AudioMoth CCCC" \
  "$C/site3/y.opus" > /dev/null
# bats: GUANO with a zone (time-expanded 384 kHz) and without one (local).
"$MKPCM" "$C/bats/zoned.wav" 384000 1 2 --seed 9 --guano "GUANO|Version: 1.0
Make: Pettersson
Model: D500X
Serial: 42
Timestamp: 2021-05-01T23:00:00-04:00"
"$MKPCM" "$C/bats/local.wav" 48000 1 3 --seed 10 --guano "GUANO|Version: 1.0
Timestamp: 2021-05-01T05:00:01"
# A recorder whose clock was never set, and a file with only its name.
"$MKPCM" "$C/site1/unset.wav" 16000 1 3 --seed 11 --comment "Recorded at 00:00:07 01/01/1970 (UTC) by AudioMoth AAAA"
"$MKPCM" "$C/named/20210501_050020.wav" 16000 1 20 --seed 12

mpi 2 "$OPUSARC" index -o "$WORK/a.h5" --high-rate time-expand "$C" > "$WORK/idx.txt" 2>&1 ||
  { cat "$WORK/idx.txt"; fail "index"; }
grep -q "unset.wav: start time 1970-01-01T00:00:07Z is before 2000 (a recorder clock that was never set): stored as unknown" \
  "$WORK/idx.txt" || { cat "$WORK/idx.txt"; fail "no warning for the 1970 clock"; }
# The name pattern, and --start-tz for wall-clock starts (GUANO local, names).
"$OPUSARC" index -q -o "$WORK/n.h5" --start-from-name '%Y%m%d_%H%M%S' --start-tz +01:00 "$C/named" "$C/bats/local.wav"

"$OPUSARC" info --json "$WORK/a.h5" | tr '{' '\n' | grep '"name"' > "$WORK/rows.txt"
"$OPUSARC" info --json "$WORK/n.h5" | tr '{' '\n' | grep '"name"' > "$WORK/nrows.txt"
ROWS=$WORK/rows.txt
field() { grep "\"name\": \"$1\"" "$ROWS" | sed -n 1p | grep -o "\"$2\": [^,]*" | sed -n 1p | sed 's/^[^:]*: //; s/"//g'; }
check() { [ "$(field "$1" "$2")" = "$3" ] || fail "$1 $2: '$(field "$1" "$2")', expected '$3'"; }
check site1/20210501_040000.wav start_utc 2021-05-01T04:00:00Z
check site1/20210501_040000.wav utc_offset +01:00
check site1/20210501_040000.wav start_local 2021-05-01T05:00:00
check site1/20210501_040100.wav end_local 2021-05-01T05:01:59.500
check site1/20210501_040000.wav start_source audiomoth
check site1/20210501_040000.wav recorder "AudioMoth AAAA"
check site3/x.opus start_source opus-tags
check site3/x.opus recorder "AudioMoth CCCC"
check site3/y.opus start_utc 2021-05-01T04:00:39.750Z
check bats/zoned.wav start_utc 2021-05-02T03:00:00Z
check bats/zoned.wav utc_offset -04:00
check bats/zoned.wav recorder "Pettersson D500X 42"
check bats/zoned.wav end_utc 2021-05-02T03:00:02Z        # real seconds of a time-expanded file
check bats/local.wav start_utc null                      # GUANO local time: zone unknown
check bats/local.wav start_local 2021-05-01T05:00:01
check site1/unset.wav start_utc null
check site1/unset.wav start_source none
grep "\"name\": \"site1/unset.wav\"" "$WORK/rows.txt" | grep -q 'start_refused=1970-01-01T00:00:07Z' || fail "refused start kept"
ROWS=$WORK/nrows.txt
check 20210501_050020.wav start_utc 2021-05-01T04:00:20Z  # from its name, at --start-tz +01:00
check 20210501_050020.wav start_source name
check ".*/bats/local.wav" start_utc 2021-05-01T04:00:01Z   # GUANO local time placed by --start-tz
ROWS=$WORK/rows.txt
"$OPUSARC" info "$WORK/a.h5" | grep -q "2021-05-01T05:00:00     2021-05-01T05:01:00     +01:00" || fail "info columns"

# by REC FROM_S TO_S OUT: the reference, by recording and seconds.
by() { "$OPUSARC" extract -q "$WORK/a.h5" --recording "$1" --start "$2" --end "$3" --units seconds --format f32 --force -o "$4"; }
same() { cmp -s "$1" "$2" || fail "$3: $1 differs from $2"; }
zeros() { head -c $(($1 * 4)) /dev/zero; } # zeros FRAMES (mono float32)

# 1. A span inside one file, -o: equal to the range by recording.
"$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T05:00:10+01:00 --to 2021-05-01T04:00:12.5Z --match 'site1/*' \
  --format f32 -o "$WORK/one.f32"
by site1/20210501_040000.wav 10 12.5 "$WORK/ref.f32"
same "$WORK/one.f32" "$WORK/ref.f32" "span inside one file"
# -o with a span that gives several outputs is refused, naming the way out.
expect 1 "use --out-dir DIR or --out CLIPS.h5" "$OPUSARC" extract "$WORK/a.h5" --from 2021-05-01T04:00:30Z \
  --to 2021-05-01T04:01:10Z --format f32 -o "$WORK/two.f32"
[ ! -e "$WORK/two.f32" ] || fail "a refused -o wrote a file"

# 2. Across a file boundary without --join: one output per overlap, named by
#    recording and start (site1 and site2 both overlap 05:00:30-05:01:10).
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:01:10Z --match 'site1/*' \
  --format f32 --out-dir "$WORK/o2"
[ "$(ls "$WORK/o2" | wc -l)" = 2 ] || { ls "$WORK/o2"; fail "two overlaps expected"; }
by site1/20210501_040000.wav 30 60 "$WORK/r1.f32"
by site1/20210501_040100.wav 0 10 "$WORK/r2.f32"
same "$WORK/o2/site1~20210501_040000.wav@20210501T040030Z.f32" "$WORK/r1.f32" "first overlap"
same "$WORK/o2/site1~20210501_040100.wav@20210501T040100Z.f32" "$WORK/r2.f32" "second overlap"

# 3. --join: the same span is one output per recorder; a gap of 0.5 s before
#    the third file becomes 24000 samples of silence; the clips file says so.
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:02:10Z --join \
  --match 'site1/*' --format f32 --out-dir "$WORK/o3" > "$WORK/j.txt" 2>&1 || { cat "$WORK/j.txt"; fail "join"; }
grep -q "gap of 24000 samples (0.500000 s) between site1/20210501_040100.wav and site1/20210501_040200.wav" \
  "$WORK/j.txt" || { cat "$WORK/j.txt"; fail "gap not reported"; }
grep -q "joined outputs: 1 gaps (24000 samples in all)" "$WORK/j.txt" || fail "gap not in the summary"
by site1/20210501_040100.wav 0 59.5 "$WORK/r2.f32"
by site1/20210501_040200.wav 0 10 "$WORK/r3.f32"
cat "$WORK/r1.f32" "$WORK/r2.f32" <(zeros 24000) "$WORK/r3.f32" > "$WORK/joined.f32"
same "$WORK/o3/site1~AudioMoth_AAAA@20210501T040030Z.f32" "$WORK/joined.f32" "joined output"
# The same as one HDF5 clips file, at 3 ranks and with pieces of 7 s.
mpi 3 "$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:02:10Z --join \
  --match 'site1/*' --piece 7 --out "$WORK/j.h5"
h5dump -d /queries "$WORK/j.h5" > "$WORK/q.txt"
grep -q '"2021-05-01T05:00:30+01:00"' "$WORK/q.txt" && grep -q '"2021-05-01T04:00:30Z"' "$WORK/q.txt" ||
  { cat "$WORK/q.txt"; fail "clips table start times"; }
h5dump -d /clips -b LE -o "$WORK/clips.bin" "$WORK/j.h5" > /dev/null
same "$WORK/clips.bin" "$WORK/joined.f32" "joined clip in the HDF5 file"
grep -q '"gap_frames"' "$WORK/q.txt" && grep -q ' 24000' "$WORK/q.txt" || fail "gap_frames in the table"
# At --rate 16000, the joined output (parts and its silent gap, decoded in
# 7 s pieces by 3 ranks) is the 48 kHz joined output resampled in one go.
mpi 3 "$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:02:10Z --join \
  --match 'site1/*' --piece 7 --rate 16000 --out "$WORK/j16.h5"
"$CLIPGET" "$WORK/j16.h5" "site1~AudioMoth_AAAA@20210501T040030Z" "$WORK/j16.f32" > /dev/null
"$SOXRCHECK" "$WORK/joined.f32" "$WORK/j16.f32" 1 48000 16000 > /dev/null || fail "joined clip at 16 kHz"
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:02:10Z --join \
  --match 'site1/*' --rate 16000 --format wav --out-dir "$WORK/o16"
"$SOXRCHECK" "$WORK/joined.f32" "$WORK/o16/site1~AudioMoth_AAAA@20210501T040030Z.wav" 1 48000 16000 > /dev/null ||
  fail "joined WAV at 16 kHz"
# --join=strict refuses a joined output with a gap, naming it.
expect 1 "not written (strict join): gap of 24000 samples" "$OPUSARC" extract "$WORK/a.h5" \
  --from 2021-05-01T04:00:30Z --to 2021-05-01T04:02:10Z --join=strict --match 'site1/*' --format f32 \
  --out-dir "$WORK/o4"
# Overlapping files (site3: y starts 0.25 s before x ends): x is cut there.
"$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-01T04:00:30Z --to 2021-05-01T04:00:50Z --join --match 'site3/*' \
  --format f32 -o "$WORK/ov.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording site3/x.opus --start 20 --end 29.75 --units seconds --format f32 -o "$WORK/x.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording site3/y.opus --start 0 --end 10.25 --units seconds --format f32 -o "$WORK/y.f32"
cat "$WORK/x.f32" "$WORK/y.f32" > "$WORK/xy.f32"
same "$WORK/ov.f32" "$WORK/xy.f32" "overlapping files joined"

# 4. Daily windows over several days, in local time and in UTC: the same
#    outputs; a WAV output carries its start (bext, GUANO), read back by index.
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --daily 05:00:20-05:00:40 --days 2021-05-01..2021-05-03 --tz recording \
  --match 'site[12]/*' --format f32 --out-dir "$WORK/d1"
mpi 2 "$OPUSARC" extract -q "$WORK/a.h5" --daily 04:00:20-04:00:40 --days 2021-05-01..2021-05-03 --tz Z \
  --match 'site[12]/*' --format f32 --out-dir "$WORK/d2"
ls "$WORK/d1" > "$WORK/d1.txt"
[ "$(wc -l < "$WORK/d1.txt")" = 3 ] || { cat "$WORK/d1.txt"; fail "daily: 3 outputs expected (2 days at site1, 1 at site2)"; }
by site1/20210502_040000.wav 20 40 "$WORK/r.f32"
same "$WORK/d1/site1~20210502_040000.wav@20210502T050020.f32" "$WORK/r.f32" "daily window, local time, day 2"
by site2/20210502_035930.wav 50 70 "$WORK/r.f32"
same "$WORK/d1/site2~20210502_035930.wav@20210502T050020.f32" "$WORK/r.f32" "daily window, site2"
for f in "$WORK"/d2/*; do
  base=$(basename "$f" | sed 's/T04\(00[0-9]*\)Z/T05\1/')
  same "$f" "$WORK/d1/$base" "daily window in UTC and in local time"
done
[ "$(ls "$WORK/d2" | wc -l)" = 3 ] || fail "daily in UTC"
# Across midnight: 23:59:50-00:00:10 local on 1 May reaches site2's first file.
"$OPUSARC" extract -q "$WORK/a.h5" --daily 23:59:50-00:00:10 --days 2021-05-01 --match 'site2/*' --format wav \
  -o "$WORK/midnight.wav"
"$OPUSARC" extract -q "$WORK/a.h5" --daily 23:59:50-00:00:10 --days 2021-05-01 --match 'site2/*' --format f32 \
  -o "$WORK/midnight.f32"
by site2/20210501_225930.wav 20 40 "$WORK/r.f32"
same "$WORK/midnight.f32" "$WORK/r.f32" "across midnight"
"$OPUSARC" index -q -o "$WORK/back.h5" "$WORK/midnight.wav"
"$OPUSARC" info --json "$WORK/back.h5" | grep -q '"start_utc": "2021-05-01T22:59:50Z", .*"utc_offset": "+01:00", "start_source": "guano"' ||
  { "$OPUSARC" info --json "$WORK/back.h5"; fail "the WAV output does not carry its start"; }

# 5. Zone unknown: a UTC span cannot place GUANO local time (said), --tz
#    recording reaches it; --start-tz placed it in n.h5.
expect 1 "1 matching recordings have a wall-clock start without a zone" "$OPUSARC" extract "$WORK/a.h5" \
  --from 2021-05-01T00:00:00Z --to 2021-05-02T00:00:00Z --match 'bats/local.wav' --format f32 --out-dir "$WORK/o5"
"$OPUSARC" extract -q "$WORK/a.h5" --daily 05:00:02-05:00:03 --days 2021-05-01 --match 'bats/*' --format f32 \
  -o "$WORK/l.f32"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bats/local.wav --start 1 --end 2 --units seconds --format f32 --force -o "$WORK/r.f32"
same "$WORK/l.f32" "$WORK/r.f32" "local-time span of a recording whose zone is unknown"
# The time-expanded bat file: 0.5 real seconds are 192000 of its samples.
"$OPUSARC" extract -q "$WORK/a.h5" --from 2021-05-02T03:00:01Z --to 2021-05-02T03:00:01.5Z --match 'bats/*' --format f32 \
  -o "$WORK/bat.f32"
[ "$(stat -c %s "$WORK/bat.f32")" = $((192000 * 4)) ] || fail "time-expanded span length"
"$OPUSARC" extract -q "$WORK/a.h5" --recording bats/zoned.wav --start 1 --end 1.5 --units seconds --format f32 --force -o "$WORK/r.f32"
same "$WORK/bat.f32" "$WORK/r.f32" "time-expanded span"

# 6. A time CSV: rows with and without a recording, local and UTC times.
cat > "$WORK/t.csv" <<EOF
id,recording,start_utc,end_utc
det1,site1/20210501_040100.wav,2021-05-01T05:01:20+01:00,2021-05-01T04:01:23Z
dawn,,2021-05-02T04:00:00Z,2021-05-02T04:00:05Z
none,,2030-01-01T00:00:00Z,2030-01-01T00:00:01Z
bad,,2021-05-02T04:00:00,2021-05-02T04:00:05Z
EOF
set +e
mpi 2 "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/t.csv" --format f32 --out-dir "$WORK/o6" > "$WORK/t.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$WORK/t.txt"; fail "time CSV with two bad rows: exit $rc"; }
grep -q "t.csv:5: start_utc/end_utc must be ISO 8601 times with a zone" "$WORK/t.txt" || fail "zone-less CSV time"
grep -q "query none (line 4): no recording overlaps its span" "$WORK/t.txt" || { cat "$WORK/t.txt"; fail "empty span"; }
by site1/20210501_040100.wav 20 23 "$WORK/r.f32"
same "$WORK/o6/det1.f32" "$WORK/r.f32" "CSV row with a recording"
by site1/20210502_040000.wav 0 5 "$WORK/r.f32"
same "$WORK/o6/dawn@site1~20210502_040000.wav@20210502T040000Z.f32" "$WORK/r.f32" "CSV row without a recording"
by site2/20210502_035930.wav 30 35 "$WORK/r.f32"
same "$WORK/o6/dawn@site2~20210502_035930.wav@20210502T040000Z.f32" "$WORK/r.f32" "CSV row, second site"

# 7. Plain queries by recording also carry their absolute start (WAV).
"$OPUSARC" extract -q "$WORK/a.h5" --recording site1/20210501_040200.wav --start 1.5 --end 2 --units seconds \
  --format wav -o "$WORK/plain.wav"
"$OPUSARC" index -q -o "$WORK/back2.h5" "$WORK/plain.wav"
"$OPUSARC" info --json "$WORK/back2.h5" | grep -q '"start_local": "2021-05-01T05:02:01.500"' || fail "plain WAV start"
# 8. Spans found in groups (test builds: fault point "found" holds at most
#    2 recordings per group, so a rank's spans are cut into several groups
#    and a span without --join that overlaps more is found 2 at a time, each
#    pass going on from the row after the last): the same outputs, counts
#    and messages as one pass.
# grouped NAME ARGS...: ARGS once at 1 rank, once at 2 ranks in groups.
grouped() {
  local name=$1
  shift
  for how in one groups; do
    local np=1 f=
    [ "$how" = groups ] && np=2 f=found@0,found@1
    set +e
    OPUSARC_FAULT=$f mpi "$np" "$OPUSARC" extract "$WORK/a.h5" "$@" --format f32 --out-dir "$WORK/g-$name-$how" \
      > "$WORK/g-$name-$how.txt" 2>&1
    echo "exit $?" >> "$WORK/g-$name-$how.txt"
    set -e
    grep -o "time spans: .*\|joined outputs: .*\|extracted [0-9]*, failed [0-9]*\|query .*: no recording.*\|exit .*\|[0-9]* matching recordings.*" \
      "$WORK/g-$name-$how.txt" | sort > "$WORK/g-$name-$how.sum"
  done
  [ "$(ls "$WORK/g-$name-one" | wc -l)" -ge "${MIN_OUTPUTS:-1}" ] || fail "$name: too few outputs to say anything"
  diff -r "$WORK/g-$name-one" "$WORK/g-$name-groups" > /dev/null || fail "$name: outputs found in groups differ"
  cmp -s "$WORK/g-$name-one.sum" "$WORK/g-$name-groups.sum" ||
    { diff "$WORK/g-$name-one.sum" "$WORK/g-$name-groups.sum"; fail "$name: summary found in groups differs"; }
}
MIN_OUTPUTS=8 grouped day --from 2021-05-01T04:00:00Z --to 2021-05-02T04:01:00Z
MIN_OUTPUTS=4 grouped dayjoin --from 2021-05-01T04:00:00Z --to 2021-05-02T04:01:00Z --join
MIN_OUTPUTS=3 grouped daily --daily 05:00:20-05:00:40 --days 2021-04-30..2021-05-03 --tz recording
MIN_OUTPUTS=3 grouped dailyz --daily 04:00:20-04:00:40 --days 2021-05-01..2021-05-03 --tz Z --join
MIN_OUTPUTS=3 grouped csv --queries "$WORK/t.csv"
grep -q "no recording overlaps" "$WORK/g-csv-groups.sum" || fail "csv in groups: the empty span is not named"
echo "clock: all checks passed"
