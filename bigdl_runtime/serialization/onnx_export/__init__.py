"""ONNX export of models built from our layers: ``model.to_onnx(path, input_shape)``.

A package: :mod:`.exporter` (the entry points), :mod:`.dispatch` (the emitter
registry keyed by layer class, and the Sequential/Graph walk), :mod:`.context`
(nodes, initializers, names) and :mod:`.emitters` (one module per layer family).

Examples:
    >>> from bigdl_runtime.serialization.onnx_export import export_onnx
    >>> export_onnx(model, "model.onnx", (3, 224, 224))   # same as model.to_onnx(...)
"""
from .dispatch import EMITTERS, NO_EMITTER, UnexportableLayerError, emits, no_emitter
from .exporter import OPSET, export_onnx, to_onnx_model

__all__ = ["EMITTERS", "NO_EMITTER", "OPSET", "UnexportableLayerError", "emits", "export_onnx", "no_emitter",
           "to_onnx_model"]
