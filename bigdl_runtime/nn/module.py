"""Module and Parameter: the base of every layer, container and model.

A Module owns parameters (trainable tensors with a gradient), buffers
(non-trainable state such as batch-norm running statistics) and child modules.

Layers are re-entrant: ``forward_pass(*inputs) -> (output, ctx)`` computes the
output and returns what the backward step needs as a per-call context, and
``backward_pass(grad_output, ctx)`` returns the gradient with respect to the
inputs and *accumulates* parameter gradients into ``Parameter.grad`` (call
``zero_grad`` between steps, as the trainers do). Containers (Sequential, Graph)
keep the contexts of their children per call, so one layer may run at several
places of a model and its parameter gradients add up. The familiar pair
``forward(*inputs)`` / ``backward(grad_output)`` is the same on the outermost
module: ``forward`` keeps the context of its last call for ``backward``.

Serialisation is generic: a layer's constructor arguments come from
``get_config()`` and every concrete subclass is registered by class name, so a
model file can rebuild the architecture without running any stored code.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator

import numpy as np

from .. import writers
from ..registry import ClassRegistry

#: Every concrete Module subclass, by class name (and alias), for the model file loader; a second class under a
#: taken name is refused unless its class statement says ``override=True`` (see :mod:`bigdl_runtime.registry`).
LAYER_REGISTRY = ClassRegistry("layer")


class Parameter:
    """A trainable tensor: ``data`` (the value), ``grad`` (same shape) and ``trainable``.

    ``data`` and ``grad`` are only ever updated in place, so a model can re-point
    them at views of one flat vector (see :meth:`Module.flatten_parameters`).
    """

    __slots__ = ("data", "grad", "trainable", "regularizer")

    def __init__(self, data: np.ndarray, trainable: bool = True) -> None:
        self.data = np.require(data, requirements="C")  # keeps 0-D values 0-D
        self.grad = np.zeros_like(self.data)
        self.trainable = trainable
        #: optional L1/L2 regularizer applied by the optimizer (see ``bigdl_runtime.optim.regularizers``)
        self.regularizer = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", frozen"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{flag})"


class _Replay:
    """What an evaluation-mode ``forward`` keeps: its inputs, to recompute the context if a backward follows."""

    __slots__ = ("inputs",)

    def __init__(self, inputs: tuple[Any, ...]) -> None:
        self.inputs = inputs


class Module:
    """Base class of all layers and models.

    Subclasses assign ``Parameter`` and ``Module`` attributes in ``__init__``
    (they are registered automatically, in order), implement ``forward`` and
    ``backward``, and return their constructor arguments from ``get_config``.
    """

    #: Other names this class is known by (e.g. BigDL's ``SpatialConvolution``).
    aliases: tuple[str, ...] = ()

    def __init_subclass__(cls, override: bool = False, **kwargs: Any) -> None:
        """Register the class by name and aliases; ``class ReLU(Module, override=True)`` replaces ours."""
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):  # private bases are not layers a file can name
            return
        for key in (cls.__name__, *cls.__dict__.get("aliases", ())):
            LAYER_REGISTRY.add(key, cls, override)

    def __init__(self, name: str | None = None) -> None:
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "name", name)

    # ------------------------------------------------------------ registration
    def __setattr__(self, key: str, value: Any) -> None:
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for table in (self._params, self._modules):
            table.pop(key, None)
        if isinstance(value, Parameter):
            self._params[key] = value
        elif isinstance(value, Module):
            self._modules[key] = value
        elif key in self._buffers:
            self._buffers[key] = value
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        for table in (self._params, self._modules, self._buffers):
            table.pop(key, None)
        object.__delattr__(self, key)

    def register_buffer(self, key: str, value: np.ndarray) -> None:
        """Register non-trainable state that is saved with the model (e.g. running mean)."""
        self._buffers[key] = value
        object.__setattr__(self, key, value)

    def add_module(self, key: str, module: "Module") -> None:
        setattr(self, key, module)

    # ------------------------------------------------------------- computation
    def forward_pass(self, *inputs: Any) -> tuple[Any, Any]:
        """The output for ``inputs`` and the context ``backward_pass`` needs for it (nothing kept on the module).

        Layers implement this pair; a module that implements ``forward``/``backward`` instead
        (keeping its state between them) runs here unchanged but cannot appear twice in a graph.
        """
        if type(self).forward is Module.forward:
            raise NotImplementedError(f"{type(self).__name__} implements neither forward_pass nor forward")
        return self.forward(*inputs), None

    def backward_pass(self, grad_output: Any, ctx: Any) -> Any:
        """Gradient w.r.t. the inputs of the ``forward_pass`` that returned ``ctx``; adds parameter gradients."""
        if type(self).backward is Module.backward:
            raise NotImplementedError(f"{type(self).__name__} implements neither backward_pass nor backward")
        return self.backward(grad_output)

    def infer(self, *inputs: Any) -> Any:
        """The output for ``inputs`` with no context: what inference runs (nothing for a backward is made or kept).

        The default is ``forward_pass``'s output; layers whose forward builds costly backward state
        (masks, derivatives, per-step contexts) override it. It must give ``forward_pass``'s output,
        in the layer's current mode.
        """
        return self.forward_pass(*inputs)[0]

    @classmethod
    def reentrant(cls) -> bool:
        """Whether the class keeps its per-call state in contexts (implements ``forward_pass``), so one
        instance may run at several places of a graph."""
        return cls.forward_pass is not Module.forward_pass

    def forward(self, *inputs: Any) -> Any:
        """The output for ``inputs``; what :meth:`backward` needs is kept until the next call.

        In training mode that is the call's context. In evaluation mode the output comes from
        :meth:`infer` (no context: activations are freed as soon as they are used) and only the
        inputs are kept; a :meth:`backward` after it runs ``forward_pass`` on them again first
        (evaluation mode is deterministic, so it gets the same output).
        """
        self.__dict__.pop("_ctx", None)  # the previous call's activations are not held while this one runs
        if not self.training:
            output = self.infer(*inputs)
            self.__dict__["_ctx"] = _Replay(inputs)
            return output
        output, ctx = self.forward_pass(*inputs)
        self.__dict__["_ctx"] = ctx
        return output

    def backward(self, grad_output: Any) -> Any:
        """Gradient w.r.t. the inputs of the last ``forward``; adds parameter gradients."""
        try:
            ctx = self.__dict__["_ctx"]
        except KeyError:
            if not self.reentrant():  # a stateful module whose own forward kept nothing here
                raise NotImplementedError(f"{type(self).__name__} implements neither backward_pass nor backward") \
                    from None
            raise RuntimeError(f"{self.describe()}: backward called before forward") from None
        if isinstance(ctx, _Replay):  # an evaluation-mode forward kept only its inputs
            _, ctx = self.forward_pass(*ctx.inputs)
            self.__dict__["_ctx"] = ctx
        return self.backward_pass(grad_output, ctx)

    def __call__(self, *inputs: Any) -> Any:
        if inputs and type(inputs[0]) is not np.ndarray:  # not a call on arrays (checked first: it is the fast one)
            from .graph import Node  # functional Graph construction: y = layer(x_node)

            if all(isinstance(x, Node) for x in inputs):
                return Node.apply(self, inputs)
        return self.forward(*inputs)

    # ------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def evaluate(self) -> "Module":
        return self.train(False)

    eval = evaluate

    # -------------------------------------------------------------- traversal
    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """Every module of the tree, depth first, each once: a module reached by several paths (a layer
        shared by graph nodes or containers) is listed under the first, so its parameters count once."""
        return self._walk(prefix, set())

    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, "Module"]]:
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for key, child in self._modules.items():
            yield from child._walk(f"{prefix}.{key}" if prefix else key, seen)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for mod_name, mod in self.named_modules(prefix):
            for key, p in mod._params.items():
                yield (f"{mod_name}.{key}" if mod_name else key), p

    def parameters(self, trainable_only: bool = False) -> list[Parameter]:
        return [p for _, p in self.named_parameters() if p.trainable or not trainable_only]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules():
            for key, b in mod._buffers.items():
                yield (f"{mod_name}.{key}" if mod_name else key), b

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def num_parameters(self, trainable_only: bool = False) -> int:
        return int(sum(p.data.size for p in self.parameters(trainable_only)))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """All parameters and buffers by dotted name (copies)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for key, p in self.named_parameters():
            state[key] = p.data.copy()
        for key, b in self.named_buffers():
            state[key] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy values into parameters and buffers in place; shapes must match."""
        own = dict(self.named_parameters())
        buffers = {k: mod for k, mod in self._buffer_owners()}
        if strict:
            missing = [k for k in [*own, *buffers] if k not in state]
            unexpected = [k for k in state if k not in own and k not in buffers]
            if missing or unexpected:
                raise KeyError(f"{self.describe()}: state mismatch; missing {missing}, unexpected {unexpected}")
        for key, value in state.items():
            value = np.asarray(value)
            if key in own:
                target = own[key].data
            elif key in buffers:
                mod, attr = buffers[key]
                target = mod._buffers[attr]
            else:
                continue
            if np.shape(target) != value.shape:
                raise ValueError(f"{self.describe()}: '{key}' has shape {np.shape(target)}, got {value.shape}")
            if isinstance(target, np.ndarray):
                target[...] = value
            else:  # a numpy-scalar buffer (a per-tensor scale) cannot be written into: it is replaced
                mod.register_buffer(attr, np.asarray(value, dtype=np.asarray(target).dtype)[()])
        for mod in self.modules():
            mod.weights_changed()

    #: the output depends on nothing but the inputs and the stored tensors (False: a layer that draws random
    #: numbers); an inference may then keep outputs computed from shapes alone (see :mod:`.executor`)
    deterministic = True

    def weights_changed(self) -> None:
        """Called after this module's parameters or buffers were written in place (:meth:`load_state_dict`): a
        layer that keeps prepared copies of its weights (an inference plan) drops them. Nothing by default."""

    def _buffer_owners(self) -> Iterator[tuple[str, tuple["Module", str]]]:
        for mod_name, mod in self.named_modules():
            for key in mod._buffers:
                yield (f"{mod_name}.{key}" if mod_name else key), (mod, key)

    def astype(self, dtype: Any) -> "Module":
        """Cast every parameter, gradient and floating buffer to ``dtype`` (e.g. float64 for grad checks)."""
        for mod in self.modules():
            for p in mod._params.values():
                p.data = p.data.astype(dtype)
                p.grad = np.zeros_like(p.data)
            for key, b in list(mod._buffers.items()):
                if isinstance(b, np.ndarray) and np.issubdtype(b.dtype, np.floating):
                    mod.register_buffer(key, b.astype(dtype))
        return self

    # ------------------------------------------------------------- freezing
    def freeze(self, names: Iterable[str] | str | None = None) -> "Module":
        """Mark parameters non-trainable: all, or those under the given module/parameter names."""
        self._set_trainable(names, False)
        return self

    def unfreeze(self, names: Iterable[str] | str | None = None) -> "Module":
        self._set_trainable(names, True)
        return self

    def _set_trainable(self, names: Iterable[str] | str | None, flag: bool) -> None:
        if names is None:
            for p in self.parameters():
                p.trainable = flag
            return
        wanted = [names] if isinstance(names, str) else list(names)
        named = list(self.named_parameters())
        for want in wanted:
            hits = [p for key, p in named if self._name_matches(key, want)]
            if not hits:
                raise KeyError(f"{self.describe()}: no parameters under '{want}'; "
                               f"known: {sorted({k.rsplit('.', 1)[0] for k, _ in named})}")
            for p in hits:
                p.trainable = flag

    @staticmethod
    def _name_matches(key: str, want: str) -> bool:
        return key == want or key.startswith(want + ".")

    # ------------------------------------------------------------ flat view
    def flatten_parameters(self, dtype: Any = np.float32,
                           out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Re-point every trainable parameter at a view of one contiguous vector.

        Returns ``(flat_weights, flat_grads)``; writing into them writes the
        parameters. Order is ``named_parameters()`` order. Call again after
        freezing or unfreezing. ``out``: two preallocated 1-D vectors of the
        total size and ``dtype`` to use instead of new ones (e.g. shared
        memory); the current weights are copied into the first, the second is
        zeroed.
        """
        params = self.parameters(trainable_only=True)
        total = sum(p.data.size for p in params)
        if out is None:
            flat_w, flat_g = np.empty(total, dtype=dtype), np.zeros(total, dtype=dtype)
        else:
            flat_w, flat_g = out
            for name, vec in (("weights", flat_w), ("gradients", flat_g)):
                if vec.shape != (total,) or vec.dtype != np.dtype(dtype) or not vec.flags.writeable:
                    raise ValueError(f"flatten_parameters: out {name} must be a writeable ({total},) {np.dtype(dtype)} "
                                     f"vector, got {vec.shape} {vec.dtype}")
            flat_g[...] = 0
        offset = 0
        for p in params:
            n = p.data.size
            flat_w[offset:offset + n] = p.data.ravel()
            p.data = flat_w[offset:offset + n].reshape(p.data.shape)
            p.grad = flat_g[offset:offset + n].reshape(p.data.shape)
            offset += n
        object.__setattr__(self, "_flat", (flat_w, flat_g))
        return flat_w, flat_g

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this module (ints, floats, str, bool, None, lists)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Module":
        return cls(**config)

    # ---------------------------------------------------------------- save
    def save(self, path: str, **metadata: Any) -> None:
        """Write the model (architecture, weights, metadata) as one protobuf file
        (:func:`bigdl_runtime.serialization.save_model`, through :mod:`bigdl_runtime.writers`)."""
        writers.write("save", self, path, **metadata)

    def to_onnx(self, path: str, input_shape: Any, input_dtype: Any = None, opset: int | None = None) -> Any:
        """Export as an ONNX file (dynamic batch axis, weights as initializers); returns the ``ModelProto``
        (:func:`bigdl_runtime.serialization.onnx_export.export_onnx`, through :mod:`bigdl_runtime.writers`).

        Args:
            path: the ``.onnx`` file to write.
            input_shape: one sample's shape without the batch axis, e.g. ``(1, 28, 28)``,
                or a list of them for a multi-input graph.
            input_dtype: float32 (default) or int64 (default for inputs read by an ``Embedding``).
            opset: default-domain opset; default 18.

        Examples:
            >>> lenet5().to_onnx("lenet.onnx", (1, 28, 28))
        """
        return writers.write("to_onnx", self, path, input_shape, input_dtype, opset)

    # ------------------------------------------------------------- display
    def describe(self) -> str:
        return f"{type(self).__name__}('{self.name}')" if self.name else type(self).__name__

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()})"
        if not self._modules:
            return head
        lines = [f"{type(self).__name__}("]
        for key, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({key}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)
