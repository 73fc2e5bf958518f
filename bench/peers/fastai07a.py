"""fastai course-v3 notebook 07a's conv net in PyTorch, built from the
.safetensors lsuv-vk writes for nets/fastai-07a.cfg: what the PyTorch peers
(fastai_lsuv.py, train_fastai.py) share. Reading and checking the file is in
fastai07a_file.py, which needs no torch.

The net: five ConvLayers (Conv2d with bias, stride 2, padding ks // 2, then
GeneralRelu: relu minus `sub`), AdaptiveAvgPool2d(1), flatten, Linear(64, 10).
`sub` is a plain float attribute, as in the notebook's GeneralRelu: LSUV
changes it, the optimizer never sees it."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fastai07a_file import CLASSES, NFS, read_safetensors  # noqa: F401 (the peers' one import)


class GeneralRelu(nn.Module):
    def __init__(self, sub=0.0):
        super().__init__()
        self.sub = sub

    def forward(self, x):
        return F.relu(x) - self.sub


class ConvLayer(nn.Module):
    def __init__(self, ni, nf, ks, stride=2, sub=0.0):
        super().__init__()
        self.conv = nn.Conv2d(ni, nf, ks, padding=ks // 2, stride=stride, bias=True)
        self.relu = GeneralRelu(sub)

    def forward(self, x):
        return self.relu(self.conv(x))


def build(weights):
    """(model, its five ConvLayers), holding these weights."""
    layers = [ConvLayer(NFS[i], NFS[i + 1], 5 if i == 0 else 3) for i in range(5)]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(NFS[-1], CLASSES))
    with torch.no_grad():
        for i in range(5):
            layers[i].conv.weight.copy_(torch.from_numpy(weights[f"layers.{i}.weight"]))
            layers[i].conv.bias.copy_(torch.from_numpy(weights[f"layers.{i}.bias"]))
            layers[i].relu.sub = float(weights.get(f"layers.{i}.sub", np.zeros(())).item())
        model[7].weight.copy_(torch.from_numpy(weights["layers.6.weight"]))
        model[7].bias.copy_(torch.from_numpy(weights["layers.6.bias"]))
    return model, layers
