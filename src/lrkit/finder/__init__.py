"""The learning-rate range test (Smith, 2017 "Cyclical Learning Rates"; the fastai "LR finder").

Framework-free: the sweep is an lrkit schedule, the test drives any training-step callable,
and every suggestion is a pure function of ``(lrs, losses)``. The PyTorch front end (a
transactional test on a model and optimizer, and ``auto``) is :mod:`lrkit.torch.finder`.

The sweep. Update ``i`` (``0 <= i < N``) trains at ``lr_i = sweep(N, start, end)(i)``:
geometric ``lr_i = start * (end/start)^(i/(N-1))`` (``mode='exp'``) or linear
``lr_i = start + (end-start) * i/(N-1)``; exactly ``start`` at the first update and ``end``
at the last.

Smoothing. A bias-corrected exponential moving average of the raw losses (as Adam corrects
its moments): ``a_k = beta a_{k-1} + (1-beta) x_k``, ``smoothed_k = a_k / (1 - beta^k)``,
where ``k`` counts the finite losses seen so far; a NaN or inf loss is skipped (its smoothed
value is NaN) and never enters the average. By default ``beta`` is set so the average spans
0.8 decade of learning rate (:func:`auto_beta`: 0.9 for 100 points from 1e-7 to 10, 0.967 for
300), so the curve, and the suggestion read from it, lag the LR by the same amount whatever the
number of iterations (a fixed ``beta = 0.98`` lags 2 to 4 decades behind at 100 iterations).

Divergence. The test stops after the first update whose smoothed loss exceeds ``diverge``
times the best smoothed loss so far (losses are assumed positive, as for cross-entropy), or
whose raw loss is NaN or inf. The best is tracked from the end of the first 10% of updates on,
so one lucky early mini-batch cannot set it.
With ``rebound=True`` (``auto``'s default) it also stops after the first update where the curve
*rebounds* in the sense of :func:`usable_region`: the smoothed loss, having fallen by more than 20%
from its value at the end of the first 10% of updates, climbs back more than half-way from its best
to that value. No suggestion looks past a rebound, so the updates after it are only cost.

Suggestions (each on the smoothed curve, NaN/inf points dropped, the first 10% of points
dropped, and only on the part of the curve before it *rebounds*: the first point that climbs
back more than half-way from the running minimum to the starting loss; see
:func:`usable_region`):

* ``steepest``: the LR of the most negative slope ``d loss / d log10(lr)`` (measured over
  +-0.2 decade, so jitter is not a drop), searched up to the minimum of the usable region, so
  the fall after a spike can never be taken for the steepest drop;
* ``valley``: fastai's rule: the longest decreasing run (longest decreasing subsequence) of
  the curve, and the LR half-way along it;
* ``minimum``: the LR of the smoothed minimum divided by 10.

The default (:func:`suggest`) is ``steepest`` when ``minimum`` confirms it (the two within
``max_spread`` = 1 decade), else the median of the three (one wild method cannot move it). It
declines, with the reason, when the curve gives no evidence: too few points, a loss that never
fell meaningfully, a minimum at the start of the sweep, or no two methods agreeing within
``max_spread`` decades. Why steepest and not valley: on the built-in tasks (5 seeds, 100 and 300
iterations; bench/finder.py) steepest was within half a decade of the one-cycle grid best on
every run, minimum/10 missed 6 of 20 and valley 18 of 20 (always about a decade low).

>>> import numpy as np
>>> lrs = sweep(100, 1e-5, 10.0)(np.arange(100))
>>> x = np.log10(lrs)
>>> losses = 1.0 + np.tanh(-2.0 * (x + 2.5)) + np.where(x > -0.5, 10 * (x + 0.5) ** 2, 0.0)
>>> s = suggest(lrs, losses)
>>> s.reason
''
>>> 1e-3 < s.value < 3e-2
True
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.families import Anneal
from lrkit.core.schedule import Schedule

__all__ = [
    "auto_beta",
    "descent_evidence",
    "FinderResult",
    "Suggestion",
    "METHODS",
    "minimum",
    "range_test",
    "smooth",
    "steepest",
    "suggest",
    "sweep",
    "usable_region",
    "valley",
    "valley_centre",
]

#: Names of the individual suggestion methods, in the order reported.
METHODS = ("steepest", "valley", "minimum")


# -- the sweep ---------------------------------------------------------------------------------
def sweep(iterations: int, start: float = 1e-7, end: float = 10.0, mode: str = "exp") -> Schedule:
    """The range test's learning rates as an lrkit schedule of the update index (absolute LRs).

    ``sweep(N, start, end)(i)`` is the LR of update ``i``; ``start`` at ``i = 0``, ``end`` at
    ``i = N - 1``. ``mode`` is ``'exp'`` (geometric) or ``'linear'``.

    >>> s = sweep(5, 1e-4, 1.0)
    >>> s([0, 1, 2, 3, 4]).round(10).tolist()
    [0.0001, 0.001, 0.01, 0.1, 1.0]
    >>> sweep(3, 0.1, 0.3, mode='linear')(1)
    0.2
    """
    who = "sweep"
    iterations = v.integer(who, "iterations", iterations, minimum=2)
    start = v.positive(who, "start", start, "the sweep starts at a small positive LR such as 1e-7")
    end = v.number(who, "end", end)
    if not end > start:
        raise ValueError(f"{who}: end must be > start, got start={start!r}, end={end!r}; a range test sweeps upwards")
    mode = v.choice(who, "mode", mode, ("exp", "linear"))
    return Anneal(iterations - 1, start, end, shape=mode)


# -- smoothing ---------------------------------------------------------------------------------
def auto_beta(lrs: Sequence[float] | np.ndarray, span: float = 0.8) -> float:
    """The smoothing ``beta`` whose average spans ``span`` decades of the LR axis of ``lrs``.

    ``beta = 1 - 1 / max(2, span * points_per_decade)`` with ``points_per_decade`` from the median
    spacing of ``log10(lrs)``.

    >>> round(auto_beta(sweep(100, 1e-7, 10.0)(np.arange(100))), 4)
    0.899
    """
    x = np.log10(np.asarray(lrs, dtype=np.float64).reshape(-1))
    x = x[np.isfinite(x)]
    steps = np.diff(x)
    steps = steps[steps > 0]
    if steps.size == 0:
        return 0.5
    per_decade = 1.0 / float(np.median(steps))
    return 1.0 - 1.0 / max(2.0, span * per_decade)


def smooth(losses: Sequence[float] | np.ndarray, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average; NaN/inf inputs are skipped (NaN out).

    ``a_k = beta a_{k-1} + (1-beta) x_k``, ``out_k = a_k / (1 - beta^k)`` with ``k`` the number of
    finite values so far, so the first output equals the first loss. ``beta = 0`` is no smoothing.

    >>> smooth([2.0, float('nan'), 2.0, 1.0], beta=0.5).round(4)
    array([2.    ,    nan, 2.    , 1.4286])
    """
    beta = v.number("smooth", "beta", beta)
    if not 0 <= beta < 1:
        raise ValueError(f"smooth: beta must be in [0, 1), got {beta!r}; 0.98 is the usual value, 0 disables")
    x = np.asarray(losses, dtype=np.float64).reshape(-1)
    out = np.full(x.shape, np.nan)
    avg, k = 0.0, 0
    for i, value in enumerate(x):
        if not math.isfinite(value):
            continue
        k += 1
        avg = beta * avg + (1.0 - beta) * value
        out[i] = avg / (1.0 - beta**k)
    return out


def _finite_curve(lrs: Any, losses: Any) -> tuple[np.ndarray, np.ndarray]:
    lr = np.asarray(lrs, dtype=np.float64).reshape(-1)
    loss = np.asarray(losses, dtype=np.float64).reshape(-1)
    if lr.shape != loss.shape:
        raise ValueError(
            f"lrs and losses must have the same length, got {lr.size} and {loss.size}; pass one loss per learning rate"
        )
    keep = np.isfinite(lr) & np.isfinite(loss) & (lr > 0)
    lr, loss = lr[keep], loss[keep]
    if lr.size > 1 and not np.all(np.diff(lr) > 0):
        raise ValueError("lrs must be strictly increasing (a range test sweeps upwards); sort the points by LR")
    return lr, loss


# -- suggestion methods (pure) -------------------------------------------------------------------
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


def _usable(lrs: Any, losses: Any) -> tuple[np.ndarray, np.ndarray]:
    """Finite points, less the first 10% (the average has not settled), up to the first rebound."""
    lr, loss = _finite_curve(lrs, losses)
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
    lr, loss = _usable(lrs, losses)
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
    lr, loss = _usable(lrs, losses)
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
    lr, loss = _usable(lrs, losses)
    if loss.size == 0:
        return None
    return float(lr[int(np.argmin(loss))] / 10.0)


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    """The median of each point's window of ``width`` points (odd; edges padded with the end values)."""
    half = max(1, width // 2)
    padded = np.pad(x, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)


def _mad(d: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(d - np.median(d))))


#: window lengths of the descent scan, in smoothing spans (0.4, 0.8 and 1.6 decades of LR by default)
_SCAN_SPANS = (0.5, 1.0, 2.0)


def descent_evidence(losses: Sequence[float] | np.ndarray, beta: float, alpha: float = 1e-3) -> tuple[float, float]:
    """Is there any evidence that the loss fell? ``(z, z_crit)``: it fell when ``z > z_crit``.

    A one-sided scan for a drop, with ``w = max(5, round(1/(1-beta)))`` the smoothing span (0.8
    decade of LR by default) and ``x`` the finite raw losses up to half a span past the lowest point
    of the smoothed curve (later points can only add noise, not evidence of a fall):

        z = max over windows [a, a+L) of (mean x[:a] - mean x[a:a+L]) / (sigma sqrt(1/a + 1/L))
        z_crit = Phi^-1(1 - alpha / K)

    for every window of ``L`` = w/2, w and 2w points (a narrow dip, as on a short sweep, and a long
    fall) starting at ``a = w, w + L/2, ...``, each against everything before it; ``K`` windows in
    all, so Bonferroni's bound holds the family-wise false-positive rate of a curve with no descent
    to ``alpha``. ``sigma`` is the long-run noise of one point: ``s = 1.4826 MAD(diff x) / sqrt(2)``
    (blind to a trend), corrected for correlated mini-batch losses as AR(1) noise,
    ``sigma = s sqrt(1 + phi) / (1 - phi)``, with ``phi`` (in [0, 0.9]) the lag-1 autocorrelation of
    the residuals around a running median of ``2w + 1`` points (winsorised at 3 MAD; plus
    ``1/(2w+1)``, the bias the running median puts on white noise). Before the means, each point is
    winsorised at ``2.5 s`` around a running median of ``w`` points (a loss spike is not a level).

    The old rule (the start against the minimum of ~90 correlated smoothed points at 3 sigma) fired
    on 20-30% of flat curves; block medians against the first block, the next rule, needed the fall
    to fill a whole block and lost the narrow dip of a 100-update sweep on friedman (4 of 5 seeds).
    Returns ``(nan, nan)`` with fewer than 3 spans of points.

    >>> flat = 2.3 + np.random.default_rng(0).normal(0, 0.05, 100)
    >>> z, z_crit = descent_evidence(flat, beta=0.9)
    >>> bool(z > z_crit)
    False
    >>> z, z_crit = descent_evidence(flat - np.linspace(0, 1, 100), beta=0.9)
    >>> bool(z > z_crit)
    True
    """
    x = np.asarray(losses, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    width = max(5, round(1.0 / (1.0 - beta))) if beta < 1 else x.size
    if 0 < beta < 1 and x.size:
        curve = smooth(x, beta)
        first = _skip(x.size)
        x = x[: first + int(np.argmin(curve[first:])) + 1 + round(0.5 * width)]
    n = x.size
    if n < 3 * width:
        return math.nan, math.nan
    scale = _mad(np.diff(x)) / math.sqrt(2.0)
    trend = 2 * width + 1
    resid = x - _running_median(x, trend)
    resid = np.clip(resid, -3.0 * _mad(resid), 3.0 * _mad(resid))
    resid = resid - resid.mean()
    energy = float(resid @ resid)
    rho = float(resid[1:] @ resid[:-1]) / energy if energy > 0 else 0.0
    phi = min(max(rho + 1.0 / trend, 0.0), 0.9)
    sigma = max(scale * math.sqrt(1.0 + phi) / (1.0 - phi), 1e-12 * abs(float(np.median(x[:width]))))
    level = _running_median(x, width)
    clipped = level + np.clip(x - level, -2.5 * scale, 2.5 * scale)
    total = np.concatenate([[0.0], np.cumsum(clipped)])
    z, count = -math.inf, 0
    for spans in _SCAN_SPANS:
        length = max(3, round(spans * width))
        starts = np.arange(width, n - length + 1, max(1, round(0.5 * length)))
        if starts.size == 0:
            continue
        before = total[starts] / starts
        inside = (total[starts + length] - total[starts]) / length
        z = max(z, float(((before - inside) / (sigma * np.sqrt(1.0 / starts + 1.0 / length))).max()))
        count += starts.size
    if count == 0:
        return math.nan, math.nan
    return z, NormalDist().inv_cdf(1.0 - alpha / count)


_METHOD_FUNCS: dict[str, Callable[[Any, Any], float | None]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
}


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
    raw_lr = np.asarray(lrs, dtype=np.float64).reshape(-1)
    if beta is None:
        beta = auto_beta(raw_lr) if raw_lr.size > 1 else 0.0
    lr, loss = _finite_curve(raw_lr, losses)
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


@dataclass(frozen=True)
class Suggestion:
    """The default suggestion: ``value`` (``None`` when declined, then ``reason`` says why)
    and every method's own answer in ``methods``."""

    value: float | None
    reason: str
    methods: dict[str, float | None]


def suggest(
    lrs: Any,
    losses: Any,
    *,
    beta: float | None = None,
    min_points: int = 10,
    min_drop: float = 0.01,
    max_spread: float = 1.0,
    alpha: float = 1e-3,
) -> Suggestion:
    """The default suggestion from raw losses: steepest if minimum/10 confirms it, else the median of three.

    The raw ``losses`` are smoothed (:func:`smooth` with ``beta``, by default :func:`auto_beta` of
    ``lrs``; pass ``beta=0`` for an already smoothed curve), NaN/inf points dropped, then each
    method runs on the result. It declines (``value=None``, ``reason`` set) when there are fewer
    than ``min_points`` finite points; when the smoothed loss never falls by ``min_drop`` (a
    fraction) of its starting value; when the raw losses give no statistical evidence of a fall
    (:func:`descent_evidence`: a scan of window means against everything before them, Bonferroni-corrected, a
    family-wise false-positive rate ``alpha``; skipped for ``beta=0``); when the minimum is within
    the first 10% of the sweep; when no method has an answer; or when no two methods agree within
    ``max_spread`` decades (the median of three is then no better than a guess). Otherwise the
    value is ``steepest`` when it lies within ``max_spread`` decades of ``minimum`` (a noise pick
    of the steepest slope does not), else the median of the answers.

    >>> suggest([1e-3, 1e-2, 1e-1], [1.0, 1.0, 1.0]).reason
    'only 3 finite losses; need at least 10 (run more iterations)'
    """
    min_points = v.integer("suggest", "min_points", min_points, minimum=3)
    min_drop = v.non_negative("suggest", "min_drop", min_drop)
    max_spread = v.positive("suggest", "max_spread", max_spread)
    raw_lr = np.asarray(lrs, dtype=np.float64).reshape(-1)
    raw = np.asarray(losses, dtype=np.float64).reshape(-1)
    if beta is None:
        beta = auto_beta(raw_lr)
    curve = smooth(raw, beta) if beta > 0 else raw
    lr, loss = _finite_curve(raw_lr, curve)
    alpha = v.positive("suggest", "alpha", alpha)
    if not alpha < 1:
        raise ValueError(f"suggest: alpha must be in (0, 1), got {alpha!r}; 1e-3 is the default")
    empty: dict[str, float | None] = dict.fromkeys(METHODS)
    if lr.size < min_points:
        reason = f"only {lr.size} finite losses; need at least {min_points} (run more iterations)"
        return Suggestion(None, reason, empty)
    methods = {name: func(lr, loss) for name, func in _METHOD_FUNCS.items()}
    lr, loss = _usable(lr, loss)
    low = int(np.argmin(loss))
    start_loss, best = float(loss[0]), float(loss[low])
    drop = (start_loss - best) / max(abs(start_loss), 1e-12)
    if drop < min_drop:
        return Suggestion(
            None,
            f"the smoothed loss never fell meaningfully: from {start_loss:.4g} to {best:.4g} ({drop:.1%}; "
            f"needs {min_drop:.0%}); start the sweep lower, end it higher or run more iterations",
            methods,
        )
    if beta > 0:
        finite = np.isfinite(raw) & np.isfinite(raw_lr)
        before_rebound = raw[finite][raw_lr[finite] <= lr[-1]]  # raw losses up to the end of the usable part
        z, z_crit = descent_evidence(before_rebound, beta, alpha)
        if not z > z_crit:
            return Suggestion(
                None,
                f"no evidence that the loss fell: its largest drop is {z:.1f} noise units, needs {z_crit:.1f} "
                f"(a scan of window means, family-wise false-positive rate {alpha:g}); the model may not be learning, "
                "or the sweep is too short: check the data and the model, or run more iterations",
                methods,
            )
    if low < max(_skip(lr.size), 1):
        return Suggestion(
            None,
            f"the loss is lowest near the start of the sweep (lr={lr[low]:.3g}); start the sweep at a lower LR",
            methods,
        )
    answers = [x for x in methods.values() if x is not None and math.isfinite(x) and x > 0]
    if not answers:
        return Suggestion(None, "no method found a falling stretch of the loss curve", methods)
    logs = sorted(math.log10(x) for x in answers)
    gap = float(np.diff(logs).min()) if len(logs) > 1 else 0.0
    if gap > max_spread:
        shown = ", ".join(f"{k}={x:.3g}" for k, x in methods.items() if x is not None)
        return Suggestion(
            None,
            f"no two methods agree within {max_spread:g} decade(s) ({shown}); the curve is too noisy: "
            "run more iterations or use a validation loss",
            methods,
        )
    sharp, confirm = methods["steepest"], methods["minimum"]
    if sharp is not None and confirm is not None and abs(math.log10(sharp / confirm)) <= max_spread:
        return Suggestion(sharp, "", methods)  # the steepest fall, confirmed by minimum/10
    value = float(np.exp(np.median(np.log(answers))))
    return Suggestion(value, "", methods)


# -- the range test loop (framework-free) ------------------------------------------------------
@dataclass
class FinderResult:
    """What a range test found.

    ``lrs[i]``/``losses[i]`` are the LR and raw loss of real update ``i`` (one point per optimizer
    update), ``smoothed`` the bias-corrected average; ``suggestion`` the default suggestion or
    ``None`` with ``reason``; ``suggestions`` each method's answer; ``stopped`` why the sweep ended.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    reason: str
    suggestions: dict[str, float | None]
    stopped: str = "completed"
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_curve(
        cls,
        lrs: Any,
        losses: Any,
        *,
        beta: float | None = None,
        stopped: str = "completed",
        settings: Mapping[str, Any] | None = None,
        **suggest_options: Any,
    ) -> FinderResult:
        """Build a result (smoothing and suggestions included) from raw points."""
        lr = np.asarray(lrs, dtype=np.float64).reshape(-1)
        loss = np.asarray(losses, dtype=np.float64).reshape(-1)
        if beta is None:
            beta = auto_beta(lr) if lr.size > 1 else 0.0
        s = suggest(lr, loss, beta=beta, **suggest_options)
        return cls(lr, loss, smooth(loss, beta), s.value, s.reason, dict(s.methods), stopped, dict(settings or {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf losses written as ``None``)."""

        def clean(a: np.ndarray) -> list[float | None]:
            return [float(x) if math.isfinite(x) else None for x in a.tolist()]

        return {
            "lrs": clean(self.lrs),
            "losses": clean(self.losses),
            "smoothed": clean(self.smoothed),
            "suggestion": self.suggestion,
            "reason": self.reason,
            "suggestions": dict(self.suggestions),
            "stopped": self.stopped,
            "settings": dict(self.settings),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinderResult:
        """The inverse of :meth:`to_dict`."""

        def arr(key: str) -> np.ndarray:
            return np.array([np.nan if x is None else x for x in data[key]], dtype=np.float64)

        return cls(
            arr("lrs"),
            arr("losses"),
            arr("smoothed"),
            data["suggestion"],
            data["reason"],
            dict(data["suggestions"]),
            data.get("stopped", "completed"),
            dict(data.get("settings", {})),
        )

    def plot(self, path: Any = None, *, ax: Any = None, title: str | None = None) -> Any:
        """Loss vs LR (log axis), raw and smoothed, the suggestion marked; saved to ``path`` if given.

        Returns the matplotlib ``Axes``. matplotlib is imported here, never by ``import lrkit``.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("FinderResult.plot needs matplotlib: pip install 'lrkit[plot]'") from None
        fig = None
        if ax is None:
            fig = Figure(figsize=(6.4, 4.0), layout="tight")
            ax = fig.subplots()
        keep = np.isfinite(self.losses)
        ax.plot(self.lrs[keep], self.losses[keep], color="0.75", lw=0.8, label="loss")
        keep = np.isfinite(self.smoothed)
        ax.plot(self.lrs[keep], self.smoothed[keep], color="C0", lw=1.6, label="smoothed")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        finite = self.smoothed[keep]
        if finite.size:
            top = float(finite[0]) + 0.5 * (float(finite[0]) - float(finite.min()))
            low = float(np.nanmin(self.losses[np.isfinite(self.losses)]))
            ax.set_ylim(low - 0.05 * abs(top - low), top)
        styles = {"steepest": ("C2", ":"), "valley": ("C1", "--"), "minimum": ("C4", "-.")}
        for name, value in self.suggestions.items():
            if value is not None:
                color, style = styles.get(name, ("0.5", ":"))
                ax.axvline(value, color=color, ls=style, lw=1.0, label=f"{name} {value:.2g}")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="C3", lw=2.0, label=f"suggestion {self.suggestion:.2g}")
        ax.set_title(
            title
            or (
                f"LR range test: suggestion {self.suggestion:.3g}"
                if self.suggestion
                else f"LR range test: no suggestion ({self.reason[:60]})"
            ),
            fontsize=9,
        )
        ax.legend(fontsize=8)
        if path is not None:
            (fig or ax.figure).savefig(path, dpi=110)
        return ax


def _as_loss(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"range_test: the step must return a number (the loss) or None, got {value!r}")
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
    avg, k, best, top = 0.0, 0, math.inf, math.nan
    settle = max(_skip(iterations), 1)  # the first 10% of points only settle the average
    stopped = "completed"
    bar = _progress(iterations) if progress else None
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
            if bar is not None:
                bar.update(1)
            if not math.isfinite(loss):
                stopped = f"diverged: non-finite loss {loss} at lr={lr:.3g}"
                break
            k += 1
            avg = beta * avg + (1.0 - beta) * loss
            current = avg / (1.0 - beta**k)
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
        if bar is not None:
            bar.close()
    return FinderResult.from_curve(lrs, losses, beta=beta, stopped=stopped, settings=settings, **suggest_options)


class _Bar:
    """A minimal stderr progress line, used when tqdm is not installed."""

    def __init__(self, total: int):
        self.total, self.n = total, 0

    def update(self, n: int) -> None:
        import sys

        self.n += n
        sys.stderr.write(f"\rLR range test {self.n}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        import sys

        sys.stderr.write("\n")


def _progress(total: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Bar(total)
    return tqdm(total=total, desc="LR range test", leave=False)
