"""bigdl_runtime.quantize: the int8 model against the float one, the original left untouched, save/load,
the numpy fallback, calibration methods, ONNX (QDQ) run by onnxruntime, and errors."""
from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

import bigdl_runtime as br
from bigdl_runtime import nn
from bigdl_runtime.kernels import onednn_int8
from bigdl_runtime.nn import layers as L
from bigdl_runtime.quantization.calibration import Observer, int8_weight, uint8_params


def _net() -> nn.Sequential:
    """A small conv net with every pattern quantize() handles: conv + BN + ReLU (folded), conv -> conv
    (chained in uint8), pooling, linear + ReLU (fused), a final linear."""
    nn.random.manual_seed(0)
    return nn.Sequential(L.Conv2d(3, 8, 3, padding=1, name="c1"), L.BatchNorm2d(8, name="bn1"), L.ReLU(),
                         L.Conv2d(8, 16, 3, padding=1, name="c2"), L.ReLU(),
                         L.Conv2d(16, 16, 3, stride=2, padding=1, name="c3"), L.MaxPool2d(2), L.Flatten(),
                         L.Linear(16 * 4 * 4, 32, name="fc1"), L.ReLU(), L.Linear(32, 5, name="fc2"))


@pytest.fixture
def net_and_data(rng):
    net = _net()
    bn = net.bn1
    bn.running_mean[...] = rng.normal(0, 0.1, 8)
    bn.running_var[...] = rng.uniform(0.5, 2, 8)
    x = rng.normal(size=(96, 3, 16, 16)).astype(np.float32)
    return net.evaluate(), x


def test_int8_model_follows_the_float_model_and_leaves_it_untouched(net_and_data) -> None:
    net, x = net_and_data
    before = {k: v.copy() for k, v in net.state_dict().items()}
    types = [type(m) for m in net.modules()]
    q = br.quantize(net, x[:64])
    assert [type(m) for m in net.modules()] == types
    assert all(np.array_equal(before[k], v) for k, v in net.state_dict().items())
    names = [type(m).__name__ for m in q.children()]
    assert names == ["QuantizedConv2d", "QuantizedConv2d", "QuantizedConv2d", "MaxPool2d", "Flatten",
                     "QuantizedLinear", "QuantizedLinear"]
    c1, c2, c3 = list(q.children())[:3]
    assert c1.relu and c2.relu and not c3.relu  # BN folded, ReLUs fused
    assert (c1.output_scale, c1.output_zero_point) == (c2.input_scale, c2.input_zero_point)  # chained in uint8
    assert c3.output_scale is None and q.fc1.relu and q.fc1.output_scale == q.fc2.input_scale
    assert c2.quantized_input and c3.quantized_input and q.fc2.quantized_input and not c1.quantized_input
    assert q.c1.weight.dtype == np.int8 and q.c1.weight_scale.shape == (8,)
    want, got = net.forward(x[64:]), q.forward(x[64:])
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


def test_raw_uint8_input_is_a_value_as_for_the_float_model(net_and_data) -> None:
    """A model's first int8 layer casts uint8 images to float32 like the float model, it does not take them
    as already quantised."""
    net, x = net_and_data
    pixels = np.random.default_rng(0).integers(0, 4, (8, 3, 16, 16)).astype(np.uint8)
    q = br.quantize(net, pixels.astype(np.float32))
    np.testing.assert_array_equal(q.forward(pixels), q.forward(pixels.astype(np.float32)))
    from_pixels = br.quantize(net, pixels)  # uint8 calibration images are observed as values too
    assert type(from_pixels.c1).__name__ == "QuantizedConv2d" and from_pixels.c1.input_scale == q.c1.input_scale


def test_save_load_round_trip_stores_int8_weights(net_and_data, tmp_path, rng) -> None:
    net, x = net_and_data
    q = br.quantize(net, x)
    q.save(str(tmp_path / "int8.bigdl"))
    back = br.load(str(tmp_path / "int8.bigdl")).evaluate()
    np.testing.assert_array_equal(back.forward(x), q.forward(x))
    assert back.c2.weight.dtype == np.int8 and back.c2.quantized_input
    # where the weights outweigh the architecture record (any real model), the file is < 0.3x the float one
    nn.random.manual_seed(0)
    wide = nn.Sequential(L.Conv2d(8, 64, 3, padding=1), L.ReLU(), L.Conv2d(64, 64, 3, padding=1), L.Flatten(),
                         L.Linear(64 * 4 * 4, 10)).evaluate()
    wide.save(str(tmp_path / "f32.bigdl"))
    br.quantize(wide, rng.normal(size=(16, 8, 4, 4)).astype(np.float32)).save(str(tmp_path / "wide-int8.bigdl"))
    assert os.path.getsize(tmp_path / "wide-int8.bigdl") <= 0.3 * os.path.getsize(tmp_path / "f32.bigdl")


def test_numpy_fallback_gives_the_onednn_results(net_and_data, monkeypatch) -> None:
    net, x = net_and_data
    q = br.quantize(net, x)
    fast = q.forward(x)

    def missing(*args, **kwargs):
        raise onednn_int8.Unsupported("test: oneDNN off")

    monkeypatch.setattr(onednn_int8, "conv2d_int8", missing)
    monkeypatch.setattr(onednn_int8, "matmul_int8", missing)
    slow = q.forward(x)
    # the uint8 requantisations may round a tie the other way: at most a step of a few activations
    assert np.abs(slow - fast).max() <= 0.02 * np.abs(fast).max()
    assert (slow.argmax(1) == fast.argmax(1)).mean() >= 0.97


def test_calibration_methods_choose_ranges() -> None:
    rng = np.random.default_rng(0)
    obs = Observer()
    for _ in range(4):  # the histogram widens as later batches bring larger values
        batch = rng.normal(size=10_000).astype(np.float32)
        batch[:2] *= 40  # rare outliers
        obs.update(batch)
    low, high = obs.range("minmax")
    assert (low, high) == (obs.low, obs.high)
    p_low, p_high = obs.range("percentile", 99.9)
    assert -4.5 < p_low < -2.5 and 2.5 < p_high < 4.5  # ~3.3 sigma
    e_low, e_high = obs.range("entropy")
    assert e_high < 0.5 * high and e_low > 0.5 * low  # outliers clipped
    assert obs.hist.sum() == 40_000
    relu = Observer()  # after a ReLU: mostly zeros, whose spike must not pull the threshold down
    relu.update(np.maximum(rng.normal(-1.0, 1.0, 100_000), 0))
    low, high = relu.range("entropy")
    assert low == 0.0 and 1.5 < high <= relu.high
    scale, zero_point = uint8_params(-1.0, 3.0)
    assert zero_point == 64 and abs(scale - 4 / 255) < 1e-9
    q, s = int8_weight(np.array([[0.5, -1.0], [0.0, 0.0]], np.float32))
    np.testing.assert_array_equal(q, [[64, -127], [0, 0]])
    assert s[0] == pytest.approx(1 / 127)


def test_onnx_export_is_qdq_and_onnxruntime_matches(net_and_data, tmp_path) -> None:
    net, x = net_and_data
    q = br.quantize(net, x)
    model = q.to_onnx(str(tmp_path / "int8.onnx"), (3, 16, 16))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") == 5 and ops.count("DequantizeLinear") == 10
    assert {i.data_type for i in model.graph.initializer if i.name.endswith("weight_int8")} == {3}  # INT8
    session = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    ours = q.forward(x)
    assert np.abs(theirs - ours).max() <= 0.02 * np.abs(ours).max()
    assert (theirs.argmax(1) == ours.argmax(1)).mean() >= 0.97


def test_graph_models_quantise_with_shared_inputs_and_outputs(rng) -> None:
    x_in = nn.Input("x")
    a = L.ConvReLU2d(3, 8, 3, padding=1, name="a")(x_in)
    b = L.Conv2d(8, 8, 3, padding=1, name="b")(a)
    c = L.Conv2d(8, 8, 1, name="c")(a)  # a feeds two layers: not chained
    y = L.Add()(b, c)
    out = L.Linear(8, 4, name="fc")(L.Flatten()(L.GlobalAvgPool2d()(y)))
    g = nn.Graph(x_in, [out, y]).evaluate()
    x = rng.normal(size=(40, 3, 8, 8)).astype(np.float32)
    q = br.quantize(g, x, method="percentile")
    a_q = q.node("a").module  # feeds two int8 layers: both read its uint8 output
    assert a_q.output_scale is not None and q.node("c").module.quantized_input
    # b + c is a graph output: the Add is fused into b (c's uint8 output its residual), writing float32 under
    # the Add's name
    fused = q.node(g.output_names[1]).module
    assert isinstance(fused, L.QuantizedConvAdd2d) and fused.quantized_input and fused.quantized_addend
    assert fused.output_scale is None and q.output_names == g.output_names
    want, got = g.forward(x), q.forward(x)
    for w, o in zip(want, got):  # c's uint8 output clips its outliers (percentile ranges): the rarest errors
        err = np.abs(o - w)      # are larger than the rest
        assert np.quantile(err, 0.999) <= 0.02 * np.abs(w).max() and err.max() <= 0.1 * np.abs(w).max()


def test_errors_name_the_problem(net_and_data) -> None:
    net, x = net_and_data
    with pytest.raises(ValueError, match="unknown calibration method"):
        br.quantize(net, x, method="mse")
    with pytest.raises(ValueError, match="no samples"):
        br.quantize(net, x[:0])
    q = br.quantize(net, x)
    q.c1.forward(x[:2])
    with pytest.raises(RuntimeError, match="'c1'.* no gradient"):
        q.c1.backward(np.zeros((2, 8, 16, 16), np.float32))
    with pytest.raises(ValueError, match="QuantizedConv2d.*expected input"):
        q.c1.forward(np.zeros((2, 4, 16, 16), np.float32))


def test_int8_weights_are_replaced_not_written_into(net_and_data) -> None:
    """The kernels keep a packed copy per weight array: a new weight takes effect, writing into one is refused."""
    net, x = net_and_data
    q = br.quantize(net, x)
    before = q.forward(x[:4])
    with pytest.raises(ValueError, match="read-only"):
        q.c1.weight[...] = 0
    q.c1.register_buffer("weight", np.zeros_like(q.c1.weight))
    assert not np.array_equal(q.forward(x[:4]), before)
