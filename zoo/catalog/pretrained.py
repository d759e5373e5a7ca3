"""A loaded pretrained model: the network, its card, the card's preprocessing and the network's cut points."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from bigdl_runtime.nn.module import Module

from .preprocess import encode_texts, image_chain, load_images, read_vocabulary, reader_color


def as_module(model: Any, who: str) -> Module:
    """``model`` as a network: a Module as it is, a catalog model (:class:`PretrainedModel`) as its ``.model``.

    What every API taking a network calls first, so a catalog model goes wherever a Module does.

    Raises:
        TypeError: naming ``who`` and what was passed instead.
    """
    if isinstance(model, PretrainedModel):
        return model.model
    if isinstance(model, Module):
        return model
    raise TypeError(f"{who}: model must be a bigdl_runtime Module or a catalog model (zoo.load_pretrained), "
                    f"got {type(model).__name__}")


class PretrainedModel:
    """A catalog model ready to predict: ``.model`` (the network), ``.card``, ``.labels``.

    It goes wherever a network does (``zoo.predict``, ``cut``, ``with_new_head``, ``NNClassifier``,
    ``NNFeatureExtractor``), and attribute access falls through to the network, so ``pretrained.forward(x)``,
    ``pretrained.save(path)`` or ``pretrained.parameters()`` work as on the module. :meth:`preprocessing`
    is the card's preprocessing as a transformer chain, :meth:`cut_points` the names it can be cut at.

    Examples:
        >>> net = zoo.load_pretrained("lenet5-fashion-mnist")
        >>> net.predict_images(["boot.png"])
        [[('Ankle boot', 0.97)]]
        >>> logits = net.forward(x)             # x already preprocessed, (N, 1, 28, 28)
        >>> NNClassifier(net, featuresCol="image", featurePreprocessing=net.preprocessing())
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
    def preprocessing(self) -> Any:
        """The card's image preprocessing as a ``zoo.feature.image`` chain (a Pipeline).

        It starts with the model's colour mode (``ColorConvert``), so it takes images read in any mode, and
        ends in a float32 ``(C, H, W)`` tensor: give it to the Spark ML stages (``featurePreprocessing=``),
        to ``ImageSet.transform``, or call it on one ``(H, W, C)`` uint8 array.

        Raises:
            ValueError: the model does not take images.
        """
        self._need_kind("image")
        return image_chain(self.card["preprocessing"])

    @property
    def color(self) -> str:
        """The colour mode the model takes, as the image readers name it (``"gray"`` or ``"rgb"``)."""
        self._need_kind("image")
        return reader_color(self.card["preprocessing"])

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
    def cut_points(self) -> dict[str, tuple[int, ...]]:
        """Where the network can be cut (``cut(pretrained, name)``): node name -> one sample's output shape.

        The names are those ``print(pretrained.model)`` shows, plus ``"features"``: where the feature
        extractor ends (the input of the first Linear layer, e.g. LeNet-5's 400 flattened convolution
        features). Measured by one forward pass of a zero sample of the card's ``input_shape``.
        """
        from zoo.pipeline.transfer import FEATURES, as_graph, feature_layer

        graph = as_graph(self.model)
        names = [node.name for node in graph.nodes if node.module is not None]
        kind = self.card["preprocessing"].get("kind")
        shape = [] if kind == "ids" else [int(d) for d in self.card["input_shape"]]  # ids: one number per sample
        probe = np.zeros([1, *shape], np.int64 if kind in ("text", "ids") else np.float32)
        outputs = graph.new_graph(outputs=names, name="probe").evaluate().forward(*[probe] * len(graph.input_names))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        shapes = {name: tuple(int(d) for d in out.shape[1:]) for name, out in zip(names, outputs)}
        try:
            return {**shapes, FEATURES: shapes[feature_layer(self.model)]}
        except ValueError:  # no single feature-extractor end (e.g. a detector's several heads)
            return shapes

    def predict(self, *inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The network's outputs for already preprocessed ``inputs``, batch by batch, in evaluation mode.

        Raises:
            ValueError: one input whose sample shape is not the card's ``input_shape`` (the message says what
                the model takes and how to make it).
        """
        self._check_input(inputs)
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

    def _check_input(self, inputs: tuple[np.ndarray, ...]) -> None:
        want = tuple(int(d) for d in self.card["input_shape"])
        spec = self.card["preprocessing"]
        if len(inputs) != 1 or tuple(np.shape(inputs[0])[1:]) == want or spec.get("kind") != "image":
            return
        color = {"L": "grey", "RGB": "RGB"}.get(spec.get("color"), spec.get("color"))
        raise ValueError(f"model '{self.name}' takes {color} images as {want} samples (N, *{want}), "
                         f"got shape {tuple(np.shape(inputs[0]))}; make them with pretrained.preprocessing() or "
                         "pretrained.preprocess_images(paths)")

    def _need_kind(self, kind: str) -> None:
        have = self.card["preprocessing"].get("kind")
        if have != kind:
            raise ValueError(f"model '{self.name}' takes {have} input (card preprocessing kind), not {kind}")
