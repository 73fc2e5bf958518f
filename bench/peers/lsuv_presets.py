#!/usr/bin/env python3
"""An independent reference of the three LSUV presets of lsuv-vk, in numpy
and fp64, written from what each source does (not from lsuv-vk's code):

  fastai-07a    course-v3 notebook 07a_lsuv, lsuv_module: the output of the
                layer's GeneralRelu, torch's unbiased std; a mean loop
                `while |mean| > 1e-3: sub += mean`, then a std loop
                `while |std - 1| > 1e-3: W /= std`. Convolutions only.
  lsuv-paper    LSUVinit tools/extra/lsuv_init.py: the layer's blob before
                the nonlinearity, np.var; `while |var - 1| > 0.02:
                W /= sqrt(var)`, breaking once its counter passes
                max_iter = 20 (21 corrections at most). Every convolutional
                and connected layer, the last included.
  lsuv-pytorch  LSUV-pytorch LSUV.py: the Conv2d/Linear output, np.mean and
                np.std; `while |std - 1| > 0.1: coef = 1/(std + 1e-8);
                W *= coef; b -= mean * coef`, 11 corrections at most.

Reads a darknet .cfg (convolutional, connected, maxpool, avgpool), the
initial weights as lsuv-vk writes them (.safetensors: layers.I.weight,
layers.I.bias, layers.I.sub, float32) and an N x C x H x W float32 .npy
batch. Layers go in network order, each from the input that the layers
before it give with their final weights; a layer with lsuv=0 is left out.

`passes` counts the statistics evaluations of a layer: each loop evaluates
once as it starts, and once after each correction, as the notebook's
`while mdl(xb) is not None and ...` does (so its std loop evaluates again
the weights its mean loop left).

Prints JSON: {"preset", "order", "layers": [{"index", "mean", "std",
"passes", "capped"}]}, mean and std at the preset's measuring point with its
estimator."""
import argparse
import json
import struct
import sys

import numpy as np

PRESETS = {
    "fastai-07a": dict(measure="post", ddof=1, rule="std", tol_mean=1e-3, tol_std=1e-3,
                       cap=50, types=("convolutional",), order="mean-first"),
    "lsuv-paper": dict(measure="pre", ddof=0, rule="variance", tol_mean=None, tol_std=0.02,
                       cap=21, types=("convolutional", "connected"), order="std-only"),
    "lsuv-pytorch": dict(measure="pre", ddof=0, rule="coef", tol_mean=None, tol_std=0.1,
                         cap=11, types=("convolutional", "connected"), order="std-only"),
}


def read_safetensors(path):
    """{name: float64 array} of a .safetensors file of F32 tensors."""
    with open(path, "rb") as f:
        blob = f.read()
    size = struct.unpack_from("<Q", blob, 0)[0]
    header = json.loads(blob[8 : 8 + size].decode("utf-8"))
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name}: dtype {info['dtype']}, expected F32")
        lo, hi = info["data_offsets"]
        values = np.frombuffer(blob, dtype="<f4", count=(hi - lo) // 4, offset=base + lo)
        tensors[name] = values.astype(np.float64).reshape(info["shape"])
    return tensors


def read_cfg(path):
    """The [net] options and a list of (type, options) per layer."""
    sections = []
    with open(path) as f:
        for raw in f:
            line = raw.split("#")[0].split(";")[0].strip()
            if not line:
                continue
            if line.startswith("["):
                sections.append((line.strip("[]").strip(), {}))
            else:
                key, _, value = line.partition("=")
                sections[-1][1][key.strip()] = value.strip()
    net, layers = sections[0], sections[1:]
    alias = {"conv": "convolutional", "max": "maxpool", "avg": "avgpool"}
    return net[1], [(alias.get(t, t), o) for t, o in layers]


def activate(name, slope, x):
    if name == "linear":
        return x
    if name in ("relu", "leaky"):
        return np.where(x > 0, x, slope * x)
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    sys.exit(f"activation {name}: not in this reference (linear, relu, leaky, logistic, tanh)")


class Layer:
    def __init__(self, index, kind, opts, shape):
        self.index, self.kind, self.opts = index, kind, opts
        c, h, w = shape
        num = lambda k, d: float(opts.get(k, d))
        whole = lambda k, d: int(opts.get(k, d))
        self.lsuv = whole("lsuv", 1) != 0
        self.act = opts.get("activation", "logistic")
        self.slope = num("leak", 0.1 if self.act == "leaky" else 0.0)
        self.sub = num("sub", 0.0)
        self.maxv = num("maxv", np.inf)
        if kind == "convolutional":
            self.k, self.stride = whole("size", 1), whole("stride", 1)
            self.groups = whole("groups", 1)
            self.pad = self.k // 2 if whole("pad", 0) else whole("padding", 0)
            ho = (h + 2 * self.pad - self.k) // self.stride + 1
            wo = (w + 2 * self.pad - self.k) // self.stride + 1
            self.out = (whole("filters", 1), ho, wo)
        elif kind == "connected":
            self.out = (whole("output", 1), 1, 1)
        elif kind == "maxpool":
            self.stride = whole("stride", 1)
            self.k = whole("size", self.stride)
            self.padding = whole("padding", self.k - 1)
            ho = (h + self.padding - self.k) // self.stride + 1
            wo = (w + self.padding - self.k) // self.stride + 1
            self.out = (c, ho, wo)
        elif kind == "avgpool":
            self.out = (c, 1, 1)
        else:
            sys.exit(f"layer {index}: [{kind}] is not in this reference")

    def has_weights(self):
        return self.kind in ("convolutional", "connected")

    def pre(self, x):
        """The sums after the bias, before the activation."""
        if self.kind == "connected":
            return x.reshape(len(x), -1) @ self.W.T + self.b
        n, c, h, w = x.shape
        p, k, s, g = self.pad, self.k, self.stride, self.groups
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
        win = win[:, :, ::s, ::s][:, :, : self.out[1], : self.out[2]]
        cg, og = c // g, self.out[0] // g
        parts = []
        for gi in range(g):
            wg = self.W[gi * og : (gi + 1) * og]
            xg = win[:, gi * cg : (gi + 1) * cg]
            parts.append(np.einsum("nchwij,ocij->nohw", xg, wg, optimize=True))
        return np.concatenate(parts, axis=1) + self.b[None, :, None, None]

    def post(self, z):
        return np.minimum(activate(self.act, self.slope, z) - self.sub, self.maxv)

    def forward(self, x):
        if self.has_weights():
            y = self.post(self.pre(x))
            return y.reshape(len(x), *self.out)
        if self.kind == "avgpool":
            return x.mean(axis=(2, 3), keepdims=True)
        n, c, h, w = x.shape
        off, k, s = self.padding // 2, self.k, self.stride
        xp = np.full((n, c, h + self.padding + k, w + self.padding + k), -np.inf)
        xp[:, :, off : off + h, off : off + w] = x
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        return win[:, :, : self.out[1], : self.out[2]].max(axis=(4, 5))


def build(cfg, tensors):
    net, sections = read_cfg(cfg)
    shape = (int(net.get("channels", 1)), int(net["height"]), int(net["width"]))
    layers = []
    for i, (kind, opts) in enumerate(sections):
        layer = Layer(i, kind, opts, shape)
        if layer.has_weights():
            layer.W = tensors[f"layers.{i}.weight"].copy()
            layer.b = tensors[f"layers.{i}.bias"].copy()
            if f"layers.{i}.sub" in tensors:
                layer.sub = float(tensors[f"layers.{i}.sub"].reshape(()))
        layers.append(layer)
        shape = layer.out
    return layers


def lsuv_layer(layer, x, p, order):
    """The preset's loops on one layer with input x: (passes, mean, std, capped)."""
    passes = 0

    def stats():
        nonlocal passes
        passes += 1
        z = layer.pre(x)
        y = z if p["measure"] == "pre" else layer.post(z)
        return y.mean(), y.std(ddof=p["ddof"])

    cap, capped = p["cap"], False

    def std_bad(std):
        if p["rule"] == "variance":
            return abs(std * std - 1) > p["tol_std"]
        return abs(std - 1) > p["tol_std"]

    def mean_loop(done):
        mean, std = stats()
        while abs(mean) > p["tol_mean"] and done < cap:
            layer.sub += mean  # GeneralRelu's sub: post only
            mean, std = stats()
            done += 1
        return mean, std, done, abs(mean) > p["tol_mean"]

    def std_loop(done):
        mean, std = stats()
        while std_bad(std) and done < cap:
            if p["rule"] == "std":
                layer.W /= std
            elif p["rule"] == "variance":
                layer.W /= np.sqrt(std * std)
            else:
                coef = 1.0 / (std + 1e-8)
                layer.W *= coef
                layer.b -= mean * coef
            mean, std = stats()
            done += 1
        return mean, std, done, std_bad(std)

    if order == "std-only":
        mean, std, _, capped = std_loop(0)
    elif order == "std-first":
        mean, std, _, c1 = std_loop(0)
        mean, std, _, c2 = mean_loop(0)
        capped = c1 or c2
    elif order == "mean-first":
        mean, std, _, c1 = mean_loop(0)
        mean, std, _, c2 = std_loop(0)
        capped = c1 or c2
    else:  # fixed-point: both loops again while the std loop moved the mean out
        m_done = s_done = 0
        while True:
            mean, std, m_done, c1 = mean_loop(m_done)
            mean, std, s_done, c2 = std_loop(s_done)
            if c2 or abs(mean) <= p["tol_mean"]:
                capped = c2
                break
            if m_done >= cap:
                capped = True
                break
    return passes, float(mean), float(std), bool(capped)


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--cfg", required=True)
    a.add_argument("--weights", required=True, help="initial weights, .safetensors")
    a.add_argument("--input", required=True, help="N x C x H x W float32 .npy")
    a.add_argument("--preset", required=True, choices=sorted(PRESETS))
    a.add_argument("--order", choices=["mean-first", "std-first", "fixed-point"],
                   help="fastai-07a's loops in another order")
    a.add_argument("--max-iters", type=int, help="the cap of each loop")
    args = a.parse_args()
    p = dict(PRESETS[args.preset])
    if args.max_iters:
        p["cap"] = args.max_iters
    order = args.order or p["order"]
    if args.order and p["tol_mean"] is None:
        sys.exit(f"--order: {args.preset} has no mean loop")
    layers = build(args.cfg, read_safetensors(args.weights))
    x = np.load(args.input).astype(np.float64)
    out = []
    for layer in layers:
        if layer.has_weights() and layer.lsuv and layer.kind in p["types"]:
            passes, mean, std, capped = lsuv_layer(layer, x, p, order)
            out.append(dict(index=layer.index, mean=mean, std=std, passes=passes, capped=capped))
        x = layer.forward(x)
    json.dump(dict(preset=args.preset, order=order, layers=out), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
