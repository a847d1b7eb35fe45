"""Presets built from the families and combinators (no flags inside the families).

A recipe is a named value: it is evaluated, routed and plotted through its *body* (a join
of phases built from the families), but it prints, saves and compares by its own name and
parameters, so ``repr(one_cycle(10000)) == "one_cycle(10000)"`` and a checkpoint made with
a recipe keeps loading if the phases inside it are ever written differently.

>>> one_cycle(10000)
one_cycle(10000)
>>> one_cycle(100).body
anneal(30.0, 0.04, 1.0) >> anneal(70.0, 1.0, 4e-06)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.combinators import Join
from lrkit.core.families import Anneal, Constant, Cosine, Warmup
from lrkit.core.routing import Route
from lrkit.core.schedule import Schedule, param, value

__all__ = [
    "FlatCosine", "OneCycle", "OneCycleMomentum", "Recipe", "WSD", "WarmupCosine", "WarmupFlatWarmdown",
    "flat_cosine", "one_cycle", "one_cycle_momentum", "warmup_cosine", "warmup_flat_warmdown", "wsd",
]


class Recipe(Schedule):
    """A named composition: its values, routes and phases are its ``body``'s; its name and parameters are its own.

    A recipe is a :func:`~lrkit.core.schedule.value` whose :meth:`_body` builds the composition from
    the (checked) parameters.
    """

    body: Schedule

    def _body(self) -> Schedule:  # pragma: no cover - abstract
        raise NotImplementedError

    _combines_values = False  # its body's nodes say whether they do

    def _setup(self) -> float | None:
        body = self._body()
        self._derive(body=body)
        self._set_routes(Route(body))
        return body.length

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self._routes[0].value(t, xp)


def _sequence(steps: float, *phases: tuple[Callable[[float], Schedule], float]) -> Schedule:
    """Phases one after another, each ``(build, end)``: ``build(length)`` is the phase that ends at step ``end``.

    The ends are rounded to multiples of ``ulp(steps)`` (a change of at most half an ulp of the run), so every
    length ``end - start`` and every sum the join forms is exact: each phase ends where it is meant to, and the
    whole lasts exactly ``steps`` (fractions of a run need not add up in floats: 0.22, 0.5 and 0.28 of 47 steps
    gave 46.99999999999999, and the last phase never reached its final value). A phase too short to build
    (:func:`~lrkit.core._validate.lasts`) is left out; the next one starts where it would have.
    """
    grid = math.ulp(steps)
    pieces: list[Schedule] = []
    start: float = 0
    for build, end in phases:
        on_grid = round(end / grid) * grid
        end = end if end == on_grid else on_grid  # an end already on the grid keeps its type (an int stays an int)
        if v.lasts(end - start):
            pieces.append(build(end - start))
            start = end
    return pieces[0] if len(pieces) == 1 else Join(pieces)


def _rise(who: str, steps: float, pct_start: float, three_phase: bool) -> float:
    """The steps spent rising, ``pct_start * steps``, once ``pct_start`` is checked against ``three_phase``."""
    upper = 0.5 if three_phase else 1.0
    if not 0 < pct_start < upper:
        raise ValueError(
            f"{who}: pct_start must be in (0, {upper}){' with three_phase' if three_phase else ''}, "
            f"got {pct_start!r}; it is the fraction of the run spent rising"
        )
    return pct_start * steps


def _as_float(who: str, name: str, x: Any) -> float:
    return float(v.number(who, name, x))


_CYCLE_SHAPES = v.choice_of("cos", "linear")


@value
class OneCycle(Recipe):
    """The 1cycle policy (Smith & Topin, 2019), peak 1.0.

    Rise from ``1/div`` to 1 over ``pct_start * steps``, then fall to ``1/(div*final_div)``
    at ``steps``. ``three_phase``: rise, fall back to ``1/div`` over the same span, then
    anneal to ``1/(div*final_div)``. ``shape`` is ``'cos'`` or ``'linear'``.

    >>> s = one_cycle(100)
    >>> s(0), s(30), s(100)
    (0.04, 1.0, 4e-06)
    """

    name = "one_cycle"
    steps: float = param(v.length)
    pct_start: float = param(_as_float, default=0.3)
    div: float = param(v.positive, default=25.0)
    final_div: float = param(v.positive, default=1e4)
    three_phase: bool = param(v.flag, default=False)
    shape: str = param(_CYCLE_SHAPES, default="cos")

    def _body(self) -> Schedule:
        steps, shape = self.steps, self.shape
        rise = _rise(self.name, steps, self.pct_start, self.three_phase)
        low = 1.0 / self.div
        final = low / self.final_div
        if not self.three_phase:
            return Anneal(rise, low, 1.0, shape) >> Anneal(steps - rise, 1.0, final, shape)
        return (
            Anneal(rise, low, 1.0, shape) >> Anneal(rise, 1.0, low, shape)
            >> Anneal(steps - 2 * rise, low, final, shape)
        )


@value
class OneCycleMomentum(Recipe):
    """The momentum (or Adam beta1) cycle that mirrors :func:`one_cycle`; absolute values.

    Fall from ``high`` to ``low`` while the learning rate rises, then return to ``high``
    (two-phase); three-phase holds ``high`` during the final anneal.

    >>> s = one_cycle_momentum(100)
    >>> s(0), s(30), s(100)
    (0.95, 0.85, 0.95)
    """

    name = "one_cycle_momentum"
    steps: float = param(v.length)
    low: float = param(v.rate, default=0.85)
    high: float = param(v.rate, default=0.95)
    pct_start: float = param(_as_float, default=0.3)
    three_phase: bool = param(v.flag, default=False)
    shape: str = param(_CYCLE_SHAPES, default="cos")

    def _body(self) -> Schedule:
        steps, low, high, shape = self.steps, self.low, self.high, self.shape
        rise = _rise(self.name, steps, self.pct_start, self.three_phase)
        v.ordered(self.name, "low", low, "high", high)
        if not self.three_phase:
            return Anneal(rise, high, low, shape) >> Anneal(steps - rise, low, high, shape)
        return Anneal(rise, high, low, shape) >> Anneal(rise, low, high, shape) >> Constant(high, steps - 2 * rise)


@value
class WSD(Recipe):
    """Warmup-stable-decay (Hu et al., 2024 "MiniCPM"; Hagele et al., 2024).

    Linear warmup over ``warmup`` steps, hold 1.0, then decay to ``floor`` over the last
    ``decay`` steps (default 20% of ``steps``) along ``linear``, ``cos`` or ``1-sqrt``.

    >>> s = wsd(100, warmup=9, decay=20)
    >>> s(4), s(50), s(90), s(100)
    (0.5, 1.0, 0.5, 0.0)
    """

    name = "wsd"
    steps: float = param(v.length)
    warmup: float = param(v.non_negative, default=0)
    decay: float | None = param(v.optional_length, default=None)
    floor: float = param(v.rate, default=0.0)
    shape: str = param(v.choice_of("linear", "cos", "1-sqrt"), default="linear")

    def _body(self) -> Schedule:
        steps, warmup = self.steps, self.warmup
        decay_steps = 0.2 * steps if self.decay is None else self.decay
        stable = steps - warmup - decay_steps
        if stable < 0:
            raise ValueError(
                f"{self.name}: warmup + decay must be <= steps, got {warmup!r} + {decay_steps!r} > {steps!r}; "
                "shorten the warmup or the decay"
            )
        return _sequence(
            steps,
            (Warmup, warmup),
            (lambda length: Constant(1.0, length), steps - decay_steps),
            (lambda length: Anneal(length, 1.0, self.floor, self.shape), steps),
        )


@value
class FlatCosine(Recipe):
    """Flat, then cosine (the Ranger / fastai ``fit_flat_cos`` recipe).

    Hold 1.0 for the first ``flat`` fraction of ``steps``, then cosine to ``floor``.

    >>> s = flat_cosine(100, flat=0.5)
    >>> s(49), s(75), s(100)
    (1.0, 0.5, 0.0)
    """

    name = "flat_cosine"
    steps: float = param(v.length)
    flat: float = param(v.fraction_in(open_low=True, open_high=True), default=0.72)
    floor: float = param(v.rate, default=0.0)

    def _body(self) -> Schedule:
        return _sequence(
            self.steps,
            (lambda length: Constant(1.0, length), self.flat * self.steps),
            (lambda length: Cosine(length, floor=self.floor), self.steps),
        )


@value
class WarmupFlatWarmdown(Recipe):
    """Ranger21's schedule (Wright & Demeure, 2021): linear warmup, flat, linear warmdown.

    ``warmup`` and ``warmdown`` are fractions of ``steps`` (Ranger21's defaults 0.22 and 0.28).

    >>> s = warmup_flat_warmdown(90, warmup=0.1, warmdown=0.2)
    >>> s(4), s(45), s(81), s(90)
    (0.5, 1.0, 0.5, 0.0)

    A phase whose length rounds to 0 steps (a tiny fraction of a short run) is left out.
    """

    name = "warmup_flat_warmdown"
    steps: float = param(v.length)
    warmup: float = param(v.fraction_in(open_high=True), default=0.22)
    warmdown: float = param(v.fraction_in(open_low=True), default=0.28)
    floor: float = param(v.rate, default=0.0)

    def _body(self) -> Schedule:
        if self.warmup + self.warmdown > 1:
            raise ValueError(f"{self.name}: warmup + warmdown must be <= 1, got {self.warmup!r} + {self.warmdown!r}")
        steps = self.steps
        return _sequence(
            steps,
            (Warmup, self.warmup * steps),
            (lambda length: Constant(1.0, length), steps - self.warmdown * steps),
            (lambda length: Anneal(length, 1.0, self.floor, "linear"), steps),
        )


@value
class WarmupCosine(Recipe):
    """Linear warmup for ``warmup`` steps, then cosine to ``floor``; ``steps`` is the whole run.

    >>> s = warmup_cosine(109, warmup=9)
    >>> s(4), s(9), s(109)
    (0.5, 1.0, 0.0)
    """

    name = "warmup_cosine"
    steps: float = param(v.length)
    warmup: float = param(v.length)
    floor: float = param(v.rate, default=0.0)
    start: float | None = param(v.optional(v.rate), default=None)

    def _body(self) -> Schedule:
        if self.warmup >= self.steps:
            raise ValueError(
                f"{self.name}: warmup must be < steps, got warmup={self.warmup!r} >= steps={self.steps!r}; "
                "the warmup is part of the run, so make it shorter than the run"
            )
        return Warmup(self.warmup, start=self.start) >> Cosine(self.steps - self.warmup, floor=self.floor)


one_cycle = OneCycle
one_cycle_momentum = OneCycleMomentum
wsd = WSD
flat_cosine = FlatCosine
warmup_flat_warmdown = WarmupFlatWarmdown
warmup_cosine = WarmupCosine
