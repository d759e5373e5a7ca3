"""Stateless numpy kernels.

Every op family lives in its own module and exposes pairs

    <op>_forward(x, *params, **config) -> (y, cache)
    <op>_backward(dy, cache) -> (dx, *dparams)

`backward` returns one gradient per array argument of `forward`, in the same
order (``None`` where that argument was ``None``, e.g. a missing bias). Ops with
several array inputs (add, concat) return one gradient per input; ops with
several outputs (split, rnn with state) take a tuple of output gradients.
Nothing here keeps state between calls (beyond process-wide caches: the worker
thread pool, oneDNN's compiled primitives) and nothing imports the rest of the
package, so the tests can find every pair by name and check it generically.
float32 convolutions run on oneDNN when the ``onednn-cpu-gomp`` wheel is
installed (:mod:`.onednn`); the numpy path stays, for everything else and as
the reference the oneDNN path is tested against.
"""
