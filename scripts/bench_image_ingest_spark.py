"""Reading + decoding + preprocessing JPEG photos: NNImageReader on local[N] vs one process, per core.

Issue 15's image row: ``NNImageReader.read_images(..., transform=chain)`` on
``local[N]`` reads the files through Spark's ``binaryFile`` source, decodes and
preprocesses them on the executors into float32 tensors (Arrow batches) and
caches them; the one-process side runs the same per-file work (read the bytes,
decode with Pillow, the same chain) in a plain loop over the same files, with
one BLAS thread (as each Spark task has). The target is Spark's rate per core
>= 0.8x the one-process rate.

The photos are generated into a temporary folder (no data is committed):
``--images`` JPEGs of 300-600 px per side with photo-like content (smooth
colour gradients, blurred shapes, sensor noise), quality 90, in ``--classes``
class folders. The chain is the ImageNet evaluation one: ``AspectScale(256) >>
CenterCrop(224, 224) >> ChannelNormalize(ImageNet mean/std) >> ToTensor()``.

A timed Spark run is one ``read_images`` call (its cached result is counted
there) followed by ``unpersist``; best of ``--repeats``, the two sides
alternating, after ``--warmup`` untimed reads. The warm-up matters: a fresh
JVM compiles Spark's code paths (file listing, task serialisation, Arrow,
the cache) as they get hot, and on 2,000 photos that JIT work is as large as
the JVM's share of the reading itself (JVM CPU 1.8 s on the first read,
0.9-1.0 s from about the fourth on, idle or not); an ingestion job over a
real image folder runs warm almost all the time. The first read (a cold
JVM) is recorded too, as ``cold``. The load average is recorded: wall-clock rates mean little on a
busy machine. Also recorded, and much less sensitive to other jobs: the CPU
seconds each side used (the one process vs the JVM plus the Python workers),
whose ratio is what Spark would reach per core against the one process if
nothing else ran.

    python scripts/bench_image_ingest_spark.py                      # 2,000 photos
    python scripts/bench_image_ingest_spark.py --images 400 --repeats 2
    python scripts/bench_image_ingest_spark.py --json scripts/bench/results/image-ingest-spark.json
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench.common import set_blas_threads  # noqa: E402
from scripts.bench_inference_spark import load, spark_cpu_seconds, timed  # noqa: E402

TARGET = 0.8
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def photo(rng: np.random.Generator) -> bytes:
    """One photo-like JPEG: a smooth gradient, blurred ellipses and rectangles, noise; 300-600 px a side."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = (int(v) for v in rng.integers(300, 601, 2))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = rng.uniform(-1, 1, (2, 3)) / max(w, h)
    base = rng.uniform(40, 200, 3)
    pixels = base + 120 * (a[None, None, :] * xs[..., None] + b[None, None, :] * ys[..., None])
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(4, 12))):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
    noisy = np.asarray(img, np.float32) + rng.normal(0, 4, (h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_photos(root: Path, n: int, classes: int, seed: int = 0) -> list[Path]:
    """``n`` photo-like JPEGs in ``classes`` folders under ``root``."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        paths.append(folder / f"photo{i:05d}.jpg")
        paths[-1].write_bytes(photo(rng))
    return paths


def chain():
    from zoo.feature.image import AspectScale, CenterCrop, ChannelNormalize, PixelScale, ToTensor

    return AspectScale(256) >> CenterCrop(224, 224) >> PixelScale() >> ChannelNormalize(MEAN, STD) >> ToTensor()


def one_process(paths: list[Path]) -> np.ndarray:
    """The same per-file work in a plain loop: read, decode (Pillow), preprocess; the tensors stacked."""
    from zoo.feature.image.decode import IMAGE_EXTENSIONS
    from zoo.feature.image.reading import ReadOptions, read_file

    options = ReadOptions(None, None, IMAGE_EXTENSIONS, None, "rgb", "raise")
    steps = chain()
    out = np.empty((len(paths), 3, 224, 224), np.float32)
    for i, path in enumerate(paths):
        out[i] = read_file(str(path), path.read_bytes(), options, chain=steps)[1].image
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3, help="untimed Spark reads after the first (JIT warm-up)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--folder", help="use (or fill, when empty) this folder instead of a temporary one")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from bigdl_runtime.spark import init_spark
    from zoo.pipeline import NNImageReader

    with tempfile.TemporaryDirectory(prefix="bench-photos-") as tmp:
        root = Path(args.folder or tmp)
        paths = sorted(root.rglob("*.jpg"))
        if not paths:
            tic = time.perf_counter()
            paths = write_photos(root, args.images, args.classes)
            print(f"wrote {len(paths)} photos ({sum(p.stat().st_size for p in paths) / 2**20:.0f} MB) in "
                  f"{time.perf_counter() - tic:.0f} s", flush=True)
        n = len(paths)
        set_blas_threads(1)     # the one process runs on one core, as each Spark task does
        started = load()
        spark = init_spark(master=f"local[{args.cores}]", app_name="bench-image-ingest")
        times: dict[str, list[float]] = {"one_process": [], "spark": []}
        cpu: dict[str, list[float]] = {"one_process": [], "jvm": [], "python_workers": []}
        try:
            before = spark_cpu_seconds()
            tic = time.perf_counter()
            first = NNImageReader.read_images(str(root), spark, transform=chain(), with_label=None)
            cold = {"seconds": round(time.perf_counter() - tic, 3),
                    **{f"{k}_cpu_s": round(v - before[k], 2) for k, v in spark_cpu_seconds().items()}}
            print(f"  cold JVM: local[{args.cores}] {cold['seconds']:.2f} s (CPU s: JVM {cold['jvm_cpu_s']:.2f} + "
                  f"workers {cold['python_workers_cpu_s']:.2f})", flush=True)
            sample = {r.origin: np.frombuffer(r.features, np.float32) for r in first.limit(3).collect()}
            first.unpersist()
            for _ in range(args.warmup):
                NNImageReader.read_images(str(root), spark, with_label=None, transform=chain()).unpersist()
            for _ in range(args.repeats):
                start = time.process_time()
                times["one_process"].append(timed(lambda: one_process(paths)))
                cpu["one_process"].append(time.process_time() - start)
                before = spark_cpu_seconds()

                def spark_read() -> None:
                    NNImageReader.read_images(str(root), spark, with_label=None, transform=chain()).unpersist()

                times["spark"].append(timed(spark_read))
                after = spark_cpu_seconds()
                for k in ("jvm", "python_workers"):
                    cpu[k].append(after[k] - before[k])
                print(f"  one process {times['one_process'][-1]:.2f} s ({cpu['one_process'][-1]:.2f} CPU s), "
                      f"local[{args.cores}] {times['spark'][-1]:.2f} s (CPU s: JVM {cpu['jvm'][-1]:.2f} + workers "
                      f"{cpu['python_workers'][-1]:.2f}); load {load()[0]}", flush=True)
        finally:
            spark.stop()
        expected = one_process([Path(p) for p in sample])
        agree = max(float(np.abs(expected[i].ravel() - x).max()) for i, x in enumerate(sample.values()))
    ended = load()
    one, many = n / min(times["one_process"]), n / min(times["spark"])
    ratio = many / args.cores / one
    spark_cpu = min(j + w for j, w in zip(cpu["jvm"], cpu["python_workers"]))
    cpu_ratio = min(cpu["one_process"]) / spark_cpu
    print(f"\nload average (1, 5, 15 min): {started} at the start, {ended} at the end")
    print(f"| images | one process img/s | local[{args.cores}] img/s | per-core ratio | target | "
          "img per CPU-s: one process / Spark (JVM + workers) | CPU ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {n} | {one:.1f} | {many:.1f} | {ratio:.2f} | {TARGET} | {n / min(cpu['one_process']):.0f} / "
          f"{n / spark_cpu:.0f} | {cpu_ratio:.2f} |")
    if args.json:
        record = {"command": " ".join(["python", *sys.argv]), "images": n, "cores": args.cores,
                  "images_per_s": {"one_process": round(one, 1), "spark": round(many, 1)},
                  "per_core_ratio": round(ratio, 3), "target": TARGET,
                  "cpu_ratio_spark_vs_one_process": round(cpu_ratio, 3),
                  "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
                  "cpu_seconds": {k: [round(c, 2) for c in v] for k, v in cpu.items()},
                  "warmup_reads": args.warmup, "cold": cold,
                  "max_abs_diff_vs_one_process": agree,
                  "load_average_start": started, "load_average_end": ended,
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                  "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
