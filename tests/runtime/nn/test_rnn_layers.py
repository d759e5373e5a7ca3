"""LSTM / GRU / RNN layers: gradients, PyTorch parity, config rebuild, dropout, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Module, random
from bigdl_runtime.nn.layers.rnn import GRU, LSTM, RNN
from tests.helpers.gradcheck import assert_close, check_module, numeric_grad

GRAD_CASES = [  # (class, constructor kwargs, input shape)
    (LSTM, dict(input_size=3, hidden_size=2, num_layers=2, bidirectional=True), (2, 3, 3)),
    (LSTM, dict(input_size=2, hidden_size=3, bias=False, return_sequences=False), (3, 4, 2)),
    (GRU, dict(input_size=2, hidden_size=3, bidirectional=True, return_sequences=False), (2, 3, 2)),
    (GRU, dict(input_size=3, hidden_size=2, num_layers=2, batch_first=False), (4, 2, 3)),
    (RNN, dict(input_size=3, hidden_size=2, num_layers=2, bidirectional=True, return_sequences=False), (2, 3, 3)),
    (RNN, dict(input_size=2, hidden_size=3, nonlinearity="relu", batch_first=False), (1, 3, 2)),
]


def build(cls, seed: int = 0, **kwargs):
    random.manual_seed(seed)
    return cls(**kwargs)


def sequence(shape, seed: int = 1, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("cls,kwargs,shape", GRAD_CASES)
def test_gradients_match_finite_differences(cls, kwargs, shape):
    check_module(build(cls, **kwargs), [sequence(shape)])


def test_parameter_names_shapes_and_init():
    lstm = build(LSTM, input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    shapes = {k: p.shape for k, p in lstm.named_parameters()}
    expected = {}
    for layer, in_size in ((0, 3), (1, 8)):
        for suffix in ("", "_reverse"):
            expected.update({f"weight_ih_l{layer}{suffix}": (16, in_size), f"weight_hh_l{layer}{suffix}": (16, 4),
                             f"bias_ih_l{layer}{suffix}": (16,), f"bias_hh_l{layer}{suffix}": (16,)})
    assert list(shapes.items()) == list(expected.items())
    values = np.concatenate([p.data.ravel() for p in lstm.parameters()])
    assert values.dtype == np.float32 and np.abs(values).max() <= 0.5 and values.std() > 0.2
    assert [k for k, _ in build(GRU, input_size=2, hidden_size=3, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_last_output_is_final_state_of_each_direction(cls):
    seq = build(cls, input_size=3, hidden_size=4, bidirectional=True, num_layers=2)
    last = cls(**{**seq.get_config(), "return_sequences": False})
    last.load_state_dict(seq.state_dict())
    x = sequence((2, 5, 3))
    y_seq, y_last = seq.forward(x), last.forward(x)
    assert y_last.shape == (2, 8)
    np.testing.assert_allclose(y_last[:, :4], y_seq[:, -1, :4], rtol=1e-6)
    np.testing.assert_allclose(y_last[:, 4:], y_seq[:, 0, 4:], rtol=1e-6)


def test_time_major_input_is_the_transposed_batch_first_case():
    first = build(GRU, input_size=3, hidden_size=2, bidirectional=True)
    major = GRU(**{**first.get_config(), "batch_first": False})
    major.load_state_dict(first.state_dict())
    x = sequence((2, 4, 3))
    np.testing.assert_allclose(major.forward(x.transpose(1, 0, 2)), first.forward(x).transpose(1, 0, 2), rtol=1e-6)
    dy = sequence((2, 4, 4), seed=2)
    np.testing.assert_allclose(major.backward(dy.transpose(1, 0, 2)), first.backward(dy).transpose(1, 0, 2),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls,kwargs", [
    (LSTM, dict(num_layers=3, bias=False, dropout=0.25, bidirectional=True, return_sequences=False)),
    (RNN, dict(nonlinearity="relu", batch_first=False)),
])
def test_config_rebuilds_the_layer(cls, kwargs):
    layer = build(cls, input_size=3, hidden_size=5, **kwargs)
    clone = type(layer)(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert all(isinstance(v, (int, float, str, bool)) for v in layer.get_config().values())
    clone.load_state_dict(layer.state_dict())
    x = sequence((4, 2, 3))
    np.testing.assert_array_equal(clone.evaluate().forward(x), layer.evaluate().forward(x))


def test_dropout_only_in_training():
    layer = build(LSTM, input_size=3, hidden_size=4, num_layers=2, dropout=0.5)
    plain = LSTM(**{**layer.get_config(), "dropout": 0.0})
    plain.load_state_dict(layer.state_dict())
    x = sequence((3, 4, 3))
    reference = plain.forward(x)
    assert not np.allclose(layer.forward(x), reference)
    layer.evaluate()
    np.testing.assert_array_equal(layer.forward(x), reference)


def test_dropout_backward_uses_the_forward_mask():
    layer = build(GRU, input_size=2, hidden_size=3, num_layers=3, dropout=0.4, bidirectional=True).astype(np.float64)
    x = sequence((2, 3, 2), dtype=np.float64)
    w = sequence((2, 3, 6), seed=3, dtype=np.float64)

    def loss() -> float:
        random.manual_seed(7)
        return float(np.sum(layer.forward(x) * w))

    loss()
    grad = layer.backward(w)
    assert_close(grad, numeric_grad(loss, x), "GRU dropout d(input)", rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_float32_in_float32_out(cls):
    layer = build(cls, input_size=3, hidden_size=2, bidirectional=True)
    x = sequence((2, 3, 3))
    assert layer.forward(x).dtype == np.float32
    assert layer.backward(np.ones((2, 3, 4), np.float32)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 and np.abs(p.grad).sum() > 0 for p in layer.parameters())


def test_parameter_grads_accumulate():
    layer = build(RNN, input_size=2, hidden_size=3)
    x, dy = sequence((2, 3, 2)), sequence((2, 3, 3), seed=4)
    layer.forward(x)
    layer.backward(dy)
    once = layer.weight_hh_l0.grad.copy()
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight_hh_l0.grad, 2 * once, rtol=1e-6)


@pytest.mark.parametrize("shape,what", [((2, 3), "got shape \\(2, 3\\)"), ((2, 3, 4), "I = 3")])
def test_bad_input_is_rejected(shape, what):
    layer = LSTM(3, 2, name="enc")
    with pytest.raises(ValueError, match=f"LSTM\\('enc'\\).*{what}"):
        layer.forward(np.zeros(shape, np.float32))


def test_bad_arguments_and_backward_before_forward():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 2, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, 2, dropout=1.0)
    with pytest.raises(ValueError, match="positive"):
        LSTM(3, 0)
    with pytest.raises(RuntimeError, match="before forward"):
        GRU(3, 2).backward(np.zeros((1, 1, 2), np.float32))


TORCH_CASES = [  # (class, constructor kwargs shared with torch)
    (LSTM, dict(input_size=4, hidden_size=5)),
    (LSTM, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
    (LSTM, dict(input_size=3, hidden_size=2, num_layers=2, bias=False, batch_first=False)),
    (GRU, dict(input_size=4, hidden_size=3, bidirectional=True)),
    (GRU, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=False)),
    (RNN, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
    (RNN, dict(input_size=4, hidden_size=3, num_layers=2, nonlinearity="relu", bias=False)),
]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cls,kwargs", TORCH_CASES)
def test_matches_torch_forward_and_gradients(cls, kwargs, return_sequences):
    torch = pytest.importorskip("torch")
    ours = build(cls, **kwargs, return_sequences=return_sequences)
    ref = getattr(torch.nn, cls.__name__)(**{"batch_first": True, **kwargs})
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    shape = (3, 5, kwargs["input_size"]) if kwargs.get("batch_first", True) else (5, 3, kwargs["input_size"])
    x = sequence(shape)
    xt = torch.from_numpy(x).requires_grad_(True)
    seq, h_n = ref(xt)
    h_n = h_n[0] if cls is LSTM else h_n  # the LSTM returns (h_n, c_n)
    last_layer = h_n[-2:] if ours.bidirectional else h_n[-1:]
    expected = seq if return_sequences else torch.cat(list(last_layer), dim=-1)
    y = ours.forward(x)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-5, atol=1e-6)

    dy = sequence(y.shape, seed=9)
    (expected * torch.from_numpy(dy)).sum().backward()
    np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for key, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(ours, key).grad, p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)



@pytest.mark.parametrize("cell, direction, batch_first", [("lstm", "bidirectional", False), ("gru", "reverse", True),
                                                          ("rnn_tanh", "forward", False)])
def test_recurrent_lengths_run_each_sample_over_its_own_steps(cell: str, direction: str, batch_first: bool) -> None:
    from bigdl_runtime.nn.layers.rnn_sequence import RecurrentLengths, RecurrentSequence

    rng = np.random.default_rng(0)
    rnn = RecurrentSequence(cell, 3, 4, direction=direction, batch_first=batch_first)
    layer = RecurrentLengths(rnn)
    lengths = np.array([5, 2, 3, 2])
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    n_dir = 2 if direction == "bidirectional" else 1
    states = [rng.standard_normal((4, n_dir, 4) if batch_first else (n_dir, 4, 4))
              for _ in range(2 if cell == "lstm" else 1)]
    outs = layer(x, lengths, *states)
    for b, steps in enumerate(lengths):  # each sample alone, cut to its length, gives the same
        one = (x[b:b + 1, :steps] if batch_first else x[:steps, b:b + 1])
        alone = rnn(one, *[s[b:b + 1] if batch_first else s[:, b:b + 1] for s in states])
        if batch_first:
            np.testing.assert_allclose(outs[0][b, :steps], alone[0][0], rtol=1e-6)
            assert not outs[0][b, steps:].any()
            for got, want in zip(outs[1:], alone[1:]):
                np.testing.assert_allclose(got[b], want[0], rtol=1e-6)
        else:
            np.testing.assert_allclose(outs[0][:steps, :, b], alone[0][:, :, 0], rtol=1e-6)
            assert not outs[0][steps:, :, b].any()
            for got, want in zip(outs[1:], alone[1:]):
                np.testing.assert_allclose(got[:, b], want[:, 0], rtol=1e-6)
    check_module(_LengthsFixed(layer, lengths), [x, *states])
    check_module(_LengthsFixed(RecurrentLengths(rnn), np.full(4, 5)), [x, *states])  # whole sequences
    with pytest.raises(ValueError, match="each between 0 and the sequence length 5"):
        layer(x, np.array([6, 1, 1, 1]))


class _LengthsFixed(Module):
    """RecurrentLengths with its lengths input fixed (for the gradient check)."""

    def __init__(self, layer, lengths: np.ndarray) -> None:
        super().__init__()
        self.layer, self.lengths = layer, lengths

    def forward(self, x, *states):
        return self.layer.forward(x, self.lengths, *states)

    def backward(self, grad_output):
        dx, _, *dstates = self.layer.backward(grad_output)
        return (dx, *dstates)
