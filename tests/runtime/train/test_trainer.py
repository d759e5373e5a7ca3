"""LocalTrainer.fit on a small MLP: learning, seeded determinism, history/summary rows, end
triggers, validation, multi-input models; evaluate/predict batching; errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Sequential, random
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.dropout import Dropout
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.shape import Concat
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import SGD
from bigdl_runtime.train import LocalTrainer, MaxScore, MinLoss, SeveralIteration, read_summary


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in 4-d, float32 inputs and int64 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], dtype=np.float32)
    return (centres[y] + 0.5 * rng.standard_normal((n, 4))).astype(np.float32), y


def make_trainer(dropout: float = 0.25, lr: float = 0.1, seed: int = 0) -> LocalTrainer:
    random.manual_seed(seed)
    model = Sequential(Linear(4, 16), ReLU(), Dropout(dropout), Linear(16, 3))
    return LocalTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr, momentum=0.9))


def weights(trainer: LocalTrainer) -> list[np.ndarray]:
    return [p.data.copy() for p in trainer.model.parameters()]


def test_fit_learns_and_validates_every_epoch():
    x, y = blobs(90)
    xv, yv = blobs(60, seed=1)
    trainer = make_trainer()
    before = trainer.evaluate(xv, yv)["top1"]
    history = trainer.fit(x, y, batch_size=16, epochs=8, validation=(xv, yv), metrics=("top1", "loss"),
                          seed=3, progress=False)
    assert [r["epoch"] for r in history.validation] == list(range(1, 9))
    assert history.last_validation["top1"] > 0.9 > before
    assert history.validation[-1]["loss"] < history.validation[0]["loss"]
    assert history.state.score == history.last_validation["top1"]


def test_same_seed_same_weights_and_other_seed_differs():
    x, y = blobs(40)
    runs = []
    for seed in (5, 5, 6):
        trainer = make_trainer()
        trainer.fit(x, y, batch_size=8, epochs=2, seed=seed, progress=False)
        runs.append(weights(trainer))
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


def test_the_run_carries_its_generator_and_leaves_the_process_one_alone():
    x, y = blobs(40)
    runs = []
    for process_seed in (7, 8):  # the same fit after different draws from the process's generator
        trainer = make_trainer()
        random.manual_seed(process_seed)
        before = random.get_state()
        trainer.fit(x, y, batch_size=8, epochs=2, seed=5, progress=False)
        assert random.get_state() == before  # dropout drew from the run's generator, not from this one
        runs.append(weights(trainer))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_without_shuffle_the_seed_only_matters_for_dropout():
    x, y = blobs(40)
    runs = []
    for seed in (1, 2):
        trainer = make_trainer(dropout=0.0)
        trainer.fit(x, y, batch_size=8, epochs=2, seed=seed, shuffle=False, progress=False)
        runs.append(weights(trainer))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_history_rows_partial_last_batch_and_summary_file(tmp_path):
    x, y = blobs(20)
    path = tmp_path / "summary.jsonl"
    history = make_trainer().fit(x, y, batch_size=6, epochs=2, validation=(x, y), summary=path, seed=0,
                                 progress=False)
    state = history.state
    assert (state.iteration, state.epoch, state.records, state.epoch_finished) == (8, 2, 40, True)
    assert [r["epoch"] for r in history.train] == [1] * 4 + [2] * 4
    assert all(r["lr"] == pytest.approx(0.1) and r["throughput"] > 0 for r in history.train)
    walls = [r["wall_time"] for r in history.train]
    assert walls == sorted(walls)
    assert [r["iteration"] for r in history.validation] == [4, 8]
    written = read_summary(path)
    assert written.train == history.train and written.validation == history.validation


@pytest.mark.parametrize("kwargs, iterations", [
    ({"iterations": 5}, 5),
    ({"epochs": 3, "iterations": 5}, 5),
    ({"epochs": 1, "iterations": 50}, 4),
    ({"end_trigger": SeveralIteration(6)}, 6),
])
def test_end_conditions(kwargs, iterations):
    x, y = blobs(20)
    history = make_trainer().fit(x, y, batch_size=6, seed=0, progress=False, **kwargs)
    assert history.state.iteration == iterations == len(history.train)


def test_min_loss_and_max_score_end_early():
    x, y = blobs(60)
    history = make_trainer(dropout=0.0).fit(x, y, batch_size=10, epochs=100, end_trigger=MinLoss(0.2),
                                            seed=0, progress=False)
    assert history.state.loss < 0.2 and history.state.epoch < 100
    history = make_trainer(dropout=0.0).fit(x, y, batch_size=10, end_trigger=MaxScore(0.9),
                                            validation=(x, y), validation_trigger=SeveralIteration(2),
                                            seed=0, progress=False)
    assert history.state.score > 0.9 and history.state.iteration % 2 == 0 and history.state.iteration < 60


def test_multi_input_model():
    x, y = blobs(30)
    random.manual_seed(0)
    model = Sequential(Concat(dim=1), Linear(4, 3))
    trainer = LocalTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.2))
    history = trainer.fit([x[:, :1], x[:, 1:]], y, batch_size=8, epochs=15, seed=0, progress=False)
    assert history.train[-1]["loss"] < history.train[0]["loss"]
    np.testing.assert_allclose(trainer.predict([x[:, :1], x[:, 1:]], batch_size=7), x @ model[1].weight.data.T
                               + model[1].bias.data, rtol=1e-5, atol=1e-6)


def test_evaluate_and_predict_batching_equal_one_shot_in_eval_mode():
    x, y = blobs(23)
    trainer = make_trainer(dropout=0.5)
    one_shot = trainer.predict(x, batch_size=23)
    assert trainer.model.training                      # training mode restored
    np.testing.assert_allclose(trainer.predict(x, batch_size=5), one_shot, rtol=1e-6, atol=1e-7)
    trainer.model.evaluate()
    np.testing.assert_allclose(trainer.model.forward(x), one_shot, rtol=1e-6, atol=1e-7)  # dropout off
    whole = trainer.evaluate(x, y, metrics=("top1", "top2", "loss"), batch_size=23)
    batched = trainer.evaluate(x, y, metrics=("top1", "top2", "loss"), batch_size=4)
    assert not trainer.model.training                  # evaluation mode restored too
    assert batched == pytest.approx(whole)
    assert whole["top1"] == np.mean(one_shot.argmax(1) == y)
    assert whole["loss"] == pytest.approx(CrossEntropyLoss().forward(one_shot, y), rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 1, "batch_size": 0}, "batch_size"),
    ({}, "epochs, iterations or end_trigger"),
    ({"epochs": 1, "y": np.zeros(5, np.int64)}, "20 input samples"),
    ({"epochs": 1, "x": [np.zeros((20, 2)), np.zeros((19, 2))]}, "different numbers of samples"),
])
def test_bad_arguments(kwargs, match):
    x, y = blobs(20)
    args = {"x": x, "y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_trainer().fit(args.pop("x"), args.pop("y"), progress=False, **args)


def test_predict_and_evaluate_reject_bad_data():
    trainer = make_trainer()
    with pytest.raises(ValueError, match="no samples"):
        trainer.predict(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="3 input samples"):
        trainer.evaluate(np.zeros((3, 4), np.float32), np.zeros(2, np.int64))
