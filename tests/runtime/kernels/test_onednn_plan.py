"""oneDNN inference plans give the layer-by-layer kernels' results (convolutions with bias, ReLU, ReLU6 and
residual sums fused; max, average and global pooling; standalone adds and ReLUs), reuse their buffers, take
only what oneDNN runs, and are not run in a forked child."""
import numpy as np
import pytest

from bigdl_runtime.kernels import onednn, onednn_plan as P
from bigdl_runtime.kernels.conv import conv2d_forward
from bigdl_runtime.kernels.pool import avg_pool2d_forward, max_pool2d_forward
from tests.helpers.forking import run_forked

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")


def _conv(x, w, b=None, stride=1, padding=1, relu=False, groups=1, dilation=1):
    return conv2d_forward(x, w, b, stride, padding, dilation, groups, relu=relu)[0]


def _weights(rng, *shape):
    return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)


def test_a_residual_network_matches_the_kernels_and_its_adds_become_sum_post_ops(rng):
    x = rng.standard_normal((3, 5, 17, 15)).astype(np.float32)
    w1, b1 = _weights(rng, 16, 5, 3, 3), rng.standard_normal(16).astype(np.float32)
    w2, w3, wd = _weights(rng, 16, 16, 3, 3), _weights(rng, 32, 16, 3, 3), _weights(rng, 32, 16, 1, 1)
    w4 = _weights(rng, 32, 1, 3, 3)
    ops = [P.Conv(0, w1, b1, 2, 3 // 2, 1, 1, True),            # 1: stem, ReLU fused
           P.Pool(1, "max", 3, 2, 1, 1, True),                  # 2: ceil-mode max pooling
           P.Conv(2, w2, None, 1, 1, 1, 1, True),               # 3
           P.Conv(3, w2, None, 1, 1, 1, 1),                     # 4
           P.Add(4, 2),                                         # 5: identity shortcut -> sum post-op
           P.Eltwise.relu(5, True),                                  # 6: ReLU after the sum
           P.Conv(6, w3, None, 2, 1, 1, 1),                     # 7
           P.Conv(6, wd, None, 2, 0, 1, 1),                     # 8: projection shortcut
           P.Add(8, 7),                                         # 9
           P.Conv(9, w4, None, 1, (1, 2, 3, 2), 2, 32, 6.0),    # 10: depthwise, dilated, ReLU6
           P.Add(10, 9),                                        # 11: the conv has a ReLU: a binary add
           P.Eltwise.relu(11, 6.0),                                  # 12
           P.Pool(12, "avg", 2, 1, 0, 1, False, True),          # 13
           P.Pool(13, "avg")]                                   # 14: global
    v = {0: x}
    v[1] = _conv(x, w1, b1, 2, 1, True)
    v[2] = max_pool2d_forward(v[1], 3, 2, 1, 1, True)[0]
    v[3] = _conv(v[2], w2, relu=True)
    v[6] = np.maximum(_conv(v[3], w2) + v[2], 0)
    v[9] = _conv(v[6], wd, stride=2, padding=0) + _conv(v[6], w3, stride=2)
    v[12] = np.clip(_conv(v[9], w4, None, 1, (1, 2, 3, 2), 6.0, 32, 2) + v[9], 0, 6)
    v[14] = avg_pool2d_forward(v[12], 2, 1, 0)[0].mean(axis=(2, 3), keepdims=True)
    plan = P.Plan(ops, x.shape)
    kinds = [kind for kind, _ in plan.steps]
    assert kinds.count("conv") == 6 and "add" in kinds and kinds.count("eltwise") == 0  # ReLUs are post-ops
    assert kinds.count("add") == 1  # the two adds after plain convolutions are their sum post-ops
    got = plan.run(x)
    np.testing.assert_allclose(got, v[14], rtol=1e-4, atol=1e-5)
    again = plan.run(x + 1)  # buffers are reused: a second call on other data is not polluted by the first
    np.testing.assert_allclose(plan.run(x), got, rtol=0, atol=0)
    assert not np.array_equal(again, got)


def test_a_shortcut_read_again_later_is_copied_not_overwritten(rng):
    # value 1 feeds the sum of conv 2 and is read again by the final add: the sum must not write into it
    x = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    w = _weights(rng, 16, 16, 3, 3)
    ops = [P.Conv(0, w, None, 1, 1, 1, 1, True), P.Conv(1, w, None, 1, 1, 1, 1), P.Add(2, 1), P.Add(3, 1),
           P.Eltwise.relu(4, True)]
    a = _conv(x, w, relu=True)
    expected = np.maximum(_conv(a, w) + a + a, 0)
    np.testing.assert_allclose(P.Plan(ops, x.shape).run(x), expected, rtol=1e-4, atol=1e-5)


def test_option_a_shortcuts_pad_channels_with_zeros_that_stay_zero(rng):
    # ResNet's option A: subsample, zero-pad the channels, add; the padded buffer is never reused. The last
    # add's operand is its convolution's own input: the sum must not be computed in that buffer
    x = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    w1, w2 = _weights(rng, 32, 16, 3, 3), _weights(rng, 32, 32, 3, 3)
    ops = [P.Conv(0, w1, None, 2, 1, 1, 1, True), P.Conv(1, w2, None, 1, 1, 1, 1), P.Pool(0, "max", 1, 2),
           P.PadChannels(3, 8, 8), P.Add(2, 4), P.Eltwise.relu(5, True), P.Conv(6, w2, None, 1, 1, 1, 1), P.Add(7, 6)]
    short = np.pad(x[:, :, ::2, ::2], ((0, 0), (8, 8), (0, 0), (0, 0)))
    h = np.maximum(_conv(_conv(x, w1, stride=2, relu=True), w2) + short, 0)
    expected = _conv(h, w2) + h
    plan = P.Plan(ops, x.shape)
    assert "pad" in [kind for kind, _ in plan.steps]
    for k in range(3):  # later calls find the padding channels still zero
        np.testing.assert_allclose(plan.run(x * (k + 1)), expected * (k + 1), rtol=1e-4, atol=1e-4)


def test_plans_share_one_arena_and_rebind_when_it_grows(rng, monkeypatch):
    monkeypatch.setattr(P, "_arena", [])
    w = _weights(rng, 16, 8, 3, 3)
    ops = [P.Conv(0, w, None, 1, 1, 1, 1, True), P.Conv(1, _weights(rng, 16, 16, 3, 3), None, 1, 1, 1, 1),
           P.Add(2, 1), P.Pool(3, "max", 2)]
    small, large = (rng.standard_normal((n, 8, 12, 12)).astype(np.float32) for n in (2, 6))
    plans = [P.Plan(ops, x.shape) for x in (small, large)]
    expected = [p.run(x) for p, x in zip(plans, (small, large))]  # the large plan grows the small one's slots
    for _ in range(2):
        for p, x, e in zip(plans, (small, large), expected):
            np.testing.assert_array_equal(p.run(x), e)
    held = sum(a.nbytes for a in P._arena)
    assert held == plans[1].buffer_bytes < plans[0].buffer_bytes + plans[1].buffer_bytes


def test_a_sum_goes_into_an_earlier_reorder_of_its_operand_and_later_readers_reorder_again(rng):
    # the plan input is reordered for the first convolution; the residual sum then accumulates into that
    # reordered copy (no copy step, the caller's array untouched), and a convolution reading the input
    # afterwards reorders it afresh
    x = rng.standard_normal((2, 16, 7, 7)).astype(np.float32)
    before = x.copy()
    w1, w2, w3 = (_weights(rng, 16, 16, 3, 3) for _ in range(3))
    ops = [P.Conv(0, w1, None, 1, 1, 1, 1, True), P.Conv(1, w2, None, 1, 1, 1, 1), P.Add(2, 0),
           P.Conv(0, w3, None, 1, 1, 1, 1), P.Add(4, 3)]
    plan = P.Plan(ops, x.shape)
    kinds = [kind for kind, _ in plan.steps]
    got = plan.run(x)
    np.testing.assert_array_equal(x, before)
    h = _conv(_conv(x, w1, relu=True), w2) + x
    np.testing.assert_allclose(got, _conv(x, w3) + h, rtol=1e-4, atol=1e-4)
    if kinds[0] == "reorder":  # oneDNN chose a layout other than NCHW for these convolutions
        assert kinds == ["reorder", "conv", "conv", "reorder", "conv", "output"]


def test_a_standalone_relu_on_the_plan_input_leaves_the_input_alone(rng):
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    before = x.copy()
    y = P.Plan([P.Eltwise.relu(0, True), P.Pool(1, "max", 2)], x.shape).run(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(y, max_pool2d_forward(np.maximum(x, 0), 2)[0])


def test_a_classifier_head_reads_the_blocked_features_through_a_flatten(rng):
    x = rng.standard_normal((3, 16, 6, 5)).astype(np.float32)
    w = _weights(rng, 32, 16, 3, 3)
    fc1, b1 = _weights(rng, 20, 32 * 3 * 2), rng.standard_normal(20).astype(np.float32)
    fc2 = _weights(rng, 7, 20)
    ops = [P.Conv(0, w, None, 1, 1, 1, 1, True), P.Pool(1, "max", 2), P.Flatten(2), P.Dense(3, fc1, b1),
           P.Eltwise.relu(4, True), P.Dense(5, fc2, None)]
    features = max_pool2d_forward(_conv(x, w, relu=True), 2)[0].reshape(3, -1)
    expected = np.maximum(features @ fc1.T + b1, 0) @ fc2.T
    plan = P.Plan(ops, x.shape)
    assert [kind for kind, _ in plan.steps].count("eltwise") == 0  # the ReLU is the inner product's post-op
    np.testing.assert_allclose(plan.run(x), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(P.Plan(ops[:3], x.shape).run(x), features, rtol=1e-5, atol=1e-6)  # flat result


def test_what_a_plan_does_not_take_raises_unsupported(rng):
    x = rng.standard_normal((2, 4, 7, 7)).astype(np.float32)
    w = _weights(rng, 4, 4, 3, 3)
    with pytest.raises(onednn.Unsupported, match="broadcasting"):
        P.Plan([P.Conv(0, w, None, 1, 1, 1, 1), P.Pool(1, "avg"), P.Add(1, 2)], x.shape)
    with pytest.raises(onednn.Unsupported, match="only a linear layer"):
        P.Plan([P.Flatten(0), P.Eltwise.relu(1, True)], x.shape)
    with pytest.raises(onednn.Unsupported, match="ceil-mode average"):
        P.Plan([P.Pool(0, "avg", 2, 2, 0, 1, True)], x.shape)
    plan = P.Plan([P.Pool(0, "max", 2)], x.shape)
    with pytest.raises(ValueError, match="compiled for inputs of shape"):
        plan.run(x[:1])


def test_a_plan_compiled_before_a_fork_is_not_valid_in_the_child(rng):
    x = rng.standard_normal((2, 8, 6, 6)).astype(np.float32)
    w = _weights(rng, 8, 8, 3, 3)
    ops = [P.Conv(0, w, None, 1, 1, 1, 1, True), P.Pool(1, "max", 2)]
    plan = P.Plan(ops, x.shape)
    expected = plan.run(x)

    def child() -> bool:  # the parent's plan is stale here; a new one runs on the child's engine
        return not plan.valid() and np.allclose(P.Plan(ops, x.shape).run(x), expected)

    assert plan.valid() and run_forked(child)


_ELTWISE_REFERENCE = {  # numpy, from oneDNN's definitions of alpha and beta
    ("relu", 0.2, 0.0): lambda x: np.where(x > 0, x, 0.2 * x),
    ("clip", -0.4, 1.5): lambda x: np.clip(x, -0.4, 1.5),
    ("linear", 0.5, -1.25): lambda x: 0.5 * x - 1.25,
    ("hardsigmoid", 0.2, 0.5): lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    ("hardswish", 1 / 6, 0.5): lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    ("logistic", 0.0, 0.0): lambda x: 1 / (1 + np.exp(-x)),
    ("swish", 1.0, 0.0): lambda x: x / (1 + np.exp(-x)),
    ("tanh", 0.0, 0.0): np.tanh,
    ("elu", 0.7, 0.0): lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0))),
}


@pytest.mark.parametrize("alg, alpha, beta", list(_ELTWISE_REFERENCE))
def test_each_eltwise_algorithm_alone_and_as_a_post_op_matches_numpy(alg, alpha, beta, rng):
    x = (3 * rng.standard_normal((2, 16, 5, 6))).astype(np.float32)
    ref = _ELTWISE_REFERENCE[(alg, alpha, beta)]
    alone = P.Plan([P.Eltwise(0, alg, alpha, beta)], x.shape)
    assert [kind for kind, _ in alone.steps].count("eltwise") == 1
    np.testing.assert_allclose(alone.run(x), ref(x.astype(np.float64)), rtol=1e-5, atol=1e-5)
    w = _weights(rng, 16, 16, 3, 3)
    fused = P.Plan([P.Conv(0, w, None, 1, 1, 1, 1), P.Eltwise(1, alg, alpha, beta)], x.shape)
    assert [kind for kind, _ in fused.steps].count("eltwise") == 0  # a post-op of the convolution
    np.testing.assert_allclose(fused.run(x), ref(_conv(x, w).astype(np.float64)), rtol=1e-4, atol=1e-4)


def test_an_unknown_eltwise_algorithm_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown algorithm 'gelu'.*hardswish"):
        P.Eltwise(0, "gelu")


@pytest.mark.parametrize("gate_first", [False, True])
def test_a_mobilenet_v3_block_with_a_squeeze_excitation_gate_matches_numpy(gate_first, rng):
    """expand 1x1 + hard-swish, depthwise 3x3 + hard-swish, SE (global pool, 1x1 + ReLU, 1x1 + hard-sigmoid,
    product with the per-channel gate), project 1x1 + linear map, residual add."""
    x = rng.standard_normal((2, 16, 9, 7)).astype(np.float32)
    we, wd = _weights(rng, 32, 16, 1, 1), _weights(rng, 32, 1, 3, 3)
    ws1, bs1 = _weights(rng, 8, 32, 1, 1), rng.standard_normal(8).astype(np.float32)
    ws2, bs2 = _weights(rng, 32, 8, 1, 1), rng.standard_normal(32).astype(np.float32)
    wp = _weights(rng, 16, 32, 1, 1)
    ops = [P.Conv(0, we, None, 1, 0, 1, 1), P.Eltwise(1, "hardswish", 1 / 6, 0.5),   # 1, 2
           P.Conv(2, wd, None, 1, 1, 1, 32), P.Eltwise(3, "hardswish", 1 / 6, 0.5),  # 3, 4
           P.Pool(4, "avg"), P.Conv(5, ws1, bs1, 1, 0, 1, 1, True),                  # 5, 6
           P.Conv(6, ws2, bs2, 1, 0, 1, 1), P.Eltwise(7, "hardsigmoid", 0.2, 0.5),   # 7, 8
           P.Mul(8, 4) if gate_first else P.Mul(4, 8),                               # 9
           P.Conv(9, wp, None, 1, 0, 1, 1), P.Eltwise(10, "linear", 0.5, 0.25),      # 10, 11
           P.Add(11, 0)]                                                             # 12
    hswish = lambda v: v * np.clip(v / 6 + 0.5, 0, 1)  # noqa: E731
    h = hswish(_conv(hswish(_conv(x, we, padding=0)), wd, groups=32))
    gate = np.clip(0.2 * _conv(_conv(h.mean(axis=(2, 3), keepdims=True), ws1, bs1, padding=0, relu=True), ws2, bs2,
                               padding=0) + 0.5, 0, 1)
    expected = 0.5 * _conv(h * gate, wp, padding=0) + 0.25 + x
    plan = P.Plan(ops, x.shape)
    kinds = [kind for kind, _ in plan.steps]
    assert kinds.count("eltwise") == 0 and kinds.count("mul") == 1  # every activation is a post-op
    before = x.copy()
    got = plan.run(x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(x, before)  # nothing ran in place on the plan's input
    np.testing.assert_array_equal(plan.run(x), got)


def test_a_product_of_shapes_that_do_not_gate_is_unsupported(rng):
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    with pytest.raises(onednn.Unsupported, match="product of shapes"):
        P.Plan([P.Pool(0, "max", 2), P.Mul(0, 1)], x.shape)


def test_x_times_its_logistic_becomes_one_swish_post_op_unless_the_logistic_is_read_elsewhere(rng):
    x = rng.standard_normal((2, 16, 6, 5)).astype(np.float32)
    w, b = _weights(rng, 16, 16, 3, 3), rng.standard_normal(16).astype(np.float32)
    c = _conv(x, w, b)
    silu = c / (1 + np.exp(-c))
    ops = [P.Conv(0, w, b, 1, 1, 1, 1), P.Eltwise(1, "logistic"), P.Mul(2, 1)]  # YOLO's SiLU, gate first
    plan = P.Plan(ops, x.shape)
    assert [kind for kind, _ in plan.steps] == ["reorder", "conv", "output"]  # swish: the conv's post-op
    np.testing.assert_allclose(plan.run(x), silu, rtol=1e-4, atol=1e-5)
    shared = P.Plan([*ops, P.Add(3, 2)], x.shape)  # the logistic is read again: it runs
    assert [kind for kind, _ in shared.steps].count("mul") == 1
    np.testing.assert_allclose(shared.run(x), silu + 1 / (1 + np.exp(-c)), rtol=1e-4, atol=1e-5)


def test_a_csp_block_concatenates_its_branches_and_a_pyramid_its_poolings(rng):
    """YOLO-style: two 1x1 branches of one value joined (channels 16 + 24, a block and a half), then a
    spatial-pyramid concatenation of a value and its max poolings, the plan's input among the parts."""
    x = rng.standard_normal((1, 8, 12, 10)).astype(np.float32)
    wa, wb = _weights(rng, 16, 8, 1, 1), _weights(rng, 24, 8, 3, 3)
    wc = _weights(rng, 20, 40, 1, 1)
    ops = [P.Conv(0, wa, None, 1, 0, 1, 1, True), P.Conv(0, wb, None, 1, 1, 1, 1), P.Eltwise(2, "swish", 1.0),
           P.Concat((1, 3)), P.Conv(4, wc, None, 1, 0, 1, 1),                                    # 4, 5
           P.Pool(5, "max", 5, 1, 2), P.Pool(6, "max", 5, 1, 2), P.Concat((5, 6, 7)),            # 6, 7, 8
           P.Concat((0, 8))]                                                                     # 9
    a, b = _conv(x, wa, padding=0, relu=True), _conv(x, wb)
    c = _conv(np.concatenate([a, b / (1 + np.exp(-b))], axis=1), wc, padding=0)
    p1 = max_pool2d_forward(c, 5, 1, 2)[0]
    expected = np.concatenate([x, c, p1, max_pool2d_forward(p1, 5, 1, 2)[0]], axis=1)
    plan = P.Plan(ops, x.shape)
    assert [kind for kind, _ in plan.steps].count("concat") == 3
    np.testing.assert_allclose(plan.run(x), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(onednn.Unsupported, match="channel concatenation"):
        P.Plan([P.Pool(0, "max", 2), P.Concat((0, 1))], x.shape)


@pytest.mark.parametrize("factors", [(2, 2), (4, 8), (1, 2)])
def test_nearest_upsampling_matches_the_kernel_in_a_pyramid_sum(factors, rng):
    """An FPN step: a coarse map upsampled (nearest, whole factors) and added to a finer one."""
    from bigdl_runtime.kernels.resize import upsample_nearest_forward

    x = rng.standard_normal((2, 16, 5, 3)).astype(np.float32)
    w = _weights(rng, 16, 16, 3, 3)
    fh, fw = factors
    fine = _weights(rng, 16, 16, fh, fw)  # a strided "pyramid" conv: (5 * fh, 3 * fw) -> (5, 3) and back
    ops = [P.Conv(0, w, None, 1, 1, 1, 1, True), P.Upsample(1, fh, fw), P.Conv(2, fine, None, (fh, fw), 0, 1, 1),
           P.Upsample(3, fh, fw), P.Add(4, 2)]
    up = upsample_nearest_forward(_conv(x, w, relu=True), scale_factor=[float(fh), float(fw)])[0]
    expected = upsample_nearest_forward(_conv(up, fine, stride=(fh, fw), padding=0),
                                        scale_factor=[float(fh), float(fw)])[0] + up
    plan = P.Plan(ops, x.shape)
    assert [kind for kind, _ in plan.steps].count("upsample") == 2
    np.testing.assert_allclose(plan.run(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sections, parts", [(16, (1, 0)), ((8, 24), (1, 0)), (10, (2, 0, 1))])
def test_channel_slices_of_blocked_and_plain_values_match_numpy(sections, parts, rng):
    """YOLOv8's C2f: a value cut along the channels (at whole blocks, or not: through a plain copy), its parts
    read by a convolution and a concatenation; and parts of the plan's input itself."""
    x = rng.standard_normal((2, 32, 7, 6)).astype(np.float32)
    w = _weights(rng, 32, 32, 1, 1)
    c = _conv(x, w, padding=0, relu=True)
    sizes = list(sections) if isinstance(sections, tuple) else [sections] * (32 // sections) + (
        [32 % sections] if 32 % sections else [])
    bounds = np.cumsum([0, *sizes])
    ops = [P.Conv(0, w, None, 1, 0, 1, 1, True), *(P.Slice(1, sections, k) for k in parts)]
    first = len(ops)
    wp = _weights(rng, 16, sizes[parts[0]], 3, 3)
    ops += [P.Conv(first - len(parts) + 1, wp, None, 1, 1, 1, 1), P.Slice(0, sections, parts[-1]),
            P.Concat(tuple(range(2, first + 1)) + (first + 1, first + 2))]
    pieces = [c[:, bounds[k]:bounds[k + 1]] for k in parts]
    expected = np.concatenate([*pieces, _conv(pieces[0], wp), x[:, bounds[parts[-1]]:bounds[parts[-1] + 1]]], axis=1)
    plan = P.Plan(ops, x.shape)
    assert [kind for kind, _ in plan.steps].count("slice") == len(parts) + 1
    np.testing.assert_allclose(plan.run(x), expected, rtol=1e-4, atol=1e-5)
    last = x[:, bounds[parts[-1]]:bounds[parts[-1] + 1]]  # a part of the input follows the input's new data
    np.testing.assert_allclose(plan.run(x + 1)[:, -last.shape[1]:], last + 1)


def test_small_steps_run_on_one_thread_and_large_ones_on_all(rng, monkeypatch):
    from bigdl_runtime.kernels import threads

    monkeypatch.setattr(threads, "block_threads", lambda: 2)
    x = rng.standard_normal((1, 16, 64, 64)).astype(np.float32)
    big, small = _weights(rng, 32, 16, 3, 3), _weights(rng, 8, 32, 1, 1)  # 18.9 M and 65 k multiply-adds
    ops = [P.Conv(0, big, None, 1, 1, 1, 1, True), P.Pool(1, "max", 4, 4), P.Conv(2, small, None, 1, 0, 1, 1),
           P.Eltwise(3, "hardswish", 1 / 6, 0.5)]
    plan = P.Plan(ops, x.shape)
    kinds = [kind for kind, _ in plan.steps]
    assert [n for _, _, n in plan._program] == [2, 2, 1, 1, 2]  # input reorder, big conv, pool, small conv, output
    assert kinds == ["reorder", "conv", "pool", "conv", "output"]
    h = max_pool2d_forward(_conv(x, big, relu=True), 4, 4)[0]
    c = _conv(h, small, padding=0)
    np.testing.assert_allclose(plan.run(x), c * np.clip(c / 6 + 0.5, 0, 1), rtol=1e-4, atol=1e-5)
