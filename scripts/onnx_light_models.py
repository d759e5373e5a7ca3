"""Import the onnx package's "light" model-zoo architectures and compare with onnxruntime.

The onnx wheel ships AlexNet, DenseNet-121, Inception v1/v2, ResNet-50, ShuffleNet,
SqueezeNet, VGG-19 and ZFNet-512 with every weight replaced by a ConstantOfShape
fill (so no download is needed, but the outputs are a uniform softmax). This script
puts random He-scaled weights in their place, so that the comparison means
something, imports each model with ``zoo.load_onnx`` and prints the import time, the
time of one forward pass (ours and onnxruntime's), the max relative error against
onnxruntime and the spread of the reference output (a collapsed output would make
the comparison meaningless).

Usage:
    .venv/bin/python scripts/onnx_light_models.py [name ...]   # e.g. squeezenet resnet50
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo.importers.onnx import load_onnx  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def with_random_weights(model: onnx.ModelProto, rng: np.random.Generator) -> onnx.ModelProto:
    """``model`` with each ConstantOfShape fill replaced by a random initializer of that shape, ending at the logits."""
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = []
    for node in model.graph.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in consts:
            kept.append(node)
            continue
        shape = [int(d) for d in consts[node.input[0]]]
        if len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif any(key in node.output[0] for key in ("var", "riv", "scale", "_s_", "sc_w")):
            value = rng.uniform(0.5, 1.5, shape)  # batch-norm variances and scales: positive, near 1
        else:
            value = rng.standard_normal(shape) * 0.1  # biases and means
        out.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
    if kept[-1].op_type == "Softmax":  # compare the logits: a saturated softmax would hide differences
        logits = kept.pop().input[0]
        del out.graph.output[:]
        out.graph.output.append(onnx.helper.make_empty_tensor_value_info(logits))
    del out.graph.node[:]
    out.graph.node.extend(kept)
    out.ir_version = max(out.ir_version, 4)  # initializers need not be listed as graph inputs
    return out


def main(names: list[str]) -> None:
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    print(f"{'model':<20} {'import s':>8} {'ours s':>8} {'ort s':>8} {'max rel err':>12} {'output std':>11}")
    for path in sorted(LIGHT.glob("*.onnx")):
        if names and not any(n in path.name for n in names):
            continue
        model = with_random_weights(onnx.load(str(path)), rng)
        start = time.perf_counter()
        net = load_onnx(model).evaluate()
        imported = time.perf_counter() - start
        vi = next(i for i in model.graph.input if i.name == net.input_names[0])
        x = rng.random([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
        start = time.perf_counter()
        ours = net(x)
        ours_s = time.perf_counter() - start
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        start = time.perf_counter()
        ref = session.run(None, {vi.name: x})[0]
        ort_s = time.perf_counter() - start
        rel = float(np.abs(ours - ref).max() / np.abs(ref).max())
        print(f"{path.stem:<20} {imported:8.2f} {ours_s:8.2f} {ort_s:8.2f} {rel:12.2e} {float(ref.std()):11.2e}")


if __name__ == "__main__":
    main(sys.argv[1:])
