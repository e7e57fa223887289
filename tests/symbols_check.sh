#!/usr/bin/env bash
# Every symbol a library defines for the linker starts with tg_ (public) or tg__
# (internal): a static libterragrad.a must not collide with a user's own `eval` or
# `calib_adam`. The shared libraries must export only the public tg_ API.
# usage: symbols_check.sh LIBDIR LIBNAME...   (e.g. terragrad terragrad-hydro)
set -uo pipefail
dir=$1; shift
fails=0 checks=0
for name in "$@"; do
  checks=$((checks + 3))
  bad=$(nm -g --defined-only "$dir/lib$name.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TDBRVWCG]$/ {print $3}' |
        grep -v -E '^(tg_|TG_|\.gomp_critical_user_tg_)' | sort -u)
  if [ -n "$bad" ]; then
    echo "FAIL: lib$name.a defines unprefixed global symbols:"; echo "$bad" | sed 's/^/  /'; fails=$((fails + 1))
  fi
  exported=$(nm -D --defined-only "$dir/lib$name.so" | awk '{print $3}' | grep -v -E '^(tg_|\.gomp_critical_user_tg_)' | sort -u)
  if [ -n "$exported" ]; then
    echo "FAIL: lib$name.so exports symbols outside tg_:"; echo "$exported" | sed 's/^/  /'; fails=$((fails + 1))
  fi
  internal=$(nm -D --defined-only "$dir/lib$name.so" | awk '{print $3}' | grep -c '^tg__')
  if [ "$internal" -ne 0 ]; then
    echo "FAIL: lib$name.so exports $internal internal tg__ symbols"; fails=$((fails + 1))
  fi
  n=$(nm -D --defined-only "$dir/lib$name.so" | grep -c ' T tg_')
  echo "lib$name: $n exported functions, all tg_; no unprefixed global in the static library"
done
echo "symbols check: $((checks - fails)) passed, $fails failed"
[ $fails -eq 0 ]
