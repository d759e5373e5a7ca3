"""Benchmark the importer kernels (matmul, einsum, reductions, top-k, gather, slice, instance norm, erf)
against PyTorch's CPU kernels, forward + backward, with the table and timing of bench_kernels.py.

    python scripts/bench_importer_kernels.py             # batch 32
    python scripts/bench_importer_kernels.py --quick     # batch 4
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import Case, Runner, blas_threads, run  # noqa: E402
from bigdl_runtime.kernels import index, instance_norm, math, matmul, reduce  # noqa: E402


def _ours(forward: Callable, backward: Callable, arrays: list[np.ndarray], **config) -> Runner:
    def go() -> None:
        y, cache = forward(*arrays, **config)
        backward((np.ones_like(y[0]), None) if isinstance(y, tuple) else np.ones_like(y), cache)

    return go


def _theirs(fn: Callable, arrays: list[np.ndarray], grads: list[bool] | None = None) -> Runner:
    import torch

    grads = grads or [a.dtype.kind == "f" for a in arrays]
    tensors = [torch.from_numpy(a).requires_grad_(g) for a, g in zip(arrays, grads)]

    def go() -> None:
        y = fn(*tensors)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(torch.ones_like(y))
        for t in tensors:
            t.grad = None

    return go


def cases(batch: int) -> list[Case]:
    import torch

    rng = np.random.default_rng(0)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    def case(name: str, flops: float, ours: Callable[[], Runner], theirs: Callable[[], Runner]) -> Case:
        return Case(name, flops, lambda: (ours(), theirs()))

    a, w = normal(batch, 128, 256), normal(256, 512)
    q, k = normal(batch // 4 or 1, 8, 128, 64), normal(batch // 4 or 1, 8, 128, 64)
    feat = normal(batch, 256, 14, 14)
    scores = normal(batch * 8, 1000)
    table, ids = normal(20000, 128), rng.integers(0, 20000, (batch, 128))
    image = normal(batch // 4 or 1, 64, 56, 56)
    gamma, beta = normal(64), normal(64)
    eq = "bhqd,bhkd->bhqk"
    return [
        case(f"matmul {a.shape}@{w.shape}", 3 * 2 * a.size * w.shape[1],
             lambda: _ours(matmul.matmul_forward, matmul.matmul_backward, [a, w]),
             lambda: _theirs(torch.matmul, [a, w])),
        case(f"einsum {eq}", 3 * 2 * q.size * k.shape[2],
             lambda: _ours(matmul.einsum_forward, matmul.einsum_backward, [q, k], equation=eq),
             lambda: _theirs(lambda x, y: torch.einsum(eq, x, y), [q, k])),
        case("reduce_mean HW", 0, lambda: _ours(reduce.reduce_mean_forward, reduce.reduce_mean_backward, [feat],
                                                axes=[2, 3]),
             lambda: _theirs(lambda x: x.mean(dim=(2, 3)), [feat])),
        case("reduce_max C", 0, lambda: _ours(reduce.reduce_max_forward, reduce.reduce_max_backward, [feat], axes=[1]),
             lambda: _theirs(lambda x: x.amax(dim=1), [feat])),
        case("topk k=5 of 1000", 0, lambda: _ours(reduce.topk_forward, reduce.topk_backward, [scores], k=5),
             lambda: _theirs(lambda x: torch.topk(x, 5), [scores])),
        case("gather rows 20000x128", 0, lambda: _ours(index.gather_forward, index.gather_backward, [table, ids]),
             lambda: _theirs(lambda t, i: t[i], [table, ids])),
        case("slice [:, ::2, 1:-1]", 0,
             lambda: _ours(index.slice_forward, index.slice_backward, [image], starts=[0, 1], ends=[2 ** 62, -1],
                           axes=[1, 2], steps=[2, 1]),
             lambda: _theirs(lambda x: x[:, ::2, 1:-1], [image])),
        case("instance_norm 64@56", 0,
             lambda: _ours(instance_norm.instance_norm_forward, instance_norm.instance_norm_backward,
                           [image, gamma, beta]),
             lambda: _theirs(lambda x, g, b: torch.nn.functional.instance_norm(x, weight=g, bias=b),
                             [image, gamma, beta])),
        case("erf 64@56", 0, lambda: _ours(math.erf_forward, math.erf_backward, [image]),
             lambda: _theirs(torch.erf, [image])),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 4 instead of 32")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best is kept)")
    args = parser.parse_args(argv)

    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    batch = 4 if args.quick else 32
    print(f"batch {batch}, {threads} threads (numpy BLAS and torch), best of {args.repeats}, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = run(cases(batch), args.repeats)
    print(f"worst ratio {max(r['ratio'] for r in rows):.2f}, "
          f"geometric mean {statistics.geometric_mean([r['ratio'] for r in rows]):.2f}")


if __name__ == "__main__":
    main()
