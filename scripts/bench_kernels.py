"""Benchmark our numpy kernels against PyTorch's CPU kernels (forward + backward).

One row per case: our time, torch's time (same thread count as numpy's BLAS), the ratio
ours / torch and our GFLOP/s. Cases are a table of ``Case(name, flops, setup)`` where
``setup()`` builds the inputs and returns ``(ours, theirs)``: two zero-argument callables
that each run one forward + backward. Add rows for other kernels by appending cases.

    python scripts/bench_kernels.py            # ResNet-18 conv layers at batch 32 @ 224x224,
                                               # plus linear, batch norm, max pool and LSTM rows
    python scripts/bench_kernels.py --quick    # batch 4
    python scripts/bench_kernels.py --json out.json --only conv3x3
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigdl_runtime.kernels.conv import conv2d_backward, conv2d_forward  # noqa: E402
from bigdl_runtime.kernels.linear import linear_backward, linear_forward  # noqa: E402
from bigdl_runtime.kernels.norm import batch_norm_backward, batch_norm_forward  # noqa: E402
from bigdl_runtime.kernels.pool import max_pool2d_backward, max_pool2d_forward  # noqa: E402
from bigdl_runtime.kernels.rnn import lstm_backward, lstm_forward  # noqa: E402

Runner = Callable[[], None]


@dataclass
class Case:
    name: str
    flops: float  # forward + backward; 0 for memory-bound ops (no GFLOP/s column then)
    setup: Callable[[], tuple[Runner, Runner]]


def blas_threads() -> int:
    """Threads numpy's OpenBLAS uses (read from the loaded library), else the CPU count."""
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for symbol in ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                       "openblas_get_num_threads64_"):
            if hasattr(lib, symbol):
                return int(getattr(lib, symbol)())
    return os.cpu_count() or 1


# ----------------------------------------------------------------------- conv cases
def conv_case(name: str, batch: int, cin: int, cout: int, k: int, stride: int, size: int) -> Case:
    pad = k // 2
    out = (size + 2 * pad - k) // stride + 1
    flops = 3 * 2.0 * batch * cout * out * out * cin * k * k

    def setup() -> tuple[Runner, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, cin, size, size), dtype=np.float32)
        w = (rng.standard_normal((cout, cin, k, k), dtype=np.float32) * 0.05).astype(np.float32)
        b = np.zeros(cout, np.float32)
        dy = rng.standard_normal((batch, cout, out, out), dtype=np.float32)

        def ours() -> None:
            _, cache = conv2d_forward(x, w, b, stride=stride, padding=pad)
            conv2d_backward(dy, cache)

        xt = torch.from_numpy(x).requires_grad_(True)
        wt = torch.from_numpy(w).requires_grad_(True)
        bt = torch.from_numpy(b).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def theirs() -> None:
            y = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
            y.backward(dyt)
            xt.grad = wt.grad = bt.grad = None

        return ours, theirs

    return Case(name, flops, setup)


def resnet18_convs(batch: int) -> list[Case]:
    """Every distinct conv layer of ResNet-18 on 224x224 input."""
    spec = [("conv7x7/2 3->64 @224", 3, 64, 7, 2, 224),
            ("conv3x3 64->64 @56", 64, 64, 3, 1, 56),
            ("conv3x3/2 64->128 @56", 64, 128, 3, 2, 56),
            ("conv1x1/2 64->128 @56", 64, 128, 1, 2, 56),
            ("conv3x3 128->128 @28", 128, 128, 3, 1, 28),
            ("conv3x3/2 128->256 @28", 128, 256, 3, 2, 28),
            ("conv1x1/2 128->256 @28", 128, 256, 1, 2, 28),
            ("conv3x3 256->256 @14", 256, 256, 3, 1, 14),
            ("conv3x3/2 256->512 @14", 256, 512, 3, 2, 14),
            ("conv1x1/2 256->512 @14", 256, 512, 1, 2, 14),
            ("conv3x3 512->512 @7", 512, 512, 3, 1, 7)]
    return [conv_case(name, batch, *rest) for name, *rest in spec]


# ------------------------------------------------------------------ other kernels
def _torch_pair(fn: Callable, inputs: list[np.ndarray], dy: np.ndarray) -> Runner:
    """torch forward + backward of ``fn(*tensors)`` with gradients for every input."""
    import torch

    tensors = [torch.from_numpy(a).requires_grad_(True) for a in inputs]
    dyt = torch.from_numpy(dy)

    def theirs() -> None:
        fn(*tensors).backward(dyt)
        for t in tensors:
            t.grad = None

    return theirs


def linear_case(batch: int, n_in: int, n_out: int) -> Case:
    def setup() -> tuple[Runner, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, n_in), dtype=np.float32)
        w = rng.standard_normal((n_out, n_in), dtype=np.float32) * 0.02
        b = np.zeros(n_out, np.float32)
        dy = rng.standard_normal((batch, n_out), dtype=np.float32)

        def ours() -> None:
            linear_backward(dy, linear_forward(x, w, b)[1])

        return ours, _torch_pair(torch.nn.functional.linear, [x, w, b], dy)

    return Case(f"linear {n_in}->{n_out} b{batch}", 3 * 2.0 * batch * n_in * n_out, setup)


def batch_norm_case(batch: int, channels: int, size: int) -> Case:
    def setup() -> tuple[Runner, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        gamma, beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        mean, var = np.zeros(channels, np.float32), np.ones(channels, np.float32)
        dy = rng.standard_normal(x.shape, dtype=np.float32)
        tmean, tvar = torch.zeros(channels), torch.ones(channels)

        def ours() -> None:
            batch_norm_backward(dy, batch_norm_forward(x, gamma, beta, mean.copy(), var.copy(), training=True)[1])

        def bn(xt, g, b):  # noqa: ANN001, ANN202
            return torch.nn.functional.batch_norm(xt, tmean, tvar, g, b, training=True)

        return ours, _torch_pair(bn, [x, gamma, beta], dy)

    return Case(f"batchnorm2d {channels} @{size} b{batch}", 0, setup)


def max_pool_case(batch: int, channels: int, size: int) -> Case:
    def setup() -> tuple[Runner, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        out = (size + 2 - 3) // 2 + 1
        dy = rng.standard_normal((batch, channels, out, out), dtype=np.float32)

        def ours() -> None:
            max_pool2d_backward(dy, max_pool2d_forward(x, 3, 2, 1)[1])

        return ours, _torch_pair(lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1), [x], dy)

    return Case(f"maxpool3x3/2 {channels} @{size} b{batch}", 0, setup)


def lstm_case(batch: int, length: int, n_in: int, hidden: int) -> Case:
    flops = 3 * 2.0 * batch * length * 4 * hidden * (n_in + hidden)

    def setup() -> tuple[Runner, Runner]:
        import torch

        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, length, n_in), dtype=np.float32)
        w_ih = rng.standard_normal((4 * hidden, n_in), dtype=np.float32) * 0.1
        w_hh = rng.standard_normal((4 * hidden, hidden), dtype=np.float32) * 0.1
        b_ih, b_hh = np.zeros(4 * hidden, np.float32), np.zeros(4 * hidden, np.float32)
        dy = rng.standard_normal((batch, length, hidden), dtype=np.float32)

        def ours() -> None:
            lstm_backward((dy, None, None), lstm_forward(x, w_ih, w_hh, b_ih, b_hh)[1])

        lstm = torch.nn.LSTM(n_in, hidden, batch_first=True)
        with torch.no_grad():
            for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih),
                                ("bias_hh_l0", b_hh)):
                getattr(lstm, name).copy_(torch.from_numpy(value))
        return ours, _torch_pair(lambda t: lstm(t)[0], [x], dy)

    return Case(f"lstm {n_in}->{hidden} T{length} b{batch}", flops, setup)


def other_kernels(batch: int) -> list[Case]:
    """A classifier head, ResNet-18's first batch norm and max pool, and a text LSTM."""
    return [linear_case(batch, 512, 1000), linear_case(2 * batch, 4096, 4096),
            batch_norm_case(batch, 64, 112), max_pool_case(batch, 64, 112),
            lstm_case(2 * batch, 200, 128, 128)]


# ------------------------------------------------------------------------- timing
def measure(ours: Runner, theirs: Runner, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of each, after a warm-up; runs alternate so load hits both alike."""
    ours()
    theirs()
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (theirs, t_theirs)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return min(t_ours), min(t_theirs)


def run(cases: list[Case], repeats: int) -> list[dict]:
    rows = []
    print(f"{'case':<30} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'GFLOP/s':>8} {'torch GF/s':>10}")
    for case in cases:
        ours, theirs = case.setup()
        t_ours, t_torch = measure(ours, theirs, repeats)
        row = {"name": case.name, "ours_s": t_ours, "torch_s": t_torch, "ratio": t_ours / t_torch,
               "gflops": case.flops / t_ours / 1e9 or None, "torch_gflops": case.flops / t_torch / 1e9 or None}
        rows.append(row)
        rates = (f"{row['gflops']:8.1f} {row['torch_gflops']:10.1f}" if case.flops else f"{'-':>8} {'-':>10}")
        print(f"{case.name:<30} {t_ours * 1e3:9.1f} {t_torch * 1e3:9.1f} {row['ratio']:6.2f} {rates}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 4 instead of 32")
    parser.add_argument("--batch", type=int, default=None, help="override the batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best is kept)")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this")
    parser.add_argument("--json", default=None, help="write the table to this path")
    args = parser.parse_args(argv)

    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    batch = args.batch or (4 if args.quick else 32)
    cases = resnet18_convs(batch) + other_kernels(batch)
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    load_before = os.getloadavg()[0]
    print(f"batch {batch}, {threads} threads (numpy BLAS and torch), best of {args.repeats}, "
          f"load average {load_before:.2f}")
    rows = run(cases, args.repeats)
    load_after = os.getloadavg()[0]
    if load_after > 0.5 * threads:
        print(f"note: load average {load_after:.2f} at the end: other processes competed for the cores")
    if args.json:
        meta = {"batch": batch, "threads": threads, "repeats": args.repeats, "numpy": np.__version__,
                "torch": torch.__version__, "load_average": [load_before, load_after]}
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"worst ratio {max(r['ratio'] for r in rows):.2f}, "
          f"geometric mean {statistics.geometric_mean([r['ratio'] for r in rows]):.2f}")


if __name__ == "__main__":
    main()
