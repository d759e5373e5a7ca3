"""Inference rows: ResNet-18 and MobileNetV2 forward in evaluation mode, ours vs onnxruntime (and PyTorch).

Our model is exported with ``Module.to_onnx`` and the very same weights run in
onnxruntime (``intra_op_num_threads`` = our BLAS threads); a second row runs our model
after ``fuse_for_inference`` (conv + batch norm folded, as onnxruntime does on its own, and the
convolutions, poolings, residual adds and classifier run as one oneDNN plan over blocked activations).
Target: <= 1.5x onnxruntime's time as built (issue 8; MobileNetV2: issue 17), <= 1.1x fused (issue 20).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bigdl_runtime.nn.fuse import fuse_for_inference

from .common import Case, Runner
from .models import OURS, torch_models
from .steps import make_batch

INFERENCE_TARGET = 1.5
FUSED_TARGET = 1.1
TITLES = {"resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2"}


def inference_case(model: str, batch: int, threads: int, fused: bool) -> Case:
    """Our forward (after :func:`fuse_for_inference` when ``fused``) vs onnxruntime and torch."""
    def setup() -> dict[str, Runner]:
        import onnxruntime as ort
        import torch

        net = OURS[model]().evaluate()
        x, _ = make_batch(model, batch)
        path = Path(tempfile.mkdtemp(prefix="bench-onnx-")) / f"{model}.onnx"
        net.to_onnx(str(path), x.shape[1:])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        expected = session.run(None, feed)[0]
        if fused:
            net = fuse_for_inference(net)
        got = net.forward(x)
        if not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
            raise AssertionError(f"{model}: our output differs from onnxruntime's by "
                                 f"{np.abs(got - expected).max():.3g}")
        tnet = torch_models()[model]().eval()
        xt = torch.from_numpy(x)

        def theirs() -> None:
            with torch.inference_mode():
                tnet(xt)

        return {"ours": lambda: net.forward(x), "onnxruntime": lambda: session.run(None, feed),
                "torch": theirs}

    title = f"{TITLES[model]} eval b{batch}" + (" conv+BN folded" if fused else "")
    return Case("inference", title, setup, reference="onnxruntime",
                target=FUSED_TARGET if fused else INFERENCE_TARGET, extra={"model": model})


def cases(batch: int, threads: int) -> list[Case]:
    return [inference_case(model, batch, threads, fused) for model in TITLES for fused in (False, True)]
