"""NCF builders (GMF, MLP, NeuMF): sizes, a hand-computed GMF score, negative sampling, save/load, training."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import BCEWithLogitsLoss, random
from bigdl_runtime.optim import Adam
from bigdl_runtime.serialization import load_model
from zoo.models.ncf import ncf, sample_negatives


def test_parameter_counts_follow_the_paper_layout():
    u, i = 943, 1682
    gmf = (u + i) * 8 + 8 + 1
    mlp = (u + i) * 32 + (64 * 32 + 32) + (32 * 16 + 16) + (16 * 8 + 8) + 8 + 1
    assert ncf(u, i, mode="gmf").num_parameters() == gmf == 21_009
    assert ncf(u, i, mode="mlp").num_parameters() == mlp == 86_753
    assert ncf(u, i, mode="neumf").num_parameters() == (gmf - 9) + (mlp - 9) + 17  # one prediction layer, 16 factors


@pytest.mark.parametrize("mode,width", [("gmf", 8), ("mlp", 8), ("neumf", 16)])
def test_shapes(mode, width):
    net = ncf(10, 20, mode=mode)
    users, items = np.array([0, 3, 9]), np.array([1, 19, 4])
    assert net.forward(users, items).shape == (3, 1)
    assert ncf(10, 20, mode=mode, include_top=False).forward(users, items).shape == (3, width)
    with pytest.raises(ValueError, match="mode must be"):
        ncf(10, 20, mode="svd")


def test_gmf_is_a_weighted_dot_product():
    random.manual_seed(0)
    net = ncf(5, 7, mode="gmf", mf_dim=4)
    p, q = net.node("gmf_user_embedding").module.weight.data, net.node("gmf_item_embedding").module.weight.data
    h, b = net.node("prediction").module.weight.data[0], net.node("prediction").module.bias.data[0]
    users, items = np.array([1, 4]), np.array([6, 0])
    expected = (p[users] * q[items]) @ h + b
    np.testing.assert_allclose(net.forward(users, items)[:, 0], expected, rtol=1e-6)
    assert abs(p.std() - 0.01) < 0.005  # N(0, 0.01) initialisation


def test_sample_negatives_never_returns_seen_pairs():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 200)
    items = rng.integers(0, 12, 200)  # dense: many collisions to redraw
    u, i, y = sample_negatives(users, items, 12, negatives=4, seed=1)
    assert len(u) == len(i) == len(y) == 200 * 5 and y.shape == (1000, 1) and y.sum() == 200
    seen = set(zip(users.tolist(), items.tolist()))
    neg = y[:, 0] == 0
    assert not seen & set(zip(u[neg].tolist(), i[neg].tolist()))
    assert set(zip(u[~neg].tolist(), i[~neg].tolist())) == seen
    u2, i2, _ = sample_negatives(users, items, 12, negatives=4, seed=1)
    np.testing.assert_array_equal(i2, i)


def test_save_load_and_one_step_lowers_loss(tmp_path):
    random.manual_seed(1)
    net = ncf(20, 30, mode="neumf", mf_dim=4, mlp_layers=(16, 8, 4))
    rng = np.random.default_rng(0)
    u, i, y = sample_negatives(rng.integers(0, 20, 40), rng.integers(0, 30, 40), 30, seed=0)
    net.save(str(tmp_path / "ncf.bigdl"))
    np.testing.assert_array_equal(load_model(tmp_path / "ncf.bigdl").forward(u, i), net.forward(u, i))
    loss, opt = BCEWithLogitsLoss(), Adam(net.parameters(), lr=0.01)
    before = loss.forward(net.forward(u, i), y)
    net.zero_grad()
    net.backward(loss.backward(net.forward(u, i), y))
    opt.step()
    assert loss.forward(net.forward(u, i), y) < before
