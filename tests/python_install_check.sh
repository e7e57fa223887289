#!/usr/bin/env bash
# The Python package installed the documented way, offline: a venv of /usr/bin/python3 with
# --system-site-packages, `pip install --no-build-isolation --no-index ./python`, the library
# installed into the venv's prefix by `cmake --install`; then `import terragrad` finds the
# library WITHOUT $TERRAGRAD_LIB (sys.prefix/lib) and runs HBV.
# usage: python_install_check.sh PYTHON BUILD_DIR SOURCE_DIR WORK REAL
set -euo pipefail
PY=$1; BUILD=$2; SRC=$3; WORK=$4; REAL=$5
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
"$PY" -m venv --system-site-packages "$WORK/venv"
cp -r "$SRC/python" "$WORK/pysrc"             # pip writes build/ and *.egg-info next to the sources
"$WORK/venv/bin/python" -m pip install -q --no-build-isolation --no-index "$WORK/pysrc" > "$WORK/pip.log" 2>&1 ||
  { cat "$WORK/pip.log"; fail "pip install"; }
cmake --install "$BUILD" --prefix "$WORK/venv" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "cmake --install"; }
cd "$WORK"
out=$(env -u TERRAGRAD_LIB -u PYTHONPATH TERRAGRAD_REAL="$REAL" "$WORK/venv/bin/python" -c "
import numpy as np, terragrad
assert terragrad.__file__.startswith('$WORK/venv'), terragrad.__file__
f = np.zeros((40, 1, 3)); f[:, 0, 0] = 5.0; f[:, 0, 1] = 10.0; f[:, 0, 2] = 1.0
p = terragrad.hbv.PARAM_RANGE.mean(1)[None, :, None]
ds = terragrad.hbv.simulate(f, p, warmup=10)
assert float(ds.Q.sum()) > 0
print(terragrad.library_path, terragrad.real_name)
") || fail "import from the install"
echo "$out"
case "$out" in "$WORK/venv/lib/libterragrad"*" $REAL") ;; *) fail "loaded $out, expected the $REAL library under $WORK/venv/lib";; esac
echo "python install check: ok"
