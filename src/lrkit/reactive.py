"""Reactive schedules: plateau multipliers driven by a metric, wall-clock progress.

This module holds the :class:`Controller` and re-exports :class:`Plateau`
(:mod:`lrkit.plateau`) and :class:`WallClock`/:class:`FakeClock` (:mod:`lrkit.clock`).
It imports no framework; :mod:`lrkit.torch` drives it.

A :class:`Controller` owns the state of every plateau node in a schedule. Feed it metric
values with :meth:`Controller.observe`; :meth:`Controller.resolve` gives back a *pure*
schedule, the original with each plateau ``p`` replaced by ``p * scale`` (``p`` itself while
its scale is 1.0). Only the plateau nodes *active* at the step of the call observe a value:
a plateau inside the piece of a join that is running at ``step`` (or in a factor that
applies everywhere). So in ``warmup(500) >> (constant(1.0, 5000) * plateau(...)) >> cosine(2000)``
metrics reported during the warmup or the cosine tail do not move the plateau, and its
multiplier applies to the middle piece only; to let a reduction carry through to the end,
multiply the whole schedule: ``(warmup(500) >> constant(1.0, 5000) >> cosine(2000)) * plateau(...)``.

>>> c = Controller(warmup(2) >> (constant(1.0, 10) * plateau(patience=0, factor=0.5)))
>>> c.observe(1.0, step=0), c.observe(1.0, step=0)     # warmup: the plateau is not active
(False, False)
>>> c.observe(1.0, step=5), c.observe(1.0, step=6)     # no improvement, patience 0
(False, True)
>>> c.scales, c.resolve()(6)
([0.5], 0.5)
"""

from __future__ import annotations

import math
from typing import Any

from lrkit.clock import CLOCK_MODES, FakeClock, WallClock
from lrkit.compose import Join, Repeat, Scale, Shift, Stretch
from lrkit.plateau import NAN_POLICIES, Plateau, PlateauState
from lrkit.schedule import Schedule

__all__ = ["CLOCK_MODES", "NAN_POLICIES", "Controller", "FakeClock", "Plateau", "PlateauState", "WallClock"]

_STATE_VERSION = 1


def _children(node: Schedule) -> list[tuple[str, int | None, Schedule]]:
    """``(param, index or None, child)`` for every schedule among ``node``'s parameters."""
    out: list[tuple[str, int | None, Schedule]] = []
    for key, value in node._params:
        if isinstance(value, Schedule):
            out.append((key, None, value))
        elif isinstance(value, (tuple, list)):
            out.extend((key, i, item) for i, item in enumerate(value) if isinstance(item, Schedule))
    return out


class _Tree:
    """A schedule node, the plateau index range of its subtree and its children (built once)."""

    __slots__ = ("children", "first", "index", "node", "stop")

    def __init__(self, node: Schedule, plateaus: list[Plateau]):
        self.node = node
        self.first = len(plateaus)
        self.index: int | None = None
        if isinstance(node, Plateau):
            self.index = len(plateaus)
            plateaus.append(node)
        self.children = [_Tree(child, plateaus) for _, _, child in _children(node)]
        self.stop = len(plateaus)
        if isinstance(node, Join):
            for piece in node.pieces:
                if isinstance(piece, Plateau):
                    raise ValueError(
                        f"Controller: {piece!r} is a piece of the join {node!r}; a plateau is a multiplier with no "
                        "duration of its own: use it as a factor, e.g. constant(1.0, 5000) * plateau(...)"
                    )

    def active(self, t: float, out: list[int]) -> None:
        """Append the indices of the plateau nodes whose multiplier applies at local step ``t``."""
        if self.first == self.stop:
            return
        if self.index is not None:
            out.append(self.index)
            return
        node = self.node
        if node.length is not None:
            t = min(t, node.length)
        if isinstance(node, Join):
            offsets = node.offsets
            i = len(offsets) - 1
            while offsets[i] > t:  # the last piece starting at or before t (a zero-length piece never runs)
                i -= 1
            self.children[i].active(t - offsets[i], out)
            return
        if isinstance(node, Repeat):
            period = node.schedule.length
            k = math.floor(t / period)  # repeat() refuses a zero-length period
            if node.times is not None:
                k = min(k, node.times - 1)
            t = t - k * period
        elif isinstance(node, Shift):
            t = max(t + node.by, 0.0)
        elif isinstance(node, Stretch):
            t = t / node.factor
        for child in self.children:  # products, scales, clamps, noise, take, ...: every factor applies
            child.active(t, out)


def _rebuild(node: Schedule, scales: list[float], counter: list[int]) -> Schedule:
    """``node`` with every plateau ``p`` replaced by ``p * scale`` (pre-order numbering)."""
    if isinstance(node, Plateau):
        scale = scales[counter[0]]
        counter[0] += 1
        return node if scale == 1.0 else Scale(node, scale)
    children = _children(node)
    if not children:
        return node
    params = dict(node._params)
    changed = False
    for key, index, child in children:
        new = _rebuild(child, scales, counter)
        if new is child:
            continue
        changed = True
        if index is None:
            params[key] = new
        else:
            items = list(params[key])
            items[index] = new
            params[key] = type(params[key])(items)
    return type(node)(**params) if changed else node


class Controller:
    """The state of every :class:`Plateau` in a schedule, and the pure schedule it resolves to.

    ``observe(metric, step)`` feeds one metric value (already reduced across processes) at
    progress ``step`` to the plateau nodes active there; ``resolve()`` is the schedule to
    evaluate now. ``state_dict()``/``load_state_dict()`` round-trip every counter exactly
    (JSON-safe). Plateau nodes are numbered in pre-order; equal nodes at different places
    are independent.
    """

    def __init__(self, schedule: Schedule):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"Controller: schedule must be a lrkit schedule, got {schedule!r}")
        self.schedule = schedule
        self.plateaus: list[Plateau] = []
        self._tree = _Tree(schedule, self.plateaus)
        self.states = [PlateauState() for _ in self.plateaus]
        self._everywhere = self._always_active()
        self._all = tuple(range(len(self.plateaus)))
        self._resolved = schedule

    def _always_active(self) -> bool:
        """True when no join or time map stands above a plateau (every node observes every call)."""

        def walk(tree: _Tree) -> bool:
            if tree.first == tree.stop or tree.index is not None:
                return True
            if isinstance(tree.node, (Join, Repeat, Shift, Stretch)):
                return False
            return all(walk(child) for child in tree.children)

        return walk(self._tree)

    def __repr__(self) -> str:
        return f"Controller({self.schedule!r}, scales={self.scales})"

    @property
    def reactive(self) -> bool:
        """Whether the schedule contains a plateau."""
        return bool(self.plateaus)

    @property
    def scales(self) -> list[float]:
        """The current multiplier of each plateau node (pre-order)."""
        return [state.scale for state in self.states]

    def active(self, step: float) -> list[int]:
        """Indices of the plateau nodes that observe a metric reported at ``step``."""
        if self._everywhere:
            return list(self._all)
        step = float(step)
        if not (math.isfinite(step) and step >= 0):
            raise ValueError(f"Controller: step must be a finite number >= 0, got {step!r}")
        out: list[int] = []
        self._tree.active(step, out)
        return out

    def observe(self, metric: float, step: float = 0.0) -> bool:
        """Feed one metric value at progress ``step``; ``True`` if :meth:`resolve` changed."""
        changed = False
        for i in self._all if self._everywhere else self.active(step):
            changed |= self.states[i].observe(self.plateaus[i], metric)
        if changed:
            self._resolved = _rebuild(self.schedule, self.scales, [0])
        return changed

    def resolve(self) -> Schedule:
        """The pure schedule to evaluate now: each plateau ``p`` replaced by ``p * scale``."""
        return self._resolved

    def state_dict(self) -> dict[str, Any]:
        """``{'version': 1, 'plateaus': [...]}``: every counter of every node, JSON-safe."""
        return {
            "version": _STATE_VERSION,
            "plateaus": [dict(state.state_dict(), node=repr(node)) for node, state in zip(self.plateaus, self.states)],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for the same schedule)."""
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION or "plateaus" not in state:
            raise ValueError(
                f"Controller.load_state_dict: expected {{'version': {_STATE_VERSION}, 'plateaus': [...]}}, "
                f"got {state!r}; pass what Controller.state_dict() returned"
            )
        saved = state["plateaus"]
        if len(saved) != len(self.plateaus):
            raise ValueError(
                f"Controller.load_state_dict: the state has {len(saved)} plateau node(s) but the schedule "
                f"{self.schedule!r} has {len(self.plateaus)}; load it into the schedule it was saved from"
            )
        states = []
        for i, (node, item) in enumerate(zip(self.plateaus, saved)):
            item = dict(item)
            saved_node = item.pop("node", repr(node))
            if saved_node != repr(node):
                raise ValueError(
                    f"Controller.load_state_dict: plateau node {i} was saved as {saved_node} but the schedule "
                    f"has {node!r}; load it into the schedule it was saved from"
                )
            states.append(PlateauState.from_state_dict(item, f"Controller.load_state_dict: plateau node {i}"))
        self.states = states
        self._resolved = _rebuild(self.schedule, self.scales, [0])
