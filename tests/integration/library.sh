#!/usr/bin/env bash
# libopusarc as an installed library (issue 17): `cmake --install` of the
# build tree into a scratch prefix; examples/read_range.c built against it
# three times, through pkg-config, through the CMake package and against the
# static libopusarc.a; its reads equal
# opusfile's linear decode (opusref) for every recording; errors name the
# recording; the shared library imports no MPI_Init (a reader never starts
# MPI) and does not load FFmpeg.
source "$(dirname "$0")/common.sh"
: "${BUILD_DIR:?}" "${OPUSREF:?}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
P=$WORK/prefix
cmake --install "$BUILD_DIR" --prefix "$P" > "$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
LIB=$(ls "$P"/lib*/libopusarc.so.0 2> /dev/null | head -1)
[ -n "$LIB" ] || fail "no libopusarc.so.0 installed under $P"
for h in reader.h error.h version.h; do [ -f "$P/include/opusarc/$h" ] || fail "opusarc/$h not installed"; done
LIBDIR=$(dirname "$LIB")
[ "$(readlink -f "$LIBDIR/libopusarc.so")" = "$(readlink -f "$LIB")" ] || fail "libopusarc.so does not lead to the SONAME file"
objdump -p "$LIB" | grep -q 'SONAME *libopusarc.so.0' || fail "SONAME is not libopusarc.so.0"
if nm -D --undefined-only "$LIB" | grep -qwE 'MPI_Init|MPI_Init_thread'; then fail "the reader library can start MPI"; fi
if ldd "$LIB" | grep -q libavformat; then fail "the reader library loads FFmpeg"; fi

# Built through pkg-config, as read_range.c's header says.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
# shellcheck disable=SC2086,SC2046
cc -Wall -Wextra -Werror ${EXAMPLE_CFLAGS:-} -o "$WORK/rr_pc" "$SRC/examples/read_range.c" $(pkg-config --cflags --libs opusarc) ||
  fail "read_range does not build through pkg-config"
# Built against the static library: nothing of libopusarc is loaded at run time.
[ -f "$LIBDIR/libopusarc.a" ] || fail "no libopusarc.a installed"
# shellcheck disable=SC2086,SC2046
cc -Wall -Wextra -Werror ${EXAMPLE_CFLAGS:-} -o "$WORK/rr_static" "$SRC/examples/read_range.c" \
  $(pkg-config --cflags opusarc) $(pkg-config --static --libs opusarc | sed 's/-lopusarc\b/-l:libopusarc.a/') ||
  fail "read_range does not build against libopusarc.a"
if ldd "$WORK/rr_static" | grep -q libopusarc; then fail "the static build loads libopusarc.so"; fi
# Built through the CMake package.
cmake -S "$SRC/examples" -B "$WORK/bex" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="${EXAMPLE_CFLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${EXAMPLE_CFLAGS:-}" > "$WORK/cm.log" 2>&1 || { cat "$WORK/cm.log"; fail "find_package(opusarc)"; }
cmake --build "$WORK/bex" > "$WORK/cm.log" 2>&1 || { cat "$WORK/cm.log"; fail "read_range does not build through the CMake package"; }
export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

C=$WORK/corpus
mkdir -p "$C/speech" "$C/music" "$C/multi"
"$MKOPUS" --channels 1 --mode silk --bitrate 16000 --signal speech --seconds 9 --seed 1 "$C/speech/silk.opus" > /dev/null
"$MKOPUS" --channels 2 --mode celt --bitrate 64000 --frame-ms 2.5 --seconds 6 --seed 2 "$C/music/celt.opus" > /dev/null
"$MKOPUS" --channels 6 --family 1 --bitrate 160000 --seconds 5 --seed 3 "$C/multi/surround51.opus" > /dev/null
"$MKOPUS" --channels 2 --bitrate 48000 --seconds 5 --links 3 --trim 211 --seed 4 "$C/multi/chained.opus" > /dev/null
"$OPUSARC" index -q --checkpoint-every 1 -o "$WORK/a.h5" "$C" > /dev/null || fail "index"

for rr in "$WORK/rr_pc" "$WORK/bex/read_range" "$WORK/rr_static"; do
  "$rr" "$WORK/a.h5" > "$WORK/list.txt" || fail "$rr lists nothing"
  [ "$(wc -l < "$WORK/list.txt")" = 4 ] || { cat "$WORK/list.txt"; fail "$rr lists $(wc -l < "$WORK/list.txt") recordings, not 4"; }
  n=0
  while IFS=$'\t' read -r name ch frames status; do
    [ "$status" = ok ] || fail "$name: status $status"
    for range in "0 $frames" "$((frames / 3)) $((frames / 3 + 48000))" "$((frames - 4801)) $((frames - 1))" "5 6"; do
      set -- $range
      "$rr" "$WORK/a.h5" "$name" "$1" "$2" > "$WORK/got.f32" || fail "$rr $name [$1, $2)"
      got_ch=$("$OPUSREF" "$C/$name" "$1" "$2" "$WORK/want.f32")
      [ "$got_ch" = "$ch" ] || fail "$name: $ch channels listed, opusfile says $got_ch"
      cmp -s "$WORK/got.f32" "$WORK/want.f32" || fail "$rr: $name [$1, $2) differs from opusfile's linear decode"
      n=$((n + 1))
    done
  done < "$WORK/list.txt"
  echo "$rr: $n ranges equal opusfile's linear decode"
done
expect 1 "music/celt.opuss" "$WORK/rr_pc" "$WORK/a.h5" music/celt.opuss 0 10
expect 1 "not within" "$WORK/rr_pc" "$WORK/a.h5" music/celt.opus 0 999999999
expect 1 "$WORK/none.h5" "$WORK/rr_pc" "$WORK/none.h5"
expect 2 "usage" "$WORK/rr_pc"
echo "library: ok"

# The command line: info, a single extract, a directory sweep and verify start no MPI in a
# plain process (MPI_Init would end the process with 99 through the shim); index does (so the
# shim is seen to work), and so does extract into a clips file (parallel HDF5).
: "${NO_MPI_SHIM:?}"
asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 # the shim is preloaded ahead of ASan's runtime
nompi() { env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u SLURM_STEP_ID ASAN_OPTIONS="$asan" LD_PRELOAD="$NO_MPI_SHIM" "$@"; }
nompi "$OPUSARC" info "$WORK/a.h5" > /dev/null || fail "info started MPI"
nompi "$OPUSARC" extract "$WORK/a.h5" --recording music/celt.opus --start 1000 --end 50000 --format f32 \
  -o "$WORK/one.f32" > /dev/null || fail "a single extract started MPI"
"$OPUSREF" "$C/music/celt.opus" 1000 50000 "$WORK/want.f32" > /dev/null
cmp -s "$WORK/one.f32" "$WORK/want.f32" || fail "extract without MPI differs from opusfile's linear decode"
printf 'id,recording,start,end\nq1,music/celt.opus,1000,50000\nq2,speech/silk.opus,0,96000\n' > "$WORK/q.csv"
nompi "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out-dir "$WORK/q" --format f32 > /dev/null ||
  fail "a sweep into a directory started MPI"
cmp -s "$WORK/q/q1.f32" "$WORK/want.f32" || fail "a sweep without MPI differs from opusfile's linear decode"
nompi "$OPUSARC" verify "$WORK/a.h5" > "$WORK/v.log" 2>&1 || { cat "$WORK/v.log"; fail "verify started MPI or failed"; }
grep -q "0 mismatched" "$WORK/v.log" || fail "verify without MPI: $(cat "$WORK/v.log")"
expect 99 "no_mpi_shim: MPI_Init" nompi "$OPUSARC" index -q -o "$WORK/b.h5" "$C"
expect 99 "no_mpi_shim: MPI_Init" nompi "$OPUSARC" extract "$WORK/a.h5" --queries "$WORK/q.csv" --out "$WORK/c.h5"
[ ! -e "$WORK/c.h5" ] || fail "a clips file appeared"
echo "command line without MPI: ok"
