#!/usr/bin/env bash
# layer_check.sh — the engine / application split of docs/library.md, checked from the
# sources (and, given a build folder, from the engine's shared library):
#   (a) no engine source includes an application header, <terragrad.h> (the umbrella pulls
#       the application headers in), netcdf.h, yaml.h or mpi.h;
#   (b) no private header (src/DIR/*.h) is included from the other library's folders or
#       from cli/ (the CLI uses public headers only);
#   (c) libterragrad.so needs no symbol beyond libc, libm, libmvec, BLAS and OpenMP;
#   (d) no engine layer includes a higher one. The order, lowest first (a folder may
#       include its own and any lower layer's headers, public or private):
#         0 core  <  1 ops  <  2 nn, optim  <  3 adjoint  <  4 models  <  5 ude, pinn  <  6 check
#       Public engine headers belong to the layer of what they declare: core.h, version.h 0;
#       nn.h, lbfgs.h 2; adjoint.h 3; models.h, hbv_implicit.h, hybrid.h 4; ude.h, pinn.h 5; gradcheck.h 6.
# usage: scripts/layer_check.sh [--strict-cli] [SOURCE_DIR [BUILD_DIR]]
#   SOURCE_DIR defaults to the checkout holding this script; without BUILD_DIR (or when it
#   holds no libterragrad*.so) (c) is skipped.
#   The CLI uses only public headers: a cli/ file including a private header is an error
#   (TG_LAYER_STRICT_CLI=0 turns it into a warning; --strict-cli is the default now that
#   the training API is public, terragrad/run.h).
set -uo pipefail
strict_cli=${TG_LAYER_STRICT_CLI:-1}
args=()
for a in "$@"; do
  case $a in
    --strict-cli) strict_cli=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$a") ;;
  esac
done
SRC=${args[0]:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${args[1]:-}
cd "$SRC" || exit 2

# keep in step with TG_ENGINE_DIRS in CMakeLists.txt
declare -A layer=([core]=0 [ops]=1 [nn]=2 [optim]=2 [adjoint]=3 [models]=4 [ude]=5 [pinn]=5 [check]=6)
declare -A public_layer=([core.h]=0 [version.h]=0 [nn.h]=2 [lbfgs.h]=2 [adjoint.h]=3 [models.h]=4
                         [hbv_implicit.h]=4 [hybrid.h]=4 [ude.h]=5 [pinn.h]=5 [gradcheck.h]=6)
fails=0 warns=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
warn() { echo "warning: $*"; warns=$((warns + 1)); }
is_engine_dir() { [ -n "${layer[$1]+x}" ]; }

# every engine folder must exist (a rename would silently drop a folder from the checks)
for d in "${!layer[@]}"; do [ -d "src/$d" ] || fail "engine folder src/$d is missing (update the layer table)"; done

# every include of the sources, the CLI and the public headers, one per line: FILE<TAB>LINE<TAB>HEADER
# (one grep for all files: the check stays fast on a busy machine)
all_includes=$(grep -n -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' \
                 src/*/*.c src/*/*.h cli/*.c cli/*.h include/terragrad/*.h |
               sed -E 's/^([^:]+):([0-9]+):[^"<]*["<]([^">]*)[">].*/\1\t\2\t\3/')

while IFS=$'\t' read -r f line hdr; do
  d=${f%/*}; dir=${d##*/}; top=${f%%/*}
  if [ "$top" = include ]; then
    # ---- (a), (d): public engine headers include only lower-or-equal engine headers
    h=${f##*/}
    [ -n "${public_layer[$h]+x}" ] || continue
    case $hdr in
      netcdf.h|yaml.h|mpi.h) fail "(a) $f:$line includes <$hdr>" ;;
      terragrad/*)
        i=${hdr#terragrad/}
        if [ -z "${public_layer[$i]+x}" ]; then
          fail "(a) $f:$line: engine header includes the application header \"$hdr\""
        elif [ "${public_layer[$i]}" -gt "${public_layer[$h]}" ]; then
          fail "(d) $f:$line: \"$h\" (layer ${public_layer[$h]}) includes \"$hdr\" (layer ${public_layer[$i]})"
        fi ;;
    esac
  elif is_engine_dir "$dir"; then
    # ---- (a), (b), (d): engine sources
    mine=${layer[$dir]}
    case $hdr in
      netcdf.h|yaml.h|mpi.h)
        fail "(a) $f:$line includes <$hdr>: the engine needs only BLAS, OpenMP and libm" ;;
      terragrad.h)
        fail "(a) $f:$line includes \"terragrad.h\", which includes the application headers; include the engine headers it uses" ;;
      terragrad/*)
        h=${hdr#terragrad/}
        if [ -z "${public_layer[$h]+x}" ]; then
          fail "(a) $f:$line includes \"$hdr\", an application (libterragrad-hydro) header"
        elif [ "${public_layer[$h]}" -gt "$mine" ]; then
          fail "(d) $f:$line: layer $dir ($mine) includes \"$hdr\" of layer ${public_layer[$h]}"
        fi ;;
      */*)
        hd=${hdr%%/*}
        [ -f "src/$hdr" ] || continue
        if ! is_engine_dir "$hd"; then
          fail "(b) $f:$line: engine source includes \"$hdr\", a private header of libterragrad-hydro"
        elif [ "${layer[$hd]}" -gt "$mine" ]; then
          fail "(d) $f:$line: layer $dir ($mine) includes \"$hdr\" of layer $hd (${layer[$hd]})"
        fi ;;
    esac
  else
    # ---- (b): application sources and the CLI
    case $hdr in terragrad/*|terragrad.h) continue ;; esac
    [[ $hdr == */* ]] || continue
    [ -f "src/$hdr" ] || continue
    hd=${hdr%%/*}
    if [ "$dir" = cli ]; then
      if [ "$hd" = train ] && [ "$strict_cli" != 1 ]; then
        warn "(b) $f:$line includes the private \"$hdr\" (allowed until the public training API; --strict-cli)"
      else
        fail "(b) $f:$line: the CLI includes the private header \"$hdr\"; use a public header"
      fi
    elif is_engine_dir "$hd"; then
      fail "(b) $f:$line: libterragrad-hydro includes \"$hdr\", a private header of the engine"
    fi
  fi
done <<< "$all_includes"

# ---- (c): the engine's shared library
if [ -n "$BUILD" ]; then
  so=$(ls "$BUILD"/libterragrad.so "$BUILD"/libterragrad-double.so 2>/dev/null | head -1)
  if [ -z "$so" ]; then
    echo "note: no libterragrad.so in $BUILD, (c) skipped"
  else
    # what the allowed libraries define: libc, libm, libmvec, libgomp, BLAS, the dynamic loader
    allowed=$(ldd "$so" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
              grep -E '/(libc|libm|libmvec|libgomp|libopenblas[^/]*|libblas|libcblas|ld-linux[^/]*|libgcc_s)\.so' || true)
    others=$(ldd "$so" | awk '$3 ~ /^\// {print $3}' | grep -v -E '/(libc|libm|libmvec|libgomp|libopenblas[^/]*|libblas|libcblas|ld-linux[^/]*|libgcc_s|libgfortran|libquadmath|libpthread|libdl)\.so' || true)
    [ -z "$others" ] || fail "(c) $so links libraries outside libc/libm/BLAS/OpenMP: $(echo $others)"
    defined=$(for l in $allowed; do nm -D --defined-only "$l" 2>/dev/null | awk '{print $3}'; done | sed 's/@.*//' | sort -u)
    undef=$(nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | sed 's/@.*//' | sort -u)
    missing=$(comm -23 <(echo "$undef") <(echo "$defined"))
    if [ -n "$missing" ]; then
      fail "(c) $so needs symbols no allowed library defines: $(echo $missing)"
    else
      echo "(c) $(basename "$so"): $(echo "$undef" | wc -l) undefined symbols, all from libc/libm/BLAS/OpenMP"
    fi
  fi
fi

echo "layer check: $fails failure(s), $warns warning(s)"
[ $fails -eq 0 ]
