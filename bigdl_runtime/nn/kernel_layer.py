"""The kernel-backed layer base: a layer that is one forward/backward kernel pair plus its config.

A kernel pair ``f_forward(*inputs, *arrays, **config) -> (y, cache)`` /
``f_backward(dy, cache) -> (d_input..., d_array...)`` already has the shape of a
re-entrant layer: the kernel's cache *is* the per-call context. A subclass only
says which pair it runs, which of its parameters (or buffers) follow the inputs,
and the keyword arguments it passes::

    class Linear(_KernelLayer):
        _kernels = (linear_forward, linear_backward)
        _kernel_params = ("weight", "bias")

    class Squeeze(_KernelLayer):
        _kernels = (squeeze_forward, squeeze_backward)
        _kernel_keywords = {"axes": "dim"}  # squeeze_forward(x, axes=self.dim)

Nothing is kept on the layer between forward and backward, so one instance may
run at several nodes of a graph; each call's parameter gradients add up.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from .module import Module


def call_kernel(layer: Module, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with any ValueError prefixed by ``layer.describe()``."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        raise ValueError(f"{layer.describe()}: {err}") from None


def as_inputs(inputs: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """The arrays of a multi-input layer: given separately, or as one tuple/list (e.g. from Split)."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        return tuple(inputs[0])
    return inputs


def memoized(layer: Module, key: Any, make: Callable[[], Any]) -> Any:
    """``make()``, remembered on ``layer`` for the last ``key`` (an input shape): the index or shape
    arithmetic an inference step would otherwise redo on every call. A pure function of ``key`` (and of
    the layer's fixed config), so the layer stays re-entrant."""
    memo = layer.__dict__.get("_memo")
    if memo is not None and memo[0] == key:
        return memo[1]
    value = make()
    layer.__dict__["_memo"] = (key, value)
    return value


class _KernelLayer(Module):
    """A layer running one kernel pair; the kernel's cache is the per-call context.

    Subclasses set:
        _kernels: ``(forward kernel, backward kernel)``, optionally a third: an inference kernel
            ``f(*inputs, *arrays, **config) -> y`` computing the forward's output without the cache
            (used by ``infer`` when the forward builds costly backward state).
        _kernel_params: names of the attributes (Parameters, buffers; None or absent passes None)
            the forward kernel takes after the inputs, in order; the backward kernel's last
            ``len(_kernel_params)`` gradients are added to those that are Parameters.
        _kernel_keywords: the forward kernel's keyword arguments, as keyword -> name of the layer
            attribute holding the value; or override ``_kernel_config()`` when a value is computed.
    ``backward_pass`` returns the gradients of the inputs: one array (or None) for one input,
    a tuple for several. A kernel's ValueError is re-raised naming the layer.
    """

    _kernels: ClassVar[tuple[Callable[..., Any], ...]]
    _kernel_params: ClassVar[tuple[str, ...]] = ()
    _kernel_keywords: ClassVar[dict[str, str]] = {}

    def _kernel_config(self) -> dict[str, Any]:
        """Keyword arguments of the forward kernel (by default the attributes ``_kernel_keywords`` names)."""
        keywords = self._kernel_keywords
        return {key: getattr(self, attr) for key, attr in keywords.items()} if keywords else {}

    def _call(self, kernel: Callable[..., Any], inputs: tuple[Any, ...]) -> Any:
        """``kernel(*inputs, *parameter arrays, **config)``, a ValueError re-raised naming the layer."""
        arrays = []
        params = self._params
        for key in self._kernel_params:  # a loop: cheaper than a comprehension for these few names
            arrays.append(params[key].data if key in params else getattr(self, key, None))
        try:
            return kernel(*inputs, *arrays, **self._kernel_config())
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err}") from None

    def forward_pass(self, *inputs: Any) -> tuple[Any, Any]:
        return self._call(self._kernels[0], inputs)

    def infer(self, *inputs: Any) -> Any:
        """The inference kernel's output when ``_kernels`` names one (a third entry), else the forward's."""
        kernels = self._kernels
        if len(kernels) > 2:
            return self._call(kernels[2], inputs)
        return self.forward_pass(*inputs)[0]  # a subclass's forward_pass may check or update state

    def backward_pass(self, grad_output: Any, ctx: Any) -> Any:
        grads = self._kernels[1](grad_output, ctx)
        names = self._kernel_params
        if not names:
            return grads[0] if len(grads) == 1 else grads
        n_inputs = len(grads) - len(names)
        params = self._params
        for i, key in enumerate(names, n_inputs):
            if key in params and grads[i] is not None:
                params[key].grad += grads[i]
        return grads[0] if n_inputs == 1 else grads[:n_inputs]


class _MultiInputLayer(_KernelLayer):
    """A kernel layer of several inputs, given separately or as one tuple (e.g. a Split's output).

    Subclasses set ``_arity`` (how many inputs; None for one or more) and, for the error
    message, ``_input_names`` (e.g. ``"(x, indices)"``).
    """

    _arity: ClassVar[int | None] = None
    _input_names: ClassVar[str] = ""

    def _call(self, kernel: Callable[..., Any], inputs: tuple[Any, ...]) -> Any:
        xs = as_inputs(inputs)
        if self._arity is not None and len(xs) != self._arity:
            names = f" {self._input_names}" if self._input_names else ""
            raise ValueError(f"{self.describe()}: expected {self._arity} inputs{names}, got {len(xs)}")
        return super()._call(kernel, xs)
