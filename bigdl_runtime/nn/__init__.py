"""Modules, layers, losses and initializers.

Everything a model is built from is importable from here::

    from bigdl_runtime.nn import Sequential, Conv2d, ReLU, Linear, CrossEntropyLoss, Input, Graph
"""
from . import init, layers, losses, random
from .blocked_segment import BlockedSegment
from .fuse import fuse_for_inference
from .graph import Graph, Input, Node
from .layers import *  # noqa: F401,F403  (re-export every layer)
from .losses import *  # noqa: F401,F403  (re-export every loss)
from .module import LAYER_REGISTRY, Module, Parameter
from .sequential import Sequential

__all__ = ["LAYER_REGISTRY", "BlockedSegment", "fuse_for_inference", "Module", "Parameter", "Sequential", "Graph", "Input", "Node",
           "init", "random", "layers", "losses", *layers.__all__, *losses.__all__]
