#!/usr/bin/env bash
# Installs this build to a temporary prefix and builds the C examples against it, once
# with pkg-config and once with find_package(terragrad); runs both. Also: --version, the
# SONAME, and the ABI check refusing a program compiled for the other real type.
# usage: install_check.sh BUILD_DIR SOURCE_DIR SHARED_DATA WORK_DIR
set -uo pipefail
BUILD=$1 SRC=$2 DATA=$3 WORK=$4
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
rm -rf "$WORK"; mkdir -p "$WORK"
PREFIX=$WORK/prefix
cmake --install "$BUILD" --prefix "$PREFIX" > "$WORK/install.log" 2>&1 || { bad "cmake --install"; cat "$WORK/install.log"; }
double=0; grep -q 'TG_DOUBLE:BOOL=ON' "$BUILD/CMakeCache.txt" && double=1
name=terragrad; [ $double = 1 ] && name=terragrad-double
libdir=$(dirname "$(find "$PREFIX" -name "lib$name.so" | head -1)")
[ -n "$libdir" ] && [ -f "$libdir/lib$name.a" ] && ok || bad "lib$name.so and .a not installed"
soname=$(objdump -p "$libdir/lib$name.so" 2>/dev/null | awk '/SONAME/{print $2}')
[ "$soname" = "lib$name.so.0.2" ] && ok || bad "SONAME is '$soname', expected lib$name.so.0.2"
for h in terragrad.h terragrad/core.h terragrad/version.h; do
  [ -f "$PREFIX/include/$h" ] && ok || bad "header $h not installed"
done
# nothing private installed
[ -z "$(find "$PREFIX/include" -name '*internal*')" ] && ok || bad "a private header was installed"
ver=$("$PREFIX/bin/$name" --version 2>&1)
echo "$ver" | grep -q "^terragrad 0\.2\.0 (\(float\|double\) build" && ok || bad "--version printed '$ver'"
[ -f "$libdir/cmake/terragrad/terragradConfig.cmake" ] && ok || bad "CMake package not installed"

export PKG_CONFIG_PATH=$libdir/pkgconfig
export LD_LIBRARY_PATH=$libdir
# 1. pkg-config
flags=$(pkg-config --cflags --libs $name) || bad "pkg-config $name"
[ $double = 1 ] && { echo "$flags" | grep -q -- "-DTG_DOUBLE=1" && ok || bad "pkg-config cflags lack -DTG_DOUBLE=1"; }
for ex in hbv_simulate calibrate_basin train_typed; do
  cc -std=c11 -Wall -Wextra -O2 "$SRC/examples/c/$ex.c" $flags -lm -o "$WORK/$ex.pc" || bad "compile $ex with pkg-config"
done
"$WORK/hbv_simulate.pc" > "$WORK/hbv_simulate.pc.out" 2>&1 && ok || { bad "hbv_simulate (pkg-config)"; cat "$WORK/hbv_simulate.pc.out"; }
grep -q "water balance closes" "$WORK/hbv_simulate.pc.out" && ok || bad "hbv_simulate: balance line missing"
# the library in use is the installed one, not the build tree's
deps=$(ldd "$WORK/hbv_simulate.pc")
echo "$deps" | grep -q "=> $libdir/lib$name.so" && ok || bad "hbv_simulate does not load the installed library"
"$WORK/calibrate_basin.pc" "$DATA/caravan_camels_us" 01022500 > "$WORK/calibrate.pc.out" 2>&1 && ok ||
  { bad "calibrate_basin (pkg-config)"; cat "$WORK/calibrate.pc.out"; }
tail -1 "$WORK/calibrate.pc.out"
"$WORK/train_typed.pc" "$DATA" "$WORK/typed_run" > "$WORK/train_typed.pc.out" 2>&1 && ok ||
  { bad "train_typed (pkg-config)"; cat "$WORK/train_typed.pc.out"; }

# 2. find_package
cmake -S "$SRC/examples/c" -B "$WORK/fp" -DCMAKE_PREFIX_PATH="$PREFIX" > "$WORK/fp.log" 2>&1 &&
  cmake --build "$WORK/fp" >> "$WORK/fp.log" 2>&1 && ok || { bad "find_package build"; tail -20 "$WORK/fp.log"; }
"$WORK/fp/hbv_simulate" > "$WORK/hbv_simulate.fp.out" 2>&1 && ok || bad "hbv_simulate (find_package)"
# same library, same inputs: the same numbers
cmp -s "$WORK/hbv_simulate.pc.out" "$WORK/hbv_simulate.fp.out" && ok || bad "pkg-config and find_package builds differ"
"$WORK/fp/calibrate_basin" "$DATA/caravan_camels_us" 01022500 > "$WORK/calibrate.fp.out" 2>&1 && ok || bad "calibrate_basin (find_package)"
cmp -s "$WORK/calibrate.pc.out" "$WORK/calibrate.fp.out" && ok || bad "calibrate outputs differ between the two builds"

# 3. the ABI check: compiled for the other real type (the float library with
#    -DTG_DOUBLE=1; the double library without it), the program must refuse to run
other=-DTG_DOUBLE=1; [ $double = 1 ] && other=
cc -std=c11 -O2 -I"$PREFIX/include" $other "$SRC/examples/c/hbv_simulate.c" -L"$libdir" -l$name -lm \
  -o "$WORK/mismatch" || bad "compile the mismatched program"
"$WORK/mismatch" > "$WORK/mismatch.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok || bad "a program compiled for the other real type ran (exit 0)"
grep -q "compiled for .* but runs with the .* build" "$WORK/mismatch.out" && ok || { bad "ABI message"; cat "$WORK/mismatch.out"; }
echo "install check: $passes passed, $fails failed"
[ $fails -eq 0 ]
