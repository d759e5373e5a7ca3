"""Batched matrix product (numpy/ONNX MatMul semantics) and Einsum, with gradients.

``matmul``: 1-D operands are promoted as numpy does (a vector on the left is a
row, on the right a column, and the added axis is dropped from the result);
batch axes broadcast, and each operand's gradient is summed back to its shape.
A 2-D weight shared across a batch (``x @ W``) gets its gradient from one GEMM
over the flattened batch.

``einsum``: the forward is ``np.einsum(..., optimize=True)``; the gradient of
operand ``i`` is itself an einsum of the output gradient with the other operands,
written to the subscripts of operand ``i``. Letters summed in operand ``i`` alone
broadcast the gradient, repeated letters (diagonals, ``"ii->i"``) write it onto
the diagonal, and ``...`` (ellipsis) axes may broadcast (size 1) between operands.
"""
from __future__ import annotations

import string
from typing import Any

import numpy as np

from .elementwise import unbroadcast
from .gemm import matmul


# ------------------------------------------------------------------ matmul
def matmul_forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """``a @ b`` with numpy broadcasting of the batch axes (ONNX MatMul)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({k_a} != {k_b})")
    try:
        return matmul(a, b), (a, b)
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None


def matmul_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = cache
    a2 = a[None, :] if a.ndim == 1 else a  # (M=1, K)
    b2 = b[:, None] if b.ndim == 1 else b  # (K, N=1)
    g = dy
    if b.ndim == 1:
        g = np.expand_dims(g, -1)
    if a.ndim == 1:
        g = np.expand_dims(g, -2)
    if b2.ndim == 2 and a2.ndim > 2:  # shared weight: one GEMM over the flattened batch for each
        rows = g.reshape(-1, g.shape[-1])
        db = matmul(a2.reshape(-1, a2.shape[-1]).T, rows)
        da = matmul(rows, b2.T).reshape(a2.shape)
    elif a2.ndim == 2 and b2.ndim > 2:  # shared left operand: da in one GEMM over b's batch
        db = unbroadcast(matmul(a2.T, g), b2.shape)
        gt = np.moveaxis(g, -2, 0).reshape(g.shape[-2], -1)          # (M, batch * N)
        bt = np.swapaxes(b2, -1, -2).reshape(-1, b2.shape[-2])      # (batch * N, K)
        da = matmul(gt, bt)
    else:
        db = unbroadcast(matmul(np.swapaxes(a2, -1, -2), g), b2.shape)
        da = unbroadcast(matmul(g, np.swapaxes(b2, -1, -2)), a2.shape)
    return da.reshape(a.shape).astype(a.dtype, copy=False), db.reshape(b.shape).astype(b.dtype, copy=False)


# ------------------------------------------------------------------ einsum
def _parse(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str, dict[str, int]]:
    """Explicit subscripts per operand and for the output (ellipsis replaced by letters), and letter sizes."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} has {len(terms)} operand(s), got {len(shapes)}")
    for t in [*terms, out]:
        bad = set(t.replace("...", "")) - set(string.ascii_letters)
        if bad or t.count("...") > 1:
            raise ValueError(f"einsum: bad subscripts {t!r} in {equation!r}")
    free = [c for c in string.ascii_letters if c not in eq]
    ranks = [len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t]
    width = max(ranks, default=0)
    if min(ranks, default=0) < 0:
        raise ValueError(f"einsum: an operand has fewer axes than its subscripts in {equation!r}: {shapes}")
    ell = "".join(free[:width])
    explicit = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            t = t.replace("...", ell[width - (len(s) - (len(t) - 3)):])
        if len(t) != len(s):
            raise ValueError(f"einsum: subscripts {t!r} do not match an operand of shape {s} in {equation!r}")
        explicit.append(t)
    if arrow:
        output = out.replace("...", ell)
    else:
        letters = "".join(terms).replace("...", "")
        output = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, int] = {}
    for t, s in zip(explicit, shapes):
        for c, n in zip(t, s):
            old = sizes.get(c, 1)
            if n != old and 1 not in (n, old):
                raise ValueError(f"einsum: subscript {c!r} has sizes {old} and {n} in {equation!r} for {shapes}")
            sizes[c] = max(n, old) if 0 not in (n, old) else 0
    missing = set(output) - set(sizes)
    if missing or len(set(output)) != len(output):
        raise ValueError(f"einsum: bad output subscripts {out!r} in {equation!r}")
    return explicit, output, sizes


def einsum_forward(*operands: np.ndarray, equation: str) -> tuple[np.ndarray, Any]:
    """Einstein summation over 1 or more operands, e.g. ``einsum_forward(a, b, equation="bij,bjk->bik")``.

    Implicit output (no ``->``) is the ellipsis axes then the letters that occur
    once, sorted (numpy and ONNX). The cache holds the operands.
    """
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    terms, output, sizes = _parse(equation, [np.shape(x) for x in operands])
    spec = f"{','.join(terms)}->{output}"
    y = np.einsum(spec, *operands, optimize=len(operands) > 1)
    return np.asarray(y), (operands, terms, output, sizes)


def einsum_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    operands, terms, output, sizes = cache
    grads = []
    for i, (x, term) in enumerate(zip(operands, terms)):
        others = [(t, o) for j, (t, o) in enumerate(zip(terms, operands)) if j != i]
        unique = "".join(dict.fromkeys(term))
        reachable = set(output).union(*(set(t) for t, _ in others))
        keep = "".join(c for c in unique if c in reachable)
        spec = ",".join([output] + [t for t, _ in others]) + "->" + keep
        views = [np.broadcast_to(o, [sizes[c] for c in t]) for t, o in others]
        g = np.einsum(spec, dy, *views, optimize=len(views) > 0)
        g = np.broadcast_to(np.reshape(g, [sizes[c] if c in keep else 1 for c in unique]),
                            [sizes[c] for c in unique])
        own = dict(zip(term, x.shape))
        g = unbroadcast(g, tuple(own[c] for c in unique))
        if len(unique) == len(term):
            dx = np.array(g, dtype=x.dtype)
        else:  # repeated subscripts: the gradient lives on the diagonal
            dx = np.zeros(x.shape, dtype=x.dtype)
            np.einsum(f"{term}->{unique}", dx)[...] = g
        grads.append(dx)
    return tuple(grads)
