"""bigdl_runtime: the engine (kernels, nn, serialization, optim, train, spark).

``bigdl_runtime.load(path)`` reads a model file written by ``model.save(path)``. The root is lazy: importing
``bigdl_runtime.kernels`` does not import ``serialization`` (nor protobuf), which is imported when a model is
first saved, exported or loaded.
"""
from __future__ import annotations

from typing import Any

from . import writers as _writers
from ._version import __version__

__all__ = ["load", "quantize", "__version__"]


def _save(model: Any, path: str, **metadata: Any) -> None:
    from .serialization import save_model

    save_model(model, path, **metadata)


def _to_onnx(model: Any, path: str, input_shape: Any, input_dtype: Any = None, opset: int | None = None) -> Any:
    from .serialization.onnx_export import OPSET, export_onnx

    return export_onnx(model, path, input_shape, input_dtype, opset or OPSET)


_writers.install("save", _save)
_writers.install("to_onnx", _to_onnx)


def __getattr__(name: str) -> Any:
    """``load`` (:func:`bigdl_runtime.serialization.load_model`) and ``quantize``
    (:func:`bigdl_runtime.quantization.quantize`), imported on first use."""
    if name == "load":
        from .serialization import load_model

        return load_model
    if name == "quantize":
        from .quantization import quantize

        return quantize
    raise AttributeError(f"module 'bigdl_runtime' has no attribute {name!r}")
