"""Round-trip cases for the control-flow layers (sub-graphs stored as children)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.layers.control_flow import IfElse, Loop, Scan


def _flags_and_floats(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """() -> a true condition, (1,) -> a trip count of 3, anything else -> standard normal floats."""
    if shape == ():
        return np.array(True)
    if shape == (1,):
        return np.array([3], np.int64)
    return rng.standard_normal(shape).astype(np.float32)


def _if_else() -> IfElse:
    c, x = Input("c"), Input("x")
    c2, x2 = Input("c"), Input("x")
    return IfElse(Graph([c, x], nn.Tanh()(nn.Linear(3, 3)(x))), Graph([c2, x2], nn.Neg()(x2)))


def _loop() -> Loop:
    i, c, h = Input("i"), Input("c"), Input("h")
    return Loop(Graph([i, c, h], [c, nn.Tanh()(nn.Linear(3, 3)(h))]), n_carried=1)


def _scan() -> Scan:
    s, x = Input("s"), Input("x")
    total = nn.Add()(nn.Linear(3, 3)(s), x)
    return Scan(Graph([s, x], [total, nn.Sigmoid()(total)]), n_state=1, n_scan=1, input_axes=[1],
                input_reverse=[1], output_axes=[-1])


CASES: dict[str, tuple] = {
    "IfElse": (_if_else, [(), (2, 3)], _flags_and_floats),
    "Loop": (_loop, [(1,), (), (2, 3)], _flags_and_floats),
    "Scan": (_scan, [(2, 3), (2, 4, 3)], _flags_and_floats),
}
