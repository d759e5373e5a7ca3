"""Real architectures exported from PyTorch, imported, and compared with onnxruntime (float32).

Error measure: max |ours - onnxruntime| / max |onnxruntime| over each output, <= 1e-4.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from bigdl_runtime import load
from bigdl_runtime.nn import CrossEntropyLoss
from bigdl_runtime.optim import SGD
from zoo.importers.onnx import load_onnx

from . import torch_nets as nets  # noqa: E402


def _reference(data: bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)


def _assert_close(got, want: list[np.ndarray]) -> None:
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        rel = np.abs(g - w).max() / max(np.abs(w).max(), 1e-12)
        assert rel <= 1e-4, f"max relative error {rel:.2e}"


@pytest.fixture(scope="module")
def resnet_bytes() -> bytes:
    torch.manual_seed(0)
    model = nets.randomize_batch_norm(nets.ResNetTiny())
    return nets.export(model, (torch.randn(2, 3, 32, 32),), ["image"], ["logits"])


@pytest.mark.parametrize("opset", [9, 13, 17])
def test_resnet_style_matches_onnxruntime_across_opsets(opset: int, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    model = nets.randomize_batch_norm(nets.ResNetTiny())
    data = nets.export(model, (torch.randn(2, 3, 32, 32),), ["image"], ["logits"], opset=opset)
    x = rng.standard_normal((5, 3, 32, 32)).astype(np.float32)  # another batch size than exported
    net = load_onnx(data).evaluate()
    assert net.input_names == ["image"]
    _assert_close(net(x), _reference(data, {"image": x}))


def test_mobilenet_v2_style_depthwise_relu6(rng: np.random.Generator) -> None:
    torch.manual_seed(1)
    model = nets.randomize_batch_norm(nets.MobileNetTiny(), seed=1)
    data = nets.export(model, (torch.randn(1, 3, 32, 32),), ["image"], ["logits"], opset=13)
    net = load_onnx(data, fuse=False).evaluate()
    types = {type(m).__name__ for m in net.children()}
    assert "ReLU6" in types and any(getattr(m, "groups", 1) > 1 for m in net.children())
    x = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    _assert_close(net(x), _reference(data, {"image": x}))
    fused = load_onnx(data)  # the default: the convolutions, ReLU6s and adds run as a oneDNN plan
    assert "BlockedSegment" in {type(m).__name__ for m in fused.children()}
    _assert_close(fused(x), _reference(data, {"image": x}))


def test_lstm_gru_text_model_with_embedding(rng: np.random.Generator) -> None:
    torch.manual_seed(2)
    model = nets.TextRNN()
    tokens = torch.randint(0, 50, (2, 7))
    data = nets.export(model, (tokens,), ["tokens"], ["logits"], opset=14)
    net = load_onnx(data).evaluate()
    types = {type(m).__name__ for m in net.children()}
    assert {"Embedding", "RecurrentSequence"} <= types
    x = rng.integers(0, 50, size=(4, 7)).astype(np.int64)
    _assert_close(net(x), _reference(data, {"tokens": x}))


def test_detection_head_two_outputs_dynamic_batch(rng: np.random.Generator) -> None:
    torch.manual_seed(3)
    data = nets.export(nets.DetectionHead(), (torch.randn(1, 3, 16, 16),), ["image"], ["boxes", "scores"])
    net = load_onnx(data).evaluate()
    assert len(net.output_names) == 2
    for batch in (1, 3):
        x = rng.standard_normal((batch, 3, 16, 16)).astype(np.float32)
        _assert_close(net(x), _reference(data, {"image": x}))


def test_imported_model_fine_tunes_and_round_trips(resnet_bytes: bytes, rng: np.random.Generator,
                                                   tmp_path) -> None:
    net = load_onnx(resnet_bytes, fuse=False)  # one layer per node, batch norms included: what to fine-tune
    names = [k for k, p in net.named_parameters() if p.trainable]
    assert any(k.endswith("weight") for k in names) and len(names) >= 10
    x = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=8)
    loss_fn, opt = CrossEntropyLoss(), SGD(net.parameters(), lr=0.05)
    net.train()
    before = loss_fn.forward(net(x), y)
    opt.zero_grad()
    net.backward(loss_fn.backward(net(x), y))
    opt.step()
    after = loss_fn.forward(net(x), y)
    assert after < before

    path = tmp_path / "imported.bigdl"
    net.save(str(path))
    again = load(str(path))
    net.evaluate()
    again.evaluate()
    np.testing.assert_array_equal(again(x), net(x))
    assert again.input_names == net.input_names

    features = again.new_graph(outputs=["/GlobalAveragePool"])  # ONNX node names address the layers
    features.freeze()
    assert features(x).shape == (8, 16, 1, 1) and not features.parameters(trainable_only=True)
