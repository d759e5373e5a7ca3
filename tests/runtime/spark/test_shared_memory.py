"""The gang's shared-memory all-reduce: the same rank-order sums as the TCP mesh, one weight vector for the host,
no files left behind, and a collective fall-back to TCP when any rank cannot set it up."""
from __future__ import annotations

import os

import numpy as np
import pytest

from bigdl_runtime.nn import Linear, ReLU, Sequential, random
from bigdl_runtime.spark import shared_memory
from bigdl_runtime.spark.mesh import Mesh, slice_bounds
from bigdl_runtime.spark.parameter_sync import parameter_sync

from .test_mesh import rank_order_sum, run_ranks, unwrap


def leftovers(directory: str) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith("bigdl-gang-")]


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("n", [5, 1001, 600_001])     # 600,001 floats: several summation chunks per slice
@pytest.mark.parametrize("wire", [np.float32, np.float16])
def test_reduce_scatter_is_the_meshs_rank_order_sum_and_weights_are_shared(tmp_path, size, n, wire):
    rng = np.random.default_rng(size * 7 + n)
    grads = [(rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(np.float32) for _ in range(size)]
    expected = rank_order_sum([g.astype(wire) for g in grads])         # what the TCP mesh sums (fp16 on the wire)
    shm_dir = tmp_path / "shm"
    shm_dir.mkdir()

    def body(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sync = shared_memory.create(mesh, n, np.dtype(wire), directory=str(shm_dir))
        assert sync is not None and sync.transport == "shared-memory"
        sync.gradient[...] = grads[mesh.rank]
        part = sync.reduce_scatter().copy()
        into = np.full(sync.hi - sync.lo, np.nan, np.float32)
        assert sync.reduce_scatter(out=into) is into            # the gang sums straight into its slice
        np.testing.assert_array_equal(into, part)
        pieces = np.full(sync.hi - sync.lo, np.nan, np.float32)
        fill = sync.start_reduce_scatter(pieces)                # summed piece by piece, as the optimizer asks
        cuts = sorted({sync.lo, sync.hi, *np.linspace(sync.lo, sync.hi, 4).astype(int)})
        for lo, hi in reversed(list(zip(cuts[:-1], cuts[1:]))):
            fill(lo, hi, pieces[lo - sync.lo:hi - sync.lo])
        np.testing.assert_array_equal(pieces, part)
        assert not leftovers(str(shm_dir))       # each rank unlinked its segments once all had mapped them
        tcp = mesh.reduce_scatter(grads[mesh.rank].astype(wire)).copy()   # the same inputs over TCP
        sync.weights[sync.lo:sync.hi] = part                   # the owner's update of its slice
        sync.all_gather()
        full = sync.weights.copy()
        mesh.barrier()                                         # nobody writes again before all have read
        return part, tcp, full

    for rank, (part, tcp, full) in enumerate(unwrap(run_ranks(size, body, tmp_path))):
        lo, hi = slice_bounds(n, size, rank)
        np.testing.assert_array_equal(part, expected[lo:hi])   # bit-identical
        np.testing.assert_array_equal(part, tcp)
        np.testing.assert_array_equal(full, expected)


def test_every_rank_falls_back_when_one_cannot_create_its_segment(tmp_path, monkeypatch, caplog):
    real = shared_memory._map

    def failing(name: str, nbytes: int, create: bool = False, created: list[str] | None = None):
        if create and name.endswith("g1"):
            raise OSError(28, "No space left on device")
        return real(name, nbytes, create, created)

    monkeypatch.setattr(shared_memory, "_map", failing)
    shm_dir = tmp_path / "shm"
    shm_dir.mkdir()
    results = unwrap(run_ranks(3, lambda mesh: shared_memory.create(mesh, 100, np.dtype(np.float32),
                                                                    directory=str(shm_dir)), tmp_path))
    assert results == [None, None, None]
    assert not leftovers(str(shm_dir))                         # rank 0 and 2 removed what they had made
    assert "rank 1: shared memory unavailable" in caplog.text and "No space left" in caplog.text


def test_a_missing_directory_means_tcp_and_strict_shared_memory_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(shared_memory, "SHM_DIR", str(tmp_path / "absent"))

    def body(mesh: Mesh) -> tuple[str, str]:
        model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
        sync = parameter_sync(mesh, model, model.flatten_parameters(), None, "auto")
        with pytest.raises(RuntimeError, match="shared-memory.*not all on one host or .*absent"):
            parameter_sync(mesh, model, model.flatten_parameters(), None, "shared-memory")
        return sync.transport, type(sync).__name__

    assert unwrap(run_ranks(2, body, tmp_path)) == [("tcp", "MeshSync")] * 2


def test_ranks_on_different_hosts_use_tcp():
    class Addresses:
        addresses = ["10.0.0.1:5000", "10.0.0.2:5000"]

    assert not shared_memory.single_host(Addresses())                          # type: ignore[arg-type]
    Addresses.addresses = ["127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:6000"]
    assert shared_memory.single_host(Addresses())                              # type: ignore[arg-type]
    Addresses.addresses = ["[::1]:5000", "[::1]:5001"]
    assert shared_memory.single_host(Addresses())                              # type: ignore[arg-type]


def test_the_models_parameters_become_views_of_the_shared_vectors(tmp_path):
    shm_dir = tmp_path / "shm"
    shm_dir.mkdir()

    def body(mesh: Mesh) -> list[np.ndarray]:
        random.manual_seed(0)
        model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
        before = [p.data.copy() for p in model.parameters()]
        flat = model.flatten_parameters()
        sync = shared_memory.create(mesh, flat[0].size, np.dtype(np.float32), directory=str(shm_dir))
        assert sync is not None
        model.flatten_parameters(out=(sync.weights, sync.gradient))
        assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))
        mesh.barrier()
        if mesh.rank == 1:                       # a write by one rank is seen by the other's parameters
            sync.weights[:] = 7.0
        mesh.barrier()
        model.parameters()[0].grad[...] = 1.0    # the gradient is this rank's own segment
        return [model.parameters()[0].data.copy(), sync.gradient.copy()]

    for weights, grad in unwrap(run_ranks(2, body, tmp_path)):
        assert np.all(weights == 7.0)
        assert grad[:12].tolist() == [1.0] * 12 and not grad[12:].any()


def test_flatten_parameters_checks_the_vectors_it_is_given():
    model = Sequential(Linear(3, 4))
    with pytest.raises(ValueError, match=r"out weights must be a writeable \(16,\) float32 vector, got \(15,\)"):
        model.flatten_parameters(out=(np.zeros(15, np.float32), np.zeros(16, np.float32)))
