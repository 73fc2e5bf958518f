#!/usr/bin/env python3
"""Trains fastai course-v3 notebook 07a's conv net on Fashion-MNIST from each
of the given .safetensors (as lsuv-vk --save-weights writes them for
nets/fastai-07a.cfg): the training outcome of an initialization.

usage: train_fastai.py --data DIR --epochs N --seed S --out OUT.json
                       [--steps-per-epoch M] [--threads T] W1.safetensors ...

The notebook's settings (07a_lsuv.ipynb: get_learn_run(nfs, data, 0.6,
ConvLayer, cbs=cbfs) then run.fit(2, learn); get_runner's defaults):
  - optimizer: torch.optim.SGD, lr 0.6, no momentum, no weight decay, no
    schedule; loss F.cross_entropy (the batch mean);
  - minibatches of 512 from the training set, reshuffled every epoch, the
    last (partial) batch kept, as DataLoader(shuffle=True) does; the
    shuffle of each epoch is torch.randperm(60000) from
    torch.Generator().manual_seed(S), so a seed gives the same batches;
  - images scaled to [0, 1], then shifted and scaled by the training set's
    mean and std (normalize_to); the test set by the same two numbers.
    lsuv-vk --normalize fits LSUV on a batch normalized by that batch's own
    statistics, so the network sees slightly different numbers here.
  - `sub` (the GeneralRelu shift LSUV moves) is read from the file and used,
    fixed: as in the notebook it is a constant, not a parameter.

Reported per weights file, in the order given:
  loss_K     the cross-entropy of the K-th minibatch (1-based, counted over
             all epochs) computed before that minibatch's update: what the
             notebook's Recorder records; null when training has < K steps
             or when that loss is not finite (training diverged).
  diverged   true when any minibatch's loss was not finite (Inf or NaN):
             SGD at lr 0.6 does diverge from some initializations.
  train_acc  the accuracy of the last epoch's minibatches, each before its
             update, weighted by their sizes: the notebook's "train:" line.
  test_acc   the accuracy of the trained network on the whole test set.
  seconds    wall time of the training steps (not loading, not testing).

--steps-per-epoch M stops each epoch after M minibatches (a cap for tests
and quick studies; an epoch is otherwise ceil(60000 / 512) = 118 steps).
--threads T (default 1) sets torch's threads: results are then the same on
any machine; more threads may round differently.

Exit status: 0, OUT.json written whole (a temporary file renamed); 2 bad
arguments; 3 a weights file that is not 07a's network (names and shapes, read
before torch loads) or PyTorch missing; 1 any other error, naming the file.
Errors are one line on stderr."""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True  # the shared modules leave no __pycache__ in the tree
import fastai07a_file  # noqa: E402 (torch-free)

PROG = "train_fastai.py"
BATCH = 512
LR = 0.6
RECORD = (1, 10, 100)
OPTIMIZER = (
    f"torch.optim.SGD lr {LR}, momentum 0, weight decay 0, no schedule; cross-entropy; "
    f"batch {BATCH}, reshuffled each epoch (torch.randperm, seeded), last partial batch kept; "
    "inputs normalized by the training set's mean and std; GeneralRelu sub fixed "
    "(fastai 07a: get_learn_run(nfs, data, 0.6, ConvLayer))"
)


class Failure(Exception):
    """An error that ends the run with `code`, its message naming the file."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description="Train fastai 07a's net from LSUV weights.")
    p.add_argument("--data", required=True, help="folder of Fashion-MNIST's four idx .gz files")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps-per-epoch", type=int, help="cap on minibatches per epoch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("weights", nargs="+")
    a = p.parse_args(argv)
    if a.epochs < 1:
        p.error(f"--epochs must be at least 1, not {a.epochs}")
    if a.steps_per_epoch is not None and a.steps_per_epoch < 1:
        p.error(f"--steps-per-epoch must be at least 1, not {a.steps_per_epoch}")
    if a.threads < 1:
        p.error(f"--threads must be at least 1, not {a.threads}")
    if a.seed < 0:
        p.error(f"--seed must be at least 0, not {a.seed}")
    return a


def read_idx(path, dims):
    """The array of an idx file of uint8 with `dims` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise Failure(1, f"{path}: {e}") from None
    if len(data) < 4 + 4 * dims or data[:4] != bytes([0, 0, 8, dims]):
        raise Failure(1, f"{path}: not an idx file of {dims}-d uint8")
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    count = 1
    for d in shape:
        count *= d
    body = data[4 + 4 * dims :]
    if len(body) != count:
        raise Failure(1, f"{path}: {len(body)} bytes of data, expected {count} for {list(shape)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load_split(folder, prefix):
    images = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), 3)
    labels = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), 1)
    if images.shape[1:] != (28, 28):
        raise Failure(1, f"{folder}: {prefix} images are {list(images.shape[1:])}, not 28 x 28")
    if len(images) != len(labels):
        raise Failure(1, f"{folder}: {len(images)} {prefix} images but {len(labels)} labels")
    if labels.max(initial=0) >= fastai07a.CLASSES:
        raise Failure(1, f"{folder}: a {prefix} label is {labels.max()}, not below 10")
    return images, labels


def load_data(folder):
    """(x_train, y_train, x_test, y_test) as tensors, normalized as the
    notebook's normalize_to (statistics in fp64)."""
    train_x, train_y = load_split(folder, "train")
    test_x, test_y = load_split(folder, "t10k")
    # Exact sums from a histogram of the bytes: fp64 statistics without a
    # float copy of the whole set. Unbiased, as torch's Tensor.std.
    counts = np.bincount(train_x.ravel(), minlength=256).astype(object)
    levels = range(256)
    n = train_x.size
    s = sum(c * v for c, v in zip(counts, levels))
    ss = sum(c * v * v for c, v in zip(counts, levels))
    mean = s / n / 255.0
    std = ((ss - s * s / n) / max(n - 1, 1)) ** 0.5 / 255.0
    if not std > 0:
        raise Failure(1, f"{folder}: the training images are all one value")

    def tensor(images):
        x = torch.from_numpy(images.copy()).unsqueeze(1).float().div_(255.0)
        return x.sub_(mean).div_(std)

    return (tensor(train_x), torch.from_numpy(train_y.astype(np.int64)),
            tensor(test_x), torch.from_numpy(test_y.astype(np.int64)))


def check_weights(path):
    """Refuses a file that is not 07a's network before torch is loaded."""
    try:
        shapes = fastai07a_file.read_shapes(path)
    except OSError as e:
        raise Failure(1, f"{path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError, struct.error) as e:
        raise Failure(1, f"{path}: not a readable safetensors file ({e})") from None
    problems = fastai07a_file.shape_problems(shapes)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise Failure(3, f"{path}: not fastai 07a's network ({shown})")


def load_weights(path):
    try:
        return fastai07a.read_safetensors(path)
    except OSError as e:
        raise Failure(1, f"{path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise Failure(1, f"{path}: not a readable safetensors file ({e})") from None


def train(weights, data, epochs, steps_cap, seed):
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    model, _ = fastai07a.build(weights)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.0, weight_decay=0.0)
    losses = {k: None for k in RECORD}
    diverged = False
    step = 0
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=shuffle)
        batches = order.split(BATCH)
        if steps_cap:
            batches = batches[:steps_cap]
        correct = seen = 0
        for idx in batches:
            xb, yb = x_train[idx], y_train[idx]
            pred = model(xb)
            loss = F.cross_entropy(pred, yb)
            step += 1
            value = loss.item()
            diverged = diverged or not math.isfinite(value)
            if step in losses and math.isfinite(value):
                losses[step] = value
            correct += (pred.argmax(1) == yb).sum().item()
            seen += len(yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        hits = sum((model(xb).argmax(1) == yb).sum().item()
                   for xb, yb in zip(x_test.split(2 * BATCH), y_test.split(2 * BATCH)))
    return {"loss_1": losses[1], "loss_10": losses[10], "loss_100": losses[100],
            "diverged": diverged, "train_acc": correct / seen, "test_acc": hits / len(x_test),
            "seconds": seconds}


def write_atomic(path, doc):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".train_fastai-", suffix=".json")
    except OSError as e:
        raise Failure(1, f"{path}: {e.strerror or e}") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as a file opened for writing would have
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise Failure(1, f"{path}: {e.strerror or e}") from None


def run(a):
    torch.set_num_threads(a.threads)
    all_weights = [(path, load_weights(path)) for path in a.weights]
    data = load_data(a.data)
    cases = []
    for path, weights in all_weights:
        case = {"weights": path}
        try:
            case.update(train(weights, data, a.epochs, a.steps_per_epoch, a.seed))
        except RuntimeError as e:
            raise Failure(1, f"{path}: training failed ({e})") from None
        cases.append(case)
    write_atomic(a.out, {"torch": torch.__version__, "optimizer": OPTIMIZER, "cases": cases})


def import_torch():
    global np, torch, F, fastai07a
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F

        import fastai07a
    except ImportError as e:
        raise Failure(3, f"needs PyTorch and numpy for {sys.executable} ({e}); "
                         "Debian: python3-torch") from None


def main(argv):
    a = parse_args(argv)
    try:
        for path in a.weights:  # every file refused in a moment, before torch loads
            check_weights(path)
        folder = os.path.dirname(os.path.abspath(a.out))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise Failure(1, f"{a.out}: cannot write into {folder}")
        import_torch()
        run(a)
    except Failure as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
