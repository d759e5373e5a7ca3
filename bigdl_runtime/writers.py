"""The writers behind ``Module.save`` and ``Module.to_onnx``, installed from above.

They live in :mod:`bigdl_runtime.serialization`, which imports :mod:`bigdl_runtime.nn`; ``nn`` must not import it
back (the package's imports point downwards, a test checks it). So ``nn`` calls the writer installed here under a
name, and the package root - which Python runs before any of its submodules - installs serialization's writers
(serialization itself is imported when one is first called). A leaf module: it imports nothing of ours.
"""
from __future__ import annotations

from typing import Any, Callable

_installed: dict[str, Callable[..., Any]] = {}


def install(name: str, writer: Callable[..., Any]) -> None:
    """Make ``writer`` the one :func:`write` calls for ``name`` ("save", "to_onnx")."""
    _installed[name] = writer


def write(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the writer installed for ``name``; LookupError naming the installed ones if there is none."""
    try:
        writer = _installed[name]
    except KeyError:
        raise LookupError(f"no model writer {name!r} is installed (installed: {sorted(_installed)}); "
                          "bigdl_runtime/__init__.py installs 'save' and 'to_onnx'") from None
    return writer(*args, **kwargs)
