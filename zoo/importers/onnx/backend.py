"""Our importer as an ``onnx.backend`` backend, so the onnx package's conformance cases can run it.

Examples:
    >>> rep = BigDLBackend.prepare(model_proto)
    >>> outputs = rep.run([x])
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep, namedtupledict

from bigdl_runtime.nn import Graph

from .builder import NO_INPUT, load_onnx
from .reader import ConstantRequiredError, OnnxImportError


def _bind(model: onnx.ModelProto, values: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of ``model`` where the named graph inputs are initializers holding ``values``."""
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    kept = [vi for vi in bound.graph.input if vi.name not in values]
    del bound.graph.input[:]
    bound.graph.input.extend(kept)
    for name, value in values.items():
        bound.graph.initializer.append(numpy_helper.from_array(value, name))
    return bound


def _import_bound(model: onnx.ModelProto, names: list[str], inputs: list[np.ndarray]) -> tuple[Graph, int]:
    """Import with all inputs but the first bound to their values; all of them if the first must be constant too."""
    try:
        return load_onnx(_bind(model, dict(zip(names[1:], inputs[1:])))).evaluate(), 1
    except ConstantRequiredError as err:
        if err.index != 0:
            raise
        return load_onnx(_bind(model, dict(zip(names, inputs)))).evaluate(), 0


class BigDLRep(BackendRep):
    """A prepared model: the imported Graph in evaluation mode.

    Our importer needs weights, shapes, axes and the like at import time (they become
    layer parameters and configs), while the conformance cases feed every tensor as a
    graph input. When the model cannot be imported with all inputs at run time, the
    first ``run`` binds every input but the first to its given value (as an exported
    model stores weights in initializers) and imports that model; if that still needs
    a constant first input (a shape, a condition), all inputs are bound.
    """

    def __init__(self, model: onnx.ModelProto, graph: Graph | None) -> None:
        self.model = model
        self.graph = None if graph is None else graph.evaluate()
        self.output_names = [o.name for o in model.graph.output]
        self.bound = len(self.model.graph.input)  # how many leading inputs stay run-time inputs

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Outputs for ``inputs`` (a list in graph-input order, or a dict by input name)."""
        names = [vi.name for vi in self.model.graph.input
                 if vi.name not in {t.name for t in self.model.graph.initializer}]
        if isinstance(inputs, dict):
            inputs = [inputs[name] for name in names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        inputs = [np.asarray(x) for x in inputs]
        if self.graph is None:
            self.graph, self.bound = _import_bound(self.model, names, inputs)
        inputs = inputs[:self.bound]
        if self.graph.input_names == [NO_INPUT]:
            inputs = [np.zeros(0, np.float32)]
        outs = self.graph(*inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return namedtupledict("Outputs", self.output_names)(*[np.asarray(o) for o in outs])


class BigDLBackend(Backend):
    """Imports the model with :func:`load_onnx` and runs it with our numpy kernels (CPU only)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> BigDLRep:
        super().prepare(model, device, **kwargs)
        try:
            return BigDLRep(model, load_onnx(model))
        except OnnxImportError:
            return BigDLRep(model, None)  # imported at the first run, with the inputs bound

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Sequence[Any], device: str = "CPU",
                  **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper().startswith("CPU")
