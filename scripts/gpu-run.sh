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
# With --dry-run (DEVICE default llvmpipe) the same steps run on this
# machine, in CI's time: nothing is installed (no dpkg -x, no ldconfig), the
# logs and bench/run-gpu.sh's results go to $LOG_DIR (default: a new temp
# folder, named on the last line) and not to bench/results/, and each step
# is cut down: fastai at batch 32 in two orderings, the bench's LSUV part
# alone on fastai at 16 (std-first, 5 repeats, no peer), one test of each
# device suite.
#
# usage: scripts/gpu-run.sh [--dry-run] [DEVICE]   (DEVICE: a --device selector, default nvidia)
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
if [ "${1:-}" = --dry-run ]; then
    dry=1
    shift
fi
images=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ $dry = 1 ]; then
    device=${1:-llvmpipe}
    logs=${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-run-dry.XXXXXX")}
    results=$logs/results
    [ -e "$images" ] || images=$PWD/.gl/fashion-mnist/train-images-idx3-ubyte.gz
    fastai_args=(--batch 32 --order both)
    bench_args=(--lsuv --net fastai@16 --orders std-first --no-peer --repeats 5)
    suite_filter() { # SUITE: a quick test of it
        case $1 in
        stats) echo 'stats/constant_input_has_zero_std' ;;
        forward) echo 'forward/crop_closed_form' ;;
        lsuv) echo 'lsuv/same_start_same_result' ;;
        esac
    }
else
    device=${1:-nvidia}
    logs=${LOG_DIR:-gpu-logs}
    results=$PWD/bench/results
    fastai_args=()
    bench_args=()
    suite_filter() { :; }
fi
mkdir -p "$logs"
if [ $dry = 0 ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    if [ ! -e "$images" ]; then
        mkdir -p "$(dirname "$images")"
        cp .gl/fashion-mnist/train-images-idx3-ubyte.gz "$images"
    fi
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
    --order all --verify --validate --device "$device" --json "$logs/fastai.json" \
    ${fastai_args[@]+"${fastai_args[@]}"}
step bench 240 env BUILD="$PWD/build" RESULTS="$results" bash bench/run-gpu.sh "$device" \
    ${bench_args[@]+"${bench_args[@]}"}
# One archive: the device tool returns a bounded number of files.
if [ $dry = 1 ]; then
    tar czf "$logs/results.tgz" -C "$logs" results 2>/dev/null
else
    tar czf "$logs/results.tgz" bench/results/*/ 2>/dev/null
fi
for suite in stats forward lsuv; do
    filter=$(suite_filter $suite)
    LSUV_TEST_DEVICE=$device step "test_$suite" 150 "build/tests/test_$suite" --verbose=0 \
        ${filter:+--filter "$filter"} &
done
wait
[ $dry = 1 ] && echo "gpu-run.sh: dry run on $device: logs and results in $logs"
exit 0
