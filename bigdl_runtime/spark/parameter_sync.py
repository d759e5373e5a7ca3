"""How a gang task exchanges gradients and weights: over the TCP mesh, or through shared memory on one host.

Both implement BigDL's AllReduceParameter with the same two calls per
iteration and the same arithmetic (slice sums in rank order), so they give
bit-identical weights:

* ``gradient``: the vector the replica's backward writes into;
* ``weights``: the flat weights the replica trains; the owner updates
  ``weights[lo:hi]`` between the calls;
* ``reduce_scatter(out=None)``: the summed gradient over this rank's slice ``[lo, hi)``;
* ``start_reduce_scatter(out)``: the same, in parts: it returns ``fill(lo, hi, dest)``, which
  writes the sum over flat elements ``[lo, hi)`` into ``dest``; the gang's optimizer shard
  calls it piece by piece, each piece just before its update and into one reused buffer
  (shared memory sums a piece there, while it is in cache), or None when ``out`` is already
  complete (TCP);
* ``all_gather()``: afterwards every rank's ``weights`` hold every rank's update.

:func:`parameter_sync` picks one (``transport="auto"``: shared memory when every
task of the gang is on one host and ``/dev/shm`` can hold the segments, TCP
otherwise) and re-points the model's parameters at its vectors.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..nn.module import Module
from . import shared_memory
from .allreduce import compress_array
from .mesh import Mesh, slice_bounds

__all__ = ["TRANSPORTS", "MeshSync", "ParameterSync", "parameter_sync"]

#: the gang's transports: "auto" (shared memory on one host, else TCP), "tcp", "shared-memory" (or fail)
TRANSPORTS = ("auto", "tcp", "shared-memory")


class ParameterSync(Protocol):
    transport: str
    lo: int
    hi: int
    weights: np.ndarray
    gradient: np.ndarray

    def reduce_scatter(self, out: np.ndarray | None = None) -> np.ndarray: ...

    def start_reduce_scatter(self, out: np.ndarray) -> Callable[[int, int, np.ndarray], None] | None: ...

    def all_gather(self) -> None: ...


class MeshSync:
    """AllReduceParameter over the TCP mesh: the gradient (float16 on the wire with ``compress="fp16"``) and weights."""

    transport = "tcp"

    def __init__(self, mesh: Mesh, weights: np.ndarray, gradient: np.ndarray, compress: str | None) -> None:
        self.mesh, self.weights, self.gradient, self.compress = mesh, weights, gradient, compress
        self.lo, self.hi = slice_bounds(weights.size, mesh.size, mesh.rank)

    def reduce_scatter(self, out: np.ndarray | None = None) -> np.ndarray:
        summed = self.mesh.reduce_scatter(compress_array(self.gradient, self.compress))
        if out is None:
            return summed
        out[...] = summed
        return out

    def start_reduce_scatter(self, out: np.ndarray) -> None:
        self.reduce_scatter(out)   # complete on return: nothing to fill later

    def all_gather(self) -> None:
        self.mesh.all_gather(self.weights[self.lo:self.hi], self.weights)


def parameter_sync(mesh: Mesh, model: Module, flat: tuple[np.ndarray, np.ndarray], compress: str | None,
                   transport: str = "auto") -> ParameterSync:
    """The gang's parameter exchange for ``model`` (collective: every rank calls it with the same arguments).

    ``flat``: the model's current ``flatten_parameters()`` vectors, kept for
    TCP; with shared memory the parameters are re-pointed at the shared
    vectors (weights copied in). Raises RuntimeError for
    ``transport="shared-memory"`` when the segments cannot be set up.
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
    if transport != "tcp":
        wire = np.dtype(np.float16) if compress == "fp16" else np.dtype(np.float32)
        shared = shared_memory.create(mesh, flat[0].size, wire)
        if shared is not None:
            model.flatten_parameters(out=(shared.weights, shared.gradient))
            return shared
        if transport == "shared-memory":
            raise RuntimeError("gang transport 'shared-memory': the tasks are not all on one host or "
                               f"{shared_memory.SHM_DIR} cannot hold the segments (see the executor log)")
    return MeshSync(mesh, flat[0], flat[1], compress)
