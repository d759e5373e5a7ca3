"""A converter registry shared by the importers: (domain, op type, since version) -> converter.

Each format keeps one :class:`Registry`. A converter is registered for the operator
version it implements from; the converter chosen for a node is the newest one at or
below the model's opset for that domain (formats without versions, such as Caffe,
register everything at ``since=1`` and look up with version 1).

Examples:
    >>> ONNX = Registry("ONNX")
    >>> @ONNX.register("Relu", since=6)
    ... def relu(node, ctx): ...
    >>> ONNX.lookup("Relu", domain="", version=13) is relu
    True
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


class UnsupportedOperatorError(ValueError):
    """A node whose (domain, op type, version) has no converter."""


class Registry:
    """Converters of one model format, keyed by (domain, op type, since version)."""

    def __init__(self, format_name: str) -> None:
        self.format_name = format_name
        self._table: dict[tuple[str, str], list[tuple[int, Callable]]] = {}

    def register(self, op_type: str, since: int = 1, domain: str = "") -> Callable[[F], F]:
        """Decorator: ``fn`` converts ``op_type`` of ``domain`` from version ``since`` on."""
        def add(fn: F) -> F:
            versions = self._table.setdefault((domain, op_type), [])
            if any(v == since for v, _ in versions):
                raise ValueError(f"{self.format_name}: {domain or 'ai.onnx'}::{op_type} "
                                 f"since {since} registered twice")
            versions.append((since, fn))
            versions.sort(key=lambda item: item[0])
            return fn
        return add

    def lookup(self, op_type: str, domain: str = "", version: int = 1, node: str = "") -> Callable:
        """The newest converter at or below ``version``; a clear error when there is none."""
        versions = self._table.get((domain, op_type), [])
        index = bisect_right([v for v, _ in versions], version)
        if index == 0:
            where = f" (node {node!r})" if node else ""
            if versions:
                reason = f"only versions >= {versions[0][0]} are supported, the model uses {version}"
            else:
                reason = "no converter for this operator"
            raise UnsupportedOperatorError(
                f"{self.format_name}: unsupported operator {domain or 'ai.onnx'}::{op_type} "
                f"version {version}{where}: {reason}. Supported: {', '.join(self.supported_names(domain))}")
        return versions[index - 1][1]

    def supported_names(self, domain: str = "") -> list[str]:
        """Sorted op types registered for ``domain``."""
        return sorted(op for d, op in self._table if d == domain)

    def supported(self) -> dict[tuple[str, str], list[int]]:
        """(domain, op type) -> the since versions with a converter (for the support table)."""
        return {key: [v for v, _ in versions] for key, versions in sorted(self._table.items())}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._table
