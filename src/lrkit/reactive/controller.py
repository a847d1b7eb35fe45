"""Reactive schedules: plateau multipliers driven by a metric, wall-clock progress.

This module holds the :class:`Controller` and re-exports :class:`Plateau`
(:mod:`lrkit.core.plateau`) and :class:`WallClock`/:class:`FakeClock` (:mod:`lrkit.reactive.clock`).
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
from collections.abc import Callable
from types import MethodType
from typing import Any

from lrkit.core.combinators import Join, Scale
from lrkit.core.plateau import NAN_POLICIES, Plateau, PlateauState
from lrkit.core.schedule import Schedule
from lrkit.reactive._schema import Reader
from lrkit.reactive.clock import CLOCK_MODES, FakeClock, WallClock

__all__ = ["CLOCK_MODES", "NAN_POLICIES", "Controller", "FakeClock", "Plateau", "PlateauState", "WallClock"]

_STATE_VERSION = 1
_FIELDS = tuple(PlateauState.__dataclass_fields__)


def _children(node: Schedule) -> list[tuple[str, int | None, Schedule]]:
    """``(param, index or None, child)`` for every schedule among ``node``'s parameters (its routed children)."""
    out: list[tuple[str, int | None, Schedule]] = []
    for key, value in node._params:
        if isinstance(value, Schedule):
            out.append((key, None, value))
        elif isinstance(value, (tuple, list)):
            out.extend((key, i, item) for i, item in enumerate(value) if isinstance(item, Schedule))
    return out


class _Counts:
    """Plateau occurrences per subtree (by node identity), in the pre-order of the routes."""

    def __init__(self) -> None:
        self._memo: dict[int, int] = {}
        self._keep: list[Schedule] = []  # keeps the ids valid

    def __call__(self, node: Schedule) -> int:
        count = self._memo.get(id(node))
        if count is None:
            if isinstance(node, Plateau):
                count = 1
            else:
                count = sum(self(route.child) for route in node.routes())
                if isinstance(node, Join) and any(isinstance(p, Plateau) for p in node.pieces):
                    piece = next(p for p in node.pieces if isinstance(p, Plateau))
                    raise ValueError(
                        f"Controller: {piece!r} is a piece of the join {node!r}; a plateau is a multiplier with no "
                        "duration of its own: use it as a factor, e.g. constant(1.0, 5000) * plateau(...)"
                    )
            self._memo[id(node)] = count
            self._keep.append(node)
        return count


def map_plateaus(
    node: Schedule, replace: Callable[[Plateau, int], Schedule], counter: list[int] | None = None
) -> Schedule:
    """``node`` with plateau ``i`` (pre-order, as the routes number them) replaced by ``replace(plateau, i)``.

    Nodes without a replaced plateau below them are kept as they are (the same objects).
    """
    counter = [0] if counter is None else counter
    if isinstance(node, Plateau):
        number = counter[0]
        counter[0] += 1
        return replace(node, number)
    children = _children(node)
    if not children:
        return node
    params = dict(node._params)
    changed = False
    for key, index, child in children:
        new = map_plateaus(child, replace, counter)
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


def _rebuild(node: Schedule, scales: list[float]) -> Schedule:
    """``node`` with every plateau ``p`` replaced by ``p * scale``."""
    return map_plateaus(node, lambda p, i: p if scales[i] == 1.0 else Scale(p, scales[i]))


class Controller:
    """The state of every :class:`Plateau` in a schedule, and the pure schedule it resolves to.

    ``observe(metric, step)`` feeds one metric value (already reduced across processes) at
    progress ``step`` to the plateau nodes active there; ``resolve()`` is the schedule to
    evaluate now. ``state_dict()``/``load_state_dict()`` round-trip every counter exactly
    (JSON-safe). Plateau nodes are numbered in pre-order; equal nodes at different places
    are independent.

    >>> import lrkit as lk
    >>> c = Controller(lk.constant(1.0) * lk.plateau(patience=0, factor=0.5))
    >>> c.observe(1.0, 0), c.observe(2.0, 1)    # no improvement at step 1: halve (True: changed)
    (False, True)
    >>> c.resolve()(2)
    0.5
    """

    def __init__(self, schedule: Schedule):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"Controller: schedule must be a lrkit schedule, got {schedule!r}")
        self.schedule = schedule
        self._count = _Counts()
        self._count(schedule)
        self.plateaus: list[Plateau] = [node for node in schedule.walk() if isinstance(node, Plateau)]
        self.states = [PlateauState() for _ in self.plateaus]
        self._bind()
        self._everywhere = self._always_active()
        self._all = tuple(range(len(self.plateaus)))
        self._resolved: Schedule | None = schedule
        self._resolved_at = [1.0] * len(self.plateaus)  # the scales self._resolved was built for

    def _bind(self) -> None:
        """Each plateau's rule bound to its state (a load copies into these states, so the bindings stay valid)."""
        self._rules: list[Callable[[Any], bool]] = [
            MethodType(node._rule, state) for node, state in zip(self.plateaus, self.states)
        ]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_rules"]  # compiled closures: bound again on unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind()

    def _always_active(self) -> bool:
        """True when every route above a plateau spans all steps (every node observes every call)."""
        stack = [self.schedule]
        while stack:
            node = stack.pop()
            for route in node.routes():
                if self._count(route.child):
                    if route.lo > 0 or route.hi < math.inf:
                        return False
                    stack.append(route.child)
        return True

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
        from lrkit.core.backend import MATH

        out: list[int] = []
        stack = [(self.schedule, step, 0)]
        while stack:  # the routes, exactly as evaluation follows them (lrkit.core.routing)
            node, t, first = stack.pop()
            if isinstance(node, Plateau):
                out.append(first)
                continue
            if node.length is not None:
                t = min(t, node.length)
            pending = []
            for route in node.routes():
                count = self._count(route.child)
                if count and route.lo <= t < route.hi:
                    pending.append((route.child, route.map.forward(t, MATH), first))
                first += count
            stack.extend(reversed(pending))
        return out

    def observe(self, metric: float, step: float = 0.0) -> bool:
        """Feed one metric value at progress ``step``; ``True`` if :meth:`resolve` changed."""
        rules = self._rules
        changed = False
        for i in self._all if self._everywhere else self.active(step):
            if rules[i](metric):
                changed = True
        return changed

    def feeder(self) -> Callable[[Any], bool] | None:
        """``feed(metric) -> changed``, :meth:`observe` at any step, for a schedule whose plateaus observe at
        every step (``None`` otherwise): with one plateau, its compiled rule bound to its state (an adapter's
        per-call path: no lookup of the active plateaus, no dispatch). It stays valid across
        :meth:`load_state_dict`; :meth:`resolve` follows the scales it changes.

        >>> import lrkit as lk
        >>> c = Controller(lk.constant(1.0) * lk.plateau(patience=0, factor=0.5))
        >>> feed = c.feeder()
        >>> feed(1.0), feed(2.0), c.scales
        (False, True, [0.5])
        """
        if not self._everywhere:
            return None
        if len(self._rules) == 1:
            return self._rules[0]
        return self.observe

    def resolve(self) -> Schedule:
        """The pure schedule to evaluate now: each plateau ``p`` replaced by ``p * scale``."""
        resolved = self._resolved
        scales = self.scales
        if resolved is None or scales != self._resolved_at:
            resolved = self._resolved = _rebuild(self.schedule, scales)
            self._resolved_at = scales
        return resolved

    def state_dict(self) -> dict[str, Any]:
        """``{'version': 1, 'plateaus': [...]}``: every counter of every node, JSON-safe."""
        return {
            "version": _STATE_VERSION,
            "plateaus": [dict(state.state_dict(), node=repr(node)) for node, state in zip(self.plateaus, self.states)],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for the same schedule).

        The whole state is checked before anything changes (a refused state leaves the controller as it
        was): the version, every plateau node (its repr), and each counter's type and range
        (:func:`plateau_state`). ``ValueError`` names the key.
        """
        self.apply_state(self.parse_state(state))

    def parse_state(
        self, state: Any, who: str = "Controller.load_state_dict", where: str = ""
    ) -> list[PlateauState]:
        """The plateau states of a checked :meth:`state_dict` (nothing changes; ``ValueError`` naming the key)."""
        reader = Reader(who, state, "Controller.state_dict()", where)
        reader.version(_STATE_VERSION)
        reader.only({"version", "plateaus"})
        saved = reader.sequence("plateaus")
        if len(saved) != len(self.plateaus):
            raise reader.error(
                "plateaus",
                f"a list of {len(self.plateaus)} plateau state(s), one per plateau of {self.schedule!r}",
                saved,
                "load it into the schedule it was saved from",
            )
        return [
            plateau_state(node, reader.nested(f"plateaus[{i}]", item))
            for i, (node, item) in enumerate(zip(self.plateaus, saved))
        ]

    def apply_state(self, states: list[PlateauState]) -> None:
        """Take the plateau states from :meth:`parse_state` (copied into this controller's own state objects,
        which its bound rules and :meth:`feeder` hold)."""
        if len(states) != len(self.states):
            raise ValueError(
                f"Controller.apply_state: {len(states)} plateau state(s) for the {len(self.states)} plateau(s) of "
                f"{self.schedule!r}; pass what parse_state returned for this controller"
            )
        for mine, new in zip(self.states, states):
            for key in _FIELDS:
                setattr(mine, key, getattr(new, key))
        self._resolved = None


def plateau_state(node: Plateau, reader: Reader) -> PlateauState:
    """One plateau's saved counters, checked against its node: ``best``/``smoothed`` finite or None, the counts
    integers >= 0 within the node's ``patience`` and ``cooldown``, ``scale`` in ``[min_scale, 1]``."""
    saved = reader.get("node", f"{node!r} (the plateau it was saved from)")
    if saved != repr(node):
        raise reader.error("node", repr(node), saved, "load it into the schedule it was saved from")
    reader.only({"node", *_FIELDS})
    state = PlateauState(
        best=reader.number("best", none=True),
        bad=reader.integer("bad"),
        cooldown=reader.integer("cooldown"),
        scale=reader.number("scale", low=node.min_scale, high=1.0),
        smoothed=reader.number("smoothed", none=True),
        calls=reader.integer("calls"),
        reductions=reader.integer("reductions"),
    )
    if state.bad > node.patience and _bounded(node, state):
        raise reader.error("bad", f"an integer <= patience={node.patience}", state.bad)
    if state.cooldown > node.cooldown:
        raise reader.error("cooldown", f"an integer <= the plateau's cooldown={node.cooldown}", state.cooldown)
    if state.reductions > state.calls:
        raise reader.error("reductions", f"an integer <= calls={state.calls}", state.reductions)
    if state.calls == 0 and (state.best is not None or state.smoothed is not None or state.scale != 1.0):
        raise reader.error("calls", "> 0 for a plateau that has seen a value", 0)
    return state


def _bounded(node: Plateau, state: PlateauState) -> bool:
    """Whether ``node``'s rule keeps the bad-call count within ``patience`` in ``state``: torch's always (it reduces
    past it); optax's with ``patience > 0`` (it reduces at it; with 0, only an improving call reduces); Keras' while
    the multiplier is above ``min_scale`` (at the floor it counts on without reducing)."""
    if node.rule == "optax":
        return node.patience > 0
    if node.rule == "keras":
        return state.scale > node.min_scale
    return True
