"""Transfer learning: cut a pretrained network at a named layer, freeze it, put a new head on it.

The pieces share the pretrained layer objects (no copies), so training the
new network updates the backbone's layers when they are not frozen. Every function takes a network or a
catalog model (``zoo.load_pretrained``); ``"features"`` names the end of a network's feature extractor::

    >>> backbone = cut(pretrained, "fc2")                     # input ... fc2, as a Graph
    >>> features = cut(pretrained, "features")                # input ... the input of the first Linear layer
    >>> net = with_new_head(backbone, [ReLU(), Linear(84, 10, name="head")])   # backbone frozen
    >>> # train the head (e.g. NNClassifier(net).fit(df)), then fine-tune everything:
    >>> net.unfreeze()
"""
from __future__ import annotations

from typing import Any, Sequence

from bigdl_runtime.nn import Graph, Input, Linear, Module, Sequential
from bigdl_runtime.serialization import model_pb2
from bigdl_runtime.serialization.architecture import layer_from_proto, layer_to_proto
from zoo.catalog.pretrained import as_module

#: the cut point every network has: where its feature extractor ends (see :func:`feature_layer`)
FEATURES = "features"


def as_graph(model: Module | Any, name: str | None = None) -> Graph:
    """``model`` (a network or a catalog model) as a Graph: a Graph as is, a Sequential as a chain of nodes.

    The chain's node names are the Sequential's child names (``"conv1"``, or
    ``"3"`` for an unnamed fourth child), so they can be given to :func:`cut`.
    The layers are shared with ``model``, not copied.

    Raises:
        TypeError: for a model that is neither a Graph nor a Sequential.
    """
    model = as_module(model, "as_graph")
    if isinstance(model, Graph):
        return model
    if not isinstance(model, Sequential):
        raise TypeError(f"as_graph: {model.describe()} is a single layer, not a Graph or a Sequential network; "
                        "wrap it in one (Sequential(layer))")
    if len(model) == 0:
        raise ValueError(f"as_graph: {model.describe()} is empty")
    x = Input(name="input")
    node = x
    for key, layer in model._modules.items():
        node = layer(node)
        node.name = key
    return Graph(x, node, name=name or model.name)


def cut(model: Module | Any, layer: str, name: str | None = None) -> Graph:
    """The part of ``model`` from its input(s) up to and including the node called ``layer``.

    Args:
        model: a Graph, a Sequential (see :func:`as_graph` for node names) or a catalog model.
        layer: the node whose output becomes the new network's output; ``"features"`` (unless a node has that
            name) is where the feature extractor ends, see :func:`feature_layer`.
        name: the new network's name (default ``"backbone"``).

    Returns:
        a Graph sharing ``model``'s layers (see ``Graph.new_graph``).

    Raises:
        KeyError: no node called ``layer``; the message lists close names.
    """
    graph = as_graph(as_module(model, "cut"))
    if layer == FEATURES and FEATURES not in {node.name for node in graph.nodes}:
        layer = feature_layer(graph)
    return graph.new_graph(outputs=[layer], name=name or "backbone")


def last_hidden(model: Module) -> str:
    """The name of the node feeding ``model``'s last layer (where a new classifier head goes).

    For LeNet-5 (``... fc2, ReLU, fc3``) that is the ReLU after ``fc2``.

    Raises:
        ValueError: the network has several outputs, or its output layer has not exactly one input node.
    """
    graph = as_graph(model)
    if len(graph.outputs) != 1:
        raise ValueError(f"last_hidden: {model.describe()} has {len(graph.outputs)} outputs; name the cut layer")
    last, _ = graph.outputs[0]
    if len(last.inputs) != 1 or last.inputs[0][0].module is None:
        raise ValueError(f"last_hidden: the last layer '{last.name}' of {model.describe()} is not fed by one "
                         "inner node; name the cut layer")
    source, index = last.inputs[0]
    return source.name if index is None else f"{source.name}[{index}]"


def feature_layer(model: Module) -> str:
    """Where a CNN's feature extractor ends: the node feeding its first ``Linear`` layer.

    That is where features are the most generic (for LeNet-5, the flattened
    convolution output feeding ``fc1``; for a ResNet, the pooled features
    feeding ``fc``). A network whose first Linear layer reads the input itself
    (an MLP) falls back to :func:`last_hidden`.
    """
    graph = as_graph(model)
    for node in graph.nodes:
        if isinstance(node.module, Linear) and len(node.inputs) == 1:
            source, index = node.inputs[0]
            if source.module is not None:
                return source.name if index is None else f"{source.name}[{index}]"
            break
    return last_hidden(model)


def reinitialized(model: Module) -> Module:
    """A new network with ``model``'s architecture and freshly initialised weights (the runtime's RNG).

    Examples:
        >>> random.manual_seed(0); scratch = reinitialized(pretrained)   # the from-scratch baseline
    """
    spec = layer_to_proto(model, model_pb2.Layer())
    return layer_from_proto(spec, where=model.describe())


def with_new_head(backbone: Module | Any, head: Module | Sequence[Module], freeze_backbone: bool = True,
                  name: str | None = None) -> Graph:
    """A network ``input -> backbone -> head`` (the head's layers applied in order).

    Args:
        backbone: the pretrained part (e.g. from :func:`cut`, or a whole catalog model); its name
            (default ``"backbone"``) prefixes its parameters in the new network.
        head: a layer or a list of layers, freshly initialised.
        freeze_backbone: mark the backbone's parameters non-trainable, so only
            the head learns (undo with ``network.unfreeze()`` to fine-tune).
        name: the new network's name.

    Examples:
        >>> net = with_new_head(cut(resnet, "pool5"), Linear(512, 5, name="classifier"))
        >>> [k for k, p in net.named_parameters() if p.trainable]
        ['classifier.weight', 'classifier.bias']
    """
    backbone = as_module(backbone, "with_new_head")
    layers = [head] if isinstance(head, Module) else list(head)
    if not layers:
        raise ValueError("with_new_head: the head has no layers")
    if backbone.name is None:
        backbone.name = "backbone"
    if freeze_backbone:
        backbone.freeze()
    x = Input(name="input")
    node = backbone(x)
    for layer in layers:
        node = layer(node)
    return Graph(x, node, name=name)
