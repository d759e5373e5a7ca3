"""Progress reporting on stderr: a redrawn bar on a terminal, plain log lines otherwise.

On a tty the bar shows epoch, iteration, loss, throughput and ETA and is
redrawn at most ten times a second; elsewhere (CI logs, files) one line is
written every ``log_every`` iterations and at the end of every epoch.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from .triggers import TrainState


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Reports training progress.

    Args:
        total_iterations: iterations of the whole run if known (enables the
            ETA and the bar), else None.
        iterations_per_epoch: iterations in one epoch.
        stream: where to write (default ``sys.stderr``).
        log_every: iterations between log lines when ``stream`` is not a tty.
        enabled: False writes nothing.
    """

    BAR_WIDTH = 24

    def __init__(self, total_iterations: int | None, iterations_per_epoch: int, stream: TextIO | None = None,
                 log_every: int = 50, enabled: bool = True) -> None:
        self.total = total_iterations
        self.per_epoch = iterations_per_epoch
        self.stream = stream if stream is not None else sys.stderr
        self.log_every = max(1, log_every)
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._start_iteration: int | None = None
        self._busy = 0.0           # seconds spent in iterations this run (for the ETA)
        self._window = [0, 0.0]    # samples, seconds since the last report (throughput)
        self._last_draw = 0.0
        self._bar_open = False

    def update(self, state: TrainState, samples: int, seconds: float) -> None:
        """Record one finished iteration of ``samples`` samples that took ``seconds``."""
        if not self.enabled:
            return
        if self._start_iteration is None:
            self._start_iteration = state.iteration - 1
        self._busy += seconds
        self._window[0] += samples
        self._window[1] += seconds
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.1 and not state.epoch_finished:
                return
        elif state.iteration % self.log_every and not state.epoch_finished:
            return
        self._last_draw = now
        line = self._line(state)
        self._window = [0, 0.0]
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self._bar_open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _line(self, state: TrainState) -> str:
        throughput = self._window[0] / self._window[1] if self._window[1] > 0 else 0.0
        in_epoch = (state.iteration - 1) % self.per_epoch + 1 if self.per_epoch else state.iteration
        parts = [f"epoch {state.epoch}", f"iteration {state.iteration}"
                 + (f"/{self.total}" if self.total else ""),
                 f"loss {state.loss:.4f}", f"{throughput:.1f} samples/s"]
        if self.tty:
            done = state.iteration / self.total if self.total else in_epoch / max(1, self.per_epoch)
            filled = int(self.BAR_WIDTH * min(1.0, done))
            parts.insert(1, "[" + "#" * filled + "." * (self.BAR_WIDTH - filled) + "]")
        if self.total:
            run_iterations = state.iteration - (self._start_iteration or 0)
            eta = self._busy / max(1, run_iterations) * max(0, self.total - state.iteration)
            parts.append(f"ETA {_clock(eta)}")
        return "  ".join(parts)

    def message(self, text: str) -> None:
        """Write a line of its own (e.g. validation results) without breaking the bar."""
        if not self.enabled:
            return
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_open = False
