"""Progress in tokens or samples for :class:`lrkit.torch.Scheduler` (``advance="tokens"``/``"samples"``).

Each ``step(tokens=n)`` adds this rank's count, combined across ranks (:func:`agree_count`), and the
schedule, written in tokens, is evaluated at the total: right whatever the batch size does.
(:class:`lrkit.torch._progress.Progress` holds the counter and checks which count a Scheduler takes.)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from lrkit.reactive._schema import Reader
from lrkit.torch.distributed import agree_count

__all__ = ["ACROSS", "UNITS", "TokenCounter", "count"]

_STATE_VERSION = 1

UNITS = ("tokens", "samples")
ACROSS = ("sum", "rank0")


def count(who: str, value: Any) -> int:
    """A token/sample count: a whole number >= 0 — a Python or numpy integer, an integer-valued float (``25.0``),
    or a one-element tensor of either; a fraction, a negative, NaN/inf, a bool or text is a ``ValueError``.

    >>> import numpy as np, torch
    >>> count("step(tokens=...)", np.float32(100.0)), count("step(tokens=...)", torch.tensor([7]))
    (100, 7)
    """
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{who} must be a whole number >= 0 (a one-element tensor), got {value!r:.80}")
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{who} must be a whole number >= 0 (tokens or samples fed), got {value!r:.80}")
    if not isinstance(value, numbers.Integral):
        value = float(value)
        if not value.is_integer():  # a fraction, NaN or inf
            raise ValueError(f"{who} must be a whole number >= 0 (tokens or samples fed), got {value!r}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{who} must be >= 0, got {value!r}; a count of tokens or samples fed never goes back")
    return value


class TokenCounter:
    """The tokens (samples) fed so far, and this rank's count for the update in progress.

    ``add(n)`` (``Scheduler.count``) adds this rank's count to the update in progress; ``take()``
    (``Scheduler.step``) agrees the pending count across ranks (``across``) and adds it to ``total``.

    >>> c = TokenCounter("tokens", "sum"); c.add("count", 100); c.add("count", 20); c.take(), c.total
    (120, 120)
    """

    def __init__(self, unit: str, across: str) -> None:
        self.unit = unit
        self.across = across
        self.total = 0  # the agreed count so far
        self.pending: int | None = None  # this rank's count for the update in progress (None: nothing counted)

    def add(self, who: str, value: Any) -> None:
        local = count(f"Scheduler.{who}({self.unit}=...)", value)
        self.pending = local if self.pending is None else self.pending + local

    def take(self) -> int:
        """The total after adding the pending count, agreed across ranks (a collective)."""
        if self.pending is None:
            unit = self.unit
            raise ValueError(
                f"Scheduler.step(): with advance={unit!r} pass the {unit} this update consumed, step({unit}=n), "
                f"or count them first with sched.count({unit}=n) (a framework that calls step() itself: use the "
                "callbacks lrkit.torch.lightning / lrkit.torch.hf, which count for you)"
            )
        self.total += agree_count(self.pending, self.across)
        self.pending = None
        return self.total

    def state_dict(self) -> dict[str, Any]:
        """``{'version': 1, 'unit': ..., 'total': n, 'pending': n or None}`` (JSON-safe)."""
        return {"version": _STATE_VERSION, "unit": self.unit, "total": self.total, "pending": self.pending}

    def load_state_dict(self, state: Any) -> None:
        """Restore a :meth:`state_dict` (checked whole first: ``ValueError`` naming the key, nothing changed)."""
        self.apply_state(self.parse_state(state))

    def parse_state(
        self, state: Any, who: str = "TokenCounter.load_state_dict", where: str = ""
    ) -> tuple[int, int | None]:
        reader = Reader(who, state, "state_dict()", where)
        reader.version(_STATE_VERSION)
        reader.only({"version", "unit", "total", "pending"})
        reader.same("unit", self.unit, f"build the Scheduler with advance={reader.state.get('unit')!r} as saved")
        total = reader.integer("total")
        pending = reader.get("pending", "an integer >= 0 or None")
        return total, None if pending is None else reader.integer("pending", value=pending)

    def apply_state(self, parsed: tuple[int, int | None]) -> None:
        self.total, self.pending = parsed
