#!/bin/bash
# ctest gpu_run_dry: scripts/gpu-run.sh --dry-run on lavapipe into a temp
# LOG_DIR must exit 0, every step with it, and leave run-gpu.sh's
# results.json naming the device. gpu-run.sh runs the tree's build/, so
# another build (the sanitizers', a separate folder) skips it (exit 77).
#
# usage: tests/gpu_run_dry.sh SOURCE_DIR BINARY_DIR
set -uo pipefail
root=$1 binary=$2
if [ ! -e "$root/build/CMakeCache.txt" ] ||
    [ "$(cd "$root/build" && pwd -P)" != "$(cd "$binary" && pwd -P)" ]; then
    echo "gpu_run_dry: skipped: scripts/gpu-run.sh runs $root/build, and this build is $binary"
    exit 77
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/gpu-run-dry.XXXXXX")
trap 'rm -rf "$logs"' EXIT
start=$SECONDS
LOG_DIR=$logs "$root/scripts/gpu-run.sh" --dry-run llvmpipe
rc=$?
echo "gpu_run_dry: exit $rc in $((SECONDS - start)) s"
[ $rc = 0 ] || exit 1
steps=$(cat "$logs/steps.txt")
for name in devices fastai bench test_stats test_forward test_lsuv; do
    if ! grep -q "^gpu-run.sh: $name: exit 0 in" <<<"$steps"; then
        echo "gpu_run_dry: step $name did not exit 0:"
        cat "$logs/steps.txt" "$logs/$name.log" 2>/dev/null | tail -20
        exit 1
    fi
done
found=0
for json in "$logs"/results/*/results.json; do
    [ -e "$json" ] || continue
    python3 - "$json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
names = [d["name"] for d in r["devices"]]
runs = [e for e in r["lsuv"] if e["device"].startswith("llvmpipe")]
if not any(n.startswith("llvmpipe") for n in names) or not runs:
    sys.exit(f"gpu_run_dry: {sys.argv[1]}: devices {names}, {len(runs)} lavapipe LSUV entries")
if any(e["submissions"] != 1 for e in runs):
    sys.exit("gpu_run_dry: a run made more than one submission")
PY
    found=$((found + 1))
done
if [ $found = 0 ]; then
    echo "gpu_run_dry: no results.json under $logs/results"
    exit 1
fi
[ -s "$logs/results.tgz" ] && [ -s "$logs/fastai.json" ] || {
    echo "gpu_run_dry: results.tgz or fastai.json missing"
    exit 1
}
echo "gpu_run_dry: $found results.json, every step exit 0"
