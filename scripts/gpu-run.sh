#!/bin/bash
# The checks and the bench on a GPU machine that has no build tools and no
# package registry, from a tree that was built elsewhere and sent with its
# build/ and .gl/ folders (scripts/gpu-debs.sh fills .gl/). Each step has
# its own time limit, so a slow one still leaves the others' results:
#   1. the devices, and fastai 07a initialized both ways on the GPU, under
#      validation, checked against the fp64 reference;
#   2. bench/run-gpu.sh on the selected device: bench/results/<device-slug>/;
#   3. the device suites (statistics, forward, LSUV) on the GPU, with
#      validation on, side by side.
# Logs and results go to $LOG_DIR (default: gpu-logs/).
#
# usage: scripts/gpu-run.sh [DEVICE]   (DEVICE: a --device selector, default nvidia)
set -uo pipefail
cd "$(dirname "$0")/.."
device=${1:-nvidia}
logs=${LOG_DIR:-gpu-logs}
mkdir -p "$logs"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
images=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -e "$images" ]; then
    mkdir -p "$(dirname "$images")"
    cp .gl/fashion-mnist/train-images-idx3-ubyte.gz "$images"
fi
# The build has the absolute path of the tree it was built in compiled in
# (nets/, the peer script); point that path here.
built_in=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' build/CMakeCache.txt)
if [ -n "$built_in" ] && [ ! -e "$built_in" ]; then
    mkdir -p "$(dirname "$built_in")"
    ln -s "$PWD" "$built_in"
fi
export XDG_CACHE_HOME=$PWD/build/gpu-cache

step() { # NAME SECONDS COMMAND...: runs it, its output into $logs/NAME.log
    local name=$1 seconds=$2
    shift 2
    local start=$SECONDS
    timeout "$seconds" "$@" >"$logs/$name.log" 2>&1
    local rc=$?
    echo "gpu-run.sh: $name: exit $rc in $((SECONDS - start)) s" | tee -a "$logs/steps.txt"
    return $rc
}

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
    uname -r
} >"$logs/machine.txt"
step devices 30 build/lsuv-vk --list-devices
step fastai 60 build/lsuv-vk --layers nets/fastai-07a.cfg --input "idx:$images" --normalize \
    --order all --verify --validate --device "$device" --json "$logs/fastai.json"
step bench 240 env BUILD="$PWD/build" bash bench/run-gpu.sh "$device"
# One archive: the device tool returns a bounded number of files.
tar czf "$logs/results.tgz" bench/results/*/ 2>/dev/null
for suite in stats forward lsuv; do
    LSUV_TEST_DEVICE=$device step "test_$suite" 150 "build/tests/test_$suite" --verbose=0 &
done
wait
exit 0
