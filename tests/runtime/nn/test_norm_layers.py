"""BatchNorm1d / BatchNorm2d / LayerNorm layers: gradients, running statistics, modes, config, errors."""
import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from tests.helpers.gradcheck import check_module


def _randomise(layer, rng):
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    if getattr(layer, "running_mean", None) is not None:
        layer.running_mean[...] = rng.standard_normal(layer.running_mean.shape)
        layer.running_var[...] = rng.uniform(0.5, 2.0, layer.running_var.shape)
    return layer


@pytest.mark.parametrize("make,shape", [
    (lambda: BatchNorm1d(3), (4, 3)),
    (lambda: BatchNorm1d(2, affine=False), (3, 2, 4)),
    (lambda: BatchNorm2d(2), (2, 2, 3, 2)),
    (lambda: BatchNorm2d(3, eps=1e-3, track_running_stats=False), (2, 3, 2, 2)),
    (lambda: LayerNorm(4), (3, 4)),
    (lambda: LayerNorm([2, 3], elementwise_affine=False), (2, 2, 3)),
])
@pytest.mark.parametrize("training", [True, False])
def test_norm_layer_gradients(make, shape, training, rng):
    layer = _randomise(make(), rng).train(training)
    check_module(layer, [rng.standard_normal(shape) * 2 + 1])


def test_batch_norm_running_stats_and_eval_match_torch(rng):
    import torch
    ours = BatchNorm2d(3, momentum=0.3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.3)
    for _ in range(3):
        x = (rng.standard_normal((4, 3, 5, 2)) * 2 + 1).astype(np.float32)
        y = ours.forward(x)
        ty = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5, atol=1e-6)
    assert ours.running_mean.dtype == np.float32
    ours.evaluate()
    theirs.eval()
    x = rng.standard_normal((2, 3, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.forward(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_batch_norm_eval_leaves_running_stats_alone(rng):
    bn = _randomise(BatchNorm1d(3), rng).evaluate()
    before = bn.state_dict()
    bn.forward(rng.standard_normal((5, 3)).astype(np.float32))
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval(rng):
    bn = BatchNorm1d(2, track_running_stats=False).evaluate()
    y = bn.forward(rng.standard_normal((6, 2)).astype(np.float32) * 3 + 4)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    assert [k for k, _ in bn.named_buffers()] == []


def test_batch_norm_state_dict_holds_running_buffers():
    assert list(BatchNorm2d(4).state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert list(BatchNorm1d(4, affine=False).state_dict()) == ["running_mean", "running_var"]


def test_layer_norm_matches_torch(rng):
    import torch
    ours = _randomise(LayerNorm([3, 4]), rng)
    theirs = torch.nn.LayerNorm([3, 4])
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    theirs(tx).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(ours.forward(x), theirs(tx).detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.backward(dy), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer", [BatchNorm1d(5, eps=1e-3, momentum=0.2, affine=False),
                                   BatchNorm2d(3, track_running_stats=False), LayerNorm([2, 3], eps=1e-6),
                                   LayerNorm(7, elementwise_affine=False)], ids=repr)
def test_norm_config_rebuilds(layer):
    clone = type(layer)(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert [k for k, _ in clone.named_parameters()] == [k for k, _ in layer.named_parameters()]
    assert [k for k, _ in clone.named_buffers()] == [k for k, _ in layer.named_buffers()]


def test_norm_config_values():
    assert LayerNorm(4).get_config() == {"normalized_shape": [4], "eps": 1e-5, "elementwise_affine": True}
    assert BatchNorm2d(8).get_config() == {"num_features": 8, "eps": 1e-5, "momentum": 0.1, "affine": True,
                                           "track_running_stats": True}
    assert LAYER_REGISTRY["SpatialBatchNormalization"] is BatchNorm2d


@pytest.mark.parametrize("layer,shape,match", [
    (BatchNorm2d(3, name="bn"), (2, 3, 4), r"BatchNorm2d\('bn'\).*\(N, C, H, W\) with C=3.*\(2, 3, 4\)"),
    (BatchNorm2d(3), (2, 4, 2, 2), r"C=3.*\(2, 4, 2, 2\)"),
    (BatchNorm1d(3), (2, 3, 4, 5), r"BatchNorm1d.*\(N, C\) or \(N, C, L\).*\(2, 3, 4, 5\)"),
    (LayerNorm([3, 4]), (2, 4, 3), r"LayerNorm.*\(\*, 3, 4\).*\(2, 4, 3\)"),
])
def test_norm_rejects_bad_input(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(np.zeros(shape, np.float32))


def test_norm_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm1d(2).backward(np.zeros((2, 2), np.float32))
