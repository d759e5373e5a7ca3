"""Importers of models trained elsewhere (ONNX, Caffe) into our Graph modules.

``zoo.importers.onnx`` and ``zoo.importers.caffe`` are attributes of the package, imported on first use
(``zoo.load_onnx`` and ``zoo.load_caffe`` are the usual entry points).
"""
from __future__ import annotations

from zoo._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__, {}, ("onnx", "caffe"))
