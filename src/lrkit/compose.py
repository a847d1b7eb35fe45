"""Combinators: build schedules from schedules.

``a >> b`` joins in sequence (each piece sees its own local step), ``s * 0.1`` scales,
``a * b`` multiplies pointwise; :class:`Clamp`, :class:`Repeat`, :class:`Shift`,
:class:`Stretch`, :class:`Take` and :class:`Noise` cover the rest. Every combinator is
itself a schedule: closed form, vectorised, comparable, printable.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit import _validate as v
from lrkit.schedule import Schedule

__all__ = [
    "Clamp", "Join", "Noise", "Product", "Repeat", "Scale", "Shift", "Stretch", "Take", "join", "product", "scale",
]


def _schedule(who: str, name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise ValueError(f"{who}: {name} must be a schedule, got {value!r}")
    return value


def _finite(who: str, name: str, sched: Schedule, fix: str) -> float:
    if sched.length is None:
        raise ValueError(f"{who}: {name} {sched!r} is infinite; {fix}")
    return sched.length


class Join(Schedule):
    """Pieces in sequence; piece ``i`` runs on its local step ``t - offset_i``.

    ``f(t) = piece_i(t - S_i)`` for ``S_i <= t < S_{i+1}``, where ``S_i`` is the sum of the
    lengths before piece ``i``. Every piece but the last must be finite. Written ``a >> b``.
    Nested joins flatten, so ``(a >> b) >> c == a >> (b >> c)``.

    >>> s = constant(1.0, 2) >> linear(2, start=0.5)
    >>> s.length, [s(t) for t in range(5)]
    (4, [1.0, 1.0, 0.5, 0.25, 0.0])
    """

    name = "join"

    def __init__(self, pieces: Sequence[Schedule]):
        flat: list[Schedule] = []
        for i, piece in enumerate(pieces):
            piece = _schedule(self.name, f"pieces[{i}]", piece)
            flat.extend(piece.pieces if isinstance(piece, Join) else (piece,))
        if len(flat) < 2:
            raise ValueError(f"{self.name}: needs at least 2 pieces, got {len(flat)}")
        offsets: list[float] = [0]
        for i, piece in enumerate(flat[:-1]):
            length = _finite(
                self.name, f"piece {i}", piece,
                "nothing can follow it; bound it with take(schedule, steps) or give it a length",
            )
            offsets.append(offsets[-1] + length)
        last = flat[-1].length
        self._init(None if last is None else offsets[-1] + last, pieces=tuple(flat))
        object.__setattr__(self, "_offsets", np.asarray(offsets, dtype=np.float64))
        object.__setattr__(self, "offsets", tuple(offsets))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        offsets = self._offsets
        if t.size == 1:  # the scalar path: one piece, no masks
            i = bisect.bisect_right(self.offsets, float(t[0])) - 1
            return self.pieces[i]._at(t - offsets[i])
        out = np.empty(t.shape)
        if t[0] <= t[-1] and np.all(t[1:] >= t[:-1]):  # sorted (a preview): contiguous slices, no masks
            stops = [*np.searchsorted(t, offsets[1:], side="left").tolist(), t.size]
            start = 0
            for i, (piece, stop) in enumerate(zip(self.pieces, stops)):
                if stop > start:
                    out[start:stop] = piece._at(t[start:stop] - offsets[i])
                start = stop
            return out
        index = np.searchsorted(offsets, t, side="right") - 1
        for i, piece in enumerate(self.pieces):
            mask = index == i
            if mask.any():
                out[mask] = piece._at(t[mask] - offsets[i])
        return out

    def phase_starts(self, until: float) -> list[float]:
        out: list[float] = []
        for offset, piece in zip(self.offsets, self.pieces):
            if offset >= until:
                break
            if offset > 0:
                out.append(float(offset))
            out.extend(offset + s for s in piece.phase_starts(until - offset))
        return out

    def __repr__(self) -> str:
        return " >> ".join(repr(p) for p in self.pieces)

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "pieces": [p.to_config() for p in self.pieces]}


class Scale(Schedule):
    """Multiply a schedule by a constant ``factor >= 0``: ``f(t) = factor * s(t)``. Written ``s * 3e-4``.

    >>> (cosine(10) * 0.5)(0)
    0.5
    """

    name = "scale"

    def __init__(self, schedule: Schedule, factor: float):
        schedule = _schedule(self.name, "schedule", schedule)
        factor = v.non_negative(self.name, "factor", factor, "a learning rate cannot be negative")
        self._init(schedule.length, schedule=schedule, factor=factor)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._at(t) * self.factor

    def phase_starts(self, until: float) -> list[float]:
        return self.schedule.phase_starts(until)

    def __repr__(self) -> str:
        inner = repr(self.schedule)
        if isinstance(self.schedule, Join):
            inner = f"({inner})"
        return f"{inner} * {self.factor!r}"


class Product(Schedule):
    """Pointwise product ``f(t) = a(t) * b(t)``, written ``a * b``.

    Its length is the longer of the two (``None`` if either is infinite); each factor
    holds its final value past its own end.

    >>> (constant(0.5) * linear(10))(5)
    0.25
    """

    name = "product"

    def __init__(self, first: Schedule, second: Schedule):
        first = _schedule(self.name, "first", first)
        second = _schedule(self.name, "second", second)
        lengths = (first.length, second.length)
        length = None if None in lengths else max(lengths)  # type: ignore[type-var]
        self._init(length, first=first, second=second)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.first._at(t) * self.second._at(t)

    def phase_starts(self, until: float) -> list[float]:
        return sorted(set(self.first.phase_starts(until)) | set(self.second.phase_starts(until)))

    def __repr__(self) -> str:
        left = repr(self.first)
        if isinstance(self.first, Join):
            left = f"({left})"
        right = repr(self.second)
        if isinstance(self.second, (Join, Scale, Product)):
            right = f"({right})"
        return f"{left} * {right}"


class Clamp(Schedule):
    """Clip a schedule into ``[low, high]``: ``f(t) = min(max(s(t), low), high)``.

    >>> clamp(linear(10), low=0.2)(10)
    0.2
    """

    name = "clamp"

    def __init__(self, schedule: Schedule, low: float | None = None, high: float | None = None):
        schedule = _schedule(self.name, "schedule", schedule)
        if low is None and high is None:
            raise ValueError(f"{self.name}: give low, high or both")
        low = None if low is None else v.number(self.name, "low", low)
        high = None if high is None else v.number(self.name, "high", high)
        if low is not None and high is not None and low > high:
            raise ValueError(f"{self.name}: low must be <= high, got low={low!r} > high={high!r}")
        self._init(schedule.length, schedule=schedule, low=low, high=high)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return np.clip(self.schedule._at(t), self.low, self.high)

    def phase_starts(self, until: float) -> list[float]:
        return self.schedule.phase_starts(until)


class Repeat(Schedule):
    """Restart a finite schedule every ``length`` steps, ``times`` times (forever if ``None``).

    ``f(t) = s(t - k L)`` with ``k = floor(t / L)`` (the last repetition ends at ``s(L)``).

    >>> s = repeat(linear(4), times=2)
    >>> s(3), s(4), s(8)
    (0.25, 1.0, 0.0)
    """

    name = "repeat"

    def __init__(self, schedule: Schedule, times: int | None = None):
        schedule = _schedule(self.name, "schedule", schedule)
        period = _finite(self.name, "schedule", schedule, "only a finite schedule can repeat")
        if not period > 0:
            raise ValueError(f"{self.name}: the schedule must have a length > 0 to repeat, got {schedule!r}")
        if times is not None:
            times = v.integer(self.name, "times", times)
        self._init(None if times is None else period * times, schedule=schedule, times=times)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        period = self.schedule.length
        k = np.floor(t / period)
        if self.times is not None:
            k = np.minimum(k, self.times - 1)
        return self.schedule._at(t - k * period)

    def phase_starts(self, until: float) -> list[float]:
        period = self.schedule.length
        count = int(until // period) if self.times is None else min(self.times, int(until // period) + 1)
        return [float(period * k) for k in range(1, count + 1) if period * k < until][:1000]


class Shift(Schedule):
    """Start a schedule part-way: ``f(t) = s(max(t + by, 0))``.

    ``by > 0`` skips the first ``by`` steps; ``by < 0`` holds ``s(0)`` for ``-by`` steps.

    >>> shift(linear(10), 5)(0)
    0.5
    """

    name = "shift"

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

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._at(np.maximum(t + self.by, 0.0))


class Stretch(Schedule):
    """Scale the time axis: ``f(t) = s(t / factor)``; the length becomes ``factor * L``.

    Write a recipe over fractions of a run and stretch it to the budget:

    >>> s = stretch(warmup(0.1) >> cosine(0.9), 1000)
    >>> s.length, s(100)
    (1000.0, 1.0)
    """

    name = "stretch"

    def __init__(self, schedule: Schedule, factor: float):
        schedule = _schedule(self.name, "schedule", schedule)
        factor = v.positive(self.name, "factor", factor)
        self._init(None if schedule.length is None else schedule.length * factor, schedule=schedule, factor=factor)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._at(t / self.factor)

    def phase_starts(self, until: float) -> list[float]:
        return [s * self.factor for s in self.schedule.phase_starts(until / self.factor)]


class Take(Schedule):
    """The first ``steps`` steps of a schedule, then its value at ``steps`` held.

    Bounds an infinite schedule so it can be followed in a join.

    >>> s = take(step_decay(2, factor=0.5), 4) >> constant(0.1)
    >>> s(3), s(4)
    (0.5, 0.1)
    """

    name = "take"

    def __init__(self, schedule: Schedule, steps: float):
        schedule = _schedule(self.name, "schedule", schedule)
        steps = v.length(self.name, "steps", steps)
        self._init(steps, schedule=schedule, steps=steps)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.schedule._at(t)

    def phase_starts(self, until: float) -> list[float]:
        return self.schedule.phase_starts(min(until, self.steps))


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

    def _eval(self, t: np.ndarray) -> np.ndarray:
        noise = np.clip(self.std * gaussian(self.seed, t), -self.clip, self.clip)
        active = t >= self.start
        if self.end is not None:
            active &= t < self.end
        return self.schedule._at(t) * np.where(active, 1.0 + noise, 1.0)

    def phase_starts(self, until: float) -> list[float]:
        return self.schedule.phase_starts(until)


def join(*pieces: Schedule) -> Join:
    """``join(a, b, c)`` is ``a >> b >> c``."""
    return Join(pieces)


def scale(schedule: Schedule, factor: float) -> Scale:
    """``scale(s, x)`` is ``s * x``."""
    return Scale(schedule, factor)


def product(first: Schedule, second: Schedule) -> Product:
    """``product(a, b)`` is ``a * b``."""
    return Product(first, second)
