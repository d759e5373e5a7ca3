"""Modules, layers, losses and initializers."""
from .module import LAYER_REGISTRY, Module, Parameter
from .sequential import Sequential

__all__ = ["LAYER_REGISTRY", "Module", "Parameter", "Sequential"]
