"""Optimise a schedule for a budget from a fitted law (as Luo et al. 2025 derive better schedules).

The schedule is a linear warmup to the peak followed by a piecewise-linear curve through
``knots`` points after the warmup, non-increasing (monotone after warmup, as the paper
constrains it) and never below ``floor`` (a multiplier of the peak). Its values are found by
minimising the loss the law predicts after ``budget`` updates with scipy's L-BFGS-B, using
the law's gradient with respect to every update's learning rate (:meth:`Law.final_gradient`;
finite differences for a law without it). The result is an ordinary lrkit schedule
(``piecewise_linear``, values are multipliers of the peak) that round-trips through the config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import lrkit as lk
from lrkit.curves.laws import MAX_UPDATES, Law, _too_long, positive_number, whole

#: The optimiser's hat basis is a dense (budget x knots + 1) array: at most this many elements (2 GiB).
MAX_BASIS = 2**28

__all__ = ["Optimized", "optimize"]


@dataclass(frozen=True)
class Optimized:
    """An optimised schedule: ``schedule`` (multipliers of ``peak``) and the loss the law predicts for it.

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw
    >>> from lrkit.curves.optimize import optimize
    >>> law = MultiPowerLaw(3.15, 0.52, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> best = optimize(law, budget=1000, peak=3e-4, warmup=100, knots=4, max_iterations=20)
    >>> best.peak, best.budget, best.absolute(500) == best.schedule(500) * 3e-4
    (0.0003, 1000, True)
    >>> best.predicted_loss < law.final((lk.warmup(100) >> lk.constant(1.0)) * 3e-4, 1000)
    True
    """

    schedule: lk.Schedule
    peak: float
    budget: int
    predicted_loss: float
    seconds: float
    iterations: int

    @property
    def absolute(self) -> lk.Schedule:
        """The schedule in absolute learning rates (``schedule * peak``)."""
        return self.schedule * self.peak


def _values(r: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Knot values (after the peak) from the ratios ``r`` in [0, 1], and d values / d r (lower triangular)."""
    prod = np.cumprod(r)
    v = floor + (1.0 - floor) * prod
    # d prod_j / d r_i = prod_j / r_i for i <= j (computed without dividing by a zero ratio)
    n = r.size
    jac = np.zeros((n, n))
    for i in range(n):
        rest = np.concatenate((r[:i], [1.0], r[i + 1 :]))
        jac[i:, i] = np.cumprod(rest)[i:]
    return v, (1.0 - floor) * jac


def optimize(
    law: Law,
    budget: int,
    peak: float,
    warmup: int = 0,
    *,
    knots: int = 48,
    floor: float = 0.01,
    max_iterations: int = 500,
) -> Optimized:
    """A schedule for ``budget`` updates, peak ``peak`` and a linear warmup of ``warmup`` updates, that
    minimises the final loss ``law`` predicts.

    After the warmup: ``knots`` equally spaced points, the value of each between ``floor`` and 1
    (multipliers of ``peak``) and never above the one before.

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw
    >>> law = MultiPowerLaw(3.15, 0.52, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> best = optimize(law, budget=24000, peak=3e-4, warmup=2160, knots=16)
    >>> wsd = (lk.warmup(2160) >> lk.constant(1.0, 17840) >> lk.linear(4000, 1.0, 0.1)) * 3e-4
    >>> best.predicted_loss < law.final(wsd, 24000)
    True
    >>> lk.from_config(repr(best.schedule)) == best.schedule
    True
    """
    from scipy.optimize import minimize

    from lrkit.curves.core import as_law

    start = time.perf_counter()
    law = as_law(law)
    budget, warmup = whole("budget", budget, minimum=2), whole("warmup", warmup, minimum=0)
    if budget > MAX_UPDATES:
        raise ValueError(_too_long("budget", budget))
    knots, max_iterations = whole("knots", knots), whole("max_iterations", max_iterations)
    if not warmup < budget - 1:
        raise ValueError(f"warmup must be >= 0 and < budget - 1, got {warmup!r} for budget {budget}")
    peak = positive_number("peak", peak)
    if isinstance(floor, (bool, str)) or not 0 < floor < 1:
        raise ValueError(f"floor must be a multiplier in (0, 1), got {floor!r}")
    knots = min(knots, budget - warmup - 1)
    if budget * (knots + 1) > MAX_BASIS:
        raise ValueError(
            f"knots: {knots} knots over {budget:,} updates is a {budget * (knots + 1) * 8 / 2**30:.1f} GiB basis "
            f"(budget x (knots + 1) x 8 bytes, at most {MAX_BASIS * 8 / 2**30:.0f} GiB); give fewer knots"
        )
    positions = np.unique(np.round(np.linspace(warmup, budget, knots + 1)).astype(np.int64))
    knots = positions.size - 1
    t = np.arange(budget, dtype=np.float64)
    # hat basis of the knots after the warmup: lrs = peak * (warm + hats @ [1, v_1..v_K])
    basis = np.stack([np.interp(t, positions, np.eye(knots + 1)[j]) for j in range(knots + 1)], axis=1)
    warm = np.where(t < warmup, t / max(warmup, 1), 0.0)
    if warmup > 0:
        basis[t < warmup, :] = 0.0

    def rates(v: np.ndarray) -> np.ndarray:
        return peak * (warm + basis @ np.concatenate(([1.0], v)))

    has_gradient = law.final_gradient(rates(np.ones(knots))) is not None
    iterations = 0

    def objective(r: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal iterations
        iterations += 1
        v, dv = _values(r, floor)
        lrs = rates(v)
        if has_gradient:
            loss, grad_lrs = law.final_gradient(lrs)  # type: ignore[misc]
            grad_v = peak * (basis[:, 1:].T @ grad_lrs)
        else:
            loss = law.final(lrs, budget)
            grad_v = np.empty(knots)
            for j in range(knots):
                step = 1e-6
                bumped = v.copy()
                bumped[j] += step
                grad_v[j] = (law.final(rates(bumped), budget) - loss) / step
        return float(loss), dv.T @ grad_v

    # start: hold the peak for 70% of the run after warmup, then decay linearly to just above the floor
    u = (positions[1:] - warmup) / (budget - warmup)
    init = np.clip(1.0 - (u - 0.7) / 0.3, 0.0, 1.0) * 0.95 + 0.05
    ratios = init / np.concatenate(([1.0], init[:-1]))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            objective,
            ratios,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * knots,
            options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-12},
        )
    v, _ = _values(np.clip(result.x, 0.0, 1.0), floor)
    # snap to 12 significant digits: a short, exact config text
    v = np.minimum(np.array([float(f"{x:.12g}") for x in v]), 1.0)
    v = np.minimum.accumulate(v)
    if warmup > 0:
        knot_list = [0, *[int(p) for p in positions]]
        values = [0.0, 1.0, *[float(x) for x in v]]
    else:
        knot_list = [int(p) for p in positions]
        values = [1.0, *[float(x) for x in v]]
    schedule = lk.piecewise_linear(knot_list, values)
    loss = law.final(schedule * peak, budget)
    return Optimized(
        schedule=schedule,
        peak=float(peak),
        budget=budget,
        predicted_loss=loss,
        seconds=time.perf_counter() - start,
        iterations=iterations,
    )

