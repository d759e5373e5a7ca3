"""Test helper: write a Caffe prototxt and a matching caffemodel (our pb2 classes, random weights),
and run both OpenCV's Caffe reader (the independent reference) and our importer on them."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from zoo.importers.caffe import caffe_subset_pb2 as pb
from zoo.importers.caffe import load_caffe


class CaffeNet:
    """A Caffe network built layer by layer: prototxt text plus the weight blobs of each layer.

    Args:
        rng: generator for the weights.
        name: the net's name.
    """

    def __init__(self, rng: np.random.Generator, name: str = "test") -> None:
        self.rng = rng
        self.lines = [f'name: "{name}"']
        self.weights: dict[str, tuple[str, list[np.ndarray], bool]] = {}

    def input(self, name: str, shape: Sequence[int], style: str = "layer") -> "CaffeNet":
        """A net input as an Input layer, or as the deprecated ``input:`` + ``input_shape``/``input_dim``."""
        dims = " ".join(f"dim: {d}" for d in shape)
        if style == "layer":
            self.lines.append(f'layer {{ name: "{name}" type: "Input" top: "{name}" '
                              f'input_param {{ shape {{ {dims} }} }} }}')
        elif style == "input_shape":
            self.lines.insert(1, f'input: "{name}"\ninput_shape {{ {dims} }}')
        else:
            self.lines.insert(1, f'input: "{name}"\n' + "\n".join(f"input_dim: {d}" for d in shape))
        return self

    def layer(self, name: str, type_: str, bottoms: Sequence[str], tops: Sequence[str] | None = None,
              params: str = "", blobs: Sequence[np.ndarray] = (), legacy: bool = False) -> "CaffeNet":
        """Add ``layer { ... }``; ``tops`` default to ``[name]``; ``blobs`` go to the caffemodel
        (with the legacy 4-D num/channels/height/width shape when ``legacy``)."""
        tops = [name] if tops is None else tops
        wiring = " ".join([*(f'bottom: "{b}"' for b in bottoms), *(f'top: "{t}"' for t in tops)])
        self.lines.append(f'layer {{ name: "{name}" type: "{type_}" {wiring} {params} }}')
        self.weights[name] = (type_, [np.asarray(b, np.float32) for b in blobs], legacy)
        return self

    def randn(self, *shape: int, scale: float | None = None) -> np.ndarray:
        """Standard normal values scaled by ``scale`` (default: 1 / sqrt(fan in) for 2+ axes, else 0.5)."""
        if scale is None:
            scale = 1.0 / np.sqrt(np.prod(shape[1:])) if len(shape) > 1 else 0.5
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def prototxt(self) -> str:
        return "\n".join(self.lines) + "\n"

    def caffemodel(self) -> bytes:
        """The weights as a binary NetParameter: every layer with its name, type and blobs (no settings)."""
        net = pb.NetParameter(name="test")
        for name, (type_, arrays, legacy) in self.weights.items():
            layer = net.layer.add(name=name, type=type_)
            for a in arrays:
                blob = layer.blobs.add()
                if legacy:
                    num, channels, height, width = (1,) * (4 - a.ndim) + a.shape
                    blob.num, blob.channels, blob.height, blob.width = num, channels, height, width
                else:
                    blob.shape.dim.extend(a.shape)
                blob.MergeFromString(packed_floats(a))
        return net.SerializeToString()

    def write(self, folder: Path, stem: str = "net") -> tuple[Path, Path]:
        proto, model = folder / f"{stem}.prototxt", folder / f"{stem}.caffemodel"
        proto.write_text(self.prototxt())
        model.write_bytes(self.caffemodel())
        return proto, model


def packed_floats(a: np.ndarray) -> bytes:
    """BlobProto field 5 (``repeated float data [packed = true]``) in wire format: tag, byte length
    as a varint, little-endian float32 values (much faster than ``data.extend`` for big blobs)."""
    payload = np.ascontiguousarray(a, dtype="<f4").tobytes()
    n, varint = len(payload), bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        varint.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([5 << 3 | 2]) + bytes(varint) + payload


def opencv_outputs(proto: Path, model: Path, inputs: dict[str, np.ndarray], layers: Sequence[str]) -> list[np.ndarray]:
    """OpenCV dnn's outputs of ``layers`` (layer names) for ``inputs`` (blob name -> array)."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    if hasattr(net, "enableWinograd"):
        net.enableWinograd(False)
    for name, x in inputs.items():
        net.setInput(x, name)
    outs = net.forward(list(layers))
    return [np.asarray(o) for o in outs]


def detections_in_order(rows: np.ndarray) -> np.ndarray:
    """DetectionOutput rows ``(1, 1, K, 7)`` sorted by image, label, then descending score (Caffe groups
    them by label, OpenCV orders them by score: the same set)."""
    flat = rows.reshape(-1, 7)
    return flat[np.lexsort((*flat[:, 6:2:-1].T, -flat[:, 2], flat[:, 1], flat[:, 0]))]  # boxes break score ties


def compare_with_opencv(folder: Path, net: CaffeNet, inputs: dict[str, np.ndarray], layers: Sequence[str],
                        blobs: Sequence[str] | None = None, atol: float = 1e-4,
                        detections: Sequence[str] = ()) -> list[np.ndarray]:
    """Import ``net`` and check our outputs of ``blobs`` (default: ``layers``) against OpenCV's
    outputs of ``layers``: max abs error <= ``atol``; the rows of the layers named in ``detections``
    are compared as sets. Returns our outputs."""
    proto, model = net.write(folder)
    want = opencv_outputs(proto, model, inputs, layers)
    graph = load_caffe(proto, model, outputs=list(blobs or layers))
    got = graph(*inputs.values())
    got = list(got) if isinstance(got, tuple) else [got]
    for name, g, w in zip(blobs or layers, got, want):
        if name in detections:
            g, w = detections_in_order(g), detections_in_order(w)
        assert g.shape == w.shape, f"{name}: shape {g.shape}, OpenCV {w.shape}"
        err = float(np.max(np.abs(g - w))) if g.size else 0.0
        assert err <= atol, f"{name}: max abs error {err:.3g} vs OpenCV"
    return got
