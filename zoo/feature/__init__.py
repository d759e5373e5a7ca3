"""Preprocessing: images (``zoo.feature.image``) and text (``zoo.feature.text``), locally or on Spark.

Both are attributes of the package, imported on first use (``zoo.feature.image.Resize``).
"""
from __future__ import annotations

from zoo._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__, {}, ("image", "text"))
