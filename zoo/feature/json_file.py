"""Saving and loading small JSON-described objects (label maps, word indexes) as local files."""
from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T", bound="JsonFile")


class JsonFile:
    """``save`` / ``load`` for a subclass that defines ``to_json() -> str`` and the classmethod ``from_json(text)``."""

    def save(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_json` to a local file (UTF-8), creating its folder if needed."""
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    @classmethod
    def load(cls: type[T], path: str | os.PathLike) -> T:
        """Read a file written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())
