"""Peak memory of a training step, each framework in a fresh subprocess.

What is measured: the process's resident-set high-water mark (``VmHWM``) over two training
steps, minus its resident set just before the first step. Before that point both sides
hold the model's weights and gradient arrays (PyTorch's ``.grad`` are allocated up front,
as ours are) and the input batch, so the figure is what a step adds: activations kept for
backward, temporaries, and the optimizer's momentum buffers. The high-water mark is reset
(``/proc/self/clear_refs``) just before the steps, so the imports and model building do not
count. RSS counts every allocation (numpy's, torch's allocator, BLAS buffers) at page
granularity, allocator caching included: an honest upper bound on what the step needs.

Run as ``python -m scripts.bench.memory ours|torch MODEL BATCH``; prints one JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .common import Case, set_blas_threads

MEMORY_TARGET = 1.5
ROOT = Path(__file__).resolve().parents[2]


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def measure_here(framework: str, model: str, batch: int, steps: int = 2) -> dict[str, float]:
    """Peak RSS added by ``steps`` training steps in this process (see the module doc)."""
    from .steps import ours_step, torch_step

    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        set_blas_threads(threads)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads or torch.get_num_threads())
        step = torch_step(model, batch, with_grads=True)
    else:
        step = ours_step(model, batch)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the high-water mark to the current RSS
    base = _status_mb("VmRSS")
    for _ in range(steps):
        step()
    return {"base_mb": base, "peak_mb": _status_mb("VmHWM"), "step_mb": _status_mb("VmHWM") - base}


def measure_subprocess(framework: str, model: str, batch: int, threads: int) -> dict[str, float]:
    """:func:`measure_here` in a fresh interpreter (nothing else of the bench loaded)."""
    env = dict(os.environ, BENCH_THREADS=str(threads), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "scripts.bench.memory", framework, model, str(batch)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"memory measurement {framework} {model} b{batch} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_case(model: str, batch: int, threads: int) -> Case:
    """A row whose values are megabytes, not seconds (see :func:`measure_subprocess`)."""
    def setup() -> dict:
        return {key: measure_subprocess(key, model, batch, threads) for key in ("ours", "torch")}

    return Case("peak memory", f"ResNet-18 train step b{batch}", setup, target=MEMORY_TARGET,
                extra={"model": model, "unit": "MB"})


def cases(batch: int, threads: int) -> list[Case]:
    return [memory_case("resnet18", batch, threads)]


if __name__ == "__main__":
    framework_arg, model_arg, batch_arg = sys.argv[1:4]
    print(json.dumps(measure_here(framework_arg, model_arg, int(batch_arg))))
