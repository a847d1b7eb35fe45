"""Combinators: build schedules from schedules.

``a >> b`` joins in sequence (each piece sees its own local step), ``s * 0.1`` scales,
``a * b`` multiplies pointwise; :class:`Clamp`, :class:`Repeat`, :class:`Shift`,
:class:`Stretch`, :class:`Take` and :class:`Noise` cover the rest. Every combinator is
itself a schedule: closed form, vectorised, comparable, printable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.routing import Affine, Offset, Periodic, Route
from lrkit.core.schedule import Schedule

__all__ = [
    "Clamp", "Join", "Noise", "Product", "Repeat", "Scale", "Shift", "Stretch", "Take", "join", "product", "scale",
]


def _schedule(who: str, name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise ValueError(f"{who}: {name} must be a schedule, got {value!r}")
    return value


def _flatten(who: str, key: str, items: Any, kind: type, operator: str) -> list[Schedule]:
    """The schedules of an n-ary combinator, nested ones of the same ``kind`` spliced in (no recursion depth)."""
    if isinstance(items, (Schedule, str)) or not isinstance(items, Sequence):  # a ListConfig (Hydra) is one
        raise ValueError(
            f"{who}: {key} must be a list of schedules, got {items!r}; "
            f"write {operator}, {who}(a, b) or {who}({key}=[a, b])"
        )
    flat: list[Schedule] = []
    for i, item in enumerate(items):
        item = _schedule(who, f"{key}[{i}]", item)
        flat.extend(getattr(item, key) if isinstance(item, kind) else (item,))
    if len(flat) < 2:
        raise ValueError(f"{who}: needs at least 2 {key}, got {len(flat)}; a single schedule needs no {who}")
    return flat


def _finite(who: str, name: str, sched: Schedule, fix: str) -> float:
    if sched.length is None:
        raise ValueError(f"{who}: {name} {sched!r} is infinite; {fix}")
    return sched.length


class Join(Schedule):
    """Pieces in sequence; piece ``i`` runs on its local step ``t - offset_i``.

    ``f(t) = piece_i(t - S_i)`` for ``S_i <= t < S_{i+1}``, where ``S_i`` is the sum of the
    lengths before piece ``i``. Every piece but the last must be finite. Written ``a >> b``,
    or ``join(a, b)``, or ``join(pieces=[a, b])`` (the dict config's keys).
    Nested joins flatten, so ``(a >> b) >> c == a >> (b >> c)``.

    >>> s = constant(1.0, 2) >> linear(2, start=0.5)
    >>> s.length, [s(t) for t in range(5)]
    (4, [1.0, 1.0, 0.5, 0.25, 0.0])
    """

    name = "join"
    pieces: tuple[Schedule, ...]
    offsets: tuple[float, ...]

    def __init__(self, pieces: Sequence[Schedule]):
        flat = _flatten(self.name, "pieces", pieces, Join, "a >> b")
        offsets: list[float] = [0]
        for i, piece in enumerate(flat[:-1]):
            length = _finite(
                self.name, f"piece {i}", piece,
                "nothing can follow it; bound it with take(schedule, steps) or give it a length",
            )
            offsets.append(offsets[-1] + length)
        last = flat[-1].length
        self._init(None if last is None else offsets[-1] + last, pieces=tuple(flat))
        object.__setattr__(self, "offsets", tuple(offsets))
        bounds = [*offsets[1:], math.inf]
        self._set_routes(*(Route(p, lo, hi, Offset(lo)) for p, lo, hi in zip(flat, offsets, bounds)))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.select(t, self.offsets, self._routes)

    def __repr__(self) -> str:
        return " >> ".join(_wrapped(p, (Join,)) for p in self.pieces)

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "pieces": [p.to_config() for p in self.pieces]}


def _wrapped(sched: Schedule, kinds: tuple[type, ...]) -> str:
    text = repr(sched)
    return f"({text})" if isinstance(sched, kinds) else text


class Scale(Schedule):
    """Multiply a schedule by a constant ``factor >= 0``: ``f(t) = factor * s(t)``. Written ``s * 3e-4``.

    >>> (cosine(10) * 0.5)(0)
    0.5
    """

    name = "scale"
    schedule: Schedule
    factor: float

    def __init__(self, schedule: Schedule, factor: float):
        schedule = _schedule(self.name, "schedule", schedule)
        factor = v.non_negative(self.name, "factor", factor, "a learning rate cannot be negative")
        self._init(schedule.length, schedule=schedule, factor=factor)
        self._set_routes(Route(schedule))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.schedule._at(t, xp) * self.factor

    def __repr__(self) -> str:
        return f"{_wrapped(self.schedule, (Join,))} * {self.factor!r}"


class Product(Schedule):
    """Pointwise product ``f(t) = a(t) * b(t) * ...``, written ``a * b``.

    Its length is the longest factor's (``None`` if any is infinite); each factor holds its
    final value past its own end. Nested products flatten, so a product of thousands of
    factors evaluates and prints without recursion.

    >>> (constant(0.5) * linear(10))(5)
    0.25
    """

    name = "product"
    factors: tuple[Schedule, ...]

    def __init__(self, factors: Sequence[Schedule]):
        flat = _flatten(self.name, "factors", factors, Product, "a * b")
        lengths = [f.length for f in flat]
        length = None if None in lengths else max(lengths)  # type: ignore[type-var]
        self._init(length, factors=tuple(flat))
        self._set_routes(*(Route(f) for f in flat))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        factors = iter(self.factors)
        out = next(factors)._at(t, xp)
        for factor in factors:
            out = out * factor._at(t, xp)
        return out

    def __repr__(self) -> str:
        first, *rest = self.factors
        return " * ".join([_wrapped(first, (Join,)), *(_wrapped(f, (Join, Scale)) for f in rest)])

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "factors": [f.to_config() for f in self.factors]}


class Clamp(Schedule):
    """Clip a schedule into ``[low, high]``: ``f(t) = min(max(s(t), low), high)``.

    >>> clamp(linear(10), low=0.2)(10)
    0.2
    """

    name = "clamp"
    schedule: Schedule
    low: float | None
    high: float | None

    def __init__(self, schedule: Schedule, low: float | None = None, high: float | None = None):
        schedule = _schedule(self.name, "schedule", schedule)
        if low is None and high is None:
            raise ValueError(f"{self.name}: give low, high or both")
        low = None if low is None else v.number(self.name, "low", low)
        high = None if high is None else v.number(self.name, "high", high)
        if low is not None and high is not None and low > high:
            raise ValueError(f"{self.name}: low must be <= high, got low={low!r} > high={high!r}")
        self._init(schedule.length, schedule=schedule, low=low, high=high)
        self._set_routes(Route(schedule))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        value = self.schedule._at(t, xp)
        if self.low is not None:
            value = xp.maximum(value, self.low)
        return value if self.high is None else xp.minimum(value, self.high)


class Repeat(Schedule):
    """Restart a finite schedule every ``length`` steps, ``times`` times (forever if ``None``).

    ``f(t) = s(t - k L)`` with ``k = floor(t / L)`` (the last repetition ends at ``s(L)``).

    >>> s = repeat(linear(4), times=2)
    >>> s(3), s(4), s(8)
    (0.25, 1.0, 0.0)
    """

    name = "repeat"
    schedule: Schedule
    times: int | None

    def __init__(self, schedule: Schedule, times: int | None = None):
        schedule = _schedule(self.name, "schedule", schedule)
        period = _finite(self.name, "schedule", schedule, "only a finite schedule can repeat")
        if not period > 0:
            raise ValueError(f"{self.name}: the schedule must have a length > 0 to repeat, got {schedule!r}")
        if times is not None:
            times = v.integer(self.name, "times", times)
        self._init(None if times is None else period * times, schedule=schedule, times=times)
        self._set_routes(Route(schedule, map=Periodic(period, times)))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


class Shift(Schedule):
    """Start a schedule part-way: ``f(t) = s(max(t + by, 0))``.

    ``by > 0`` skips the first ``by`` steps; ``by < 0`` holds ``s(0)`` for ``-by`` steps.

    >>> shift(linear(10), 5)(0)
    0.5
    """

    name = "shift"
    schedule: Schedule
    by: float

    def __init__(self, schedule: Schedule, by: float):
        schedule = _schedule(self.name, "schedule", schedule)
        by = v.number(self.name, "by", by)
        length = None
        if schedule.length is not None:
            if by >= schedule.length:
                raise ValueError(
                    f"{self.name}: by must be < the schedule's length {schedule.length!r}, got {by!r}; "
                    "past its end a schedule is constant: use constant(value) instead"
                )
            length = schedule.length - by
        self._init(length, schedule=schedule, by=by)
        self._set_routes(Route(schedule, map=Affine(by=by)))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


class Stretch(Schedule):
    """Scale the time axis: ``f(t) = s(t / factor)``; the length becomes ``factor * L``.

    Write a recipe over fractions of a run and stretch it to the budget:

    >>> s = stretch(warmup(0.1) >> cosine(0.9), 1000)
    >>> s.length, s(100)
    (1000.0, 1.0)
    """

    name = "stretch"
    schedule: Schedule
    factor: float

    def __init__(self, schedule: Schedule, factor: float):
        schedule = _schedule(self.name, "schedule", schedule)
        factor = v.positive(self.name, "factor", factor)
        self._init(None if schedule.length is None else schedule.length * factor, schedule=schedule, factor=factor)
        self._set_routes(Route(schedule, map=Affine(scale=1.0 / factor)))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.schedule._at(t / self.factor, xp)


class Take(Schedule):
    """The first ``steps`` steps of a schedule, then its value at ``steps`` held.

    Bounds an infinite schedule so it can be followed in a join.

    >>> s = take(step_decay(2, factor=0.5), 4) >> constant(0.1)
    >>> s(3), s(4)
    (0.5, 0.1)
    """

    name = "take"
    schedule: Schedule
    steps: float

    def __init__(self, schedule: Schedule, steps: float):
        schedule = _schedule(self.name, "schedule", schedule)
        steps = v.length(self.name, "steps", steps)
        self._init(steps, schedule=schedule, steps=steps)
        self._set_routes(Route(schedule))


    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.schedule._at(t, xp)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a counter-based hash, uint64 -> uint64."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def gaussian(seed: int, steps: np.ndarray) -> np.ndarray:
    """Standard normal draws that depend only on ``(seed, floor(step))`` (Box-Muller)."""
    with np.errstate(over="ignore"):
        counter = np.floor(steps).astype(np.uint64) * np.uint64(2) + np.uint64(seed) * _GOLDEN
        a = _mix(counter)
        b = _mix(counter + np.uint64(1))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 1.0) / 9007199254740993.0  # in (0, 1]
    u2 = (b >> np.uint64(11)).astype(np.float64) / 9007199254740992.0
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class Noise(Schedule):
    """Clipped multiplicative Gaussian noise, seeded by the step (exact on resume).

    ``f(t) = s(t) * (1 + clip(std * z(seed, floor(t)), -clip, clip))`` for
    ``start <= t < end`` (``end=None``: to the end), ``s(t)`` elsewhere. ``z`` is a
    standard normal computed from a counter-based hash of ``(seed, step)``, so the same
    step always gets the same noise, in any order, after any resume.

    >>> s = noise(constant(1.0), std=0.1, seed=3)
    >>> s(10) == s(10), 0.75 <= s(10) <= 1.25
    (True, True)
    """

    name = "noise"
    schedule: Schedule
    std: float
    clip: float
    seed: int
    start: float
    end: float | None

    def __init__(
        self,
        schedule: Schedule,
        std: float = 0.1,
        clip: float = 0.25,
        seed: int = 0,
        start: float = 0,
        end: float | None = None,
    ):
        schedule = _schedule(self.name, "schedule", schedule)
        std = v.non_negative(self.name, "std", std)
        clip = v.fraction(self.name, "clip", clip, open_high=True)
        seed = v.integer(self.name, "seed", seed, minimum=0)
        start = v.non_negative(self.name, "start", start)
        if end is not None:
            end = v.number(self.name, "end", end)
            if end <= start:
                raise ValueError(f"{self.name}: end must be > start, got start={start!r}, end={end!r}")
        self._init(schedule.length, schedule=schedule, std=std, clip=clip, seed=seed, start=start, end=end)
        self._set_routes(Route(schedule))

    traceable = False  # SplitMix64 needs 64-bit unsigned integers: numpy and math only


    def _eval(self, t: Any, xp: Namespace) -> Any:
        steps = np.atleast_1d(np.asarray(t, dtype=np.float64))
        noise = np.clip(self.std * gaussian(self.seed, steps), -self.clip, self.clip)
        active = steps >= self.start
        if self.end is not None:
            active &= steps < self.end
        factor = np.where(active, 1.0 + noise, 1.0)
        if isinstance(t, np.ndarray):
            return self.schedule._at(t, xp) * factor
        return self.schedule._at(t, xp) * float(factor[0])


def join(*pieces: Schedule, **config: Any) -> Join:
    """``join(a, b, c)`` is ``a >> b >> c``; ``join(pieces=[a, b, c])`` takes the dict config's key.

    >>> join(pieces=[warmup(2), cosine(8)]) == warmup(2) >> cosine(8)
    True
    """
    return Join(_items("join", "pieces", pieces, config))


def scale(schedule: Schedule, factor: float) -> Scale:
    """``scale(s, x)`` is ``s * x``."""
    return Scale(schedule, factor)


def product(*factors: Schedule, **config: Any) -> Product:
    """``product(a, b)`` is ``a * b``; ``product(factors=[a, b])`` takes the dict config's key.

    >>> import lrkit as lk
    >>> product(lk.constant(0.5), lk.linear(10))(5)
    0.25
    """
    return Product(_items("product", "factors", factors, config))


def _items(who: str, key: str, positional: tuple[Any, ...], config: dict[str, Any]) -> Sequence[Any]:
    unknown = sorted(set(config) - {key})
    if unknown:
        raise TypeError(f"{who}() got an unexpected keyword argument {unknown[0]!r}; its only keyword is {key}=")
    if key in config:
        if positional:
            raise TypeError(f"{who}() takes the schedules either positionally or as {key}=[...], not both")
        return config[key]  # type: ignore[no-any-return]
    return positional
