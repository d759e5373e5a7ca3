"""Text classifier builder: shapes, parameter counts, GloVe initialisation and freezing, torch LSTM count, training."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import CrossEntropyLoss, random
from bigdl_runtime.optim import Adam
from bigdl_runtime.serialization import load_model
from zoo.models.text_classifier import pretrained_vectors, text_classifier


def _tokens(rng, n=4, t=12, vocab=50):
    x = rng.integers(2, vocab, (n, t))
    x[:, :3] = 0  # pre-padding
    return x


@pytest.mark.parametrize("rnn,gates", [("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_shapes_and_parameter_count(rng, rnn, gates, bidirectional, pooling):
    random.manual_seed(0)
    d = 2 if bidirectional else 1
    net = text_classifier(50, num_classes=3, embedding_dim=8, rnn=rnn, hidden_size=6, num_layers=2,
                          bidirectional=bidirectional, pooling=pooling)
    assert net.forward(_tokens(rng)).shape == (4, 3)
    layer1 = d * gates * 6 * (8 + 6 + 2)            # W_ih, W_hh, b_ih, b_hh per direction
    layer2 = d * gates * 6 * (6 * d + 6 + 2)
    assert net.num_parameters() == 50 * 8 + layer1 + layer2 + (6 * d * 3 + 3)
    top_off = text_classifier(50, embedding_dim=8, rnn=rnn, hidden_size=6, bidirectional=bidirectional,
                              pooling=pooling, include_top=False)
    assert top_off.forward(_tokens(rng)).shape == (4, 6 * d)


def test_recurrent_parameter_count_matches_torch():
    import torch
    ours = text_classifier(100, embedding_dim=16, rnn="lstm", hidden_size=32, num_layers=2, bidirectional=True)
    theirs = torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True)
    assert ours.node("lstm").module.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_pretrained_embeddings_copied_padding_zeroed_and_frozen(rng):
    random.manual_seed(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    net = text_classifier(50, embedding_dim=8, embeddings=vectors, freeze_embeddings=True, hidden_size=4)
    table = net.node("embedding").module.weight
    np.testing.assert_array_equal(table.data[1:], vectors[1:])
    assert not table.data[0].any() and not table.trainable
    before = table.data.copy()
    x, y = _tokens(rng), np.array([0, 1, 0, 1])
    loss, opt = CrossEntropyLoss(), Adam(net.parameters(trainable_only=True), lr=0.01)
    net.zero_grad()
    net.backward(loss.backward(net.forward(x), y))
    opt.step()
    np.testing.assert_array_equal(table.data, before)
    with pytest.raises(ValueError, match=r"embeddings must be \(50, 8\)"):
        text_classifier(50, embedding_dim=8, embeddings=vectors[:10])


def test_pretrained_vectors_lookup():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows, found = pretrained_vectors(["<pad>", "<unk>", "b", "zz", "a"], {"a": 0, "b": 2}, table, seed=0, scale=0.5)
    assert found == 2
    np.testing.assert_array_equal(rows[0], 0)
    np.testing.assert_array_equal(rows[2], table[2])
    np.testing.assert_array_equal(rows[4], table[0])
    assert rows.dtype == np.float32 and rows[3].std() > 0


def test_bad_options():
    with pytest.raises(ValueError, match="rnn must be"):
        text_classifier(10, rnn="transformer")
    with pytest.raises(ValueError, match="pooling must be"):
        text_classifier(10, pooling="attention")


def test_save_load_and_one_step_lowers_loss(tmp_path, rng):
    random.manual_seed(1)
    net = text_classifier(50, embedding_dim=8, rnn="gru", hidden_size=8, bidirectional=True, pooling="max",
                          dropout=0.2)
    x, y = _tokens(rng, n=8), rng.integers(0, 2, 8)
    net.evaluate()
    net.save(str(tmp_path / "t.bigdl"))
    np.testing.assert_array_equal(load_model(tmp_path / "t.bigdl").evaluate().forward(x), net.forward(x))
    loss, opt = CrossEntropyLoss(), Adam(net.parameters(), lr=0.01)
    before = loss.forward(net.forward(x), y)
    net.train()
    random.manual_seed(2)
    net.zero_grad()
    net.backward(loss.backward(net.forward(x), y))
    opt.step()
    net.evaluate()
    assert loss.forward(net.forward(x), y) < before
