"""Cost model of distributed training on Spark (docs/distributed.md, "Plan past one machine"): per-iteration time
of both modes as a function of the model, the workers and the link, with parameters fitted to a result file of
``scripts/bench_distributed.py`` (``--fit-cost-model``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: Parameters of :func:`predict`. ``None``: fitted from a result file by :func:`fit_cost_model`; the
#: others are assumptions a user may override (``--bandwidth``, ``--latency``, ``--node-flops``).
COST_PARAMETERS: dict[str, float | None] = {
    "node_flops": None,           # training FLOP/s of one worker (3 x forward FLOPs x its batch / compute time)
    "bandwidth": 10e9 / 8,        # bytes/s of a node's link (10 Gbit/s)
    "latency": 50e-6,             # seconds per message on the link (a data-centre round trip)
    "job_overhead": None,         # s: fixed cost of one Spark job (driver: DAG, stage, results)
    "task_overhead": None,        # s per task launched, serial on the driver (slope of JVM-only empty jobs)
    "broadcast_byte_cost": None,  # s per weight byte the driver serialises and ships (copy or broadcast)
    "reduce_overhead": None,      # s: fixed part of a per-iteration job's gradient sum
    "reduce_byte_cost": None,     # s per gradient byte received, deserialised and added (beyond the wire)
    "optimizer_byte_cost": None,  # s per weight byte of an optimizer step (iteration: M on the driver; gang: M/N)
    "gang_overhead": None,        # s per gang iteration beyond compute, sync and optimizer (loop, reporting)
}


def predict(mode: str, nodes: int, model_bytes: float, forward_flops: float, batch_per_node: int,
            params: dict[str, float], sync: str = "driver") -> dict[str, float]:
    """Per-iteration seconds t(N) = t_compute(B/N) + t_sync(M, N, W) + t_sched(N), by term.

    Args:
        mode: ``"gang"`` or ``"iteration"`` (per-iteration Spark jobs; ``sync`` ``"driver"`` or ``"shuffle"``).
        nodes: N workers (one task each); model_bytes: M, float32 weights; forward_flops: per sample;
        batch_per_node: B/N; params: :data:`COST_PARAMETERS`, all set.

    gang: compute + reduce-scatter and all-gather, each task sending and receiving
    (N-1)/N of M per phase: 2 M (N-1)/N / W, plus 2 (N-1) messages of latency for them and
    as many for the small all-reduce of loss / counts / batch-norm statistics; the optimizer
    on M/N; a fixed loop overhead; no scheduling.

    iteration: compute + the job (job overhead, N task launches) + the weights: ``driver`` = each
    task fetches them from the driver (N M / W out of the driver's link), ``shuffle`` = a torrent
    broadcast (serialised once, M / W out of the driver, log2 N hops of latency) + the gradient sum:
    ``driver`` = the driver receives and adds N gradients; ``shuffle`` = reduce-scatter through the
    shuffle (each reduce task fetches N slices of M/N, the driver collects N summed slices: 2 M, plus
    a second stage of N tasks) + the whole optimizer on the driver.
    """
    p = params
    n, m, w, lat = nodes, float(model_bytes), p["bandwidth"], p["latency"]
    terms = {"compute": 3.0 * forward_flops * batch_per_node / p["node_flops"]}
    if mode == "gang":
        terms["sync"] = 2.0 * m * (n - 1) / n / w + 4.0 * (n - 1) * lat
        terms["optimizer"] = m / n * p["optimizer_byte_cost"]
        terms["other"] = p["gang_overhead"]
    elif mode == "iteration":
        per_byte = 1.0 / w + p["reduce_byte_cost"]
        tasks = n
        if sync == "driver":
            reduce = n * (m * per_byte + lat)
            terms["broadcast"] = m * p["broadcast_byte_cost"] + n * (m / w + lat)
        elif sync == "shuffle":
            reduce = 2.0 * m * per_byte + 2.0 * n * lat
            terms["broadcast"] = m * p["broadcast_byte_cost"] + m / w + math.log2(max(n, 2)) * lat
            tasks += n
        else:
            raise ValueError(f"sync must be 'driver' or 'shuffle', got {sync!r}")
        terms["sync"] = p["reduce_overhead"] + reduce
        terms["schedule"] = p["job_overhead"] * (2 if sync == "shuffle" else 1) + p["task_overhead"] * tasks
        terms["optimizer"] = m * p["optimizer_byte_cost"]
    else:
        raise ValueError(f"mode must be 'gang' or 'iteration', got {mode!r}")
    terms["total"] = sum(terms.values())
    terms["samples_per_s"] = n * batch_per_node / terms["total"]
    terms["efficiency"] = terms["compute"] / terms["total"]
    return terms


def _line_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope); one point: (y, 0)."""
    if len(set(xs)) < 2:
        return float(np.mean(ys)), 0.0
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(intercept), float(slope)


def fit_cost_model(report: dict[str, Any], master: str | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """:data:`COST_PARAMETERS` fitted to a result file; returns (parameters, what each was fitted from)."""
    rows = [r for r in report["results"] if "section" not in r]
    partitions = int(report["config"]["partitions"])
    masters = [r["master"] for r in rows if r["mode"] not in ("local", "torch local")]
    main_pass = report["config"].get("master")
    master = master or (main_pass if main_pass in masters else (masters[0] if masters else None))
    dist = [r for r in rows if r["master"] == master]
    gang = [r for r in dist if r["mode"] == "gang" and "compute_s" in r]
    iteration = [r for r in dist if r["mode"] in ("iteration", "iteration/driver") and "schedule_s" in r]
    params: dict[str, float] = {k: v for k, v in COST_PARAMETERS.items() if v is not None}
    notes: dict[str, Any] = {"master": master}

    flops_rows = [r for r in gang + iteration if r.get("forward_flops")]
    conv = [r for r in flops_rows if r["model"] == "resnet20"] or flops_rows
    if conv:
        r = conv[0]
        params["node_flops"] = 3.0 * r["forward_flops"] * r["batch_size"] / r["partitions"] / r["compute_s"]
        notes["node_flops"] = f"{r['model']} {r['mode']}: compute {r['compute_s'] * 1e3:.1f} ms at batch " \
                              f"{r['batch_size'] // r['partitions']} per task"

    probes = [p for p in report.get("schedule_probe", []) if p["master"] == master]
    probe = [p for p in probes if p.get("kind") == "jvm"] or probes
    job0, per_task = _line_fit([p["tasks"] for p in probe], [p["seconds"] for p in probe]) if probe else (0.0, 0.0)
    params["task_overhead"] = max(per_task, 0.0)
    notes["task_overhead"] = f"slope of empty {probe[0].get('kind', 'python') if probe else '?'} jobs of " \
                             f"{[p['tasks'] for p in probe]} tasks"

    if iteration:
        sizes = [r["model_bytes"] for r in iteration]
        base, slope = _line_fit(sizes, [r["schedule_s"] for r in iteration])
        params["broadcast_byte_cost"] = max(slope, 0.0)
        params["job_overhead"] = max(base - params["task_overhead"] * partitions, 0.0)
        base, slope = _line_fit(sizes, [r["sync_s"] for r in iteration])
        params["reduce_overhead"] = max(base, 0.0)
        params["reduce_byte_cost"] = max(slope / partitions - 1.0 / _loopback_bandwidth(report), 0.0)
        notes["iteration"] = f"schedule_s and sync_s vs model bytes over {[r['model'] for r in iteration]}"
    else:
        params.setdefault("job_overhead", max(job0, 0.0))
    if gang:
        big = max(gang, key=lambda r: r["model_bytes"])
        params["optimizer_byte_cost"] = big.get("optimizer_s", 0.0) / (big["model_bytes"] / big["partitions"])
        params["gang_overhead"] = float(np.median([max(r["iteration_s"] - r["compute_s"] - r["sync_s"]
                                                       - r.get("optimizer_s", 0.0), 0.0) for r in gang]))
        notes["gang"] = f"optimizer from {big['model']}; loop overhead: median over {[r['model'] for r in gang]}"
    w, lat = _loopback_fit(report)
    notes["loopback"] = {"bandwidth": w, "latency": lat}
    for key in COST_PARAMETERS:
        params.setdefault(key, float("nan"))
    return params, notes


def _loopback_fit(report: dict[str, Any]) -> tuple[float, float]:
    """(bytes/s, s per message) of t(N) = 2 M (N-1)/N / W + 2 (N-1) a, from the all-reduce rows."""
    points = [(a["n_procs"], a["nbytes"], a["seconds"]) for a in report.get("allreduce", [])
              if a.get("transport", "tcp") == "tcp"]
    if not points:
        return float("nan"), float("nan")
    a_mat = np.array([[2.0 * m * (n - 1) / n, 2.0 * (n - 1)] for n, m, _ in points])
    t = np.array([s for _, _, s in points])
    (inv_w, lat), *_ = np.linalg.lstsq(a_mat, t, rcond=None)
    if lat < 0 or inv_w <= 0:
        inv_w, lat = float(np.sum(a_mat[:, 0] * t) / np.sum(a_mat[:, 0] ** 2)), 0.0
    return 1.0 / inv_w, float(lat)


def _loopback_bandwidth(report: dict[str, Any]) -> float:
    w, _ = _loopback_fit(report)
    return w if math.isfinite(w) and w > 0 else float("inf")


def print_cost_model(path: str, overrides: dict[str, float | None]) -> None:
    report = json.loads(Path(path).read_text())
    if not all("mode" in r for r in report.get("results", [])) or "allreduce" not in report:
        raise SystemExit(f"{path}: not written by this version of the benchmark (no 'mode' rows / 'allreduce')")
    params, notes = fit_cost_model(report)
    params.update({k: v for k, v in overrides.items() if v is not None})
    print(f"cost model fitted to {path} ({notes['master']}):")
    units = {"node_flops": ("GFLOP/s", 1e-9), "bandwidth": ("GB/s", 1e-9), "latency": ("us", 1e6),
             "job_overhead": ("ms", 1e3), "task_overhead": ("ms", 1e3), "reduce_overhead": ("ms", 1e3),
             "gang_overhead": ("ms", 1e3), "broadcast_byte_cost": ("ms/MB", 1e9),
             "reduce_byte_cost": ("ms/MB", 1e9), "optimizer_byte_cost": ("ms/MB", 1e9)}
    for key, value in params.items():
        unit, scale = units[key]
        print(f"  {key:<20} {value * scale:10.3f} {unit}")
    lb_w, lb_lat = notes["loopback"]["bandwidth"], notes["loopback"]["latency"]
    print(f"  (loopback all-reduce fit: {lb_w / 1e9:.2f} GB/s, {lb_lat * 1e6:.0f} us per message; "
          f"the prediction uses the link's bandwidth and latency above)")
    for key in ("node_flops", "task_overhead", "iteration", "gang"):
        if key in notes:
            print(f"  from {key}: {notes[key]}")
    model_bytes, flops, batch = 25.6e6 * 4, 4e9, 32
    print(f"\nResNet-50 (25.6M parameters = {model_bytes / 1e6:.0f} MB, {flops / 1e9:.0f} GFLOP/image forward), "
          f"batch {batch} per node, {params['bandwidth'] * 8 / 1e9:.0f} Gbit/s:")
    print(f"{'nodes':>5} {'mode':<18} {'compute':>8} {'sync':>8} {'bcast':>8} {'sched':>8} {'optim':>8} "
          f"{'other':>8} {'total s':>8} {'images/s':>9} {'effic.':>6}")
    for n in (8, 64, 256):
        for mode, sync in (("gang", "driver"), ("iteration", "driver"), ("iteration", "shuffle")):
            t = predict(mode, n, model_bytes, flops, batch, params, sync)
            name = "gang" if mode == "gang" else f"iteration/{sync}"
            print(f"{n:>5} {name:<18} " + " ".join(f"{t[k]:8.3f}" if k in t else f"{'-':>8}" for k in
                                                   ("compute", "sync", "broadcast", "schedule", "optimizer", "other"))
                  + f" {t['total']:8.3f} {t['samples_per_s']:9.1f} {t['efficiency'] * 100:5.1f}%")
