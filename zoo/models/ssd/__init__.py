"""SSD: Single Shot MultiBox Detector (Liu et al. 2016).

Builders (:func:`ssd300` on VGG-16, :func:`ssd_mini` for two-core training), the prior
layout (:mod:`.priors`), matching and the multibox loss (:mod:`.matching`, :mod:`.loss`),
detection post-processing (:mod:`.detect`) and the VOC-style mAP evaluator (:mod:`.evaluate`).
"""
from .detect import detect, detect_images, draw_detections, split_detections
from .evaluate import MeanAveragePrecision, average_precision, mean_average_precision
from .loss import MultiBoxLoss
from .matching import encode_targets, match_priors, pad_targets, unpad_targets
from .mini import ssd_mini
from .priors import SSD300_SOURCES, SourceSpec, make_priors
from .ssd300 import ssd300

__all__ = ["ssd300", "ssd_mini", "MultiBoxLoss", "SourceSpec", "SSD300_SOURCES", "make_priors",
           "match_priors", "encode_targets", "pad_targets", "unpad_targets", "detect", "detect_images", "split_detections",
           "draw_detections", "MeanAveragePrecision", "average_precision", "mean_average_precision"]
