"""The write plan of :class:`lrkit.torch.Scheduler`: which number of which param group gets which value, and the
block of values the fast path of ``step()`` reads.

Each scheduled key of each group is a :class:`~lrkit.torch._targets.Target` with ``factor_g = base_g * scale_g``
(relative) or ``scale_g`` (absolute), 0 for a group whose value was 0; ``group[key] = factor_g * values[j]``.
``base`` holds each key's value per group at construction (captured when a group is first seen). A *plain*
target is a number in a group dict (written by one assignment); the others (tensors, ``betas``) by
:func:`~lrkit.torch._targets.write`.

The fast path: :meth:`Plan.arm` lets progress ``[lo, hi)`` of the current block be written straight from the
block's flat values (schedule ``j``'s from ``j << shift``), with nothing checked but that the groups and the
first plain target are still what this plan wrote (``last``); ``n`` is the progress whose values the groups hold.

>>> import torch, lrkit as lk
>>> from lrkit.torch._specs import Specs
>>> from lrkit.torch._values import Values
>>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
>>> specs = Specs(opt, lk.linear(4), None, ("lr",), None, None)
>>> plan = Plan(["lr"], clocked=False); plan.adopt(opt.param_groups, specs, 8)
>>> plan.write(Values(specs.schedules, None).at(2)); opt.param_groups[0]["lr"]
0.25
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

from lrkit.torch._specs import Specs
from lrkit.torch._targets import Target, is_plain, key_path, read, write
from lrkit.torch._values import Values

__all__ = ["Plan"]


class Plan:
    """Targets, bases and the armed block (see the module docstring)."""

    __slots__ = (
        "base",
        "clocked",
        "first",
        "flat",
        "groups",
        "hi",
        "last",
        "lo",
        "mask",
        "n",
        "ngroups",
        "other",
        "plain",
        "targets",
    )

    def __init__(self, names: Iterable[str], clocked: bool) -> None:
        self.base: dict[str, list[float]] = {name: [] for name in names}
        self.clocked = clocked  # values are the clock's, read on every call (no block)
        self.n = 0  # progress (updates or calls) whose values are written
        self.lo = self.hi = 0  # progress [lo, hi) may take the fast path of step() (see arm)
        self.first: tuple[dict[str, Any], str] = ({}, "")
        self.flat: Any = None  # the armed block's values, flat (see arm), and its index mask
        self.mask = 0
        self.last: Any = None  # the float last written into the first plain target (foreign writes)
        self.groups: list[dict[str, Any]] = []
        self.ngroups = 0
        self.targets: list[Target] = []
        self.plain: list[tuple[dict[str, Any], str, int, float, int]] = []
        self.other: list[tuple[dict[str, Any], Target]] = []

    def __getstate__(self) -> dict[str, Any]:
        # pickle / deepcopy: the armed block is a memoryview (not picklable); the copy's first step() arms it again
        state = {name: getattr(self, name) for name in self.__slots__}
        state.update(flat=None, mask=0, lo=0, hi=0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def adopt(self, groups: list[dict[str, Any]], specs: Specs, shift: int) -> None:
        """Capture the base values of groups not seen before and (re)build the targets (``shift``: the block's)."""
        for name, bases in self.base.items():  # every check before any base is captured: a refusal changes nothing
            if 0 < len(bases) < len(groups) and not isinstance(specs.assign[name], int):
                raise ValueError(
                    f"Scheduler: a param group was added after construction, but {name!r} has one schedule "
                    "per group; build the Scheduler after add_param_group (or give one schedule for all groups)"
                )
        lr_scale = specs.lr_scale
        if lr_scale is not None and len(lr_scale) != len(groups):
            raise ValueError(
                f"Scheduler: lr_scale has {len(lr_scale)} entries but the optimizer has "
                f"{len(groups)} param groups; give one multiplier per group "
                "(build the Scheduler after add_param_group)"
            )
        captured = {
            name: [read(groups[g], name, g) for g in range(len(bases), len(groups))]
            for name, bases in self.base.items()
        }
        for name, new in captured.items():
            self.base[name].extend(new)
        self.groups = groups
        self.ngroups = len(groups)
        targets = []
        for name, bases in self.base.items():
            assign = specs.assign[name]
            key, index = key_path(name)
            for g, base in enumerate(bases):
                j = assign if isinstance(assign, int) else assign[g]
                scale = lr_scale[g] if (name == "lr" and lr_scale is not None) else 1.0
                factor = 0.0 if base == 0.0 else base * scale if name in specs.relative else scale
                targets.append(Target(g, name, key, index, j, factor))
        self.targets = targets
        self.plain = [
            (groups[t.group], t.key, t.schedule, t.factor, t.schedule << shift)
            for t in targets
            if is_plain(groups[t.group], t)
        ]
        self.other = [(groups[t.group], t) for t in targets if not is_plain(groups[t.group], t)]

    def untouched(self) -> bool:
        """Whether the first plain target still holds the value this plan wrote last (no foreign write since)."""
        if not self.plain:
            return True
        found = self.plain[0][0][self.plain[0][1]]
        return found is self.last or found == self.last

    def stale(self, groups: list[dict[str, Any]]) -> bool:
        """Whether the optimizer's groups are not those of this plan (``optimizer.load_state_dict``, a new group)."""
        return groups is not self.groups or len(groups) != self.ngroups

    def write(self, values: list[float]) -> None:
        """Write each target's value (``values``: one per distinct schedule)."""
        for group, key, j, factor, _ in self.plain:
            group[key] = factor * values[j]
        for group, target in self.other:
            write(group, target, target.factor * values[target.schedule])
        if self.plain:
            self.last = self.plain[0][0][self.plain[0][1]]

    def write_block(self, n: int) -> None:
        """Write the armed block's values at progress ``n`` (plain targets only: the fast path's write)."""
        values, i = self.flat, n & self.mask
        for group, key, _, factor, row in self.plain:
            group[key] = factor * values[row + i]
        first, name = self.first
        self.last = first[name]
        self.n = n

    def arm(self, n: int, cache: Values, end: float) -> bool:
        """Let the next updates of ``n``'s block take the fast path, before progress ``end`` (the first update
        past a schedule's end takes the general path, which warns): ``False`` if a target is not plain or the
        values come from no block (many schedules)."""
        if self.other or not self.plain or not cache.blocks:
            return False
        self.first = (self.plain[0][0], self.plain[0][1])
        if self.clocked:  # no block: the values are the clock's, read on every call
            self.lo, self.hi = n, sys.maxsize
            return True
        lo = n & ~cache.mask
        hi = lo + cache.mask + 1
        if math.isfinite(end):
            hi = min(hi, math.floor(end) + 1)
        # this block's values as Python floats without a numpy call: a flat view, schedule j's from j << shift
        self.flat, self.mask = memoryview(cache.table.reshape(-1)), cache.mask
        self.lo, self.hi = lo, hi
        return True
