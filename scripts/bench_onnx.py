"""Benchmark our runtime against onnxruntime on exported and real models, and zoo.predict on Spark.

Part 1: images (or sequences) per second of a forward pass, our runtime vs
onnxruntime on the ONNX file our exporter wrote from the same model, at the same
thread count (numpy's OpenBLAS threads = onnxruntime's intra-op threads), with
the ratio ours / onnxruntime (of time; > 1 means we are slower):
    - ResNet-18, batch 32, 3 x 224 x 224;
    - a 2-layer LSTM (64 -> 128, 50 steps) + Linear classifier, batch 32.

Part 2: rows per second scoring LeNet-5 on flat 784-value rows: ``zoo.predict``
on a ``local[2]`` Spark DataFrame (cached input, ``output="label"``, collected),
one process of ours (numpy batches of 256, 1 thread) and onnxruntime (1 thread).

Part 3 (``--real``): the imported real-model set of ``scripts/onnx_real_models.py`` (its list
and input makers, at each model's benchmark batch: one frame for the streaming audio models),
our evaluation-mode ``net(*inputs)`` vs onnxruntime's ``session.run`` at the same thread count:
ms per call (best of ``--repeats`` rounds of up to 20 calls each), the ratio, the max relative
error, and the geometric mean of the ratios over the models that import.

    python scripts/bench_onnx.py              # parts 1 and 2 (several minutes on 2 cores)
    python scripts/bench_onnx.py --quick      # batch 8 ResNet, 2 repeats, 4096 rows
    python scripts/bench_onnx.py --skip-spark
    python scripts/bench_onnx.py --real --threads 1 --json scripts/bench/results/onnx-real-models.json
    python scripts/bench_onnx.py --real silero magika   # only models whose name contains one of these
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigdl_runtime.nn import Module, Sequential, layers as L  # noqa: E402
from zoo.models.lenet import lenet5  # noqa: E402


def set_blas_threads(n: int) -> bool:
    """Set numpy's OpenBLAS thread count at run time; False when no OpenBLAS is loaded."""
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    for path in libs:
        lib = ctypes.CDLL(path)
        for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "openblas_set_num_threads64_"):
            if hasattr(lib, symbol):
                getattr(lib, symbol)(ctypes.c_int(n))
                return True
    return False


def resnet18() -> Module:
    """The zoo's ResNet-18 when it is installed, else the same architecture built here from our layers."""
    try:
        from zoo.models.resnet import resnet18 as zoo_resnet18
    except ImportError:
        return _resnet18_here()
    return zoo_resnet18()


def _resnet18_here() -> Module:
    from bigdl_runtime.nn import Graph, Input

    def conv_bn(x: object, cin: int, cout: int, k: int, stride: int, name: str) -> object:
        return L.BatchNorm2d(cout, name=f"{name}_bn")(
            L.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, name=name)(x))

    x = Input(name="image")
    h = L.MaxPool2d(3, 2, 1, name="pool1")(L.ReLU(name="relu1")(conv_bn(x, 3, 64, 7, 2, "conv1")))
    cin = 64
    for stage, cout in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            name, stride = f"layer{stage}_{block}", 2 if stage > 1 and block == 0 else 1
            y = L.ReLU(name=f"{name}_relu1")(conv_bn(h, cin, cout, 3, stride, f"{name}_conv1"))
            y = conv_bn(y, cout, cout, 3, 1, f"{name}_conv2")
            skip = conv_bn(h, cin, cout, 1, stride, f"{name}_down") if stride != 1 or cin != cout else h
            h, cin = L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")(y, skip)), cout
    logits = L.Linear(512, 1000, name="fc")(L.Flatten()(L.GlobalAvgPool2d(name="pool5")(h)))
    return Graph(x, logits)


def lstm_model() -> Module:
    return Sequential(L.LSTM(64, 128, num_layers=2, return_sequences=False, name="lstm"), L.Linear(128, 10, name="fc"))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    return min(timed(fn) for _ in range(repeats))


def timed(fn: Callable[[], object]) -> float:
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def ort_session(path: str, threads: int):  # noqa: ANN201 (onnxruntime is a bench-only dependency)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def forward_rows(name: str, model: Module, sample_shape: tuple[int, ...], batch: int, repeats: int,
                 workdir: str) -> list[tuple[str, int, float, float]]:
    """(case, threads, ours items/s, onnxruntime items/s) at 1 and 2 threads; checks the outputs agree."""
    path = f"{workdir}/{name}.onnx"
    model.evaluate()
    model.to_onnx(path, sample_shape)
    x = np.random.default_rng(0).normal(size=(batch, *sample_shape)).astype(np.float32)
    rows = []
    for threads in (1, 2):
        set_blas_threads(threads)
        session = ort_session(path, threads)
        feed = {session.get_inputs()[0].name: x}
        ours = best_time(lambda: model.forward(x), repeats)
        theirs = best_time(lambda: session.run(None, feed), repeats)
        err = float(np.max(np.abs(model.forward(x) - session.run(None, feed)[0])))
        print(f"  {name} threads={threads}: ours {ours:.3f} s, onnxruntime {theirs:.3f} s per batch, "
              f"max abs diff {err:.2e}", flush=True)
        rows.append((name, threads, batch / ours, batch / theirs))
    return rows


def spark_rows(n_rows: int, repeats: int, workdir: str) -> list[tuple[str, float]]:
    """rows/s of LeNet-5 scoring: zoo.predict on local[2], one process of ours, onnxruntime (1 thread each)."""
    from bigdl_runtime.spark import init_spark
    from bigdl_runtime.spark.arrow import tensors
    from zoo.pipeline.inference import predict

    model = lenet5().evaluate()
    path = f"{workdir}/lenet.onnx"
    model.to_onnx(path, (1, 28, 28))
    spark = init_spark(master="local[2]", app_name="bench-onnx")
    try:
        df = spark.range(n_rows).selectExpr(
            "id", "transform(sequence(1, 784), i -> cast(rand(7) as float)) as pixels").repartition(2).cache()
        df.count()
        scored = predict(model, df, input_col="pixels", input_shape=(1, 28, 28), output="label")
        spark_time = best_time(lambda: scored.select("prediction").collect(), repeats)
        x = tensors(df.select("pixels").toArrow().column(0), (1, 28, 28))   # the same rows, through Arrow
    finally:
        spark.stop()
    set_blas_threads(1)
    ours = best_time(lambda: [model.forward(x[i:i + 256]) for i in range(0, len(x), 256)], repeats)
    session = ort_session(path, 1)
    theirs = best_time(lambda: [session.run(None, {"input": x[i:i + 256]}) for i in range(0, len(x), 256)], repeats)
    return [("zoo.predict, Spark local[2]", n_rows / spark_time), ("ours, one process, 1 thread", n_rows / ours),
            ("onnxruntime, one process, 1 thread", n_rows / theirs)]


def _best_ms(fn: Callable[[], object], repeats: int, calls: int = 20, budget: float = 2.0) -> float:
    """Best time of one call in ms over ``repeats`` rounds of up to ``calls`` calls (a round stops after
    ``budget`` seconds), after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            best = min(best, timed(fn))
            if time.perf_counter() - start > budget:
                break
    return best * 1e3


def real_model_rows(names: list[str], repeats: int, threads: int) -> list[dict]:
    """One row per model of the real-model set (name filter ``names``): ours and onnxruntime's ms,
    the ratio and the max relative error on the model's benchmark inputs; ``error`` when it fails."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import onnx_real_models as real
    from zoo.importers.onnx import load_onnx

    rows = []
    for model in real.MODELS:
        if names and not any(n in model.name for n in names):
            continue
        row: dict = {"model": model.name, "kind": model.kind}
        try:
            path = real.fetch(model, real.DEFAULT_CACHE)
            net = load_onnx(str(path))
        except Exception as err:  # the table reports it
            rows.append({**row, "error": f"{type(err).__name__}: {err}"[:200]})
            print(f"  {model.name}: {rows[-1]['error']}", flush=True)
            continue
        feeds = model.bench_inputs(np.random.default_rng(0))
        session = ort_session(str(path), threads)
        args = [feeds[name] for name in net.input_names]
        out = net(*args)
        row["batch"] = [list(np.shape(feeds[name])) for name in net.input_names]
        row["max_rel_err"] = real.max_rel_error(list(out) if isinstance(out, (list, tuple)) else [out],
                                                session.run(None, feeds))
        row["ours_ms"] = _best_ms(lambda: net(*args), repeats)
        row["ort_ms"] = _best_ms(lambda: session.run(None, feeds), repeats)
        row["ratio"] = row["ours_ms"] / row["ort_ms"]
        rows.append(row)
        print(f"  {model.name}: ours {row['ours_ms']:.3f} ms, onnxruntime {row['ort_ms']:.3f} ms, "
              f"ratio {row['ratio']:.2f}, max rel err {row['max_rel_err']:.1e}", flush=True)
    return rows


def geometric_mean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def print_real_table(rows: list[dict], threads: int) -> None:
    print(f"\n| model | inputs | ours ms | onnxruntime ms | ratio ours/ort | max rel err |  ({threads} thread(s))")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | - | - | - | - | {r['error'][:80]} |")
            continue
        shapes = ", ".join("x".join(str(d) for d in shape) or "scalar" for shape in r["batch"])
        print(f"| {r['model']} | {shapes} | {r['ours_ms']:.3f} | {r['ort_ms']:.3f} | {r['ratio']:.2f} | "
              f"{r['max_rel_err']:.1e} |")
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    print(f"| geometric mean ({len(ratios)} models) | | | | {geometric_mean(ratios):.2f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ResNet batch 8, 2 repeats, 4096 Spark rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=16384, help="rows scored in the Spark comparison")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--real", nargs="*", metavar="NAME",
                        help="only the real-model section (optionally only models whose name contains a NAME)")
    parser.add_argument("--threads", type=int, default=None,
                        help="real-model section: BLAS, oneDNN and onnxruntime threads (default: numpy's BLAS count)")
    parser.add_argument("--json", type=Path, default=None, help="real-model section: write the rows here")
    args = parser.parse_args()
    if args.real is not None:
        from bigdl_runtime.kernels.threads import block_threads

        if args.threads is not None and not set_blas_threads(args.threads):
            parser.error("--threads needs numpy's OpenBLAS (its thread count cannot be set here)")
        threads = block_threads()
        rows = real_model_rows(args.real, args.repeats, threads)
        print_real_table(rows, threads)
        if args.json is not None:
            ratios = [r["ratio"] for r in rows if "ratio" in r]
            load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"threads": threads, "repeats": args.repeats, "loadavg_at_end": load,
                                             "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                             "geomean_ratio": geometric_mean(ratios), "rows": rows}, indent=1))
        return
    repeats = 2 if args.quick else args.repeats
    batch = 8 if args.quick else 32
    with tempfile.TemporaryDirectory() as workdir:
        results = forward_rows("resnet18", resnet18(), (3, 224, 224), batch, repeats, workdir)
        results += forward_rows("lstm", lstm_model(), (50, 64), 32, repeats, workdir)
        print("\n| model (batch) | threads | ours items/s | onnxruntime items/s | time ratio ours/ort |")
        print("| --- | --- | --- | --- | --- |")
        for name, threads, ours, theirs in results:
            size = batch if name == "resnet18" else 32
            print(f"| {name} ({size}) | {threads} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f} |")
        if not args.skip_spark:
            rows = spark_rows(4096 if args.quick else args.rows, repeats, workdir)
            print("\n| LeNet-5 scoring | rows/s |")
            print("| --- | --- |")
            for name, rate in rows:
                print(f"| {name} | {rate:.0f} |")


if __name__ == "__main__":
    main()
