"""Detection layers against independent references: OpenCV dnn (Caffe PriorBox and DetectionOutput
from a tiny prototxt) and the ONNX reference evaluator and onnxruntime (NonMaxSuppression)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bigdl_runtime.nn import DetectionOutput, NonMaxSuppression, PriorBox
from tests.helpers.onnx_ref import run_node, run_node_ort


def _opencv_net(tmp_path: Path, inputs: dict[str, tuple[int, ...]], layer: str):
    import cv2
    lines = ['name: "ref"']
    for name, shape in inputs.items():
        dims = " ".join(f"dim: {d}" for d in shape)
        lines += [f'input: "{name}"', f"input_shape {{ {dims} }}"]
    path = tmp_path / "net.prototxt"
    path.write_text("\n".join(lines) + "\n" + layer)
    return cv2.dnn.readNetFromCaffe(str(path))


def _run_opencv(net, feeds: dict[str, np.ndarray]) -> np.ndarray:
    for name, value in feeds.items():
        net.setInput(value, name)
    return net.forward()


PRIOR_CONFIGS = [
    ({"min_sizes": [7], "max_sizes": [15], "aspect_ratios": [2, 3], "flip": True, "clip": False,
      "variances": [0.1, 0.1, 0.2, 0.2]}, (3, 4), (30, 40)),
    ({"min_sizes": [4, 9], "aspect_ratios": [2], "flip": False, "clip": True, "variances": [0.2],
      "step": 7.0, "offset": 0.3}, (5, 3), (33, 21)),
]


def _prior_param(cfg: dict) -> str:
    parts = [f"min_size: {s}" for s in cfg["min_sizes"]] + [f"max_size: {s}" for s in cfg.get("max_sizes", [])]
    parts += [f"aspect_ratio: {r}" for r in cfg["aspect_ratios"]] + [f"variance: {v}" for v in cfg["variances"]]
    parts += [f"flip: {str(cfg['flip']).lower()}", f"clip: {str(cfg['clip']).lower()}"]
    if "step" in cfg:
        parts.append(f"step: {cfg['step']}")
    parts.append(f"offset: {cfg.get('offset', 0.5)}")
    return " ".join(parts)


@pytest.mark.parametrize("cfg, fmap, image", PRIOR_CONFIGS)
def test_prior_box_matches_opencv(tmp_path: Path, cfg: dict, fmap: tuple, image: tuple) -> None:
    feat, img = np.zeros((1, 2, *fmap), np.float32), np.zeros((1, 3, *image), np.float32)
    net = _opencv_net(tmp_path, {"feat": feat.shape, "img": img.shape},
                      'layer { name: "pb" type: "PriorBox" bottom: "feat" bottom: "img" top: "pb" '
                      f"prior_box_param {{ {_prior_param(cfg)} }} }}")
    want = _run_opencv(net, {"feat": feat, "img": img})
    layer = PriorBox(**cfg)
    got = layer(feat, img)
    assert got.shape == want.shape == (1, 2, fmap[0] * fmap[1] * layer.num_priors * 4)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # a fixed img_size gives the same boxes from the feature map alone
    np.testing.assert_array_equal(PriorBox(**cfg, img_size=image)(feat), got)
    feat_grad, img_grad = layer.backward(np.ones_like(got))
    assert feat_grad.shape == feat.shape and not feat_grad.any() and img_grad.shape == img.shape


def test_prior_box_count_and_errors() -> None:
    pb = PriorBox([30.0], [60.0], aspect_ratios=[2.0, 3.0], img_size=300)
    assert pb(np.zeros((1, 1, 38, 38), np.float32)).shape == (1, 2, 38 * 38 * 6 * 4)
    with pytest.raises(ValueError, match="PriorBox: .*larger than min_size"):
        PriorBox([30.0], [20.0])
    with pytest.raises(ValueError, match="the image must be the second input"):
        PriorBox([3.0])(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"feature map \(N, C, H, W\)"):
        PriorBox([3.0], img_size=8)(np.zeros((2, 2)))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("share_location, keep_top_k, code", [(True, 7, "CENTER_SIZE"), (False, 100, "CENTER_SIZE"),
                                                                (True, 100, "CORNER")])
def test_detection_output_matches_opencv(tmp_path: Path, rng: np.random.Generator, share_location: bool,
                                         keep_top_k: int, code: str) -> None:
    n, classes = 2, 4
    priors = PriorBox([10], [20], [2], img_size=30, clip=True, variances=[0.1, 0.1, 0.2, 0.2])(
        np.zeros((1, 1, 2, 3), np.float32))
    num_priors = priors.shape[2] // 4
    loc_classes = 1 if share_location else classes
    loc = (rng.standard_normal((n, num_priors * loc_classes * 4)) * 0.5).astype(np.float32)
    conf = _softmax(rng.standard_normal((n, num_priors, classes)) * 2).reshape(n, -1).astype(np.float32)
    param = (f"num_classes: {classes} share_location: {str(share_location).lower()} background_label_id: 0 "
             f"nms_param {{ nms_threshold: 0.45 top_k: 10 }} code_type: {code} keep_top_k: {keep_top_k} "
             "confidence_threshold: 0.1")
    net = _opencv_net(tmp_path, {"loc": loc.shape, "conf": conf.shape, "priors": priors.shape},
                      'layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "priors" '
                      f"top: \"det\" detection_output_param {{ {param} }} }}")
    want = _run_opencv(net, {"loc": loc, "conf": conf, "priors": priors})[0, 0]
    want = want[want[:, 1] > 0]  # OpenCV pads its output with zero rows up to keep_top_k per image
    layer = DetectionOutput(classes, share_location=share_location, nms_threshold=0.45, top_k=10,
                            keep_top_k=keep_top_k, confidence_threshold=0.1, code_type=code)
    got = layer(loc, conf, priors)
    assert got.shape[:2] == (1, 1) and got.shape[2] >= n
    # Caffe orders rows by image, label, then score; OpenCV by image then score: compare in one order
    key = lambda rows: rows[np.lexsort((-rows[:, 2], rows[:, 1], rows[:, 0]))]  # noqa: E731
    np.testing.assert_allclose(key(got[0, 0]), key(want), atol=1e-5)
    if keep_top_k < 20:
        assert all(np.sum(got[0, 0, :, 0] == i) == keep_top_k for i in range(n))
    else:  # fewer detections than keep_top_k: the same as no limit (OpenCV crashes on -1)
        unlimited = DetectionOutput(**{**layer.get_config(), "keep_top_k": -1})(loc, conf, priors)
        np.testing.assert_array_equal(unlimited, got)
    with pytest.raises(RuntimeError, match="inference-only"):
        layer.backward(got)


def test_detection_output_errors() -> None:
    with pytest.raises(ValueError, match="code_type"):
        DetectionOutput(3, code_type="CORNER_SIZE")
    det = DetectionOutput(3)
    with pytest.raises(ValueError, match=r"DetectionOutput: .*conf"):
        det(np.zeros((1, 8)), np.zeros((1, 5)), np.zeros((1, 2, 8)))
    with pytest.raises(ValueError, match="expected 3 inputs"):
        det(np.zeros((1, 8)), np.zeros((1, 6)))


def _nms_case(rng: np.random.Generator, center: int, batches: int = 2, classes: int = 3, n: int = 12):
    xy = rng.uniform(0, 8, (batches, n, 2))
    wh = rng.uniform(1, 5, (batches, n, 2))
    if center:
        boxes = np.concatenate([xy, wh], axis=-1)
    else:  # [y1, x1, y2, x2], some boxes given by the other diagonal
        boxes = np.concatenate([xy[..., ::-1], (xy + wh)[..., ::-1]], axis=-1)
        flip = rng.random((batches, n)) < 0.3
        boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    scores = rng.random((batches, classes, n))
    scores[0, 0, 3] = scores[0, 0, 5]  # a tie
    return boxes.astype(np.float32), scores.astype(np.float32)


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("max_out, iou, score", [(5, 0.3, 0.2), (100, 0.5, None), (2, 0.0, 0.5), (0, 0.5, None)])
def test_nms_matches_onnx_reference(rng: np.random.Generator, center: int, max_out: int, iou: float,
                                    score: float | None) -> None:
    boxes, scores = _nms_case(rng, center)
    extra = [np.array([max_out], np.int64), np.array([iou], np.float32)]
    if score is not None:
        extra.append(np.array([score], np.float32))
    want = run_node("NonMaxSuppression", [boxes, scores, *extra], opset=11, center_point_box=center)[0]
    layer = NonMaxSuppression(center_point_box=center)
    got = layer(boxes, scores, *extra)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.reshape(-1, 3), want.reshape(-1, 3))
    grads = layer.backward(np.zeros(got.shape))
    assert [g.shape for g in grads[:2]] == [boxes.shape, scores.shape] and not grads[1].any()


@pytest.mark.parametrize("center", [0, 1])
def test_nms_matches_onnxruntime(rng: np.random.Generator, center: int) -> None:
    boxes, scores = _nms_case(rng, center, batches=1, classes=2, n=40)
    extra = [np.array([10], np.int64), np.array([0.4], np.float32), np.array([0.1], np.float32)]
    want = run_node_ort("NonMaxSuppression", [boxes, scores, *extra], opset=11, center_point_box=center)[0]
    # thresholds from the config give the same result as thresholds given as inputs
    got = NonMaxSuppression(center, max_output_boxes_per_class=10, iou_threshold=0.4, score_threshold=0.1)(
        boxes, scores)
    np.testing.assert_array_equal(got, want)


def test_nms_errors() -> None:
    with pytest.raises(ValueError, match="center_point_box must be 0 or 1"):
        NonMaxSuppression(2)
    with pytest.raises(ValueError, match=r"NonMaxSuppression: boxes must be \(B, N, 4\)"):
        NonMaxSuppression()(np.zeros((1, 3, 4)), np.zeros((1, 2, 4)))
