"""The schedule families: each a closed form of the step ``t``.

All values are unitless multipliers (peak 1.0 unless a parameter says otherwise);
scale them with ``* base_lr`` or let an adapter multiply each group's base LR.
Every family validates its parameters on construction.
"""

from __future__ import annotations

import math
from typing import Any

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.routing import IDENTITY, CycleIndex, Route
from lrkit.core.schedule import Schedule

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


def ramp(t: Any, steps: float, start: float, end: float, shape: str, xp: Namespace, power: float = 1.0) -> Any:
    """Move from ``start`` (t=0) to ``end`` (t=steps) along ``shape``; exact at both ends.

    With ``p = t / steps`` and the remaining fraction ``h(p)`` (``h(0)=1``, ``h(1)=0``),
    ``value = (end - end h) + start h`` (clipped to ``[start, end]``), where ``h`` is ``1-p`` (linear),
    ``(1+cos(pi p))/2`` (cos), ``(1-p)^power`` (poly) or ``1-sqrt(p)`` (1-sqrt);
    ``exp`` is geometric: ``value = end * (start/end)^(1-p)``.

    >>> from lrkit.core.backend import MATH
    >>> ramp(5.0, 10, 1.0, 0.0, "cos", MATH), ramp(10.0, 10, 1.0, 0.25, "1-sqrt", MATH)
    (0.5, 0.25)
    """
    p = t / steps
    low, high = (start, end) if start < end else (end, start)
    if shape == "exp":
        value = xp.where(p <= 0.0, start, end * (start / end) ** (1.0 - p))
    else:
        if shape == "linear":
            h = (steps - t) / steps  # exactly 0 at t = steps in every namespace (1 - t/steps is not, under XLA)
        elif shape == "cos":
            h = (xp.cos(p * math.pi) + 1.0) * 0.5
        elif shape == "poly":
            h = ((steps - t) / steps) ** power
        else:  # "1-sqrt"
            h = 1.0 - xp.sqrt(p)
        value = (end - h * end) + start * h if end else start * h
    return xp.clip(value, low, high)


def _check_exp(who: str, start: float, end: float) -> None:
    if not (start > 0 and end > 0):
        raise ValueError(
            f"{who}: shape='exp' needs start > 0 and end > 0, got start={start!r}, end={end!r}; "
            "a geometric ramp cannot pass through 0 (try start=0.01 or shape='linear')"
        )


class Constant(Schedule):
    """A constant value, optionally for a fixed number of steps.

    ``f(t) = value``. With ``steps`` it is finite (useful as the stable phase of a join).

    >>> constant(0.5)(123)
    0.5
    """

    name = "constant"
    value: float
    steps: float | None

    def __init__(self, value: float = 1.0, steps: float | None = None):
        value = v.number(self.name, "value", value)
        steps = v.optional_length(self.name, "steps", steps)
        self._init(steps, value=value, steps=steps)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.full(t, self.value)


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
    steps: float
    start: float
    end: float
    shape: str
    power: float

    def __init__(self, steps: float, start: float, end: float, shape: str = "cos", power: float = 1.0):
        steps = v.length(self.name, "steps", steps)
        start = v.number(self.name, "start", start)
        end = v.number(self.name, "end", end)
        shape = v.choice(self.name, "shape", shape, SHAPES)
        power = v.positive(self.name, "power", power)
        if shape == "exp":
            _check_exp(self.name, start, end)
        self._init(steps, steps=steps, start=start, end=end, shape=shape, power=power)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, self.shape, xp, self.power)


class Linear(Schedule):
    """Linear interpolation from ``start`` to ``end`` over ``steps``.

    ``f(t) = start + (end - start) * t/steps``.

    >>> s = linear(4)
    >>> s(0), s(1), s(4), s(100)
    (1.0, 0.75, 0.0, 0.0)
    """

    name = "linear"
    steps: float
    start: float
    end: float

    def __init__(self, steps: float, start: float = 1.0, end: float = 0.0):
        steps = v.length(self.name, "steps", steps)
        start = v.number(self.name, "start", start)
        end = v.number(self.name, "end", end)
        self._init(steps, steps=steps, start=start, end=end)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, "linear", xp)


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
    steps: float
    floor: float
    peak: float
    k: float

    def __init__(self, steps: float, floor: float = 0.0, peak: float = 1.0, k: float = 1.0):
        steps = v.length(self.name, "steps", steps)
        floor = v.number(self.name, "floor", floor)
        peak = v.number(self.name, "peak", peak)
        k = v.positive(self.name, "k", k)
        if floor > peak:
            raise ValueError(
                f"{self.name}: floor must be <= peak, got floor={floor!r} > peak={peak!r}; "
                "to rise along a cosine use anneal(steps, start, end, shape='cos')"
            )
        self._init(steps, steps=steps, floor=floor, peak=peak, k=k)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.k == 1.0:
            return ramp(t, self.steps, self.peak, self.floor, "cos", xp)
        return ramp((t / self.steps) ** self.k, 1.0, self.peak, self.floor, "cos", xp)


class Polynomial(Schedule):
    """Polynomial decay from ``start`` to ``end`` over ``steps``.

    ``f(t) = end + (start - end) * (1 - t/steps)^power``; ``power=1`` is linear.

    >>> polynomial(10, power=2.0)(5)
    0.25
    """

    name = "polynomial"
    steps: float
    power: float
    end: float
    start: float

    def __init__(self, steps: float, power: float = 1.0, end: float = 0.0, start: float = 1.0):
        steps = v.length(self.name, "steps", steps)
        power = v.positive(self.name, "power", power)
        end = v.number(self.name, "end", end)
        start = v.number(self.name, "start", start)
        self._init(steps, steps=steps, power=power, end=end, start=start)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self.start, self.end, "poly", xp, self.power)


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
    steps: float
    start: float | None
    shape: str
    peak: float
    _first: float

    def __init__(self, steps: float, start: float | None = None, shape: str = "linear", peak: float = 1.0):
        steps = v.length(self.name, "steps", steps)
        start = None if start is None else v.number(self.name, "start", start)
        shape = v.choice(self.name, "shape", shape, ("linear", "cos", "exp"))
        peak = v.number(self.name, "peak", peak)
        first = peak / (steps + 1.0) if start is None else start
        if first > peak:
            raise ValueError(
                f"{self.name}: start must be <= peak, got start={first!r} > peak={peak!r}; a warmup rises"
            )
        if shape == "exp":
            _check_exp(self.name, first, peak)
        self._init(steps, steps=steps, start=start, shape=shape, peak=peak)
        object.__setattr__(self, "_first", first)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return ramp(t, self.steps, self._first, self.peak, self.shape, xp)


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
    beta2: float
    shape: str

    def __init__(self, beta2: float = 0.999, shape: str = "linear"):
        beta2 = v.fraction(self.name, "beta2", beta2, open_low=True, open_high=True)
        shape = v.choice(self.name, "shape", shape, ("linear", "exp"))
        rate = 1.0 - beta2
        length = math.ceil(2.0 / rate) if shape == "linear" else None
        self._init(length, beta2=beta2, shape=shape)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        rate = 1.0 - self.beta2
        if self.shape == "linear":
            return xp.minimum(t * rate / 2.0, 1.0)
        return -xp.expm1(-rate * t)


class StepDecay(Schedule):
    """Multiply by ``factor`` every ``every`` steps (torch ``StepLR``).

    ``f(t) = factor ^ floor(t / every)``.

    >>> s = step_decay(3, factor=0.5)
    >>> [s(t) for t in (0, 2, 3, 6)]
    [1.0, 1.0, 0.5, 0.25]
    """

    name = "step_decay"
    every: float
    factor: float

    def __init__(self, every: float, factor: float = 0.1):
        every = v.length(self.name, "every", every)
        factor = v.factor(self.name, "factor", factor)
        self._init(None, every=every, factor=factor)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.factor ** xp.quotient(t, self.every)


class MultiStep(Schedule):
    """Multiply by ``factor`` at each milestone (torch ``MultiStepLR``).

    ``f(t) = factor ^ (number of milestones <= t)``. Milestones strictly increase.

    >>> s = multistep([10, 20], factor=0.1)
    >>> s(9), s(10), round(s(25), 15)
    (1.0, 0.1, 0.01)
    """

    name = "multistep"
    milestones: tuple[Any, ...]
    factor: float
    _levels: tuple[float, ...]

    def __init__(self, milestones: Any, factor: float = 0.1):
        milestones = v.increasing(self.name, "milestones", milestones)
        if not milestones:
            raise ValueError(f"{self.name}: milestones must not be empty; give the steps where the value drops")
        if milestones[0] <= 0:
            raise ValueError(f"{self.name}: milestones must be > 0, got {milestones[0]!r}")
        factor = v.factor(self.name, "factor", factor)
        self._init(milestones[-1], milestones=milestones, factor=factor)
        # factor ** k after k milestones, as a table: a lookup, not a power, on every backend
        object.__setattr__(self, "_levels", tuple(factor ** float(k) for k in range(len(milestones) + 1)))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.lookup(t, self.milestones, self._levels)

    def phase_starts(self, until: float) -> list[float]:
        return [float(m) for m in self.milestones if 0 < m < until]


class Exponential(Schedule):
    """Exponential decay (Keras ``ExponentialDecay``, torch ``ExponentialLR`` with ``every=1``).

    ``f(t) = factor ^ (t / every)``, or ``factor ^ floor(t / every)`` with ``staircase``.

    >>> exponential(0.5, every=10)(5)
    0.7071067811865476
    """

    name = "exponential"
    factor: float
    every: float
    staircase: bool

    def __init__(self, factor: float, every: float = 1, staircase: bool = False):
        factor = v.factor(self.name, "factor", factor)
        every = v.length(self.name, "every", every)
        self._init(None, factor=factor, every=every, staircase=bool(staircase))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        p = xp.quotient(t, self.every) if self.staircase else t / self.every
        return self.factor**p


class InverseTime(Schedule):
    """Inverse-time ("time-based") decay (Keras ``InverseTimeDecay``, Keras 2 ``decay=``).

    ``f(t) = 1 / (1 + rate * t / every)``, or with ``floor(t / every)`` if ``staircase``.

    >>> inverse_time(0.5, every=10)(20)
    0.5
    """

    name = "inverse_time"
    rate: float
    every: float
    staircase: bool

    def __init__(self, rate: float, every: float = 1, staircase: bool = False):
        rate = v.non_negative(self.name, "rate", rate)
        every = v.length(self.name, "every", every)
        self._init(None, rate=rate, every=every, staircase=bool(staircase))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        p = xp.quotient(t, self.every) if self.staircase else t / self.every
        return 1.0 / (1.0 + self.rate * p)


class InverseSqrt(Schedule):
    """Inverse square root decay (Vaswani et al., 2017), 1.0 at t=0.

    ``f(t) = 1 / sqrt(1 + t / timescale)``. ``warmup(w) >> inverse_sqrt(w)`` is the
    Transformer ("Noam") schedule: peak at ``w``, then ``sqrt(w / step)``.

    >>> inverse_sqrt(100)(300)
    0.5
    """

    name = "inverse_sqrt"
    timescale: float

    def __init__(self, timescale: float = 1):
        timescale = v.length(self.name, "timescale", timescale)
        self._init(None, timescale=timescale)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return 1.0 / xp.sqrt(1.0 + t / self.timescale)


class TanhDecay(Schedule):
    """Hyperbolic-tangent decay (Hsueh et al., 2019; timm ``TanhLRScheduler``).

    ``f(t) = floor + (1 - floor) * (1 - tanh(lower + (upper - lower) * t/steps)) / 2``.

    >>> round(tanh_decay(100)(0), 6), round(tanh_decay(100)(100), 6)
    (0.999999, 0.002473)
    """

    name = "tanh_decay"
    steps: float
    floor: float
    lower: float
    upper: float

    def __init__(self, steps: float, floor: float = 0.0, lower: float = -7.0, upper: float = 3.0):
        steps = v.length(self.name, "steps", steps)
        floor = v.number(self.name, "floor", floor)
        lower = v.number(self.name, "lower", lower)
        upper = v.number(self.name, "upper", upper)
        if not lower < upper:
            raise ValueError(f"{self.name}: lower must be < upper, got lower={lower!r}, upper={upper!r}")
        if floor > 1:
            raise ValueError(f"{self.name}: floor must be <= 1 (the peak), got {floor!r}")
        self._init(steps, steps=steps, floor=floor, lower=lower, upper=upper)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        p = t / self.steps
        z = xp.clip(self.lower * (1.0 - p) + self.upper * p, -300.0, 300.0)
        return self.floor + (1.0 - self.floor) / (1.0 + xp.exp(2.0 * z))  # (1 - tanh z) / 2, without cancelling


class PiecewiseConstant(Schedule):
    """Piecewise constant: ``values[i]`` from ``boundaries[i-1]`` (inclusive) to ``boundaries[i]``.

    ``f(t) = values[#{b in boundaries : b <= t}]``; ``len(values) == len(boundaries) + 1``.

    >>> s = piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    >>> s(9), s(10), s(20)
    (1.0, 0.5, 0.1)
    """

    name = "piecewise_constant"
    boundaries: tuple[Any, ...]
    values: tuple[Any, ...]

    def __init__(self, boundaries: Any, values: Any):
        boundaries = v.increasing(self.name, "boundaries", boundaries)
        values = tuple(v.number(self.name, f"values[{i}]", x) for i, x in enumerate(values))
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"{self.name}: values must have one more entry than boundaries, got {len(values)} values "
                f"for {len(boundaries)} boundaries"
            )
        if boundaries and boundaries[0] <= 0:
            raise ValueError(f"{self.name}: boundaries must be > 0, got {boundaries[0]!r}")
        self._init(boundaries[-1] if boundaries else None, boundaries=boundaries, values=values)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.lookup(t, self.boundaries, self.values)

    def phase_starts(self, until: float) -> list[float]:
        return [float(b) for b in self.boundaries if b < until]


class PiecewiseLinear(Schedule):
    """Linear interpolation through ``(knots[i], values[i])``; holds the last value after.

    >>> s = piecewise_linear([0, 10, 30], [0.0, 1.0, 0.0])
    >>> s(5), s(20), s(40)
    (0.5, 0.5, 0.0)
    """

    name = "piecewise_linear"
    knots: tuple[Any, ...]
    values: tuple[Any, ...]

    def __init__(self, knots: Any, values: Any):
        knots = v.increasing(self.name, "knots", knots)
        values = tuple(v.number(self.name, f"values[{i}]", x) for i, x in enumerate(values))
        if len(knots) < 2 or len(values) != len(knots):
            raise ValueError(
                f"{self.name}: knots and values must have the same length >= 2, got {len(knots)} knots and "
                f"{len(values)} values"
            )
        if knots[0] != 0:
            raise ValueError(f"{self.name}: knots must start at 0, got {knots[0]!r}")
        self._init(knots[-1], knots=knots, values=values)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.interp(t, self.knots, self.values)

    def phase_starts(self, until: float) -> list[float]:
        return [float(k) for k in self.knots[1:-1] if k < until]


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
    period: float
    mult: float
    decay: float
    floor: float
    cycles: int | None

    def __init__(
        self,
        period: float,
        mult: float = 1,
        decay: float = 1.0,
        floor: float = 0.0,
        cycles: int | None = None,
    ):
        period = v.length(self.name, "period", period)
        mult = v.number(self.name, "mult", mult)
        if mult < 1:
            raise ValueError(f"{self.name}: mult must be >= 1, got {mult!r}; each cycle is mult times the last")
        decay = v.factor(self.name, "decay", decay)
        floor = v.number(self.name, "floor", floor)
        if floor > 1:
            raise ValueError(f"{self.name}: floor must be <= 1 (the first peak), got {floor!r}")
        if cycles is not None:
            cycles = v.integer(self.name, "cycles", cycles)
        self._init(None, period=period, mult=mult, decay=decay, floor=floor, cycles=cycles)
        if cycles is not None:
            try:
                length = self._start(cycles)
            except OverflowError:
                length = math.inf
            if not math.isfinite(length):
                raise ValueError(
                    f"{self.name}: cycles={cycles!r} with period={period!r}, mult={mult!r} is longer than a float "
                    "can hold; give fewer cycles, or cycles=None for restarts forever"
                )
            object.__setattr__(self, "length", length)

    def _start(self, i: Any) -> Any:
        """``S_i``, the step at which cycle ``i`` starts: ``period * i`` or ``period (mult^i - 1) / (mult - 1)``."""
        if self.mult == 1:
            return self.period * i
        return self.period * (self.mult**i - 1.0) / (self.mult - 1.0)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.mult == 1:
            index = xp.quotient(t, self.period)
        else:  # the closed-form index, then one correction each way onto the exact boundary
            index = xp.floor(xp.log(t * (self.mult - 1.0) / self.period + 1.0) / math.log(self.mult))
            index = xp.where(self._start(index) > t, index - 1.0, index)
            index = xp.where(self._start(index + 1.0) <= t, index + 1.0, index)
        if self.cycles is not None:
            index = xp.minimum(index, float(self.cycles - 1))
        start = self._start(index)
        period = self.period * self.mult**index if self.mult != 1 else self.period
        peak = self.decay**index
        return self.floor + (peak - self.floor) * 0.5 * (1.0 + xp.cos(math.pi * (t - start) / period))

    def phase_starts(self, until: float) -> list[float]:
        out: list[float] = []
        start, i = 0.0, 0
        while True:
            start += self.period * self.mult**i
            i += 1
            if start >= until or (self.cycles is not None and i >= self.cycles):
                return out
            out.append(float(start))


class Cyclic(Schedule):
    """Cyclical learning rates (Smith, 2017): a triangle between ``base`` and ``peak``.

    Each cycle rises for ``up`` steps and falls for ``down`` (default ``up``). With
    ``u = t mod (up + down)``, ``tri = u/up`` rising and ``(up+down-u)/down`` falling,
    ``f(t) = base + (peak - base) * tri * a``, where the amplitude ``a`` is 1
    (``triangular``), ``0.5^cycle`` (``triangular2``), ``gamma^t`` (``exp_range``), or
    a schedule ``amplitude`` evaluated at the cycle index (``amplitude_by='cycle'``,
    0-based) or at the step (``'step'``). ``peak < base`` cycles downward (momentum).

    >>> s = cyclic(5, base=0.1, mode='triangular2')
    >>> s(0), s(5), s(15)
    (0.1, 1.0, 0.55)
    """

    name = "cyclic"
    up: float
    down: float | None
    base: float
    peak: float
    mode: str
    gamma: float
    amplitude: Schedule | None
    amplitude_by: str

    def __init__(
        self,
        up: float,
        down: float | None = None,
        base: float = 0.1,
        peak: float = 1.0,
        mode: str = "triangular",
        gamma: float = 1.0,
        amplitude: Schedule | None = None,
        amplitude_by: str = "cycle",
    ):
        up = v.length(self.name, "up", up)
        down = v.optional_length(self.name, "down", down)
        base = v.number(self.name, "base", base)
        peak = v.number(self.name, "peak", peak)
        mode = v.choice(self.name, "mode", mode, ("triangular", "triangular2", "exp_range"))
        gamma = v.factor(self.name, "gamma", gamma)
        if amplitude is not None and not isinstance(amplitude, Schedule):
            raise ValueError(f"{self.name}: amplitude must be a schedule, got {amplitude!r}")
        amplitude_by = v.choice(self.name, "amplitude_by", amplitude_by, ("cycle", "step"))
        self._init(
            None, up=up, down=down, base=base, peak=peak, mode=mode, gamma=gamma,
            amplitude=amplitude, amplitude_by=amplitude_by,
        )
        if amplitude is not None:
            total = up + (up if down is None else down)
            self._set_routes(Route(amplitude, map=CycleIndex(total) if amplitude_by == "cycle" else IDENTITY))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        down = self.up if self.down is None else self.down
        total = self.up + down
        cycle = xp.quotient(t, total)
        u = t - cycle * total
        tri = xp.where(u <= self.up, u / self.up, (total - u) / down)
        if self.amplitude is not None:
            amp = self._routes[0].value(t, xp)
        elif self.mode == "triangular2":
            amp = 0.5**cycle
        elif self.mode == "exp_range":
            amp = self.gamma**t
        else:
            return self.base + (self.peak - self.base) * tri
        return self.base + (self.peak - self.base) * tri * amp

    def phase_starts(self, until: float) -> list[float]:
        total = self.up + (self.up if self.down is None else self.down)
        return [float(total * i) for i in range(1, int(until // total) + 1) if total * i < until][:1000]
