"""The emitters, one module per layer family; importing this package registers them all."""
from . import (activation, affine, conv, crop, dropout, elementwise, embedding, l2norm, linear, lrn, math, norm, pad,
               pool, resize, rnn, shape)

__all__ = ["activation", "affine", "conv", "crop", "dropout", "elementwise", "embedding", "l2norm", "linear", "lrn",
           "math", "norm", "pad", "pool", "resize", "rnn", "shape"]
