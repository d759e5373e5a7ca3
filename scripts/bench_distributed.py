"""Distributed training at data scale: both DistributedTrainer modes vs LocalTrainer and TorchDistributor.

One run measures, on ``--master`` (default ``local[2]``: 2 partitions, 1 BLAS
thread per task, set by ``init_spark``) against ``LocalTrainer`` in this process
with 2 BLAS threads, on the Fashion-MNIST train split (Debian's
dataset-fashion-mnist, ``bash scripts/data/ensure_fashion_mnist.sh``; 60,000
images preprocessed as LeNet-5's input, 1x28x28 float32, ~188 MB) and on its
first 1/``--subset`` (3,750 images):

``data``       LeNet-5 b128, both modes (``mode="iteration"`` with ``sync="auto"``, the
               driver sum at 2 partitions, and ``mode="gang"``): per-iteration time on the full
               split vs on the subset (target: within 10 %).
``gang``       LeNet-5 b128 (target >= 1.0x local throughput), ResNet-20 b128 (>= 0.95x),
               the 11M-parameter MLP b64 (<= 20 % of the iteration outside
               forward/backward), and the gang's start time (``fit()`` called -> the
               driver hears that the first iteration ended; target < 5 s).
``iteration``  per-iteration jobs: LeNet-5, ResNet-20 b128 (target >= 0.9x), the MLP
               (summed on the driver, and by a reduce-scatter through the shuffle).
``torch``      the same LeNet-5 (torch modules, same layers) under Spark's
               ``TorchDistributor`` (``local_mode=True`` on a local master,
               ``num_processes=2``, gloo, ``torch.set_num_threads(1)`` per process, global
               batch 128 = 64 per process, same data), vs torch's own 2-thread speed in
               this process, vs our LocalTrainer and vs our gang mode; and its start time.
``allreduce``  the gang's all-reduce alone (``scripts/bench_mesh.py``: reduce-scatter +
               all-gather of a 44 MB float32 gradient between 2 and 4 processes, over
               loopback TCP and through shared memory; aim >= 1 GB/s algorithm bandwidth).

Gang rows use ``transport="auto"`` (shared memory: every task is on 127.0.0.1);
the MLP is also measured with ``transport="tcp"`` (row ``gang/tcp``), what tasks
on different hosts use.
``schedule``   empty jobs of 2..128 tasks, Python tasks and JVM-only ones: Spark's per-job and
               per-task overhead (an input of the cost model, no target).

``--standalone`` adds a second pass of the Spark sections (data, gang, iteration,
torch with ``local_mode=False``) on a standalone cluster on 127.0.0.1 (a master
and 2 workers x 1 core, ``tests/helpers/standalone_cluster.py``); ``--master
spark://...`` runs the main pass on a cluster of your own instead of ``local[2]``.

Method. Every trainer fits a freshly built model (``random.manual_seed(0)``,
SGD lr 0.01 momentum 0.9, cross-entropy, seed 0); per-iteration times are the
differences of the summary rows' ``wall_time`` (the loop's clock: the driver's
in per-iteration mode, rank 0's in gang mode). Throughput rows: ``--warmup``
iterations, then the median of ``--iterations``; ``vs local`` is the ratio of
throughputs at the same global batch; compute / sync / other are medians of the
rows' ``compute_time`` (forward + backward: in per-iteration mode the slowest
task's, in gang mode rank 0's), ``sync_time`` (summing the gradients, and in gang
mode the all-gather) and of each iteration's rest (per-iteration mode:
scheduling, broadcast, the driver's optimizer; gang mode: the sharded optimizer
and the loop); "not compute" is 1 - compute / iteration. A per-iteration-mode row also gives
``epoch_mean_s``: the median plus the epoch's one-off cost (its first
iteration minus the median, which holds the epoch layout's shuffle) spread
over the epoch's iterations.

Data-scale rows are measured differently, so that per-epoch costs count: after
a short unrecorded warm-up fit (Python workers started), each data set gets a
fresh fit of exactly W iterations, W = one whole epoch of the subset
(ceil(3,750 / 128) = 30, its last batch partial); on the full split the same
W iterations are the first W of its first epoch. All W count: the first one
builds the epoch's layout in per-iteration mode (a shuffle of the whole data
set, 16x larger on the full split), the gang materialised its data before its
first iteration (that is its start time, reported apart). Reported: the median
and the mean, each as full / subset (target <= 1.10 for both). The mean is per
iteration over whole epochs: in per-iteration mode the epoch layout's shuffle
is a cost per epoch, so the mean is ``epoch_mean_s`` (the first iteration's
extra time spread over the epoch's iterations: 30 on the subset, 469 on the
full split); the plain mean of the W iterations (``mean_s_vs_subset``) is
recorded too, and in gang mode it is the mean.

Start time: from the ``fit()`` call to the driver's first progress update (its
first iteration has ended; the trainer's progress object is wrapped to note the
time), in a session whose Python workers already run (every pass starts with a
tiny job), so Spark's own start-up is left out. TorchDistributor's: from ``run()`` to rank 0's clock at the end of its
first iteration (same machine, same clock).

    python scripts/bench_distributed.py --json scripts/bench/results/distributed-local2-idle.json
    python scripts/bench_distributed.py --quick                       # smoke run, about a minute idle
    python scripts/bench_distributed.py --standalone --json ...       # + the table on a standalone cluster
    python scripts/bench_distributed.py --fit-cost-model scripts/bench/results/distributed-local2-idle.json

``--fit-cost-model`` fits :func:`predict`'s parameters to a result file and
prints them and what they predict for ResNet-50 (25.6M parameters, ~4 GFLOP
per image forward, batch 32 per node) on 8, 64 and 256 nodes at 10 Gbit/s
(docs/distributed.md explains the model).
"""
from __future__ import annotations

import os
import sys

# Before numpy loads OpenBLAS: the local trainer gets 2 BLAS threads; Spark's
# Python workers get 1 each from init_spark (spark.executorEnv.*).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers run this interpreter

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bigdl_runtime.nn import (Add, BatchNorm2d, Conv2d, CrossEntropyLoss, Flatten, GlobalAvgPool2d,  # noqa: E402
                              Graph, Input, Linear, Module, ReLU, Sequential, random)
from bigdl_runtime.optim import SGD  # noqa: E402
from bigdl_runtime.train import LocalTrainer  # noqa: E402
from zoo.models.lenet import lenet5  # noqa: E402
from scripts.bench_inference_spark import spark_cpu_seconds  # noqa: E402
from scripts.distributed_cost_model import print_cost_model  # noqa: E402

PARTITIONS = 2
LOCAL_MASTER = f"local[{PARTITIONS}]"
SECTIONS = ("allreduce", "schedule", "data", "gang", "iteration", "torch")
SPARK_SECTIONS = ("data", "gang", "iteration", "torch")
TIMING_KEYS = ("compute_time", "sync_time", "schedule_time", "optimizer_time")
#: the issue's targets: (description, comparison, bound)
TARGETS = {
    "data_median": ("full/subset median iteration", "<=", 1.10),
    "data_mean": ("full/subset mean iteration", "<=", 1.10),
    "gang_lenet5": ("gang LeNet-5 vs local", ">=", 1.0),
    "gang_resnet20": ("gang ResNet-20 vs local", ">=", 0.95),
    "gang_linear11m": ("gang MLP share outside fwd/bwd", "<=", 0.20),
    "gang_start": ("gang fit start (s)", "<", 5.0),
    "iteration_resnet20": ("per-iteration ResNet-20 vs local", ">=", 0.9),
    "allreduce": ("all-reduce algbw, TCP (GB/s)", ">=", 1.0),
    "allreduce_shm": ("all-reduce algbw, shared mem (GB/s)", ">=", 1.0),
}


# ---------------------------------------------------------------------------------------------- models
def resnet20(blocks: int = 3, num_classes: int = 10) -> Graph:
    """ResNet-20 for 28x28 grey images: 3 stages x ``blocks`` basic blocks (16/32/64 channels).

    Each block is conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (identity, or a
    strided 1x1 conv + BN where the shape changes), then ReLU. With
    ``blocks=3``: 19 conv layers + the classifier, 0.27M parameters.
    """
    x = Input(name="image")
    h = ReLU()(BatchNorm2d(16)(Conv2d(1, 16, 3, padding=1, bias=False, name="stem")(x)))
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            y = ReLU()(BatchNorm2d(cout)(Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)(h)))
            y = BatchNorm2d(cout)(Conv2d(cout, cout, 3, padding=1, bias=False)(y))
            shortcut = h if stride == 1 and cin == cout else \
                BatchNorm2d(cout)(Conv2d(cin, cout, 1, stride=stride, bias=False)(h))
            h, cin = ReLU()(Add()(y, shortcut)), cout
    return Graph(x, Linear(64, num_classes, name="fc")(Flatten()(GlobalAvgPool2d()(h))), name="resnet20")


def linear_11m(num_classes: int = 10) -> Sequential:
    """784-2560-2560-960-10 ReLU MLP: 11.03M parameters, little compute per parameter."""
    return Sequential(Flatten(), Linear(784, 2560), ReLU(), Linear(2560, 2560), ReLU(),
                      Linear(2560, 960), ReLU(), Linear(960, num_classes), name="linear11m")


def forward_flops(model: Module, sample_shape: tuple[int, ...] = (1, 28, 28)) -> float:
    """Forward FLOPs per sample of ``model``'s convolutions and linear layers (2 x multiply-adds).

    Each layer with a ``weight`` of shape (out, ...) does ``weight[0].size`` multiply-adds per
    output element; counted on one forward pass of one sample (a throwaway model: its
    layers' ``forward_pass`` are wrapped in place).
    """
    total = [0.0]

    def counting(layer: Module) -> Callable[..., Any]:
        inner = layer.forward_pass          # what Sequential and Graph call (re-entrant layers)

        def forward_pass(*inputs: Any) -> Any:
            out, ctx = inner(*inputs)
            total[0] += 2.0 * np.asarray(out).size * (layer.weight.data.size // layer.weight.data.shape[0])
            return out, ctx
        return forward_pass

    for layer in model.modules():
        if type(layer).__name__ in ("Conv2d", "ConvReLU2d", "Linear") and getattr(layer, "weight", None) is not None:
            object.__setattr__(layer, "forward_pass", counting(layer))
    model.evaluate()
    model.forward(np.zeros((1, *sample_shape), np.float32))
    return total[0]


MODELS: dict[str, Callable[[], Module]] = {"lenet5": lenet5, "resnet20": resnet20, "linear11m": linear_11m}


# ------------------------------------------------------------------------------------------------ data
def load_data(samples: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST train split as LeNet-5's input (float32 (n, 1, 28, 28)), first ``samples`` only."""
    from zoo.datasets import load_fashion_mnist
    from zoo.models.lenet import preprocess

    try:
        images, labels = load_fashion_mnist("train")
    except FileNotFoundError:
        os.system(f"bash {ROOT / 'scripts/data/ensure_fashion_mnist.sh'}")
        images, labels = load_fashion_mnist("train")
    if samples is not None:
        images, labels = images[:samples], labels[:samples]
    return preprocess(images), labels


# --------------------------------------------------------------------------------------------- measure
class FirstProgress:
    """Notes when a DistributedTrainer's progress object is first told an iteration ended (driver side).

    Wraps ``bigdl_runtime.spark.trainer._TimedProgress.update`` while active; used to
    time a fit's start (``fit()`` -> end of the first iteration, as the driver sees it).
    """

    def __init__(self) -> None:
        self.first: float | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator["FirstProgress"]:
        from bigdl_runtime.spark import trainer as trainer_module

        cls = getattr(trainer_module, "_TimedProgress", None)
        if cls is None:  # the trainer changed: no start time, everything else still works
            yield self
            return
        original = cls.update
        watcher = self

        def update(progress: Any, *args: Any, **kwargs: Any) -> Any:
            if watcher.first is None:
                watcher.first = time.perf_counter()
            return original(progress, *args, **kwargs)

        cls.update = update
        try:
            yield self
        finally:
            cls.update = original


def fit_and_time(build: Callable[[], Module], make: Callable[[Module], Any], data: tuple[np.ndarray, np.ndarray],
                 batch_size: int, iterations: int) -> tuple[Module, list[dict[str, Any]], dict[str, float]]:
    """Fit a fresh model for ``iterations``: (model, summary rows, {fit_s, start_s})."""
    random.manual_seed(0)
    model = build()
    trainer = make(model)
    watcher = FirstProgress()
    with watcher.watching():
        tic = time.perf_counter()
        history = trainer.fit(*data, batch_size=batch_size, iterations=iterations, seed=0, progress=False)
        toc = time.perf_counter()
    times = {"fit_s": toc - tic}
    if watcher.first is not None:
        times["start_s"] = watcher.first - tic
    return model, history.train, times


def summarise(rows: list[dict[str, Any]], batch_size: int, skip: int) -> dict[str, Any]:
    """Median/mean per-iteration seconds of ``rows[skip:]`` and the medians of their timing split."""
    walls = [0.0] + [r["wall_time"] for r in rows]
    seconds = np.diff(walls)
    window, measured = seconds[skip:], rows[skip:]
    median = float(np.median(window))
    result: dict[str, Any] = {
        "iteration_s": median, "mean_s": float(np.mean(window)), "samples_per_s": batch_size / median,
        "first_iteration_s": float(seconds[0]), "seconds": [float(s) for s in seconds], "measured_from": skip}
    for key in TIMING_KEYS:
        if key in measured[0]:
            result[key.replace("_time", "_s")] = float(np.median([r.get(key, 0.0) for r in measured]))
    if "compute_s" in result:
        result["other_s"] = float(np.median([s - r["compute_time"] - r["sync_time"] for s, r in zip(window, measured)]))
        result["not_compute_share"] = 1.0 - result["compute_s"] / median
        result["sync_share"] = result["sync_s"] / median
    return result


def local_trainer(model: Module) -> LocalTrainer:
    return LocalTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01, momentum=0.9))


def distributed_trainer(spark: Any, mode: str, sync: str = "auto", transport: str = "auto") -> Callable[[Module], Any]:
    from bigdl_runtime.spark.trainer import DistributedTrainer

    def make(model: Module) -> Any:
        return DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01, momentum=0.9),
                                  spark=spark, num_partitions=PARTITIONS, mode=mode, sync=sync, transport=transport)
    return make


def mode_name(mode: str, sync: str = "auto", transport: str = "auto") -> str:
    if mode != "iteration":
        return mode if transport == "auto" else f"{mode}/{transport}"
    return {"auto": "iteration", "driver": "iteration/driver", "shuffle": "iteration/shuffle"}[sync]


class Bench:
    """Runs the sections, collects rows, checks and errors."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        self.allreduce: list[dict[str, Any]] = []
        self.schedule_probe: list[dict[str, Any]] = []
        self.local: dict[tuple[str, int], dict[str, Any]] = {}
        self.info: dict[str, dict[str, float]] = {}
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ helpers
    def log(self, text: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def data(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        if "full" not in self._data:
            self._data["full"] = load_data(self.args.samples)
            x, y = self._data["full"]
            self._data["subset"] = (x[:len(x) // self.args.subset], y[:len(y) // self.args.subset])
        return self._data[which]

    def model_info(self, name: str) -> dict[str, float]:
        if name not in self.info:
            random.manual_seed(0)
            params = MODELS[name]().num_parameters()
            self.info[name] = {"parameters": params, "model_bytes": 4 * params,
                               "forward_flops": forward_flops(MODELS[name]())}
        return self.info[name]

    def section(self, name: str, master: str, fn: Callable[[], None]) -> None:
        """Run one section; a failure is recorded and reported, and the run goes on."""
        tic = time.perf_counter()
        self.log(f"section {name} on {master}")
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - a benchmark reports and continues
            text = f"{type(err).__name__}: {err}".strip().splitlines()[0][:400]
            self.errors.append({"section": name, "master": master, "error": text,
                                "traceback": traceback.format_exc()[-4000:]})
            self.log(f"section {name} on {master} FAILED: {text}")
        self.log(f"section {name} on {master}: {time.perf_counter() - tic:.1f} s")

    def check(self, key: str, value: float | None, master: str = "", row: dict[str, Any] | None = None,
              detail: str = "") -> None:
        what, op, bound = TARGETS[key]
        ok = None if value is None else {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]
        entry = {"key": key, "what": what, "master": master, "value": value, "target": f"{op} {bound:g}",
                 "pass": ok, "detail": detail}
        self.checks.append(entry)
        if row is not None:
            row.setdefault("checks", []).append(entry)

    def add_row(self, master: str, model: str, mode: str, data: str, batch_size: int, result: dict[str, Any],
                **extra: Any) -> dict[str, Any]:
        row = {"master": master, "model": model, "mode": mode, "data": data, "batch_size": batch_size,
               "partitions": 1 if mode in ("local", "torch local") else PARTITIONS,
               **(self.model_info(model) if model in MODELS else {}), **result, **extra}
        self.rows.append(row)
        ms = row["iteration_s"] * 1e3
        self.log(f"{model} / {mode} / {data}: {ms:.1f} ms per iteration, {row['samples_per_s']:.1f} samples/s"
                 + (f", start {row['start_s']:.2f} s" if "start_s" in row else ""))
        return row

    def local_row(self, model: str, batch_size: int) -> dict[str, Any]:
        """LocalTrainer (2 BLAS threads, this process) on the full split, measured once per (model, batch)."""
        key = (model, batch_size)
        if key not in self.local:
            a = self.args
            _, rows, times = fit_and_time(MODELS[model], local_trainer, self.data("full"), batch_size,
                                          a.warmup + a.iterations)
            self.local[key] = self.add_row("driver", model, "local", "full", batch_size,
                                           {**summarise(rows, batch_size, a.warmup), "fit_s": times["fit_s"]},
                                           threads=2)
        return self.local[key]

    def distributed_row(self, spark: Any, master: str, model: str, mode: str, batch_size: int,
                        sync: str = "auto", transport: str = "auto") -> dict[str, Any]:
        a = self.args
        _, rows, times = fit_and_time(MODELS[model], distributed_trainer(spark, mode, sync, transport),
                                      self.data("full"), batch_size, a.warmup + a.iterations)
        result = {**summarise(rows, batch_size, a.warmup), **times}
        if mode == "iteration":  # the epoch's first iteration builds its layout: spread it over the epoch
            per_epoch = math.ceil(len(self.data("full")[1]) / batch_size)
            extra = max(0.0, result["first_iteration_s"] - result["iteration_s"])
            result["epoch_mean_s"] = result["iteration_s"] + extra / per_epoch
            result["iterations_per_epoch"] = per_epoch
        base = self.local_row(model, batch_size)
        result["vs_local"] = base["iteration_s"] / result["iteration_s"]
        return self.add_row(master, model, mode_name(mode, sync, transport), "full", batch_size, result)

    # ------------------------------------------------------------------ sections
    def run_allreduce(self) -> None:
        from scripts.bench_mesh import bench_allreduce

        for transport, n in [(t, n) for t in ("tcp", "shared-memory") for n in (2, 4)]:
            result = bench_allreduce(n, int(self.args.allreduce_mb * 1e6), self.args.allreduce_repeats,
                                     transport=transport)
            self.allreduce.append(result)
            gbs = result["algbw_bytes_per_s"] / 1e9
            self.log(f"all-reduce {result['nbytes'] / 1e6:.0f} MB between {n} over {transport}: "
                     f"{result['seconds'] * 1e3:.1f} ms, algbw {gbs:.2f} GB/s, "
                     f"busbw {result['busbw_bytes_per_s'] / 1e9:.2f} GB/s")
            self.check("allreduce" if transport == "tcp" else "allreduce_shm", gbs, "loopback" if transport == "tcp"
                       else "one host", detail=f"{result['nbytes'] / 1e6:.0f} MB, {n} processes")

    def run_schedule(self, spark: Any, master: str) -> None:
        """Wall time of empty jobs of n tasks (median of ``repeats``): Spark's job and task overhead.

        ``python``: tasks that run a Python function (as training tasks do: the executor hands each
        to a Python worker); ``jvm``: tasks that never leave the JVM (a ``noop`` write of
        ``spark.range``), whose slope is close to the driver's serial cost per task.
        On a local master the rows also give the CPU time per job of the JVM (driver and
        executor are one process) and of its Python workers (``/proc``; what the cores spend,
        whatever else the machine runs).
        """
        sc = spark.sparkContext
        jobs = {"python": lambda n: sc.parallelize(range(n), n).mapPartitions(_one).collect(),
                "jvm": lambda n: spark.range(0, n, 1, n).write.format("noop").mode("overwrite").save()}
        # on a local master the JVM and the Python workers are this process's only descendants
        cpu_probe = spark_cpu_seconds if master.startswith("local") else None
        for kind, job in jobs.items():
            for _ in range(20):
                job(PARTITIONS)  # warm: Python workers, code generation, the JIT
            for tasks in self.args.schedule_tasks:
                seconds = []
                before = cpu_probe() if cpu_probe else {}
                for _ in range(self.args.schedule_repeats):
                    tic = time.perf_counter()
                    job(tasks)
                    seconds.append(time.perf_counter() - tic)
                row = {"master": master, "kind": kind, "tasks": tasks, "seconds": float(np.median(seconds)),
                       "all_seconds": seconds}
                if cpu_probe:
                    after = cpu_probe()
                    row.update({f"{name}_cpu_s_per_job": (after[k] - before[k]) / len(seconds)
                                for name, k in (("jvm", "jvm"), ("python", "python_workers"))})
                self.schedule_probe.append(row)
                self.log(f"empty {kind} job of {tasks} tasks: {np.median(seconds) * 1e3:.1f} ms"
                         + (f" (CPU per job: JVM {row['jvm_cpu_s_per_job'] * 1e3:.1f} ms, Python workers "
                            f"{row['python_cpu_s_per_job'] * 1e3:.1f} ms)" if cpu_probe else ""))

    def run_data(self, spark: Any, master: str) -> None:
        a = self.args
        subset = self.data("subset")
        window = a.window or math.ceil(len(subset[1]) / a.batch_size)
        for mode in ("iteration", "gang"):
            make = distributed_trainer(spark, mode)
            fit_and_time(lenet5, make, subset, a.batch_size, 2)  # warm-up: Python workers, caches
            found = {}
            for which in ("subset", "full"):
                _, rows, times = fit_and_time(lenet5, make, self.data(which), a.batch_size, window)
                result = {**summarise(rows, a.batch_size, 0), **times, "window": window,
                          "samples": len(self.data(which)[1])}
                if mode == "iteration":  # for reference: the first iteration's layout spread over its epoch
                    per_epoch = math.ceil(result["samples"] / a.batch_size)
                    extra = max(0.0, result["first_iteration_s"] - result["iteration_s"])
                    result.update(epoch_mean_s=result["iteration_s"] + extra / per_epoch,
                                  iterations_per_epoch=per_epoch)
                found[which] = self.add_row(master, "lenet5", mode_name(mode), which, a.batch_size, result,
                                            section="data")
            # the mean over whole epochs: per-iteration mode's epoch layout (a shuffle of the data set, in the
            # epoch's first iteration) is a per-epoch cost, spread over the epoch's iterations
            mean = "epoch_mean_s" if mode == "iteration" else "mean_s"
            for stat, key in (("iteration_s", "data_median"), (mean, "data_mean"), ("mean_s", None)):
                ratio = found["full"][stat] / found["subset"][stat]
                found["full"][f"{stat}_vs_subset"] = ratio
                if key is not None:
                    self.check(key, ratio, master, found["full"], detail=f"{mode_name(mode)}, {stat}, window {window}")

    def run_gang(self, spark: Any, master: str) -> None:
        a = self.args
        lenet = self.distributed_row(spark, master, "lenet5", "gang", a.batch_size)
        self.check("gang_lenet5", lenet["vs_local"], master, lenet)
        if "start_s" in lenet:
            self.check("gang_start", lenet["start_s"], master, lenet, detail="LeNet-5, full split")
        resnet = self.distributed_row(spark, master, "resnet20", "gang", a.batch_size)
        self.check("gang_resnet20", resnet["vs_local"], master, resnet)
        mlp = self.distributed_row(spark, master, "linear11m", "gang", a.mlp_batch_size)
        self.check("gang_linear11m", mlp["not_compute_share"], master, mlp, detail="transport auto")
        self.distributed_row(spark, master, "linear11m", "gang", a.mlp_batch_size, transport="tcp")

    def run_iteration(self, spark: Any, master: str) -> None:
        a = self.args
        self.distributed_row(spark, master, "lenet5", "iteration", a.batch_size)
        resnet = self.distributed_row(spark, master, "resnet20", "iteration", a.batch_size)
        self.check("iteration_resnet20", resnet["vs_local"], master, resnet)
        for sync in a.mlp_syncs:
            self.distributed_row(spark, master, "linear11m", "iteration", a.mlp_batch_size, sync)

    def run_torch(self, spark: Any, master: str) -> None:
        a = self.args
        try:
            import torch  # noqa: F401
        except ImportError:
            self.log("torch is not importable: TorchDistributor rows skipped")
            return
        from pyspark.ml.torch.distributor import TorchDistributor

        self.local_row("lenet5", a.batch_size)  # ours first: torch's threads may linger in this process
        local_mode = master.startswith("local")
        if torch_lenet5_train.__module__ != "__main__":  # imported: its torchrun processes cannot import us
            from pyspark import cloudpickle
            cloudpickle.register_pickle_by_value(sys.modules[torch_lenet5_train.__module__])
        steps = a.warmup + a.iterations
        with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
            x, y = self.data("full")
            np.save(f"{tmp}/x.npy", x)
            np.save(f"{tmp}/y.npy", y)
            if ("torch local", a.batch_size) not in self.local:
                result = torch_lenet5_train(tmp, a.batch_size, steps, threads=2, distributed=False)
                self.local[("torch local", a.batch_size)] = self.add_row(
                    "driver", "lenet5", "torch local", "full", a.batch_size,
                    torch_summary(result, a.batch_size, a.warmup), threads=2)
            base = self.local[("torch local", a.batch_size)]
            distributor = TorchDistributor(num_processes=PARTITIONS, local_mode=local_mode, use_gpu=False)
            started = time.time()
            result = distributor.run(torch_lenet5_train, tmp, a.batch_size, steps, 1, True)
            ended = time.time()
        summary = torch_summary(result, a.batch_size, a.warmup)
        summary.update(start_s=result["first_iteration_end"] - started, fit_s=ended - started,
                       vs_torch_local=base["iteration_s"] / summary["iteration_s"],
                       vs_local=self.local_row("lenet5", a.batch_size)["iteration_s"] / summary["iteration_s"],
                       local_mode=local_mode, backend=result["backend"])
        ours = [r for r in self.rows if r["master"] == master and r["model"] == "lenet5" and r["mode"] == "gang"
                and r["data"] == "full" and "section" not in r]
        if ours:
            summary["gang_vs_torchdistributor"] = summary["iteration_s"] / ours[-1]["iteration_s"]
        self.add_row(master, "lenet5", "TorchDistributor", "full", a.batch_size, summary)


def _one(_: Any) -> list[int]:
    return [0]


# ------------------------------------------------------------------------------------------------ torch
def torch_lenet5_train(data_dir: str, batch_size: int, steps: int, threads: int, distributed: bool) -> dict[str, Any]:
    """LeNet-5 in torch, as ``zoo.models.lenet.lenet5``: conv 6@5x5 pad 2, ReLU, max pool 2, conv 16@5x5,
    ReLU, max pool 2, fc 400-120-84-10 with ReLUs; SGD lr 0.01 momentum 0.9, cross-entropy.

    Runs ``steps`` iterations of global batch ``batch_size`` (each of the ``world`` processes takes
    every ``world``-th sample of the batch). Self-contained (no project imports): TorchDistributor
    pickles it by value into its ``torchrun`` processes. Returns rank 0's per-iteration seconds and
    its wall clock at the end of the first iteration.
    """
    import time as time_
    import numpy as np_
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    rank, world, backend = 0, 1, None
    if distributed:
        import torch.distributed as dist
        dist.init_process_group("gloo")
        rank, world, backend = dist.get_rank(), dist.get_world_size(), dist.get_backend()
    torch.manual_seed(0)
    model: nn.Module = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = np_.load(f"{data_dir}/x.npy")
    y = np_.load(f"{data_dir}/y.npy")
    order = np_.random.default_rng(0).permutation(len(y))
    seconds, first_end = [], None
    for k in range(steps):
        tic = time_.perf_counter()
        start = (k * batch_size) % len(y)
        mine = order[start:start + batch_size][rank::world]
        xb, yb = torch.from_numpy(x[mine]), torch.from_numpy(y[mine])
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        seconds.append(time_.perf_counter() - tic)
        if first_end is None:
            first_end = time_.time()
    parameters = sum(p.numel() for p in model.parameters())
    if distributed:  # DDP's reducer goes before its process group (else a gloo thread may abort the exit)
        dist.barrier()
        del model, optimizer
        dist.destroy_process_group()
    return {"seconds": seconds, "first_iteration_end": first_end, "world": world, "backend": backend,
            "threads": torch.get_num_threads(), "parameters": parameters}


def torch_summary(result: dict[str, Any], batch_size: int, warmup: int) -> dict[str, Any]:
    seconds = np.array(result["seconds"])
    median = float(np.median(seconds[warmup:]))
    return {"iteration_s": median, "mean_s": float(np.mean(seconds[warmup:])), "samples_per_s": batch_size / median,
            "first_iteration_s": float(seconds[0]), "seconds": [float(s) for s in seconds],
            "measured_from": warmup, "processes": result["world"], "torch_threads": result["threads"]}


# ------------------------------------------------------------------------------------------------ table
def print_table(bench: Bench) -> None:
    def ms(row: dict[str, Any], key: str) -> str:
        return f"{row[key] * 1e3:8.1f}" if key in row else f"{'-':>8}"

    def line(r: dict[str, Any]) -> str:
        ratio = f"{r['vs_local']:8.2f}" if "vs_local" in r else f"{'':8}"
        share = f"{r['not_compute_share'] * 100:5.1f}%" if "not_compute_share" in r else f"{'-':>6}"
        start = f"{r['start_s']:7.2f}" if "start_s" in r else f"{'':7}"
        params = f"{r['parameters'] / 1e6:5.2f}M" if "parameters" in r else f"{'':6}"
        targets = "; ".join(f"{c['what']} {c['value']:.2f} {c['target']} {'PASS' if c['pass'] else 'FAIL'}"
                            for c in r.get("checks", []))
        return (f"{r['model']:<10} {params} {r['data']:<6} {r['mode']:<17} {r['batch_size']:>5} "
                f"{ms(r, 'iteration_s')} {ms(r, 'mean_s')} {ratio} {ms(r, 'compute_s')} {ms(r, 'sync_s')} "
                f"{ms(r, 'other_s')} {share} {start}  {targets}")

    head = (f"{'model':<10} {'params':>6} {'data':<6} {'mode':<17} {'batch':>5} {'iter ms':>8} {'mean ms':>8} "
            f"{'vs local':>8} {'compute':>8} {'sync':>8} {'other':>8} {'!comp':>6} {'start s':>7}  target")
    for master in dict.fromkeys(["driver"] * any(r["master"] == "driver" for r in bench.rows)
                                + [r["master"] for r in bench.rows]):
        rows = [r for r in bench.rows if r["master"] == master]
        scale = [r for r in rows if r.get("section") == "data"]
        rest = [r for r in rows if r.get("section") != "data"]
        label = " (this process)" if master == "driver" else ""
        if scale:
            window = scale[0]["window"]
            print(f"\n== {master}: data scale ({window} iterations from each fit's start, all counted; "
                  f"iter = median, mean = mean of the {window})")
            print(head)
            for r in scale:
                print(line(r))
        if rest:
            print(f"\n== {master}{label}: throughput (median of {bench.args.iterations} iterations after "
                  f"{bench.args.warmup} warm-up; vs local = throughput / LocalTrainer's, 2 threads)")
            print(head)
            for r in rest:
                print(line(r))
        for r in rows:
            if r["mode"] == "TorchDistributor":
                ours = (f"our gang is {r['gang_vs_torchdistributor']:.2f}x its speed"
                        if "gang_vs_torchdistributor" in r else "our gang not measured")
                print(f"TorchDistributor LeNet-5: {r['vs_torch_local']:.2f}x torch's own 2-thread speed, "
                      f"{r['vs_local']:.2f}x our local trainer; {ours}; start {r['start_s']:.1f} s")
            if r["mode"].startswith("iteration") and "epoch_mean_s" in r:
                kind = "data scale" if r.get("section") == "data" else "throughput"
                print(f"{r['model']} {r['mode']} {r['data']} ({kind}): epoch layout (first iteration) "
                      f"{r['first_iteration_s'] * 1e3:.0f} ms -> {r['epoch_mean_s'] * 1e3:.1f} ms per iteration "
                      f"over its {r['iterations_per_epoch']}-iteration epoch")
    for a in bench.allreduce:
        print(f"all-reduce {a['nbytes'] / 1e6:.0f} MB, {a['n_procs']} processes, {a.get('transport', 'tcp')}: "
              f"{a['seconds'] * 1e3:.1f} ms, algbw {a['algbw_bytes_per_s'] / 1e9:.2f} GB/s, "
              f"busbw {a['busbw_bytes_per_s'] / 1e9:.2f} GB/s")
    if bench.schedule_probe:
        print("empty jobs: " + ", ".join(f"{p['kind']} {p['tasks']} tasks {p['seconds'] * 1e3:.0f} ms ({p['master']})"
                                        for p in bench.schedule_probe))
    print("\ntargets:")
    for c in bench.checks:
        verdict = "n/a" if c["pass"] is None else ("PASS" if c["pass"] else "FAIL")
        value = "-" if c["value"] is None else f"{c['value']:.3f}"
        print(f"  {verdict:4}  {c['what']:<34} {value:>8} {c['target']:<8} {c['master']} {c['detail']}")
    for e in bench.errors:
        print(f"  ERROR in {e['section']} on {e['master']}: {e['error']}")


# ------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--master", default=LOCAL_MASTER, help="Spark master of the main pass")
    parser.add_argument("--standalone", action="store_true",
                        help="also run the Spark sections on a loopback standalone cluster (2 workers x 1 core)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--skip-torch", action="store_true", help="leave out the TorchDistributor rows")
    parser.add_argument("--samples", type=int, default=None, help="use the first SAMPLES training images as the "
                        "'full' data (default all 60,000)")
    parser.add_argument("--subset", type=int, default=16, help="the subset is the first 1/SUBSET of the data")
    parser.add_argument("--window", type=int, default=0,
                        help="data-scale iterations per fit (default: one whole epoch of the subset)")
    parser.add_argument("--batch-size", type=int, default=128, help="global batch of LeNet-5 and ResNet-20")
    parser.add_argument("--mlp-batch-size", type=int, default=64, help="global batch of the 11M-parameter MLP")
    parser.add_argument("--mlp-syncs", nargs="+", default=["driver", "shuffle"], choices=["driver", "shuffle"],
                        help="per-iteration-mode sums measured for the MLP")
    parser.add_argument("--iterations", type=int, default=20, help="measured iterations per throughput row")
    parser.add_argument("--warmup", type=int, default=3, help="iterations before the measured ones")
    parser.add_argument("--allreduce-mb", type=float, default=44.0)
    parser.add_argument("--allreduce-repeats", type=int, default=10)
    parser.add_argument("--schedule-tasks", type=int, nargs="+", default=[2, 8, 32, 128])
    parser.add_argument("--schedule-repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 8,192 images, 4-iteration windows, 3+1 iterations, 2 all-reduce repeats")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--fit-cost-model", metavar="RESULTS_JSON", default=None,
                        help="fit the cost model to a result file, print it and the ResNet-50 predictions, exit")
    parser.add_argument("--bandwidth", type=float, default=None, help="cost model: link bytes/s (default 1.25e9)")
    parser.add_argument("--latency", type=float, default=None, help="cost model: s per message (default 50e-6)")
    parser.add_argument("--node-flops", type=float, default=None, help="cost model: a node's training FLOP/s "
                        "(default: fitted, one measured worker)")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples = args.samples or 8192
        args.window = args.window or 4
        args.iterations, args.warmup = min(args.iterations, 3), min(args.warmup, 1)
        args.allreduce_repeats = min(args.allreduce_repeats, 2)
        args.schedule_tasks, args.schedule_repeats = [2, 16], 2
        args.mlp_syncs = args.mlp_syncs[:1]
    if args.skip_torch and "torch" in args.sections:
        args.sections.remove("torch")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fit_cost_model:
        print_cost_model(args.fit_cost_model, {"bandwidth": args.bandwidth, "latency": args.latency,
                                               "node_flops": args.node_flops})
        return 0
    from bigdl_runtime.spark import init_spark

    bench = Bench(args)
    load_before = os.getloadavg()
    tic = time.perf_counter()
    if "allreduce" in args.sections:
        bench.section("allreduce", "loopback", bench.run_allreduce)

    def spark_pass(master: str, conf: dict[str, str] | None = None) -> None:
        spark = init_spark(master, app_name="bigdl-bench-distributed", conf=conf)
        sc = spark.sparkContext
        sc.parallelize(range(PARTITIONS), PARTITIONS).mapPartitions(_one).collect()  # Python workers up
        try:
            if "schedule" in args.sections:
                bench.section("schedule", master, lambda: bench.run_schedule(spark, master))
            for name in SPARK_SECTIONS:
                if name in args.sections:
                    bench.section(name, master, lambda name=name: getattr(bench, f"run_{name}")(spark, master))
        finally:
            spark.stop()

    if any(name in args.sections for name in ("schedule", *SPARK_SECTIONS)):
        spark_pass(args.master)
    if args.standalone and any(name in args.sections for name in SPARK_SECTIONS):
        from tests.helpers.standalone_cluster import standalone_cluster

        with standalone_cluster(num_workers=PARTITIONS, cores=1) as cluster:
            spark_pass(cluster.master_url, cluster.driver_conf())
    seconds = time.perf_counter() - tic

    print_table(bench)
    print(f"\n{seconds:.0f} s; load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    report = {
        "config": {**{k: v for k, v in vars(args).items() if k != "fit_cost_model"}, "partitions": PARTITIONS,
                   "data": "Fashion-MNIST train split, LeNet-5 preprocessing, float32 1x28x28",
                   "samples": len(bench.data("full")[1]) if bench._data else None,
                   "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                               "load_before": load_before, "load_after": os.getloadavg()},
                   "seconds": seconds},
        "results": bench.rows, "checks": bench.checks, "allreduce": bench.allreduce,
        "schedule_probe": bench.schedule_probe, "errors": bench.errors}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
