"""Embedding layer: gradient, padding row, PyTorch init and agreement, config rebuild, errors."""
import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, random
from bigdl_runtime.nn.layers.embedding import Embedding
from tests.helpers.gradcheck import check_module


def test_embedding_module_gradient():
    check_module(Embedding(5, 3), [np.array([[0, 2, 4], [2, 1, 1]])])


@pytest.mark.parametrize("padding_idx,row", [(2, 2), (-1, 4)])
def test_embedding_padding_row_is_never_trained(padding_idx, row, rng):
    emb = Embedding(5, 3, padding_idx=padding_idx)
    idx = np.array([[0, 2, 4], [2, 1, 1]])
    emb.forward(idx)
    emb.backward(rng.standard_normal((2, 3, 3)).astype(np.float32))
    assert not emb.weight.grad[row].any() and emb.weight.grad[[0, 1]].all()


def test_embedding_init_is_standard_normal_with_zero_padding_row():
    random.manual_seed(0)
    emb = Embedding(400, 50, padding_idx=3)
    assert emb.weight.data.dtype == np.float32
    assert not emb.weight.data[3].any()
    assert abs(emb.weight.data.std() - 1) < 0.02 and abs(emb.weight.data.mean()) < 0.02


def test_embedding_matches_torch(rng):
    import torch
    ours = Embedding(6, 4, padding_idx=1)
    theirs = torch.nn.Embedding(6, 4, padding_idx=1)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
    idx = np.array([[1, 5, 5], [0, 1, 3]])
    dy = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ty = theirs(torch.from_numpy(idx))
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(ours.forward(idx), ty.detach().numpy())
    assert ours.backward(dy) is None
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_embedding_config_rebuilds_and_alias():
    emb = Embedding(10, 3, padding_idx=-2, name="emb")
    assert emb.get_config() == {"num_embeddings": 10, "embedding_dim": 3, "padding_idx": 8}
    clone = type(emb)(**emb.get_config())
    assert clone.weight.shape == (10, 3) and clone.padding_idx == 8
    assert LAYER_REGISTRY["LookupTable"] is Embedding


def test_embedding_names_itself_on_out_of_range_index():
    with pytest.raises(ValueError, match=r"Embedding\('emb'\).*index 7 .* vocabulary of 4"):
        Embedding(4, 2, name="emb").forward(np.array([1, 7]))


def test_embedding_rejects_bad_padding_idx():
    with pytest.raises(ValueError, match="padding_idx 4"):
        Embedding(4, 2, padding_idx=4)


def test_embedding_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        Embedding(4, 2).backward(np.zeros((1, 2), np.float32))
