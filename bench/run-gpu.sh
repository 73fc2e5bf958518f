#!/bin/bash
# Runs the benchmark suite from an already-built tree, one device at a time,
# and writes bench/results/<device-slug>/: results.json (with the date,
# driver and command), results.csv, kernels.csv, the SVG plots and table.txt.
# It needs the Vulkan loader and a driver, not build tools, so it runs on a
# GPU machine that only received the tree and its build/ folder.
#
# usage: bench/run-gpu.sh [DEVICE] [lsuv-bench options...]
#   DEVICE  a selector of lsuv-bench --device (default: all)
#   BUILD   environment: the build folder (default: build)
#   RESULTS environment: where the device folders go (default: bench/results)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BUILD:-$root/build}/lsuv-bench
device=${1:-all}
shift || true
if [ ! -x "$bench" ]; then
    echo "run-gpu.sh: $bench is missing; build first (make build)" >&2
    exit 2
fi
devices=$("$bench" --list-devices --device "$device")
status=0
while IFS=$'\t' read -r index slug type name; do
    out=${RESULTS:-$root/bench/results}/$slug
    echo "run-gpu.sh: device $index, $name ($type) -> $out" >&2
    table=$(mktemp)
    # The results land in $out only when every case finished; the table
    # follows them.
    if "$bench" --device "$index" --out "$out" "$@" | tee "$table"; then
        mv "$table" "$out/table.txt"
        chmod 644 "$out/table.txt"
    else
        status=$?
        rm -f "$table"
        echo "run-gpu.sh: $name failed (exit $status); $out is unchanged" >&2
    fi
done <<<"$devices"
exit $status
