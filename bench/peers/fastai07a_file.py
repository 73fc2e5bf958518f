"""The .safetensors of fastai course-v3 notebook 07a's net as lsuv-vk writes
it for nets/fastai-07a.cfg: its tensors' names and shapes, and a reader. No
torch here, so that a wrong file is refused without loading it."""
import json
import struct

NFS = [1, 8, 16, 32, 64, 64]
CLASSES = 10


def _split(data):
    """(header without __metadata__, body); ValueError when data is not
    safetensors of F32 tensors."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"its header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    header.pop("__metadata__", None)
    for name, t in header.items():
        if not isinstance(t, dict) or t.get("dtype") != "F32":
            raise ValueError(f"{name} is not an F32 tensor")
    return header, data[8 + n :]


def read_shapes(path):
    """name -> shape (a tuple) of a safetensors file's tensors."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        header, _ = _split(head + f.read(min(n, 1 << 24)))
    return {name: tuple(t.get("shape", ())) for name, t in header.items()}


def read_safetensors(path):
    """name -> float32 array; ValueError when the file is not F32
    safetensors."""
    import numpy as np

    with open(path, "rb") as f:
        header, body = _split(f.read())
    out = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(t["shape"]).copy()
    return out


def expected_shapes():
    """The tensors of nets/fastai-07a.cfg as lsuv-vk names them (cfg layer
    index; 5 is the pool), `sub` as a scalar."""
    shapes = {}
    for i in range(5):
        ks = 5 if i == 0 else 3
        shapes[f"layers.{i}.weight"] = (NFS[i + 1], NFS[i], ks, ks)
        shapes[f"layers.{i}.bias"] = (NFS[i + 1],)
        shapes[f"layers.{i}.sub"] = ()
    shapes["layers.6.weight"] = (CLASSES, NFS[-1])
    shapes["layers.6.bias"] = (CLASSES,)
    return shapes


def shape_problems(shapes):
    """Why tensors of these shapes (name -> tuple) are not 07a's net (empty
    when they are). A missing `sub` is 0, as build() takes it."""
    want = expected_shapes()
    problems = []
    for name, shape in want.items():
        if name not in shapes:
            if not name.endswith(".sub"):
                problems.append(f"no {name}")
        elif tuple(shapes[name]) != shape:
            problems.append(f"{name} is {list(shapes[name])}, not {list(shape)}")
    problems += [f"unexpected {name}" for name in shapes if name not in want]
    return problems
