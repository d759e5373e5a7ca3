"""Inference kernels (``<op>_infer``): the forward's output without its cache, on the same inputs.

Every ``<op>_infer`` in bigdl_runtime.kernels must appear in CASES below, so an inference kernel
cannot be added without a test comparing it with the forward it stands in for.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import bigdl_runtime.kernels as kernels
from bigdl_runtime.kernels import activation as A
from bigdl_runtime.kernels import math as M


def _x(dtype=np.float32, seed=0):
    """Values over the interesting ranges: around 0, the hard-swish/sigmoid knees, and far out (exp overflows)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_normal(64) * 4, [-1000.0, -100.0, -89.0, -3.0, 0.0, 3.0, 89.0, 1000.0]])
    return x.reshape(8, 9).astype(dtype)


def _silu_reference(x):
    return x * A.sigmoid_forward(x)[0]


#: (inference kernel, reference: a function of the same arguments giving the forward's output, arguments)
CASES = [
    (A.leaky_relu_infer, lambda x, s: A.leaky_relu_forward(x, s)[0], (_x(), 0.01)),
    (A.leaky_relu_infer, lambda x, s: A.leaky_relu_forward(x, s)[0], (_x(np.float64), 0.2)),
    (A.leaky_relu_infer, lambda x, s: A.leaky_relu_forward(x, s)[0], (_x(), -0.5)),
    (A.leaky_relu_infer, lambda x, s: A.leaky_relu_forward(x, s)[0], (_x(), 2.0)),
    (A.sigmoid_infer, lambda x: A.sigmoid_forward(x)[0], (_x(),)),
    (A.sigmoid_infer, lambda x: A.sigmoid_forward(x)[0], (_x(np.float64),)),
    (A.sigmoid_infer, lambda x: A.sigmoid_forward(x)[0], (_x(np.float16),)),
    (A.sigmoid_infer, lambda x: A.sigmoid_forward(x)[0], (_x()[:1, :1],)),  # one value: no in-place ufunc
    (A.sigmoid_infer, lambda x: A.sigmoid_forward(x)[0], (np.float32([[-1000.0]]),)),
    (A.silu_infer, _silu_reference, (_x(),)),
    (A.silu_infer, _silu_reference, (_x()[:1, :1],)),
    (A.silu_infer, _silu_reference, (_x(np.float64),)),
    (A.silu_infer, _silu_reference, (_x(np.float16),)),
    (A.hard_sigmoid_infer, lambda x, a, b: A.hard_sigmoid_forward(x, a, b)[0], (_x(), 0.2, 0.5)),
    (A.hard_swish_infer, lambda x: A.hard_swish_forward(x)[0], (_x(),)),
    (A.hard_swish_infer, lambda x: A.hard_swish_forward(x)[0], (_x(np.float64),)),
    (M.max_infer, M.max_forward, (_x(), _x(seed=1))),
    (M.max_infer, M.max_forward, (_x(), np.float32(0.5), _x(seed=2)[:1])),
    (M.max_infer, M.max_forward, (_x(),)),
    (M.min_infer, M.min_forward, (_x(), _x(seed=1))),
    (M.min_infer, M.min_forward, (np.array([1.0, np.nan, 3.0]), np.array([np.nan, 2.0, 0.0]))),
]


@pytest.mark.parametrize("infer, reference, args", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_inference_kernel_gives_the_forward_output(infer, reference, args) -> None:
    want = reference(*args)
    want = want[0] if isinstance(want, tuple) else want
    with np.errstate(over="raise"):  # an inference kernel must not warn where the forward does not
        got = infer(*args)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-15}[want.dtype]
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol * 4, atol=tol)


def test_inference_kernels_do_not_modify_their_inputs() -> None:
    for infer, _, args in CASES:
        copies = [np.array(a, copy=True) for a in args]
        infer(*args)
        for a, c in zip(args, copies):
            np.testing.assert_array_equal(np.asarray(a), c, err_msg=infer.__name__)


def test_every_inference_kernel_is_tested_here() -> None:
    tested = {infer.__name__ for infer, _, _ in CASES}
    found = set()
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and name.endswith("_infer") and not name.startswith("_"):
                found.add(name)
    assert found - tested == set(), f"inference kernels without a test in CASES: {sorted(found - tested)}"
