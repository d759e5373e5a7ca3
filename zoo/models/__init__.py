"""Reference networks, one builder per family with thin named variants (Keras-applications style).

Every builder takes ``num_classes``, ``weights`` (None, ``"pretrained"`` or a model
file path, see :mod:`zoo.models.weights`) and ``include_top`` where it has a
classifier head. Names are resolved lazily so ``import zoo.models`` stays cheap.

Examples:
    >>> from zoo.models import resnet50, lenet5
    >>> resnet50().num_parameters()
    25557032
"""
from __future__ import annotations

from zoo._lazy import lazy_getattr

#: public name -> module that defines it
_EXPORTS = {
    "lenet5": "zoo.models.lenet",
    **{f"resnet{d}": "zoo.models.resnet" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56)},
    "resnet_imagenet": "zoo.models.resnet",
    "resnet_cifar": "zoo.models.resnet",
    "text_classifier": "zoo.models.text_classifier",
    "ncf": "zoo.models.ncf",
    "mobilenet_v2": "zoo.models.mobilenet",
    **{f"efficientnet_lite{v}": "zoo.models.efficientnet_lite" for v in ("", 0, 1, 2)},
    "ssd300": "zoo.models.ssd",
    "ssd_mini": "zoo.models.ssd",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, ("ssd",))
