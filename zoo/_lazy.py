"""Lazy package attributes: a package names what it exports and imports each on first use."""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` resolving ``exports`` (name -> defining module).

    The value is cached in the package's namespace, so each name is imported once.

    Examples:
        >>> __getattr__ = lazy_getattr(__name__, {"load_onnx": "zoo.importers.onnx"})
    """
    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
