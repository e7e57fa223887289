#!/usr/bin/env bash
# cross_arm64.sh — cross-compiles the terragrad library and CLI for arm64 (aarch64) with
# Debian's gcc-aarch64-linux-gnu, checks that the result is an aarch64 ELF, and (unless
# TG_CROSS_QEMU=0) runs `terragrad --cpu` and `terragrad gradcheck` under qemu-aarch64.
#   usage: bash scripts/cross_arm64.sh [build_dir=/tmp/build-arm64]
# Installs what it needs (non-interactive, only what is missing; root or sudo):
#   gcc-aarch64-linux-gnu, qemu-user, and the arm64 multiarch packages libopenblas-dev:arm64,
#   libyaml-dev:arm64 (after `dpkg --add-architecture arm64`). libnetcdf-dev:arm64 cannot be
#   installed next to the host's libnetcdf-dev (libhdf5-dev is not multiarch: apt would
#   remove the host's), so the arm64 netCDF runtime and its dependencies are downloaded with
#   `apt-get download` and unpacked into <build_dir>/sysroot-extra (nothing installed).
# The cross build has no MPI and no Fortran example (TG_WITH_MPI=OFF, TG_WITH_FORTRAN=OFF).
# Optional: TG_NEHALEM_BIN=<a native x86-64 terragrad> also runs that binary under
# `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX): proof that no AVX instruction is reached on
# the baseline path (`--cpu` must say baseline, `gradcheck` must pass; OPENBLAS_CORETYPE is
# unset there so OpenBLAS picks its kernels from the emulated CPU, as on a real one).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-/tmp/build-arm64}
EXTRA=$OUT/sysroot-extra
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT="env DEBIAN_FRONTEND=noninteractive $SUDO apt-get"
t0=$(date +%s)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# 1. host tools
need=()
for p in gcc-aarch64-linux-gnu file; do installed "$p" || need+=("$p"); done
if [ "${TG_CROSS_QEMU:-1}" != 0 ]; then installed qemu-user || installed qemu-user-static || need+=(qemu-user); fi
updated=0
if [ ${#need[@]} -gt 0 ]; then
  echo "cross_arm64: installing ${need[*]}"
  $APT update -qq; updated=1
  $APT install -y -qq --no-install-recommends "${need[@]}"
fi

# 2. arm64 libraries that can sit next to the host's
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "cross_arm64: dpkg --add-architecture arm64"
  $SUDO dpkg --add-architecture arm64
  updated=0
fi
need=()
for p in libopenblas-dev:arm64 libyaml-dev:arm64; do installed "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  [ $updated = 1 ] || { $APT update -qq; updated=1; }
  echo "cross_arm64: installing ${need[*]}"
  $APT install -y -qq --no-install-recommends "${need[@]}"
fi

# 3. netCDF for arm64, unpacked privately (see the header)
if [ ! -e "$EXTRA/pkgconfig/netcdf.pc" ]; then
  [ $updated = 1 ] || { $APT update -qq; updated=1; }
  mkdir -p "$EXTRA/debs" "$EXTRA/pkgconfig"
  # the arm64 packages apt would have to add for libnetcdf19:arm64 (a simulation only)
  mapfile -t pkgs < <(apt-get install -s --no-install-recommends libnetcdf19:arm64 2>/dev/null |
                      awk '$1 == "Inst" && $2 ~ /:arm64$/ {print $2}')
  pkgs+=(libnetcdf19:arm64)
  echo "cross_arm64: downloading ${#pkgs[@]} arm64 packages for netCDF into $EXTRA"
  # as root, apt cannot drop to its _apt user for a folder it does not own: say so up front
  dl=(); [ "$(id -u)" -eq 0 ] && dl=(-o APT::Sandbox::User=root)
  (cd "$EXTRA/debs" && apt-get download -qq "${dl[@]}" "${pkgs[@]}")
  for d in "$EXTRA"/debs/*.deb; do dpkg-deb -x "$d" "$EXTRA"; done
  lib=$EXTRA/usr/lib/aarch64-linux-gnu
  so=$(cd "$lib" && ls libnetcdf.so.* | head -1)
  ln -sf "$so" "$lib/libnetcdf.so"
  # netcdf.h is the same on every architecture: the host's libnetcdf-dev provides it
  ver=$(sed -n 's/^#define NC_VERSION "\(.*\)"/\1/p' /usr/include/netcdf_meta.h 2>/dev/null || echo 4)
  cat > "$EXTRA/pkgconfig/netcdf.pc" <<PC
Name: netCDF
Description: arm64 netCDF runtime unpacked by scripts/cross_arm64.sh, host headers
Version: $ver
Libs: -L$lib -lnetcdf
Cflags: -I/usr/include
PC
fi

# 4. configure and build the library and the CLI
export TG_CROSS_SYSROOT_EXTRA=$EXTRA
cmake -S "$SRC" -B "$OUT" -DCMAKE_TOOLCHAIN_FILE="$SRC/cmake/aarch64-linux-gnu.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DTG_WITH_MPI=OFF -DTG_WITH_FORTRAN=OFF > "$OUT.configure.log" 2>&1 ||
  { cat "$OUT.configure.log"; exit 1; }
cmake --build "$OUT" -j2 --target terragrad_lib terragrad > "$OUT.build.log" 2>&1 ||
  { tail -40 "$OUT.build.log"; exit 1; }
if grep -q "warning:" "$OUT.build.log"; then grep -A3 "warning:" "$OUT.build.log"; echo "cross_arm64: warnings"; exit 1; fi

# 5. check the output
info=$(file -b "$OUT/terragrad")
echo "cross_arm64: terragrad: $info"
[[ "$info" == *"ARM aarch64"* ]] || { echo "cross_arm64: FAIL: not an aarch64 executable"; exit 1; }
lib_info=$(aarch64-linux-gnu-objdump -f "$OUT/libterragrad.a" | grep -m1 "architecture:" || true)
[[ "$lib_info" == *aarch64* ]] || { echo "cross_arm64: FAIL: libterragrad.a is not aarch64 ($lib_info)"; exit 1; }

# 6. run it under qemu (the loader from the cross libc, libraries from multiarch + EXTRA)
if [ "${TG_CROSS_QEMU:-1}" != 0 ]; then
  QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
  run() { "$QEMU" -L /usr/aarch64-linux-gnu \
            -E LD_LIBRARY_PATH="$EXTRA/usr/lib/aarch64-linux-gnu:$EXTRA/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu:/lib/aarch64-linux-gnu" \
            -E OMP_NUM_THREADS=1 "$OUT/terragrad" "$@"; }
  level=$(run --cpu)
  echo "cross_arm64: qemu-aarch64 terragrad --cpu: $level"
  [ "$level" = baseline ] || { echo "cross_arm64: FAIL: expected the baseline level on arm64"; exit 1; }
  run gradcheck > "$OUT.gradcheck.log" 2>&1 || { tail -20 "$OUT.gradcheck.log"; echo "cross_arm64: FAIL: gradcheck under qemu"; exit 1; }
  echo "cross_arm64: qemu-aarch64 terragrad gradcheck: $(tail -1 "$OUT.gradcheck.log")"
fi
if [ -n "${TG_NEHALEM_BIN:-}" ]; then
  QX=$(command -v qemu-x86_64 || command -v qemu-x86_64-static)
  nrun() { env -u OPENBLAS_CORETYPE OMP_NUM_THREADS=1 "$QX" -cpu Nehalem "$TG_NEHALEM_BIN" "$@"; }
  level=$(nrun --cpu)
  echo "cross_arm64: qemu-x86_64 -cpu Nehalem terragrad --cpu: $level"
  [ "$level" = baseline ] || { echo "cross_arm64: FAIL: expected the baseline level on Nehalem"; exit 1; }
  nrun gradcheck > "$OUT.nehalem.log" 2>&1 || { tail -20 "$OUT.nehalem.log"; echo "cross_arm64: FAIL: gradcheck on Nehalem"; exit 1; }
  echo "cross_arm64: qemu-x86_64 -cpu Nehalem terragrad gradcheck: $(tail -1 "$OUT.nehalem.log")"
fi
echo "cross_arm64: ok in $(( $(date +%s) - t0 )) s"
