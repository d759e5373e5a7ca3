"""Shared check of the ONNX exporter: the file is valid and onnxruntime agrees with our model."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx

from bigdl_runtime.nn import Module
from bigdl_runtime.serialization.onnx_export import to_onnx_model

TOLERANCE = 1e-5


def sample(rng: np.random.Generator, shape: Sequence[int], dtype: Any = np.float32, high: int = 10,
           positive: bool = False) -> np.ndarray:
    """Random input: normal floats (uniform in [0.2, 2] if ``positive``), or integers in ``[0, high)``."""
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, high, size=shape).astype(dtype)
    if positive:
        return rng.uniform(0.2, 2.0, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def check_export(model: Module, input_shape: Any, rng: np.random.Generator, batches: Sequence[int] = (1, 3),
                 input_dtype: Any = None, high: int = 10, tolerance: float = TOLERANCE,
                 positive: bool = False) -> onnx.ModelProto:
    """Export ``model``, run ``onnx.checker`` (full check), and compare onnxruntime with ``model`` at each batch size.

    Returns:
        the exported ModelProto (for further assertions on names and structure).
    """
    import onnxruntime as ort
    proto = to_onnx_model(model, input_shape, input_dtype)  # runs check_model(full_check=True)
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    shapes = [input_shape] if all(isinstance(d, int) for d in input_shape) else list(input_shape)
    dtypes = [i.type.tensor_type.elem_type for i in proto.graph.input]
    model.evaluate()
    for batch in batches:
        xs = [sample(rng, (batch, *shape), np.int64 if t == onnx.TensorProto.INT64 else np.float32, high,
                     positive)
              for shape, t in zip(shapes, dtypes)]
        ours = model.forward(*xs)
        ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
        theirs = session.run(None, {i.name: x for i, x in zip(proto.graph.input, xs)})
        assert len(theirs) == len(ours)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape, f"batch {batch}: ours {a.shape}, onnxruntime {b.shape}"
            if a.dtype == np.bool_:
                assert b.dtype == np.bool_ and np.array_equal(a, b), f"batch {batch}: boolean outputs differ"
                continue
            err = float(np.max(np.abs(a - b))) if a.size else 0.0
            assert err <= tolerance, f"batch {batch}: max abs error {err:.3g} > {tolerance}"
    return proto
