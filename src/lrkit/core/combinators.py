"""Combinators: build schedules from schedules.

``a >> b`` joins in sequence (each piece sees its own local step), ``s * 0.1`` scales,
``a * b`` multiplies pointwise; :class:`Clamp`, :class:`Repeat`, :class:`Shift`,
:class:`Stretch`, :class:`Take` and :class:`Noise` cover the rest. Every combinator is
itself a schedule: closed form, vectorised, comparable, printable.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.errors import brief
from lrkit.core.routing import Dilate, Offset, Periodic, Route
from lrkit.core.routing import Shift as ShiftMap
from lrkit.core.schedule import Schedule, _derived, child, param, value

__all__ = [
    "Clamp", "Join", "Noise", "Product", "Repeat", "Scale", "Shift", "Stretch", "Take", "join", "product", "scale",
]



def _flatten(who: str, key: str, items: Any, kind: type, operator: str) -> tuple[Schedule, ...]:
    """The schedules of an n-ary combinator, nested ones of the same ``kind`` spliced in (no recursion depth)."""
    if isinstance(items, (Schedule, str)) or not isinstance(items, Sequence):  # a ListConfig (Hydra) is one
        raise ValueError(
            f"{who}: {key} must be a list of schedules, got {brief(items, 100)}; "
            f"write {operator}, {who}(a, b) or {who}({key}=[a, b])"
        )
    flat: list[Schedule] = []
    for i, item in enumerate(items):
        item = child(who, f"{key}[{i}]", item)
        flat.extend(getattr(item, key) if isinstance(item, kind) else (item,))
    if len(flat) < 2:
        raise ValueError(f"{who}: needs at least 2 {key}, got {len(flat)}; a single schedule needs no {who}")
    return tuple(flat)


def _finite(who: str, name: str, sched: Schedule, fix: str) -> float:
    if sched.length is None:
        raise ValueError(f"{who}: {name} {sched!r} is infinite; {fix}")
    return sched.length


def _float_length(who: str, length: float, what: str, fix: str) -> float:
    """``length`` where it is a float; one that overflows to inf is refused, naming ``what`` (the arguments that
    made it): such a schedule would never end, and would fail later blaming the step."""
    if not length < math.inf:
        raise ValueError(f"{who}: {what}: longer than a float can hold ({sys.float_info.max:.2g} steps); {fix}")
    return length


def _pieces(who: str, key: str, items: Any) -> tuple[Schedule, ...]:
    return _flatten(who, key, items, Join, "a >> b")


def _factors(who: str, key: str, items: Any) -> tuple[Schedule, ...]:
    return _flatten(who, key, items, Product, "a * b")


@value
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
    pieces: Sequence[Schedule] = param(_pieces)
    offsets: tuple[float, ...] = _derived()

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        pieces = self.pieces
        offsets: list[float] = [0]
        for i, piece in enumerate(pieces[:-1]):
            length = _finite(
                self.name, f"piece {i}", piece,
                "nothing can follow it; bound it with take(schedule, steps) or give it a length",
            )
            offsets.append(self._past(i, offsets[-1] + length))
        bounds = [*offsets[1:], math.inf]
        self._set_routes(*(Route(p, lo, hi, Offset(lo)) for p, lo, hi in zip(pieces, offsets, bounds)))
        last = pieces[-1].length
        return None if last is None else self._past(len(pieces) - 1, offsets[-1] + last)

    def _past(self, i: int, end: float) -> float:
        return _float_length(self.name, end, f"the pieces' lengths up to piece {i}", "give shorter pieces")

    def _set_routes(self, *routes: Route) -> None:
        super()._set_routes(*routes)
        self._derive(offsets=tuple(route.lo for route in routes))  # where each route starts: select's index

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.select(t, self.offsets, self._routes)

    def __repr__(self) -> str:
        return " >> ".join(_wrapped(p, (Join,)) for p in self.pieces)

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "pieces": [p.to_config() for p in self.pieces]}


def _wrapped(sched: Schedule, kinds: tuple[type, ...]) -> str:
    text = repr(sched)
    return f"({text})" if isinstance(sched, kinds) else text


def _non_negative_scale(who: str, name: str, x: Any) -> float:
    return v.non_negative(who, name, x, "a learning rate cannot be negative")


@value
class Scale(Schedule):
    """Multiply a schedule by a constant ``by >= 0``: ``f(t) = by * s(t)``. Written ``s * 3e-4``
    (``by`` was ``factor``, still read).

    >>> (cosine(10) * 0.5)(0)
    0.5
    """

    name = "scale"
    aliases: ClassVar[Mapping[str, str]] = {"factor": "by"}
    schedule: Schedule = param(child)
    by: float = param(_non_negative_scale)

    def _multiplies(self) -> bool:
        return self.by > 1

    def _setup(self) -> float | None:
        self._set_routes(Route(self.schedule))
        return self.schedule.length

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp) * self.by

    def __repr__(self) -> str:
        return f"{_wrapped(self.schedule, (Join,))} * {self.by!r}"


@value
class Product(Schedule):
    """Pointwise product ``f(t) = a(t) * b(t) * ...``, written ``a * b``.

    Its length is the longest factor's (``None`` if any is infinite); each factor holds its
    final value past its own end. Nested products flatten, so a product of thousands of
    factors evaluates and prints without recursion.

    >>> (constant(0.5) * linear(10))(5)
    0.25
    """

    name = "product"
    factors: Sequence[Schedule] = param(_factors)

    def _setup(self) -> float | None:
        self._set_routes(*(Route(f) for f in self.factors))
        lengths = [f.length for f in self.factors]
        return None if None in lengths else max(lengths)  # type: ignore[type-var]

    def _eval(self, t: Any, xp: Namespace) -> Any:
        routes = iter(self._routes)
        out = next(routes).value(t, xp)
        for route in routes:
            out = out * route.value(t, xp)
        return out

    def __repr__(self) -> str:
        first, *rest = self.factors
        return " * ".join([_wrapped(first, (Join,)), *(_wrapped(f, (Join, Scale)) for f in rest)])

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "factors": [f.to_config() for f in self.factors]}


@value
class Clamp(Schedule):
    """Clip a schedule into ``[low, high]``: ``f(t) = min(max(s(t), low), high)``.

    >>> clamp(linear(10), low=0.2)(10)
    0.2
    """

    name = "clamp"
    schedule: Schedule = param(child)
    low: float | None = param(v.optional(v.rate), default=None)
    high: float | None = param(v.optional(v.rate), default=None)

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        low, high = self.low, self.high
        if low is None and high is None:
            raise ValueError(f"{self.name}: give low, high or both")
        if low is not None and high is not None:
            v.ordered(self.name, "low", low, "high", high)
        self._set_routes(Route(self.schedule))
        return self.schedule.length

    def _eval(self, t: Any, xp: Namespace) -> Any:
        out = self._routes[0].value(t, xp)
        if self.low is not None:
            out = xp.maximum(out, self.low)
        return out if self.high is None else xp.minimum(out, self.high)


@value
class Repeat(Schedule):
    """Restart a finite schedule every ``length`` steps, ``times`` times (forever if ``None``).

    ``f(t) = s(t - k L)`` with ``k = floor(t / L)`` (the last repetition ends at ``s(L)``).

    >>> s = repeat(linear(4), times=2)
    >>> s(3), s(4), s(8)
    (0.25, 1.0, 0.0)
    """

    name = "repeat"
    schedule: Schedule = param(child)
    times: int | None = param(v.optional(v.integer), default=None)

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        period = _finite(self.name, "schedule", self.schedule, "only a finite schedule can repeat")
        if not period > 0:
            raise ValueError(f"{self.name}: the schedule must have a length > 0 to repeat, got {self.schedule!r}")
        self._set_routes(Route(self.schedule, map=Periodic(period, self.times)))
        if self.times is None:
            return None
        return _float_length(
            self.name,
            period * self.times,
            f"times={self.times!r} with the schedule's length {period!r}",
            "give fewer times, or times=None to repeat forever",
        )

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


@value
class Shift(Schedule):
    """Start a schedule part-way: ``f(t) = s(max(t + by, 0))``.

    ``by > 0`` skips the first ``by`` steps; ``by < 0`` holds ``s(0)`` for ``-by`` steps.

    >>> shift(linear(10), 5)(0)
    0.5
    """

    name = "shift"
    schedule: Schedule = param(child)
    by: float = param(v.number)

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        length = self.schedule.length
        if length is not None and self.by >= length:
            raise ValueError(
                f"{self.name}: by must be < the schedule's length {length!r}, got {self.by!r}; "
                "past its end a schedule is constant: use constant(value) instead"
            )
        self._set_routes(Route(self.schedule, map=ShiftMap(self.by)))
        if length is None:
            return None
        return _float_length(
            self.name,
            length - self.by,
            f"by={self.by!r} with the schedule's length {length!r}",
            "hold the first value for fewer steps (a by closer to 0)",
        )

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


@value
class Stretch(Schedule):
    """Scale the time axis: ``f(t) = s(t / by)``; the length becomes ``by * L`` (``by`` was ``factor``, still read).

    Write a recipe over fractions of a run and stretch it to the budget:

    >>> s = stretch(warmup(0.1) >> cosine(0.9), 1000)
    >>> s.length, s(100)
    (1000.0, 1.0)
    """

    name = "stretch"
    aliases: ClassVar[Mapping[str, str]] = {"factor": "by"}
    schedule: Schedule = param(child)
    by: float = param(v.length)  # t / by: as short as a length may be, no shorter

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        self._set_routes(Route(self.schedule, map=Dilate(self.by)))
        length = self.schedule.length
        if length is None:
            return None
        return _float_length(
            self.name, length * self.by, f"by={self.by!r} times the schedule's length {length!r}", "give a smaller by"
        )

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


@value
class Take(Schedule):
    """The first ``steps`` steps of a schedule, then its value at ``steps`` held.

    Bounds an infinite schedule so it can be followed in a join.

    >>> s = take(step_decay(2, decay=0.5), 4) >> constant(0.1)
    >>> s(3), s(4)
    (0.5, 0.1)
    """

    name = "take"
    schedule: Schedule = param(child)
    steps: float = param(v.length)

    _combines_values = False  # it moves time, or bounds values: no overflow of its own

    def _setup(self) -> float | None:
        self._set_routes(Route(self.schedule))
        return self.steps

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


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


@value
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
    traceable = False  # SplitMix64 needs 64-bit unsigned integers: numpy and math only
    schedule: Schedule = param(child)
    std: float = param(v.non_negative, default=0.1)
    clip: float = param(v.fraction_in(open_high=True), default=0.25)
    seed: int = param(v.integer_from(0, v.MAX_SEED), default=0)
    start: float = param(v.non_negative, default=0)
    end: float | None = param(v.optional(v.number), default=None)

    def _setup(self) -> float | None:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"{self.name}: end must be > start, got start={self.start!r}, end={self.end!r}")
        self._set_routes(Route(self.schedule))
        return self.schedule.length

    def _eval(self, t: Any, xp: Namespace) -> Any:
        steps = np.atleast_1d(np.asarray(t, dtype=np.float64))
        noise = np.clip(self.std * gaussian(self.seed, steps), -self.clip, self.clip)
        active = steps >= self.start
        if self.end is not None:
            active &= steps < self.end
        factor = np.where(active, 1.0 + noise, 1.0)
        signal = self._routes[0].value(t, xp)
        return signal * factor if isinstance(t, np.ndarray) else signal * float(factor[0])


def join(*pieces: Schedule | Sequence[Schedule], **config: Any) -> Join:
    """``join(a, b, c)`` and ``join([a, b, c])`` are ``a >> b >> c``; ``join(pieces=[a, b, c])`` takes the dict
    config's key.

    >>> join(pieces=[warmup(2), cosine(8)]) == join([warmup(2), cosine(8)]) == warmup(2) >> cosine(8)
    True
    """
    return Join(_items("join", "pieces", pieces, config))


def scale(schedule: Schedule, by: float) -> Scale:
    """``scale(s, x)`` is ``s * x``."""
    return Scale(schedule, by)


def product(*factors: Schedule | Sequence[Schedule], **config: Any) -> Product:
    """``product(a, b)`` and ``product([a, b])`` are ``a * b``; ``product(factors=[a, b])`` takes the dict config's
    key.

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
    if len(positional) == 1 and isinstance(positional[0], Sequence) and not isinstance(positional[0], str):
        return positional[0]  # join([a, b]), as the text form reads it
    return positional
