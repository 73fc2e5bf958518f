#!/usr/bin/env python3
"""LSUV the fastai course-v3 notebook 07a way, in PyTorch on the CPU, from
the same initial weights and batch lsuv-bench uses, for a side-by-side time.

Two variants per ordering (mean-first as the notebook, std-first swapped):
  notebook     every pass runs the whole network, with a forward hook on the
               layer, as lsuv_module does;
  layer-local  the layer's input is computed once and each pass runs only
               that layer (best practice).
Prints JSON: per variant and ordering, the median, min and max milliseconds
of the LSUV phase over the repeats, the passes, and each layer's final mean
and std."""
import argparse
import gzip
import os
import json
import struct
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # importing the shared module leaves no __pycache__ in the tree
from fastai07a import build, read_safetensors  # noqa: E402


def read_batch(path, n):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, count, h, w = struct.unpack(">IIII", data[:16])
    x = np.frombuffer(data[16 : 16 + n * h * w], dtype=np.uint8).astype(np.float32) / 255.0
    x = x.reshape(n, 1, h, w).astype(np.float64)
    x = (x - x.mean()) / x.std(ddof=1)  # fastai's normalize_to, with the batch's statistics
    return torch.from_numpy(x.astype(np.float32))


def lsuv_layer(layer, run, order, tol, max_iters):
    """run() returns the layer's output; the loops of the notebook."""
    passes = 0

    def stats():
        nonlocal passes
        passes += 1
        out = run()
        return out.mean().item(), out.std().item()

    # Each loop runs the network before its first test, as the notebook's
    # `while mdl(xb) is not None and ...` does (and lsuv-vk counts).
    loops = ["mean", "std"] if order == "mean-first" else ["std", "mean"]
    for loop in loops:
        mean, std = stats()
        it = 0
        if loop == "mean":
            while abs(mean) > tol and it < max_iters:
                layer.relu.sub += mean
                mean, std = stats()
                it += 1
        else:
            while abs(std - 1) > tol and it < max_iters:
                layer.conv.weight.data /= std
                mean, std = stats()
                it += 1
    return passes, mean, std


def run_variant(weights, xb, variant, order, tol, max_iters):
    model, layers = build(weights)
    results = []
    total = 0
    with torch.no_grad():
        start = time.perf_counter()
        for k, layer in enumerate(layers):
            if variant == "notebook":
                captured = {}
                hook = layer.register_forward_hook(lambda m, i, o: captured.__setitem__("o", o))

                def run():
                    model(xb)
                    return captured["o"]

                passes, mean, std = lsuv_layer(layer, run, order, tol, max_iters)
                hook.remove()
            else:
                x = xb
                for prev in layers[:k]:
                    x = prev(x)
                passes, mean, std = lsuv_layer(layer, lambda: layer(x), order, tol, max_iters)
            total += passes
            results.append({"passes": passes, "mean": mean, "std": std})
        ms = (time.perf_counter() - start) * 1e3
    return ms, total, results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--max-iters", type=int, default=50)
    a = p.parse_args()
    # Every core, as lavapipe uses (this build of torch starts with one).
    torch.set_num_threads(os.cpu_count() or 1)
    weights = read_safetensors(a.weights)
    xb = read_batch(a.images, a.batch)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "runs": []}
    for variant in ["notebook", "layer-local"]:
        for order in ["mean-first", "std-first"]:
            times = []
            for r in range(a.repeats + 1):  # one warm-up
                ms, passes, layers = run_variant(weights, xb, variant, order, a.tol, a.max_iters)
                if r:
                    times.append(ms)
            times.sort()
            out["runs"].append({"variant": variant, "order": order, "median_ms": times[len(times) // 2],
                                "min_ms": times[0], "max_ms": times[-1], "passes": passes,
                                "layers": layers})
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
