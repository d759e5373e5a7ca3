"""Round-trip cases for the core layers (see test_every_layer_round_trip.py).

Each ``cases_*.py`` module in this folder holds a ``CASES`` table for the layers of one
area, so parallel work on different layer families never edits the same file.
"""
from __future__ import annotations

from typing import Callable

from bigdl_runtime.nn import Module, layers as L

# layer class name -> (factory, input shapes); several shapes = several inputs; int dtype for indices
CASES: dict[str, tuple[Callable[[], Module], list[tuple[int, ...]]]] = {
    "Conv1d": (lambda: L.Conv1d(3, 4, 3, stride=2, padding=1, dilation=1, groups=1), [(2, 3, 9)]),
    "Conv2d": (lambda: L.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0, 0, 1), groups=2), [(2, 4, 7, 6)]),
    "ConvReLU2d": (lambda: L.ConvReLU2d(3, 4, 3, padding=1, groups=1), [(2, 3, 5, 6)]),
    "ConvTranspose2d": (lambda: L.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), [(2, 3, 4, 5)]),
    "Linear": (lambda: L.Linear(5, 3), [(4, 5)]),
    "MaxPool2d": (lambda: L.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [(2, 3, 7, 8)]),
    "AvgPool2d": (lambda: L.AvgPool2d(2, count_include_pad=False, padding=1), [(2, 3, 5, 6)]),
    "GlobalAvgPool2d": (lambda: L.GlobalAvgPool2d(), [(2, 3, 4, 5)]),
    "GlobalMaxPool2d": (lambda: L.GlobalMaxPool2d(), [(2, 3, 4, 5)]),
    "AdaptiveAvgPool2d": (lambda: L.AdaptiveAvgPool2d((2, 3)), [(2, 3, 7, 8)]),
    "BatchNorm1d": (lambda: L.BatchNorm1d(5), [(4, 5)]),
    "BatchNorm2d": (lambda: L.BatchNorm2d(3), [(2, 3, 4, 4)]),
    "LayerNorm": (lambda: L.LayerNorm([4, 5]), [(2, 3, 4, 5)]),
    "Dropout": (lambda: L.Dropout(0.3), [(4, 6)]),
    "Embedding": (lambda: L.Embedding(10, 4, padding_idx=0), [(3, 5)]),
    "ReLU": (lambda: L.ReLU(), [(3, 4)]),
    "LeakyReLU": (lambda: L.LeakyReLU(0.2), [(3, 4)]),
    "PReLU": (lambda: L.PReLU(3), [(2, 3, 4)]),
    "ELU": (lambda: L.ELU(0.7), [(3, 4)]),
    "SELU": (lambda: L.SELU(), [(3, 4)]),
    "GELU": (lambda: L.GELU("tanh"), [(3, 4)]),
    "Sigmoid": (lambda: L.Sigmoid(), [(3, 4)]),
    "Tanh": (lambda: L.Tanh(), [(3, 4)]),
    "Hardsigmoid": (lambda: L.Hardsigmoid(0.2, 0.5), [(3, 4)]),
    "Hardswish": (lambda: L.Hardswish(), [(3, 4)]),
    "Softplus": (lambda: L.Softplus(2.0, 10.0), [(3, 4)]),
    "Softmax": (lambda: L.Softmax(dim=1), [(3, 4)]),
    "LogSoftmax": (lambda: L.LogSoftmax(dim=-1), [(3, 4)]),
    "Add": (lambda: L.Add(), [(3, 4), (3, 4), (1, 4)]),
    "Sub": (lambda: L.Sub(), [(3, 4), (3, 1)]),
    "Mul": (lambda: L.Mul(), [(3, 4), (3, 4)]),
    "Div": (lambda: L.Div(), [(3, 4), (3, 4)]),
    "Concat": (lambda: L.Concat(dim=1), [(2, 3), (2, 5)]),
    "Split": (lambda: L.Split([1, 3], dim=1), [(2, 4, 3)]),
    "Reshape": (lambda: L.Reshape([3, -1]), [(2, 6, 2)]),
    "Flatten": (lambda: L.Flatten(), [(2, 3, 4)]),
    "Transpose": (lambda: L.Transpose([0, 2, 1]), [(2, 3, 4)]),
    "Pad": (lambda: L.Pad([0, 0, 1, 0, 0, 0, 0, 2], mode="reflect"), [(2, 3, 4, 5)]),
    "ZeroPad2d": (lambda: L.ZeroPad2d(1), [(2, 3, 4, 5)]),
    "Upsample": (lambda: L.Upsample(scale_factor=2, mode="bilinear", align_corners=True), [(1, 2, 3, 4)]),
    "LSTM": (lambda: L.LSTM(3, 4, num_layers=2, bidirectional=True), [(2, 5, 3)]),
    "GRU": (lambda: L.GRU(3, 4, return_sequences=False), [(2, 5, 3)]),
    "RNN": (lambda: L.RNN(3, 4, nonlinearity="relu"), [(2, 5, 3)]),
}
