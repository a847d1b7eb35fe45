"""The schedule families: each a closed form of the step ``t``.

All values are unitless multipliers (peak 1.0 unless a parameter says otherwise);
scale them with ``* base_lr`` or let an adapter multiply each group's base LR.
Every family validates its parameters on construction.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.backend import MATH, Namespace
from lrkit.core.routing import IDENTITY, PHASE_MARKS, CycleIndex, Route
from lrkit.core.schedule import Schedule, _derived, child, param, value

__all__ = [
    "SGDR",
    "SHAPES",
    "Anneal",
    "Constant",
    "Cosine",
    "Cyclic",
    "Exponential",
    "InverseSqrt",
    "InverseTime",
    "Linear",
    "MultiStep",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "Polynomial",
    "StepDecay",
    "TanhDecay",
    "UntunedWarmup",
    "Warmup",
]

#: Interpolation shapes understood by :class:`Anneal` (and ``warmup``/``wsd``).
SHAPES = ("linear", "cos", "exp", "poly", "1-sqrt")
_INF = math.inf


def ramp(t: Any, steps: float, start: float, end: float, shape: str, xp: Namespace, power: float = 1.0) -> Any:
    """Move from ``start`` (t=0) to ``end`` (t=steps) along ``shape``; exact at both ends.

    With ``p = t / steps`` and the remaining fraction ``h(p)`` (``h(0)=1``, ``h(1)=0``),
    ``value = (end - end h) + start h`` (clipped to ``[start, end]``), where ``h`` is ``1-p`` (linear),
    ``(1+cos(pi p))/2`` (cos), ``(1-p)^power`` (poly) or ``1-sqrt(p)`` (1-sqrt);
    ``exp`` is geometric: ``value = end * (start/end)^(1-p)`` (``start^(1-p) * end^p`` where ``start/end`` is past
    the float range).

    >>> from lrkit.core.backend import MATH
    >>> ramp(5.0, 10, 1.0, 0.0, "cos", MATH), ramp(10.0, 10, 1.0, 0.25, "1-sqrt", MATH)
    (0.5, 0.25)
    """
    low, high = (start, end) if start < end else (end, start)
    if shape == "exp":
        p = t / steps
        if sys.float_info.min <= start / end < _INF:
            value = xp.where(p <= 0.0, start, end * (start / end) ** (1.0 - p))
        else:  # start / end passes the float range (1.0 to 1e-310): the same ramp as two powers, each in range
            value = xp.where(p <= 0.0, start, start ** (1.0 - p) * end**p)
    else:  # each shape computes only what it reads (a pass over an array less for linear and poly)
        if shape == "linear":
            h = (steps - t) / steps  # exactly 0 at t = steps in every namespace (1 - t/steps is not, under XLA)
        elif shape == "cos":
            h = (xp.cos(t / steps * math.pi) + 1.0) * 0.5
        elif shape == "poly":
            rest = (steps - t) / steps
            if xp.traced and 0 < power < 1:  # d/dx x^p is inf at x = 0 (the end, held past it): jax.grad would give
                # inf * 0 = NaN there; where x is 0 the value is the constant 0 (x^p, not differentiated)
                h = xp.where(rest > 0.0, xp.where(rest > 0.0, rest, 1.0) ** power, 0.0)
            else:
                h = rest**power
        else:  # "1-sqrt"
            h = 1.0 - xp.sqrt(t / steps)
        if not end:  # h is in [0, 1]: start * h is in [start, 0] or [0, start] already, the clip would change nothing
            return xp.blend(h, start, end)
        value = xp.blend(h, start, end)
    return xp.clip(value, low, high)


def _check_exp(who: str, start: float, end: float) -> None:
    if not (start > 0 and end > 0):
        raise ValueError(
            f"{who}: shape='exp' needs start > 0 and end > 0, got start={start!r}, end={end!r}; "
            "a geometric ramp cannot pass through 0 (try start=0.01 or shape='linear')"
        )


@value
class Constant(Schedule):
    """A constant value, optionally for a fixed number of steps.

    ``f(t) = value``. With ``steps`` it is finite (useful as the stable phase of a join).

    >>> constant(0.5)(123)
    0.5
    """

    name = "constant"
    holds = True
    value: float = param(v.rate, default=1.0)
    steps: float | None = param(v.optional_length, default=None)
    _float: float = _derived()

    def _setup(self) -> float | None:
        self._derive(_float=float(self.value))
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.full(t, self.value)

    def __call__(self, step: Any) -> Any:
        """The value, with no closed form to evaluate: a number at once, an array of integer steps filled
        without converting them (the one check: no step below 0); anything else as every schedule does."""
        kind = type(step)
        if kind is int:
            if 0 <= step < 9007199254740992:
                return self._float
        elif kind is float:
            if 0.0 <= step < _INF:
                return self._float
        elif kind is np.ndarray and step.dtype.kind in "iu" and step.size and step.min() >= 0:
            return np.full(step.shape, self._float)
        return Schedule.__call__(self, step)


@value
class Anneal(Schedule):
    """Move from ``start`` to ``end`` over ``steps`` along a shape (the general ramp).

    ``f(t) = start * h(t/steps) + end * (1 - h(t/steps))``; see :func:`ramp` for ``h`` per shape
    (``linear``, ``cos``, ``exp``, ``poly`` with ``power``, ``1-sqrt``). Exactly
    ``end`` at ``t = steps``. Used for one-cycle phases and anything that rises.

    >>> s = anneal(10, start=0.1, end=1.0, shape='cos')
    >>> s(0), s(10)
    (0.1, 1.0)
    """

    name = "anneal"
    steps: float = param(v.length)
    start: float = param(v.rate)
    end: float = param(v.rate)
    shape: str = param(v.choice_of(*SHAPES), default="cos")
    power: float = param(v.positive, default=1.0)

    def _setup(self) -> float | None:
        if self.shape == "exp":
            _check_exp(self.name, self.start, self.end)
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, self.shape, xp, self.power)


@value
class Linear(Schedule):
    """Linear interpolation from ``start`` to ``end`` over ``steps``.

    ``f(t) = start + (end - start) * t/steps``.

    >>> s = linear(4)
    >>> s(0), s(1), s(4), s(100)
    (1.0, 0.75, 0.0, 0.0)
    """

    name = "linear"
    steps: float = param(v.length)
    start: float = param(v.rate, default=1.0)
    end: float = param(v.rate, default=0.0)

    def _setup(self) -> float | None:
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, "linear", xp)


@value
class Cosine(Schedule):
    """Cosine annealing from ``peak`` to ``floor`` over ``steps`` (Loshchilov & Hutter, 2017).

    ``f(t) = floor + (peak - floor) * (1 + cos(pi * (t/steps)^k)) / 2``; ``k > 1`` is the
    k-decay variant (Zhang et al., 2020) that stays high longer. Exactly ``floor`` at
    ``t = steps`` and after.

    >>> s = cosine(100, floor=0.1)
    >>> s(0), s(50), s(100)
    (1.0, 0.55, 0.1)
    """

    name = "cosine"
    steps: float = param(v.length)
    floor: float = param(v.rate, default=0.0)
    peak: float = param(v.rate, default=1.0)
    k: float = param(v.positive, default=1.0)

    def _setup(self) -> float | None:
        v.ordered(
            self.name, "floor", self.floor, "peak", self.peak,
            "to rise along a cosine use anneal(steps, start, end, shape='cos')",
        )
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.k == 1.0:
            return ramp(t, self.steps, self.peak, self.floor, "cos", xp)
        return ramp((t / self.steps) ** self.k, 1.0, self.peak, self.floor, "cos", xp)


@value
class Polynomial(Schedule):
    """Polynomial decay from ``start`` to ``end`` over ``steps`` (optax ``polynomial_schedule``, torch
    ``PolynomialLR``).

    ``f(t) = end + (start - end) * (1 - t/steps)^power``; ``power=1`` is :class:`Linear`.
    The parameters after ``steps`` are keyword-only, in :class:`Linear`'s order (``start``, ``end``)
    then ``power``; positional ones are read in the old order (``power``, ``end``, ``start``), so
    old configs keep their meaning.

    >>> polynomial(10, power=2.0)(5)
    0.25
    """

    name = "polynomial"
    positions: ClassVar[tuple[str, ...]] = ("power", "end", "start")
    steps: float = param(v.length)
    start: float = param(v.rate, default=1.0, kw_only=True)
    end: float = param(v.rate, default=0.0, kw_only=True)
    power: float = param(v.positive, default=1.0, kw_only=True)

    def _setup(self) -> float | None:
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, "poly", xp, self.power)


@value
class Warmup(Schedule):
    """Warm up from ``start`` to ``peak`` over ``steps``; put it in front of anything with ``>>``.

    Shapes: ``linear`` (Goyal et al., 2017) ``f(t) = start + (peak - start) * t/steps``;
    ``cos`` (half-cosine rise); ``exp`` (geometric, needs ``start > 0``). Exactly ``peak``
    at ``t = steps``.

    **The first update is never wasted.** By default (``start=None``) the ramp starts one step
    in: ``start = peak / (steps + 1)``, so the linear warmup is ``f(t) = peak (t + 1) / (steps + 1)``
    and the first update (``t = 0``) runs at ``peak / (steps + 1)``, not at 0 (an update at LR 0
    does nothing for SGD and only moves Adam's moments; Hugging Face users hit exactly this).
    ``start=0.0`` gives the classical ramp from 0; the peer-compat constructors keep their peers'
    own starts.

    >>> s = warmup(4) >> cosine(10)
    >>> s(0), s(1), s(4)
    (0.2, 0.4, 1.0)
    >>> warmup(4, start=0.0)(0), warmup(4, start=0.0)(2)
    (0.0, 0.5)
    """

    name = "warmup"
    steps: float = param(v.length)
    start: float | None = param(v.optional(v.rate), default=None)
    shape: str = param(v.choice_of("linear", "cos", "exp"), default="linear")
    peak: float = param(v.rate, default=1.0)
    _first: float = _derived()

    def _setup(self) -> float | None:
        first = self.peak / (self.steps + 1.0) if self.start is None else self.start
        v.ordered(self.name, "start", first, "peak", self.peak, "a warmup rises")
        if self.shape == "exp":
            _check_exp(self.name, first, self.peak)
        self._derive(_first=first)
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self._first, self.peak, self.shape, xp)


@value
class UntunedWarmup(Schedule):
    """The "untuned" Adam warmup of Ma & Yarats (2019), set by ``beta2`` alone.

    ``linear``: ``f(t) = min(1, t * (1 - beta2) / 2)``, length ``ceil(2 / (1 - beta2))``
    (2000 updates for beta2 = 0.999), so it composes with ``>>``.
    ``exp``: ``f(t) = 1 - exp(-(1 - beta2) t)``, infinite; compose it with ``*``.

    >>> s = untuned_warmup(0.999)
    >>> s.length, round(s(1000), 12), s(2000)
    (2000, 0.5, 1.0)
    """

    name = "untuned_warmup"
    beta2: float = param(v.fraction_in(open_low=True, open_high=True), default=0.999)
    shape: str = param(v.choice_of("linear", "exp"), default="linear")

    def _setup(self) -> float | None:
        return math.ceil(2.0 / (1.0 - self.beta2)) if self.shape == "linear" else None

    def _eval(self, t: Any, xp: Namespace) -> Any:
        rate = 1.0 - self.beta2
        if self.shape == "linear":  # t * (rate / 2) is t * rate / 2 bit for bit (halving is exact): one pass
            return xp.minimum(t * (rate / 2.0), 1.0)
        return -xp.expm1(-rate * t)


@value
class StepDecay(Schedule):
    """Multiply by ``decay`` every ``every`` steps (torch ``StepLR``; ``decay`` was ``factor``, still read).

    ``f(t) = decay ^ floor(t / every)``.

    >>> s = step_decay(3, decay=0.5)
    >>> [s(t) for t in (0, 2, 3, 6)]
    [1.0, 1.0, 0.5, 0.25]
    """

    name = "step_decay"
    aliases: ClassVar[Mapping[str, str]] = {"factor": "decay"}
    every: float = param(v.length)
    decay: float = param(v.factor, default=0.1)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.power(self.decay, xp.quotient(t, self.every))


class _Table(Schedule):
    """A family given at increasing edges (milestones, boundaries, knots): it holds its last value past the last
    edge by itself (:attr:`~lrkit.Schedule.holds`), its length is the last edge, and its phases start at the edges
    (the inner ones, where the first edge is 0)."""

    holds = True
    #: The edges' parameter, and whether the first edge is 0 (knots) rather than > 0.
    _edges_field: ClassVar[str]
    _at_zero: ClassVar[bool] = False

    def _edges(self) -> Sequence[float]:
        return getattr(self, self._edges_field)  # type: ignore[no-any-return]

    def _setup(self) -> float | None:
        edges = self._edges()
        self._check_count(len(edges))
        if edges and (edges[0] != 0 if self._at_zero else edges[0] <= 0):
            rule = "start at 0" if self._at_zero else "be > 0"
            raise ValueError(f"{self.name}: {self._edges_field} must {rule}, got {edges[0]!r}")
        return edges[-1] if edges else None

    def _check_count(self, edges: int) -> None:
        """Raise if a table of ``edges`` edges (and the values given) is the wrong size."""

    def phase_starts(self, until: float, limit: int = PHASE_MARKS) -> list[float]:
        edges = self._edges()
        return [float(e) for e in (edges[1:-1] if self._at_zero else edges) if e < until][:limit]


@value
class MultiStep(_Table):
    """Multiply by ``decay`` at each milestone (torch ``MultiStepLR``; ``decay`` was ``factor``, still read).

    ``f(t) = decay ^ (number of milestones <= t)``. Milestones strictly increase.

    >>> s = multistep([10, 20], decay=0.1)
    >>> s(9), s(10), round(s(25), 15)
    (1.0, 0.1, 0.01)
    """

    name = "multistep"
    _edges_field = "milestones"
    aliases: ClassVar[Mapping[str, str]] = {"factor": "decay"}
    milestones: Sequence[float] = param(v.increasing)
    decay: float = param(v.factor, default=0.1)
    _levels: tuple[float, ...] = _derived()

    def _check_count(self, edges: int) -> None:
        if not edges:
            raise ValueError(f"{self.name}: milestones must not be empty; give the steps where the value drops")

    def _setup(self) -> float | None:
        length = super()._setup()
        # decay ** k after k milestones, as a table: a lookup, not a power, on every backend
        self._derive(_levels=tuple(self.decay ** float(k) for k in range(len(self.milestones) + 1)))
        return length

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.lookup(t, self.milestones, self._levels)


@value
class Exponential(Schedule):
    """Exponential decay (Keras ``ExponentialDecay``, torch ``ExponentialLR`` with ``every=1``).

    ``f(t) = decay ^ (t / every)``, or ``decay ^ floor(t / every)`` with ``staircase``
    (``decay`` was ``factor``, still read).

    >>> exponential(0.5, every=10)(5)
    0.7071067811865476
    """

    name = "exponential"
    aliases: ClassVar[Mapping[str, str]] = {"factor": "decay"}
    decay: float = param(v.factor)
    every: float = param(v.length, default=1)
    staircase: bool = param(v.flag, default=False)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.staircase:
            return xp.power(self.decay, xp.quotient(t, self.every))
        return self.decay ** (t / self.every if self.every != 1 else t)


@value
class InverseTime(Schedule):
    """Inverse-time ("time-based") decay (Keras ``InverseTimeDecay``, Keras 2 ``decay=``).

    ``f(t) = 1 / (1 + rate * t / every)``, or with ``floor(t / every)`` if ``staircase``.

    >>> inverse_time(0.5, every=10)(20)
    0.5
    """

    name = "inverse_time"
    rate: float = param(v.non_negative)
    every: float = param(v.length, default=1)
    staircase: bool = param(v.flag, default=False)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        p = xp.quotient(t, self.every) if self.staircase else t / self.every if self.every != 1 else t
        return 1.0 / (1.0 + self.rate * p)


@value
class InverseSqrt(Schedule):
    """Inverse square root decay (Vaswani et al., 2017), 1.0 at t=0.

    ``f(t) = 1 / sqrt(1 + t / timescale)``. ``warmup(w) >> inverse_sqrt(w)`` is the
    Transformer ("Noam") schedule: peak at ``w``, then ``sqrt(w / step)``.

    >>> inverse_sqrt(100)(300)
    0.5
    """

    name = "inverse_sqrt"
    timescale: float = param(v.length, default=1)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return 1.0 / xp.sqrt(1.0 + t / self.timescale)


@value
class TanhDecay(Schedule):
    """Hyperbolic-tangent decay (Hsueh et al., 2019; timm ``TanhLRScheduler``).

    ``f(t) = floor + (1 - floor) * (1 - tanh(lower + (upper - lower) * t/steps)) / 2``.

    >>> round(tanh_decay(100)(0), 6), round(tanh_decay(100)(100), 6)
    (0.999999, 0.002473)
    """

    name = "tanh_decay"
    steps: float = param(v.length)
    floor: float = param(v.rate, default=0.0)
    lower: float = param(v.number, default=-7.0)
    upper: float = param(v.number, default=3.0)

    def _setup(self) -> float | None:
        if not self.lower < self.upper:
            raise ValueError(f"{self.name}: lower must be < upper, got lower={self.lower!r}, upper={self.upper!r}")
        if self.floor > 1:
            raise ValueError(f"{self.name}: floor must be <= 1 (the peak), got {self.floor!r}")
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        p = t / self.steps
        z = xp.clip(self.lower * (1.0 - p) + self.upper * p, -300.0, 300.0)
        return self.floor + (1.0 - self.floor) / (1.0 + xp.exp(2.0 * z))  # (1 - tanh z) / 2, without cancelling


@value
class PiecewiseConstant(_Table):
    """Piecewise constant: ``values[i]`` from ``boundaries[i-1]`` (inclusive) to ``boundaries[i]``.

    ``f(t) = values[#{b in boundaries : b <= t}]``; ``len(values) == len(boundaries) + 1``.

    >>> s = piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    >>> s(9), s(10), s(20)
    (1.0, 0.5, 0.1)
    """

    name = "piecewise_constant"
    _edges_field = "boundaries"
    boundaries: Sequence[float] = param(v.increasing)
    values: Sequence[float] = param(v.rates_list)

    def _check_count(self, edges: int) -> None:
        if len(self.values) != edges + 1:
            raise ValueError(
                f"{self.name}: values must have one more entry than boundaries, got {len(self.values)} values "
                f"for {edges} boundaries"
            )

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.lookup(t, self.boundaries, self.values)


@value
class PiecewiseLinear(_Table):
    """Linear interpolation through ``(knots[i], values[i])``; holds the last value after.

    >>> s = piecewise_linear([0, 10, 30], [0.0, 1.0, 0.0])
    >>> s(5), s(20), s(40)
    (0.5, 0.5, 0.0)
    """

    name = "piecewise_linear"
    _edges_field, _at_zero = "knots", True
    knots: Sequence[float] = param(v.increasing)
    values: Sequence[float] = param(v.rates_list)

    def _check_count(self, edges: int) -> None:
        if edges < 2 or len(self.values) != edges:
            raise ValueError(
                f"{self.name}: knots and values must have the same length >= 2, got {edges} knots and "
                f"{len(self.values)} values"
            )

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.interp(t, self.knots, self.values)


@value
class SGDR(Schedule):
    """Cosine annealing with warm restarts (Loshchilov & Hutter, 2017).

    Cycle ``i`` lasts ``T_i = period * mult^i`` and starts at ``S_i = sum_{j<i} T_j``;
    inside it ``f = floor + (decay^i - floor) * (1 + cos(pi (t - S_i) / T_i)) / 2``.
    The cycle index is found on exact boundaries (integers stay integers), so with
    ``period=10, mult=3`` step 1210 starts cycle 5 exactly. With ``cycles=n`` the
    schedule ends after ``n`` cycles at ``floor``.

    >>> s = sgdr(10, mult=3)
    >>> s(1209) < 1e-4, s(1210)
    (True, 1.0)
    """

    name = "sgdr"
    period: float = param(v.length)
    mult: float = param(v.number, default=1)
    decay: float = param(v.factor, default=1.0)
    floor: float = param(v.rate, default=0.0)
    cycles: int | None = param(v.optional(v.integer), default=None)

    def _setup(self) -> float | None:
        if self.mult < 1:
            raise ValueError(f"{self.name}: mult must be >= 1, got {self.mult!r}; each cycle is mult times the last")
        if not (self.mult - 1.0) * (v.MAX_COUNT / self.period) < _INF:  # the cycle index's t * (mult - 1) / period
            raise ValueError(
                f"{self.name}: mult={self.mult!r} with period={self.period!r} overflows the cycle index's float "
                "arithmetic before step 2**53; a cycle that long never ends: give a smaller mult"
            )
        if self.floor > 1:
            raise ValueError(f"{self.name}: floor must be <= 1 (the first peak), got {self.floor!r}")
        if self.cycles is None:
            return None
        try:
            length = self._start(self.cycles)
        except OverflowError:
            length = math.inf
        if not math.isfinite(length):
            raise ValueError(
                f"{self.name}: cycles={self.cycles!r} with period={self.period!r}, mult={self.mult!r} is longer "
                "than a float can hold; give fewer cycles, or cycles=None for restarts forever"
            )
        return length  # type: ignore[no-any-return]

    def _start(self, i: Any, xp: Namespace = MATH) -> Any:
        """``S_i``, the step at which cycle ``i`` starts: ``period * i`` or ``period (mult^i - 1) / (mult - 1)``."""
        if self.mult == 1:
            return self.period * i
        return self._after(xp.power(self.mult, i))

    def _after(self, grow: Any) -> Any:
        """``period (grow - 1) / (mult - 1)``: the steps of the cycles before the one of length ``period * grow``
        (a division by ``mult - 1 == 1.0`` is no operation: ``x / 1.0`` is ``x``, bit for bit)."""
        before = self.period * (grow - 1.0)
        return before if self.mult == 2 else before / (self.mult - 1.0)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.mult == 1:
            index = xp.quotient(t, self.period)
        else:  # the closed-form index, then one correction each way onto the exact boundary
            scaled = t if self.mult == 2 else t * (self.mult - 1.0)  # t * 1.0 is t, bit for bit
            index = xp.floor(xp.log(scaled / self.period + 1.0) / math.log(self.mult))
            index = xp.where(self._start(index, xp) > t, index - 1.0, index)
            index = xp.where(self._start(index + 1.0, xp) <= t, index + 1.0, index)
        if self.cycles is not None:
            index = xp.minimum(index, float(self.cycles - 1))
        if self.mult == 1:
            start, period = self.period * index, self.period
        else:  # mult ** index once, for the cycle's start and its length (the same power _start takes)
            grow = xp.power(self.mult, index)
            start, period = self._after(grow), self.period * grow
        peak = xp.power(self.decay, index) if self.decay != 1 else 1.0  # 1 ** i is 1: no pass over an array
        return self.floor + (peak - self.floor) * 0.5 * (1.0 + xp.cos(math.pi * (t - start) / period))

    def phase_starts(self, until: float, limit: int = PHASE_MARKS) -> list[float]:
        out: list[float] = []
        start, i = 0.0, 0
        while len(out) < limit:
            start += self.period * self.mult**i
            i += 1
            if start >= until or (self.cycles is not None and i >= self.cycles):
                break
            out.append(float(start))
        return out


@value
class Cyclic(Schedule):
    """Cyclical learning rates (Smith, 2017): a triangle between ``floor`` and ``peak``.

    Each cycle rises for ``up`` steps and falls for ``down`` (default ``up``). With
    ``u = t mod (up + down)``, ``tri = u/up`` rising and ``(up+down-u)/down`` falling,
    ``f(t) = floor + (peak - floor) * tri * a``, where the amplitude ``a`` is 1
    (``triangular``), ``0.5^cycle`` (``triangular2``), ``decay^t`` (``exp_range``), or
    a schedule ``amplitude`` evaluated at the cycle index (``amplitude_by='cycle'``,
    0-based) or at the step (``'step'``). ``peak < floor`` cycles downward (momentum).
    ``floor`` was ``base`` and ``decay`` was ``gamma`` (torch's names; both still read).

    >>> s = cyclic(5, floor=0.1, mode='triangular2')
    >>> s(0), s(5), s(15)
    (0.1, 1.0, 0.55)
    """

    name = "cyclic"
    aliases: ClassVar[Mapping[str, str]] = {"base": "floor", "gamma": "decay"}
    up: float = param(v.length)
    down: float | None = param(v.optional_length, default=None)
    floor: float = param(v.rate, default=0.1)
    peak: float = param(v.rate, default=1.0)
    mode: str = param(v.choice_of("triangular", "triangular2", "exp_range"), default="triangular")
    decay: float = param(v.factor, default=1.0)
    amplitude: Schedule | None = param(v.optional(child), default=None)
    amplitude_by: str = param(v.choice_of("cycle", "step"), default="cycle")

    def _setup(self) -> float | None:
        total = self.up + (self.up if self.down is None else self.down)
        if not total < _INF:
            raise ValueError(
                f"{self.name}: up + down must be at most {sys.float_info.max:.2g} (a cycle's length is a float), got "
                f"up={self.up!r}, down={self.down!r}; give a shorter cycle"
            )
        if self.amplitude is not None:
            self._set_routes(Route(self.amplitude, map=CycleIndex(total) if self.amplitude_by == "cycle" else IDENTITY))
        return None

    def _eval(self, t: Any, xp: Namespace) -> Any:
        up = self.up
        down = up if self.down is None else self.down
        total = up + down
        cycle = xp.quotient(t, total)
        u = t - cycle * total
        # <= 1 by construction; >= 0 also where t is so large that t - cycle * total has lost the cycle's precision
        tri = xp.maximum(xp.where(u <= up, u / up, (total - u) / down), 0.0)
        if self._routes:
            amp = self._routes[0].value(t, xp)
        elif self.mode == "triangular2":
            amp = xp.power(0.5, cycle)
        elif self.mode == "exp_range":
            amp = self.decay**t
        else:
            return self.floor + (self.peak - self.floor) * tri
        return self.floor + (self.peak - self.floor) * tri * amp

    def phase_starts(self, until: float, limit: int = PHASE_MARKS) -> list[float]:
        total = self.up + (self.up if self.down is None else self.down)
        count = min(int(until // total), limit) if math.isfinite(until) else limit
        return [float(total * i) for i in range(1, count + 1) if total * i < until]
