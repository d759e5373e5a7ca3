"""The oneDNN convolution path gives the numpy path's results (float32 forward, input and weight
gradients, bias, fused ReLU; plain, grouped and depthwise), and only takes the convolutions it supports."""
import inspect
import multiprocessing
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from bigdl_runtime.kernels import onednn
from bigdl_runtime.kernels.conv import conv2d_backward, conv2d_forward
from tests.helpers.forking import run_forked
from tests.runtime.kernels.test_conv import CONV2D_CASES

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")

GROUPED_CASES = [  # x shape, w shape, stride, padding, dilation, groups, bias
    ((2, 16, 9, 9), (16, 1, 3, 3), 1, 1, 1, 16, True),             # depthwise: oneDNN's jit_dw kernels
    ((2, 32, 10, 11), (32, 1, 3, 3), 2, (0, 0, 1, 1), 1, 32, False),  # ... stride 2, TF "SAME" pads
    ((2, 24, 11, 9), (24, 1, 5, 5), 1, (4, 3, 4, 5), 2, 24, True),  # ... 5x5 dilated, 24 = 1.5 blocks of 16
    ((1, 20, 8, 8), (20, 1, 5, 5), 2, 2, 1, 20, True),             # ... 5x5 stride 2
    ((2, 8, 9, 9), (16, 1, 3, 3), 2, (1, 0, 2, 1), 1, 8, True),    # depthwise x2 multiplier
    ((2, 32, 8, 8), (64, 16, 3, 3), 1, 1, 1, 2, True),             # groups=2
    ((2, 64, 7, 7), (64, 16, 3, 3), (2, 1), (1, 2), (1, 2), 4, False),  # 16 channels per group, strided, dilated
    ((2, 12, 6, 6), (18, 4, 1, 1), 1, 0, 1, 3, True),              # grouped 1x1
    ((2, 24, 14, 15), (40, 24, 1, 1), 1, 0, 1, 1, True),           # 1x1 on NCHW (no reorders)
    ((2, 16, 15, 14), (24, 16, 1, 1), 2, (0, 1, 1, 0), 1, 1, False),  # ... strided, padded
    ((2, 16, 40, 1), (24, 16, 5, 1), 1, 0, 1, 1, True),            # a column (kx1 kernel): runs as a row
    ((2, 8, 23, 1), (16, 4, 3, 1), (2, 1), (1, 0, 2, 0), (2, 1), 2, False),  # ... strided, padded, dilated, grouped
]


def _both_paths(monkeypatch, x, w, b, dy, **config):
    """(y, dx, dw, db) on oneDNN, then on the numpy path."""
    results = []
    for use in (True, False):
        if not use:
            monkeypatch.setattr(onednn, "available", lambda: False)
        y, cache = conv2d_forward(x, w, b, **config)
        assert cache[0] == ("onednn" if use else "numpy")
        results.append((y, *conv2d_backward(dy, cache)))
    return results


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,bias", CONV2D_CASES + GROUPED_CASES)
def test_onednn_matches_the_numpy_path(x_shape, w_shape, stride, padding, dilation, groups, bias, rng, monkeypatch):
    # every implementation oneDNN picks is checked, also those the dispatch leaves to numpy
    monkeypatch.setattr(onednn, "_numpy_is_faster", lambda geo, impl: False)
    monkeypatch.setattr(onednn._rt, "rejected", set())
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32) if bias else None
    config = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y, _ = conv2d_forward(x, w, b, **config)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    fused, cache = conv2d_forward(x, w, b, relu=True, **config)  # ReLU as oneDNN's post-op
    assert cache[0] == "onednn"
    fast, ref = _both_paths(monkeypatch, x, w, b, dy, **config)
    for got, want in zip(fast, ref):
        if want is None:
            assert got is None
        else:
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused, np.maximum(ref[0], 0), rtol=1e-4, atol=1e-4)


def test_onednn_resnet_layer_with_relu_and_a_strided_view(rng, monkeypatch):
    x = rng.standard_normal((4, 32, 16, 30)).astype(np.float32)[:, :, :, ::2]  # not contiguous
    w = rng.standard_normal((48, 32, 3, 3)).astype(np.float32) * np.float32(0.1)
    b = rng.standard_normal(48).astype(np.float32)
    fused, _ = conv2d_forward(x, w, b, stride=2, padding=1, relu=True)
    monkeypatch.setattr(onednn, "available", lambda: False)
    plain, _ = conv2d_forward(x, w, b, stride=2, padding=1)
    np.testing.assert_allclose(fused, np.maximum(plain, 0), rtol=1e-4, atol=1e-4)


def test_onednn_depthwise_layer_with_relu_and_a_strided_view(rng, monkeypatch):
    x = rng.standard_normal((4, 32, 16, 30)).astype(np.float32)[:, :, :, ::2]  # not contiguous
    w = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    fused, cache = conv2d_forward(x, w, b, stride=2, padding=1, groups=32, relu=True)
    assert cache[0] == "onednn"
    dy = rng.standard_normal(fused.shape).astype(np.float32)
    grads = conv2d_backward(dy, cache)  # the gradient of the convolution alone
    monkeypatch.setattr(onednn, "available", lambda: False)
    plain, cache = conv2d_forward(x, w, b, stride=2, padding=1, groups=32)
    np.testing.assert_allclose(fused, np.maximum(plain, 0), rtol=1e-4, atol=1e-4)
    for got, want in zip(grads, conv2d_backward(dy, cache)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_float64_convolutions_stay_on_numpy(rng):
    x = rng.standard_normal((2, 4, 6, 6))
    assert conv2d_forward(x, rng.standard_normal((4, 4, 3, 3)), padding=1)[1][0] == "numpy"  # float64
    assert conv2d_forward(x, rng.standard_normal((4, 1, 3, 3)), padding=1, groups=4)[1][0] == "numpy"
    x32 = rng.standard_normal((2, 32, 6, 6)).astype(np.float32)
    w32 = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    assert conv2d_forward(x32, w32, padding=1, groups=2)[1][0] == "onednn"
    assert conv2d_forward(x32, w32[:, :1], padding=1, groups=32)[1][0] == "onednn"


def test_large_pointwise_convolutions_run_on_nchw(rng):
    from bigdl_runtime.kernels.conv_geometry import ConvGeometry

    assert not onednn._plain_pointwise(ConvGeometry((2, 24, 7, 7), (40, 24, 1, 1), 1, 0, 1, 1))  # small: blocked
    geo = ConvGeometry((2, 24, 14, 15), (40, 24, 1, 1), 1, 0, 1, 1)
    assert onednn._plain_pointwise(geo)
    with onednn._rt.lock:
        entry = onednn._entry((2, 24, 14, 15), (40, 24, 1, 1), geo, False)
        for kind, (i, j) in (("fwd", (0, 2)), ("data", (2, 0)), ("weights", (0, 1))):  # x and y as they are
            for k, name in ((i, "x"), (j, "y")):
                assert onednn._rt.lib.dnnl_memory_desc_equal(entry["layouts"][kind][k], entry["plain"][name]), kind


def test_grouped_convolutions_onednn_would_run_as_gemms_go_to_numpy(rng, monkeypatch):
    monkeypatch.setattr(onednn, "_impl", lambda pd: "x64:gemm:jit")
    monkeypatch.setattr(onednn._rt, "rejected", set())
    x = rng.standard_normal((2, 12, 5, 7)).astype(np.float32)
    w = rng.standard_normal((12, 2, 3, 3)).astype(np.float32)
    for _ in range(2):  # the second call does not ask oneDNN again
        y, cache = conv2d_forward(x, w, padding=1, groups=6)
        assert cache[0] == "numpy" and len(onednn._rt.rejected) == 1
    dw = rng.standard_normal((24, 1, 3, 3)).astype(np.float32)  # depthwise x2 multiplier: oneDNN still
    assert conv2d_forward(x, dw, padding=1, groups=12)[1][0] == "onednn"


def test_a_grouped_geometry_onednn_rejects_falls_back_to_numpy(rng, monkeypatch):
    def reject(*args):
        raise onednn.Unsupported("oneDNN dnnl_convolution_forward_primitive_desc_create failed with status 3")

    monkeypatch.setattr(onednn, "_entry", reject)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    y, cache = conv2d_forward(x, w, padding=1, groups=4)
    dx, dw, _ = conv2d_backward(np.ones_like(y), cache)
    assert cache[0] == "numpy" and y.shape == (2, 4, 5, 5) and dx.shape == x.shape and dw.shape == w.shape


def test_bigdl_onednn_0_turns_it_off():
    code = "from bigdl_runtime.kernels import onednn; print(onednn.available())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "BIGDL_ONEDNN": "0"},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_geometry_onednn_rejects_falls_back_to_numpy(rng, monkeypatch):
    def reject(*args):
        raise onednn.Unsupported("oneDNN dnnl_convolution_forward_primitive_desc_create failed with status 3")

    monkeypatch.setattr(onednn, "_entry", reject)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    y, cache = conv2d_forward(x, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), padding=1)
    assert cache[0] == "numpy" and y.shape == (2, 4, 5, 5)


def _conv_on_both_paths(x, w, dy, groups):
    """((y, dx, dw) on oneDNN, the same on numpy), checking which path ran."""
    y, cache = conv2d_forward(x, w, padding=1, groups=groups)
    assert cache[0] == "onednn"
    fast = (y, *conv2d_backward(dy, cache)[:2])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onednn, "available", lambda: False)
        y, cache = conv2d_forward(x, w, padding=1, groups=groups)
        return fast, (y, *conv2d_backward(dy, cache)[:2])


def _close(got, want) -> bool:
    return all(np.allclose(g, e, rtol=1e-4, atol=1e-4) for g, e in zip(got, want))


@pytest.mark.parametrize("groups", [1, 4])
def test_a_forked_child_runs_onednn(groups, rng):
    # GNU OpenMP's pool of the thread that forked is gone in the child: its calls go to a helper thread
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((8, 4 // groups, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    fast, ref = _conv_on_both_paths(x, w, dy, groups)  # the parent has run oneDNN on this thread
    assert _close(fast, ref)

    def child() -> bool:
        got, _ = _conv_on_both_paths(x, w, dy, groups)
        grandchild = run_forked(lambda: _close(_conv_on_both_paths(x, w, dy, groups)[0], ref))
        return _close(got, ref) and grandchild

    assert run_forked(child)


def test_a_fork_waits_for_a_call_in_flight_and_the_child_runs_onednn(rng):
    # another thread holds the runtime lock when the fork is asked for: the fork waits for it, so
    # the child does not inherit a held lock (which would deadlock its first convolution)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    ref = _conv_on_both_paths(x, w, dy, 1)[1]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with onednn._rt.lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    threading.Timer(0.2, release.set).start()
    try:
        assert run_forked(lambda: _close(_conv_on_both_paths(x, w, dy, 1)[0], ref))
    finally:
        release.set()
        holder.join()


def test_multiprocessing_fork_workers_run_onednn(rng):
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    expected, _ = conv2d_forward(x, w, padding=1)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.starmap_async(_forward_in_worker, [(x, w)] * 4, chunksize=1).get(timeout=60)
    for path, y in results:
        assert path == "onednn"
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def _forward_in_worker(x: np.ndarray, w: np.ndarray) -> tuple[str, np.ndarray]:
    y, cache = conv2d_forward(x, w, padding=1)
    return cache[0], y


def test_every_c_function_called_has_a_declared_signature():
    from bigdl_runtime.kernels import onednn_runtime

    called = set()
    for module in (onednn, onednn_runtime):
        called |= set(re.findall(r"\b(dnnl_[a-z_]+)\b", inspect.getsource(module)))
    called -= {"dnnl_status_t", "dnnl_dims_t", "dnnl_exec_arg_t"}  # types named in comments
    assert called <= set(onednn_runtime.SIGNATURES), called - set(onednn_runtime.SIGNATURES)
    for name, (restype, argtypes) in onednn_runtime.SIGNATURES.items():
        fn = getattr(onednn._rt.lib, name)
        assert fn.restype is restype and fn.argtypes == argtypes, name


@pytest.mark.parametrize("failing", ["dnnl_primitive_execute", "dnnl_stream_wait", "dnnl_memory_create"])
def test_a_failing_call_frees_its_memories(failing, rng, monkeypatch):
    x = rng.standard_normal((2, 16, 9, 9)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    conv2d_forward(x, w, padding=1)  # primitives compiled and cached
    counts = {"dnnl_memory_create": 0, "dnnl_memory_destroy": 0}
    real = onednn._rt.call
    state = {"left": 2}  # fail the second call of that function (the first memory already exists)

    def call(fn, *args):
        if fn == failing:
            state["left"] -= 1
            if state["left"] == 0:
                raise RuntimeError(f"oneDNN {fn} failed with status 5 (runtime error)")
        real(fn, *args)
        counts[fn] = counts.get(fn, 0) + 1

    monkeypatch.setattr(onednn._rt, "call", call)
    with pytest.raises(RuntimeError, match=failing):
        y, cache = conv2d_forward(x, w, padding=1)
        conv2d_backward(y, cache)
    assert counts["dnnl_memory_create"] > 0
    assert counts["dnnl_memory_destroy"] == counts["dnnl_memory_create"]
    assert not onednn._rt.lock.locked()


def test_conv1d_depthwise_runs_on_onednn(rng, monkeypatch):
    from bigdl_runtime.kernels.conv import conv1d_backward, conv1d_forward

    x = rng.standard_normal((3, 16, 40)).astype(np.float32)
    w = rng.standard_normal((32, 1, 5)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    config = dict(stride=2, padding=(2, 1), dilation=2, groups=16)
    y, cache = conv1d_forward(x, w, b, **config)
    assert cache[0] == "conv2d" and cache[1][0] == "onednn"
    dy = rng.standard_normal(y.shape).astype(np.float32)
    fast = (y, *conv1d_backward(dy, cache))
    monkeypatch.setattr(onednn, "available", lambda: False)
    y, cache = conv1d_forward(x, w, b, **config)
    for got, want in zip(fast, (y, *conv1d_backward(dy, cache))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_geometry_failing_half_way_frees_its_descriptors(rng, monkeypatch):
    # the backward-weights descriptor fails after the memory, forward and backward-data descriptors exist
    counts: dict[str, int] = {}
    real = onednn._rt.call

    def call(fn, *args):
        if fn == "dnnl_convolution_backward_weights_primitive_desc_create":
            raise RuntimeError(f"oneDNN {fn} failed with status 3 (unimplemented)")
        real(fn, *args)
        counts[fn] = counts.get(fn, 0) + 1

    monkeypatch.setattr(onednn._rt, "call", call)
    x = rng.standard_normal((1, 3, 7, 5)).astype(np.float32)  # a geometry no other test caches
    y, cache = conv2d_forward(x, rng.standard_normal((5, 3, 3, 3)).astype(np.float32), padding=1)
    assert cache[0] == "numpy"
    assert counts["dnnl_memory_desc_create_with_tag"] == counts["dnnl_memory_desc_destroy"] == 7
    made = (counts["dnnl_convolution_forward_primitive_desc_create"]
            + counts["dnnl_convolution_backward_data_primitive_desc_create"])
    assert made == 2 and counts["dnnl_primitive_desc_destroy"] == made


def test_a_column_runs_as_the_same_convolution_along_a_row(rng):
    x = rng.standard_normal((2, 8, 30, 1)).astype(np.float32)
    w = rng.standard_normal((12, 8, 5, 1)).astype(np.float32)
    y, cache = conv2d_forward(x, w, None, stride=(3, 1), padding=(2, 0, 1, 0), dilation=(2, 1))
    assert cache[0] == "onednn" and y.shape == (2, 12, 9, 1)
    assert any(key[0] == (2, 8, 1, 30) and key[1] == (12, 8, 1, 5) for key in onednn._rt.cache)  # the row's entry
    padded = np.pad(x, ((0, 0), (0, 0), (2, 1), (0, 0)))
    ref = sum(np.einsum("nchw,oc->nohw", padded[:, :, 2 * i:2 * i + 25:3], w[:, :, i, 0]) for i in range(5))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
