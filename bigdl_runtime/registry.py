"""Registries of classes by name that refuse to let a second class take a name silently.

A model file (or an image pipeline's config) names its layers by class name, so whichever class holds a name
decides what every file loaded afterwards builds: a user's ``class ReLU(Module)`` would replace ours for good.
Registering a different class under a taken name therefore fails, naming both classes, unless it is asked for
(``override=True``). The same class defined again (a module reloaded, a class defined inside a function that
runs twice: same module and qualified name) replaces its earlier self. A leaf module: it imports nothing of ours.
"""
from __future__ import annotations


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class ClassRegistry(dict[str, type]):
    """A ``dict`` of name -> class whose :meth:`add` refuses a name another class holds.

    Args:
        kind: what the classes are, for messages ("layer", "image transformer").
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def add(self, name: str, cls: type, override: bool = False) -> None:
        """Register ``cls`` under ``name``; ValueError if another class holds it and ``override`` is False."""
        current = self.get(name)
        if current is not None and not override and _qualified(current) != _qualified(cls):
            raise ValueError(
                f"{self.kind} name {name!r} is taken by {_qualified(current)}: registering {_qualified(cls)} "
                f"would replace it for everything loaded afterwards. Rename the class (or start its name with "
                f"'_' to keep it out of the registry), or replace it deliberately with "
                f"class {cls.__name__}(..., override=True)")
        self[name] = cls
