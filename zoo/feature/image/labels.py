"""Class names <-> indices (sorted, saved as JSON next to a model) and label sources (folders, CSV)."""
from __future__ import annotations

import csv
import io
import json
import os
import posixpath
from typing import Iterable, Mapping

from ..json_file import JsonFile


class LabelMap(JsonFile):
    """A sorted class-name -> index map.

    Names that are all integers sort numerically (``"2"`` before ``"10"``),
    others lexicographically, so the same set of names always gives the
    same indices.

    Args:
        names: the class names.
        sort: False keeps ``names`` in the given order (then they must be unique).

    Examples:
        >>> labels = LabelMap(["dog", "cat"])
        >>> labels.index("dog"), labels.names
        (1, ['cat', 'dog'])
        >>> labels.save("model_dir/labels.json"); LabelMap.load("model_dir/labels.json") == labels
        True
    """

    def __init__(self, names: Iterable[str], sort: bool = True) -> None:
        listed = [str(n) for n in names]
        unique = set(listed)
        if not sort:
            if len(unique) != len(listed):
                raise ValueError(f"class names must be unique, got {listed}")
            self.names = listed
        elif all(n.lstrip("-").isdigit() for n in unique):
            self.names = sorted(unique, key=int)
        else:
            self.names = sorted(unique)
        self._index = {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelMap) and self.names == other.names

    def __repr__(self) -> str:
        return f"LabelMap({self.names!r})"

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index(self, name: str) -> int:
        """The index of ``name``; KeyError names the unknown class and the known ones."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown class {name!r}; known classes: {self.names}") from None

    def name(self, index: int) -> str:
        """The class name of ``index``."""
        return self.names[index]

    def to_json(self) -> str:
        """``{"classes": [...]}`` as a JSON string (the list order is the index)."""
        return json.dumps({"classes": self.names})

    @classmethod
    def from_json(cls, text: str) -> "LabelMap":
        """Rebuild from :meth:`to_json`; the stored order is kept as is."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            raise ValueError('label map JSON must be an object {"classes": [names...]}')
        names = [str(n) for n in data["classes"]]
        if len(set(names)) != len(names):
            raise ValueError(f"label map JSON has duplicate classes: {names}")
        return cls(names, sort=False)


def folder_label(path: str) -> str:
    """The name of the folder holding ``path`` (``/data/cat/1.jpg`` -> ``cat``)."""
    parent = posixpath.basename(posixpath.dirname(path.replace(os.sep, "/")))
    if not parent:
        raise ValueError(f"cannot take a folder label from {path!r}: it has no parent folder")
    return parent


def parse_label_csv(text: str, source: str) -> dict[str, str]:
    """Parse ``path,label`` rows (an optional ``path,label`` header is skipped).

    Args:
        text: the CSV content.
        source: names the CSV in errors.

    Returns:
        path -> label name, in file order.
    """
    table: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise ValueError(f"{source} line {line_no}: expected 'path,label', got {row!r}")
        path, label = row[0].strip(), row[1].strip()
        if line_no == 1 and path.lower() == "path" and label.lower() == "label":
            continue
        if not path or not label:
            raise ValueError(f"{source} line {line_no}: empty path or label in {row!r}")
        table[path] = label
    return table


class LabelTable:
    """Looks up an image's label in a ``path -> label`` table.

    A table path matches an image whose path equals it or ends with
    ``"/" + table_path`` (table paths may be relative to the image folder).

    Args:
        table: path -> label name.
    """

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = {_clean(p): label for p, label in table.items()}

    def lookup(self, path: str) -> tuple[str | None, str | None]:
        """``(label, matched_table_path)`` of ``path``, or ``(None, None)``."""
        parts = _clean(path).split("/")
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if candidate in self.table:
                return self.table[candidate], candidate
        return None, None


def _clean(path: str) -> str:
    path = strip_file_scheme(path).replace(os.sep, "/")
    return path[2:] if path.startswith("./") else path


def strip_file_scheme(path: str) -> str:
    """``file:/x`` and ``file:///x`` -> ``/x``; other paths unchanged."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    return path
