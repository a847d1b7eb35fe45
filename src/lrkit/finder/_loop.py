"""The range test's loop over a training-step callable ``step(lr) -> loss``: one point per real update."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.errors import brief
from lrkit.finder._curve import _skip
from lrkit.finder._result import FinderResult
from lrkit.finder._smooth import Ema, auto_beta
from lrkit.finder._sweep import sweep


def _as_loss(value: Any) -> float | None:
    if value is None:
        return None
    given = value
    if hasattr(value, "item"):
        try:
            value = value.item()
        except (ValueError, RuntimeError):  # numpy's and torch's: more than one element
            value = given
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"range_test: the step must return a number (the loss) or None, got {brief(given, 80)}")
    return float(value)


def range_test(
    step: Callable[[float], Any],
    *,
    start: float = 1e-7,
    end: float = 10.0,
    iterations: int = 100,
    mode: str = "exp",
    beta: float | None = None,
    diverge: float | None = 4.0,
    rebound: bool = False,
    max_skips: int = 100,
    progress: bool = False,
    **suggest_options: Any,
) -> FinderResult:
    """Run a range test on a training-step callable: ``step(lr) -> loss``.

    ``step`` does one real optimizer update at learning rate ``lr`` and returns its loss; it returns
    ``None`` when no update happened (an AMP step skipped for inf gradients), and is then called
    again at the same LR, so there is exactly one point per real update. The sweep stops early
    after ``diverge`` x the best smoothed loss (``None`` disables), after a NaN/inf loss, after the
    curve's first rebound when ``rebound`` is true (see the module docstring), or after ``max_skips``
    consecutive skipped updates. ``beta`` defaults to :func:`auto_beta` of the sweep.
    Restoring state is the caller's job (the torch front end does it).

    >>> w = [5.0]
    >>> def step(lr):                         # gradient descent on (w-1)^2
    ...     loss = (w[0] - 1.0) ** 2
    ...     w[0] -= lr * 2.0 * (w[0] - 1.0)
    ...     return loss
    >>> r = range_test(step, start=1e-4, end=10.0, iterations=60)
    >>> r.stopped.startswith('diverged'), len(r.lrs) < 60
    (True, True)
    """
    who = "range_test"
    schedule = sweep(iterations, start, end, mode)
    if diverge is not None:
        diverge = v.number(who, "diverge", diverge)
        if not diverge > 1:
            raise ValueError(f"{who}: diverge must be > 1 (or None), got {diverge!r}; 4 stops at 4x the best loss")
    max_skips = v.integer(who, "max_skips", max_skips, minimum=0)
    if beta is None:
        beta = auto_beta(schedule(np.arange(iterations)))
    beta = v.number(who, "beta", beta)
    if not 0 <= beta < 1:
        raise ValueError(f"{who}: beta must be in [0, 1), got {beta!r}; 0.98 is fastai's, 0 disables")
    settings = {"start": start, "end": end, "iterations": iterations, "mode": mode, "beta": beta, "diverge": diverge}
    if rebound:
        settings["rebound"] = True
    lrs: list[float] = []
    losses: list[float] = []
    average, best, top = Ema(beta), math.inf, math.nan
    settle = max(_skip(iterations), 1)  # the first 10% of points only settle the average
    stopped = "completed"
    from lrkit.plot.terminal import Progress  # deferred: lrkit.plot (the layer above) reads the finder's curves

    bar = Progress(iterations, enabled=progress, desc="LR range test")
    try:
        for i in range(iterations):
            lr = float(schedule(i))
            skips = 0
            loss = _as_loss(step(lr))
            while loss is None:
                skips += 1
                if skips > max_skips:
                    break
                loss = _as_loss(step(lr))
            if loss is None:
                stopped = f"stopped: {max_skips} consecutive skipped updates at lr={lr:.3g}"
                break
            lrs.append(lr)
            losses.append(loss)
            bar.update(1)
            if not math.isfinite(loss):
                stopped = f"diverged: non-finite loss {loss} at lr={lr:.3g}"
                break
            current = average.add(loss)
            k = average.count
            if k == settle + 1:
                top = current  # the start of the usable part of the curve
            if k > settle:
                best = min(best, current)
            if diverge is not None and current > diverge * best:
                stopped = f"diverged: smoothed loss {current:.4g} > {diverge:g} x best {best:.4g} at lr={lr:.3g}"
                break
            if rebound and k > settle and top - best > 0.2 * abs(top) and current - best > 0.5 * (top - best):
                stopped = (
                    f"rebounded: smoothed loss {current:.4g} climbed back more than half-way from its best "
                    f"{best:.4g} to {top:.4g} at lr={lr:.3g}"
                )
                break
    finally:
        bar.close()
    return FinderResult.from_curve(lrs, losses, beta=beta, stopped=stopped, settings=settings, **suggest_options)
