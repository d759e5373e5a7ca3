"""load_caffe: a Caffe deploy definition (prototxt) and its weights (caffemodel) as one of our Graphs."""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from bigdl_runtime.nn import Graph, Input

from . import caffe_subset_pb2 as pb
from . import convert_detection, convert_norm, convert_pointwise, convert_tensor, convert_vision  # noqa: F401
from .blobs import Weights
from .context import CAFFE, DOMAIN, LayerContext, Value
from .files import (CaffeImportError, included_in_test, net_layers, parse_caffemodel, parse_prototxt,
                    read_bytes)


def load_caffe(prototxt_path: str | os.PathLike, caffemodel_path: str | os.PathLike | None = None,
               spark: Any = None, input_shapes: Mapping[str, Sequence[int]] | None = None,
               outputs: Sequence[str] | None = None) -> Graph:
    """Import a Caffe network: the architecture from the prototxt, the weights from the caffemodel.

    Layers are matched to the caffemodel's weights by name. Both the current ``layer { }``
    format and the legacy V1 ``layers { }`` format are read, as are legacy (V1) caffemodels.
    Layers excluded from the TEST phase (``include { phase: TRAIN }``) are left out.

    Args:
        prototxt_path: the text network definition (``deploy.prototxt``).
        caffemodel_path: the binary weights; None keeps our layers' own initialisation.
        spark: a SparkSession, to read ``hdfs://``, ``s3a://``, ... paths through Hadoop's FileSystem
            (plain paths and ``file://`` URIs need none).
        input_shapes: shape (batch included) of inputs the prototxt leaves unshaped, or to override it.
        outputs: names of the blobs to return (default: every blob no layer consumes, in prototxt order).

    Returns:
        A :class:`~bigdl_runtime.nn.Graph` in evaluation mode whose inputs are the network's input
        blobs (in declaration order) and whose nodes are named after the Caffe layers; call
        ``.train()`` to fine-tune it, ``.save(path)`` to keep it.

    Raises:
        CaffeImportError: malformed files, a caffemodel that does not match the prototxt (missing
            layer, blob count or shape), unsupported geometry; the message names the layer.
        UnsupportedOperatorError: a layer type without a converter (names the type and the layer).

    Examples:
        >>> net = load_caffe("deploy.prototxt", "bvlc_googlenet.caffemodel")
        >>> probs = net(images)  # images: float32 (N, 3, 224, 224), preprocessed as for Caffe
    """
    where = os.fspath(prototxt_path)
    try:
        text = read_bytes(prototxt_path, spark).decode("utf-8")
    except UnicodeDecodeError as err:
        raise CaffeImportError(f"{where}: a prototxt must be UTF-8 text: {err}") from None
    net = parse_prototxt(text, where)
    weights = None
    if caffemodel_path is not None:
        model_where = os.fspath(caffemodel_path)
        model = parse_caffemodel(read_bytes(caffemodel_path, spark), model_where)
        weights = Weights(net_layers(model, model_where), model_where)
    builder = _Builder(weights)
    builder.add_net_inputs(net, dict(input_shapes or {}), where)
    for index, layer in enumerate(net_layers(net, where)):
        if included_in_test(layer):
            builder.add_layer(layer, index, dict(input_shapes or {}))
    graph = builder.graph(net.name or None, outputs, where)
    return graph.evaluate()


class _Builder:
    """Walks the layers in prototxt order, keeping the current value of every named blob."""

    def __init__(self, weights: Weights | None) -> None:
        self.weights = weights
        self.blobs: dict[str, Value] = {}
        self.inputs: list[Input] = []
        self.available: dict[str, None] = {}  # blobs produced and not yet consumed (Caffe's net outputs)
        self.layer_names: set[str] = set()

    def add_net_inputs(self, net: pb.NetParameter, overrides: dict[str, Sequence[int]], where: str) -> None:
        """The deprecated ``input:`` blobs, shaped by ``input_shape`` or ``input_dim`` (4 per input)."""
        names = list(net.input)
        if net.input_shape and len(net.input_shape) != len(names):
            raise CaffeImportError(f"{where}: {len(names)} inputs but {len(net.input_shape)} input_shape entries")
        if net.input_dim and len(net.input_dim) != 4 * len(names):
            raise CaffeImportError(f"{where}: {len(names)} inputs need {4 * len(names)} input_dim values, "
                                   f"got {len(net.input_dim)}")
        for i, name in enumerate(names):
            if name in overrides:
                shape = tuple(int(d) for d in overrides[name])
            elif net.input_shape:
                shape = tuple(int(d) for d in net.input_shape[i].dim)
            elif net.input_dim:
                shape = tuple(int(d) for d in net.input_dim[4 * i:4 * i + 4])
            else:
                raise CaffeImportError(f"{where}: input '{name}' has no shape; give input_shape in the prototxt "
                                       f"or input_shapes={{'{name}': (N, C, H, W)}}")
            self._produce(name, Value(self._input(name), shape))

    def _input(self, name: str) -> Input:
        node = Input(name=name)
        self.inputs.append(node)
        return node

    def _produce(self, blob: str, value: Value) -> None:
        self.blobs[blob] = value
        self.available.pop(blob, None)
        self.available[blob] = None

    def add_layer(self, layer: pb.LayerParameter, index: int, overrides: dict[str, Sequence[int]]) -> None:
        name = layer.name or f"{layer.type.lower() or 'layer'}{index}"
        if name in self.layer_names:
            raise CaffeImportError(f"two layers are named '{name}'; layer names must be unique")
        self.layer_names.add(name)
        if not layer.type:
            raise CaffeImportError(f"layer '{name}' has no type")
        inputs = []
        for bottom in layer.bottom:
            if bottom not in self.blobs:
                raise CaffeImportError(f"{layer.type} layer '{name}': bottom blob '{bottom}' is not produced by "
                                       f"an input or an earlier layer (known blobs: {sorted(self.blobs)})")
            inputs.append(self.blobs[bottom])
            self.available.pop(bottom, None)
        convert = CAFFE.lookup(layer.type, domain=DOMAIN, version=1, node=name)
        values = convert(LayerContext(layer, name, inputs, self.weights))
        tops = [top or f"{name}_{i}" for i, top in enumerate(layer.top)]
        tops += [f"{name}_{i}" for i in range(len(tops), len(values))]  # unnamed tops: named after the layer
        if len(values) != len(tops):
            raise CaffeImportError(f"{layer.type} layer '{name}' declares {len(tops)} top blobs {tops} but "
                                   f"produces {len(values)}")
        for top, value in zip(tops, values):
            if isinstance(value.node, Input):
                if top in overrides:
                    value = Value(value.node, tuple(int(d) for d in overrides[top]))
                self.inputs.append(value.node)
            self._produce(top, value)

    def graph(self, name: str | None, outputs: Sequence[str] | None, where: str) -> Graph:
        if not self.inputs:
            raise CaffeImportError(f"{where}: the network has no inputs (no 'input:' fields and no Input layer)")
        wanted = list(outputs) if outputs is not None else list(self.available)
        missing = [b for b in wanted if b not in self.blobs]
        if missing:
            raise CaffeImportError(f"{where}: no blobs named {missing}; known: {sorted(self.blobs)}")
        nodes = [self.blobs[b].node for b in wanted]
        if not nodes:
            raise CaffeImportError(f"{where}: the network has no outputs")
        return Graph(self.inputs, nodes, name=name)
