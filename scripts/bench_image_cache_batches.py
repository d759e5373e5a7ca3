"""Where NNImageReader's JVM CPU goes: the same read with the cache built at several batch sizes, and uncached.

``NNImageReader.read_images(folder, spark, transform=chain)`` (the chain of
``scripts/bench_image_ingest_spark.py``) caches its float32 tensors (602 KB an image). Spark's
in-memory cache appends rows to one buffer per column until a batch of
``spark.sql.inMemoryColumnarStorage.batchSize`` rows is in, doubling it as it grows; this script
times the read with the cache built at each ``--batch-rows`` value (the reader's
``CACHE_BATCH_ROWS``), the same decode job written to Spark's ``noop`` sink instead of cached
(``uncached``), and the bare ``binaryFile`` scan (``scan``), in one session, alternating, and
prints the CPU seconds of the JVM and of the Python workers for each (wall-clock time means
little on a shared machine).

    python scripts/bench_image_cache_batches.py --folder /tmp/photos      # fills an empty folder first
    python scripts/bench_image_cache_batches.py --folder /tmp/photos --batch-rows 10000,256,16 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench.common import set_blas_threads  # noqa: E402
from scripts.bench_image_ingest_spark import chain, write_photos  # noqa: E402
from scripts.bench_inference_spark import load, spark_cpu_seconds, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="the photos (written here when it has none)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch-rows", default="10000,256,16", help="cache batch sizes to compare")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from pyspark.sql import DataFrame

    import zoo.feature.image.spark_read as spark_read
    from bigdl_runtime.spark import init_spark
    from zoo.pipeline import NNImageReader

    root = Path(args.folder)
    if not list(root.rglob("*.jpg")):
        write_photos(root, args.images, 10)
    set_blas_threads(1)
    spark = init_spark(master=f"local[{args.cores}]", app_name="bench-image-cache-batches")

    def read() -> None:
        NNImageReader.read_images(str(root), spark, with_label=None, transform=chain()).unpersist()

    def cached(rows: int):
        def go() -> None:
            spark_read.CACHE_BATCH_ROWS = rows
            read()
        return go

    def uncached() -> None:   # the same decode job, its batches written to the noop sink instead of cached
        persist, count = DataFrame.persist, DataFrame.count
        DataFrame.persist = lambda self, *a: self
        DataFrame.count = lambda self: self.write.format("noop").mode("overwrite").save()
        try:
            read()
        finally:
            DataFrame.persist, DataFrame.count = persist, count

    def scan() -> None:
        (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(root))
         .write.format("noop").mode("overwrite").save())

    cases = {**{f"cache batches of {n}": cached(int(n)) for n in args.batch_rows.split(",")},
             "uncached": uncached, "scan": scan}
    results: dict[str, list[dict]] = {k: [] for k in cases}
    started = load()
    try:
        read()                                  # warms the Python workers and the JIT
        for _ in range(args.repeats):
            for name, fn in cases.items():
                before = spark_cpu_seconds()
                seconds = timed(fn)
                after = spark_cpu_seconds()
                row = {"seconds": round(seconds, 2), "jvm_cpu_s": round(after["jvm"] - before["jvm"], 2),
                       "python_workers_cpu_s": round(after["python_workers"] - before["python_workers"], 2),
                       "load": load()[0]}
                results[name].append(row)
                print(f"  {name:24s} {row}", flush=True)
    finally:
        spark.stop()
    print(f"\nload average: {started} at the start, {load()} at the end")
    print("| case | JVM CPU-s (each repeat) | Python workers CPU-s |\n| --- | --- | --- |")
    for name, rows in results.items():
        print(f"| {name} | {' / '.join(str(r['jvm_cpu_s']) for r in rows)} | "
              f"{' / '.join(str(r['python_workers_cpu_s']) for r in rows)} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "results": results,
                                               "load_average_start": started, "load_average_end": load(),
                                               "time": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
