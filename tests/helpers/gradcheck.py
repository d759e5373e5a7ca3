"""Central finite-difference checks for kernel pairs and modules (float64).

A kernel pair ``f_forward(*arrays, **config) -> (y, cache)`` /
``f_backward(dy, cache) -> (d_array0, d_array1, ...)`` is checked by projecting
the output(s) on fixed random weights ``r`` (loss ``L = sum(y * r)``), so
``dy = r`` and every input's analytic gradient must match
``(L(x + eps) - L(x - eps)) / (2 eps)`` element by element.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def _as_tuple(y: Any) -> tuple[np.ndarray, ...]:
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def numeric_grad(loss: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d loss / d x by central differences, perturbing ``x`` in place."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = loss()
        flat[i] = old - eps
        down = loss()
        flat[i] = old
        grad.reshape(-1)[i] = (up - down) / (2 * eps)
    return grad


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float, atol: float) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        err = np.abs(actual - expected)
        i = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: max abs error {err[i]:.3e} at {i} "
                             f"(analytic {actual[i]:.6e}, numeric {expected[i]:.6e})")


def check_kernel(forward: Callable, backward: Callable, arrays: Sequence[np.ndarray | None],
                 config: dict[str, Any] | None = None, diff: Sequence[int] | None = None,
                 seed: int = 0, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Check ``backward`` against finite differences of ``forward`` in float64.

    Args:
        arrays: the positional array arguments of ``forward`` (``None`` allowed,
            e.g. no bias); they are cast to float64 unless integer (indices).
        config: keyword arguments of ``forward``.
        diff: indices of ``arrays`` to check (default: every floating array).
    """
    config = config or {}
    arrays = [a if a is None or not np.issubdtype(np.asarray(a).dtype, np.floating)
              else np.array(a, dtype=np.float64) for a in arrays]
    if diff is None:
        diff = [i for i, a in enumerate(arrays) if a is not None and np.issubdtype(a.dtype, np.floating)]
    rng = np.random.default_rng(seed)
    y, cache = forward(*arrays, **config)
    outs = _as_tuple(y)
    weights = tuple(rng.standard_normal(o.shape) for o in outs)

    def loss() -> float:
        yy, _ = forward(*arrays, **config)
        return float(sum(np.sum(o * w) for o, w in zip(_as_tuple(yy), weights)))

    dys = weights if isinstance(y, (tuple, list)) else weights[0]
    grads = _as_tuple(backward(dys, cache))
    assert len(grads) >= max(diff) + 1, f"backward returned {len(grads)} gradients, expected {len(arrays)}"
    name = getattr(forward, "__name__", "kernel").replace("_forward", "")
    for i in diff:
        assert grads[i] is not None, f"{name}: gradient {i} is None"
        assert grads[i].dtype == np.float64, f"{name}: gradient {i} is {grads[i].dtype}, not float64"
        assert_close(grads[i], numeric_grad(loss, arrays[i], eps), f"{name} d(arg {i})", rtol, atol)


def check_module(module: Any, inputs: Sequence[np.ndarray], seed: int = 0, eps: float = 1e-6,
                 rtol: float = 1e-5, atol: float = 1e-7, check_params: bool = True) -> None:
    """Check a Module's backward (inputs and parameter gradients) by finite differences, float64."""
    module.astype(np.float64)
    inputs = [np.array(x, dtype=np.float64) if np.issubdtype(np.asarray(x).dtype, np.floating) else x
              for x in inputs]
    rng = np.random.default_rng(seed)
    y = module.forward(*inputs)
    weights = tuple(rng.standard_normal(o.shape) for o in _as_tuple(y))

    def loss() -> float:
        return float(sum(np.sum(o * w) for o, w in zip(_as_tuple(module.forward(*inputs)), weights)))

    module.zero_grad()
    module.forward(*inputs)
    gx = _as_tuple(module.backward(weights if isinstance(y, (tuple, list)) else weights[0]))
    analytic_params = {k: p.grad.copy() for k, p in module.named_parameters()}
    for i, x in enumerate(inputs):
        if np.issubdtype(np.asarray(x).dtype, np.floating):
            assert_close(gx[i], numeric_grad(loss, x, eps), f"{module.describe()} d(input {i})", rtol, atol)
    if check_params:
        for key, p in module.named_parameters():
            if p.trainable:
                assert_close(analytic_params[key], numeric_grad(loss, p.data, eps),
                             f"{module.describe()} d({key})", rtol, atol)
