"""The default suggestion: steepest when minimum/10 confirms it, else the median of three; or a reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.finder._curve import _finite_curve, _skip, _usable, curve_array
from lrkit.finder._evidence import descent_evidence
from lrkit.finder._methods import _METHOD_FUNCS, METHODS
from lrkit.finder._smooth import auto_beta, check_beta, smooth


@dataclass(frozen=True)
class Suggestion:
    """The default suggestion: ``value`` (``None`` when declined, then ``reason`` says why)
    and every method's own answer in ``methods``.

    >>> import numpy as np
    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> from lrkit.finder import suggest
    >>> s = suggest(lrs, losses)
    >>> round(s.value, 5), s.reason, {name: round(lr, 5) for name, lr in s.methods.items()}
    (0.00209, '', {'steepest': 0.00209, 'valley': 0.00131, 'minimum': 0.00538})
    >>> suggest(lrs, np.full(120, 2.0)).value is None  # a flat curve: declined, ``reason`` says why
    True
    """

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
    'only 3 finite losses at a learning rate > 0; need at least 10 (run more iterations)'
    """
    min_points = v.integer("suggest", "min_points", min_points, minimum=3)
    min_drop = v.non_negative("suggest", "min_drop", min_drop)
    max_spread = v.positive("suggest", "max_spread", max_spread)
    raw_lr = curve_array("suggest", "lrs", lrs)
    raw = curve_array("suggest", "losses", losses)
    positive = raw_lr[np.isfinite(raw_lr) & (raw_lr > 0)]
    beta = (auto_beta(positive) if positive.size > 1 else 0.0) if beta is None else check_beta("suggest", beta)
    curve = smooth(raw, beta) if beta > 0 else raw
    lr, loss = _finite_curve(raw_lr, curve, "suggest")
    alpha = v.positive("suggest", "alpha", alpha)
    if not alpha < 1:
        raise ValueError(f"suggest: alpha must be in (0, 1), got {alpha!r}; 1e-3 is the default")
    empty: dict[str, float | None] = dict.fromkeys(METHODS)
    if lr.size < min_points:
        reason = (
            f"only {lr.size} finite losses at a learning rate > 0; need at least {min_points} (run more iterations"
            f"{'; a range test sweeps rates > 0' if positive.size < raw_lr.size else ''})"
        )
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
