"""Helpers shared by the compat modules (parameter checks in the peers' own names)."""

from __future__ import annotations

from typing import Any

from lrkit.core import _validate as v
from lrkit.core.combinators import Join, Shift, Take
from lrkit.core.families import Constant
from lrkit.core.schedule import Schedule

__all__ = ["lr", "sequence", "shifted", "take_exact", "whole"]


def lr(who: str, name: str, value: Any) -> float:
    """A learning rate: a finite number > 0."""
    return v.positive(who, name, value, "a learning rate is a positive number such as 1e-3")


def whole(who: str, name: str, value: Any, minimum: int = 1) -> int:
    """A whole number of steps (the peers count integer steps)."""
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
