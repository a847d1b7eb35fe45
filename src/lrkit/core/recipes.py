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

from typing import Any

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.combinators import Join
from lrkit.core.families import Anneal, Constant, Cosine, Warmup
from lrkit.core.routing import Route
from lrkit.core.schedule import Schedule

__all__ = [
    "FlatCosine", "OneCycle", "OneCycleMomentum", "Recipe", "WSD", "WarmupCosine", "WarmupFlatWarmdown",
    "flat_cosine", "one_cycle", "one_cycle_momentum", "warmup_cosine", "warmup_flat_warmdown", "wsd",
]


class Recipe(Schedule):
    """A named composition: its values, routes and phases are its ``body``'s; its name and parameters are its own."""

    body: Schedule

    def _finish(self, body: Schedule, **params: Any) -> None:
        self._init(body.length, **params)
        object.__setattr__(self, "body", body)
        self._set_routes(Route(body))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.body._at(t, xp)


def _sequence(*pieces: Schedule | None) -> Schedule:
    kept = [p for p in pieces if p is not None]
    return kept[0] if len(kept) == 1 else Join(kept)


def _split(who: str, steps: float, pct_start: float, three_phase: bool) -> tuple[float, float]:
    steps = v.length(who, "steps", steps)
    upper = 0.5 if three_phase else 1.0
    pct_start = v.number(who, "pct_start", pct_start)
    if not 0 < pct_start < upper:
        raise ValueError(
            f"{who}: pct_start must be in (0, {upper}){' with three_phase' if three_phase else ''}, "
            f"got {pct_start!r}; it is the fraction of the run spent rising"
        )
    return steps, pct_start * steps


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
    steps: float
    pct_start: float
    div: float
    final_div: float
    three_phase: bool
    shape: str

    def __init__(
        self,
        steps: float,
        pct_start: float = 0.3,
        div: float = 25.0,
        final_div: float = 1e4,
        three_phase: bool = False,
        shape: str = "cos",
    ):
        shape = v.choice(self.name, "shape", shape, ("cos", "linear"))
        steps, rise = _split(self.name, steps, pct_start, three_phase)
        div = v.positive(self.name, "div", div)
        final_div = v.positive(self.name, "final_div", final_div)
        low = 1.0 / div
        final = low / final_div
        if not three_phase:
            body = Anneal(rise, low, 1.0, shape) >> Anneal(steps - rise, 1.0, final, shape)
        else:
            body = (
                Anneal(rise, low, 1.0, shape) >> Anneal(rise, 1.0, low, shape)
                >> Anneal(steps - 2 * rise, low, final, shape)
            )
        self._finish(
            body, steps=steps, pct_start=float(pct_start), div=div, final_div=final_div,
            three_phase=bool(three_phase), shape=shape,
        )


class OneCycleMomentum(Recipe):
    """The momentum (or Adam beta1) cycle that mirrors :func:`one_cycle`; absolute values.

    Fall from ``high`` to ``low`` while the learning rate rises, then return to ``high``
    (two-phase); three-phase holds ``high`` during the final anneal.

    >>> s = one_cycle_momentum(100)
    >>> s(0), s(30), s(100)
    (0.95, 0.85, 0.95)
    """

    name = "one_cycle_momentum"
    steps: float
    low: float
    high: float
    pct_start: float
    three_phase: bool
    shape: str

    def __init__(
        self,
        steps: float,
        low: float = 0.85,
        high: float = 0.95,
        pct_start: float = 0.3,
        three_phase: bool = False,
        shape: str = "cos",
    ):
        who = self.name
        shape = v.choice(who, "shape", shape, ("cos", "linear"))
        steps, rise = _split(who, steps, pct_start, three_phase)
        low = v.number(who, "low", low)
        high = v.number(who, "high", high)
        if low > high:
            raise ValueError(f"{who}: low must be <= high, got low={low!r} > high={high!r}")
        if not three_phase:
            body = Anneal(rise, high, low, shape) >> Anneal(steps - rise, low, high, shape)
        else:
            body = Anneal(rise, high, low, shape) >> Anneal(rise, low, high, shape) >> Constant(high, steps - 2 * rise)
        self._finish(
            body, steps=steps, low=low, high=high, pct_start=float(pct_start), three_phase=bool(three_phase),
            shape=shape,
        )


class WSD(Recipe):
    """Warmup-stable-decay (Hu et al., 2024 "MiniCPM"; Hagele et al., 2024).

    Linear warmup over ``warmup`` steps, hold 1.0, then decay to ``floor`` over the last
    ``decay`` steps (default 20% of ``steps``) along ``linear``, ``cos`` or ``1-sqrt``.

    >>> s = wsd(100, warmup=9, decay=20)
    >>> s(4), s(50), s(90), s(100)
    (0.5, 1.0, 0.5, 0.0)
    """

    name = "wsd"
    steps: float
    warmup: float
    decay: float | None
    floor: float
    shape: str

    def __init__(
        self,
        steps: float,
        warmup: float = 0,
        decay: float | None = None,
        floor: float = 0.0,
        shape: str = "linear",
    ):
        who = self.name
        steps = v.length(who, "steps", steps)
        warmup = v.non_negative(who, "warmup", warmup)
        decay_steps = 0.2 * steps if decay is None else v.length(who, "decay", decay)
        shape = v.choice(who, "shape", shape, ("linear", "cos", "1-sqrt"))
        floor = v.number(who, "floor", floor)
        stable = steps - warmup - decay_steps
        if stable < 0:
            raise ValueError(
                f"{who}: warmup + decay must be <= steps, got {warmup!r} + {decay_steps!r} > {steps!r}; "
                "shorten the warmup or the decay"
            )
        body = _sequence(
            Warmup(warmup) if warmup > 0 else None,
            Constant(1.0, stable) if stable > 0 else None,
            Anneal(decay_steps, 1.0, floor, shape),
        )
        self._finish(
            body, steps=steps, warmup=warmup, decay=None if decay is None else decay_steps, floor=floor, shape=shape
        )


class FlatCosine(Recipe):
    """Flat, then cosine (the Ranger / fastai ``fit_flat_cos`` recipe).

    Hold 1.0 for the first ``flat`` fraction of ``steps``, then cosine to ``floor``.

    >>> s = flat_cosine(100, flat=0.5)
    >>> s(49), s(75), s(100)
    (1.0, 0.5, 0.0)
    """

    name = "flat_cosine"
    steps: float
    flat: float
    floor: float

    def __init__(self, steps: float, flat: float = 0.72, floor: float = 0.0):
        steps = v.length(self.name, "steps", steps)
        flat = v.fraction(self.name, "flat", flat, open_low=True, open_high=True)
        floor = v.number(self.name, "floor", floor)
        hold = flat * steps
        body = _sequence(Constant(1.0, hold) if hold > 0 else None, Cosine(steps - hold, floor=floor))
        self._finish(body, steps=steps, flat=flat, floor=floor)


class WarmupFlatWarmdown(Recipe):
    """Ranger21's schedule (Wright & Demeure, 2021): linear warmup, flat, linear warmdown.

    ``warmup`` and ``warmdown`` are fractions of ``steps`` (Ranger21's defaults 0.22 and 0.28).

    >>> s = warmup_flat_warmdown(90, warmup=0.1, warmdown=0.2)
    >>> s(4), s(45), s(81), s(90)
    (0.5, 1.0, 0.5, 0.0)

    A phase whose length rounds to 0 steps (a tiny fraction of a short run) is left out.
    """

    name = "warmup_flat_warmdown"
    steps: float
    warmup: float
    warmdown: float
    floor: float

    def __init__(self, steps: float, warmup: float = 0.22, warmdown: float = 0.28, floor: float = 0.0):
        who = self.name
        steps = v.length(who, "steps", steps)
        warmup = v.fraction(who, "warmup", warmup, open_high=True)
        warmdown = v.fraction(who, "warmdown", warmdown, open_low=True)
        floor = v.number(who, "floor", floor)
        if warmup + warmdown > 1:
            raise ValueError(f"{who}: warmup + warmdown must be <= 1, got {warmup!r} + {warmdown!r}")
        rise, fall = warmup * steps, warmdown * steps
        flat = steps - rise - fall
        body = _sequence(
            Warmup(rise) if rise > 0 else None,
            Constant(1.0, flat) if flat > 0 else None,
            Anneal(fall, 1.0, floor, "linear") if fall > 0 else None,
        )
        self._finish(body, steps=steps, warmup=warmup, warmdown=warmdown, floor=floor)


class WarmupCosine(Recipe):
    """Linear warmup for ``warmup`` steps, then cosine to ``floor``; ``steps`` is the whole run.

    >>> s = warmup_cosine(109, warmup=9)
    >>> s(4), s(9), s(109)
    (0.5, 1.0, 0.0)
    """

    name = "warmup_cosine"
    steps: float
    warmup: float
    floor: float
    start: float | None

    def __init__(self, steps: float, warmup: float, floor: float = 0.0, start: float | None = None):
        who = self.name
        steps = v.length(who, "steps", steps)
        warmup = v.length(who, "warmup", warmup)
        floor = v.number(who, "floor", floor)
        start = None if start is None else v.number(who, "start", start)
        if warmup >= steps:
            raise ValueError(
                f"{who}: warmup must be < steps, got warmup={warmup!r} >= steps={steps!r}; "
                "the warmup is part of the run, so make it shorter than the run"
            )
        body = Warmup(warmup, start=start) >> Cosine(steps - warmup, floor=floor)
        self._finish(body, steps=steps, warmup=warmup, floor=floor, start=start)


one_cycle = OneCycle
one_cycle_momentum = OneCycleMomentum
wsd = WSD
flat_cosine = FlatCosine
warmup_flat_warmdown = WarmupFlatWarmdown
warmup_cosine = WarmupCosine
