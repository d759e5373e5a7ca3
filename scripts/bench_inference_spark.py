"""zoo.predict on Spark (local[N]) vs one process scoring the same numpy array, on the same cores.

Issue 15's inference rows:
    - LeNet-5 on the 60,000 Fashion-MNIST training images (flat 784-float rows,
      ``output="label"``): target >= 0.8x the one-process rate;
    - ResNet-18 on 2,000 random 3x224x224 rows (602 KB each, 1.2 GB of rows,
      ``output="label"``): target >= 0.9x; the peak memory of the Python workers
      is recorded here (it should follow the batch sizes, not the data).

The ``memory`` section (``--models memory``) measures what a Python worker
holds when scoring about ``--memory-gb`` GB of rows: 602 KB float32 rows
(3x224x224, built on the JVM: no Python process ever holds the data) scored
by a linear model through ``zoo.predict`` (``output="label"``, a ``noop``
write), each case in a fresh ``local[N]`` session (fresh Python workers),
peak RSS (``VmHWM``) of every Python worker read from ``/proc`` afterwards;
the data size and the Arrow batch bytes (``maxBytesPerBatch``) are varied, so
the table shows the peak following the batch, not the data.

Both sides score the same fused model (``fuse_for_inference``) in batches of the
same size. One process: numpy's BLAS (and oneDNN's OpenMP) at 1 and at N
threads, the faster counts. Spark: ``init_spark("local[N]")`` (one BLAS thread
per task), the input DataFrame built from the same array through Arrow, cached
and counted before timing (N partitions), one features column at a time (the
``array`` and ``binary`` forms of ResNet-18's 1.2 GB of rows together overflow a
4 GB driver's storage memory, and Spark re-read the part it spilled to disk on
every run: 3.3-4.6 JVM CPU-s per run instead of 2.0); a timed run is a ``noop`` write of the
scored DataFrame (every output row made and handed back to the JVM, nothing
collected), after ``--warmup`` untimed ones: a fresh JVM keeps compiling the
scan, Arrow and write paths over the first runs (LeNet-5, 60,000 rows: the
JIT's CPU 0.2-0.7 s a run over the first four, under 0.15 s after), which a
scoring job over a real table pays once. Best of ``--repeats``, the two sides alternating. The load average
is recorded before and after: wall-clock rates mean little on a busy machine.
Also recorded, and much less sensitive to other jobs: the CPU seconds each side
used (one process at 1 thread vs the JVM plus the Python workers), whose ratio
is what Spark would reach against a one-process run that scaled perfectly
over the N cores. Each timed Spark run is followed by a run of the same
write over a no-op Arrow UDF of the features column (``echo``: a zero per
row, no model), which gives what Spark's JVM <-> Python path costs by itself
on these rows: no scoring on that path can run faster.

    python scripts/bench_inference_spark.py                       # both models (several minutes)
    python scripts/bench_inference_spark.py --models lenet --rows 20000 --repeats 2
    python scripts/bench_inference_spark.py --models memory --memory-gb 1
    python scripts/bench_inference_spark.py --json scripts/bench/results/inference-spark-idle.json
"""
from __future__ import annotations

import argparse
import functools
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


def _descendants() -> list[int]:
    """Every process below this one (the JVM, PySpark's daemon and its Python workers)."""
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
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ")


def spark_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the JVM and by the Python workers under this process."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"jvm": 0.0, "python_workers": 0.0}
    for pid in _descendants():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            kind = "jvm" if b"java" in _cmdline(pid) else "python_workers"
        except OSError:
            continue
        used[kind] += (int(fields[11]) + int(fields[12])) / tick
    return used


def worker_peak_rss_mb() -> list[float]:
    """Peak resident memory (VmHWM) of every PySpark Python process under this one, in MB."""
    found = []
    for pid in _descendants():
        try:
            cmdline = _cmdline(pid)
            if b"java" in cmdline or b"pyspark" not in cmdline:
                continue
            with open(f"/proc/{pid}/status") as f:
                found += [round(int(line.split()[1]) / 1024, 1) for line in f if line.startswith("VmHWM:")]
        except OSError:
            continue
    return sorted(found, reverse=True)


#: bytes of rows handed to createDataFrame per Arrow table (one task each: 512 MB tasks ran a 6 GB driver out of
#: heap building the second 1.2 GB column)
ARROW_CHUNK_BYTES = 128 << 20


def run_case(spark, name: str, model, x: np.ndarray, batch: int, repeats: int, cores: int,
             columns: list[str], warmup: int = 0) -> list[dict]:
    """One result per kind of features column (``array``: array<float>, ``binary``: float32 bytes)."""
    import pyarrow as pa

    from bigdl_runtime.spark.arrow import list_column
    from zoo.pipeline.inference import predict

    n = len(x)
    fused = fuse_for_inference(model)
    shape = x.shape[1:]
    flat = x.reshape(n, -1)
    reference = fused.forward(x[:batch]).argmax(axis=1)

    def local(threads: int) -> Callable[[], None]:
        def go() -> None:
            set_blas_threads(threads)
            for i in range(0, n, batch):
                fused.forward(x[i:i + batch])
        return go

    times: dict[str, list[float]] = {"local_1": [], f"local_{cores}": [],
                                     **{f"{w}_{c}": [] for c in columns for w in ("spark", "echo")}}
    cpu: dict[str, list[float]] = {"local_1": [], **{f"{w}_{c}_{k}": [] for c in columns for w in ("spark", "echo")
                                                       for k in ("jvm", "python_workers")}}
    agree: dict[str, float] = {}
    rss: list[float] = []
    threads_before = blas_threads()
    for column in columns:    # one cached DataFrame at a time: two 1.2 GB copies would not fit the cache
        table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)),
                          column: list_column(flat) if column == "array"
                          else pa.array([row.tobytes() for row in flat], pa.binary())})
        step = max(1, int(ARROW_CHUNK_BYTES * n // max(table.nbytes, 1)))   # the JVM reads < 2 GB per table
        parts = [spark.createDataFrame(table.slice(i, step)) for i in range(0, n, step)]
        df = functools.reduce(lambda a, b: a.unionAll(b), parts).repartition(cores).cache()
        assert df.count() == n
        del table, parts
        scored = predict(model, df, input_col=column, input_shape=shape, output="label", batch_size=batch)
        echo = _echo(df, column)
        got = np.array([r.prediction for r in scored.select("id", "prediction").orderBy("id").limit(batch)
                        .collect()])
        agree[column] = float(np.mean(got == reference))
        for _ in range(warmup):    # JIT warm-up of the JVM's scan, Arrow and write paths (see the module doc)
            scored.write.format("noop").mode("overwrite").save()
            echo.write.format("noop").mode("overwrite").save()
        for _ in range(repeats):
            start = time.process_time()
            times["local_1"].append(timed(local(1)))
            cpu["local_1"].append(time.process_time() - start)
            if cores > 1:
                times[f"local_{cores}"].append(timed(local(cores)))
            set_blas_threads(threads_before)
            before = spark_cpu_seconds()
            times[f"spark_{column}"].append(timed(lambda: scored.write.format("noop").mode("overwrite").save()))
            after = spark_cpu_seconds()
            for k in ("jvm", "python_workers"):
                cpu[f"spark_{column}_{k}"].append(after[k] - before[k])
            before = spark_cpu_seconds()
            times[f"echo_{column}"].append(timed(lambda: echo.write.format("noop").mode("overwrite").save()))
            after = spark_cpu_seconds()
            for k in ("jvm", "python_workers"):
                cpu[f"echo_{column}_{k}"].append(after[k] - before[k])
            print(f"  {name} ({column}): " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()
                                                       if v and (k.startswith("local") or k.endswith(column)))
                  + f"; CPU s: local_1 {cpu['local_1'][-1]:.2f}, "
                  + ", ".join(f"{k} {cpu[k][-1]:.2f}" for k in cpu if k.startswith((f"spark_{column}_",
                                                                                    f"echo_{column}_")))
                  + f"; load {load()[0]}", flush=True)
        rss = max(rss, worker_peak_rss_mb(), key=lambda peaks: max(peaks, default=0))
        df.unpersist(blocking=True)
        df = scored = echo = None    # their lineage holds the rows handed to createDataFrame in the JVM's heap
    local_rates = {k: n / min(v) for k, v in times.items() if v and k.startswith("local")}
    one = max(local_rates.values())
    results = []
    for column in columns:
        spark_rate = n / min(times[f"spark_{column}"])
        spark_cpu = min(j + w for j, w in zip(cpu[f"spark_{column}_jvm"], cpu[f"spark_{column}_python_workers"]))
        echo_rate = n / min(times[f"echo_{column}"])
        results.append({
            "model": name, "column": column, "rows": n, "row_floats": int(np.prod(shape)), "batch_size": batch,
            "rows_per_s": {**{k: round(v, 1) for k, v in local_rates.items()}, "spark": round(spark_rate, 1)},
            "ratio_spark_vs_one_process": round(spark_rate / one, 3), "target": TARGETS[name],
            "rows_per_cpu_s": {"local_1": round(n / min(cpu["local_1"]), 1), "spark": round(n / spark_cpu, 1)},
            "cpu_ratio_spark_vs_one_process": round(min(cpu["local_1"]) / spark_cpu, 3),
            "echo_rows_per_s": round(echo_rate, 1), "echo_vs_one_process": round(echo_rate / one, 3),
            "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()
                        if v and (k.startswith("local") or k in (f"spark_{column}", f"echo_{column}"))},
            "cpu_seconds": {k: [round(t, 3) for t in v] for k, v in cpu.items()
                            if k == "local_1" or k.startswith((f"spark_{column}_", f"echo_{column}_"))},
            "labels_agree_with_one_process": agree[column], "python_worker_peak_rss_mb": rss})
    return results


def _echo(df, column: str):
    """``df`` with a zero column computed by a no-op Arrow UDF of ``column``: what moving the features through
    Spark's Python path costs with no model (the scoring's data-path floor), the same way ``zoo.predict`` moves
    them (a scalar Arrow UDF on PySpark >= 4.1, else a ``mapInArrow`` returning each batch plus the column)."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    from zoo.pipeline.arrow_scoring import ARROW_UDF

    if ARROW_UDF:
        return df.withColumn("prediction", F.arrow_udf(lambda x: pa.array(np.zeros(len(x), np.int64)), "long")(
            df[column]))

    def batches(it):
        for b in it:
            yield pa.RecordBatch.from_arrays([*b.columns, pa.array(np.zeros(b.num_rows, np.int64))],
                                             names=[*b.schema.names, "prediction"])
    return df.mapInArrow(batches, StructType([*df.schema.fields, StructField("prediction", LongType())]))


def memory_case(cores: int, gigabytes: float, arrow_bytes: str, batch: int) -> dict:
    """Peak RSS of the Python workers of a fresh local[N] session scoring ``gigabytes`` of 602 KB rows."""
    from pyspark.sql import functions as F

    from bigdl_runtime.nn import Linear
    from bigdl_runtime.spark import init_spark
    from zoo.pipeline.inference import predict

    shape = (3, 224, 224)
    row_bytes = 4 * int(np.prod(shape))
    rows = max(cores, int(gigabytes * 2**30 / row_bytes))
    random.manual_seed(0)
    model = Linear(int(np.prod(shape)), 10)
    spark = init_spark(master=f"local[{cores}]", app_name="bench-inference-memory",
                       conf={"spark.sql.execution.arrow.maxBytesPerBatch": arrow_bytes})
    try:
        one = "0000803f" * int(np.prod(shape))    # float32 1.0, little-endian, made on the JVM
        df = spark.range(rows, numPartitions=cores).select("id", F.unhex(F.lit(one)).alias("x"))
        scored = predict(model, df, input_col="x", input_shape=(int(np.prod(shape)),), output="label",
                         batch_size=batch)
        seconds = timed(lambda: scored.write.format("noop").mode("overwrite").save())
        peaks = worker_peak_rss_mb()
    finally:
        spark.stop()
    result = {"model": "memory", "rows": rows, "data_gb": round(rows * row_bytes / 2**30, 2), "row_bytes": row_bytes,
              "arrow_max_bytes_per_batch": arrow_bytes, "batch_size": batch, "seconds": round(seconds, 2),
              "python_worker_peak_rss_mb": peaks}
    print(f"  memory: {result['data_gb']} GB ({rows} rows), Arrow batches <= {arrow_bytes}, batch {batch}: "
          f"workers' peak RSS {peaks} MB ({seconds:.1f} s); load {load()[0]}", flush=True)
    return result


def print_table(results: list[dict], cores: int) -> None:
    """The markdown table of the scoring cases."""
    print(f"| model | features column | rows | one process rows/s (1 / {cores} threads) | "
          f"local[{cores}] rows/s | ratio | target | rows per CPU-s: one process / Spark (JVM + workers) | "
          "CPU ratio | no-op Arrow UDF rows/s (ratio) | workers' peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        rate, per_cpu = r["rows_per_s"], r["rows_per_cpu_s"]
        many = rate.get(f"local_{cores}", float("nan"))
        peak = max(r["python_worker_peak_rss_mb"], default=0)
        print(f"| {r['model']} | {r['column']} | {r['rows']} | {rate['local_1']:.0f} / {many:.0f} | "
              f"{rate['spark']:.0f} | {r['ratio_spark_vs_one_process']:.2f} | {r['target']} | "
              f"{per_cpu['local_1']:.0f} / {per_cpu['spark']:.0f} | {r['cpu_ratio_spark_vs_one_process']:.2f} | "
              f"{r['echo_rows_per_s']:.0f} ({r['echo_vs_one_process']:.2f}) | {peak} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet,resnet,memory", help="comma-separated: lenet, resnet, memory")
    parser.add_argument("--rows", type=int, default=60000, help="LeNet-5 rows (Fashion-MNIST train images)")
    parser.add_argument("--resnet-rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3, help="untimed Spark runs per column first (JIT warm-up)")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]; the one process may use N threads")
    parser.add_argument("--columns", default="array,binary",
                        help="features column kinds: array (array<float>), binary (each row's float32 bytes)")
    parser.add_argument("--arrow-batch", type=int, help="spark.sql.execution.arrow.maxRecordsPerBatch "
                        "(default: Spark's, 10,000 rows)")
    parser.add_argument("--arrow-bytes", help="spark.sql.execution.arrow.maxBytesPerBatch, e.g. 8m "
                        "(default: Spark's, 64 MB)")
    parser.add_argument("--memory-gb", type=float, default=1.0, help="rows scored by the memory section, in GB")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    os.environ.setdefault("BIGDL_DRIVER_MEMORY", "10g")   # 6g: the second 1.2 GB ResNet-18 column ran out of heap
    from bigdl_runtime.spark import init_spark

    cases = {"lenet": lambda: lenet_case(args.rows), "resnet": lambda: resnet_case(args.resnet_rows)}
    started = load()
    conf = {} if args.arrow_batch is None else {"spark.sql.execution.arrow.maxRecordsPerBatch": args.arrow_batch}
    if args.arrow_bytes is not None:
        conf["spark.sql.execution.arrow.maxBytesPerBatch"] = args.arrow_bytes
    keys = [k.strip() for k in args.models.split(",")]
    results = []
    if "memory" in keys:        # fresh sessions (fresh Python workers) for each case, before the others
        for gb, arrow_bytes in ((args.memory_gb / 4, "8m"), (args.memory_gb, "8m"), (args.memory_gb, "32m")):
            results.append(memory_case(args.cores, gb, arrow_bytes, 32))
    spark = init_spark(master=f"local[{args.cores}]", app_name="bench-inference-spark", conf=conf) \
        if set(keys) - {"memory"} else None
    try:
        for key in keys:
            if key == "memory":
                continue
            name, model, x, batch = cases[key]()
            print(f"{name}: {len(x)} rows of {x.shape[1:]}, batch {batch}, load {load()}", flush=True)
            results += run_case(spark, name, model, x, batch, args.repeats, args.cores, args.columns.split(","),
                                args.warmup)
            del x
    finally:
        if spark is not None:
            spark.stop()
    ended = load()
    memory = [r for r in results if r["model"] == "memory"]
    print(f"\nload average (1, 5, 15 min): {started} at the start, {ended} at the end")
    if len(memory) < len(results):
        print_table([r for r in results if r["model"] != "memory"], args.cores)
    if memory:
        print("\n| rows scored (GB) | Arrow batch bytes | forward batch | Python workers' peak RSS MB |")
        print("| --- | --- | --- | --- |")
        for r in memory:
            print(f"| {r['data_gb']} | {r['arrow_max_bytes_per_batch']} | {r['batch_size']} | "
                  f"{' / '.join(str(v) for v in r['python_worker_peak_rss_mb'])} |")
    if args.json:
        record = {"command": " ".join(["python", *sys.argv]), "arrow_max_records_per_batch": args.arrow_batch,
                  "arrow_max_bytes_per_batch": args.arrow_bytes,
                  "load_average_start": started,
                  "load_average_end": ended, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                  "time": time.strftime("%Y-%m-%d %H:%M:%S"), "results": results}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
