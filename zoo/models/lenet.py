"""LeNet-5 (LeCun et al., 1998) for 28x28 grey images, as in BigDL's LeNet example.

Input: ``(N, 1, 28, 28)`` float32 made by :func:`preprocess` from ``uint8``
images: scaled to [0, 1], then normalised with the Fashion-MNIST training
mean and standard deviation (``(x / 255 - 0.2860) / 0.3530``). The output is
``(N, num_classes)`` logits (train with ``CrossEntropyLoss``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bigdl_runtime.nn import Sequential
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.pool import MaxPool2d
from bigdl_runtime.nn.layers.shape import Flatten

from ..datasets.fashion_mnist import CLASS_NAMES
from .weights import apply_weights

#: the catalog model ``weights="pretrained"`` loads
PRETRAINED = "lenet5-fashion-mnist"

#: Fashion-MNIST training-set pixel statistics on the [0, 1] scale.
MEAN, STD = 0.2860, 0.3530

#: What :func:`preprocess` does, as a model card's ``preprocessing`` table (the catalog applies it to image files).
PREPROCESSING = {
    "kind": "image", "color": "L", "size": [28, 28], "resize": "bilinear",
    "scale": 1 / 255, "mean": [MEAN], "std": [STD], "layout": "NCHW",
    "note": "light object on a dark background, as in Fashion-MNIST; output = logits (softmax for scores)"}


def fashion_mnist_card(name: str, description: str, builder: str, builder_args: dict[str, Any],
                       result: dict[str, float], training: dict[str, Any]) -> dict[str, Any]:
    """The model card of a classifier of :func:`preprocess`-ed Fashion-MNIST images (the recipes' shared part).

    ``result`` holds the test split's ``top1``, ``top5`` and ``loss``; ``training`` the recipe's own table.
    """
    return {
        "name": name, "description": description, "builder": builder, "builder_args": builder_args,
        "input_shape": [1, 28, 28], "labels": list(CLASS_NAMES), "preprocessing": PREPROCESSING,
        "metrics": {"dataset": "Fashion-MNIST test split (10,000 images, never trained on)",
                    **{k: round(result[k], 4) for k in ("top1", "top5", "loss")}},
        "training": training,
    }


def preprocess(images: np.ndarray) -> np.ndarray:
    """``uint8`` images ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` -> normalised float32 ``(N, 1, 28, 28)``."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"LeNet-5 expects images (N, 28, 28) or (N, 1, 28, 28), got {images.shape}")
    return ((images.astype(np.float32) * np.float32(1 / 255) - np.float32(MEAN)) / np.float32(STD))


def lenet5(num_classes: int = 10, weights: str | None = None, include_top: bool = True) -> Sequential:
    """LeNet-5: two 5x5 convolutions with max pooling, then three fully connected layers.

    Args:
        num_classes: size of the last layer (10 for (Fashion-)MNIST).
        weights: None (random PyTorch-default initialisation from the runtime's
            seeded RNG), ``"pretrained"`` (the catalog's ``lenet5-fashion-mnist``,
            trained here to ~91% test top-1; needs ``num_classes=10`` with the top)
            or the path of a model file with the same parameter names.
        include_top: keep the classifier ``fc3``; without it the network ends with
            the 84 features of ``fc2`` (after its ReLU), for transfer learning.

    Shape:
        - input: ``(N, 1, 28, 28)`` float32, see :func:`preprocess`
        - output: ``(N, num_classes)`` logits (``(N, 84)`` without the top)

    Examples:
        >>> model = lenet5()
        >>> model.forward(preprocess(images[:8])).shape
        (8, 10)
        >>> features = lenet5(weights="pretrained", include_top=False)
    """
    layers = [
        Conv2d(1, 6, 5, padding=2, name="conv1"), ReLU(), MaxPool2d(2),      # 6 x 28 x 28 -> 6 x 14 x 14
        Conv2d(6, 16, 5, name="conv2"), ReLU(), MaxPool2d(2),                # 16 x 10 x 10 -> 16 x 5 x 5
        Flatten(),
        Linear(400, 120, name="fc1"), ReLU(),
        Linear(120, 84, name="fc2"), ReLU(),
    ]
    if include_top:
        layers.append(Linear(84, num_classes, name="fc3"))
    model = Sequential(*layers, name="lenet5")
    pretrained = PRETRAINED if (num_classes == 10 or not include_top) else None
    return apply_weights(model, weights, pretrained, "lenet5")
