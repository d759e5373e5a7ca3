"""The emitters, one module per layer family; importing this package registers them all."""
from . import activation, conv, dropout, elementwise, embedding, linear, norm, pad, pool, resize, rnn, shape

__all__ = ["activation", "conv", "dropout", "elementwise", "embedding", "linear", "norm", "pad", "pool", "resize",
           "rnn", "shape"]
