"""What a :class:`lrkit.torch.Scheduler` schedules: its distinct schedules and which one drives each key and group.

``Scheduler(opt, schedule, hyper={...}, relative=..., lr_scale=..., resume=...)`` is checked here, whole, at
construction (one ``ValueError`` naming the argument). Equal schedules share one row of values
(:class:`lrkit.torch._values.Values`): ``assign[key]`` is the index of the key's schedule, or one index per group.

>>> import torch, lrkit as lk
>>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
>>> s = Specs(opt, lk.cosine(10), {"momentum": "cosine(10)"}, ("lr",), None, None)
>>> s.assign, len(s.schedules)
({'lr': 0, 'momentum': 0}, 1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from torch.optim import Optimizer

from lrkit.core.schedule import Schedule

__all__ = ["ScheduleSpec", "Specs", "resume_rule"]

ScheduleSpec = Schedule | str | Sequence[Schedule | str]


class Specs:
    """The checked schedules (``schedules``, ``assign``), ``relative`` keys, ``lr_scale`` and ``resume`` rule."""

    __slots__ = ("assign", "lr_scale", "relative", "resume", "schedules")

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: ScheduleSpec,
        hyper: Mapping[str, ScheduleSpec] | None,
        relative: Collection[str],
        lr_scale: Sequence[float] | None,
        resume: Any,
    ) -> None:
        self.resume = resume_rule(resume)
        specs: dict[str, ScheduleSpec] = {"lr": schedule}
        if hyper is not None and not isinstance(hyper, Mapping):
            raise ValueError(
                f"Scheduler: hyper must be a dict of key -> schedule, e.g. {{'momentum': lk.cosine(1000)}}, got "
                f"{type(hyper).__name__} {hyper!r}"
            )
        for name, spec in (hyper or {}).items():
            if not isinstance(name, str) or name == "lr":
                raise ValueError(
                    f"Scheduler: hyper keys must be strings other than 'lr', got {name!r}; "
                    "the learning rate is the schedule argument"
                )
            specs[name] = spec
        self.relative = tuple(_names("relative", relative, "a list of scheduled keys, e.g. ('lr',) or ()"))
        for name in self.relative:
            if name not in specs:
                raise ValueError(
                    f"Scheduler: relative names {name!r}, which is not scheduled; scheduled keys are {sorted(specs)}"
                )
        groups = optimizer.param_groups
        if lr_scale is None and any("lr_scale" in g for g in groups):
            # timm's convention, which lrkit.torch.layerwise.param_groups(lr=None) follows: a group's own
            # lr_scale multiplies its learning rate (ignoring it would silently undo layer-wise decay)
            lr_scale = [g.get("lr_scale", 1.0) for g in groups]
        if lr_scale is not None:
            lr_scale = _names("lr_scale", lr_scale, "a list of multipliers, one per param group, e.g. [1.0, 0.5]")
            bad = [
                x
                for x in lr_scale
                if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 <= float(x) < math.inf
            ]
            if bad:
                raise ValueError(f"Scheduler: lr_scale must hold finite numbers >= 0 (one per group), got {bad[0]!r}")
        self.lr_scale = None if lr_scale is None else [float(x) for x in lr_scale]
        self.schedules: list[Schedule] = []  # distinct schedules (equal ones share a row of values)
        index: dict[Schedule, int] = {}
        self.assign: dict[str, list[int] | int] = {
            name: self._register(index, name, spec, len(groups)) for name, spec in specs.items()
        }

    def _register(self, index: dict[Schedule, int], name: str, spec: Any, groups: int) -> list[int] | int:
        label = "schedule" if name == "lr" else f"hyper[{name!r}]"
        if isinstance(spec, (Schedule, str)):
            return self._index(index, spec, label)
        if isinstance(spec, (list, tuple)):
            if len(spec) != groups:
                raise ValueError(
                    f"Scheduler: {label} has {len(spec)} schedules but the optimizer has {groups} param "
                    "groups; give one schedule, or one per group"
                )
            return [self._index(index, s, f"{label}[{i}]") for i, s in enumerate(spec)]
        raise ValueError(
            f"Scheduler: {label} must be an lrkit Schedule, its text config (a str such as "
            f"'warmup(100) >> cosine(900)') or a list of them (one per param group), got {type(spec).__name__} "
            f"{spec!r}"
        )

    def _index(self, index: dict[Schedule, int], s: Any, where: str) -> int:
        if isinstance(s, str):  # a text config, e.g. from a Hydra partial
            from lrkit.core.config import from_config

            try:
                s = from_config(s)
            except ValueError as error:
                raise ValueError(f"Scheduler: {where} is not a valid schedule config: {error}") from None
        if not isinstance(s, Schedule):
            raise ValueError(
                f"Scheduler: {where} must be an lrkit Schedule or its text config (a str such as "
                f"'warmup(100) >> cosine(900)'), got {type(s).__name__} {s!r}; build one with lrkit "
                "(e.g. lrkit.cosine(1000)) or lrkit.from_config(config)"
            )
        known = index.get(s)
        if known is None:
            known = index[s] = len(self.schedules)
            self.schedules.append(s)
        return known

    def of(self, name: str) -> Schedule | list[Schedule]:
        """The schedule (or per-group schedules) of key ``name``, as given."""
        assign = self.assign[name]
        return self.schedules[assign] if isinstance(assign, int) else [self.schedules[j] for j in assign]


def _names(name: str, value: Any, requirement: str) -> list[Any]:
    """``value`` as a list, refusing a str, a number or a mapping where a list is expected (one ``ValueError``)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Collection):
        kind = "a str: it would be read character by character" if isinstance(value, str) else type(value).__name__
        raise ValueError(f"Scheduler: {name} must be {requirement}, got {value!r} ({kind})")
    return list(value)


def resume_rule(rule: Any, who: str = "Scheduler: resume") -> Any:
    """A horizon rule, checked before it is needed (``resume=`` at construction, ``horizon=`` of a load): ``None``, a
    name in :data:`lrkit.horizon.RULES` or a function; ``who`` names the argument in the ``ValueError``."""
    from lrkit.reactive.horizon import RULES

    if rule is None or callable(rule) or (isinstance(rule, str) and rule in RULES):
        return rule
    found = f"the unknown horizon rule {rule!r}" if isinstance(rule, str) else f"{rule!r}"
    raise ValueError(
        f"{who} must be a horizon rule, one of {', '.join(map(repr, RULES))}, or a function "
        f"rule(old, new, position) -> position, got {found}"
    )
