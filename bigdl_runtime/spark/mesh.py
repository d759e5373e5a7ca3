"""Direct TCP connections between the N tasks of a Spark barrier stage, and BigDL's AllReduceParameter over them.

Gang (barrier) training keeps the driver out of the data path: the N tasks of one
barrier stage talk to each other directly. :meth:`Mesh.connect` opens a listener
on the task's host, publishes ``"host:port"`` through an exchange function (in
Spark: ``BarrierTaskContext.get().allGather``, which returns every task's message
in partition order), and connects every pair of tasks once: rank ``r`` dials
every rank below it and accepts every rank above it. A handshake carrying a
digest of the stage's ``token``, the rank and the mesh size rejects strangers
(a port scanner, a task of another stage or attempt) before any data flows.

The synchronisation is BigDL's ``AllReduceParameter``. The flat parameter
vector of ``n`` elements is cut into ``N`` contiguous near-equal slices
(:func:`slice_bounds`); task ``j`` owns slice ``j``. Each iteration:

1. **reduce-scatter** (:meth:`Mesh.reduce_scatter`): every task sends slice
   ``j`` of its gradient to task ``j`` and receives slice ``rank`` of every
   other task's gradient; it sums them in float32 in rank order ``0..N-1``.
2. the owner applies the optimizer to its weight slice only (its optimizer
   state is sharded the same way, so every task holds ``1/N`` of it);
3. **all-gather** (:meth:`Mesh.all_gather`): every task sends its updated
   weight slice to all others and receives theirs into the full vector.

Each task sends and receives ``(N-1)/N`` of the vector per phase, whatever
``N`` is: the bandwidth-optimal all-reduce for a full mesh. Small side values
(loss, batch-norm running statistics, norms, counts) use
:meth:`Mesh.all_reduce`, variable-length byte strings (summaries, checkpoint
metadata) :meth:`Mesh.gather_bytes` and :meth:`Mesh.broadcast_bytes`.

**Determinism.** Every element of a reduce-scatter result is
``((x_0 + x_1) + x_2) + ...`` in float32, whatever order the bytes arrive in:
the sum is accumulated chunk by chunk as data arrives, but rank ``k``'s chunk
is added only after ranks ``0..k-1`` have been added there. The same holds for
:meth:`Mesh.all_reduce` in float64, which is therefore bit-identical on all
ranks.

**Wire format.** Raw little-endian bytes, no pickle. Every message is one frame:
a 32-byte header (magic, version, phase, dtype code, sequence number, a
phase-specific ``total`` such as the vector size or the root, payload length)
followed by the payload. Every collective call increments a sequence number on
every rank; a frame whose phase, sequence number, dtype, total or length
differ from what the receiver expects raises :class:`MeshError` (a
desynchronised peer is reported, never silently mis-summed). Frames are read
exactly: a peer that is already one call ahead waits in the kernel buffer.

**I/O.** All sockets are non-blocking and driven by one ``poll`` loop per
collective, sending and receiving on every connection at once, so no buffer
size can deadlock; payloads are sent straight from the caller's arrays
(``sendmsg`` on memoryviews) and received straight into preallocated buffers or
the output vector (``recv_into``); summation is ``np.add(out=)`` on reused
buffers.

**Failures.** A peer whose connection closes or resets, or which makes no
progress for ``timeout`` seconds, raises :class:`MeshError` naming its rank,
address and the phase. The failing rank then tells every peer why (an abort
notice: a UDP datagram to each peer's notice port, plus an abort frame on every
stream that is at a frame boundary) and closes all its connections, so every
other task fails at once, with the original cause, instead of waiting for its
own timeout or blaming the messenger. A closed or failed mesh raises on every
further call. :meth:`Mesh.abort` (and leaving a ``with Mesh...`` block with an
exception) passes a failure outside the mesh to the peers the same way. In a
barrier stage this fails the stage, and the gang restarts from its last
checkpoint.
"""
from __future__ import annotations

import errno
import hmac
import os
import select
import socket
import struct
import time
from typing import Callable, Sequence

import numpy as np

from .mesh_connect import directory_exchange, open_connections, split_address
from .mesh_wire import (ABORT, ABORT_MAX, AG, AR, BARRIER, BCAST, CODES, FRAME_MAGIC, GATHER, HEADER, PHASES, RS,
                        VERSION, WIRE, MeshError, PeerFailure, RankOrderSum, Recv, Send, as_bytes_view)

__all__ = ["Mesh", "MeshError", "directory_exchange", "slice_bounds", "split_address"]

_NOTICE = struct.Struct("<4s32sIIQ")              # UDP abort notice: magic, token digest, sender, culprit + 1, seq
_NOTICE_MAGIC = b"BDLa"


def slice_bounds(size: int, parts: int, index: int) -> tuple[int, int]:
    """[lo, hi) of slice ``index`` when ``size`` elements are cut into ``parts`` contiguous near-equal slices.

    The first ``size % parts`` slices hold one element more; with ``size < parts``
    the last slices are empty.

    >>> [slice_bounds(10, 3, i) for i in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    if parts < 1 or not 0 <= index < parts or size < 0:
        raise ValueError(f"slice_bounds: need size >= 0, parts >= 1 and 0 <= index < parts, "
                         f"got size={size}, parts={parts}, index={index}")
    base, extra = divmod(size, parts)
    lo = index * base + min(index, extra)
    return lo, lo + base + (1 if index < extra else 0)


class Mesh:
    """Full-mesh TCP connections between ``size`` ranks and the collectives of BigDL's AllReduceParameter.

    Create with :meth:`connect`. Every rank must make the same sequence of
    collective calls (with matching sizes, dtypes and roots); a mismatch
    raises :class:`MeshError`. Not thread-safe: one thread drives a mesh.
    """

    rank: int
    size: int

    def __init__(self, rank: int, size: int, socks: dict[int, socket.socket], addresses: list[str],
                 timeout: float, notices: socket.socket | None = None,
                 notice_addresses: Sequence[tuple[str, int] | None] = (), digest: bytes = b"") -> None:
        self.rank, self.size, self.timeout = rank, size, timeout
        #: every rank's "host:port", in rank order
        self.addresses = addresses
        self._socks = socks
        self._notices = notices                       # UDP socket receiving peers' abort notices
        self._notice_addresses = list(notice_addresses)
        self._digest = digest
        for sock in socks.values():
            sock.setblocking(False)
        self._fd_peer = {sock.fileno(): peer for peer, sock in socks.items()}
        self._seq = 0
        self._failed: MeshError | None = None
        self._midframe: set[int] = set()          # peers our outgoing stream is partway through a frame to
        self._closed = False
        self._rs_bufs: dict[int, np.ndarray] = {}
        self._rs_out = np.empty(0, np.float32)

    # ----------------------------------------------------------------------------------------- setup

    @classmethod
    def connect(cls, rank: int, size: int, exchange: Callable[[str], list[str]], host: str,
                token: str, timeout: float = 600.0) -> "Mesh":
        """Listen on (host, ephemeral port), publish "host:port" through ``exchange``, connect every pair once.

        See :func:`~bigdl_runtime.spark.mesh_connect.open_connections` for the protocol and its arguments;
        ``timeout`` bounds the whole setup and, afterwards, how long any collective waits for a silent peer.
        """
        found = open_connections(rank, size, exchange, host, token, timeout)
        return cls(rank, size, found.socks, found.addresses, timeout, found.notices, found.notice_addresses,
                   found.digest)

    # ----------------------------------------------------------------------------------------- engine

    def _fail(self, message: str, peer: int | None, phase: str, culprit: int | None = None,
              root: str | None = None) -> MeshError:
        """Record a failure, tell the peers why (best effort) and close every connection.

        ``peer``: the connection the failure showed up on. ``culprit``: the rank at
        fault when ``peer`` only relayed it (an abort notice); the error's ``peer``
        and ``address`` name the culprit. ``root``: the original failure's text,
        passed on to the peers instead of a nested chain of relays.
        """
        address = self.addresses[peer] if peer is not None else None
        where = f"rank {peer} ({address}) " if peer is not None else ""
        blame = culprit if culprit is not None and culprit != self.rank else peer
        err = MeshError(f"mesh rank {self.rank}, {phase} #{self._seq}: {where}{message}", peer=blame,
                        address=self.addresses[blame] if blame is not None else None, phase=phase)
        self._failed = err
        self._abort(root or str(err), blame)
        self._shutdown()
        return err

    def _abort(self, reason: str, culprit: int | None) -> None:
        """Tell every peer why this rank leaves: a UDP notice, and an abort frame on streams at a frame boundary.

        Without it a peer would only see this rank close its connections and would
        blame it. Never blocks: a full buffer or a lost datagram just drops the notice.
        """
        data = reason.encode("utf-8")[:ABORT_MAX]
        code = 0 if culprit is None else culprit + 1
        if self._notices is not None:
            notice = _NOTICE.pack(_NOTICE_MAGIC, self._digest, self.rank, code, self._seq) + data
            for peer, address in enumerate(self._notice_addresses):
                if peer != self.rank and address is not None:
                    try:
                        self._notices.sendto(notice, address)
                    except OSError:
                        pass
        frame = HEADER.pack(FRAME_MAGIC, VERSION, ABORT, 0, self._seq, code, len(data)) + data
        for peer, sock in self._socks.items():
            if peer in self._midframe or peer == culprit:
                continue
            try:
                sock.send(frame)
            except OSError:
                pass

    def _read_notice(self, wait: float = 0.0) -> tuple[int, int | None, str] | None:
        """A peer's abort notice, if one arrives within ``wait`` seconds: (sender, culprit, reason)."""
        if self._notices is None:
            return None
        deadline = time.monotonic() + wait
        while True:
            try:
                data = self._notices.recv(_NOTICE.size + ABORT_MAX + 64)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self._notices], [], [], remaining)[0]:
                    return None
                continue
            except OSError:
                return None
            if len(data) < _NOTICE.size:
                continue
            magic, digest, sender, code, _ = _NOTICE.unpack_from(data)
            if magic == _NOTICE_MAGIC and hmac.compare_digest(digest, self._digest) and sender < self.size \
                    and sender != self.rank and code <= self.size:
                return sender, (code - 1 if code else None), data[_NOTICE.size:].decode("utf-8", "replace")

    def _begin(self, phase: int) -> tuple[int, str]:
        if self._failed is not None:
            raise MeshError(f"mesh rank {self.rank}: unusable after an earlier failure: {self._failed}",
                            peer=self._failed.peer, address=self._failed.address, phase=self._failed.phase)
        if self._closed:
            raise MeshError(f"mesh rank {self.rank}: closed", phase=PHASES[phase])
        self._seq += 1
        return self._seq, PHASES[phase]

    def _header(self, phase: int, dtype: int, total: int, length: int) -> bytes:
        return HEADER.pack(FRAME_MAGIC, VERSION, phase, dtype, self._seq, total, length)

    def _run(self, name: str, sends: dict[int, Send], recvs: dict[int, Recv],
             progress: Callable[[int, Recv], None] | None = None) -> None:
        """Drive all sends and receives of one collective to completion, concurrently, on one poll loop.

        ``progress(peer, recv)`` is called whenever bytes arrive from ``peer``.
        A peer with pending work and no progress for ``self.timeout`` seconds,
        a closed or reset connection, or an unexpected frame raises MeshError.
        """
        if not sends and not recvs:
            return
        poller = select.poll()
        events: dict[int, int] = {}
        now = time.monotonic()
        last: dict[int, float] = {}
        for peer in set(sends) | set(recvs):
            events[peer] = (select.POLLOUT if peer in sends else 0) | (select.POLLIN if peer in recvs else 0)
            poller.register(self._socks[peer], events[peer])
            last[peer] = now
        notice_fd = -1
        if self._notices is not None:
            notice_fd = self._notices.fileno()
            poller.register(notice_fd, select.POLLIN)
        try:
            while events:
                now = time.monotonic()
                wait = min(last[p] for p in events) + self.timeout - now
                if wait <= 0:
                    stalled = sorted(p for p in events if last[p] + self.timeout <= now)
                    peer = stalled[0]
                    doing = " and ".join(w for w, pending in (("sending to", peer in sends),
                                                               ("receiving from", peer in recvs)) if pending)
                    others = (f"; also stalled: ranks {stalled[1:]} "
                              f"({[self.addresses[p] for p in stalled[1:]]})" if len(stalled) > 1 else "")
                    raise self._fail(f"made no progress for {self.timeout:g} s ({doing} it){others}", peer, name)
                for fd, ev in sorted(poller.poll(int(wait * 1000) + 1), key=lambda e: e[0] == notice_fd):
                    if fd == notice_fd:
                        notice = self._read_notice()
                        if notice is not None:
                            sender, culprit, reason = notice
                            raise self._fail(f"left the mesh after a failure: {reason}", sender, name, culprit,
                                             reason)
                        continue
                    peer = self._fd_peer[fd]
                    sock = self._socks[peer]
                    try:
                        if ev & select.POLLNVAL:
                            raise PeerFailure("has an invalid socket (closed locally)")
                        if peer in sends:
                            send = sends[peer]
                            self._midframe.add(peer)
                            if send.step(sock):
                                del sends[peer]
                                self._midframe.discard(peer)
                            if send.sent:
                                last[peer] = time.monotonic()
                                send.sent = 0
                        if peer in recvs:
                            recv = recvs[peer]
                            before = recv.hgot + recv.got
                            if recv.step(sock):
                                del recvs[peer]
                            if recv.hgot + recv.got != before:
                                last[peer] = time.monotonic()
                                if progress is not None:
                                    progress(peer, recv)
                        if ev & select.POLLERR and (peer in sends or peer in recvs):
                            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            raise OSError(error, os.strerror(error) if error else "socket error")
                    except PeerFailure as err:
                        if err.culprit is None:
                            self._explained(peer, name)
                        raise self._fail(str(err), peer, name, err.culprit) from None
                    except OSError as err:
                        self._explained(peer, name)
                        what = {errno.ECONNRESET: "reset the connection (died?)",
                                errno.EPIPE: "closed the connection (broken pipe; died?)"}.get(
                                    err.errno, f"failed: {type(err).__name__}: {err}")
                        raise self._fail(what, peer, name) from None
                    want = (select.POLLOUT if peer in sends else 0) | (select.POLLIN if peer in recvs else 0)
                    if want != events[peer]:
                        if want:
                            poller.modify(sock, want)
                            events[peer] = want
                        else:
                            poller.unregister(sock)
                            del events[peer]
        finally:
            if not self._failed:
                for peer in events:
                    poller.unregister(self._socks[peer])
                if notice_fd >= 0:
                    poller.unregister(notice_fd)

    def _explained(self, peer: int, name: str) -> None:
        """Before blaming ``peer`` for a lost connection: did a rank send an abort notice? Then raise that."""
        notice = self._read_notice(wait=0.2)
        if notice is not None:
            sender, culprit, reason = notice
            raise self._fail(f"left the mesh after a failure: {reason}", sender, name, culprit, reason) from None

    # ----------------------------------------------------------------------------------------- collectives

    def my_slice(self, size: int) -> tuple[int, int]:
        """[lo, hi) of this rank's slice of a vector of ``size`` elements."""
        return slice_bounds(size, self.size, self.rank)

    def reduce_scatter(self, flat: np.ndarray) -> np.ndarray:
        """Sum of every rank's ``flat`` restricted to this rank's slice, in float32, in rank order 0..N-1.

        ``flat``: a 1-D float32 or float16 vector (float16 halves the bytes on the
        wire; the sum is still float32), same size and dtype on all ranks. Each
        element of the result is ``((x_0 + x_1) + x_2) + ...`` whatever order the
        bytes arrive in. Returns a float32 array of ``slice_bounds(flat.size,
        size, rank)`` length, owned by the mesh: valid until the next
        ``reduce_scatter``.
        """
        flat = np.ascontiguousarray(flat).reshape(-1)
        if flat.dtype not in WIRE:
            raise ValueError(f"reduce_scatter: flat must be float32 or float16, got {flat.dtype}")
        seq, name = self._begin(RS)
        n, code, item = flat.size, CODES[flat.dtype], flat.dtype.itemsize
        lo, hi = self.my_slice(n)
        if self._rs_out.size != hi - lo:
            self._rs_out = np.empty(hi - lo, np.float32)
        out = self._rs_out
        sends: dict[int, Send] = {}
        recvs: dict[int, Recv] = {}
        sources: list[np.ndarray] = []
        available: list[int] = []
        for peer in range(self.size):
            plo, phi = slice_bounds(n, self.size, peer)
            if peer == self.rank:
                sources.append(flat[lo:hi])
                available.append(hi - lo)
                continue
            sends[peer] = Send(self._header(RS, code, n, (phi - plo) * item), as_bytes_view(flat[plo:phi]))
            buf = self._rs_bufs.get(peer)
            if buf is None or buf.dtype != flat.dtype or buf.size != hi - lo:
                buf = self._rs_bufs[peer] = np.empty(hi - lo, flat.dtype)
            sources.append(buf)
            available.append(0)
            recvs[peer] = Recv(RS, seq, code, n, (hi - lo) * item, as_bytes_view(buf))
        total = RankOrderSum(out, sources, available)

        def arrived(peer: int, recv: Recv) -> None:
            available[peer] = recv.got // item
            total.advance()

        total.advance()
        self._run(name, sends, recvs, arrived)
        total.advance()
        return out

    def all_gather(self, mine: np.ndarray, out: np.ndarray) -> None:
        """``out[slice of rank r] = rank r's mine`` for every rank ``r``.

        ``out`` is the full flat vector (1-D, contiguous, float32 or float16, the
        same size and dtype on all ranks); ``mine`` this rank's slice of it,
        ``slice_bounds(out.size, size, rank)`` long (it may be a view of ``out``).
        Other ranks' slices are received straight into ``out``.
        """
        if out.ndim != 1 or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("all_gather: out must be a writeable contiguous 1-D array")
        if out.dtype not in WIRE:
            raise ValueError(f"all_gather: out must be float32 or float16, got {out.dtype}")
        mine = np.ascontiguousarray(mine).reshape(-1)
        n, code, item = out.size, CODES[out.dtype], out.dtype.itemsize
        lo, hi = self.my_slice(n)
        if mine.size != hi - lo:
            raise ValueError(f"all_gather: rank {self.rank}'s slice of {n} elements is [{lo}, {hi}), "
                             f"got {mine.size} elements")
        if mine.dtype != out.dtype:
            mine = mine.astype(out.dtype)
        seq, name = self._begin(AG)
        if mine.ctypes.data != out[lo:hi].ctypes.data:     # unless mine already is out's slice
            out[lo:hi] = mine
        payload = as_bytes_view(out[lo:hi])
        header = self._header(AG, code, n, (hi - lo) * item)
        sends = {peer: Send(header, payload) for peer in range(self.size) if peer != self.rank}
        recvs = {}
        for peer in sends:
            plo, phi = slice_bounds(n, self.size, peer)
            recvs[peer] = Recv(AG, seq, code, n, (phi - plo) * item, as_bytes_view(out[plo:phi]))
        self._run(name, sends, recvs)

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        """Sum of a small float64 vector over all ranks, in rank order: bit-identical on every rank.

        For side values (loss, batch-norm running statistics, norms, counts):
        every rank sends its whole vector to every other rank. Returns a fresh
        float64 array of the input's shape.
        """
        values = np.asarray(values, dtype="<f8")
        shape = values.shape
        flat = np.ascontiguousarray(values).reshape(-1)
        seq, name = self._begin(AR)
        code, nbytes = CODES[np.dtype("<f8")], flat.size * 8
        bufs = {peer: np.empty(flat.size, "<f8") for peer in range(self.size) if peer != self.rank}
        header = self._header(AR, code, flat.size, nbytes)
        sends = {peer: Send(header, as_bytes_view(flat)) for peer in bufs}
        recvs = {peer: Recv(AR, seq, code, flat.size, nbytes, as_bytes_view(buf)) for peer, buf in bufs.items()}
        self._run(name, sends, recvs)
        parts = [flat if peer == self.rank else bufs[peer] for peer in range(self.size)]
        total = parts[0].astype(np.float64)      # a copy: the input is never aliased
        for part in parts[1:]:
            np.add(total, part, out=total)
        return total.reshape(shape)

    def gather_bytes(self, payload: bytes, root: int = 0) -> list[bytes] | None:
        """Variable-length byte strings from every rank to ``root``: a list in rank order there, None elsewhere."""
        self._check_root(root)
        seq, name = self._begin(GATHER)
        code = CODES[np.dtype(np.uint8)]
        if self.rank != root:
            view = memoryview(payload).cast("B") if len(payload) else memoryview(b"")
            self._run(name, {root: Send(self._header(GATHER, code, root, len(view)), view)}, {})
            return None
        recvs = {peer: Recv(GATHER, seq, code, root, None, None) for peer in range(self.size) if peer != root}
        self._run(name, {}, dict(recvs))
        return [bytes(payload) if peer == root else bytes(recvs[peer].target)  # type: ignore[arg-type]
                for peer in range(self.size)]

    def broadcast_bytes(self, payload: bytes | None, root: int = 0) -> bytes:
        """``root``'s byte string on every rank (``payload`` is ignored on the other ranks)."""
        self._check_root(root)
        seq, name = self._begin(BCAST)
        code = CODES[np.dtype(np.uint8)]
        if self.rank == root:
            if payload is None:
                raise ValueError("broadcast_bytes: the root must pass a payload")
            view = memoryview(payload).cast("B") if len(payload) else memoryview(b"")
            header = self._header(BCAST, code, root, len(view))
            self._run(name, {peer: Send(header, view) for peer in range(self.size) if peer != root}, {})
            return bytes(payload)
        recv = Recv(BCAST, seq, code, root, None, None)
        self._run(name, {}, {root: recv})
        return bytes(recv.target)  # type: ignore[arg-type]

    def barrier(self) -> None:
        """Return once every rank has entered this barrier (an empty frame to and from every peer)."""
        seq, name = self._begin(BARRIER)
        code = CODES[np.dtype(np.uint8)]
        header = self._header(BARRIER, code, 0, 0)
        peers = [peer for peer in range(self.size) if peer != self.rank]
        self._run(name, {peer: Send(header, memoryview(b"")) for peer in peers},
                  {peer: Recv(BARRIER, seq, code, 0, 0, memoryview(b"")) for peer in peers})

    def _check_root(self, root: int) -> None:
        if not 0 <= root < self.size:
            raise ValueError(f"root must be in [0, {self.size}), got {root}")

    # ----------------------------------------------------------------------------------------- teardown

    def _shutdown(self) -> None:
        if self._notices is not None:
            self._notices.close()
        for sock in self._socks.values():
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        """Close every connection (idempotent). Peers still using the mesh get a MeshError naming this rank."""
        if not self._closed:
            self._closed = True
            self._shutdown()

    def abort(self, reason: str) -> None:
        """Leave the mesh after a failure outside it (a bad batch, a NaN loss): peers get a MeshError with ``reason``.

        Peers waiting on this rank learn why it left instead of only seeing its
        connections close. Idempotent with :meth:`close`.
        """
        if not self._closed and self._failed is None:
            self._abort(f"mesh rank {self.rank}: {reason}", None)
        self.close()

    def __enter__(self) -> "Mesh":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        """Close; after an exception that is not the mesh's own, tell the peers about it first."""
        if value is not None and not isinstance(value, MeshError):
            self.abort(f"{type(value).__name__}: {value}")
        self.close()

    def __repr__(self) -> str:
        state = "failed" if self._failed else "closed" if self._closed else "open"
        return f"Mesh(rank={self.rank}, size={self.size}, {state})"
