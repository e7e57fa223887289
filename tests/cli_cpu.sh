#!/usr/bin/env bash
# cli_cpu.sh — `terragrad --cpu` reports the vector kernel level in use: TG_CPU=baseline
# forces the baseline, avx2 caps at AVX2, unset takes what /proc/cpuinfo offers, and a
# misspelt TG_CPU is refused with a message naming it.  usage: cli_cpu.sh <terragrad> <data> <workdir>
set -u
TG=$1
fail=0
expect() {   # expect <what> <want> <got>
    if [ "$2" = "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: want '$2', got '$3'"; fail=1; fi
}
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
hw=baseline
if [ "$(uname -m)" = x86_64 ] && has avx2 && has fma; then
    hw=avx2
    if has avx512f && has avx512vl && has avx512dq && has avx512bw; then hw=avx512; fi
fi
cap2=$hw; [ "$hw" = avx512 ] && cap2=avx2

expect "unset" "$hw" "$(env -u TG_CPU "$TG" --cpu)"
expect "TG_CPU=auto" "$hw" "$(TG_CPU=auto "$TG" --cpu)"
expect "TG_CPU=baseline" baseline "$(TG_CPU=baseline "$TG" --cpu)"
expect "TG_CPU=avx2" "$cap2" "$(TG_CPU=avx2 "$TG" --cpu)"
line=$(TG_CPU=baseline "$TG" --help | grep -- "--cpu")
[[ "$line" == *"in use: baseline "* ]] || { echo "FAIL --help does not name the level: $line"; fail=1; }
err=$(TG_CPU=avx9 "$TG" --cpu 2>&1 >/dev/null); rc=$?
expect "TG_CPU=avx9 exit status" 2 "$rc"
[[ "$err" == *"TG_CPU='avx9'"* ]] || { echo "FAIL message does not name TG_CPU: $err"; fail=1; }
exit $fail
