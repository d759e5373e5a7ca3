"""Import ONNX models as our Graph modules: ``load_onnx(path_or_bytes_or_ModelProto)``.

Examples:
    >>> from zoo.importers.onnx import load_onnx
    >>> model = load_onnx("model.onnx")
    >>> y = model(x)
"""
from ..registry import UnsupportedOperatorError
from .builder import load_onnx
from .reader import OnnxImportError
from .registry import ONNX, load_converters

__all__ = ["load_onnx", "OnnxImportError", "UnsupportedOperatorError", "ONNX", "load_converters"]
