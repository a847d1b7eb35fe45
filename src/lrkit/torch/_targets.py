"""Which numbers in which parameter groups a :class:`~lrkit.torch.Scheduler` writes, and how.

A *target* is one number in one parameter group: ``group["lr"]``, ``group["momentum"]``,
``group["betas"][0]`` (key ``"beta1"``), ``group["weight_decay"]`` or any other numeric key.
Each target has a schedule (by index into the scheduler's list of distinct schedules) and a
``factor``; the value written at progress ``t`` is ``factor * schedule(t)`` where

* ``factor = base * scale`` for a relative key (``base``: the group's value at construction),
* ``factor = scale`` for an absolute key,
* ``factor = 0.0`` when the group's value at construction is 0 (a frozen group stays frozen).

``scale`` is the per-group multiplier (``lr_scale``, for ``"lr"`` only; 1.0 otherwise).

>>> key_path("beta1"), key_path("momentum")
(('betas', 0), ('momentum', None))
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "key_path", "read", "write"]

#: keys that name one element of a tuple-valued group entry
_ALIASES = {"beta1": ("betas", 0), "beta2": ("betas", 1)}


def key_path(key: str) -> tuple[str, int | None]:
    """``(group key, tuple index or None)`` for a scheduled key name."""
    return _ALIASES.get(key, (key, None))


@dataclass
class Target:
    """One scheduled number: ``group[key]`` (or ``group[key][index]``) = ``factor * values[schedule]``."""

    group: int
    name: str  # the user's key name ("lr", "beta1", ...)
    key: str  # the group dict key ("lr", "betas", ...)
    index: int | None  # element of a tuple value, or None
    schedule: int  # index into the scheduler's distinct schedules
    factor: float


def read(group: dict[str, Any], name: str, where: int) -> float:
    """The current value of ``name`` in a parameter group, as a float; a clear error if unusable."""
    key, index = key_path(name)
    if key not in group:
        known = ", ".join(k for k in group if k != "params")
        hint = " (Adam-style optimizers keep momentum in betas: use 'beta1')" if name == "momentum" else ""
        raise ValueError(f"Scheduler: param group {where} has no {key!r} to schedule{hint}; its keys are: {known}")
    value = group[key]
    if index is not None:
        if not isinstance(value, (tuple, list)) or len(value) <= index:
            raise ValueError(
                f"Scheduler: param group {where}: {key!r} must be a tuple to schedule {name!r}, got {value!r}"
            )
        value = value[index]
    if _is_tensor(value):
        if value.numel() != 1:
            raise ValueError(
                f"Scheduler: param group {where}: {name!r} must be a number, got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Scheduler: param group {where}: {name!r} must be a finite number >= 0 to schedule, got {value!r}"
        )
    return float(value)


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "fill_") and hasattr(value, "numel")


def is_plain(group: dict[str, Any], target: Target) -> bool:
    """True when the target is a plain number that a dict assignment can replace."""
    return target.index is None and not _is_tensor(group[target.key])


def write(group: dict[str, Any], target: Target, value: float) -> None:
    """Write one value: tensors in place (same object, dtype, device), tuples rebuilt, numbers replaced."""
    current = group[target.key]
    if target.index is None:
        if _is_tensor(current):
            current.fill_(value)
        else:
            group[target.key] = value
        return
    element = current[target.index]
    if _is_tensor(element):
        element.fill_(value)
    else:
        items = list(current)
        items[target.index] = value
        group[target.key] = type(current)(items) if isinstance(current, tuple) else items
