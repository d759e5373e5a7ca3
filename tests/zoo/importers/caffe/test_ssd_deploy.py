"""An SSD deploy definition imported whole (as SSD300's, scaled down): an L2-normalised source map and a
second one, per-map loc/conf heads with Permute + Flatten, PriorBox per map, Concat across maps, the
softmax-ed confidences and DetectionOutput, against OpenCV dnn."""
from __future__ import annotations

import numpy as np

from tests.zoo.importers.caffe.caffe_net import CaffeNet, compare_with_opencv

CLASSES = 4


def _conv(net: CaffeNet, name: str, bottom: str, cin: int, cout: int, extra: str = "", gain: float = 1.0) -> None:
    net.layer(name, "Convolution", [bottom], params=f"param {{ lr_mult: 1 decay_mult: 1 }} convolution_param {{ "
              f"num_output: {cout} kernel_size: 3 pad: 1 {extra} weight_filler {{ type: 'xavier' }} }}",
              blobs=[net.randn(cout, cin, 3, 3, scale=gain / np.sqrt(9 * cin)), net.randn(cout, scale=0.1)])


def ssd_mini(rng: np.random.Generator) -> CaffeNet:
    net = CaffeNet(rng, name="SSD_mini").input("data", (1, 3, 64, 64), style="input_shape")
    _conv(net, "conv4_3", "data", 3, 8, "stride: 4")
    net.layer("relu4_3", "ReLU", ["conv4_3"], tops=["conv4_3"])
    net.layer("conv4_3_norm", "Normalize", ["conv4_3"], params="norm_param { across_spatial: false "
              "scale_filler { type: \"constant\" value: 20 } channel_shared: false }",
              blobs=[net.rng.uniform(15, 25, 8).astype(np.float32)])
    _conv(net, "fc7", "conv4_3", 8, 16, "stride: 2")
    net.layer("relu7", "ReLU", ["fc7"], tops=["fc7"])
    sources = [("conv4_3_norm", 8, 3, "min_size: 10 aspect_ratio: 2 step: 4"),
               ("fc7", 16, 6, "min_size: 24 max_size: 40 aspect_ratio: 2 aspect_ratio: 3 step: 8")]
    for source, channels, priors, box in sources:
        for head, width in (("loc", 4), ("conf", CLASSES)):
            name = f"{source}_mbox_{head}"
            _conv(net, name, source, channels, priors * width, gain=0.1 if head == "conf" else 1.0)
            net.layer(f"{name}_perm", "Permute", [name], params="permute_param { order: 0 order: 2 order: 3 order: 1 }")
            net.layer(f"{name}_flat", "Flatten", [f"{name}_perm"], params="flatten_param { axis: 1 }")
        net.layer(f"{source}_mbox_priorbox", "PriorBox", [source, "data"], params=f"prior_box_param {{ {box} "
                  "flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 offset: 0.5 }")
    for head, axis in (("loc", 1), ("conf", 1), ("priorbox", 2)):
        suffix = "" if head == "priorbox" else "_flat"
        net.layer(f"mbox_{head}", "Concat", [f"{s}_mbox_{head}{suffix}" for s, *_ in sources],
                  params=f"concat_param {{ axis: {axis} }}")
    net.layer("mbox_conf_reshape", "Reshape", ["mbox_conf"],
              params=f"reshape_param {{ shape {{ dim: 0 dim: -1 dim: {CLASSES} }} }}")
    net.layer("mbox_conf_softmax", "Softmax", ["mbox_conf_reshape"], params="softmax_param { axis: 2 }")
    net.layer("mbox_conf_flatten", "Flatten", ["mbox_conf_softmax"], params="flatten_param { axis: 1 }")
    net.layer("detection_out", "DetectionOutput", ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"],
              params=f"include {{ phase: TEST }} detection_output_param {{ num_classes: {CLASSES} "
              "share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 100 } "
              "code_type: CENTER_SIZE keep_top_k: 40 confidence_threshold: 0.2 }")
    return net


def test_ssd_deploy_matches_opencv(tmp_path):
    rng = np.random.default_rng(300)
    net = ssd_mini(rng)
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    priors, conf, detections = compare_with_opencv(
        tmp_path, net, {"data": x}, ["mbox_priorbox", "mbox_conf_flatten", "detection_out"],
        detections=["detection_out"])
    assert priors.shape == (1, 2, (16 * 16 * 3 + 8 * 8 * 6) * 4)
    assert conf.shape == (1, (16 * 16 * 3 + 8 * 8 * 6) * CLASSES)
    kept = detections[0, 0]
    assert 5 <= len(kept) <= 40 and set(kept[:, 1]) <= {1.0, 2.0, 3.0}  # real detections, background left out
    assert len(np.unique(kept[:, 2])) == len(kept)  # distinct scores: the comparison does not hinge on ties
