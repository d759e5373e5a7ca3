"""ONNX -> zoo.load_onnx -> to_onnx -> onnxruntime gives the original file's outputs (models exported by torch)."""
from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch

from zoo.importers.onnx import load_onnx


class _Cnn(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
        self.conv2, self.fc = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.Linear(8, 5)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        h = torch.relu(self.bn(self.conv1(x)))
        h = h + torch.nn.functional.hardswish(self.conv2(h))
        return torch.softmax(self.fc(torch.nn.functional.adaptive_avg_pool2d(h, 1).flatten(1)), dim=1)


class _Text(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(30, 8)
        self.lstm = torch.nn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        y, _ = self.lstm(self.embed(x))
        return self.fc(y.mean(1))


@pytest.mark.filterwarnings("ignore")  # torch's legacy exporter is chatty about tracing
@pytest.mark.parametrize("net,shape,integer", [(_Cnn, (3, 12, 12), False), (_Text, (7,), True)])
def test_import_then_export(net: type, shape: tuple[int, ...], integer: bool, rng: np.random.Generator,
                            tmp_path: object) -> None:
    torch.manual_seed(0)
    model = net().eval()
    x = rng.integers(0, 30, (2, *shape)) if integer else rng.normal(size=(2, *shape)).astype(np.float32)
    original = io.BytesIO()
    torch.onnx.export(model, (torch.from_numpy(x),), original, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}}, opset_version=17, dynamo=False)
    path = str(tmp_path / "again.onnx")
    proto = load_onnx(original.getvalue()).to_onnx(path, shape)
    for batch in (1, 4):
        xb = rng.integers(0, 30, (batch, *shape)) if integer else rng.normal(size=(batch, *shape)).astype(np.float32)
        want = ort.InferenceSession(original.getvalue(), providers=["CPUExecutionProvider"]).run(None, {"x": xb})[0]
        got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
            None, {proto.graph.input[0].name: xb})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
