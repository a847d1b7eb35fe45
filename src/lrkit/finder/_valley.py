"""The centre of the loss valley: the quantity ``auto``'s peak rule scales."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.finder._curve import _finite_curve, _running_median, _skip, curve_array, usable_region
from lrkit.finder._smooth import auto_beta, smooth


def valley_centre(
    lrs: Any, losses: Any, *, beta: float | None = None, fall: float = 0.8, rise: float = 0.1
) -> tuple[float | None, str]:
    """The centre of the loss valley: the geometric mean of the LR where the loss has done ``fall`` of
    its fall and the LR where it has climbed back ``rise`` of it. ``(value, reason)``.

    The curve here is the *centred* running median of the raw losses over one smoothing span
    (``round(1/(1-beta))`` points, made odd; ``beta`` by default :func:`auto_beta`: 0.8 decade of LR;
    ``beta=0``: the losses as given), not the moving average the suggestions use: the average lags the
    LR by about one span and a single loss spike lifts it for a span, and either moves a level
    crossing; a centred median does neither. With ``s`` that curve, the first 10% of points dropped,
    ``s_0`` its start and ``m = s_i`` its minimum before the first rebound (:func:`usable_region` of the
    moving average, the usable part every suggestion uses):

        lr_fall = the first lr (before the minimum) with  s_0 - s >= fall (s_0 - m)
        lr_rise = the first lr (after the minimum)  with  s - m  >  rise (s_0 - m)
        value   = sqrt(lr_fall * lr_rise)

    Both crossings lie on steep walls of the curve, where a level crossing is precise, unlike the
    argmin on its flat bottom or the steepest point of a straight fall; the rising wall is where
    training becomes unstable. ``value`` is ``None`` when the curve never climbs back by ``rise``
    (``reason`` says to end the sweep higher), or has fewer than 3 usable points. bench/auto.py
    measures it against the one-cycle grid of each built-in task, leave-one-task-out.

    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> value, reason = valley_centre(lrs, losses, beta=0)
    >>> reason, round(float(np.log10(value)), 1)
    ('', -1.9)
    """
    fall = v.number("valley_centre", "fall", fall)
    rise = v.number("valley_centre", "rise", rise)
    if not (0 < fall <= 1 and rise > 0):
        raise ValueError(f"valley_centre: need 0 < fall <= 1 and rise > 0, got fall={fall!r}, rise={rise!r}")
    raw_lr = curve_array("valley_centre", "lrs", lrs)
    if beta is None:
        beta = auto_beta(raw_lr) if raw_lr.size > 1 else 0.0
    lr, loss = _finite_curve(raw_lr, losses, "valley_centre")
    average = loss
    if beta > 0 and loss.size:
        average = smooth(loss, beta)
        loss = _running_median(loss, round(1.0 / (1.0 - beta)) | 1)
    first = _skip(lr.size)
    lr, loss = lr[first:], loss[first:]
    end = usable_region(average[first:])  # the suggestions' usable part (a median wanders more on a flat start)
    if end < 3:
        return None, "fewer than 3 usable points on the loss curve"
    low = int(np.argmin(loss[:end]))
    top, bottom = float(loss[0]), float(loss[low])
    depth = top - bottom
    if not depth > 0:
        return None, "the loss never fell below its start"
    index = np.arange(loss.size)
    falls = np.flatnonzero((index <= low) & (top - loss >= fall * depth))
    rises = np.flatnonzero((index > low) & (loss - bottom > rise * depth))
    if rises.size == 0:
        return None, (
            f"the loss never climbed back {rise:.0%} of its fall after its minimum at lr={lr[low]:.3g} (the sweep "
            f"ended at lr={lr[-1]:.3g}): end the sweep higher, so the finder sees where training becomes unstable"
        )
    return float(math.sqrt(lr[falls[0]] * lr[rises[0]])), ""
