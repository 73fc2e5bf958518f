#!/bin/bash
# Fills .gl/ (git-ignored) with the Debian packages that a GPU machine with
# no package registry and no build tools needs to run the built programs:
# the Vulkan loader, which volk opens at run time, and every library that
# ldd lists for build/lsuv-vk and build/lsuv-bench (but libc). There,
# `for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig` installs them, and
# bench/run-gpu.sh runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
for program in lsuv-vk lsuv-bench; do
    if [ ! -x "$build/$program" ]; then
        echo "gpu-debs.sh: $build/$program is missing; build first (make build)" >&2
        exit 2
    fi
done
packages=(libvulkan1)
for lib in $(ldd "$build/lsuv-vk" "$build/lsuv-bench" | awk '$3 ~ /^\// {print $3}' | sort -u); do
    real=$(readlink -f "$lib")
    # With merged /usr a file may be registered under either path.
    owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null ||
        dpkg -S "${real#/usr}" 2>/dev/null || true)
    owner=${owner%%:*}
    case $owner in
    "" | libc6) ;;
    *) packages+=("$owner") ;;
    esac
done
mkdir -p .gl
cd .gl
apt-get download $(printf '%s\n' "${packages[@]}" | sort -u)
ls -1 "$PWD"
