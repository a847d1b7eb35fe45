"""The three suggestion methods, each a pure function of ``(lrs, losses)`` on the usable part of the curve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.finder._curve import _slopes, _usable

METHODS = ("steepest", "valley", "minimum")
"""Names of the individual suggestion methods, in the order reported."""


def steepest(lrs: Any, losses: Any, half_width: float = 0.2) -> float | None:
    """The LR of the most negative slope ``d loss / d log10(lr)`` before the curve's minimum.

    The slope at each point is taken over the window ``log10(lr) +- half_width`` decades (at least
    one neighbour each side), so point-to-point jitter of the curve is not mistaken for a drop.
    Only the usable part of the curve counts: finite points, less the first 10% (the smoothing
    has not settled there), up to the first rebound (:func:`usable_region`); candidates lie before
    its minimum. ``None`` when fewer than 3 points remain or the curve never falls.

    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1.0 - np.tanh(np.log10(lrs) + 2.0)   # steepest at 1e-2
    >>> round(steepest(lrs, losses), 6)
    0.01
    """
    half_width = v.positive("steepest", "half_width", half_width)
    lr, loss = _usable(lrs, losses, "steepest")
    stop = int(np.argmin(loss)) + 1 if loss.size else 0
    if stop < 3:
        return None
    slope = _slopes(lr, loss, half_width)[:stop]
    i = int(np.argmin(slope))
    return float(lr[i]) if slope[i] < 0 else None


def valley(lrs: Any, losses: Any) -> float | None:
    """fastai's valley: the LR half-way along the curve's longest decreasing run (usable part).

    The longest decreasing subsequence ``lds`` is found (O(n^2)); with ``e`` the first index
    where it is longest and ``s = e - lds[e]``, the answer is the LR at ``s + (e-s)/2``.

    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1.0 - np.tanh(np.log10(lrs) + 2.0)
    >>> 1e-4 < valley(lrs, losses) < 1.0
    True
    """
    lr, loss = _usable(lrs, losses, "valley")
    n = loss.size
    if n < 3:
        return None
    lds = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        higher = loss[:i] > loss[i]
        if higher.any():
            lds[i] = 1 + int(lds[:i][higher].max())
    end = int(np.argmax(lds))
    if lds[end] < 2:
        return None
    start = max(end - int(lds[end]), 0)
    sections = (end - start) / 3
    idx = start + int(sections) + int(sections / 2)
    return float(lr[idx])


def minimum(lrs: Any, losses: Any) -> float | None:
    """The LR of the curve's minimum (usable part) divided by 10.

    >>> minimum([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.0, 0.5, 3.0])
    0.01
    """
    lr, loss = _usable(lrs, losses, "minimum")
    if loss.size == 0:
        return None
    return float(lr[int(np.argmin(loss))] / 10.0)


_METHOD_FUNCS: dict[str, Callable[[Any, Any], float | None]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
}
