"""DeformConv, composed of our layers at import, against onnxruntime (groups, offset groups, masks, strides)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from zoo.importers.onnx import load_onnx

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("group,offset_group,with_mask,strides,dilations,pads", [
    (1, 1, False, [1, 1], [1, 1], [0, 0, 0, 0]),
    (2, 2, True, [2, 1], [1, 2], [1, 0, 1, 2]),
    (1, 2, True, [1, 2], [2, 1], [1, 1, 1, 1]),
])
def test_deform_conv_matches_onnxruntime(group, offset_group, with_mask, strides, dilations, pads) -> None:
    rng = np.random.default_rng(0)
    n, c, h, w, out_c, kh, kw = 2, 4, 7, 6, 6, 3, 2
    out_h = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    out_w = (w + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    offset = (2 * rng.standard_normal((n, offset_group * 2 * kh * kw, out_h, out_w))).astype(np.float32)
    mask = rng.uniform(0, 1, (n, offset_group * kh * kw, out_h, out_w)).astype(np.float32)
    weight = rng.standard_normal((out_c, c // group, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(out_c).astype(np.float32)
    feeds = {"x": x, "offset": offset, **({"mask": mask} if with_mask else {})}
    node = helper.make_node("DeformConv", ["x", "W", "offset", "B", "mask" if with_mask else ""], ["y"],
                            group=group, offset_group=offset_group, strides=strides, dilations=dilations, pads=pads,
                            kernel_shape=[kh, kw])
    inputs = [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, list(v.shape)) for k, v in feeds.items()]
    graph = helper.make_graph([node], "deform", inputs, [helper.make_empty_tensor_value_info("y")],
                              initializer=[onnx.numpy_helper.from_array(weight, "W"),
                                           onnx.numpy_helper.from_array(bias, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got = load_onnx(model).evaluate()(*feeds.values())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
