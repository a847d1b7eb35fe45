"""Helpers shared by the compat modules (parameter checks in the peers' own names)."""

from __future__ import annotations

from typing import Any

from lrkit.core import _validate as v
from lrkit.core.combinators import Join, Scale, Shift, Take
from lrkit.core.families import Constant
from lrkit.core.schedule import Schedule

__all__ = ["arg", "lr", "refuse_optimizer", "scaled", "sequence", "shifted", "take_exact", "whole"]


def lr(who: str, name: str, value: Any, *, zero: bool = False) -> float:
    """A learning rate: a finite number > 0 (``>= 0`` with ``zero``, for peers that accept a zero rate)."""
    refuse_optimizer(who, name, value)
    if zero:
        return v.non_negative(who, name, value, "a learning rate cannot be negative")
    return v.positive(who, name, value, "a learning rate is a positive number such as 1e-3")


def arg(
    who: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    fix: str = "",
) -> float:
    """A peer's number argument, checked up front in the peer's own names before any lrkit family sees it.

    A refusal is one line naming the peer function and the argument the caller passed, with the fix:
    ``who: name must be in [0, 1], got 1.5; fix`` (``low``/``high`` bound it, ends closed unless ``open_*``),
    never an lrkit family's parameter or a value derived from the caller's.

    >>> arg("CosineDecay", "alpha", -0.5, 0, fix="the decay ends at alpha * initial_learning_rate")
    Traceback (most recent call last):
    ValueError: CosineDecay: alpha must be >= 0, got -0.5; the decay ends at alpha * initial_learning_rate
    """
    refuse_optimizer(who, name, value)
    value = v.number(who, name, value)
    low_ok = low is None or (value > low if open_low else value >= low)
    high_ok = high is None or (value < high if open_high else value <= high)
    if low_ok and high_ok:
        return value
    if low is not None and high is not None:
        requirement = f"in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif low is not None:
        requirement = f"{'>' if open_low else '>='} {low}"
    else:
        requirement = f"{'<' if open_high else '<='} {high}"
    message = f"{who}: {name} must be {requirement}, got {value!r}"
    raise ValueError(f"{message}; {fix}" if fix else message)


def scaled(schedule: Schedule, value: float) -> Schedule:
    """``schedule * value`` (``schedule`` itself when ``value == 1``)."""
    return schedule if value == 1.0 else Scale(schedule, value)


def whole(who: str, name: str, value: Any, minimum: int = 1) -> int:
    """A whole number of steps (the peers count integer steps)."""
    refuse_optimizer(who, name, value)
    return v.integer(who, name, value, minimum=minimum)


def take_exact(schedule: Schedule, steps: float) -> Schedule:
    """``schedule`` bounded to ``steps`` (unchanged when it already has that length)."""
    return schedule if schedule.length == steps else Take(schedule, steps)


def sequence(*pieces: Schedule | None) -> Schedule:
    """Join the pieces that are not ``None`` (a single piece is returned as is)."""
    kept = [p for p in pieces if p is not None]
    return kept[0] if len(kept) == 1 else Join(kept)


def shifted(schedule: Schedule, by: float) -> Schedule:
    """``schedule`` started ``by`` steps in (unchanged when ``by == 0``; its final value past its end)."""
    if by == 0:
        return schedule
    if schedule.length is not None and by >= schedule.length:
        return Constant(schedule.final)
    return Shift(schedule, by)


def _is_optimizer(value: Any) -> bool:
    """A torch optimizer (``param_groups``) or a Keras one (``apply_gradients``): never a schedule parameter."""
    return hasattr(value, "param_groups") or (hasattr(value, "apply_gradients") and hasattr(value, "variables"))


def refuse_optimizer(who: str, name: str, value: Any, takes_lr: bool = True) -> None:
    """One line naming the lrkit way when an optimizer arrives from the peer's habit (``StepLR(opt, 30)``,
    ``get_scheduler("linear", opt, ...)``), instead of "must be a finite number" and the optimizer's repr."""
    if _is_optimizer(value):
        example, rest = (
            ("lr=1.0, ...", "; with lr=1.0 its values multiply each group's learning rate")
            if takes_lr
            else ("...", "; its values multiply each group's learning rate")
        )
        raise ValueError(
            f"{who}: {name} is an optimizer ({type(value).__name__}), not a schedule parameter; lrkit's compat "
            f"constructors take no optimizer and return a schedule: write lrkit.torch.Scheduler(opt, "
            f"{who}({example})){rest}"
        )
