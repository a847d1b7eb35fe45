"""Helpers shared by the compat modules (parameter checks in the peers' own names)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from lrkit.core import _validate as v
from lrkit.core.combinators import Join, Shift, Take
from lrkit.core.families import Constant
from lrkit.core.schedule import Schedule

__all__ = ["guard_optimizers", "lr", "sequence", "shifted", "take_exact", "whole"]

_F = TypeVar("_F", bound=Callable[..., Any])


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


def _is_optimizer(value: Any) -> bool:
    """A torch optimizer (``param_groups``) or a Keras one (``apply_gradients``): never a schedule parameter."""
    return hasattr(value, "param_groups") or (hasattr(value, "apply_gradients") and hasattr(value, "variables"))


def _refuse_optimizers(fn: _F, peer: str, takes_lr: bool) -> _F:
    """``fn`` raising one line, naming the lrkit way, when an optimizer is passed from the peer's habit."""
    signature = inspect.signature(fn)
    first = next(iter(signature.parameters), "lr")
    example = f"{first}=1.0, ..." if takes_lr else "..."
    rest = f"; with {first}=1.0 its values multiply each group's learning rate" if takes_lr else (
        "; its values multiply each group's learning rate"
    )

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if _is_optimizer(value):
                try:
                    bound = signature.bind_partial(*args, **kwargs).arguments
                    name = next(k for k, item in bound.items() if item is value)
                except (TypeError, StopIteration):
                    name = "an argument"
                raise ValueError(
                    f"{fn.__name__}: {name} is an optimizer ({type(value).__name__}), not a schedule parameter; "
                    f"lrkit.compat.{peer} takes no optimizer and returns a schedule: write "
                    f"lrkit.torch.Scheduler(opt, {fn.__name__}({example})){rest}"
                )
        return fn(*args, **kwargs)

    return checked  # type: ignore[return-value]


def guard_optimizers(namespace: dict[str, Any], peer: str, takes_lr: bool = True) -> None:
    """Wrap every public constructor of a compat module (its ``__all__`` functions) with the optimizer check.

    The peers take the optimizer first (``StepLR(opt, 30)``, ``get_scheduler("linear", opt, ...)``); passed
    here it would otherwise surface as "must be a finite number" with the optimizer's whole repr.
    """
    for name in namespace["__all__"]:
        value = namespace[name]
        if inspect.isfunction(value):
            namespace[name] = _refuse_optimizers(value, peer, takes_lr)
