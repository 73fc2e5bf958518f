#!/bin/bash
# Fills .gl/ (git-ignored) with the Debian packages that a GPU machine with
# no package registry and no build tools needs to run the built programs:
# the Vulkan loader, which volk opens at run time, glvnd's libraries (NVIDIA's
# Vulkan driver is its GLX library and needs them), the validation layer, and
# every library that ldd lists for build/lsuv-vk, build/lsuv-bench and the
# test binaries (but libc). Fashion-MNIST's package (31 MB) would not fit
# what such a machine is sent, so .gl/fashion-mnist/ gets its first 2048
# training images as an IDX file of their own: every batch the bench and
# the device tests take is among them. There, `for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig`
# installs them, and scripts/gpu-run.sh runs the checks and the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
for program in lsuv-vk lsuv-bench; do
    if [ ! -x "$build/$program" ]; then
        echo "gpu-debs.sh: $build/$program is missing; build first (make build)" >&2
        exit 2
    fi
done
packages=(libvulkan1 vulkan-validationlayers libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)
for lib in $(ldd "$build/lsuv-vk" "$build/lsuv-bench" "$build"/tests/test_* 2>/dev/null | awk '$3 ~ /^\// {print $3}' | sort -u); do
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
rm -rf .gl
mkdir -p .gl/fashion-mnist
python3 - .gl/fashion-mnist/train-images-idx3-ubyte.gz <<'PY'
import gzip, struct, sys
n = 2048
with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
    magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
    images = f.read(n * rows * cols)
with gzip.open(sys.argv[1], "wb") as f:
    f.write(struct.pack(">IIII", magic, n, rows, cols) + images)
PY
cd .gl
apt-get download $(printf '%s\n' "${packages[@]}" | sort -u)
ls -1 "$PWD"
