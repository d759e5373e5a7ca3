"""Model-zoo architectures shipped in the onnx wheel (weights randomised by scripts/onnx_light_models.py)
imported and compared with onnxruntime on their logits."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from zoo.importers.onnx import load_onnx

_SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "onnx_light_models.py"
_spec = importlib.util.spec_from_file_location("onnx_light_models", _SCRIPT)
light = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(light)


@pytest.mark.parametrize("name", ["light_squeezenet", "light_shufflenet"])
def test_light_model_matches_onnxruntime(name: str, rng: np.random.Generator) -> None:
    model = light.with_random_weights(onnx.load(str(light.LIGHT / f"{name}.onnx")), rng)
    net = load_onnx(model).evaluate()
    x = rng.random((1, 3, 224, 224)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {net.input_names[0]: x})[0]
    got = net(x)
    assert got.shape == want.shape and want.std() > 1e-3
    assert np.abs(got - want).max() / np.abs(want).max() <= 1e-4
