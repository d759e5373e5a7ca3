"""The emitters, one module per layer family; importing this package registers them all."""
from . import (activation, affine, control_flow, conv, crop, detection, dropout, elementwise, embedding,
               imported_ops, index, instance_norm, int8, l2norm, linear, lrn, math, matmul, norm, pad, pool, reduce, resize,
               rnn, rnn_sequence, shape, values)

__all__ = ["activation", "affine", "control_flow", "conv", "crop", "detection", "dropout", "elementwise", "embedding",
           "imported_ops", "index", "int8",
           "instance_norm", "l2norm", "linear", "lrn", "math", "matmul", "norm", "pad", "pool", "reduce", "resize",
           "rnn", "rnn_sequence", "shape", "values"]
