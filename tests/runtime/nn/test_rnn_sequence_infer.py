"""RecurrentSequence's evaluation-mode LSTM on oneDNN: the numpy forward's outputs, and fresh weights after training,
load_state_dict or new parameter arrays."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import onednn
from bigdl_runtime.kernels import onednn_rnn
from bigdl_runtime.nn.layers.rnn_sequence import RecurrentSequence

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")


@pytest.fixture
def plan_runs(monkeypatch) -> list[tuple]:
    """The shapes of the LstmPlan calls made during the test."""
    calls: list[tuple] = []
    real = onednn_rnn.LstmPlan.run

    def run(self, x, h0, c0):
        calls.append(self.shape)
        return real(self, x, h0, c0)
    monkeypatch.setattr(onednn_rnn.LstmPlan, "run", run)
    return calls


def _inputs(layer: RecurrentSequence, rng: np.random.Generator, steps: int, batch: int, states: int) -> list:
    d = 2 if layer.direction == "bidirectional" else 1
    x = rng.standard_normal((batch, steps, layer.input_size) if layer.batch_first else (steps, batch, layer.input_size))
    shape = (batch, d, layer.hidden_size) if layer.batch_first else (d, batch, layer.hidden_size)
    return [x.astype(np.float32)] + [rng.standard_normal(shape).astype(np.float32) for _ in range(states)]


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batch, states", [(1, 2), (3, 0), (2, 1)])
def test_evaluation_mode_lstm_gives_the_numpy_forward(direction, batch_first, batch, states, rng, plan_runs) -> None:
    layer = RecurrentSequence("lstm", 5, 6, direction=direction, batch_first=batch_first).evaluate()
    inputs = _inputs(layer, rng, 4, batch, states)
    got = layer(*inputs)
    want = layer.forward_pass(*inputs)[0]
    assert plan_runs == [(4, batch, 5, 6)]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)


def test_plans_copy_the_weights_again_after_training_and_load_state_dict(rng, plan_runs) -> None:
    layer = RecurrentSequence("lstm", 3, 4).evaluate()
    x = _inputs(layer, rng, 2, 1, 0)[0]
    before = layer(x)[0]
    layer.train()
    layer.forward(x)  # a training step: the optimizer would now write the weights in place
    layer.weight_ih_l0.data *= 2
    layer.evaluate()
    np.testing.assert_allclose(layer(x)[0], layer.forward_pass(x)[0][0], rtol=1e-5, atol=2e-6)
    state = {k: v * 0.5 for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    np.testing.assert_allclose(layer(x)[0], layer.forward_pass(x)[0][0], rtol=1e-5, atol=2e-6)
    assert not np.allclose(layer(x)[0], before)
    layer.weight_hh_l0.data = layer.weight_hh_l0.data * 3  # a new array (as astype or flatten_parameters make)
    np.testing.assert_allclose(layer(x)[0], layer.forward_pass(x)[0][0], rtol=1e-5, atol=2e-6)
    assert len(plan_runs) == 5


def test_other_cells_and_float64_stay_on_numpy(rng, plan_runs) -> None:
    gru = RecurrentSequence("gru", 3, 4).evaluate()
    gru(rng.standard_normal((2, 1, 3)).astype(np.float32))
    lstm = RecurrentSequence("lstm", 3, 4).astype(np.float64).evaluate()
    y = lstm(rng.standard_normal((2, 1, 3)))[0]
    assert y.dtype == np.float64 and plan_runs == []
