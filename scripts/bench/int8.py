"""Int8 inference rows: ResNet-18 quantised by ``bigdl_runtime.quantize`` against our own float32 model and
against onnxruntime's int8 of the same model.

The float32 model is ``fuse_for_inference`` of the benchmark ResNet-18 (batch norms folded, ReLUs fused, runs
of layers as blocked oneDNN plans: our fastest float32); ours is ``quantize(model, calibration)`` (min-max, 32 random calibration images; speed does not depend on
the ranges). onnxruntime's is ``onnxruntime.quantization.quantize_static`` of the same folded model exported
to ONNX: QDQ format, uint8 activations, per-channel int8 weights (its x86 fast path, u8s8 on VNNI), run with
the same intra-op threads. Targets (issue 20): int8 >= 1.8x faster than our float32 (ratio <= 1 / 1.8), and
<= 1.2x onnxruntime's int8 time.
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

import bigdl_runtime as br
from bigdl_runtime.nn.fuse import fuse_for_inference

from .common import Case, Runner
from .models import OURS
from .steps import make_batch

VS_FLOAT32_TARGET = 1 / 1.8
VS_ONNXRUNTIME_TARGET = 1.2
CALIBRATION_IMAGES = 32


@functools.lru_cache(maxsize=2)
def _models(batch: int, threads: int) -> dict:
    """Our float32 and int8 ResNet-18, onnxruntime's int8 session, and the input batch (built once for both rows)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    net = OURS["resnet18"]().evaluate()
    fused = fuse_for_inference(net)
    x, _ = make_batch("resnet18", batch)
    calibration = np.random.default_rng(1).standard_normal((CALIBRATION_IMAGES, 3, 224, 224), dtype=np.float32)
    int8 = br.quantize(net, calibration, batch_size=8)
    folder = Path(tempfile.mkdtemp(prefix="bench-int8-"))
    fuse_for_inference(net, blocked=False).to_onnx(str(folder / "resnet18.onnx"), x.shape[1:])
    name = ort.InferenceSession(str(folder / "resnet18.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{name: calibration[i:i + 8]} for i in range(0, CALIBRATION_IMAGES, 8)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    quantize_static(str(folder / "resnet18.onnx"), str(folder / "resnet18-int8.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "resnet18-int8.onnx"), options, providers=["CPUExecutionProvider"])
    feed = {name: x}
    ours, float32, theirs = int8.forward(x), fused.forward(x), session.run(None, feed)[0]
    agree = float((ours.argmax(1) == float32.argmax(1)).mean())
    if agree < 0.9 or float((theirs.argmax(1) == float32.argmax(1)).mean()) < 0.9:
        raise AssertionError(f"int8 ResNet-18 disagrees with float32: ours {agree:.2f} of the top-1 classes")
    return {"int8": int8, "float32": fused, "session": session, "feed": feed, "x": x}


def int8_case(batch: int, threads: int, reference: str) -> Case:
    """Our int8 ResNet-18 forward vs ``reference``: "float32" (ours) or "onnxruntime" (its int8)."""
    def setup() -> dict[str, Runner]:
        m = _models(batch, threads)
        runners: dict[str, Runner] = {"ours": lambda: m["int8"].forward(m["x"])}
        if reference == "float32":
            runners["float32"] = lambda: m["float32"].forward(m["x"])
        else:
            runners["onnxruntime"] = lambda: m["session"].run(None, m["feed"])
        return runners

    if reference == "float32":
        return Case("inference", f"ResNet-18 int8 b{batch} vs our float32", setup, reference="float32",
                    target=VS_FLOAT32_TARGET, extra={"model": "resnet18"})
    return Case("inference", f"ResNet-18 int8 b{batch} vs ORT int8", setup, reference="onnxruntime",
                target=VS_ONNXRUNTIME_TARGET, extra={"model": "resnet18"})


def cases(batch: int, threads: int) -> list[Case]:
    return [int8_case(batch, threads, reference) for reference in ("float32", "onnxruntime")]
