"""Reading a range-test curve: its finite points, the part before it rebounds, slopes and robust levels.

The helpers every suggestion shares: points with a finite loss and LR > 0, the first 10% dropped while the
average settles, the usable part up to the first rebound (:func:`usable_region`), slopes against
``log10(lr)``, a running median and the MAD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit.core.errors import brief


def curve_array(who: str, name: str, values: Any) -> np.ndarray:
    """``values`` (a list, an array, a tensor on the CPU; ``None`` reads as NaN) as a flat float64 array. Text,
    flags and ragged lists are refused, naming ``who`` and ``name``: numpy's own message names neither, and
    would read the text ``'1e-3'`` as a number."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "bUS":
            raise TypeError
        return np.asarray(raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who}: {name} must be numbers (a list or a 1-D array of floats), got {brief(values)}"
        ) from None


def _finite_curve(lrs: Any, losses: Any, who: str = "finder") -> tuple[np.ndarray, np.ndarray]:
    lr = curve_array(who, "lrs", lrs)
    loss = curve_array(who, "losses", losses)
    if lr.shape != loss.shape:
        raise ValueError(
            f"lrs and losses must have the same length, got {lr.size} and {loss.size}; pass one loss per learning rate"
        )
    keep = np.isfinite(lr) & np.isfinite(loss) & (lr > 0)
    lr, loss = lr[keep], loss[keep]
    if lr.size > 1 and not np.all(np.diff(lr) > 0):
        raise ValueError("lrs must be strictly increasing (a range test sweeps upwards); sort the points by LR")
    return lr, loss


def usable_region(losses: Sequence[float] | np.ndarray, min_fall: float = 0.2) -> int:
    """The number of leading points of a (finite) curve that are usable: up to the first rebound.

    A rebound is the first point ``j`` with ``loss_j - m_j > (loss_0 - m_j) / 2``, ``m_j`` the running
    minimum, once the curve has fallen by more than ``min_fall`` of ``|loss_0|`` (so noise on a flat
    start is not a rebound): the loss has climbed back more than half-way to where it started.
    Everything after it (including any later fall) is ignored by the suggestions.

    >>> usable_region([3.0, 2.0, 1.0, 1.5, 2.5, 0.5])
    4
    """
    x = np.asarray(losses, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return 0
    running = np.minimum.accumulate(x)
    fallen = (x[0] - running) > min_fall * abs(x[0])
    rebound = fallen & ((x - running) > 0.5 * (x[0] - running))
    hits = np.flatnonzero(rebound)
    return int(hits[0]) if hits.size else int(x.size)


def _skip(n: int) -> int:
    return n // 10


def _usable(lrs: Any, losses: Any, who: str = "finder") -> tuple[np.ndarray, np.ndarray]:
    """Finite points, less the first 10% (the average has not settled), up to the first rebound."""
    lr, loss = _finite_curve(lrs, losses, who)
    first = _skip(lr.size)
    lr, loss = lr[first:], loss[first:]
    end = usable_region(loss)
    return lr[:end], loss[:end]


def _slopes(lr: np.ndarray, loss: np.ndarray, half_width: float) -> np.ndarray:
    """``d loss / d log10(lr)`` at each point, over the window ``log10(lr) +- half_width``."""
    x = np.log10(lr)
    lo = np.searchsorted(x, x - half_width, side="left")
    hi = np.searchsorted(x, x + half_width, side="right") - 1
    lo = np.minimum(lo, np.arange(x.size) - 1).clip(0)
    hi = np.maximum(hi, np.arange(x.size) + 1).clip(max=x.size - 1)
    return (loss[hi] - loss[lo]) / (x[hi] - x[lo])


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    """The median of each point's window of ``width`` points (odd; edges padded with the end values)."""
    half = max(1, width // 2)
    padded = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)


def _mad(d: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(d - np.median(d))))
