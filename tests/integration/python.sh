#!/usr/bin/env bash
# The Python package (issue 17): `pip install --no-build-isolation --no-deps
# ./python` into a scratch virtual environment (seeing Debian's numpy and
# pytest), then its pytest suite run from outside the source tree against
# the installed package and the build's libopusarc.so.0.
source "$(dirname "$0")/common.sh"
: "${OPUSREF:?}" "${OPUSARC_LIBRARY:?}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1
/usr/bin/python3 -m venv --system-site-packages "$WORK/venv" || fail "python3 -m venv"
cp -r "$SRC/python" "$WORK/pkg" # pip builds in place: keep the source tree clean
"$WORK/venv/bin/pip" install -q --no-build-isolation --no-deps "$WORK/pkg" > "$WORK/pip.log" 2>&1 ||
  { cat "$WORK/pip.log"; fail "pip install ./python"; }
cd "$WORK"
where=$("$WORK/venv/bin/python" -c 'import opusarc; print(opusarc.__file__)')
case $where in "$WORK/venv/"*) ;; *) fail "opusarc imported from $where, not the installed package" ;; esac
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider "$WORK/pkg/tests" || fail "pytest"
echo "python: ok"
