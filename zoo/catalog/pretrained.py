"""A loaded pretrained model: the network, its card, and the card's preprocessing."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from bigdl_runtime.nn.module import Module

from .preprocess import encode_texts, load_images, read_vocabulary


class PretrainedModel:
    """A catalog model ready to predict: ``.model`` (the network), ``.card``, ``.labels``.

    Attribute access falls through to the network, so ``pretrained.forward(x)``,
    ``pretrained.save(path)`` or ``pretrained.parameters()`` work as on the module.

    Examples:
        >>> net = zoo.load_pretrained("lenet5-fashion-mnist")
        >>> net.predict_images(["boot.png"])
        [[('Ankle boot', 0.97)]]
        >>> logits = net.forward(x)             # x already preprocessed, (N, 1, 28, 28)
    """

    def __init__(self, model: Module, card: dict[str, Any], folder: str | os.PathLike) -> None:
        self.model = model.evaluate()
        self.card = card
        self.folder = Path(folder)
        self.labels: list[str] = list(card.get("labels", []))
        self._vocabulary: dict[str, int] | None = None

    @property
    def name(self) -> str:
        return self.card["name"]

    def __getattr__(self, key: str) -> Any:
        if key in ("model", "card"):  # not set yet (during copy/unpickle): no recursion
            raise AttributeError(key)
        return getattr(self.model, key)

    def __repr__(self) -> str:
        return f"PretrainedModel('{self.name}', {type(self.model).__name__}, {self.model.num_parameters()} parameters)"

    # ------------------------------------------------------------- images
    def preprocess_images(self, paths: Iterable[str | os.PathLike]) -> np.ndarray:
        """Image files -> the model's input tensor, as the card's ``[preprocessing]`` says."""
        self._need_kind("image")
        return load_images(paths, self.card["preprocessing"])

    def predict_images(self, paths: Sequence[str | os.PathLike], top_k: int = 1,
                       batch_size: int = 64) -> list[list[tuple[str, float]]]:
        """Classify image files.

        Args:
            paths: image files (any format Pillow reads; converted and resized as the card says).
            top_k: how many ``(label, score)`` pairs to return per image.
            batch_size: images per forward pass.

        Returns:
            one list per image of ``top_k`` ``(label, softmax score)`` pairs, best first.
        """
        self._need_kind("image")
        paths = list(paths)
        return self.top_labels(np.concatenate([self.predict(self.preprocess_images(paths[i:i + batch_size]))
                                               for i in range(0, len(paths), batch_size)]), top_k)

    # --------------------------------------------------------------- text
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> the model's int64 token-id input, as the card's ``[preprocessing]`` says."""
        self._need_kind("text")
        if self._vocabulary is None:
            tokens = read_vocabulary(self.folder / self.card["preprocessing"]["vocabulary"])
            first = int(self.card["preprocessing"].get("first_id", 0))
            self._vocabulary = {t: i + first for i, t in enumerate(tokens)}
        return encode_texts(texts, self._vocabulary, self.card["preprocessing"])

    def predict_texts(self, texts: Sequence[str], top_k: int = 1) -> list[list[tuple[str, float]]]:
        """Classify texts; one list of ``top_k`` ``(label, score)`` pairs per text, best first."""
        return self.top_labels(self.predict(self.encode_texts(texts)), top_k)

    # ------------------------------------------------------------ generic
    def predict(self, *inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The network's outputs for already preprocessed ``inputs``, batch by batch, in evaluation mode."""
        self.model.evaluate()
        n = inputs[0].shape[0]
        return np.concatenate([self.model.forward(*(a[i:i + batch_size] for a in inputs))
                               for i in range(0, n, batch_size)])

    def top_labels(self, logits: np.ndarray, top_k: int = 1) -> list[list[tuple[str, float]]]:
        """Softmax over the last axis (or sigmoid for one output), then the ``top_k`` labels per row."""
        logits = np.asarray(logits, np.float64)
        if logits.shape[-1] == 1:  # one logit: binary classifier, labels = [negative, positive]
            p = 1 / (1 + np.exp(-logits[:, 0]))
            probs = np.stack([1 - p, p], axis=1)
        else:
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        if len(self.labels) != probs.shape[1]:
            raise ValueError(f"model '{self.name}': {probs.shape[1]} outputs but the card has "
                             f"{len(self.labels)} labels")
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        return [[(self.labels[j], float(probs[i, j])) for j in row] for i, row in enumerate(order)]

    def _need_kind(self, kind: str) -> None:
        have = self.card["preprocessing"].get("kind")
        if have != kind:
            raise ValueError(f"model '{self.name}' takes {have} input (card preprocessing kind), not {kind}")
