#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 30) from a seed corpus made
# here: the repository's and darknet's cfgs, weights files written by
# lsuv-vk, and small IDX and .npy files. Any crash, leak or hang fails.
set -euo pipefail
build=${1:?usage: run.sh FUZZ_BUILD_DIR LSUV_VK [SECONDS]}
lsuv_vk=${2:?}
seconds=${3:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$build/fuzz-corpus
rm -rf "$work"
mkdir -p "$work"/{cfg,darknet_weights,safetensors,idx,npy}

cp "$root"/nets/*.cfg "$work/cfg/"
# darknet's own files too, where LSUV_DARKNET_CFG_DIR names them.
if [ -n "${LSUV_DARKNET_CFG_DIR:-}" ] && [ -d "$LSUV_DARKNET_CFG_DIR" ]; then
  cp "$LSUV_DARKNET_CFG_DIR"/*.cfg "$work/cfg/"
fi

# The weights targets' network (as in fuzz_weights.c), saved in both formats.
cat >"$work/net.cfg" <<'CFG'
[net]
height=28
width=28
channels=1
[convolutional]
filters=8
size=5
stride=2
pad=1
activation=relu
sub=0
[convolutional]
batch_normalize=1
filters=4
size=3
stride=2
pad=1
activation=relu
[avgpool]
[connected]
batch_normalize=1
output=3
activation=linear
CFG
"$lsuv_vk" --layers "$work/net.cfg" --order none --save-weights "$work/w.weights" >/dev/null
"$lsuv_vk" --layers "$work/net.cfg" --order none --save-weights "$work/w.safetensors" >/dev/null
cp "$work/w.weights" "$work/darknet_weights/"
cp "$work/w.safetensors" "$work/safetensors/"

# IDX and .npy seeds start with the fuzz targets' 4-byte batch limit
# (little-endian; 0: all). IDX: two 2x2 images, plain and gzipped, read
# whole and one at a time; a gzipped header with a zero size and 64 KiB of
# zeros behind it (a small gzip bomb).
printf '\0\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\2\1\2\3\4\5\6\7\10' >"$work/idx.raw"
for batch in all:0 one:1; do
  { printf '%b\0\0\0' "\\${batch#*:}"; cat "$work/idx.raw"; } >"$work/idx/plain-${batch%:*}"
  { printf '%b\0\0\0' "\\${batch#*:}"; gzip -c "$work/idx.raw"; } >"$work/idx/gzip-${batch%:*}"
done
{ printf '\100\0\0\0'; { printf '\0\0\10\3\0\0\0\144\0\0\0\0\0\0\0\34'; head -c 65536 /dev/zero; } |
  gzip -c; } >"$work/idx/zero-size"

# .npy: numpy's header for SHAPE, then the bytes given, after a batch limit.
npy() {
  local header="{'descr': '<f4', 'fortran_order': False, 'shape': $1, }"
  local total=$(( (10 + ${#header} + 1 + 63) / 64 * 64 )) pad
  printf -v pad '%*s' $((total - 10 - ${#header} - 1)) ''
  printf "$2"
  printf '\223NUMPY\1\0%b\0' "\\x$(printf %02x $((total - 10)))"
  printf '%s%s\n' "$header" "$pad"
  printf "$3"
}
npy '(1, 1, 1, 2)' '\100\0\0\0' '\0\0\200\77\0\0\0\100' >"$work/npy/seed.npy"
# 2^31 x 2^33 values wrap to 0 bytes; once copied 32 GiB for a batch of 1.
npy '(2147483648, 2, 65536, 65536)' '\1\0\0\0' '' >"$work/npy/wraps.npy"
npy '(2, 1, 1, 2)' '\0\0\0\0' '\0\0\200\77\0\0\300\177\0\0\200\177\0\0\200\377' >"$work/npy/nan.npy"

# safetensors: two tensors whose data overlap.
st='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}'
{ printf '%b\0\0\0\0\0\0\0' "\\x$(printf %02x ${#st})"; printf '%s' "$st"; head -c 6 /dev/zero; } \
  >"$work/safetensors/overlap"

status=0
for target in cfg darknet_weights safetensors idx npy; do
  echo "fuzz_$target: ${seconds}s"
  if ! "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-$target-" "$work/$target" \
      >"$build/fuzz_$target.log" 2>&1; then
    tail -40 "$build/fuzz_$target.log"
    status=1
  else
    grep -E 'stat::number_of_executed_units|Done' "$build/fuzz_$target.log" | tail -2
  fi
done
exit $status
