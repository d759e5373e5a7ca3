"""Kill an executor mid-training on a real Spark cluster; training still ends with the right weights.

1. Reference: the DistributedTrainer trains a small MLP on synthetic data on
   ``local[2]`` (2 partitions) for ``--iterations`` iterations.
2. The same run on a Spark standalone cluster on 127.0.0.1 (a master and
   ``--workers`` workers x 1 core, separate JVMs, see
   ``tests/helpers/standalone_cluster.py``), while a thread watches the summary
   file and SIGKILLs one executor JVM once iteration ``--kill-after`` is done.
   Spark re-runs the failed tasks (and the map stage whose shuffle files died
   with the executor), recomputes the lost cached data blocks from lineage, the
   worker rebuilds its model replica from the broadcast, and the standalone
   master starts a replacement executor.
   With ``--mode gang`` the whole fit is one barrier stage: the kill fails the
   stage, and the driver starts the gang again from the newest checkpoint
   (``--checkpoint-every``); the other checks are the same.
3. Checks: the kill landed before the last iteration, a replacement executor
   was launched, the loss went down, and the final weights are bit-identical
   to the reference (each iteration is a deterministic job: retried tasks see
   the same weights and samples, and the reduce-scatter sums in partition order).

Prints the timings and a JSON summary (also written to ``--json``); exits 1
when a check fails.

    python scripts/spark_cluster_fault_demo.py --iterations 12 --kill-after 4
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter (the venv)

import numpy as np  # noqa: E402

from bigdl_runtime.nn import CrossEntropyLoss, Linear, ReLU, Sequential, random  # noqa: E402
from bigdl_runtime.optim import SGD  # noqa: E402
from bigdl_runtime.spark import init_spark  # noqa: E402
from bigdl_runtime.spark.trainer import DistributedTrainer  # noqa: E402
from bigdl_runtime.spark.worker import HOLD_ONCE  # noqa: E402
from bigdl_runtime.train import SeveralIteration  # noqa: E402
from tests.helpers.standalone_cluster import busy_executors, kill_executor, standalone_cluster  # noqa: E402

FEATURES, CLASSES = 16, 4


def make_data(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A learnable synthetic task: labels are the argmax of a fixed random projection."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, FEATURES), dtype=np.float32)
    return x, np.argmax(x @ rng.standard_normal((FEATURES, CLASSES)), axis=1)


def train(spark: Any, data: tuple[np.ndarray, np.ndarray], args: argparse.Namespace,
          summary: Path | None = None, checkpoint: Path | None = None) -> tuple[np.ndarray, list[dict[str, Any]], float]:
    """One DistributedTrainer run from the seeded initial weights: (final flat weights, rows, seconds)."""
    random.manual_seed(args.seed)
    model = Sequential(Linear(FEATURES, 32), ReLU(), Linear(32, CLASSES))
    trainer = DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9),
                                 spark=spark, num_partitions=args.workers, mode=args.mode)
    tic = time.perf_counter()
    history = trainer.fit(*data, batch_size=args.batch_size, iterations=args.iterations, seed=args.seed,
                          summary=summary, progress=False, checkpoint=checkpoint,
                          checkpoint_trigger=SeveralIteration(args.checkpoint_every))
    return model.flatten_parameters()[0].copy(), history.train, time.perf_counter() - tic


class ExecutorKiller(threading.Thread):
    """Kills an executor of the app that is running a task, once ``after`` iterations are done.

    Finished iterations are counted in the summary file (one line each); busy
    executors are read from the driver's REST API, so the kill interrupts work.
    """

    def __init__(self, sc: Any, summary: Path, after: int) -> None:
        super().__init__(daemon=True)
        self.sc, self.summary, self.after = sc, summary, after
        self.done = threading.Event()
        self.report: dict[str, Any] = {}
        self.error: BaseException | None = None

    def _iterations(self) -> int:
        return self.summary.read_text().count("\n") if self.summary.exists() else 0

    def run(self) -> None:
        try:
            while not self.done.is_set():
                if self._iterations() >= self.after and (busy := busy_executors(self.sc.uiWebUrl,
                                                                                self.sc.applicationId)):
                    executor, pid = kill_executor(self.sc.applicationId, busy[0])
                    self.report = {"executor": executor, "pid": pid, "iterations_done": self._iterations()}
                    return
                self.done.wait(0.005)
        except BaseException as e:  # reported by the main thread
            self.error = e


def task_failures(sc: Any) -> dict[str, int]:
    """Failed task attempts and re-attempted stages of the app, from the driver's REST API."""
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
    with urllib.request.urlopen(url, timeout=10) as response:
        stages = json.load(response)
    return {"failed_tasks": sum(s["numFailedTasks"] for s in stages),
            "reattempted_stages": sum(s["attemptId"] > 0 for s in stages)}


def wait_for_replacement(cluster: Any, app_id: str, launched_before: int, timeout: float) -> list[str]:
    """Executor ids launched for ``app_id`` once one more than ``launched_before`` exists (or at timeout)."""
    deadline = time.monotonic() + timeout
    while len(ids := cluster.executors_launched(app_id)) <= launched_before and time.monotonic() < deadline:
        time.sleep(0.2)
    return ids


def run_on_cluster(args: argparse.Namespace, data: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tic = time.perf_counter()
    with standalone_cluster(num_workers=args.workers, cores=1, work_dir=args.work_dir) as cluster:
        out["cluster_start_seconds"] = time.perf_counter() - tic
        tic = time.perf_counter()
        # the driver's UI serves the REST API the executor killer and the failure count read
        conf = {**cluster.driver_conf(), "spark.ui.enabled": "true", "spark.ui.port": "0",
                "spark.ui.liveUpdate.period": "0"}  # executors show their running tasks at once
        spark = init_spark(cluster.master_url, app_name="bigdl-fault-demo", conf=conf)
        app_id = spark.sparkContext.applicationId
        out["session_start_seconds"] = time.perf_counter() - tic
        out["master_url"], out["app_id"] = cluster.master_url, app_id
        summary = Path(args.summary_dir) / "cluster-summary.jsonl"
        summary.unlink(missing_ok=True)  # the killer counts its lines
        shutil.rmtree(Path(args.summary_dir) / "checkpoints", ignore_errors=True)
        killer = ExecutorKiller(spark.sparkContext, summary, args.kill_after)
        busy_executors(spark.sparkContext.uiWebUrl, app_id, timeout=120.0)  # the REST API's first answer is slow
        if args.mode == "iteration":  # the next iteration's tasks run for seconds: the kill lands in one
            held = ",".join(f"{args.kill_after + 1}:{p}" for p in range(args.workers))
            spark.sparkContext.setLocalProperty(HOLD_ONCE, held)
        killer.start()
        try:
            weights, rows, seconds = train(spark, data, args, summary, Path(args.summary_dir) / "checkpoints")
        finally:
            killer.done.set()
            killer.join()
        if killer.error is not None:
            raise RuntimeError(f"killing an executor failed: {killer.error}") from killer.error
        out["weights"], out["rows"], out["fit_seconds"] = weights, rows, seconds
        out["killed"] = killer.report
        out.update(task_failures(spark.sparkContext))
        out["executors_launched"] = wait_for_replacement(cluster, app_id, args.workers, timeout=60.0)
        spark.stop()
    return out


def iteration_seconds(rows: list[dict[str, Any]]) -> list[float]:
    walls = [0.0] + [r["wall_time"] for r in rows]
    return [b - a for a, b in zip(walls, walls[1:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="workers x 1 core (= partitions)")
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--kill-after", type=int, default=4, help="kill an executor after this many iterations")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=("iteration", "gang"), default="iteration",
                        help="per-iteration jobs (a killed executor's tasks are retried) or one barrier stage "
                             "(the gang restarts from its newest checkpoint)")
    parser.add_argument("--checkpoint-every", type=int, default=2, help="iterations between checkpoints")
    parser.add_argument("--work-dir", default=None, help="cluster logs and executor dirs (default: a temp dir)")
    parser.add_argument("--summary-dir", default="runs/fault-demo")
    parser.add_argument("--json", default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    if not 0 < args.kill_after < args.iterations:
        parser.error("--kill-after must be between 0 and --iterations")

    data = make_data(args.samples, args.seed)
    tic = time.perf_counter()
    spark = init_spark(f"local[{args.workers}]", app_name="bigdl-fault-demo-reference")
    reference, ref_rows, ref_seconds = train(spark, data, args)
    spark.stop()
    print(f"reference on local[{args.workers}]: {args.iterations} iterations in {ref_seconds:.1f} s "
          f"(with session start {time.perf_counter() - tic:.1f} s)")

    run = run_on_cluster(args, data)
    weights, rows = run.pop("weights"), run.pop("rows")
    per_iteration = iteration_seconds(rows)
    killed = run["killed"]
    losses = [r["loss"] for r in rows]
    diff = float(np.max(np.abs(weights - reference)))
    checks = {
        "executor_killed_mid_run": bool(killed) and killed["iterations_done"] < args.iterations,
        "tasks_failed_and_retried": run["failed_tasks"] > 0,
        "replacement_executor_launched": len(run["executors_launched"]) > args.workers,
        "loss_decreased": math.isfinite(losses[-1]) and losses[-1] < losses[0],
        "weights_finite": bool(np.all(np.isfinite(weights))),
        "weights_equal_reference": bool(np.array_equal(weights, reference)),
    }
    result = {
        **run,
        "iterations": args.iterations,
        "reference_fit_seconds": ref_seconds,
        "iteration_seconds": [round(t, 3) for t in per_iteration],
        "reference_iteration_seconds": [round(t, 3) for t in iteration_seconds(ref_rows)],
        "loss_first": losses[0], "loss_last": losses[-1],
        "reference_loss_last": ref_rows[-1]["loss"],
        "max_abs_weight_diff": diff,
        "checks": checks,
        "ok": all(checks.values()),
    }
    print(f"cluster: {args.workers} workers up in {run['cluster_start_seconds']:.1f} s, driver session in "
          f"{run['session_start_seconds']:.1f} s; {args.iterations} iterations in {run['fit_seconds']:.1f} s")
    print(f"killed busy executor {killed.get('executor')} (pid {killed.get('pid')}) after iteration "
          f"{killed.get('iterations_done')}: {run['failed_tasks']} failed task attempts, "
          f"{run['reattempted_stages']} re-attempted stages; executors launched: {run['executors_launched']}")
    print("seconds per iteration: " + " ".join(f"{t:.2f}" for t in per_iteration))
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; max |w - w_reference| = {diff:.3g}")
    for name, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {name}")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
