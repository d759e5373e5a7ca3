"""Micro-benchmark of the gang-mode all-reduce: reduce-scatter + all-gather over loopback TCP or shared memory.

Starts ``n_procs`` processes, connects them with :class:`Mesh` (addresses exchanged
through a temporary directory), and times ``repeats`` all-reduces of an
``nbytes`` float32 vector: ``reduce_scatter`` of the gradient, then
``all_gather`` of the summed slices into the full vector (the optimizer step
BigDL runs in between is left out). Each repeat starts after a barrier; its time
is the slowest rank's.

Reported: ``algbw = nbytes / seconds`` and NCCL's bus bandwidth
``busbw = algbw * 2 (N-1) / N`` (the bytes each rank actually sends and
receives per second, comparable across N; equal to algbw for N = 2).

    python scripts/bench_mesh.py                      # 44 MB, 2 and 4 processes, TCP and shared memory
    python scripts/bench_mesh.py --procs 2 3 --mb 10 --repeats 20 --out result.json

or from Python: ``bench_allreduce(n_procs, nbytes, repeats) -> dict``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from bigdl_runtime.spark import shared_memory
from bigdl_runtime.spark.mesh import Mesh, directory_exchange
from bigdl_runtime.spark.parameter_sync import MeshSync


def _worker(rank: int, n_procs: int, nelem: int, repeats: int, warmup: int, directory: str, dtype: str,
            transport: str, results: "mp.Queue[Any]") -> None:
    try:
        mesh = Mesh.connect(rank, n_procs, directory_exchange(directory, rank, n_procs), "127.0.0.1",
                            token="bench", timeout=120.0)
        with mesh:
            grad = np.random.default_rng(rank).standard_normal(nelem).astype(np.float32)
            if transport == "shared-memory":
                sync: Any = shared_memory.create(mesh, nelem, np.dtype(dtype))
                if sync is None:
                    raise RuntimeError("shared memory unavailable")
            else:
                sync = MeshSync(mesh, np.empty(nelem, np.float32), np.empty(nelem, np.float32),
                                "fp16" if dtype == "float16" else None)
            sync.gradient[...] = grad
            times = []
            for i in range(warmup + repeats):
                mesh.barrier()
                tic = time.perf_counter()
                sync.weights[sync.lo:sync.hi] = sync.reduce_scatter()   # as the owner's optimizer writes its slice
                sync.all_gather()
                seconds = time.perf_counter() - tic
                if i >= warmup:
                    times.append(seconds)
            # the slowest rank per repeat: gather everyone's times at rank 0
            gathered = mesh.gather_bytes(np.array(times, np.float64).tobytes(), root=0)
            if rank == 0:
                assert gathered is not None
                per_rank = np.stack([np.frombuffer(b, np.float64) for b in gathered])
                slowest = per_rank.max(axis=0)
                results.put(("ok", [float(t) for t in slowest]))
    except BaseException as err:  # report, don't hang the parent
        results.put(("error", f"rank {rank}: {type(err).__name__}: {err}"))


def bench_allreduce(n_procs: int, nbytes: int = 44_000_000, repeats: int = 10, warmup: int = 2,
                    dtype: str = "float32", transport: str = "tcp") -> dict[str, Any]:
    """Time ``repeats`` all-reduces (reduce_scatter + all_gather) of ``nbytes`` between ``n_procs`` processes.

    ``dtype``: the gradient's dtype in the reduce-scatter ("float16" halves its
    bytes on the wire); the all-gather is always float32. ``transport``: "tcp"
    (the mesh on loopback) or "shared-memory" (the gang's same-host exchange,
    :mod:`bigdl_runtime.spark.shared_memory`). Returns a dict: transport, n_procs,
    nbytes (of the float32 vector), wire_dtype, seconds (median of the slowest
    rank per repeat), best_seconds, algbw and busbw in bytes/s (from the median),
    all per-repeat seconds and the load average before and after.
    """
    itemsize = np.dtype(dtype).itemsize
    nelem = nbytes // 4
    ctx = mp.get_context("spawn")
    results: "mp.Queue[Any]" = ctx.Queue()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-mesh-") as directory:
        procs = [ctx.Process(target=_worker, args=(r, n_procs, nelem, repeats, warmup, directory, dtype, transport,
                                                      results))
                 for r in range(n_procs)]
        for p in procs:
            p.start()
        try:
            status, payload = results.get(timeout=600)
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
    if status != "ok":
        raise RuntimeError(f"bench_allreduce failed: {payload}")
    seconds = statistics.median(payload)
    algbw = nelem * 4 / seconds
    return {
        "transport": transport, "n_procs": n_procs, "nbytes": nelem * 4, "wire_dtype": dtype, "wire_bytes_per_rank_per_phase":
        nelem * itemsize * (n_procs - 1) // n_procs, "repeats": repeats,
        "seconds": seconds, "best_seconds": min(payload), "algbw_bytes_per_s": algbw,
        "busbw_bytes_per_s": algbw * 2 * (n_procs - 1) / n_procs, "all_seconds": payload,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--mb", type=float, default=44.0, help="float32 vector size in MB (10^6 bytes)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--transports", nargs="+", default=["tcp", "shared-memory"],
                        choices=["tcp", "shared-memory"])
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for n, transport in [(n, t) for t in args.transports for n in args.procs]:
        row = bench_allreduce(n, int(args.mb * 1e6), args.repeats, dtype=args.dtype, transport=transport)
        rows.append(row)
        print(f"{transport} N={n}: {row['nbytes'] / 1e6:.1f} MB {row['wire_dtype']} all-reduce {row['seconds'] * 1e3:.1f} ms "
              f"(best {row['best_seconds'] * 1e3:.1f} ms), algbw {row['algbw_bytes_per_s'] / 1e9:.2f} GB/s, "
              f"busbw {row['busbw_bytes_per_s'] / 1e9:.2f} GB/s; load average {row['loadavg_before'][0]:.2f} "
              f"before, {row['loadavg_after'][0]:.2f} after", flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    sys.exit(main())
