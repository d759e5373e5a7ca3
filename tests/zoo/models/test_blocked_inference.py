"""The zoo's convolutional networks fused for inference with blocked segments (oneDNN plans) give the
unfused models' outputs in float32, every segment running as a plan."""
import numpy as np
import pytest

from bigdl_runtime.kernels import onednn, onednn_plan
from bigdl_runtime.nn import BatchNorm2d
from bigdl_runtime.nn.blocked_segment import BlockedSegment
from bigdl_runtime.nn.fuse import fuse_for_inference
from zoo.models.efficientnet_lite import efficientnet_lite0
from zoo.models.lenet import lenet5
from zoo.models.mobilenet import mobilenet_v2
from zoo.models.resnet import resnet18, resnet20

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")


def _random_statistics(model, rng):
    """Batch norms with running statistics and affines away from 0 / 1, so that folding matters."""
    for m in model.modules():
        if isinstance(m, BatchNorm2d):
            m.running_mean[...] = rng.uniform(-0.2, 0.2, m.running_mean.shape)
            m.running_var[...] = rng.uniform(0.5, 1.5, m.running_var.shape)
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias.data[...] = rng.uniform(-0.2, 0.2, m.bias.shape)
    return model.evaluate()


@pytest.mark.parametrize("build,shape,segments", [
    (lambda: resnet18(num_classes=10), (2, 3, 64, 64), 1),
    (lambda: resnet20(num_classes=10, in_channels=1), (3, 1, 28, 28), 1),  # option A shortcuts: PadChannels
    (lambda: mobilenet_v2(num_classes=10), (2, 3, 64, 64), 1),
    (lambda: efficientnet_lite0(num_classes=10), (2, 3, 64, 64), 1),
    (lambda: lenet5(), (4, 1, 28, 28), 1),
], ids=["resnet18", "resnet20", "mobilenet_v2", "efficientnet_lite0", "lenet5"])
def test_blocked_inference_matches_the_unfused_model(build, shape, segments, rng):
    model = _random_statistics(build(), rng)
    x = rng.standard_normal(shape).astype(np.float32)
    expected = model.forward(x)
    fused = fuse_for_inference(model)
    found = [m for m in fused.modules() if isinstance(m, BlockedSegment)]
    assert len(found) == segments
    got = fused.forward(x)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
    for m in found:  # every segment ran its plan (None would mean oneDNN refused it)
        assert m._plans and all(isinstance(p, onednn_plan.Plan) for p in m._plans.values())
    np.testing.assert_array_equal(fused.forward(x), got)  # a second call (reused buffers) agrees
