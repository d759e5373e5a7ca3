"""The gang-mode mesh: slices, exact rank-order sums, float16 on the wire, the small collectives, strangers,
an unreachable peer, and one run inside a real barrier stage (failures: test_mesh_failures.py)."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import uuid
from typing import Any, Callable

import numpy as np
import pytest

from bigdl_runtime.spark import mesh_connect
from bigdl_runtime.spark import mesh_wire
from bigdl_runtime.spark.mesh import Mesh, MeshError, directory_exchange, slice_bounds

HOST = "127.0.0.1"


def in_threads(size: int, rank_main: Callable[[int], Any], timeout: float) -> list[Any]:
    """``rank_main(rank)`` for every rank in its own thread: its return value, or the exception it raised."""
    results: list[Any] = [None] * size

    def run(rank: int) -> None:
        try:
            results[rank] = rank_main(rank)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            results[rank] = err

    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
        assert not t.is_alive(), "a rank hung"
    return results


def run_ranks(size: int, body: Callable[[Mesh], Any], tmp_path, timeout: float = 20.0,
              token: str = "test-token") -> list[Any]:
    """Connect ``size`` meshes in threads, run ``body(mesh)`` on each; its return value, or the exception it raised."""

    def rank_main(rank: int) -> Any:
        exchange = directory_exchange(str(tmp_path), rank, size, timeout=timeout)
        with Mesh.connect(rank, size, exchange, HOST, token, timeout=timeout) as mesh:
            return body(mesh)

    return in_threads(size, rank_main, 3 * timeout)


def unwrap(results: list[Any]) -> list[Any]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def rank_order_sum(parts: list[np.ndarray]) -> np.ndarray:
    total = parts[0].astype(np.float32)
    for p in parts[1:]:
        total = total + p.astype(np.float32)
    return total


# --------------------------------------------------------------------------------------------- slices

@pytest.mark.parametrize("size, parts", [(10, 3), (9, 3), (2, 5), (0, 4), (1, 1), (1_000_003, 7)])
def test_slices_are_contiguous_near_equal_and_cover_everything(size, parts):
    bounds = [slice_bounds(size, parts, i) for i in range(parts)]
    assert bounds[0][0] == 0 and bounds[-1][1] == size
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))
    lengths = [hi - lo for lo, hi in bounds]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)
    assert slice_bounds(10, 3, 0) == (0, 4) and slice_bounds(2, 5, 4) == (2, 2)
    with pytest.raises(ValueError):
        slice_bounds(10, 3, 3)


# --------------------------------------------------------------------------------------------- sums

@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [2, 7, 1001])          # 2 < N for N = 3, 5: some slices are empty
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_reduce_scatter_and_all_gather_give_the_rank_order_sum(tmp_path, size, n, dtype):
    rng = np.random.default_rng(size * 1000 + n)
    grads = [(rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dtype) for _ in range(size)]
    expected = rank_order_sum(grads)
    assert np.array_equal(expected, np.sum(np.stack(grads).astype(np.float32), axis=0))

    def body(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
        mine = mesh.reduce_scatter(grads[mesh.rank])
        assert mine.dtype == np.float32
        part = mine.copy()
        full = np.full(n, np.nan, np.float32)
        mesh.all_gather(part, full)
        return part, full

    results = unwrap(run_ranks(size, body, tmp_path))
    for rank, (part, full) in enumerate(results):
        lo, hi = slice_bounds(n, size, rank)
        np.testing.assert_array_equal(part, expected[lo:hi])       # bit-identical, not just close
        np.testing.assert_array_equal(full, expected)


def test_sum_order_is_pinned_to_rank_order_whatever_order_bytes_arrive_in(tmp_path, monkeypatch):
    """Values where float32 addition order changes the result; tiny summation chunks and staggered senders."""
    monkeypatch.setattr(mesh_wire, "SUM_CHUNK", 3)
    n = 4000
    big = np.float32(2.0 ** 25)
    grads = [np.full(n, big, np.float32), np.ones(n, np.float32), np.full(n, -big, np.float32), np.ones(n, np.float32)]
    grads[1][::2] = 3.0
    expected = rank_order_sum(grads)            # ((2^25 + 1) - 2^25) + 1 = 1 in float32 (2^25 + 1 rounds)
    assert not np.array_equal(expected, rank_order_sum(grads[::-1])), "the test values must be order-sensitive"

    def body(mesh: Mesh) -> list[np.ndarray]:
        out = []
        for attempt in range(3):
            time.sleep(0.05 * ((mesh.rank + attempt) % 4))        # a different arrival order each attempt
            out.append(mesh.reduce_scatter(grads[mesh.rank]).copy())
        return out

    results = unwrap(run_ranks(4, body, tmp_path))
    for rank, attempts in enumerate(results):
        lo, hi = slice_bounds(n, 4, rank)
        for got in attempts:
            np.testing.assert_array_equal(got, expected[lo:hi])


def test_large_vector_between_processes_is_exact(tmp_path):
    """Real processes and a vector larger than the socket buffers, so data arrives in many pieces."""
    results = run_processes(3, _large_sum_rank, tmp_path, args=(3_000_001,))
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(3_000_001).astype(np.float32) for _ in range(3)]
    expected = rank_order_sum(grads)
    digests = {r: v for r, v in results}
    assert len(digests) == 3
    for rank, full in digests.items():
        np.testing.assert_array_equal(np.frombuffer(full, np.float32), expected)


def _large_sum_rank(rank: int, size: int, directory: str, queue: Any, n: int) -> None:
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(size)]
    with Mesh.connect(rank, size, directory_exchange(directory, rank, size), HOST, "tok", timeout=60) as mesh:
        full = np.empty(n, np.float32)
        for _ in range(2):                                      # buffers reused between calls
            mesh.all_gather(mesh.reduce_scatter(grads[rank]), full)
        queue.put((rank, full.tobytes()))


def test_all_gather_accepts_a_view_of_out_and_float16(tmp_path):
    n = 11

    def body(mesh: Mesh) -> list[np.ndarray]:
        lo, hi = mesh.my_slice(n)
        full32 = np.zeros(n, np.float32)
        full32[lo:hi] = np.arange(lo, hi)
        mesh.all_gather(full32[lo:hi], full32)                  # mine is out's own slice
        full16 = np.zeros(n, np.float16)
        mesh.all_gather(np.arange(lo, hi, dtype=np.float16) * 2, full16)
        with pytest.raises(ValueError, match="slice"):
            mesh.all_gather(np.zeros(hi - lo + 1, np.float32), full32)
        return [full32, full16]

    for full32, full16 in unwrap(run_ranks(3, body, tmp_path)):
        np.testing.assert_array_equal(full32, np.arange(n, dtype=np.float32))
        assert full16.dtype == np.float16
        np.testing.assert_array_equal(full16, np.arange(n, dtype=np.float16) * 2)


def test_all_reduce_is_the_rank_order_float64_sum_on_every_rank(tmp_path):
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((2, 3)) * 10.0 ** rng.uniform(-8, 8, (2, 3)) for _ in range(5)]
    expected = values[0].copy()
    for v in values[1:]:
        expected = expected + v

    def body(mesh: Mesh) -> np.ndarray:
        mine = values[mesh.rank].copy()
        total = mesh.all_reduce(mine)
        np.testing.assert_array_equal(mine, values[mesh.rank])        # input untouched
        return total

    for total in unwrap(run_ranks(5, body, tmp_path)):
        assert total.shape == (2, 3) and total.dtype == np.float64
        np.testing.assert_array_equal(total, expected)


def test_gather_broadcast_and_barrier(tmp_path):
    def body(mesh: Mesh) -> tuple[Any, Any, bytes, bytes]:
        payload = bytes([mesh.rank]) * (mesh.rank * 100_000)        # rank 0 sends an empty string
        gathered0 = mesh.gather_bytes(payload)
        gathered2 = mesh.gather_bytes(payload, root=2)
        mesh.barrier()
        text = mesh.broadcast_bytes(b"from one" if mesh.rank == 1 else None, root=1)
        empty = mesh.broadcast_bytes(b"" if mesh.rank == 0 else b"ignored")
        return gathered0, gathered2, text, empty

    results = unwrap(run_ranks(3, body, tmp_path))
    sent = [bytes([r]) * (r * 100_000) for r in range(3)]
    assert results[0][0] == sent and results[1][0] is None and results[2][0] is None
    assert results[2][1] == sent and results[0][1] is None
    assert all(r[2] == b"from one" and r[3] == b"" for r in results)


def test_single_rank_mesh_needs_no_peers(tmp_path):
    def body(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, Any]:
        full = np.empty(5, np.float32)
        mesh.all_gather(mesh.reduce_scatter(np.arange(5, dtype=np.float16)), full)
        mesh.barrier()
        return full, mesh.all_reduce(np.array([2.5])), mesh.gather_bytes(b"x")

    [(full, total, gathered)] = unwrap(run_ranks(1, body, tmp_path))
    np.testing.assert_array_equal(full, np.arange(5, dtype=np.float32))
    assert total.tolist() == [2.5] and gathered == [b"x"]


# --------------------------------------------------------------------------------------------- strangers

def _handshake(token: str, rank: int, size: int) -> bytes:
    return mesh_connect._HANDSHAKE.pack(b"BDLh", mesh_connect.VERSION, rank, size, mesh_connect.digest_of(token))


def test_a_stranger_with_a_wrong_token_is_rejected_and_the_mesh_still_forms(tmp_path):
    strangers: list[bytes] = []
    addresses: dict[int, list[str]] = {}
    barrier = threading.Barrier(2)

    def exchange_for(rank: int) -> Callable[[str], list[str]]:
        inner = directory_exchange(str(tmp_path), rank, 2)

        def exchange(message: str) -> list[str]:
            found = inner(message)
            if rank == 1:       # before the real rank 1 dials: a stranger posing as rank 1, then a silent one
                host, port = found[0].split(";")[0].rsplit(":", 1)      # published: "host:port;udp-port"
                for payload in (_handshake("wrong", 1, 2), b"GET / HTTP/1.0\r\n\r\n" + b"\0" * 40):
                    with socket.create_connection((host, int(port)), timeout=5) as stranger:
                        stranger.sendall(payload)
                        try:
                            strangers.append(stranger.recv(100))      # b"": closed without a reply
                        except ConnectionResetError:
                            strangers.append(b"")
            addresses[rank] = found
            return found

        return exchange

    def rank_main(rank: int) -> Any:
        with Mesh.connect(rank, 2, exchange_for(rank), HOST, "right", timeout=20) as mesh:
            barrier.wait()
            return mesh.all_reduce(np.array([rank + 1.0]))

    results = in_threads(2, rank_main, 60)
    assert strangers == [b"", b""]
    assert [r.tolist() for r in unwrap(results)] == [[3.0], [3.0]]


def test_a_peer_with_another_token_cannot_join(tmp_path):
    def rank_main(rank: int) -> Any:
        return Mesh.connect(rank, 2, directory_exchange(str(tmp_path), rank, 2), HOST,
                            "right" if rank == 0 else "wrong", timeout=2.0)

    results = in_threads(2, rank_main, 30)
    assert isinstance(results[0], MeshError) and "ranks [1]" in str(results[0]) and "wrong token" in str(results[0])
    assert isinstance(results[1], MeshError) and results[1].peer == 0 and "rejected" in str(results[1])


def test_connect_fails_clearly_when_a_peer_cannot_be_reached():
    with socket.socket() as probe:                     # a port nobody listens on any more
        probe.bind((HOST, 0))
        dead = f"{HOST}:{probe.getsockname()[1]}"

    def exchange(message: str) -> list[str]:
        return [dead + ";9", message]

    tic = time.monotonic()
    with pytest.raises(MeshError, match=f"could not connect to rank 0 at {dead}") as info:
        Mesh.connect(1, 2, exchange, HOST, "tok", timeout=1.0)
    assert time.monotonic() - tic < 5.0
    assert info.value.peer == 0 and info.value.address == dead and info.value.phase == "connect"


# ------------------------------------------------------------------------------------------ processes

def run_processes(size: int, target: Callable[..., None], tmp_path, args: tuple = (),
                  victim: int | None = None, kill_after: float = 0.0, deadline: float = 60.0) -> list[Any]:
    """Run ``target(rank, size, directory, queue, *args)`` in forked processes; SIGKILL ``victim`` once it reports."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(target, r, size, str(tmp_path), queue, *args), daemon=True)
             for r in range(size)]
    for p in procs:
        p.start()
    results = []
    try:
        end = time.monotonic() + deadline
        while len(results) < size - (victim is not None):      # the victim reports only that it is ready
            item = queue.get(timeout=max(0.1, end - time.monotonic()))
            if item[0] == "error":
                raise AssertionError(f"rank {item[1]} failed: {item[2]}")
            if victim is not None and item == ("ready", victim):
                time.sleep(kill_after)
                os.kill(procs[victim].pid, signal.SIGKILL)
                continue
            results.append(item)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return results


def _child(target: Callable[..., None], rank: int, *args: Any) -> None:
    try:
        target(rank, *args)
    except BaseException as err:  # noqa: BLE001 - reported to the parent instead of a silent exit
        args[2].put(("error", rank, f"{type(err).__name__}: {err}"))


def test_mesh_inside_a_spark_barrier_stage(spark):
    token = uuid.uuid4().hex

    def task(rows: Any) -> Any:
        from pyspark import BarrierTaskContext

        from bigdl_runtime.spark.mesh import Mesh as TaskMesh

        ctx = BarrierTaskContext.get()
        rank = ctx.partitionId()
        size = len(ctx.getTaskInfos())
        host = ctx.getTaskInfos()[rank].address.rsplit(":", 1)[0]
        grad = np.arange(7, dtype=np.float32) * (rank + 1)
        with TaskMesh.connect(rank, size, ctx.allGather, host, token, timeout=60) as mesh:
            full = np.empty(7, np.float32)
            mesh.all_gather(mesh.reduce_scatter(grad), full)
            count = mesh.all_reduce(np.array([float(sum(1 for _ in rows))]))
            yield rank, full.tolist(), count.tolist(), mesh.addresses[rank]

    out = sorted(spark.sparkContext.parallelize(range(10), 2).barrier().mapPartitions(task).collect())
    assert [r for r, *_ in out] == [0, 1]
    for _, full, count, address in out:
        assert full == (np.arange(7) * 3.0).tolist() and count == [10.0]
    assert out[0][3] != out[1][3]
