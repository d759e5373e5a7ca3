"""The ONNX converter registry: one :class:`~zoo.importers.registry.Registry` for every converter module.

Converters register with ``@ONNX.register("Conv", since=1)``; the converter of a node
is the newest one at or below the model's opset. :func:`load_converters` imports
every module of :mod:`zoo.importers.onnx.converters` so they are all registered.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..registry import Registry

ONNX = Registry("ONNX")


def load_converters() -> Registry:
    """Import every converter module (registering its converters) and return the registry."""
    from . import converters

    for info in sorted(pkgutil.iter_modules(converters.__path__), key=lambda i: i.name):
        importlib.import_module(f"{converters.__name__}.{info.name}")
    return ONNX
