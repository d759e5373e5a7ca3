"""zoo.predict on Spark (local[N]) vs one process scoring the same numpy array, on the same cores.

Issue 15's inference rows:
    - LeNet-5 on the 60,000 Fashion-MNIST training images (flat 784-float rows,
      ``output="label"``): target >= 0.8x the one-process rate;
    - ResNet-18 on 2,000 random 3x224x224 rows (602 KB each, 1.2 GB of rows,
      ``output="label"``): target >= 0.9x; the peak memory of the Python workers
      is recorded here (it should follow the batch sizes, not the data).

Both sides score the same fused model (``fuse_for_inference``) in batches of the
same size. One process: numpy's BLAS (and oneDNN's OpenMP) at 1 and at N
threads, the faster counts. Spark: ``init_spark("local[N]")`` (one BLAS thread
per task), the input DataFrame built from the same array through Arrow, cached
and counted before timing (N partitions); a timed run is a ``noop`` write of the
scored DataFrame (every output row made and handed back to the JVM, nothing
collected). Best of ``--repeats``, the two sides alternating. The load average
is recorded before and after: numbers mean little on a busy machine.

    python scripts/bench_inference_spark.py                       # both models (several minutes)
    python scripts/bench_inference_spark.py --models lenet --rows 20000 --repeats 2
    python scripts/bench_inference_spark.py --json scripts/bench/results/inference-spark-idle.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigdl_runtime.nn import random  # noqa: E402
from bigdl_runtime.nn.fuse import fuse_for_inference  # noqa: E402
from scripts.bench.common import blas_threads, set_blas_threads  # noqa: E402

TARGETS = {"lenet5": 0.8, "resnet18": 0.9}


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def lenet_case(rows: int) -> tuple[str, object, np.ndarray, int]:
    from zoo.datasets import load_fashion_mnist
    from zoo.models.lenet import lenet5, preprocess

    images, _ = load_fashion_mnist("train")
    x = preprocess(images[:rows]).astype(np.float32)
    random.manual_seed(0)
    return "lenet5", lenet5(), x, 256


def resnet_case(rows: int) -> tuple[str, object, np.ndarray, int]:
    from zoo.models.resnet import resnet18

    random.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((rows, 3, 224, 224), dtype=np.float32)
    return "resnet18", resnet18(), x, 32


def worker_peak_rss_mb() -> list[float]:
    """Peak resident memory (VmHWM) of every PySpark Python worker under this process, in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
            if b"pyspark" not in cmdline or b"daemon" not in cmdline:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        found.append(round(int(line.split()[1]) / 1024, 1))
        except OSError:
            continue
    return sorted(found, reverse=True)


def run_case(spark, name: str, model, x: np.ndarray, batch: int, repeats: int, cores: int) -> dict:
    import pyarrow as pa

    from bigdl_runtime.spark.arrow import list_column
    from zoo.pipeline.inference import predict

    n = len(x)
    fused = fuse_for_inference(model)
    shape = x.shape[1:]
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "pixels": list_column(x.reshape(n, -1))})
    df = spark.createDataFrame(table).repartition(cores).cache()
    assert df.count() == n
    del table
    scored = predict(model, df, input_col="pixels", input_shape=shape, output="label", batch_size=batch)
    labels = np.array([r.prediction for r in scored.select("id", "prediction").orderBy("id").collect()])
    reference = fused.forward(x[:batch]).argmax(axis=1)
    agree = float(np.mean(labels[:batch] == reference))

    def local(threads: int) -> Callable[[], None]:
        def go() -> None:
            set_blas_threads(threads)
            for i in range(0, n, batch):
                fused.forward(x[i:i + batch])
        return go

    spark_run = lambda: scored.write.format("noop").mode("overwrite").save()  # noqa: E731
    times: dict[str, list[float]] = {"spark": [], "local_1": [], f"local_{cores}": []}
    threads_before = blas_threads()
    for _ in range(repeats):
        times["local_1"].append(timed(local(1)))
        if cores > 1:
            times[f"local_{cores}"].append(timed(local(cores)))
        times["spark"].append(timed(spark_run))
        print(f"  {name}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v), flush=True)
    set_blas_threads(threads_before)
    rss = worker_peak_rss_mb()
    df.unpersist()
    rates = {k: n / min(v) for k, v in times.items() if v}
    one = max(v for k, v in rates.items() if k.startswith("local"))
    return {"model": name, "rows": n, "row_floats": int(np.prod(shape)), "batch_size": batch,
            "rows_per_s": {k: round(v, 1) for k, v in rates.items()},
            "ratio_spark_vs_one_process": round(rates["spark"] / one, 3), "target": TARGETS[name],
            "seconds": {k: [round(t, 3) for t in v] for k, v in times.items() if v},
            "labels_agree_with_one_process": agree, "python_worker_peak_rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet,resnet", help="comma-separated: lenet, resnet")
    parser.add_argument("--rows", type=int, default=60000, help="LeNet-5 rows (Fashion-MNIST train images)")
    parser.add_argument("--resnet-rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]; the one process may use N threads")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    os.environ.setdefault("BIGDL_DRIVER_MEMORY", "6g")
    from bigdl_runtime.spark import init_spark

    cases = {"lenet": lambda: lenet_case(args.rows), "resnet": lambda: resnet_case(args.resnet_rows)}
    started = load()
    spark = init_spark(master=f"local[{args.cores}]", app_name="bench-inference-spark")
    results = []
    try:
        for key in args.models.split(","):
            name, model, x, batch = cases[key.strip()]()
            print(f"{name}: {len(x)} rows of {x.shape[1:]}, batch {batch}, load {load()}", flush=True)
            results.append(run_case(spark, name, model, x, batch, args.repeats, args.cores))
            del x
    finally:
        spark.stop()
    ended = load()
    print(f"\nload average (1, 5, 15 min): {started} at the start, {ended} at the end")
    print(f"| model | rows | one process rows/s (1 / {args.cores} threads) | local[{args.cores}] rows/s | ratio | "
          "target | worker peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        rate = r["rows_per_s"]
        many = rate.get(f"local_{args.cores}", float("nan"))
        peak = max(r["python_worker_peak_rss_mb"], default=0)
        print(f"| {r['model']} | {r['rows']} | {rate['local_1']:.0f} / {many:.0f} | {rate['spark']:.0f} | "
              f"{r['ratio_spark_vs_one_process']:.2f} | {r['target']} | {peak} |")
    if args.json:
        record = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "load_average_start": started,
                  "load_average_end": ended, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                  "time": time.strftime("%Y-%m-%d %H:%M:%S"), "results": results}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
