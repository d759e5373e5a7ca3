"""Setting up the TCP mesh (see :mod:`bigdl_runtime.spark.mesh`): listen, publish the address, dial the ranks
below, accept the ranks above, a handshake on every connection."""
from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time
from typing import Callable, NamedTuple

from .mesh_wire import VERSION, MeshError, recv_exactly

#: requested SO_SNDBUF / SO_RCVBUF (the kernel caps it at net.core.{w,r}mem_max and doubles it);
#: 0 leaves the buffers to the kernel's autotuning
SOCKET_BUFFER = 4 << 20
#: longest wait for an incoming connection's handshake before it is dropped (a silent stranger)
HANDSHAKE_WAIT = 10.0

_HANDSHAKE = struct.Struct("<4sB3xII32s")        # magic, version, rank, size, token digest
_HANDSHAKE_MAGIC = b"BDLh"


class Connections(NamedTuple):
    """What :func:`open_connections` returns: one socket per peer, and what the mesh needs to send abort notices."""

    socks: dict[int, socket.socket]
    addresses: list[str]
    notices: socket.socket
    notice_addresses: list[tuple[str, int]]
    digest: bytes


def directory_exchange(directory: str, rank: int, size: int, timeout: float = 60.0) -> Callable[[str], list[str]]:
    """An ``exchange`` for :meth:`Mesh.connect` outside Spark: processes sharing a directory (tests, benchmarks).

    Each call writes this rank's message to ``directory`` (atomically) and waits
    until all ``size`` ranks have written theirs for the same call. Returns the
    messages in rank order.
    """
    calls = 0

    def exchange(message: str) -> list[str]:
        nonlocal calls
        calls += 1
        path = os.path.join(directory, f"exchange-{calls}-{rank}")
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(message)
        os.replace(path + ".tmp", path)
        deadline = time.monotonic() + timeout
        names = [os.path.join(directory, f"exchange-{calls}-{r}") for r in range(size)]
        while not all(os.path.exists(n) for n in names):
            if time.monotonic() > deadline:
                missing = [r for r, n in enumerate(names) if not os.path.exists(n)]
                raise MeshError(f"directory_exchange: ranks {missing} did not publish within {timeout:g} s",
                                phase="connect")
            time.sleep(0.01)
        out = []
        for n in names:
            with open(n, encoding="utf-8") as fh:
                out.append(fh.read())
        return out

    return exchange


def digest_of(token: str) -> bytes:
    return hashlib.sha256(b"bigdl-mesh\x00" + token.encode("utf-8")).digest()


def _tune(sock: socket.socket) -> None:
    """Large buffers (before connect/listen, so the window scale is negotiated) and no Nagle delay."""
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF) if SOCKET_BUFFER else ():
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)



def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a published ``"host:port"`` (an IPv6 host without its brackets)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise MeshError(f"bad mesh address {address!r} (expected host:port)", phase="connect")
    return host.strip("[]"), int(port)


def open_connections(rank: int, size: int, exchange: Callable[[str], list[str]], host: str,
                 token: str, timeout: float) -> Connections:
    """Listen on (host, ephemeral port), publish "host:port" through ``exchange``, connect every pair once.

    ``exchange(message)`` must return all ranks' messages in rank order (in
    Spark: ``BarrierTaskContext.get().allGather``); it is called exactly once,
    with ``"host:port;notice-port"`` (the UDP port for abort notices). ``host``
    is bound and published as given: pass this executor's address as the other
    tasks reach it (in Spark, ``ctx.getTaskInfos()[rank].address`` before the
    ':'). Rank ``r`` dials ranks
    ``< r`` and accepts ranks ``> r``; each connection starts with a
    handshake (token digest, rank, mesh size) in both directions, and an
    incoming connection with a wrong token, size or rank is dropped. All
    sockets get TCP_NODELAY and large buffers. ``timeout`` bounds the whole
    setup and, afterwards, how long any collective waits for a silent peer.
    Raises :class:`MeshError` if a peer cannot be reached or does not dial in
    within ``timeout``.
    """
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"Mesh.connect: need 0 <= rank < size, got rank={rank}, size={size}")
    deadline = time.monotonic() + timeout
    family, stype, proto, _, sockaddr = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM,
                                                            flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, stype, proto)
    notices = socket.socket(family, socket.SOCK_DGRAM)
    socks: dict[int, socket.socket] = {}
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _tune(listener)
        listener.bind(sockaddr)
        listener.listen(max(size, 16))
        notices.bind(sockaddr)
        notices.setblocking(False)
        port = listener.getsockname()[1]
        mine = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # published: "host:port;udp-port" (the UDP port receives abort notices)
        published = [m.rpartition(";") for m in exchange(f"{mine};{notices.getsockname()[1]}")]
        addresses = [m[0] for m in published]
        if len(addresses) != size or addresses[rank] != mine or not all(m[2].isdigit() for m in published):
            raise MeshError(f"rank {rank}: the exchange returned {published!r}; expected {size} addresses "
                            f"with {mine!r} at position {rank}", phase="connect")
        notice_addresses = [(split_address(a)[0], int(m[2])) for a, m in zip(addresses, published)]
        digest = digest_of(token)
        for peer in range(rank):
            socks[peer] = _dial(rank, size, peer, addresses[peer], digest, deadline)
        _accept(listener, rank, size, addresses, digest, deadline, socks)
    except BaseException:
        for sock in socks.values():
            sock.close()
        notices.close()
        raise
    finally:
        listener.close()
    return Connections(socks, addresses, notices, notice_addresses, digest)

def _dial(rank: int, size: int, peer: int, address: str, digest: bytes, deadline: float) -> socket.socket:
    host, port = split_address(address)
    pause, last = 0.02, "no attempt"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MeshError(f"rank {rank} could not connect to rank {peer} at {address}: {last}",
                            peer=peer, address=address, phase="connect")
        family, stype, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, stype, proto)
        try:
            _tune(sock)
            sock.settimeout(remaining)
            sock.connect(sockaddr)
        except OSError as err:        # refused / unreachable / timed out: retry until the deadline
            sock.close()
            last = f"{type(err).__name__}: {err}"
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)
            continue
        try:
            sock.sendall(_HANDSHAKE.pack(_HANDSHAKE_MAGIC, VERSION, rank, size, digest))
            reply = _HANDSHAKE.unpack(recv_exactly(sock, _HANDSHAKE.size))
        except (OSError, ConnectionError) as err:
            sock.close()
            raise MeshError(f"rank {rank}: rank {peer} at {address} rejected or dropped the handshake "
                            f"(wrong token or mesh size?): {err}", peer=peer, address=address,
                            phase="connect") from None
        if reply != (_HANDSHAKE_MAGIC, VERSION, peer, size, digest):
            sock.close()
            raise MeshError(f"rank {rank}: the process at {address} is not rank {peer} of this mesh "
                            f"(bad handshake reply)", peer=peer, address=address, phase="connect")
        return sock

def _accept(listener: socket.socket, rank: int, size: int, addresses: list[str], digest: bytes,
            deadline: float, socks: dict[int, socket.socket]) -> None:
    rejected: list[str] = []
    while len(socks) < size - 1:
        remaining = deadline - time.monotonic()
        missing = [p for p in range(rank + 1, size) if p not in socks]
        if remaining <= 0:
            raise MeshError(
                f"rank {rank}: ranks {missing} (at {[addresses[p] for p in missing]}) did not connect in time"
                + (f"; rejected connections: {rejected}" if rejected else ""),
                peer=missing[0], address=addresses[missing[0]], phase="connect")
        listener.settimeout(remaining)
        try:
            conn, origin = listener.accept()
        except socket.timeout:
            continue
        try:
            conn.settimeout(min(HANDSHAKE_WAIT, max(0.01, deadline - time.monotonic())))
            magic, version, peer, peer_size, peer_digest = _HANDSHAKE.unpack(recv_exactly(conn,
                                                                                          _HANDSHAKE.size))
            if magic != _HANDSHAKE_MAGIC or version != VERSION:
                raise ConnectionError("not a mesh handshake")
            if not hmac.compare_digest(peer_digest, digest):
                raise ConnectionError("wrong token")
            if peer_size != size or not rank < peer < size or peer in socks:
                raise ConnectionError(f"unexpected rank {peer} of a mesh of {peer_size}")
            conn.sendall(_HANDSHAKE.pack(_HANDSHAKE_MAGIC, VERSION, rank, size, digest))
        except (OSError, ConnectionError, struct.error) as err:
            conn.close()
            rejected.append(f"{origin}: {err}")
            continue
        socks[peer] = conn
