"""Uncertainty of a fitted law: the parameters' covariance, and intervals on every prediction.

A fit (:func:`lrkit.curves.fit`) ends with the Laplace approximation of its objective at the optimum:
with ``J`` the Jacobian of the residuals (``log(pred) - log(loss)``) with respect to the law's
parameters, ``W`` the points' weights and ``P`` the Jacobian of the prior's residuals,

    Sigma = s^2 * k * (J^T W J + P^T P)^+,    k = (1 + rho) / (1 - rho)

``s^2`` the weighted variance of the residuals (clipped at 5 robust sd) and ``rho`` their lag-1
autocorrelation within a run: a loss curve's residuals are far from independent, and ``k`` is the
usual AR(1) correction of the effective number of points (Newey & West's, at lag one). A prediction
``f`` then has the standard error ``sqrt(g^T Sigma g + (s f)^2 + J(f))`` (``g = df/dparameters``, the
delta method; ``(s f)^2``: one logged point's scatter around the law; ``J(f)``: the jackknife variance
of ``f`` over the fits that each leave one fitted run out (or, where that would leave no decay to fit,
one half of one run's points: :func:`lrkit.curves.selection.jackknife_unit`), ``(n-1)/n sum_i (f_i -
mean)^2``, which carries what the first two miss: how much the prediction depends on which runs, or
which part of them, were fitted), and its
interval is ``f +- z * se``. Two candidates are *tied* when the interval of their difference
(``g_a - g_b`` and the jackknife of the difference; no point scatter: it is the same law) contains 0.

>>> import lrkit as lk
>>> from lrkit.curves import MultiPowerLaw, Run, fit
>>> true = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
>>> w = lk.warmup(100)
>>> shapes = [w >> lk.constant(1.0), w >> lk.cosine(1900, floor=0.1), w >> lk.constant(1.0, 900) >> lk.constant(0.3)]
>>> steps = np.arange(128, 2001, 64)
>>> noise = np.random.default_rng(0).normal(0, 1e-3, steps.size)
>>> runs = [Run.of(s * 3e-4, steps, true.predict(s * 3e-4, steps) * (1 + noise)) for s in shapes]
>>> result = fit(runs)
>>> mean, low, high = interval(result.law, result.uncertainty, (w >> lk.linear(1900, 1.0, 0.1)) * 3e-4, [2000])
>>> bool(low[0] < mean[0] < high[0]), bool(high[0] - low[0] < 0.05)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.curves.laws import Law, _steps, learning_rates

if TYPE_CHECKING:  # pragma: no cover
    from lrkit.curves.core import Run

__all__ = ["Uncertainty", "covariance", "difference", "interval", "z_value"]


def z_value(level: float) -> float:
    """The two-sided normal quantile of a confidence ``level`` (0.95 -> 1.96).

    >>> round(z_value(0.9), 3)
    1.645
    """
    if isinstance(level, (bool, str)) or not 0 < level < 1:
        raise ValueError(f"level: a confidence level in (0, 1), got {level!r}")
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


@dataclass(frozen=True)
class Uncertainty:
    """The fitted parameters' covariance (``names`` order) and one point's relative scatter around the law.

    :func:`lrkit.curves.fit` estimates it (``Fit.uncertainty``); here one made by hand: ``L0`` known to
    +- 0.01 (sd), every other parameter exactly, and a 0.1% scatter of a logged point:

    >>> import numpy as np
    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Uncertainty, interval
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> u = Uncertainty(law.param_names(), np.diag([1e-4] + [0.0] * 6), noise=0.001, inflation=1.0)
    >>> mean, low, high = interval(law, u, (lk.warmup(100) >> lk.cosine(1900, floor=0.1)) * 3e-4, [2000])
    >>> se = float(np.sqrt(1e-4 + (0.001 * mean[0]) ** 2))  # sd of L0 and the scatter, combined
    >>> bool(np.isclose(high[0] - mean[0], 1.959964 * se))
    True
    """

    names: tuple[str, ...]
    covariance: np.ndarray
    noise: float  # relative sd of one logged point around the fitted law
    inflation: float  # the autocorrelation factor k applied to the covariance
    at_bounds: tuple[str, ...] = ()  # parameters the fit left at one of their bounds
    #: the laws fitted with one run (or one half of a run's points) left out each (:func:`lrkit.curves.fit`,
    #: ``jackknife=True``)
    ensemble: tuple[Law, ...] = ()

    def spread(self, values: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """The jackknife variance ``(n-1)/n * sum_i (v_i - mean)^2`` of a quantity the ``n`` laws of
        :attr:`ensemble` predict (``values[i]`` from law ``i``); 0 without an ensemble."""
        v = np.asarray(values, dtype=np.float64)
        n = v.shape[0] if v.ndim else 0
        if n < 2:
            return np.zeros(v.shape[1:] if v.ndim else ())
        return (n - 1) / n * np.sum((v - v.mean(axis=0)) ** 2, axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (``from_dict`` reads it back)."""
        return {
            "names": list(self.names),
            "covariance": self.covariance.tolist(),
            "noise": self.noise,
            "inflation": self.inflation,
            "at_bounds": list(self.at_bounds),
            "ensemble": [law.to_dict() for law in self.ensemble],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Uncertainty:
        """The uncertainty a :meth:`to_dict` dict describes (a ``ValueError`` naming the bad field)."""
        try:
            names = tuple(str(n) for n in data["names"])
            cov = np.asarray(data["covariance"], dtype=np.float64)
            noise, inflation = float(data["noise"]), float(data["inflation"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"uncertainty: needs names, covariance, noise and inflation ({err})") from None
        if cov.shape != (len(names), len(names)) or not np.all(np.isfinite(cov)):
            raise ValueError(f"uncertainty: covariance must be a finite {len(names)} x {len(names)} matrix")
        scale = float(np.max(np.abs(cov), initial=0.0))
        if np.any(np.abs(cov - cov.T) > 1e-9 * scale) or np.any(np.diag(cov) < -1e-12 * scale):
            raise ValueError("uncertainty: covariance must be symmetric with variances >= 0 on its diagonal")
        if not (math.isfinite(noise) and noise >= 0 and math.isfinite(inflation) and inflation > 0):
            raise ValueError(
                f"uncertainty: noise must be a finite number >= 0 and inflation one > 0, got {noise!r}, {inflation!r}"
            )
        bounds, ensemble = data.get("at_bounds", ()), data.get("ensemble", ())
        if not isinstance(bounds, (list, tuple)) or any(n not in names for n in bounds):
            raise ValueError(f"uncertainty: at_bounds must be a list of the parameters {list(names)}, got {bounds!r}")
        if not isinstance(ensemble, (list, tuple)):
            raise ValueError(f"uncertainty: ensemble must be a list of laws, got {type(ensemble).__name__}")
        from lrkit.curves.core import law_from_dict

        laws = tuple(law_from_dict(d) for d in ensemble)
        return cls(names, cov, noise, inflation, tuple(str(n) for n in bounds), laws)

    def check(self, law: Law, where: str = "uncertainty") -> Uncertainty:
        """``self``, checked to describe ``law``: its parameters' names, and an ensemble of the same law
        (a ``ValueError`` naming ``where`` otherwise: an uncertainty of another law gives wrong intervals)."""
        if self.names != law.param_names():
            raise ValueError(
                f"{where}: its parameters {list(self.names)} are not the {law.name} law's {list(law.param_names())}; "
                "it belongs to another law (refit, or give the uncertainty of this fit)"
            )
        other = next((e for e in self.ensemble if type(e) is not type(law)), None)
        if other is not None:
            raise ValueError(f"{where}: its ensemble holds a {other.name} law, not a {law.name} law")
        return self


def covariance(
    law: Law,
    prepared: Sequence[Any],
    runs: Sequence[Run],
    weights: np.ndarray,
    *,
    relative: bool = True,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
) -> Uncertainty:
    """The Laplace covariance of ``law``'s parameters fitted on ``runs`` (see the module's docstring)."""
    parts = [law.evaluate(p, jacobian=True) for p in prepared]
    pred = np.concatenate([v for v, _ in parts])
    jac = np.concatenate([j for _, j in parts])  # type: ignore[misc]
    y = np.concatenate([r.losses for r in runs])  # type: ignore[misc]
    if relative:
        res = np.log(np.maximum(pred, 1e-12)) - np.log(y)
        jac = jac / np.maximum(pred, 1e-12)[:, None]
    else:
        res = (pred - y) / y
        jac = jac / y[:, None]
    w = weights / weights.mean()
    robust = 1.4826 * float(np.median(np.abs(res))) or float(np.std(res)) or 1e-12
    clipped = np.clip(res, -5 * robust, 5 * robust)
    p = jac.shape[1]
    s2 = float(np.sum(w * clipped**2) / max(w.sum() - p, 1.0))
    # lag-1 autocorrelation of the residuals within each run, pooled
    num = den = 0.0
    start = 0
    for run in runs:
        r = clipped[start : start + run.steps.size]
        start += run.steps.size
        if r.size > 2:
            r = r - r.mean()
            num += float(np.sum(r[1:] * r[:-1]))
            den += float(np.sum(r * r))
    rho = min(max(num / den if den > 0 else 0.0, 0.0), 0.98)
    inflation = (1 + rho) / (1 - rho)
    # a parameter with an infinite value (a limit) has no uncertainty to carry
    finite = np.isfinite(law.vector())
    jac = np.where(np.isfinite(jac), jac, 0.0)
    precision = jac.T @ (w[:, None] * jac)
    if prior is not None:
        index, scale = prior
        theta = law.vector()[index]
        precision[index, index] += (scale / np.maximum(theta, 1e-300)) ** 2
    precision[~finite, :] = 0.0
    precision[:, ~finite] = 0.0
    cov = s2 * inflation * np.linalg.pinv(precision, rcond=1e-12, hermitian=True)
    low, high = type(law).bounds()
    x = law.vector()
    span = np.where(np.isfinite(high - low), high - low, np.maximum(1.0, np.abs(x)))
    at = tuple(
        n for n, v, lo, hi, sp in zip(law.param_names(), x, low, high, span)
        if abs(v - lo) <= 1e-6 * sp or (math.isfinite(hi) and abs(hi - v) <= 1e-6 * sp)
    )
    return Uncertainty(law.param_names(), cov, math.sqrt(s2), inflation, at)


def _resolution(lrs: np.ndarray, steps: np.ndarray) -> int:
    """As :meth:`Law.predict`: exact up to :data:`lrkit.curves.laws.EXACT_WORK` (step, update) pairs."""
    from lrkit.curves.laws import EXACT_WORK

    return max(1, -(-steps.size * lrs.size // EXACT_WORK))


def _gradient(law: Law, lrs: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, jac = law.evaluate(law.prepare(lrs, steps, _resolution(lrs, steps), **law.settings()), jacobian=True)
    assert jac is not None
    return values, np.where(np.isfinite(jac), jac, 0.0)


def interval(
    law: Law, uncertainty: Uncertainty | None, schedule: Any, steps: Any, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The predicted loss after each of ``steps`` updates and its interval (``low``, ``high``) at ``level``.

    Without an uncertainty (a law given by its parameters alone) the interval is the prediction itself.

    >>> import numpy as np
    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Uncertainty, interval
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> schedule = (lk.warmup(100) >> lk.cosine(1900, floor=0.1)) * 3e-4
    >>> mean, low, high = interval(law, None, schedule, [1000, 2000])
    >>> bool((low == mean).all() and (high == mean).all())
    True
    >>> u = Uncertainty(law.param_names(), np.diag([1e-4] + [0.0] * 6), noise=0.001, inflation=1.0)
    >>> mean, low, high = interval(law, u, schedule, [1000, 2000])
    >>> bool((low < mean).all() and (mean < high).all())
    True
    """
    from lrkit.curves.core import Fit, as_law
    from lrkit.curves.lawfile import LawFile

    if isinstance(law, (Fit, LawFile)):  # a fit or a law file: its own uncertainty unless one is given
        uncertainty = law.uncertainty if uncertainty is None else uncertainty
        law = as_law(law)
    z = _checked(law, uncertainty, level)
    t = _steps(steps)
    lrs = learning_rates(schedule, int(t.max()))
    values, jac = _gradient(law, lrs, t)
    if uncertainty is None:
        return values, values.copy(), values.copy()
    var = np.einsum("ij,jk,ik->i", jac, uncertainty.covariance, jac) + (uncertainty.noise * values) ** 2
    if uncertainty.ensemble:
        res = _resolution(lrs, t)
        var = var + uncertainty.spread([law_i.evaluate(law_i.prepare(lrs, t, res, **law_i.settings()))[0]
                                        for law_i in uncertainty.ensemble])
    half = z * np.sqrt(np.maximum(var, 0.0))
    return values, values - half, values + half


def _checked(law: Any, uncertainty: Any, level: float = 0.95) -> float:
    """``law`` a :class:`Law`, ``uncertainty`` ``None`` or the :class:`Uncertainty` of that law, ``level`` in
    (0, 1): each a ``ValueError`` naming it otherwise. Returns the level's ``z``."""
    if not isinstance(law, Law):
        raise ValueError(f"law: expected a curves.Law (a Fit's .law), got {type(law).__name__}")
    if uncertainty is not None:
        if not isinstance(uncertainty, Uncertainty):
            raise ValueError(
                f"uncertainty: expected a curves.Uncertainty (a Fit's .uncertainty) or None, got "
                f"{type(uncertainty).__name__}"
            )
        uncertainty.check(law)
    return z_value(level)


def difference(
    law: Law, uncertainty: Uncertainty | None, a: Any, b: Any, budget: int
) -> tuple[float, float]:
    """The predicted final loss of schedule ``a`` minus ``b`` after ``budget`` updates, and its standard error
    (the parameters' uncertainty: both are predicted by the same law)."""
    _checked(law, uncertainty)
    t = np.array([int(budget)])
    va, ga = _gradient(law, learning_rates(a, budget), t)
    vb, gb = _gradient(law, learning_rates(b, budget), t)
    d = ga[0] - gb[0]
    if uncertainty is None:
        return float(va[0] - vb[0]), 0.0
    var = float(d @ uncertainty.covariance @ d)
    if uncertainty.ensemble:
        gaps = [law_i.final(a, budget) - law_i.final(b, budget) for law_i in uncertainty.ensemble]
        var += float(uncertainty.spread(np.array(gaps)))
    return float(va[0] - vb[0]), math.sqrt(max(var, 0.0))
