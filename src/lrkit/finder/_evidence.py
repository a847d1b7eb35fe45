"""Is there any evidence that the loss fell? A scan of window means, Bonferroni-corrected."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from lrkit.finder._curve import _mad, _running_median, _skip
from lrkit.finder._smooth import smooth

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

    Why this rule and not the earlier ones (the start against the minimum of the smoothed curve; block
    medians against the first block), with how often each fired on flat curves: docs/finder.md.
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
