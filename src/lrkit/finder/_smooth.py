"""The one exponential moving average of lrkit's tools (the finder's curve, the training plots' loss).

``a_k = beta a_{k-1} + (1-beta) x_k`` and the bias-corrected value ``a_k / (1 - beta^k)`` (as Adam corrects its
moments; Kingma & Ba, 2015), with ``k`` the number of values averaged so far: :class:`Ema` one value at a time
(the range test's early stop), :func:`smooth` over an array (NaN/inf skipped).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrkit.core import _validate as v


class Ema:
    """A bias-corrected exponential moving average, one value at a time.

    ``add(x)`` folds ``x`` in (``a_k = beta a_{k-1} + (1-beta) x``) and returns ``a_k / (1 - beta^k)``;
    ``count`` is ``k``. The first value comes back unchanged.

    >>> e = Ema(0.5)
    >>> e.add(2.0), e.add(1.0)
    (2.0, 1.3333333333333333)
    """

    __slots__ = ("avg", "beta", "count")

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.avg = 0.0
        self.count = 0

    def add(self, x: float) -> float:
        """Fold ``x`` in; the bias-corrected average so far."""
        self.count += 1
        self.avg = self.beta * self.avg + (1.0 - self.beta) * x
        return self.avg / (1.0 - self.beta**self.count)


def auto_beta(lrs: Sequence[float] | np.ndarray, span: float = 0.8) -> float:
    """The smoothing ``beta`` whose average spans ``span`` decades of the LR axis of ``lrs``.

    ``beta = 1 - 1 / max(2, span * points_per_decade)`` with ``points_per_decade`` from the median
    spacing of ``log10(lrs)``.

    >>> round(auto_beta(np.logspace(-7, 1, 100)), 4)
    0.899
    """
    span = v.positive("auto_beta", "span", span)
    x = np.log10(np.asarray(lrs, dtype=np.float64).reshape(-1))
    x = x[np.isfinite(x)]
    steps = np.diff(x)
    steps = steps[steps > 0]
    if steps.size == 0:
        return 0.5
    per_decade = 1.0 / float(np.median(steps))
    return 1.0 - 1.0 / max(2.0, span * per_decade)


def check_beta(who: str, beta: float) -> float:
    """A smoothing ``beta`` in ``[0, 1)``: 0 is no smoothing; 1 or more would never move, below 0 would oscillate."""
    beta = v.number(who, "beta", beta)
    if not 0 <= beta < 1:
        raise ValueError(f"{who}: beta must be in [0, 1), got {beta!r}; 0.98 is the usual value, 0 disables")
    return beta


def smooth(losses: Sequence[float] | np.ndarray, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average; NaN/inf inputs are skipped (NaN out).

    ``a_k = beta a_{k-1} + (1-beta) x_k``, ``out_k = a_k / (1 - beta^k)`` with ``k`` the number of
    finite values so far, so the first output equals the first loss. ``beta = 0`` is no smoothing.

    >>> smooth([2.0, float('nan'), 2.0, 1.0], beta=0.5).round(4)
    array([2.    ,    nan, 2.    , 1.4286])
    """
    beta = check_beta("smooth", beta)
    x = np.asarray(losses, dtype=np.float64).reshape(-1)
    out = np.full(x.shape, np.nan)
    average = Ema(beta)
    for i, value in enumerate(x):
        if math.isfinite(value):
            out[i] = average.add(value)
    return out
