#!/usr/bin/env bash
# Installs the Debian 12 packages lsuv-vk builds, tests and runs with
# (python3-numpy: the presets' reference, bench/peers/lsuv_presets.py).
# A no-op when everything is already there, so `make run` and `make test`
# can call it every time without touching the network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libvulkan-dev libvulkan-volk-dev glslang-tools
  mesa-vulkan-drivers vulkan-validationlayers
  libcriterion-dev libcjson-dev zlib1g-dev
  clang libclang-rt-14-dev
  dataset-fashion-mnist
  python3-numpy
)
# `setup-debian.sh peers` adds the PyTorch peer of lsuv-bench --lsuv.
for group in "$@"; do
  case "$group" in
    peers) packages+=(python3-torch) ;;
    *) echo "setup-debian.sh: unknown group '$group' (known: peers)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "setup-debian.sh: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "setup-debian.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
