#!/usr/bin/env bash
# Installs this build to a temporary prefix and builds the C examples against it, once
# with pkg-config and once with find_package(terragrad); runs both. Engine examples link
# only libterragrad (and must not load libterragrad-hydro), the others libterragrad-hydro;
# the lists are TG_ENGINE_EXAMPLES / TG_HYDRO_EXAMPLES in examples/c/CMakeLists.txt. Also:
# --version, both SONAMEs, and the ABI check refusing a program compiled for the other
# real type.
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
sfx=; [ $double = 1 ] && sfx=-double
name=terragrad$sfx hydro=terragrad-hydro$sfx
libdir=$(dirname "$(find "$PREFIX" -name "lib$name.so" | head -1)")
# the version the source declares (project(terragrad VERSION x.y.z)): SONAME carries x.y
version=$(sed -n 's/^project(terragrad VERSION \([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$version" ] && ok || bad "no project(terragrad VERSION x.y.z) in $SRC/CMakeLists.txt"
abi=${version%.*}
for l in $name $hydro; do
  [ -n "$libdir" ] && [ -f "$libdir/lib$l.so" ] && [ -f "$libdir/lib$l.a" ] && ok || bad "lib$l.so and .a not installed"
  soname=$(objdump -p "$libdir/lib$l.so" 2>/dev/null | awk '/SONAME/{print $2}')
  [ "$soname" = "lib$l.so.$abi" ] && ok || bad "SONAME is '$soname', expected lib$l.so.$abi"
  [ -f "$libdir/pkgconfig/$l.pc" ] && ok || bad "$l.pc not installed"
done
# the engine needs neither NetCDF nor libyaml nor MPI
grep -q -E 'libnetcdf|libyaml|libmpi' <<< "$(ldd "$libdir/lib$name.so")" && bad "lib$name.so links NetCDF/libyaml/MPI" || ok
# the example lists, from the examples' CMakeLists.txt
list_of() { sed -n "s/^set($1 \([^)]*\)).*/\1/p" "$SRC/examples/c/CMakeLists.txt"; }
engine_ex=$(list_of TG_ENGINE_EXAMPLES) hydro_ex=$(list_of TG_HYDRO_EXAMPLES)
[ -n "$engine_ex" ] && [ -n "$hydro_ex" ] && ok || bad "no example lists in examples/c/CMakeLists.txt"
for h in terragrad.h terragrad/core.h terragrad/version.h; do
  [ -f "$PREFIX/include/$h" ] && ok || bad "header $h not installed"
done
# nothing private installed
[ -z "$(find "$PREFIX/include" -name '*internal*')" ] && ok || bad "a private header was installed"
ver=$("$PREFIX/bin/$name" --version 2>&1)
echo "$ver" | grep -q "^terragrad ${version//./\\.} (\(float\|double\) build" && ok || bad "--version printed '$ver', expected terragrad $version"
[ -f "$libdir/cmake/terragrad/terragradConfig.cmake" ] && ok || bad "CMake package not installed"

export PKG_CONFIG_PATH=$libdir/pkgconfig
export LD_LIBRARY_PATH=$libdir
# 1. pkg-config: engine examples with terragrad.pc, the others with terragrad-hydro.pc
flags=$(pkg-config --cflags --libs $name) || bad "pkg-config $name"
hflags=$(pkg-config --cflags --libs $hydro) || bad "pkg-config $hydro"
echo "$hflags" | grep -q -- "-l$hydro" && echo "$hflags" | grep -q -- "-l$name " && ok || bad "pkg-config $hydro gives '$hflags'"
[ $double = 1 ] && { echo "$flags $hflags" | grep -q -- "-DTG_DOUBLE=1.*-DTG_DOUBLE=1" && ok || bad "pkg-config cflags lack -DTG_DOUBLE=1"; }
for ex in $engine_ex; do
  cc -std=c11 -Wall -Wextra -O2 "$SRC/examples/c/$ex.c" $flags -lm -o "$WORK/$ex.pc" || bad "compile $ex with pkg-config"
  grep -q "lib$hydro" <<< "$(ldd "$WORK/$ex.pc")" && bad "$ex (engine only) loads lib$hydro" || ok
done
for ex in $hydro_ex; do
  cc -std=c11 -Wall -Wextra -O2 "$SRC/examples/c/$ex.c" $hflags -lm -o "$WORK/$ex.pc" || bad "compile $ex with pkg-config"
  grep -q "=> $libdir/lib$hydro.so" <<< "$(ldd "$WORK/$ex.pc")" && ok || bad "$ex does not load the installed lib$hydro"
done
# arguments of each example (none if not listed here)
args_of() {   # example, tag of the build (pc / fp)
  case $1 in
    calibrate_basin) echo "$DATA/caravan_camels_us 01022500" ;;
    train_typed) echo "$DATA $WORK/typed_run_$2" ;;
  esac
}
for ex in $engine_ex $hydro_ex; do
  "$WORK/$ex.pc" $(args_of $ex pc) > "$WORK/$ex.pc.out" 2>&1 && ok || { bad "$ex (pkg-config)"; cat "$WORK/$ex.pc.out"; }
  # the library in use is the installed one, not the build tree's
  grep -q "=> $libdir/lib$name.so" <<< "$(ldd "$WORK/$ex.pc")" && ok || bad "$ex does not load the installed lib$name"
  tail -1 "$WORK/$ex.pc.out"
done
grep -q "water balance closes" "$WORK/hbv_simulate.pc.out" && ok || bad "hbv_simulate: balance line missing"

# 2. find_package: the same programs from examples/c/CMakeLists.txt
cmake -S "$SRC/examples/c" -B "$WORK/fp" -DCMAKE_PREFIX_PATH="$PREFIX" > "$WORK/fp.log" 2>&1 &&
  cmake --build "$WORK/fp" >> "$WORK/fp.log" 2>&1 && ok || { bad "find_package build"; tail -20 "$WORK/fp.log"; }
for ex in $engine_ex; do
  grep -q "lib$hydro" <<< "$(ldd "$WORK/fp/$ex")" && bad "$ex (find_package, engine only) loads lib$hydro" || ok
done
for ex in $engine_ex $hydro_ex; do
  "$WORK/fp/$ex" $(args_of $ex fp) > "$WORK/$ex.fp.out" 2>&1 && ok || bad "$ex (find_package)"
  # same library, same inputs: the same numbers
  if [ $ex = train_typed ]; then   # its log names the run folder and times: compare the losses
    cmp -s <(tail -1 "$WORK/$ex.pc.out") <(tail -1 "$WORK/$ex.fp.out") && ok || bad "$ex: pkg-config and find_package builds differ"
  else
    cmp -s "$WORK/$ex.pc.out" "$WORK/$ex.fp.out" && ok || bad "$ex: pkg-config and find_package builds differ"
  fi
done

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
