"""zoo: what users touch (reference networks, importers, preprocessing, pipelines, catalog).

The top-level names are imported lazily, so ``import zoo`` stays cheap and does not
pull in pyspark or onnx until a function that needs them is used.

Examples:
    >>> import zoo
    >>> net = zoo.load_onnx("resnet18.onnx")          # an importer
    >>> zoo.list_models()                             # the pretrained-model catalog
    >>> zoo.models.lenet5(weights="pretrained")       # sub-packages are attributes too
"""
from __future__ import annotations

from zoo._lazy import lazy_getattr

#: public name -> module that defines it
_EXPORTS = {
    "load_onnx": "zoo.importers.onnx",
    "load_caffe": "zoo.importers.caffe",
    "predict": "zoo.pipeline.inference",
    "list_models": "zoo.catalog",
    "load_pretrained": "zoo.catalog",
    "model_card": "zoo.catalog",
    "ImageSet": "zoo.feature.image",
    "TextSet": "zoo.feature.text",
}

#: sub-packages reachable as attributes after a plain ``import zoo`` (imported on first use)
SUBPACKAGES = ("catalog", "datasets", "feature", "importers", "metrics", "models", "pipeline")

__all__ = sorted([*_EXPORTS, *SUBPACKAGES])

__getattr__ = lazy_getattr(__name__, _EXPORTS, SUBPACKAGES)
