"""The gang's all-reduce through shared memory, for the tasks of one host.

When every task of a gang runs on the same host (``local[N]``, one large
executor machine), sending gradients and weights through loopback TCP copies
every byte through the kernel twice. Here the tasks share memory instead:

* every rank ``r`` owns one gradient segment ``G_r`` (the replica's gradient is
  computed straight into it, or, with ``compress="fp16"``, rounded into it);
* all ranks share **one** weight vector ``W``: every replica's parameters are
  views of it.

One iteration, as in BigDL's AllReduceParameter but without copies:

1. :meth:`SharedMemorySync.reduce_scatter`: a barrier (every gradient is
   written), then rank ``j`` sums slice ``j`` of ``G_0, G_1, ...`` in rank order
   (bit-identical to the TCP mesh's sum);
2. the owner applies the optimizer to its slice of ``W`` in place;
3. :meth:`SharedMemorySync.all_gather`: a barrier (every slice is updated).
   Nobody reads ``W`` between the two barriers and nobody writes a ``G_r``
   before the second, so neither needs locks.

The barriers and all small values still go through the
:class:`~bigdl_runtime.spark.mesh.Mesh`, so a dead peer raises
:class:`~bigdl_runtime.spark.mesh.MeshError` as before (its memory stays mapped
until every rank lets go).

**Segments** are files in ``/dev/shm`` named after a nonce rank 0 draws,
created exclusively (``O_EXCL``, mode 0600) and reserved with
``posix_fallocate`` (a full ``/dev/shm`` is an ``OSError`` at set-up, never a
``SIGBUS`` later). Once every rank has mapped every segment, each creator
unlinks its files, so nothing is left behind when the tasks end, even if they
are killed. Set-up is collective: if any rank cannot create or map a segment,
every rank falls back to TCP (:func:`create` returns None on all of them).
"""
from __future__ import annotations

import logging
import mmap
import os
from typing import Callable

import numpy as np

from .mesh import Mesh, slice_bounds, split_address
from .mesh_wire import SUM_CHUNK

__all__ = ["SHM_DIR", "SharedMemorySync", "create"]

log = logging.getLogger(__name__)

#: where segments are created (a tmpfs on Linux)
SHM_DIR = "/dev/shm"


class SharedMemorySync:
    """BigDL's AllReduceParameter over shared memory: see the module docstring. Build with :func:`create`."""

    transport = "shared-memory"

    def __init__(self, mesh: Mesh, weights: np.ndarray, gradients: list[np.ndarray],
                 private: np.ndarray | None) -> None:
        self.mesh = mesh
        self.lo, self.hi = slice_bounds(weights.size, mesh.size, mesh.rank)
        #: the flat weights, shared by every rank of the host
        self.weights = weights
        self._gradients = gradients
        self._private = private
        #: where this rank's replica writes its gradient
        self.gradient = private if private is not None else gradients[mesh.rank]
        self._out: np.ndarray | None = None         # the sum's buffer when the caller gives none

    def reduce_scatter(self, out: np.ndarray | None = None) -> np.ndarray:
        """Every rank's gradient summed over this rank's slice, in float32, in rank order 0..N-1.

        Written into ``out`` (a float32 vector of the slice's length) when
        given, else into an array owned by this object, valid until the next call.
        """
        if out is None:
            if self._out is None:
                self._out = np.empty(self.hi - self.lo, np.float32)
            out = self._out
        self.start_reduce_scatter(out)(self.lo, self.hi, out)
        return out

    def start_reduce_scatter(self, out: np.ndarray) -> Callable[[int, int, np.ndarray], None]:
        """Wait until every rank's gradient is written; return ``fill(lo, hi, dest)``, which sums flat elements
        ``[lo, hi)`` (inside this rank's slice) into ``dest`` (``hi - lo`` elements). ``out`` is left as it is.

        The owner's optimizer calls ``fill`` piece by piece, each piece just before
        its update and into one reused buffer, so the sum's result is still in cache
        when the update reads it and is never written back to memory.
        """
        if self._private is not None:              # compress="fp16": the same rounding as on the wire
            np.copyto(self._gradients[self.mesh.rank], self._private, casting="same_kind")
        self.mesh.barrier()
        grads = self._gradients

        def fill(lo: int, hi: int, dest: np.ndarray) -> None:
            for start in range(lo, hi, SUM_CHUNK):  # chunks that stay in cache while N sources are added
                span = slice(start, min(start + SUM_CHUNK, hi))
                part = dest[span.start - lo:span.stop - lo]
                if len(grads) == 1:
                    np.copyto(part, grads[0][span])
                else:                                # ((g0 + g1) + g2) + ... in float32, as the mesh sums
                    np.add(grads[0][span], grads[1][span], out=part, dtype=np.float32)
                for grad in grads[2:]:
                    np.add(part, grad[span], out=part, dtype=np.float32)
        return fill

    def all_gather(self) -> None:
        """Wait until every rank has written its updated slice of the shared weights."""
        self.mesh.barrier()


def single_host(mesh: Mesh) -> bool:
    """Whether every rank published the same host address."""
    return len({split_address(address)[0] for address in mesh.addresses}) == 1


def create(mesh: Mesh, size: int, wire_dtype: np.dtype, directory: str | None = None) -> SharedMemorySync | None:
    """Collectively set up the shared segments for a flat vector of ``size`` float32 weights.

    Every rank of ``mesh`` must call it. ``wire_dtype``: the gradients'
    dtype in the sum (float32, or float16 for ``compress="fp16"``). Returns
    None on every rank (after logging why) if the ranks are not all on one
    host or any rank could not create or map its segments. ``directory``:
    where the segments go (default :data:`SHM_DIR`).
    """
    if not single_host(mesh):
        return None
    wire_dtype = np.dtype(wire_dtype)
    nonce = mesh.broadcast_bytes(os.urandom(8).hex().encode() if mesh.rank == 0 else None).decode()

    def path(kind: str, rank: int) -> str:
        return os.path.join(directory or SHM_DIR, f"bigdl-gang-{nonce}-{kind}{rank}")

    sizes = {"g": size * wire_dtype.itemsize, "w": size * 4}
    own = [("g", mesh.rank)] + ([("w", 0)] if mesh.rank == 0 else [])
    mapped: dict[tuple[str, int], mmap.mmap] = {}
    created: list[str] = []
    try:
        def make_own() -> None:
            for kind, r in own:
                mapped[kind, r] = _map(path(kind, r), sizes[kind], create=True, created=created)

        def map_peers() -> None:
            for kind, r in [("g", r) for r in range(mesh.size)] + [("w", 0)]:
                if (kind, r) not in mapped:
                    mapped[kind, r] = _map(path(kind, r), sizes[kind])

        if not _agreed(mesh, _guard(make_own), "create") or not _agreed(mesh, _guard(map_peers), "map"):
            return None
    finally:
        for name in created:                        # every rank has mapped them (or given up): unlink
            os.unlink(name)
    gradients = [np.frombuffer(mapped["g", r], wire_dtype, size) for r in range(mesh.size)]
    weights = np.frombuffer(mapped["w", 0], np.float32, size)
    private = np.zeros(size, np.float32) if wire_dtype != np.float32 else None
    return SharedMemorySync(mesh, weights, gradients, private)


def _guard(step: Callable[[], object]) -> str | None:
    try:
        step()
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


def _agreed(mesh: Mesh, error: str | None, phase: str) -> bool:
    """True on every rank if no rank failed ``phase`` (a collective vote through the mesh)."""
    if error is not None:
        log.warning("gang rank %d: shared memory unavailable (%s: %s); the gang uses TCP", mesh.rank, phase, error)
    return mesh.all_reduce(np.array([0.0 if error is None else 1.0]))[0] == 0.0


def _map(name: str, nbytes: int, create: bool = False, created: list[str] | None = None) -> mmap.mmap:
    """Map segment ``name`` of ``nbytes`` (created exclusively and reserved in full when ``create``)."""
    nbytes = max(nbytes, 1)                         # mmap cannot map 0 bytes
    fd = os.open(name, os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    try:
        if create:
            assert created is not None
            created.append(name)
            os.posix_fallocate(fd, 0, nbytes)
        elif os.fstat(fd).st_size < nbytes:
            raise OSError(f"{name}: {os.fstat(fd).st_size} bytes, expected {nbytes}")
        return mmap.mmap(fd, nbytes)
    finally:
        os.close(fd)
