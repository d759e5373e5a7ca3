"""onnxruntime's com.microsoft::DynamicQuantizeLSTM imported and run against onnxruntime's own kernel."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

import bigdl_runtime
from bigdl_runtime import nn
from bigdl_runtime.kernels.threads import block_threads
from zoo.importers.onnx import load_onnx
from zoo.importers.onnx.reader import OnnxImportError


def _model(steps: int, batch: int, inputs: int, hidden: int, direction: str, per_channel: bool, dtype: type,
           states: bool, seed: int = 0, zero: int | None = None) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """One DynamicQuantizeLSTM node (weights, scales and zero points as initializers) and its feeds."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    low, high = (-128, 128) if dtype == np.int8 else (0, 256)
    w = rng.integers(low, high, (dirs, inputs, 4 * hidden)).astype(dtype)
    r = rng.integers(low, high, (dirs, hidden, 4 * hidden)).astype(dtype)
    shape = (dirs, 4 * hidden) if per_channel else (dirs,)
    if zero is None:
        zero = 0 if dtype == np.int8 else 120
    params = {"W": w, "R": r, "B": (0.1 * rng.standard_normal((dirs, 8 * hidden))).astype(np.float32),
              "W_scale": rng.uniform(1e-3, 4e-3, shape).astype(np.float32), "W_zero": np.full(shape, zero, dtype),
              "R_scale": rng.uniform(1e-3, 4e-3, shape).astype(np.float32), "R_zero": np.full(shape, zero, dtype)}
    feeds = {"X": rng.standard_normal((steps, batch, inputs)).astype(np.float32)}
    if states:
        feeds["h0"] = (0.3 * rng.standard_normal((dirs, batch, hidden))).astype(np.float32)
        feeds["c0"] = (0.3 * rng.standard_normal((dirs, batch, hidden))).astype(np.float32)
    names = ["X", "W", "R", "B", "", "h0" if states else "", "c0" if states else "", "",
             "W_scale", "W_zero", "R_scale", "R_zero"]
    node = helper.make_node("DynamicQuantizeLSTM", names, ["Y", "Y_h", "Y_c"], name="qlstm", domain="com.microsoft",
                            hidden_size=hidden, direction=direction)
    infos = [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, list(v.shape)) for k, v in feeds.items()]
    graph = helper.make_graph([node], "qlstm", infos, [helper.make_empty_tensor_value_info(o) for o in node.output],
                              [numpy_helper.from_array(v, k) for k, v in params.items()])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8), feeds


def _onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray], threads: int) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


@pytest.mark.parametrize("steps,batch,inputs,hidden,direction,per_channel,dtype,states", [
    (5, 1, 6, 4, "forward", False, np.int8, True),
    (5, 3, 6, 4, "bidirectional", True, np.int8, True),
    (7, 6, 5, 8, "reverse", False, np.uint8, False),  # batch split over threads: a scale per row block
    (4, 2, 3, 300, "forward", True, np.int8, True),  # H > 256: the batch quantised together
    (4, 3, 5, 4, "bidirectional", False, np.uint8, False),
    (3, 1, 700, 16, "forward", False, np.int8, False),  # K * 255 * 128 > 2**24: the exact float64 product
])
def test_dynamic_quantize_lstm_matches_onnxruntime(steps, batch, inputs, hidden, direction, per_channel, dtype,
                                                   states) -> None:
    model, feeds = _model(steps, batch, inputs, hidden, direction, per_channel, dtype, states)
    want = _onnxruntime(model, feeds, block_threads())
    got = load_onnx(model)(*feeds.values())
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.dtype == np.float32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_hidden_state_scales_follow_onnxruntimes_batch_blocks() -> None:
    """With the batch split over 2 threads each half has its own scale; one scale for all rows differs."""
    model, feeds = _model(6, 6, 5, 8, "forward", False, np.int8, False, seed=3)
    net = load_onnx(model)
    got = net(*feeds.values())[0]
    want = _onnxruntime(model, feeds, block_threads())[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    other_threads = 1 if block_threads() > 1 else 2
    other = _onnxruntime(model, feeds, other_threads)[0]
    assert np.abs(other - want).max() > 1e-4  # the partition is visible in the results


def test_quantised_lstm_refuses_backward_and_survives_save(tmp_path) -> None:
    model, feeds = _model(4, 2, 3, 5, "bidirectional", True, np.uint8, True)
    net = load_onnx(model)
    want = net(*feeds.values())
    path = str(tmp_path / "qlstm.bigdl")
    net.save(path)
    for g, w in zip(bigdl_runtime.load(path)(*feeds.values()), want):
        np.testing.assert_array_equal(g, w)
    layer = nn.DynamicQuantizedLSTM(3, 5)
    layer(np.ones((2, 1, 3), np.float32))
    with pytest.raises(RuntimeError, match="no gradient"):
        layer.backward((np.ones((2, 1, 1, 5)),))


@pytest.mark.parametrize("zero,match", [(3, "must be 0 for int8"), (0, None)])
def test_int8_weights_need_a_zero_zero_point(zero: int, match: str | None) -> None:
    model, _ = _model(2, 1, 3, 4, "forward", False, np.int8, False, zero=zero)
    if match is None:
        load_onnx(model)
        return
    with pytest.raises(OnnxImportError, match=f"qlstm.*{match}|{match}.*qlstm"):
        load_onnx(model)


def test_prepared_weights_are_made_again_after_load_state_dict() -> None:
    """The layer keeps its prepared (int8 / centred float) weights between calls; new buffer values replace them."""
    model, feeds = _model(4, 1, 3, 5, "forward", False, np.int8, True)
    net = load_onnx(model)
    first = net(*feeds.values())
    flipped = {k: -v for k, v in net.state_dict().items() if v.dtype == np.int8 and v.ndim == 2}
    assert flipped
    net.load_state_dict(flipped, strict=False)
    fresh = load_onnx(model)
    fresh.load_state_dict(flipped, strict=False)
    for g, w, old in zip(net(*feeds.values()), fresh(*feeds.values()), first):
        np.testing.assert_array_equal(g, w)
        assert not np.array_equal(g, old)


def test_a_used_quantised_lstm_pickles() -> None:
    """Its prepared weights (with oneDNN plans) stay behind; the copy prepares its own and gives the same outputs."""
    import pickle

    model, feeds = _model(3, 1, 3, 5, "forward", False, np.int8, False)
    net = load_onnx(model)
    want = net(*feeds.values())
    copy = pickle.loads(pickle.dumps(net))
    for g, w in zip(copy(*feeds.values()), want):
        np.testing.assert_array_equal(g, w)
