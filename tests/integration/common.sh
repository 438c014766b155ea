# Shared setup for the integration tests (sourced).
set -euo pipefail
: "${OPUSARC:?}" "${MKOPUS:?}" "${REFCHECK:?}" "${MKQUERIES:?}"
MPIEXEC=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/opusarc-test.XXXXXX")
# KEEP_WORK=1 keeps the work directory for a look after a failure.
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mpi() { local np=$1; shift; "$MPIEXEC" -np "$np" "$@"; }
# expect CODE PATTERN CMD...: CMD exits with CODE and PATTERN is in its
# output (stdout and stderr, kept in $WORK/log.txt).
expect() { # expect CODE PATTERN CMD...: exit code CODE and PATTERN in the output
  local code=$1 pattern=$2; shift 2
  set +e
  "$@" > "$WORK/log.txt" 2>&1
  local got=$?
  set -e
  [ "$got" = "$code" ] || { cat "$WORK/log.txt"; fail "exit $got, expected $code: $*"; }
  grep -q -- "$pattern" "$WORK/log.txt" || { cat "$WORK/log.txt"; fail "no '$pattern' in the output of: $*"; }
}

descendants() { local c; for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done; }
# kill_run PID DELAY_MS all|one: after DELAY_MS, kill -9 every process of
# the run started as PID (mpirun and its ranks), or one of its ranks.
kill_run() {
  local pid=$1 delay_ms=$2 victim=$3 all ranks
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  all=$(descendants "$pid")
  ranks=$(for p in $all; do [ "$(cat /proc/"$p"/comm 2> /dev/null)" = opusarc ] && echo "$p"; done || true)
  if [ "$victim" = all ]; then
    kill -9 $all 2> /dev/null || true
  else
    kill -9 $(echo "$ranks" | shuf -n 1 --random-source=<(yes "$delay_ms")) 2> /dev/null || true
  fi
}
