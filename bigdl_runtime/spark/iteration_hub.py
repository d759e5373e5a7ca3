"""The per-iteration mode's parameter hub on the driver (``sync="driver"``): weights out, gradients in, raw bytes.

With the driver summing the gradients, every training task already sends its whole gradient to the driver;
the hub makes that the one hop it needs. For iteration ``k`` the driver :meth:`~IterationHub.publish` es a
snapshot of the weights, the float buffers and the batch's ids; each task (:class:`HubWeights`, in its
closure) fetches them straight into its replica's flat weight vector, computes, and pushes its gradient
back; the job's result is then only a small record per task. Before, the weights went out as a Spark
broadcast per iteration and the gradients came back pickled through the job's results (the JVM copies each
one several times), and a new Python RDD was pickled for every iteration.

Retries and lost executors: a re-run task fetches the same snapshot and pushes the same bytes (training
tasks are deterministic), which replace its earlier push. A request for another iteration than the one
published (a zombie attempt of an old job) is refused. Connections carry a digest of the fit's secret
token; the hub serves nothing else.

Wire format (little-endian): a request is :data:`REQUEST` (magic, version, op, iteration, partition,
payload bytes) then the 32-byte token digest then the payload (a push's gradient); a reply is
:data:`REPLY` (magic, version, status, then three counts) then its payload: for a fetch the float32
weights, float32 buffers and int64 batch ids (the counts are their lengths); for a push nothing;
for a refusal (status 1) a UTF-8 message (the first count is its length).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass

import numpy as np

from .allreduce import Contribution, Reduced, compress_array
from .driver_server import DriverServer
from .mesh_wire import as_bytes_view, recv_exactly, recv_into_exactly

MAGIC, VERSION = b"BDLi", 1
REQUEST = struct.Struct("<4sBB2xQQQ")   # magic, version, op, iteration, partition, payload bytes
REPLY = struct.Struct("<4sBB2xQQQ")     # magic, version, status, three counts
FETCH, PUSH = 1, 2
OK, REFUSED = 0, 1
#: seconds a task waits for the hub to answer
TIMEOUT = 120.0


def _digest(token: str) -> bytes:
    return hashlib.sha256(b"bigdl-hub\x00" + token.encode("utf-8")).digest()


def _recv_into(sock: socket.socket, view: memoryview, who: str) -> None:
    recv_into_exactly(sock, view, f"{who} closed the connection")


def _recv(sock: socket.socket, n: int, who: str) -> bytearray:
    return recv_exactly(sock, n, f"{who} closed the connection")


@dataclass(frozen=True)
class HubWeights:
    """A training task's end of the hub (pickled into the task's closure): fetch the weights, push the gradient."""

    address: tuple[str, int]
    token: str
    compress: str | None = None

    @property
    def _who(self) -> str:
        return f"the driver's parameter hub at {self.address[0]}:{self.address[1]}"

    def _request(self, op: int, iteration: int, partition: int, payload: memoryview | None) -> tuple[socket.socket, tuple]:
        who = self._who
        try:
            sock = socket.create_connection(self.address, timeout=TIMEOUT)
        except OSError as err:
            raise ConnectionError(f"cannot reach {who}: {err}") from err
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            size = len(payload) if payload is not None else 0
            sock.sendall(REQUEST.pack(MAGIC, VERSION, op, iteration, partition, size) + _digest(self.token))
            if payload is not None:
                sock.sendall(payload)
            magic, version, status, *counts = REPLY.unpack(_recv(sock, REPLY.size, who))
            if magic != MAGIC or version != VERSION:
                raise ConnectionError(f"{who} sent a bad reply header")
            if status != OK:
                message = _recv(sock, counts[0], who).decode("utf-8", "replace")
                raise RuntimeError(f"iteration {iteration}, partition {partition}: {who} refused: {message}")
        except BaseException:
            sock.close()
            raise
        return sock, tuple(counts)

    def fetch(self, iteration: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read iteration ``iteration``'s weights into ``weights`` (float32, in place); its buffers and batch ids."""
        if weights.dtype != np.float32 or not weights.flags.c_contiguous:
            raise ValueError(f"the weights are read into a contiguous float32 vector, got {weights.dtype}")
        sock, (n_weights, n_buffers, n_batch) = self._request(FETCH, iteration, 0, None)
        with sock:
            if n_weights != weights.size:
                raise RuntimeError(f"iteration {iteration}: the driver publishes {n_weights} weights, "
                                   f"this task's replica has {weights.size}")
            who = self._who
            _recv_into(sock, as_bytes_view(weights), who)
            buffers = np.frombuffer(_recv(sock, 4 * n_buffers, who), "<f4")
            batch = np.frombuffer(_recv(sock, 8 * n_batch, who), "<i8")
        return buffers, batch

    def deliver(self, iteration: int, contribution: Contribution) -> Contribution:
        """Push the contribution's gradient (as float16 with ``compress="fp16"``); the rest, without it, is the
        task's result. Returns once the hub has stored the gradient."""
        wire = np.ascontiguousarray(compress_array(contribution.grad, self.compress))
        sock, _ = self._request(PUSH, iteration, contribution.partition, as_bytes_view(wire))
        sock.close()
        return contribution._replace(grad=None)


class IterationHub:
    """The driver's end: serves the published iteration's snapshot and keeps each partition's pushed gradient.

    Args:
        host: the address the tasks connect to (the executors' way to the driver).
        size: elements of the flat weight / gradient vector.
        num_partitions: the tasks per iteration (partitions 0 .. N-1).
        compress: None, or ``"fp16"``: gradients arrive as float16 and are summed in float32.
        bind: the address to listen on (default ``host``).
    """

    def __init__(self, host: str, size: int, num_partitions: int, compress: str | None = None,
                 bind: str | None = None) -> None:
        self.size, self.num_partitions, self.compress = size, num_partitions, compress
        self._wire = np.dtype("<f2") if compress == "fp16" else np.dtype("<f4")
        self._token = secrets.token_hex(16)
        self._digest = _digest(self._token)
        self._lock = threading.Lock()
        self._iteration = -1
        self._snapshot: tuple[np.ndarray, ...] = ()
        self._grads: dict[int, np.ndarray] = {}
        self._server = DriverServer(host, self._serve, name="bigdl-iteration-hub", bind=bind)
        #: what the tasks carry to reach the hub
        self.client = HubWeights(self._server.address, self._token, compress)

    def publish(self, iteration: int, weights: np.ndarray, buffers: np.ndarray, batch: np.ndarray) -> None:
        """Serve copies of ``weights``, ``buffers`` and ``batch`` for ``iteration``; forget earlier pushes."""
        snapshot = (np.array(weights, "<f4"), np.array(buffers, "<f4"), np.array(batch, "<i8"))
        with self._lock:
            self._snapshot, self._iteration, self._grads = snapshot, iteration, {}

    def reduced(self, results: list[Contribution]) -> Reduced:
        """The job's small records (one per partition) and the pushed gradients, summed in partition order."""
        parts = sorted(results, key=lambda c: c.partition)
        with self._lock:
            grads = dict(self._grads)
        missing = sorted(set(range(self.num_partitions)) - set(grads))
        if missing or len(parts) != self.num_partitions:
            raise RuntimeError(f"iteration {self._iteration}: the job ended without the gradients of "
                               f"partitions {missing} (got {len(parts)} of {self.num_partitions} results)")
        tic = time.perf_counter()
        total = grads[0].astype(np.float32, copy=False)   # a fresh buffer per push: summed in place
        for p in range(1, self.num_partitions):
            total += grads[p]
        extras = parts[0].extras.copy()
        for c in parts[1:]:
            extras += c.extras
        return Reduced(total, extras, sum(c.samples for c in parts), max(c.compute_seconds for c in parts),
                       time.perf_counter() - tic)

    def close(self) -> None:
        self._server.close()

    # ---------------------------------------------------------------- serving
    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(TIMEOUT)
                head = _recv(conn, REQUEST.size + len(self._digest), "a task")
                magic, version, op, iteration, partition, size = REQUEST.unpack_from(head)
                if magic != MAGIC or version != VERSION or not hmac.compare_digest(
                        bytes(head[REQUEST.size:]), self._digest):
                    return   # not one of this fit's tasks
                refusal = self._refusal(op, iteration, partition, size)
                if refusal is not None:
                    message = refusal.encode("utf-8")
                    conn.sendall(REPLY.pack(MAGIC, VERSION, REFUSED, len(message), 0, 0) + message)
                elif op == FETCH:
                    with self._lock:
                        snapshot = self._snapshot   # replaced, never changed, by publish
                    conn.sendall(REPLY.pack(MAGIC, VERSION, OK, *(part.size for part in snapshot)))
                    for part in snapshot:
                        if part.size:
                            conn.sendall(as_bytes_view(part))
                else:
                    grad = np.empty(self.size, self._wire)
                    _recv_into(conn, as_bytes_view(grad), "a task")
                    with self._lock:
                        if iteration == self._iteration:   # else a zombie attempt: dropped
                            self._grads[partition] = grad  # a retry replaces identical bytes
                    conn.sendall(REPLY.pack(MAGIC, VERSION, OK, 0, 0, 0))
            except OSError:
                return   # the task died or gave up: Spark re-runs it

    def _refusal(self, op: int, iteration: int, partition: int, size: int) -> str | None:
        with self._lock:
            current = self._iteration
        if iteration != current:
            return f"the driver is at iteration {current}, not {iteration} (an attempt of an earlier job?)"
        if op == FETCH:
            return None
        if op != PUSH:
            return f"unknown request {op}"
        if not 0 <= partition < self.num_partitions:
            return f"partition {partition} outside 0..{self.num_partitions - 1}"
        if size != self.size * self._wire.itemsize:
            return f"a gradient of {size} bytes, expected {self.size * self._wire.itemsize}"
        return None
