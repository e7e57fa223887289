#!/usr/bin/env bash
# Installs the Debian packages terragrad needs, only those missing (non-interactive).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libopenblas-dev libnetcdf-dev netcdf-bin libyaml-dev
      gnuplot-nox gfortran libopenmpi-dev openmpi-bin
      # the Python package (python/), its tests and the benchmarks' peers: Debian's
      # /usr/bin/python3 and libraries only
      python3 python3-numpy python3-xarray python3-pandas python3-netcdf4 python3-pytest
      python3-torch python3-yaml python3-setuptools python3-venv python3-pip)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
