"""Lazy package attributes: a package names what it exports and imports each on first use."""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Iterable


def lazy_getattr(package: str, exports: dict[str, str],
                 subpackages: Iterable[str] = ()) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` resolving ``exports`` (name -> defining module) and ``subpackages``.

    A name in ``subpackages`` resolves to the sub-package itself (``zoo.models``), imported on first use,
    so ``import zoo; zoo.models.lenet5()`` works without ``import zoo.models``. The value is cached in the
    package's namespace, so each name is imported once.

    Examples:
        >>> __getattr__ = lazy_getattr(__name__, {"load_onnx": "zoo.importers.onnx"}, subpackages=["models"])
    """
    children = frozenset(subpackages)

    def __getattr__(name: str) -> Any:
        if name in children:
            value = importlib.import_module(f"{package}.{name}")
        else:
            module = exports.get(name)
            if module is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
