"""SSD300 and the small SSD: shapes, parameter counts, detector graphs, model files, one training step."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Conv2d
from bigdl_runtime.optim import Adam
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes
from zoo.datasets.shapes import make_shapes
from zoo.models.ssd import SSD300_SOURCES, MultiBoxLoss, detect, make_priors, pad_targets, split_detections, ssd300, ssd_mini
from zoo.models.ssd.mini import IMAGE_SIZE, MINI_SOURCES, NUM_PRIORS, preprocess


def _shape_only_conv(self: Conv2d, x: np.ndarray) -> tuple[np.ndarray, None]:
    """Conv2d's output shape from its own kernel run on one channel (the real convolution is too slow here)."""
    y1, _ = self._kernels[0](x[:, :1], self.weight.data[:1, :1], None, **self._kernel_config())
    return np.zeros((x.shape[0], self.out_channels, *y1.shape[2:]), x.dtype), None


def test_ssd300_parameters_sources_and_priors(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = ssd300(num_classes=21, detector=True, detection={"top_k": 5, "keep_top_k": 10})
    assert detector.num_parameters() == 26_285_486  # as the reference SSD300 (VOC, 21 classes)
    assert detector.node("conv4_3_norm").module.weight.data.tolist() == [20.0] * 512
    monkeypatch.setattr(Conv2d, "forward_pass", _shape_only_conv)
    monkeypatch.setattr(Conv2d, "infer_with_relu", lambda self, x, relu=False: _shape_only_conv(self, x)[0])
    # the heads give 8732 predictions and the PriorBox layers, on the 38, 19, 10, 5, 3, 1 maps, 8732 priors
    parts = detector.new_graph(outputs=["mbox_loc", "mbox_conf", "mbox_priorbox", "detection_out"]).evaluate()
    loc, conf, priors, rows = parts(np.zeros((1, 3, 300, 300), np.float32))
    assert loc.shape == (1, 8732, 4) and conf.shape == (1, 8732, 21) and priors.shape == (1, 2, 8732 * 4)
    np.testing.assert_allclose(priors[0, 0].reshape(-1, 4), make_priors(SSD300_SOURCES, 300), atol=1e-7)
    assert rows.shape == (1, 1, 10, 7) and np.allclose(rows[0, 0, :, 2], 1 / 21)


def test_ssd_mini_shapes_and_detector_agree() -> None:
    data = make_shapes(3, "test", seed=3)
    x = preprocess(data.images)
    model = ssd_mini().evaluate()
    raw = model(x)
    assert raw.shape == (3, NUM_PRIORS, 4 + 8)
    detector = ssd_mini(detector=True, detection={"confidence_threshold": 0.2}).evaluate()
    detector.load_state_dict(model.state_dict())
    got = split_detections(detector(x), 3)
    want = detect(raw, make_priors(MINI_SOURCES, IMAGE_SIZE), 8, confidence_threshold=0.2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)
    # the detector survives the model file (PriorBox and DetectionOutput configs included)
    loaded = model_from_bytes(model_to_bytes(detector)).evaluate()
    np.testing.assert_array_equal(loaded(x), detector(x))
    with pytest.raises(ValueError, match=r"grey images \(N, 96, 96\)"):
        preprocess(np.zeros((2, 64, 64), np.uint8))


def test_one_training_step_lowers_the_loss() -> None:
    data = make_shapes(4, "train", seed=5)
    x, y = preprocess(data.images), pad_targets(data.boxes, data.labels, 4)
    model = ssd_mini()
    loss = MultiBoxLoss(make_priors(MINI_SOURCES, IMAGE_SIZE), 8)
    opt = Adam(model.parameters(), lr=1e-3)
    before = loss.forward(model.forward(x), y)
    model.zero_grad()
    out = model.forward(x)
    model.backward(loss.backward(out, y))
    opt.step()
    assert loss.forward(model.forward(x), y) < before
