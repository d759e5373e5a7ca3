"""Modules <-> ``Layer`` records: type name, name, constructor config and, for containers, children.

Any registered layer is rebuilt as ``cls.from_config(config)``: a module that
builds its own children from its config (a ResNet block, a model builder) needs
nothing else. Only plain ``Sequential`` (its ordered children), plain
``Graph`` (its nodes, edges, inputs and outputs) and layers that set
``stores_children`` (control flow: rebuilt by ``cls.from_children``) store children;
a layer that runs at several nodes of a graph is stored at its first node, the
later ones name that node (``shares``). Types are looked up in ``LAYER_REGISTRY``
only, so a file can name nothing but a layer.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from ..nn.graph import Graph, Input, Node
from ..nn.module import LAYER_REGISTRY, Module
from ..nn.sequential import Sequential
from . import model_pb2 as pb
from .values import decode_map, encode_map


def layer_to_proto(module: Module, msg: pb.Layer) -> pb.Layer:
    """Fill ``msg`` with the architecture of ``module`` (weights are stored separately)."""
    cls = type(module)
    if LAYER_REGISTRY.get(cls.__name__) is not cls:
        other = LAYER_REGISTRY.get(cls.__name__)
        raise TypeError(f"cannot save {module.describe()}: the layer registry maps '{cls.__name__}' to "
                        f"{other.__module__}.{other.__qualname__}, not {cls.__module__}.{cls.__qualname__} "
                        "(two layer classes share a name)")
    msg.type = cls.__name__
    if module.name is not None:
        msg.name = module.name
    encode_map(module.get_config(), msg.config, f"{module.describe()} config")
    if cls is Sequential:
        for child in module.children():
            layer_to_proto(child, msg.children.add())
    elif cls is Graph:
        _graph_to_proto(module, msg.graph)
    elif getattr(cls, "stores_children", False):  # control flow: its sub-graphs, rebuilt by from_children
        for child in module.children():
            layer_to_proto(child, msg.children.add())
    return msg


def _graph_to_proto(graph: Graph, spec: pb.GraphSpec) -> None:
    spec.SetInParent()
    spec.inputs.extend(graph.input_names)
    first: dict[int, str] = {}  # layer -> the node it is stored at
    for node in graph.nodes:
        if node.module is None:
            continue
        record = spec.nodes.add()
        record.name = node.name
        if id(node.module) in first:
            record.shares = first[id(node.module)]
        else:
            first[id(node.module)] = node.name
            layer_to_proto(node.module, record.layer)
        for source, index in node.inputs:
            _edge_to_proto(source, index, record.inputs.add())
    for source, index in graph.outputs:
        _edge_to_proto(source, index, spec.outputs.add())


def _edge_to_proto(source: Node, index: int | None, msg: pb.Edge) -> None:
    msg.node = source.name
    if index is not None:
        msg.index = index


def layer_from_proto(msg: pb.Layer, where: str = "model") -> Module:
    """Rebuild the module described by ``msg``; ValueError naming the layer if it cannot be."""
    name = msg.name if msg.HasField("name") else None
    label = f"layer '{name}' at {where}" if name else f"layer at {where}"
    cls = _resolve(msg.type, label)
    config = decode_map(msg.config, f"config of {label}")
    if any(not isinstance(key, str) for key in config):
        raise ValueError(f"config of {label} has non-string keys")
    if cls is Sequential:
        children = [layer_from_proto(child, f"{where}[{i}]") for i, child in enumerate(msg.children)]
        return Sequential(*children, name=name)
    if cls is Graph:
        return _graph_from_proto(msg.graph, name, where)
    if getattr(cls, "stores_children", False) and not msg.HasField("graph"):
        children = [layer_from_proto(child, f"{where}[{i}]") for i, child in enumerate(msg.children)]
        try:
            return cls.from_children(children, config, name)
        except Exception as err:
            raise ValueError(f"cannot build {label} of type {msg.type} from its {len(children)} children and "
                             f"config {config}: {type(err).__name__}: {err}") from err
    if msg.children or msg.HasField("graph"):
        raise ValueError(f"{label}: only Sequential, Graph and control-flow records may have children, "
                         f"not {msg.type}")
    try:
        module = cls.from_config(config)
    except Exception as err:  # the constructor's own check: report it with the layer it concerns
        raise ValueError(f"cannot build {label} of type {msg.type} from config {config}: "
                         f"{type(err).__name__}: {err}") from err
    module.name = name
    return module


def _graph_from_proto(spec: pb.GraphSpec, name: str | None, where: str) -> Graph:
    nodes: dict[str, Node] = {}
    inputs = [Input(n) for n in spec.inputs]
    pending: list[tuple[Node, pb.GraphNode]] = []
    for node in inputs:
        _add_node(nodes, node, where)
    for record in spec.nodes:
        node = Node(_node_layer(record, nodes, where), (), record.name)
        _add_node(nodes, node, where)
        pending.append((node, record))
    for node, record in pending:
        if not record.inputs:
            raise ValueError(f"graph node '{record.name}' at {where} has no inputs")
        node.inputs = tuple(_edge_from_proto(e, nodes, f"input of node '{record.name}' at {where}")
                            for e in record.inputs)
    outputs = []
    for e in spec.outputs:
        source, index = _edge_from_proto(e, nodes, f"output of the graph at {where}")
        outputs.append(source if index is None else source[index])
    return Graph(inputs, outputs, name=name)


def _node_layer(record: pb.GraphNode, nodes: dict[str, Node], where: str) -> Module:
    """The layer of a graph node record: its own, or that of the earlier node it shares."""
    if not record.shares:
        return layer_from_proto(record.layer, f"{where}/{record.name}")
    if record.HasField("layer"):
        raise ValueError(f"graph node '{record.name}' at {where} has a layer and shares node '{record.shares}''s")
    shared = nodes.get(record.shares)
    if shared is None or shared.module is None:
        raise ValueError(f"graph node '{record.name}' at {where} shares the layer of '{record.shares}', "
                         "which is not an earlier layer node")
    return shared.module


def _add_node(nodes: dict[str, Node], node: Node, where: str) -> None:
    if not node.name:
        raise ValueError(f"unnamed graph node at {where}")
    if node.name in nodes:
        raise ValueError(f"two graph nodes are named '{node.name}' at {where}")
    nodes[node.name] = node


def _edge_from_proto(msg: pb.Edge, nodes: dict[str, Node], what: str) -> tuple[Node, int | None]:
    if msg.node not in nodes:
        raise ValueError(f"{what} refers to unknown node '{msg.node}'")
    return nodes[msg.node], (msg.index if msg.HasField("index") else None)


def _resolve(type_name: str, label: str) -> type[Module]:
    cls = LAYER_REGISTRY.get(type_name)
    if cls is None:
        _import_all_layers()
        cls = LAYER_REGISTRY.get(type_name)
    if cls is None:
        close = difflib.get_close_matches(type_name, list(LAYER_REGISTRY), n=5, cutoff=0.5)
        hint = f"close known types: {close}" if close else f"known types: {sorted(LAYER_REGISTRY)}"
        raise ValueError(f"unknown layer type '{type_name}' ({label}); {hint}")
    return cls


def _import_all_layers() -> None:
    """Import every module of ``bigdl_runtime.nn.layers`` so their classes are registered."""
    from ..nn import layers

    for info in pkgutil.iter_modules(layers.__path__):
        importlib.import_module(f"{layers.__name__}.{info.name}")

