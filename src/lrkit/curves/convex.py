"""The convex-bound law: the loss curve shaped as the last-iterate bound of SGD on a convex, non-smooth problem.

Schaipp, Hägele, Taylor, Simsekli and Bach ("The Surprising Agreement Between Convex Optimization Theory
and Learning-Rate Scheduling for Large Model Training", ICML 2025, arXiv:2501.18965) show that the
suboptimality bound of the last iterate of SGD with step sizes ``eta_1 .. eta_T`` on a convex
``G``-Lipschitz problem, at distance ``D`` from a minimiser (Defazio, Cutkosky, Mehta and Mishchenko,
"Optimal linear decay learning rate schedules and further refinements", arXiv:2310.07831, Theorem 10),
has the shape of real language-model loss curves under any schedule, the cooldown's drop and the benefit
of long cooldowns included::

    bound(T) = D^2 / (2 S_T) + G^2 Q_T / (2 S_T)
               + G^2 / 2 * sum_{k=1}^{T-1} eta_k / (sum_{t=k+1}^{T} eta_t)
                                           * (sum_{t=k}^{T} eta_t^2) / (sum_{t=k}^{T} eta_t)

with ``S_T = sum_{t<=T} eta_t`` and ``Q_T = sum_{t<=T} eta_t^2``. Updates whose rate is 0 leave the
iterate where it is, so the bound after them is the bound after the last update with a positive rate.

Two laws use it: :class:`ConvexBoundLaw` (the bound itself, Box-Cox transformed) and :class:`ConvexDropLaw`
(the power law of the learning-rate area less the drop the bound gives a decay). Both have the exact
gradient of the final loss with respect to every rate (``O(T)``), for :func:`lrkit.curves.optimize`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lrkit.curves.laws import LAWS, TILE, AreaLaw, Law, ScaledLaw, _AreaData, _field, _kept

__all__ = ["ConvexBoundLaw", "ConvexDropLaw", "bound_terms"]


@_kept
def bound_terms(lrs: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two parts of the bound after each of ``steps`` updates: ``bound = D^2 * a + G^2 * b``.

    ``a(t) = 1 / (2 S_t)`` and ``b(t) = Q_t / (2 S_t) + 1/2 sum_{k<t} eta_k gamma_k / (alpha_k beta_k)``
    (``alpha_k``, ``beta_k`` the rates' sums from ``k + 1`` and from ``k`` to ``t``, ``gamma_k`` the squares'
    sum from ``k``), ``lrs[i]`` the rate of update ``i + 1``. Exact: ``O(updates)`` work per step, evaluated
    in tiles of at most :data:`lrkit.curves.laws.TILE` elements (memory linear in steps and updates). Within
    :func:`lrkit.curves.fit`, computed once per distinct ``(lrs, steps)`` (its inner fits and scores ask again).

    >>> a, b = bound_terms(np.array([1.0, 1.0]), np.array([2]))
    >>> float(a[0]), float(b[0])  # 1/4; 2/4 + 1/2 * 1 * 2 / (1 * 2)
    (0.25, 1.0)
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.int64)
    prefix = np.concatenate(([0.0], np.cumsum(lrs)))
    squares = np.concatenate(([0.0], np.cumsum(lrs * lrs)))
    # zero-rate updates do not move the iterate: evaluate at the last update with a positive rate
    last = np.maximum.accumulate(np.where(lrs > 0, np.arange(1, lrs.size + 1), 0))
    eff = np.concatenate(([0], last))[steps]
    if np.any(eff < 1):
        raise ValueError("steps: the convex bound needs a positive learning rate before each step")
    order = np.argsort(eff, kind="stable")
    a = np.empty(steps.size)
    b = np.empty(steps.size)
    rows = max(1, TILE // max(1, int(eff.max())))
    for start in range(0, order.size, rows):
        idx = order[start : start + rows]
        t = eff[idx]
        k = int(t.max()) - 1  # terms k = 1 .. t-1, i.e. 0-based i = 0 .. t-2
        s = prefix[t]
        q = squares[t]
        a[idx] = 0.5 / s
        if k == 0:
            b[idx] = q / (2 * s)
            continue
        i = np.arange(k)
        inside = i[None, :] < (t - 1)[:, None]
        alpha = np.where(inside, s[:, None] - prefix[None, i + 1], 1.0)
        beta = s[:, None] - prefix[None, i]
        gamma = q[:, None] - squares[None, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(inside, lrs[None, i] * gamma / (np.where(alpha > 0, alpha, 1.0) * beta), 0.0)
        b[idx] = q / (2 * s) + 0.5 * term.sum(axis=1)
    return a, b


def _box_cox(log: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x^p - 1) / p`` (``log x`` at ``p = 0``) from ``log x``, and its derivative in ``p``."""
    z = p * log
    if abs(p) < 1e-6:  # series in p: log + p log^2 / 2; derivative log^2 / 2 + p log^3 / 3
        return log + z * log / 2, log * log / 2 + z * log * log / 3
    power = np.exp(z)
    return (power - 1.0) / p, (power * (z - 1.0) + 1.0) / (p * p)


def _noise_gradient(lrs: np.ndarray) -> tuple[float, float, np.ndarray, int]:
    """``S`` (the area), ``b`` (the bound's noise part, :func:`bound_terms`) after all of ``lrs``, the gradient
    of ``b`` with respect to every rate, in ``O(len(lrs))`` (prefix sums of the terms' derivatives), and the
    number of rates up to the last positive one (the later ones do not move the iterate).

    With ``f_k = eta_k gamma_k / (alpha_k beta_k)``: ``d b / d eta_j = eta_j / S - Q / (2 S^2) + 1/2 [gamma_j /
    (alpha_j beta_j) + 2 eta_j sum_{k<=j} f_k / gamma_k - sum_{k<j} f_k / alpha_k - sum_{k<=j} f_k / beta_k]``
    (``k < T``). Rates after the last positive one do not move the iterate: their gradient is 0.
    """
    n = int(np.flatnonzero(lrs > 0)[-1]) + 1 if np.any(lrs > 0) else 0
    if n == 0:
        raise ValueError("lrs: the convex bound needs a positive learning rate")
    eta = lrs[:n]
    prefix = np.concatenate(([0.0], np.cumsum(eta)))
    squares = np.concatenate(([0.0], np.cumsum(eta * eta)))
    S, Q = prefix[n], squares[n]
    k = np.arange(n - 1)  # 0-based k: the terms k = 1 .. n-1
    alpha = S - prefix[k + 1]
    beta = S - prefix[k]
    gamma = Q - squares[k]
    f = eta[k] * gamma / (alpha * beta)
    b = Q / (2 * S) + 0.5 * float(f.sum())
    by_gamma = np.concatenate(([0.0], np.cumsum(f / gamma)))  # [m]: sum of the first m terms
    by_alpha = np.concatenate(([0.0], np.cumsum(f / alpha)))
    by_beta = np.concatenate(([0.0], np.cumsum(f / beta)))
    j = np.arange(n)  # 0-based rate j: terms k <= j (0-based) count gamma and beta, k < j alpha
    upto = np.minimum(j + 1, n - 1)
    own = np.zeros(n)
    own[: n - 1] = gamma / (alpha * beta)
    inner = own + 2 * eta * by_gamma[upto] - by_alpha[np.minimum(j, n - 1)] - by_beta[upto]
    grad = np.zeros(lrs.size)
    grad[:n] = eta / S - Q / (2 * S * S) + 0.5 * inner
    return float(S), b, grad, n


@dataclass(frozen=True)
class _BoundData:
    a: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class ConvexBoundLaw(ScaledLaw):
    """The convex last-iterate bound as a loss-curve law (Schaipp et al., ICML 2025, arXiv:2501.18965).

    ``L(t) = L0 + A * (bound(t)^p - 1) / p`` (``L0 + A * log bound(t)`` at ``p = 0``: a Box-Cox transform) with
    ``bound(t) = D^2 / (2 S_t) + Q_t / (2 S_t) + 1/2 sum_{k<t} eta_k gamma_k / (alpha_k beta_k)`` the SGD
    last-iterate bound of Defazio et al. (arXiv:2310.07831, Theorem 10) with ``G = 1`` (``G^2`` is absorbed
    in ``A``; see :func:`bound_terms`), in the absolute learning rates' units. ``p = 1`` is the bound itself,
    ``L0 - A + G^2 bound(t; D/G)``, the fit of Schaipp et al.; ``p`` lets the fit bend the bound's ``1/S``
    decay towards the slower decay of real curves, continuously through ``p = 0``. Four parameters:
    ``L0, A, D, p``. Evaluating the bound costs ``O(t)`` per step (exact).

    >>> import lrkit as lk
    >>> law = ConvexBoundLaw(L0=2.0, A=1.0, D=0.3, p=0.5)
    >>> wsd = (lk.warmup(100, start=0.01) >> lk.constant(1.0)) * 1e-3
    >>> cooled = lk.constant(1e-3, 1600) >> lk.linear(400, 1e-3, 0.0)
    >>> law.final(cooled, 2000) < law.final(wsd, 2000)  # the cooldown lowers the bound
    True
    """

    name: ClassVar[str] = "convex_bound"
    formula: ClassVar[str] = (
        "L0 + A*(B^p - 1)/p, B = D^2/(2 S_t) + Q_t/(2 S_t) + 1/2 sum_k eta_k gamma_k/(alpha_k beta_k)"
    )

    D: float = _field()
    p: float = _field()

    @classmethod
    def prepare(cls, lrs: np.ndarray, steps: np.ndarray, resolution: int = 1, **settings: Any) -> _BoundData:
        a, b = bound_terms(lrs, steps)
        return _BoundData(a, b)

    def evaluate(self, prepared: _BoundData, jacobian: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, D, p = self.vector()
        bound = D * D * prepared.a + prepared.b
        log = np.log(bound)
        shape, d_p = _box_cox(log, p)
        loss = L0 + A * shape
        if not jacobian:
            return loss, None
        d_bound = A * np.exp((p - 1.0) * log)  # d shape / d bound = bound^(p-1)
        jac = np.column_stack((np.ones_like(loss), shape, d_bound * 2 * D * prepared.a, A * d_p))
        return loss, jac

    @classmethod
    def bounds(cls) -> tuple[np.ndarray, np.ndarray]:
        return np.array([-np.inf, 1e-9, 1e-9, -2.0]), np.array([np.inf, np.inf, np.inf, 3.0])

    def final_gradient(self, lrs: np.ndarray) -> tuple[float, np.ndarray]:
        L0, A, D, p = self.vector()
        S, b, grad, n = _noise_gradient(lrs)
        bound = D * D / (2 * S) + b
        shape, _ = _box_cox(np.array([math.log(bound)]), p)
        d_bound = grad.copy()
        d_bound[:n] -= D * D / (2 * S * S)
        return float(L0 + A * shape[0]), A * bound ** (p - 1.0) * d_bound

    @classmethod
    def guesses(cls, prepared: Sequence[Any], losses: Sequence[np.ndarray], settings: dict[str, Any]) -> list[Law]:
        # L0 and A enter linearly: for each (D, p) on a grid (D relative to the runs' own scale, where the two
        # parts of the bound are equal at the last point), solve for them and keep the best few
        y = np.concatenate(losses)
        a = np.concatenate([p.a for p in prepared])
        b = np.concatenate([p.b for p in prepared])
        scale = math.sqrt(float(np.median(b / a)))
        scored = []
        for ratio in (0.1, 0.3, 1.0, 3.0, 10.0):
            for p in (-0.5, 0.0, 0.5, 1.0):
                shape, _ = _box_cox(np.log((ratio * scale) ** 2 * a + b), p)
                design = np.column_stack((np.ones_like(shape), shape))
                coef, *_ = np.linalg.lstsq(design, y, rcond=None)
                coef[1] = max(coef[1], 1e-6)
                sse = float(np.sum((design @ coef - y) ** 2))
                scored.append((sse, cls(float(coef[0]), float(coef[1]), ratio * scale, p)))
        scored.sort(key=lambda item: item[0])
        return [law for _, law in scored[:4]]

    @classmethod
    def prior(cls) -> Mapping[str, tuple[float, float]]:
        """None: the four parameters are the loss's floor and scale and the bound's own two."""
        return {}


@dataclass(frozen=True)
class ConvexDropLaw(AreaLaw):
    """A power law of the learning-rate area less the drop the convex bound gives a decay (Schaipp et al. 2025).

    ``L(t) = L0 + A * S1(t)^(-alpha) - C * (b_hold(t) - b(t))`` with ``S1(t) = sum_{i<t} eta_i`` (the power law
    in the area of Luo et al., arXiv:2503.12811, and Tissue et al., arXiv:2408.11029, for a constant rate),
    ``b(t)`` the gradient-noise part of the convex last-iterate bound (Defazio et al., arXiv:2310.07831,
    Theorem 10, with ``G = 1``; :func:`bound_terms`) and ``b_hold(t)`` the same for the schedule held at its
    running maximum (the warmup, then the peak: no decrease). A constant rate has no drop; a decay lowers
    the bound's noise term, by more for a longer decay from the same peak (Schaipp et al., ICML 2025,
    arXiv:2501.18965: the bound's cooldown benefit matches real runs). Four parameters: ``L0, A, alpha, C``;
    the bias term ``D^2 / (2 S)`` of the bound is the power law's place.

    >>> import lrkit as lk
    >>> law = ConvexDropLaw(L0=3.0, A=0.9, alpha=0.45, C=40.0)
    >>> hold = (lk.warmup(300, start=0.01) >> lk.constant(1.0)) * 1e-3
    >>> wsd = (lk.warmup(300, start=0.01) >> lk.constant(1.0, 5700) >> lk.linear(4000, 1.0, 0.0)) * 1e-3
    >>> round(law.final(hold, 10000), 4), law.final(wsd, 10000) < law.final(hold, 10000)
    (3.3215, True)
    """

    name: ClassVar[str] = "convex_drop"
    formula: ClassVar[str] = "L0 + A*S1^-alpha - C*(b_hold - b), b = the convex bound's noise term (G = 1)"

    @classmethod
    def prepare(cls, lrs: np.ndarray, steps: np.ndarray, resolution: int = 1, **settings: Any) -> _AreaData:
        prefix = np.concatenate(([0.0], np.cumsum(lrs)))
        s1 = prefix[steps]
        if np.any(s1 <= 0):
            raise ValueError("steps: the law needs some learning-rate area before each step (S1 > 0)")
        _, b = bound_terms(lrs, steps)
        _, hold = bound_terms(np.maximum.accumulate(lrs), steps)
        return _AreaData(s1, hold - b)

    def final_gradient(self, lrs: np.ndarray) -> tuple[float, np.ndarray]:
        L0, A, alpha, C = self.vector()
        held = np.maximum.accumulate(lrs)
        total = float(lrs.sum())
        _, b, d_b, _ = _noise_gradient(lrs)
        _, b_hold, d_hold, _ = _noise_gradient(held)
        # held[i] = lrs[first argmax up to i]: each held rate's gradient goes to the rate it copies
        source = np.maximum.accumulate(np.where(lrs == held, np.arange(lrs.size), 0))
        d_hold = np.bincount(source, weights=d_hold, minlength=lrs.size)
        loss = L0 + A * total ** (-alpha) - C * (b_hold - b)
        return float(loss), -alpha * A * total ** (-alpha - 1.0) - C * (d_hold - d_b)


LAWS[ConvexBoundLaw.name] = ConvexBoundLaw
LAWS[ConvexDropLaw.name] = ConvexDropLaw
