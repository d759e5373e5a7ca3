"""Inference-time fusion: rewrite exported elementwise patterns into single layers (:mod:`.fuse_patterns`),
fold each batch norm into the convolution that feeds it, a ReLU (or ReLU6) after such a convolution into it,
and run chains of convolutions, poolings, residual adds, activations, gates, concatenations and upsamplings
as oneDNN inference plans with their activations in blocked layouts.

In evaluation mode a batch norm is a per-channel affine map ``y = x * s + t`` with
``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``; after a
convolution it folds into the convolution's weights (``w * s`` per output channel) and bias
(``b * s + t``), which saves two full passes over every conv output and the batch norm's
own output array; a following ReLU is applied by the convolution itself, block by block
while its output is in cache (:class:`~.layers.conv.ConvReLU2d`), which saves the ReLU's pass
and its output array. :func:`fuse_for_inference` returns a new model made only of ordinary
layers (a ``Conv2d`` with bias where a ``Conv2d`` + ``BatchNorm2d`` pair was, a ``ConvReLU2d``
where a ReLU followed), so it runs, saves and exports like any other model and the model
file format is unchanged; the original model is left as it was (it keeps training normally).

Then the longest runs of such layers (one input, one output, inner values read only inside the run) are
wrapped in :class:`~.blocked_segment.BlockedSegment` layers: in evaluation mode on float32 inputs each
runs as one oneDNN plan, which keeps the activations in oneDNN's blocked layout from the run's input to
its output (no reorders per convolution), folds each residual ``Add`` (and the ReLU after it) into the
convolution feeding it, pools on oneDNN and reuses its activation buffers call after call. A segment
holds its layers as an ordinary Graph, so the fused model still saves, loads and exports like any other.
"""
from __future__ import annotations

import numpy as np

from .blocked_segment import ANCHORS, BlockedSegment, plannable, plannable_layer
from .fuse_patterns import rewrite_patterns
from .graph import Graph, Input, Node
from .layers.activation import ReLU
from .layers.conv import Conv2d, ConvReLU2d
from .layers.math import ReLU6
from .layers.norm import BatchNorm2d
from .layers.shape import Split
from .module import Module
from .sequential import Sequential


def fold_batch_norm(conv: Conv2d, bn: BatchNorm2d) -> Conv2d:
    """A new Conv2d (same configuration, with bias, named as ``conv``) computing ``bn(conv(x))``
    of the evaluation-mode batch norm, in float64 then cast back to the weight's dtype.

    Args:
        conv: the convolution; left unchanged.
        bn: a batch norm with running statistics over ``conv``'s output channels.

    Returns:
        the folded convolution, in evaluation mode.
    """
    if not bn.track_running_stats or bn.num_features != conv.out_channels:
        raise ValueError(f"cannot fold {bn.describe()} into {conv.describe()}: it needs running statistics "
                         f"over the convolution's {conv.out_channels} output channels")
    config = dict(conv.get_config(), bias=True)
    dtype = conv.weight.data.dtype
    fused = Conv2d.from_config(config).astype(dtype)
    fused.name = conv.name
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    shift = -bn.running_mean.astype(np.float64) * scale
    if bn.weight is not None:
        scale = scale * bn.weight.data
        shift = shift * bn.weight.data + bn.bias.data
    bias = np.zeros(conv.out_channels) if conv.bias is None else conv.bias.data.astype(np.float64)
    fused.weight.data[...] = (conv.weight.data * scale.reshape(-1, 1, 1, 1)).astype(dtype)
    fused.bias.data[...] = (bias * scale + shift).astype(dtype)
    fused.weight.trainable = conv.weight.trainable
    return fused.evaluate()


def with_relu(conv: Conv2d, max_value: float | None = None) -> ConvReLU2d:
    """A ConvReLU2d with ``conv``'s configuration, name and (shared) parameters, in evaluation mode
    (``max_value=6.0``: a fused ReLU6)."""
    fused = ConvReLU2d.from_config({**conv.get_config(), "max_value": max_value})
    fused.name = conv.name
    fused.weight, fused.bias = conv.weight, conv.bias
    return fused.evaluate()


#: the activations a convolution absorbs -> ConvReLU2d's max_value
_RELUS = {ReLU: None, ReLU6: 6.0}


def _foldable(conv: Module, bn: Module) -> bool:
    return (type(conv) is Conv2d and isinstance(bn, BatchNorm2d) and bn.track_running_stats
            and bn.num_features == conv.out_channels)


def _fuse_graph(graph: Graph, blocked: bool) -> Graph:
    graph = rewrite_patterns(graph)
    nodes = graph.nodes
    uses: dict[int, int] = {}
    for n in nodes:
        for s, _ in n.inputs:
            uses[id(s)] = uses.get(id(s), 0) + 1
    for s, _ in graph.outputs:
        uses[id(s)] = uses.get(id(s), 0) + 2  # a graph output is never folded away
    new: dict[int, Node] = {}
    for n in nodes:
        if n.module is None:
            new[id(n)] = Input(n.name)
            continue
        if len(n.inputs) == 1 and n.inputs[0][1] is None:
            src = n.inputs[0][0]
            if src.module is not None and uses.get(id(src)) == 1 and _foldable(src.module, n.module):
                folded = fold_batch_norm(src.module, n.module)
                new[id(n)] = Node(folded, new[id(src)].inputs, src.name)
                continue
            conv = new[id(src)]
            if type(n.module) in _RELUS and uses.get(id(src)) == 1 and type(conv.module) is Conv2d:
                new[id(n)] = Node(with_relu(conv.module, _RELUS[type(n.module)]), conv.inputs, conv.name)
                continue
        new[id(n)] = Node(fuse_for_inference(n.module, blocked), [(new[id(s)], i) for s, i in n.inputs], n.name)
    outputs = [new[id(s)] if i is None else new[id(s)][i] for s, i in graph.outputs]
    inputs = [new[id(n)] for n in nodes if n.module is None]
    fused = Graph(inputs, outputs if len(outputs) > 1 else outputs[0], name=graph.name).evaluate()
    return _segment_graph(fused) if blocked else fused


def _runs(graph: Graph) -> list[tuple[Node, list[Node]]]:
    """(entry, nodes) of each run of two or more consecutive plannable nodes (topological order), one of
    them a convolution or pooling, that read one outside value, the entry, and whose values are read
    outside the run only at its last node."""
    nodes = [n for n in graph.nodes if n.module is not None]
    readers: dict[int, set[int]] = {}
    for n in nodes:
        for s, _ in n.inputs:
            readers.setdefault(id(s), set()).add(id(n))
    outputs = {id(s) for s, _ in graph.outputs}
    found: list[tuple[Node, list[Node]]] = []
    k = 0
    while k < len(nodes):
        first = nodes[k]
        if not plannable(first) or len({id(s) for s, _ in first.inputs}) != 1:
            k += 1
            continue
        entry = first.inputs[0][0]
        if first.inputs[0][1] is not None:  # a part of a value: a segment takes whole values
            k += 1
            continue
        members, ids = [first], {id(first)}
        for n in nodes[k + 1:]:
            if not plannable(n) or any(id(s) not in ids and (s is not entry or i is not None) for s, i in n.inputs):
                break
            members.append(n)
            ids.add(id(n))
        while members:  # end the run at its first value read outside it (cutting may expose another), and
            ids = {id(n) for n in members}  # at a single value, not a split's parts
            cut = next((c for c, n in enumerate(members[:-1]) if id(n) in outputs or readers.get(id(n), set()) - ids),
                       None)
            if cut is None and type(members[-1].module) is not Split:
                break
            members = members[:-1] if cut is None else members[:cut + 1]
        if len(members) >= 2 and any(type(n.module) in ANCHORS for n in members):
            found.append((entry, members))
        k += max(len(members), 1)
    return found


def _segment_graph(graph: Graph) -> Graph:
    """``graph`` with each of its :func:`_runs` replaced by one BlockedSegment node (named as the run's
    last node, so the graph's node and output names stay)."""
    runs = _runs(graph)
    if not runs:
        return graph
    ends = {id(members[-1]): entry for entry, members in runs}
    inner = {id(n) for _, members in runs for n in members[:-1]}
    new: dict[int, Node] = {}
    for n in graph.nodes:
        if n.module is None:
            new[id(n)] = Input(n.name)
        elif id(n) in ends:
            entry = ends[id(n)]
            body = graph.new_graph(outputs=[n.name], inputs=[entry.name], name=n.name)
            new[id(n)] = Node(BlockedSegment(body, name=n.name), [(new[id(entry)], None)], n.name)
        elif id(n) not in inner:
            new[id(n)] = Node(n.module, [(new[id(s)], i) for s, i in n.inputs], n.name)
    outputs = [new[id(s)] if i is None else new[id(s)][i] for s, i in graph.outputs]
    inputs = [new[id(n)] for n in graph.nodes if n.module is None]
    return Graph(inputs, outputs if len(outputs) > 1 else outputs[0], name=graph.name).evaluate()


def _fuse_sequential(seq: Sequential, blocked: bool) -> Sequential:
    layers = list(seq.children())
    out: list[Module] = []
    k = 0
    while k < len(layers):
        if k + 1 < len(layers) and _foldable(layers[k], layers[k + 1]):
            out.append(fold_batch_norm(layers[k], layers[k + 1]))
            k += 2
        elif type(layers[k]) in _RELUS and out and type(out[-1]) is Conv2d:
            out[-1] = with_relu(out[-1], _RELUS[type(layers[k])])
            k += 1
        else:
            out.append(fuse_for_inference(layers[k], blocked))
            k += 1
    return Sequential(*(_segment_sequential(out) if blocked else out), name=seq.name).evaluate()


def _segment_sequential(layers: list[Module]) -> list[Module]:
    """``layers`` with each run of two or more layers a plan runs (one input each, one of them a convolution
    or pooling) made one BlockedSegment."""
    out: list[Module] = []
    run: list[Module] = []
    for layer in [*layers, None]:
        if layer is not None and plannable_layer(layer):
            run.append(layer)
            continue
        if len(run) >= 2 and any(type(m) in ANCHORS for m in run):
            x = Input(name="input")
            h = x
            for m in run:
                h = m(h)
            out.append(BlockedSegment(Graph(x, h, name=run[-1].name), name=run[-1].name))
        else:
            out.extend(run)
        run = []
        if layer is not None:
            out.append(layer)
    return out


def fuse_for_inference(model: Module, blocked: bool = True) -> Module:
    """An evaluation-mode copy of ``model`` with (in Graphs) the exported patterns of :mod:`.fuse_patterns`
    rewritten (a bias ``Add`` into its convolution, spelled-out hard-swish, constant arithmetic), every
    ``Conv2d -> BatchNorm2d`` pair folded, every ``Conv2d (-> BatchNorm2d) -> ReLU`` (or ``ReLU6``) made one
    ``ConvReLU2d``, and (``blocked``) the runs of layers oneDNN plans run made
    :class:`~.blocked_segment.BlockedSegment` layers.

    A pair is folded when the batch norm keeps running statistics and is the only consumer
    of the convolution's output (inside a Graph or adjacent in a Sequential, nested ones
    included); a ReLU likewise when it is the only consumer. Folded convolutions are new layers
    holding the folded weights as of this call; every other layer (and the parameters of a
    ConvReLU2d made from an unfolded convolution) is shared with ``model``, not copied, so later
    changes to ``model``'s weights reach the fused model except in folded pairs and in the plans of
    blocked segments (compiled with a copy of the weights at their first evaluation call): fuse again
    after training. Call it on a trained model right before inference.

    Args:
        model: any Module; Graphs and Sequentials are rebuilt, other modules are returned as is.
        blocked: wrap runs of convolutions, poolings, adds and ReLUs in BlockedSegments (False: the
            folding only, layer by layer).

    Returns:
        the fused model (``model`` itself when nothing is a Graph or Sequential), in evaluation mode.

    Examples:
        >>> fast = fuse_for_inference(resnet18())
        >>> fast.forward(np.zeros((1, 3, 224, 224), np.float32)).shape
        (1, 1000)
    """
    if isinstance(model, Graph):
        return _fuse_graph(model, blocked)
    if isinstance(model, Sequential):
        return _fuse_sequential(model, blocked)
    return model
