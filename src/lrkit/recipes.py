"""Presets built from the families and combinators (no flags inside the families).

Each returns an ordinary schedule (a join of phases), so its ``repr`` and
``to_config`` show the phases it is made of.
"""

from __future__ import annotations

from lrkit import _validate as v
from lrkit.compose import Join
from lrkit.schedule import Schedule, register
from lrkit.shapes import Anneal, Constant, Cosine, Warmup

__all__ = ["flat_cosine", "one_cycle", "one_cycle_momentum", "warmup_cosine", "warmup_flat_warmdown", "wsd"]


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


@register
def one_cycle(
    steps: float,
    pct_start: float = 0.3,
    div: float = 25.0,
    final_div: float = 1e4,
    three_phase: bool = False,
    shape: str = "cos",
) -> Schedule:
    """The 1cycle policy (Smith & Topin, 2019), peak 1.0.

    Rise from ``1/div`` to 1 over ``pct_start * steps``, then fall to ``1/(div*final_div)``
    at ``steps``. ``three_phase``: rise, fall back to ``1/div`` over the same span, then
    anneal to ``1/(div*final_div)``. ``shape`` is ``'cos'`` or ``'linear'``.

    >>> s = one_cycle(100)
    >>> s(0), s(30), s(100)
    (0.04, 1.0, 4e-06)
    """
    shape = v.choice("one_cycle", "shape", shape, ("cos", "linear"))
    steps, rise = _split("one_cycle", steps, pct_start, three_phase)
    low = 1.0 / v.positive("one_cycle", "div", div)
    final = low / v.positive("one_cycle", "final_div", final_div)
    if not three_phase:
        return Anneal(rise, low, 1.0, shape) >> Anneal(steps - rise, 1.0, final, shape)
    return Anneal(rise, low, 1.0, shape) >> Anneal(rise, 1.0, low, shape) >> Anneal(steps - 2 * rise, low, final, shape)


@register
def one_cycle_momentum(
    steps: float,
    low: float = 0.85,
    high: float = 0.95,
    pct_start: float = 0.3,
    three_phase: bool = False,
    shape: str = "cos",
) -> Schedule:
    """The momentum (or Adam beta1) cycle that mirrors :func:`one_cycle`; absolute values.

    Fall from ``high`` to ``low`` while the learning rate rises, then return to ``high``
    (two-phase); three-phase holds ``high`` during the final anneal.

    >>> s = one_cycle_momentum(100)
    >>> s(0), s(30), s(100)
    (0.95, 0.85, 0.95)
    """
    shape = v.choice("one_cycle_momentum", "shape", shape, ("cos", "linear"))
    steps, rise = _split("one_cycle_momentum", steps, pct_start, three_phase)
    low = v.number("one_cycle_momentum", "low", low)
    high = v.number("one_cycle_momentum", "high", high)
    if low > high:
        raise ValueError(f"one_cycle_momentum: low must be <= high, got low={low!r} > high={high!r}")
    if not three_phase:
        return Anneal(rise, high, low, shape) >> Anneal(steps - rise, low, high, shape)
    return Anneal(rise, high, low, shape) >> Anneal(rise, low, high, shape) >> Constant(high, steps - 2 * rise)


@register
def wsd(
    steps: float,
    warmup: float = 0,
    decay: float | None = None,
    floor: float = 0.0,
    shape: str = "linear",
) -> Schedule:
    """Warmup-stable-decay (Hu et al., 2024 "MiniCPM"; Hagele et al., 2024).

    Linear warmup over ``warmup`` steps, hold 1.0, then decay to ``floor`` over the last
    ``decay`` steps (default 20% of ``steps``) along ``linear``, ``cos`` or ``1-sqrt``.

    >>> s = wsd(100, warmup=10, decay=20)
    >>> s(5), s(50), s(90), s(100)
    (0.5, 1.0, 0.5, 0.0)
    """
    who = "wsd"
    steps = v.length(who, "steps", steps)
    warmup = v.non_negative(who, "warmup", warmup)
    decay = 0.2 * steps if decay is None else v.length(who, "decay", decay)
    shape = v.choice(who, "shape", shape, ("linear", "cos", "1-sqrt"))
    floor = v.number(who, "floor", floor)
    stable = steps - warmup - decay
    if stable < 0:
        raise ValueError(
            f"{who}: warmup + decay must be <= steps, got {warmup!r} + {decay!r} > {steps!r}; "
            "shorten the warmup or the decay"
        )
    return _sequence(
        Warmup(warmup) if warmup > 0 else None,
        Constant(1.0, stable) if stable > 0 else None,
        Anneal(decay, 1.0, floor, shape),
    )


@register
def flat_cosine(steps: float, flat: float = 0.72, floor: float = 0.0) -> Schedule:
    """Flat, then cosine (the Ranger / fastai ``fit_flat_cos`` recipe).

    Hold 1.0 for the first ``flat`` fraction of ``steps``, then cosine to ``floor``.

    >>> s = flat_cosine(100, flat=0.5)
    >>> s(49), s(75), s(100)
    (1.0, 0.5, 0.0)
    """
    steps = v.length("flat_cosine", "steps", steps)
    flat = v.fraction("flat_cosine", "flat", flat, open_low=True, open_high=True)
    return Constant(1.0, flat * steps) >> Cosine(steps - flat * steps, floor=floor)


@register
def warmup_flat_warmdown(steps: float, warmup: float = 0.22, warmdown: float = 0.28, floor: float = 0.0) -> Schedule:
    """Ranger21's schedule (Wright & Demeure, 2021): linear warmup, flat, linear warmdown.

    ``warmup`` and ``warmdown`` are fractions of ``steps`` (Ranger21's defaults 0.22 and 0.28).

    >>> s = warmup_flat_warmdown(100, warmup=0.1, warmdown=0.2)
    >>> s(5), s(50), s(90), s(100)
    (0.5, 1.0, 0.5, 0.0)
    """
    who = "warmup_flat_warmdown"
    steps = v.length(who, "steps", steps)
    warmup = v.fraction(who, "warmup", warmup, open_high=True)
    warmdown = v.fraction(who, "warmdown", warmdown, open_low=True)
    if warmup + warmdown > 1:
        raise ValueError(f"{who}: warmup + warmdown must be <= 1, got {warmup!r} + {warmdown!r}")
    flat = steps * (1 - warmup - warmdown)
    return _sequence(
        Warmup(warmup * steps) if warmup > 0 else None,
        Constant(1.0, flat) if flat > 0 else None,
        Anneal(warmdown * steps, 1.0, floor, "linear"),
    )


@register
def warmup_cosine(steps: float, warmup: float, floor: float = 0.0, start: float = 0.0) -> Schedule:
    """Linear warmup for ``warmup`` steps, then cosine to ``floor``; ``steps`` is the whole run.

    >>> s = warmup_cosine(110, warmup=10)
    >>> s(5), s(10), s(110)
    (0.5, 1.0, 0.0)
    """
    steps = v.length("warmup_cosine", "steps", steps)
    warmup = v.length("warmup_cosine", "warmup", warmup)
    if warmup >= steps:
        raise ValueError(
            f"warmup_cosine: warmup must be < steps, got warmup={warmup!r} >= steps={steps!r}; "
            "the warmup is part of the run, so make it shorter than the run"
        )
    return Warmup(warmup, start=start) >> Cosine(steps - warmup, floor=floor)
