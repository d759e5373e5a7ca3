"""Progress output: log lines off a tty, a redrawn bar with ETA on a tty, silence when disabled."""
from __future__ import annotations

import io

from bigdl_runtime.train import Progress, TrainState


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(progress: Progress, iterations: int, per_epoch: int) -> None:
    state = TrainState()
    for it in range(1, iterations + 1):
        state.iteration = it
        state.epoch = (it - 1) // per_epoch + 1
        state.epoch_finished = it % per_epoch == 0
        state.loss = 1.0 / it
        progress.update(state, samples=32, seconds=0.01)
    progress.message("validation: top1 0.5000")
    progress.close()


def test_log_lines_every_n_iterations_and_at_epoch_end():
    out = io.StringIO()
    run(Progress(total_iterations=14, iterations_per_epoch=7, stream=out, log_every=3), 14, 7)
    lines = out.getvalue().splitlines()
    iterations = [int(line.split()[3].split("/")[0]) for line in lines[:-1]]
    assert iterations == [3, 6, 7, 9, 12, 14]
    assert lines[0].startswith("epoch 1  iteration 3/14  loss 0.3333  3200.0 samples/s  ETA 00:00")
    assert lines[-1] == "validation: top1 0.5000"
    assert "\r" not in out.getvalue()


def test_tty_bar_is_redrawn_in_place_and_ends_with_newline():
    out = Terminal()
    run(Progress(total_iterations=None, iterations_per_epoch=4, stream=out), 8, 4)
    text = out.getvalue()
    assert text.count("\r\033[K") >= 2          # first iteration and each epoch end are drawn
    assert "[" + "#" * 24 + "]" in text         # a full bar at the end of an epoch
    assert "ETA" not in text                    # unknown total: no ETA
    assert text.endswith("validation: top1 0.5000\n")


def test_disabled_writes_nothing():
    out = Terminal()
    run(Progress(total_iterations=8, iterations_per_epoch=4, stream=out, enabled=False), 8, 4)
    assert out.getvalue() == ""
