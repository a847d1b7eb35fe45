"""Progress in tokens or samples for :class:`lrkit.torch.Scheduler` (``advance="tokens"``/``"samples"``).

Each ``step(tokens=n)`` adds this rank's count, combined across ranks (:func:`agree_count`), and the
schedule, written in tokens, is evaluated at the total: right whatever the batch size does.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from lrkit.torch.distributed import agree_count

__all__ = ["ACROSS", "UNITS", "TokenCounting", "count"]

UNITS = ("tokens", "samples")
ACROSS = ("sum", "rank0")


def count(who: str, value: Any) -> int:
    """A token/sample count: an integer >= 0 (Python, numpy, or a 0-d integer tensor)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{who} must be an integer count (a 0-d integer tensor), got {value!r}")
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{who} must be an integer count >= 0, got {value!r}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{who} must be >= 0, got {value!r}; a count of tokens or samples fed never goes back")
    return value


class TokenCounting:
    """The Scheduler's token/sample step (a mixin: it advances the Scheduler's own progress)."""

    _counted: int | None  # this rank's count() for the update in progress

    def _count_units(self: Any, tokens: Any, samples: Any, who: str) -> int | None:
        """This rank's count passed to ``step()``/``count()`` added to what is pending (``None``: nothing)."""
        unit = self._unit
        if tokens is None and samples is None:
            return self._counted  # type: ignore[no-any-return]
        if unit is None:
            name = "tokens" if tokens is not None else "samples"
            raise ValueError(
                f"Scheduler.{who}({name}=...): this Scheduler counts {self._advance}s; build it with "
                f"Scheduler(..., advance={name!r}) to drive the schedule by the {name} fed"
            )
        other = "samples" if unit == "tokens" else "tokens"
        if (samples if unit == "tokens" else tokens) is not None:
            raise ValueError(
                f"Scheduler.{who}({other}=...): this Scheduler counts {unit} (advance={unit!r}); pass {unit}=n"
            )
        local = count(f"Scheduler.{who}({unit}=...)", tokens if unit == "tokens" else samples)
        pending = self._counted
        return local if pending is None else pending + local

    def _step_units(self: Any, metric: Any, tokens: Any, samples: Any) -> None:
        """``step()`` with ``advance="tokens"``/``"samples"``: add the agreed count, write the values at the total."""
        local = self._count_units(tokens, samples, "step")
        unit = self._unit
        if local is None:
            raise ValueError(
                f"Scheduler.step(): with advance={unit!r} pass the {unit} this update consumed, step({unit}=n), "
                f"or count them first with sched.count({unit}=n) (a framework that calls step() itself: use the "
                "callbacks lrkit.torch.lightning / lrkit.torch.hf, which count for you)"
            )
        self._counted = None
        n = self._n + agree_count(local, self._across)
        self._check_foreign_write()
        if metric is not None:
            self._observe(metric, at=float(n))
        self._n = n
        if self._zero_check:
            self._warn_all_zero()
        if self.optimizer.param_groups is not self._groups or len(self._groups) != self._ngroups:
            self._adopt_groups()
        self._write(self._values(n))
