"""The whole performance table of issue 8, printed and written as JSON.

Sections: every conv layer of ResNet-18 and a few other kernels (forward + backward),
whole training steps (ResNet-18, ResNet-20, the LSTM text classifier), ResNet-18 inference
vs onnxruntime, and peak memory of a ResNet-18 training step. Times are the best of
``--repeats`` runs with ours and the references alternating inside every repeat; the ratio
is ours / reference (PyTorch, or onnxruntime for inference), same thread count for all.

    python -m scripts.bench                         # full sizes (batch 32, 128, 64)
    python -m scripts.bench --quick                 # small batches, fewer repeats
    python -m scripts.bench --sections steps,memory --json after.json --compare before.json
    python scripts/bench/run.py --only conv3x3      # rows whose name contains "conv3x3"
    python -m scripts.bench --threads 1             # one thread everywhere (steadier under load)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from scripts.bench import inference, int8, kernels, memory, steps  # noqa: E402
from scripts.bench.common import Case, blas_threads, measure, set_blas_threads  # noqa: E402

SECTIONS = ("kernels", "steps", "inference", "memory")


def build_cases(sections: list[str], quick: bool, threads: int) -> list[Case]:
    """The rows of the chosen sections; ``quick`` shrinks every batch."""
    b18, b20, blstm = (4, 32, 16) if quick else (32, 128, 64)
    table = {"kernels": lambda: kernels.cases(b18),
             "steps": lambda: steps.cases(b18, b20, blstm),
             "inference": lambda: inference.cases(b18, threads) + int8.cases(b18, threads),
             "memory": lambda: memory.cases(b18, threads)}
    return [case for section in sections for case in table[section]()]


def run_case(case: Case, repeats: int) -> dict:
    """Measure one row; returns its JSON record (seconds, or megabytes for memory rows)."""
    row = {"section": case.section, "name": case.name, "reference": case.reference, "target": case.target}
    if case.extra.get("unit") == "MB":
        got = case.setup()
        row.update(unit="MB", ours=got["ours"]["step_mb"], torch=got["torch"]["step_mb"], detail=got)
    else:
        times = measure(case.setup(), repeats)
        row.update(unit="s", **times)
        if case.flops:
            row["gflops"] = case.flops / times["ours"] / 1e9
            row["torch_gflops"] = case.flops / times["torch"] / 1e9
    row["ratio"] = row["ours"] / row[case.reference]
    return row


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}MB" if unit == "MB" else f"{value * 1e3:.1f}"


def print_row(row: dict, old: dict | None) -> None:
    unit = row["unit"]
    status = "" if row["target"] is None else ("ok" if row["ratio"] <= row["target"] else f"> {row['target']}")
    prev = f"{old['ratio']:6.2f}" if old else f"{'':6}"
    gf = f"{row['gflops']:7.1f}" if row.get("gflops") else f"{'-':>7}"
    print(f"{row['section']:<12} {row['name']:<38} {_fmt(row['ours'], unit):>9} {_fmt(row.get('torch'), unit):>9} "
          f"{_fmt(row.get('onnxruntime'), unit):>9} {row['ratio']:6.2f} {prev} {gf}  {status}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches (4 / 32 / 16), 2 repeats")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--only", default=None, help="run only rows whose name contains this")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per row, best kept (default 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for every framework (default: numpy's BLAS count); 1 gives steadier "
                             "ratios on a loaded machine")
    parser.add_argument("--json", default=None, help="write the table to this path")
    parser.add_argument("--compare", default=None, help="an earlier --json file: show its ratios alongside")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        set_blas_threads(args.threads)
    threads = blas_threads()
    torch.set_num_threads(threads)
    repeats = args.repeats or (2 if args.quick else 3)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {SECTIONS}")
    cases = [c for c in build_cases(sections, args.quick, threads) if not args.only or args.only in c.name]
    old_rows = {}
    if args.compare:
        old_rows = {(r["section"], r["name"]): r for r in json.loads(Path(args.compare).read_text())["rows"]}
    load_before = os.getloadavg()[0]
    print(f"{threads} threads (numpy BLAS, torch, onnxruntime), best of {repeats}, load average {load_before:.2f}; "
          f"times in ms, ratio = ours / reference (onnxruntime for inference, else torch)")
    print(f"{'section':<12} {'case':<38} {'ours':>9} {'torch':>9} {'ort':>9} {'ratio':>6} "
          f"{'before' if args.compare else '':>6} {'GFLOP/s':>7}  target")
    rows = []
    started = time.time()
    for case in cases:
        row = run_case(case, repeats)
        rows.append(row)
        print_row(row, old_rows.get((row["section"], row["name"])))
    load_after = os.getloadavg()[0]
    if load_after > 0.5 * threads:
        print(f"note: load average {load_after:.2f} at the end: other processes competed for the cores")
    timed = [r["ratio"] for r in rows if r["unit"] == "s"]
    if timed:
        print(f"worst time ratio {max(timed):.2f}, geometric mean {statistics.geometric_mean(timed):.2f}, "
              f"{sum(r['target'] is not None and r['ratio'] <= r['target'] for r in rows)}/"
              f"{sum(r['target'] is not None for r in rows)} rows within target, {time.time() - started:.0f} s")
    if args.json:
        meta = {"threads": threads, "repeats": repeats, "quick": args.quick, "numpy": np.__version__,
                "torch": torch.__version__, "load_average": [load_before, load_after],
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
