"""Distributed vs local training throughput, and the cost of gradient synchronisation.

One run measures, on synthetic 28x28 grey images (10 classes; speed does not
depend on the pixel values):

1. LeNet-5 (``zoo.models.lenet.lenet5``) and a ResNet-20-like net (built
   here: a 3x3 stem, 3 stages of ``--blocks`` basic residual blocks with
   16/32/64 channels joined by ``Add`` in a ``Graph``, global average pooling,
   a linear classifier): ``LocalTrainer`` in this process with 2 BLAS threads
   vs ``DistributedTrainer`` on ``local[2]`` (2 partitions, 1 BLAS thread per
   task), same global batch, with reduce-scatter and with treeAggregate;
2. an 11M-parameter stack of Linear layers at global batch 64, with the
   gradients summed by reduce-scatter through the shuffle, by
   ``treeAggregate``, and by reduce-scatter in float16;
3. ResNet-18 itself (``zoo.models.resnet18``, 11.7M parameters) at global
   batch 64 on ``--resnet18-size`` RGB images (default 224, ImageNet's): the
   "ResNet-18-sized model" of the synchronisation target, where forward and
   backward take seconds per iteration (``--resnet18-iterations 0`` skips it);
4. what float16 gradient slices cost in accuracy: LeNet-5 trained on a
   Fashion-MNIST slice (``--accuracy-samples``, Debian's dataset-fashion-mnist)
   by the distributed trainer with float32 and with float16 slices, same seed,
   then top-1 on the 10k test images (``--accuracy-samples 0`` skips it).

Times are medians over the measured iterations (after ``--warmup``), from the
trainers' summary rows; a distributed row splits its iteration into compute
(slowest task's forward/backward), sync (summing the gradient slices: reduce
tasks and the driver) and scheduling (the rest of the job: task launch,
(de)serialisation, broadcast of the weights and shuffle fetches). The last
column ("not compute") is the share of the iteration spent on anything but
forward/backward, the upper bound on what synchronisation costs.

    python scripts/bench_distributed.py --json runs/bench_distributed.json
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
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bigdl_runtime.nn import (Add, BatchNorm2d, Conv2d, CrossEntropyLoss, Flatten, GlobalAvgPool2d,  # noqa: E402
                              Graph, Input, Linear, Module, ReLU, Sequential, random)
from bigdl_runtime.optim import SGD  # noqa: E402
from bigdl_runtime.spark import init_spark  # noqa: E402
from bigdl_runtime.spark.trainer import DistributedTrainer  # noqa: E402
from bigdl_runtime.train import LocalTrainer  # noqa: E402
from zoo.models.lenet import lenet5  # noqa: E402
from zoo.models.resnet import resnet18  # noqa: E402

PARTITIONS = 2
TIMING_KEYS = ("compute_time", "sync_time", "schedule_time")


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


def synthetic(samples: int, seed: int = 0, shape: tuple[int, ...] = (1, 28, 28),
              classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples, *shape), dtype=np.float32), rng.integers(0, classes, samples)


def measure(build: Callable[[], Module], trainer_for: Callable[[Module], Any], data: tuple[np.ndarray, np.ndarray],
            batch_size: int, warmup: int, iterations: int) -> dict[str, float]:
    """Median per-iteration seconds (and timing split, when the trainer reports one) after ``warmup``."""
    random.manual_seed(0)
    model = build()
    trainer = trainer_for(model)
    history = trainer.fit(*data, batch_size=batch_size, iterations=warmup + iterations, seed=0, progress=False)
    walls = [0.0] + [r["wall_time"] for r in history.train]
    rows, seconds = history.train[warmup:], np.diff(walls)[warmup:]
    result = {"parameters": model.num_parameters(), "iteration_s": float(np.median(seconds)),
              "samples_per_s": batch_size / float(np.median(seconds))}
    for key in TIMING_KEYS:
        if key in rows[0]:
            result[key.replace("_time", "_s")] = float(np.median([r[key] for r in rows]))
    if "compute_s" in result:
        result["not_compute_share"] = 1.0 - result["compute_s"] / result["iteration_s"]
        result["sync_share"] = result["sync_s"] / result["iteration_s"]
    return result


def local(model: Module) -> LocalTrainer:
    return LocalTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01, momentum=0.9))


def distributed(spark: Any, sync: str = "shuffle", compress: str | None = None) -> Callable[[Module], Any]:
    def make(model: Module) -> DistributedTrainer:
        return DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01, momentum=0.9),
                                  spark=spark, num_partitions=PARTITIONS, sync=sync, compress=compress)
    return make


def fp16_accuracy(spark: Any, samples: int, epochs: int) -> dict[str, float]:
    """Test top-1 of LeNet-5 trained with float32 and with float16 gradient slices (same seed and batches)."""
    from zoo.datasets import load_fashion_mnist
    from zoo.models.lenet import preprocess

    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("test")
    x, y, xt = preprocess(x[:samples]), y[:samples], preprocess(xt)
    result = {}
    for name, compress in (("float32", None), ("float16", "fp16")):
        tic = time.perf_counter()
        random.manual_seed(0)
        model = lenet5()
        trainer = DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05, momentum=0.9),
                                     spark=spark, num_partitions=PARTITIONS, compress=compress)
        trainer.fit(x, y, batch_size=128, epochs=epochs, seed=0, progress=False)
        result[name] = float(trainer.evaluate(xt, yt, metrics=("top1",), batch_size=500)["top1"])
        print(f"  lenet5 fashion-mnist / {name}: top-1 {result[name]:.4f} ({time.perf_counter() - tic:.1f} s)",
              file=sys.stderr)
    return result


def print_table(rows: list[dict[str, Any]]) -> None:
    def ms(row: dict[str, Any], key: str) -> str:
        return f"{row[key] * 1e3:8.0f}" if key in row else f"{'-':>8}"

    print(f"{'model':<10} {'params':>7} {'trainer':<24} {'batch':>5} {'samples/s':>9} {'vs local':>8} "
          f"{'iter ms':>8} {'compute':>8} {'sync':>8} {'sched':>8} {'sync %':>6} {'not comp':>8}")
    for r in rows:
        ratio = f"{r['vs_local']:8.2f}" if "vs_local" in r else f"{'':8}"
        shares = (f"{r['sync_share'] * 100:6.1f} {r['not_compute_share'] * 100:7.1f}%" if "sync_share" in r
                  else f"{'-':>6} {'-':>8}")
        print(f"{r['model']:<10} {r['parameters'] / 1e6:6.2f}M {r['trainer']:<24} {r['batch_size']:>5} "
              f"{r['samples_per_s']:9.1f} {ratio} {ms(r, 'iteration_s')} {ms(r, 'compute_s')} {ms(r, 'sync_s')} "
              f"{ms(r, 'schedule_s')} {shares}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128, help="global batch for LeNet-5 and ResNet-20")
    parser.add_argument("--sync-batch-size", type=int, default=64, help="global batch for the 11M model")
    parser.add_argument("--blocks", type=int, default=3, help="residual blocks per ResNet stage (3 = ResNet-20)")
    parser.add_argument("--iterations", type=int, default=12, help="measured iterations per configuration")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--resnet18-size", type=int, default=224, help="image side for the ResNet-18 rows")
    parser.add_argument("--resnet18-iterations", type=int, default=3,
                        help="measured ResNet-18 iterations per trainer, after one warm-up (0 = skip)")
    parser.add_argument("--accuracy-samples", type=int, default=12000,
                        help="Fashion-MNIST training images for the fp16 accuracy run (0 = skip)")
    parser.add_argument("--accuracy-epochs", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    data = synthetic(max(args.batch_size, args.sync_batch_size) * 4)
    spark = init_spark(f"local[{PARTITIONS}]", app_name="bigdl-bench-distributed")
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []

    def run(model: str, build: Callable[[], Module], trainer: str, trainer_for: Callable[[Module], Any],
            batch_size: int, inputs: tuple[np.ndarray, np.ndarray] = data, warmup: int = args.warmup,
            iterations: int = args.iterations) -> dict[str, Any]:
        tic = time.perf_counter()
        row = {"model": model, "trainer": trainer, "batch_size": batch_size,
               **measure(build, trainer_for, inputs, batch_size, warmup, iterations)}
        rows.append(row)
        print(f"  {model} / {trainer}: {row['samples_per_s']:.1f} samples/s "
              f"({warmup + iterations} iterations in {time.perf_counter() - tic:.1f} s)", file=sys.stderr)
        return row

    for model, build in (("lenet5", lenet5), ("resnet20", lambda: resnet20(args.blocks))):
        base = run(model, build, "local (2 BLAS threads)", local, args.batch_size)
        for sync in ("shuffle", "tree"):
            dist = run(model, build, f"local[{PARTITIONS}] {sync}", distributed(spark, sync), args.batch_size)
            dist["vs_local"] = dist["samples_per_s"] / base["samples_per_s"]
    base = run("linear11m", linear_11m, "local (2 BLAS threads)", local, args.sync_batch_size)
    for name, sync, compress in (("reduce-scatter", "shuffle", None), ("treeAggregate", "tree", None),
                                 ("reduce-scatter fp16", "shuffle", "fp16")):
        row = run("linear11m", linear_11m, f"local[{PARTITIONS}] {name}", distributed(spark, sync, compress),
                  args.sync_batch_size)
        row["vs_local"] = row["samples_per_s"] / base["samples_per_s"]
    if args.resnet18_iterations:
        images = synthetic(args.sync_batch_size * 2, shape=(3, args.resnet18_size, args.resnet18_size),
                           classes=1000)
        big = {"inputs": images, "warmup": 1, "iterations": args.resnet18_iterations}
        base = run("resnet18", resnet18, "local (2 BLAS threads)", local, args.sync_batch_size, **big)
        for name, sync in (("reduce-scatter", "shuffle"), ("treeAggregate", "tree")):
            row = run("resnet18", resnet18, f"local[{PARTITIONS}] {name}", distributed(spark, sync),
                      args.sync_batch_size, **big)
            row["vs_local"] = row["samples_per_s"] / base["samples_per_s"]
    accuracy = (fp16_accuracy(spark, args.accuracy_samples, args.accuracy_epochs)
                if args.accuracy_samples else {})
    spark.stop()

    print()
    print_table(rows)
    for name, top1 in accuracy.items():
        print(f"LeNet-5, {args.accuracy_samples} Fashion-MNIST images x {args.accuracy_epochs} epochs, "
              f"{name} gradients: test top-1 {top1 * 100:.2f}%")
    resnet = {r["trainer"]: r["vs_local"] for r in rows if r["model"] == "resnet20" and "vs_local" in r}
    sync_rows = [r for r in rows if r["model"] in ("linear11m", "resnet18") and "sync_share" in r]
    targets = {
        "resnet20_distributed_vs_local": resnet, "resnet20_target": 0.85,
        "sync_share": {f"{r['model']} {r['trainer']}": r["sync_share"] for r in sync_rows},
        "not_compute_share": {f"{r['model']} {r['trainer']}": r["not_compute_share"] for r in sync_rows},
        "sync_share_target": 0.15,
    }
    print()
    for trainer, ratio in resnet.items():
        print(f"ResNet-20 distributed ({trainer}) / local throughput: {ratio:.2f} (target >= 0.85)")
    for r in sync_rows:
        print(f"{r['model']} ({r['parameters'] / 1e6:.1f}M), {r['trainer']}: sync {r['sync_share'] * 100:.1f}% of the iteration (target < 15%), "
              f"everything but compute {r['not_compute_share'] * 100:.1f}%")
    report = {"config": {**vars(args), "partitions": PARTITIONS, "data": "synthetic N(0,1) 1x28x28, 10 classes",
                         "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                     "numpy": np.__version__, "load_before": load_before,
                                     "load_after": os.getloadavg()}},
              "results": rows, "targets": targets, "fp16_accuracy": accuracy}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
