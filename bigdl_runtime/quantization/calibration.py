"""Activation ranges from calibration data: min-max, percentile and entropy (KL divergence) calibration, and
the uint8 scale and zero point of a range.

An :class:`Observer` sees every batch a layer receives during calibration. It keeps the running min and max
and a histogram of the values over a range that widens as batches arrive (bins are merged two into one when
a batch falls outside it), so the percentile and entropy methods need one pass over the data, as
onnxruntime's and PyTorch's histogram calibrators.
"""
from __future__ import annotations

import numpy as np

#: calibration methods :func:`bigdl_runtime.quantize` accepts
METHODS = ("minmax", "percentile", "entropy")
BINS = 2048


class Observer:
    """Running min, max and histogram of the values one layer input takes."""

    def __init__(self) -> None:
        self.low, self.high = np.inf, -np.inf
        self.edge = 0.0  # the histogram covers [-edge, edge]
        self.hist = np.zeros(BINS, np.int64)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if x.size == 0:
            return
        self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        top = max(abs(self.low), abs(self.high))
        if self.edge == 0.0:
            self.edge = top or 1e-8
        while top > self.edge:  # widen: merge bin pairs towards the centre, doubling the range
            pairs = self.hist.reshape(-1, 2).sum(axis=1)
            self.hist = np.zeros(BINS, np.int64)
            self.hist[BINS // 4: 3 * BINS // 4] = pairs
            self.edge *= 2.0
        counts, _ = np.histogram(x, bins=BINS, range=(-self.edge, self.edge))
        self.hist += counts

    def range(self, method: str, percentile: float = 99.99) -> tuple[float, float]:
        """The (low, high) range to quantise to, by ``method`` (see :data:`METHODS`); always contains 0."""
        if self.low > self.high:
            raise ValueError("the observer saw no data")
        if method == "minmax":
            low, high = self.low, self.high
        elif method == "percentile":
            low, high = self._percentiles(percentile)
        elif method == "entropy":
            low, high = self._entropy()
        else:
            raise ValueError(f"unknown calibration method {method!r}; use one of {METHODS}")
        return min(low, 0.0), max(high, 0.0)

    def _centres(self) -> np.ndarray:
        width = 2 * self.edge / BINS
        return -self.edge + width * (np.arange(BINS) + 0.5)

    def _percentiles(self, percentile: float) -> tuple[float, float]:
        cdf = np.cumsum(self.hist) / max(self.hist.sum(), 1)
        centres = self._centres()
        tail = (100.0 - percentile) / 100.0
        low = centres[min(np.searchsorted(cdf, tail), BINS - 1)] if self.low < 0 else 0.0
        high = centres[min(np.searchsorted(cdf, 1.0 - tail), BINS - 1)]
        return max(low, self.low), min(high, self.high)

    def _entropy(self) -> tuple[float, float]:
        """The clipping threshold minimising the KL divergence between the histogram of |x| (without its
        first bin) and its quantised version (TensorRT's calibration), for 255 levels of non-negative data,
        128 of signed."""
        half = self.hist[BINS // 2:] + self.hist[: BINS // 2][::-1]  # |x|, bins of width edge / (BINS / 2)
        half[0] = 0  # the values at (or next to) zero, exact at any threshold: after a ReLU their spike outweighed
        #             the whole distribution and drove the threshold down (EfficientNet-Lite0: every class wrong)
        levels = 255 if self.low >= 0 else 128
        width = self.edge / half.size
        last = max(int(np.nonzero(half)[0][-1]) + 1, levels) if half.any() else levels
        best, best_kl = last, np.inf
        for stop in range(levels, last + 1, max(1, (last - levels) // 256)):
            kl = _kl_divergence(half[:stop], levels, half[stop:].sum())
            if kl < best_kl:
                best, best_kl = stop, kl
        threshold = min(best * width, max(abs(self.low), self.high))
        return max(-threshold, self.low), min(threshold, self.high)


def _kl_divergence(hist: np.ndarray, levels: int, outliers: int) -> float:
    """KL(P || Q) of P, the distribution ``hist`` with the outliers clipped into its last bin, and Q, ``hist``
    (without them) quantised to ``levels`` levels, each level's mass spread evenly over its non-empty bins."""
    p = hist.astype(np.float64)
    p[-1] += outliers
    group = np.arange(p.size) * levels // p.size  # the level of every bin
    nonzero = hist > 0
    mass = np.bincount(group, weights=hist.astype(np.float64), minlength=levels)
    filled = np.bincount(group, weights=nonzero, minlength=levels)
    q = np.where(nonzero, mass[group] / np.maximum(filled[group], 1), 0.0)
    mask = p > 0
    if not mask.any():
        return 0.0
    p, q = p[mask] / p.sum(), q[mask] / q.sum()
    q = np.maximum(q, 1e-12)
    return float(np.sum(p * np.log(p / q)))


def uint8_params(low: float, high: float) -> tuple[float, int]:
    """(scale, zero point) mapping [low, high] (which contains 0) onto 0..255, zero exactly representable."""
    span = max(high - low, 1e-8)
    scale = span / 255.0
    zero_point = int(np.clip(np.rint(-low / scale), 0, 255))
    return float(scale), zero_point


def int8_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (axis 0) symmetric int8 weights: ``(q, scale)`` with ``weight ~ q * scale``,
    q in [-127, 127] (the symmetric range: no -128, so that ``-q`` is representable)."""
    w = np.asarray(weight, dtype=np.float32)
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    view = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.rint(w / scale.reshape(view)), -127, 127).astype(np.int8)
    return q, scale
