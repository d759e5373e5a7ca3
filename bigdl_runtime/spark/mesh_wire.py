"""The TCP mesh's wire format and its non-blocking frame I/O (see :mod:`bigdl_runtime.spark.mesh`).

A frame is a 32-byte header (magic, version, phase, dtype code, sequence number, a phase-specific total, payload
length) and the payload, raw little-endian bytes. :class:`Send` and :class:`Recv` move one frame as far as a
non-blocking socket allows per call; :class:`RankOrderSum` adds the ranks' slices in rank order as they arrive.
"""
from __future__ import annotations

import socket
import struct
from typing import Sequence

import numpy as np

VERSION = 1
#: summation granularity of reduce_scatter: elements added per np.add while data is still arriving
SUM_CHUNK = 1 << 18

HEADER = struct.Struct("<4sBBBxQQQ")            # magic, version, phase, dtype, seq, total, length
FRAME_MAGIC = b"BDLm"

RS, AG, AR, GATHER, BCAST, BARRIER, ABORT = 1, 2, 3, 4, 5, 6, 255
PHASES = {RS: "reduce_scatter", AG: "all_gather", AR: "all_reduce", GATHER: "gather_bytes",
          BCAST: "broadcast_bytes", BARRIER: "barrier", ABORT: "abort"}
ABORT_MAX = 1200                                 # longest abort reason sent (fits one UDP datagram anywhere)
DTYPES = {0: np.dtype(np.uint8), 1: np.dtype("<f4"), 2: np.dtype("<f2"), 3: np.dtype("<f8")}
CODES = {dt: code for code, dt in DTYPES.items()}
WIRE = (np.dtype("<f4"), np.dtype("<f2"))       # what reduce_scatter / all_gather accept


def recv_into_exactly(sock: socket.socket, view: memoryview, closed: str) -> None:
    """Fill ``view`` from a blocking socket; ConnectionError(``closed``) if the peer closes first."""
    got = 0
    while got < len(view):
        k = sock.recv_into(view[got:])
        if k == 0:
            raise ConnectionError(closed)
        got += k


def recv_exactly(sock: socket.socket, n: int, closed: str = "connection closed during the handshake") -> bytearray:
    """``n`` bytes from a blocking socket (see :func:`recv_into_exactly`)."""
    buf = bytearray(n)
    recv_into_exactly(sock, memoryview(buf), closed)
    return buf



def as_bytes_view(arr: np.ndarray) -> memoryview:
    return memoryview(arr).cast("B") if arr.size else memoryview(b"")



class MeshError(RuntimeError):
    """A mesh failure: a peer died, went silent, was unreachable, or is out of step.

    ``peer`` and ``address`` name the peer at fault (None when no single peer
    is), ``phase`` the operation (``"connect"``, ``"reduce_scatter"``, ...).
    """

    def __init__(self, message: str, peer: int | None = None, address: str | None = None,
                 phase: str | None = None) -> None:
        super().__init__(message)
        self.peer = peer
        self.address = address
        self.phase = phase


class PeerFailure(Exception):
    """Internal: what went wrong with one connection; the engine adds rank, address and phase.

    ``culprit`` is set when the peer itself reported (an abort notice) that another rank is at fault.
    """

    def __init__(self, message: str, culprit: int | None = None) -> None:
        super().__init__(message)
        self.culprit = culprit


class Send:
    """One outgoing frame: header then payload, sent as far as the socket takes it."""

    __slots__ = ("views", "sent")

    def __init__(self, header: bytes, payload: memoryview) -> None:
        self.views = [memoryview(header)] + ([payload] if len(payload) else [])
        self.sent = 0

    def step(self, sock: socket.socket) -> bool:
        """Send what the socket accepts now (counted in ``sent``); True when the whole frame is out."""
        while self.views:
            try:
                n = sock.sendmsg(self.views)
            except BlockingIOError:
                return False
            self.sent += n
            while n:
                head = self.views[0]
                if n >= len(head):
                    n -= len(head)
                    self.views.pop(0)
                else:
                    self.views[0] = head[n:]
                    n = 0
        return True


class Recv:
    """One incoming frame, checked against what this rank expects, read exactly (never past its end)."""

    __slots__ = ("phase", "seq", "dtype", "total", "length", "target", "header", "hgot", "got")

    def __init__(self, phase: int, seq: int, dtype: int, total: int, length: int | None,
                 target: memoryview | None) -> None:
        self.phase, self.seq, self.dtype, self.total, self.length = phase, seq, dtype, total, length
        self.target = target
        self.header = bytearray(HEADER.size)
        self.hgot = 0
        self.got = 0

    def _check(self, sock: socket.socket) -> None:
        magic, version, phase, dtype, seq, total, length = HEADER.unpack(self.header)
        if magic != FRAME_MAGIC or version != VERSION:
            raise PeerFailure(f"sent a frame with a bad header (magic {magic!r}, version {version})")
        if phase == ABORT:      # the peer failed and left; its reason follows in the same packet
            try:
                sock.settimeout(1.0)
                reason = recv_exactly(sock, min(length, ABORT_MAX)).decode("utf-8", "replace")
            except OSError:
                reason = "(reason lost)"
            raise PeerFailure(f"left the mesh after a failure: {reason}", total - 1 if total else None)
        expected = (self.phase, self.seq, self.dtype, self.total)
        if (phase, seq, dtype, total) != expected or (self.length is not None and length != self.length):
            raise PeerFailure(
                "is out of step (desynchronised): it sent "
                f"{PHASES.get(phase, f'phase {phase}')} #{seq} ({DTYPES.get(dtype, dtype)}, total {total}, "
                f"{length} bytes), this rank expected {PHASES[self.phase]} #{self.seq} "
                f"({DTYPES[self.dtype]}, total {self.total}"
                + (f", {self.length} bytes)" if self.length is not None else ")"))
        if self.target is None:
            self.length = length
            self.target = memoryview(bytearray(length))

    def step(self, sock: socket.socket) -> bool:
        """Read what is available now; True when the frame is complete. Raises PeerFailure or OSError."""
        try:
            while self.hgot < HEADER.size:
                n = sock.recv_into(memoryview(self.header)[self.hgot:])
                if n == 0:
                    raise PeerFailure("closed the connection (died?)")
                self.hgot += n
                if self.hgot == HEADER.size:
                    self._check(sock)
            target = self.target
            assert target is not None
            while self.got < len(target):
                n = sock.recv_into(target[self.got:])
                if n == 0:
                    raise PeerFailure("closed the connection (died?)")
                self.got += n
        except BlockingIOError:
            return False
        return True


class RankOrderSum:
    """acc = sources[0] + sources[1] + ... in float32, element by element in rank order, as data arrives."""

    def __init__(self, acc: np.ndarray, sources: Sequence[np.ndarray], available: list[int]) -> None:
        self.acc, self.sources, self.available = acc, sources, available
        self.frontier = [0] * len(sources)

    def advance(self) -> None:
        n = self.acc.size
        limit = n
        for k, src in enumerate(self.sources):
            start = self.frontier[k]
            stop = min(limit, self.available[k])
            if stop > start and (stop - start >= SUM_CHUNK or stop == n):
                part = self.acc[start:stop]
                if k == 0:
                    np.copyto(part, src[start:stop])
                else:
                    np.add(part, src[start:stop], out=part)
                self.frontier[k] = stop
            limit = self.frontier[k]
