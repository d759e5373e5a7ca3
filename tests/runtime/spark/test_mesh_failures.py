"""The gang-mode mesh when things go wrong: desynchronised and mismatched calls, killed and silent peers, a failure
outside the mesh passed to the peers, a closed mesh."""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from bigdl_runtime.spark.mesh import Mesh, MeshError, directory_exchange

from .test_mesh import HOST, run_processes, run_ranks, unwrap


# --------------------------------------------------------------------------------------------- desync

def test_a_desynchronised_peer_is_reported_not_mis_summed(tmp_path):
    def body(mesh: Mesh) -> Any:
        if mesh.rank == 0:
            return mesh.reduce_scatter(np.ones(10, np.float32))
        return mesh.all_gather(np.ones(5, np.float32), np.zeros(10, np.float32))

    results = run_ranks(2, body, tmp_path, timeout=10)
    for err in results:     # each rank sees the bad frame itself, or hears about it from the other first
        assert isinstance(err, MeshError), err
        assert "out of step" in str(err) and "expected" in str(err)
    assert "sent all_gather #1" in str(results[0]) or "sent reduce_scatter #1" in str(results[0])
    assert results[0].peer == 1 and results[0].phase == "reduce_scatter"
    assert results[1].peer == 0 and results[1].phase == "all_gather"


@pytest.mark.parametrize("mismatch", ["size", "dtype", "extra_call"])
def test_mismatched_calls_are_detected(tmp_path, mismatch):
    def body(mesh: Mesh) -> Any:
        n = 10 + (mesh.rank if mismatch == "size" else 0)
        dtype = np.float16 if mismatch == "dtype" and mesh.rank == 1 else np.float32
        if mismatch == "extra_call" and mesh.rank == 1:
            mesh.barrier()
        try:
            mesh.reduce_scatter(np.ones(n, dtype))
        except MeshError as err:
            with pytest.raises(MeshError, match="unusable after an earlier failure"):
                mesh.barrier()
            return err
        return None

    results = run_ranks(2, body, tmp_path, timeout=10)
    assert any(isinstance(r, MeshError) and "out of step" in str(r) for r in results), results
    assert all(isinstance(r, MeshError) for r in results), results


# --------------------------------------------------------------------------------------------- dead and silent peers

def _looping_rank(rank: int, size: int, directory: str, queue: Any, victim: int) -> None:
    """All-reduce a 4 MB vector until something fails; report the error and how long it took to surface."""
    grad = np.ones(1_000_000, np.float32)
    full = np.empty_like(grad)
    with Mesh.connect(rank, size, directory_exchange(directory, rank, size), HOST, "tok", timeout=30) as mesh:
        if rank == victim:
            queue.put(("ready", rank))
        last = time.monotonic()
        try:
            while True:
                mesh.all_gather(mesh.reduce_scatter(grad), full)
                last = time.monotonic()
        except MeshError as err:
            queue.put((rank, str(err), err.peer, time.monotonic() - last))


def test_a_killed_peer_raises_mesh_error_naming_it_quickly(tmp_path):
    """SIGKILL one of three processes in the middle of all-reducing: the others fail fast (not after the
    30 s timeout), and the error names the dead rank (directly, or through the other survivor's abort notice)."""
    results = run_processes(3, _looping_rank, tmp_path, args=(2,), victim=2, kill_after=0.5)
    assert len(results) == 2
    for rank, message, peer, seconds in results:
        assert rank in (0, 1)
        assert seconds < 5.0, message
        assert "rank 2 (127.0.0.1:" in message, message
    assert any(peer == 2 and "died?" in message for _, message, peer, _ in results), results


def _ready_then_reduce(rank: int, size: int, directory: str, queue: Any, victim: int) -> None:
    with Mesh.connect(rank, size, directory_exchange(directory, rank, size), HOST, "tok", timeout=30) as mesh:
        if rank == victim:
            queue.put(("ready", rank))
            time.sleep(60)                   # killed before it reaches the collective
            return
        tic = time.monotonic()
        try:
            mesh.reduce_scatter(np.ones(10_000_000, np.float32))
        except MeshError as err:
            queue.put((rank, str(err), err.peer, time.monotonic() - tic))


def test_a_peer_killed_before_a_collective_is_named(tmp_path):
    results = run_processes(3, _ready_then_reduce, tmp_path, args=(1,), victim=1, kill_after=0.2)
    assert sorted(r[0] for r in results) == [0, 2]
    for rank, message, peer, seconds in results:
        assert "rank 1 (127.0.0.1:" in message and "reduce_scatter #1" in message, message
        assert seconds < 10.0


def test_a_silent_peer_times_out_naming_it(tmp_path):
    release = threading.Event()

    def body(mesh: Mesh) -> Any:
        if mesh.rank == 2:
            release.wait(20)                 # alive but never joins the collective
            return None
        mesh.timeout = 1.0
        tic = time.monotonic()
        try:
            mesh.reduce_scatter(np.ones(1000, np.float32))
        except MeshError as err:
            return err, time.monotonic() - tic
        finally:
            if mesh.rank == 0:
                time.sleep(0.2)
                release.set()
        return None

    results = run_ranks(3, body, tmp_path, timeout=20)
    for err, seconds in results[:2]:
        assert isinstance(err, MeshError)
        assert 0.9 < seconds < 5.0
    assert results[0][0].peer == 2 or results[1][0].peer == 2
    assert any("rank 2 (127.0.0.1:" in str(err) and "no progress for 1 s" in str(err) for err, _ in results[:2])


def test_an_exception_outside_the_mesh_is_passed_to_the_peers(tmp_path):
    def body(mesh: Mesh) -> Any:
        if mesh.rank == 1:
            with mesh:
                raise ValueError("loss is NaN")
        try:
            mesh.barrier()
        except MeshError as err:
            return err
        return None

    results = run_ranks(2, body, tmp_path, timeout=10)
    assert isinstance(results[0], MeshError) and "ValueError: loss is NaN" in str(results[0])
    assert isinstance(results[1], ValueError)


def test_closed_mesh_refuses_calls(tmp_path):
    def body(mesh: Mesh) -> None:
        mesh.close()
        mesh.close()
        with pytest.raises(MeshError, match="closed"):
            mesh.barrier()

    unwrap(run_ranks(2, body, tmp_path))


# --------------------------------------------------------------------------------------------- Spark
