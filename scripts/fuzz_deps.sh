#!/usr/bin/env bash
# Installs what scripts/fuzz.sh needs beyond scripts/deps.sh: Debian's clang (14 on
# bookworm: libFuzzer via -fsanitize=fuzzer), its runtime libraries and OpenMP for clang.
set -euo pipefail
"$(dirname "$0")/deps.sh"
PKGS=(clang libclang-rt-dev libomp-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz_deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
