"""Growing numpy buffers for live plots (Qt-free).

Appending one point is amortised O(1) (capacity doubles); `x`/`y` are views with no copy,
so a redraw at 10 Hz of 100k points costs one pass inside pyqtgraph's downsampler.
"""
from __future__ import annotations

import math

import numpy as np


class Series:
    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, x: float, y: float) -> None:
        if self._n == len(self._x):
            self._grow(2 * len(self._x))
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def extend(self, xs, ys) -> None:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        need = self._n + len(xs)
        if need > len(self._x):
            self._grow(max(need, 2 * len(self._x)))
        self._x[self._n:need] = xs
        self._y[self._n:need] = ys
        self._n = need

    def _grow(self, capacity: int) -> None:
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=np.float64)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    @property
    def x(self) -> np.ndarray:
        return self._x[: self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._n]

    def last(self) -> float | None:
        return float(self._y[self._n - 1]) if self._n else None

    def clear(self) -> None:
        self._n = 0


class SmoothedSeries(Series):
    """Exponential moving average with bias correction (as TensorBoard's smoothing)."""

    def __init__(self, weight: float = 0.9, capacity: int = 1024):
        super().__init__(capacity)
        self.weight = weight
        self._ema = 0.0
        self._count = 0

    def append(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        self._count += 1
        self._ema = self.weight * self._ema + (1 - self.weight) * y
        super().append(x, self._ema / (1 - self.weight ** self._count))

    def clear(self) -> None:
        super().clear()
        self._ema = 0.0
        self._count = 0
