"""Sharded optimizer: N shards of the flat vector update exactly what the whole optimizer updates."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Linear, ReLU, Sequential, random
from bigdl_runtime.optim import SGD, Adam, RMSprop
from bigdl_runtime.optim.regularizers import L2
from bigdl_runtime.optim.schedules import Step
from bigdl_runtime.optim.sharding import ShardLayout


def bounds(size: int, parts: int) -> list[tuple[int, int]]:
    cuts = np.linspace(0, size, parts + 1).astype(int)
    return list(zip(cuts[:-1], cuts[1:]))


def model_and_grads(seed: int = 0):
    random.manual_seed(seed)
    model = Sequential(Linear(5, 7), ReLU(), Linear(7, 3))
    flat_w, flat_g = model.flatten_parameters()
    grads = [np.random.default_rng(seed + k).standard_normal(flat_g.size).astype(np.float32) for k in range(4)]
    return model, flat_w, flat_g, grads


OPTIMIZERS = {
    "sgd-nesterov-wd": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam-schedule": lambda ps: Adam(ps, lr=0.01, schedule=Step(2, 0.5)),
    "rmsprop-centered-clip-value": lambda ps: RMSprop(ps, lr=0.01, centered=True, clip_value=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_shards_update_exactly_like_the_whole_optimizer(name, parts):
    whole_model, whole_w, whole_g, grads = model_and_grads()
    whole = OPTIMIZERS[name](whole_model.parameters())
    whole_model.parameters()[0].regularizer = L2(0.01)
    model, flat_w, _, _ = model_and_grads()
    optimizer = OPTIMIZERS[name](model.parameters())
    model.parameters()[0].regularizer = L2(0.01)
    layout = ShardLayout.of(model, optimizer)
    slices = bounds(flat_w.size, parts)
    grad_slices = [np.zeros(hi - lo, np.float32) for lo, hi in slices]
    shards = [layout.shard(lo, hi, flat_w, g) for (lo, hi), g in zip(slices, grad_slices)]
    assert sum(len(s.pieces) for s in shards) >= 4   # slices cut parameters in pieces
    for k, grad in enumerate(grads):
        whole_g[...] = grad
        whole.step()
        for (lo, hi), g, shard in zip(slices, grad_slices, shards):
            g[...] = grad[lo:hi]
            shard.step()
            shard.epoch_end(k + 1)
        whole.epoch_end(k + 1)
    np.testing.assert_array_equal(flat_w, whole_w)
    merged = layout.merge([s.state_dict() for s in shards])
    expected = whole.state_dict()
    assert merged.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(np.asarray(merged[key]), np.asarray(value), err_msg=key)
    optimizer.load_state_dict(merged)   # loads into the original optimizer like any state


def test_clip_norm_uses_the_norm_over_every_shard():
    whole_model, whole_w, whole_g, grads = model_and_grads(3)
    whole = SGD(whole_model.parameters(), lr=0.5, clip_norm=0.1)
    model, flat_w, _, _ = model_and_grads(3)
    layout = ShardLayout.of(model, SGD(model.parameters(), lr=0.5, clip_norm=0.1))
    initial = flat_w.copy()
    slices = bounds(flat_w.size, 3)
    grad_slices = [np.zeros(hi - lo, np.float32) for lo, hi in slices]
    shards = [layout.shard(lo, hi, flat_w, g) for (lo, hi), g in zip(slices, grad_slices)]
    whole_g[...] = grads[0]
    whole.step()
    for (lo, hi), g in zip(slices, grad_slices):
        g[...] = grads[0][lo:hi]
    total = sum(float(np.vdot(g, g)) for g in grad_slices)
    for shard in shards:
        shard.step(sum_across=lambda _: total)
    np.testing.assert_allclose(flat_w, whole_w, rtol=1e-6, atol=1e-7)
    lo, hi = slices[0]
    alone = layout.shard(lo, hi, initial, grads[0][lo:hi].copy())  # (steps clip their gradient in place)
    alone.step()   # without the other shards' squares the norm is smaller: a different (wrong) step
    assert np.abs(initial[lo:hi] - flat_w[lo:hi]).max() > 1e-4


def test_a_shard_resumes_from_the_whole_optimizers_state():
    model, flat_w, flat_g, grads = model_and_grads(1)
    optimizer = Adam(model.parameters(), lr=0.01)
    flat_g[...] = grads[0]
    optimizer.step()
    layout = ShardLayout.of(model, optimizer)
    copy_w = flat_w.copy()
    slices = bounds(flat_w.size, 2)
    grad_slices = [np.zeros(hi - lo, np.float32) for lo, hi in slices]
    shards = [layout.shard(lo, hi, copy_w, g) for (lo, hi), g in zip(slices, grad_slices)]
    for shard in shards:
        shard.load_state_dict(optimizer.state_dict())
    flat_g[...] = grads[1]
    optimizer.step()
    for (lo, hi), g, shard in zip(slices, grad_slices, shards):
        g[...] = grads[1][lo:hi]
        shard.step()
    np.testing.assert_array_equal(copy_w, flat_w)
    assert shards[0].optimizer.iteration == 2


@pytest.mark.parametrize("name", sorted(OPTIMIZERS) + ["sgd-clip-norm"])
def test_pieces_summed_just_in_time_update_like_the_whole_optimizer(name, monkeypatch):
    """Shards cut their slice into pieces (here of 5 elements) and ``fill`` each piece's gradient
    just before its update (with clip_norm, every piece first): the same weights and state as the whole."""
    import bigdl_runtime.optim.sharding as sharding

    make = OPTIMIZERS.get(name, lambda ps: SGD(ps, lr=0.5, momentum=0.9, clip_norm=0.1))
    monkeypatch.setattr(sharding, "PIECE_ELEMENTS", 5)
    whole_model, whole_w, whole_g, grads = model_and_grads(2)
    whole = make(whole_model.parameters())
    model, flat_w, _, _ = model_and_grads(2)
    layout = ShardLayout.of(model, make(model.parameters()))
    slices = bounds(flat_w.size, 2)
    grad_slices = [np.full(hi - lo, np.nan, np.float32) for lo, hi in slices]
    shards = [layout.shard(lo, hi, flat_w, g) for (lo, hi), g in zip(slices, grad_slices)]
    assert all(piece.hi - piece.lo <= 5 for shard in shards for piece in shard.pieces)
    for grad in grads:
        whole_g[...] = grad
        whole.step()
        total = sum(float(np.vdot(grad[lo:hi], grad[lo:hi])) for lo, hi in slices)
        for (lo, hi), g, shard in zip(slices, grad_slices, shards):
            filled: list[tuple[int, int]] = []
            before = flat_w.copy()

            def fill(a: int, b: int, dest: np.ndarray) -> None:
                if name == "sgd-clip-norm":   # a global norm: no piece is updated before every piece is filled
                    np.testing.assert_array_equal(flat_w, before)
                filled.append((a, b))
                assert dest.shape == (b - a,)
                dest[...] = grad[a:b]

            shard.step(sum_across=lambda _: total, fill=fill)
            assert filled == [(p.lo, p.hi) for p in shard.pieces]   # each piece once, in order
            # afterwards each piece's gradient is its view of the slice again (a step without fill reads it)
            assert all(np.shares_memory(p.grad, g) for p in shard.optimizer.params)
            g[...] = np.nan   # nothing is read from the previous iteration's sum
    if name == "sgd-clip-norm":
        np.testing.assert_allclose(flat_w, whole_w, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(flat_w, whole_w)
    merged = layout.merge([s.state_dict() for s in shards])
    expected = whole.state_dict()
    assert merged.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, (str, type(None))):
            assert merged[key] == value, key
        elif name == "sgd-clip-norm":   # the norm is summed in another order
            np.testing.assert_allclose(np.asarray(merged[key], np.float64), np.asarray(value, np.float64),
                                       rtol=1e-5, atol=1e-7, err_msg=key)
        else:
            np.testing.assert_array_equal(np.asarray(merged[key]), np.asarray(value), err_msg=key)
