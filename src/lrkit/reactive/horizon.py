"""Long runs: change a schedule's horizon on resume, branch a cooldown, re-warm a decayed run.

A run's schedule is fixed when it starts, but long runs change while they run: the budget
grows, a cooldown is wanted from a stable-phase checkpoint, a decayed model is pre-trained
further. This module holds the *rules* (pure functions of two schedules and a position) and
the *branches* (schedules built from an existing run), numpy only.

**Positions.** A checkpoint stands at progress ``s`` (updates, tokens, ...). It stands at
*position* ``p`` on its schedule (``p = s`` unless an earlier horizon change moved it). A rule
maps the position on the ``old`` schedule to a position ``q`` on the ``new`` one; from then on
the run advances one unit of ``new`` per unit of progress:

    ``lr(t) = new(q + (t - s))`` for every ``t >= s``.

The rules (``RULES``; ``lrkit.torch.Scheduler.load_state_dict(state, horizon=rule)`` applies them):

=================  ==============================================  ==========================================
rule               ``q``                                           fits when
=================  ==============================================  ==========================================
``keep_step``      ``p``                                           always
``same_fraction``  ``min(p, L_old) / L_old * L_new``               both schedules finite
``wsd``            ``p``                                           both :func:`lrkit.wsd`, same warmup, ``p``
                                                                   in both stable phases
``branch``         ``p``                                           ``new`` is a :func:`cooldown`/:func:`rewarm`
                                                                   of ``old`` branching at or after ``p``
=================  ==============================================  ==========================================

>>> import lrkit as lk
>>> old, new = lk.cosine(100), lk.cosine(200)
>>> resume(old, new, 50, "keep_step"), resume(old, new, 50, "same_fraction")
(50.0, 100.0)
>>> run = resumed(old, new, at=50, rule="same_fraction")    # the whole run, as one schedule
>>> run(49) == old(49), run(50) == new(100), run.length
(True, True, 150.0)

**The time map.** A horizon change is a :class:`Move` ``(at, position)``: from progress ``at`` on, the run
is at local time ``(t - at) + position`` of its new schedule, the composition of the routes
:class:`lrkit.core.routing.Offset` and :class:`lrkit.core.routing.Shift` that :func:`resumed` builds
(``take(old, at) >> shift(new, position)``). :func:`move` computes a move (several in a row compose:
each one starts from where the previous put the run), and :class:`lrkit.torch.Scheduler` evaluates its
schedules at :meth:`Move.local`, so the adapter and the whole-run schedule read one map.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit.core import _validate as v
from lrkit.core.backend import MATH, NUMPY, Namespace
from lrkit.core.combinators import Join, Shift, Take
from lrkit.core.families import Anneal, Constant
from lrkit.core.recipes import WSD
from lrkit.core.routing import Offset
from lrkit.core.routing import Shift as ShiftMap
from lrkit.core.schedule import Schedule

__all__ = [
    "COOLDOWN_SHAPES", "RULES", "STAY", "Move", "Rule", "branch", "branch_point", "continuation", "cooldown",
    "extend", "keep_step", "move", "moved", "resume", "resumed", "rewarm", "same_fraction", "stable_phase", "wsd",
]

Rule = Callable[[Schedule, Schedule, float], float]
"""A horizon rule: ``rule(old, new, position) -> position on new``.

Every entry of :data:`RULES` is one; any function of that signature can be passed where a rule is named.

Example:
    >>> import lrkit as lk
    >>> from lrkit.horizon import RULES
    >>> RULES["keep_step"](lk.cosine(1000), lk.cosine(2000), 300.0)
    300.0
    >>> RULES["same_fraction"](lk.cosine(1000), lk.cosine(2000), 300.0)
    600.0
"""
COOLDOWN_SHAPES = ("linear", "cos", "1-sqrt")
"""Cooldown shapes (Hagele et al., 2024): linear, cosine and ``1-sqrt`` (their best)."""


def _position(who: str, position: Any) -> float:
    if isinstance(position, bool) or not isinstance(position, (int, float)) or not (
        math.isfinite(position) and position >= 0
    ):
        raise ValueError(f"{who}: the position must be a finite number >= 0, got {position!r}")
    return float(position)


def _check(who: str, old: Any, new: Any) -> None:
    for name, s in (("old", old), ("new", new)):
        if not isinstance(s, Schedule):
            raise TypeError(f"{who}: {name} must be an lrkit Schedule, got {s!r}")


def keep_step(old: Schedule, new: Schedule, position: float) -> float:
    """Continue on ``new`` from the same step: ``q = p``, so ``lr(t) = new(t)`` after the resume.

    The run keeps its elapsed progress; a longer ``new`` simply has more to go. Fits any pair
    (the value may jump at the resume if ``new(p) != old(p)``).

    >>> import lrkit as lk
    >>> keep_step(lk.cosine(100), lk.cosine(400), 80)
    80.0
    """
    _check("keep_step", old, new)
    return _position("keep_step", position)


def same_fraction(old: Schedule, new: Schedule, position: float) -> float:
    """Map to the same fraction of the schedule: ``q = min(p, L_old) / L_old * L_new``.

    ``lr(t) = new(min(p, L_old) / L_old * L_new + (t - s))``: a cosine stretched to a new
    length resumes at the value it had (no jump), and the rest of ``new`` follows one
    unit per update, so the run ends ``(1 - f) L_new`` after the resume (``f = q / L_new``).
    Both schedules must be finite.

    >>> import lrkit as lk
    >>> same_fraction(lk.cosine(100), lk.cosine(300), 40)
    120.0
    """
    _check("same_fraction", old, new)
    p = _position("same_fraction", position)
    for name, s in (("old", old), ("new", new)):
        if not s.length:
            raise ValueError(
                f"same_fraction: the {name} schedule {s!r} has no finite length, so it has no fraction; "
                "use horizon='keep_step' (continue from the same step) instead"
            )
    old_length, new_length = float(old.length), float(new.length)  # type: ignore[arg-type]
    return min(p, old_length) / old_length * new_length


def stable_phase(schedule: WSD) -> tuple[float, float]:
    """``(start, end)`` of a :func:`lrkit.wsd`'s stable phase (the warmup end, the cooldown start).

    >>> import lrkit as lk
    >>> stable_phase(lk.wsd(1000, warmup=100, decay=200))
    (100.0, 800.0)
    """
    if not isinstance(schedule, WSD):
        raise TypeError(f"stable_phase: expected an lrkit.wsd(...) schedule, got {schedule!r}")
    decay = 0.2 * schedule.steps if schedule.decay is None else schedule.decay
    return float(schedule.warmup), float(schedule.steps - decay)


def wsd(old: Schedule, new: Schedule, position: float) -> float:
    """WSD: keep the stable phase and put the cooldown at the new end: ``q = p``.

    ``lr(t) = new(t)``: the run stays at its peak until ``new``'s cooldown, which starts
    ``decay`` before ``new``'s end. Fits when both are :func:`lrkit.wsd` with the same warmup
    and the checkpoint lies before both cooldowns (a run that has started cooling cannot be
    extended this way: branch from an earlier checkpoint, or :func:`rewarm` it).

    >>> import lrkit as lk
    >>> from lrkit import horizon
    >>> run = lk.wsd(1000, warmup=100, decay=200)
    >>> horizon.wsd(run, extend(run, 3000), 600)
    600.0
    """
    _check("wsd", old, new)
    p = _position("wsd", position)
    for name, s in (("old", old), ("new", new)):
        if not isinstance(s, WSD):
            raise ValueError(
                f"wsd: the horizon rule 'wsd' needs two lrkit.wsd(...) schedules, but the {name} one is {s!r}; "
                "use 'keep_step' or 'same_fraction' for other schedules"
            )
    assert isinstance(old, WSD) and isinstance(new, WSD)
    if old.warmup != new.warmup:
        raise ValueError(
            f"wsd: the warmups differ ({old.warmup!r} saved, {new.warmup!r} now); the rule keeps the run's "
            "warmup and stable phase, so build the new wsd with the same warmup (lrkit.reactive.horizon.extend does)"
        )
    old_end, new_end = stable_phase(old)[1], stable_phase(new)[1]
    if p > old_end:
        raise ValueError(
            f"wsd: the checkpoint at {p:g} is in the cooldown of {old!r} (it starts at {old_end:g}); the rule "
            "extends a stable phase: resume from a checkpoint before the cooldown, or re-warm the decayed run "
            "(lrkit.reactive.horizon.rewarm)"
        )
    if p > new_end:
        raise ValueError(
            f"wsd: the checkpoint at {p:g} is past the start of the new cooldown of {new!r} ({new_end:g}); "
            "make the new run longer, or branch a cooldown from here (lrkit.reactive.horizon.cooldown)"
        )
    return p


def branch(old: Schedule, new: Schedule, position: float) -> float:
    """Follow a branch of the run: ``q = p``, valid when ``new`` is ``take(old, a) >> ...`` (as
    :func:`cooldown` and :func:`rewarm` build it) with ``a >= p``: the branch equals ``old`` up to
    ``a``, so ``lr(t) = new(t)``.

    >>> import lrkit as lk
    >>> run = lk.wsd(1000, warmup=100, decay=200)
    >>> branch(run, cooldown(run, at=500, decay=100), 400)
    400.0
    """
    _check("branch", old, new)
    p = _position("branch", position)
    at = branch_point(new, old)
    if at is None:
        first = new.pieces[0] if isinstance(new, Join) else new
        source = f" (it branches from {first.schedule!r})" if isinstance(first, Take) else ""
        raise ValueError(
            f"branch: the new schedule must be a branch of the saved one {old!r}, i.e. take(saved, at) >> ... as "
            f"lrkit.cooldown(saved, at=...) and lrkit.rewarm(saved, ...) build it; got {new!r}{source}"
        )
    if p > at:
        raise ValueError(
            f"branch: the checkpoint at {p:g} is past the branch point {at:g} of {new!r}; "
            "branch from a later step, or resume from an earlier checkpoint"
        )
    return p


RULES: dict[str, Rule] = {"keep_step": keep_step, "same_fraction": same_fraction, "wsd": wsd, "branch": branch}
"""The named horizon rules, in the order the docs present them."""


def resume(old: Schedule, new: Schedule, position: float, rule: str | Rule) -> float:
    """The position on ``new`` at which a run standing at ``position`` on ``old`` continues under ``rule``.

    ``rule`` is a name in :data:`RULES` or a function ``(old, new, position) -> position``.

    >>> import lrkit as lk
    >>> resume(lk.cosine(10), lk.cosine(20), 5, "same_fraction")
    10.0
    """
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"unknown horizon rule {rule!r}; the rules are {', '.join(map(repr, RULES))}")
        fn = RULES[rule]
    elif callable(rule):
        fn = rule
    else:
        raise TypeError(f"horizon rule must be one of {', '.join(map(repr, RULES))} or a function, got {rule!r}")
    q = fn(old, new, position)
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not (math.isfinite(q) and q >= 0):
        raise ValueError(f"horizon rule {rule!r} returned {q!r}; a position must be a finite number >= 0")
    return float(q)


def continuation(new: Schedule, position: float) -> Schedule:
    """``new`` from ``position`` on: ``c(u) = new(position + u)`` (a constant past ``new``'s end).

    >>> import lrkit as lk
    >>> continuation(lk.linear(10), 4)(2)
    0.4
    """
    q = _position("continuation", position)
    if q == 0:
        return new
    if new.length is not None and q >= new.length:
        return Constant(new.final)
    return Shift(new, q)


@dataclass(frozen=True)
class Move:
    """A horizon change: from progress ``at`` on, the run is at local time ``(t - at) + position`` of its schedule.

    The local time is the routes' own map, ``Shift(position)`` after ``Offset(at)``
    (:mod:`lrkit.core.routing`): what ``take(old, at) >> shift(new, position)`` gives its second piece,
    clipped at 0. ``position == at`` (``keep_step``, ``wsd``, ``branch``) is the new schedule at the run's
    own step: the local time is ``t`` itself, exactly. :data:`STAY` is the move of a run never moved.

    >>> m = Move(30.0, 120.0)
    >>> m.local(35.0), m.progress(200.0), Move(40.0, 40.0).local(41.5)
    (125.0, 110.0, 41.5)
    """

    at: float
    position: float

    def __post_init__(self) -> None:
        _position("Move", self.at)
        _position("Move", self.position)

    @property
    def still(self) -> bool:
        """Whether the local time is the progress itself (never moved, or moved to the run's own step)."""
        return self.at == self.position

    def local(self, t: Any, xp: Namespace | None = None) -> Any:
        """The local time on the schedule at progress ``t`` (a number, or a sorted numpy array with ``xp=NUMPY``)."""
        if self.at == self.position:
            return t
        if xp is None:
            xp = NUMPY if isinstance(t, np.ndarray) else MATH
        return ShiftMap(self.position).forward(Offset(self.at).forward(t, xp), xp)

    def progress(self, local: float) -> float:
        """The progress at which the run reaches local time ``local`` (the inverse of :meth:`local`)."""
        if self.at == self.position:
            return local
        return local - self.position + self.at


STAY = Move(0.0, 0.0)
"""The move of a run whose horizon never changed: local time = progress."""


def move(old: Schedule, new: Schedule, at: float, rule: str | Rule, before: Move = STAY) -> Move:
    """The move of a run at progress ``at`` from ``old`` onto ``new`` under ``rule``.

    The run stands at ``p = before.local(at)`` on ``old`` (``before``: the move that put it there, if
    any), continues at ``q = resume(old, new, p, rule)`` and from then on at ``(t - at) + q``:
    ``Move(at, q)``, or :data:`STAY` when ``q == at`` (the new schedule at the run's own step).

    >>> import lrkit as lk
    >>> first = move(lk.cosine(100), lk.cosine(200), 20, "same_fraction")
    >>> first, move(lk.cosine(200), lk.cosine(800), 60, "same_fraction", before=first)
    (Move(at=20.0, position=40.0), Move(at=60.0, position=320.0))
    """
    at = _position("move", at)
    here = float(before.local(at, MATH))
    q = resume(old, new, here, rule)
    return STAY if q == at else Move(at, q)


def moved(run: Schedule, new: Schedule, at: float, step: Move) -> Schedule:
    """The whole run as one schedule after a move at ``at``: ``run`` until ``at``, then ``new`` at ``step.local(t)``.

    ``f(t) = run(t)`` for ``t < at`` and ``new((t - at) + q)`` after, ``q = step.local(at)``: built as
    ``take(run, at) >> shift(new, q)``, whose routes are the move's map. ``run`` may itself be a moved run
    (several horizon changes in a row).

    >>> import lrkit as lk
    >>> f = moved(lk.cosine(100), lk.cosine(400), 30, Move(30.0, 120.0))
    >>> f(29) == lk.cosine(100)(29), f(35) == lk.cosine(400)(125)
    (True, True)
    """
    at = _position("moved", at)
    tail = continuation(new, float(step.local(at, MATH)))
    return tail if at == 0 else Take(run, at) >> tail


def resumed(old: Schedule, new: Schedule, at: float, rule: str | Rule = "keep_step") -> Schedule:
    """The whole run as one schedule: ``old`` until ``at``, then ``new`` from the rule's position.

    ``run(t) = old(t)`` for ``t < at`` and ``new(q + t - at)`` for ``t >= at``: what a Scheduler
    writes when a checkpoint saved at ``at`` is loaded with ``horizon=rule`` (for plots, and to
    save the run's true schedule). Bitwise :meth:`lrkit.torch.Scheduler.value_at` (both evaluate
    ``new((t - at) + q)``, :class:`Move`'s map).

    >>> import lrkit as lk
    >>> run = resumed(lk.wsd(100, decay=20), lk.wsd(200, decay=20), at=50, rule="wsd")
    >>> run(60), run(190), run.length
    (1.0, 0.5, 200.0)
    """
    at = _position("resumed", at)
    return moved(old, new, at, move(old, new, at, rule))


def extend(schedule: WSD, steps: float, decay: float | None = None) -> WSD:
    """The same :func:`lrkit.wsd` with a new length: warmup, floor and shape kept, the cooldown at the end.

    The cooldown keeps its length in steps (``decay`` changes it), so extending a run moves
    only the cooldown's start.

    >>> import lrkit as lk
    >>> extend(lk.wsd(1000, warmup=100), 5000)
    wsd(5000, warmup=100, decay=200.0)
    """
    if not isinstance(schedule, WSD):
        raise TypeError(f"extend: expected an lrkit.wsd(...) schedule, got {schedule!r}")
    length = schedule.steps - stable_phase(schedule)[1] if decay is None else decay
    try:
        return WSD(steps, warmup=schedule.warmup, decay=length, floor=schedule.floor, shape=schedule.shape)
    except ValueError as err:  # the new wsd's own check, named after what the user called
        message = str(err)
        raise ValueError("extend: " + (message[len("wsd: "):] if message.startswith("wsd: ") else message)) from None


def _start(who: str, schedule: Schedule, at: Any) -> Any:
    if at is None:
        if schedule.length is None:
            raise ValueError(f"{who}: {schedule!r} is infinite, so it has no end to start from; give at=step")
        return float(schedule.length)
    at = v.non_negative(who, "at", at)  # an int stays an int (and prints as one)
    if schedule.length is not None and at > schedule.length:
        raise ValueError(f"{who}: at={at:g} is past the end of {schedule!r} (length {schedule.length:g})")
    return at


def cooldown(schedule: Schedule, at: float, decay: float, shape: str = "1-sqrt", floor: float = 0.0) -> Schedule:
    """A cooldown branched from a run at step ``at``: ``schedule`` until ``at``, then a decay to ``floor``.

    ``f(t) = schedule(t)`` for ``t <= at``; ``f(at + u) = v + (floor - v) (1 - h(u / decay))``
    with ``v = schedule(at)`` and ``h`` the shape's remaining fraction (``1 - x`` linear,
    ``(1 + cos(pi x)) / 2`` cos, ``1 - sqrt(x)`` for ``1-sqrt``, Hagele et al. 2024). The length
    is ``at + decay``. It is built from the core pieces, ``take(schedule, at) >> anneal(decay, v,
    floor, shape)``, so it prints, saves and reloads like any schedule; several cooldowns can
    branch from one run, each its own schedule (a Scheduler resumes a run's checkpoint onto one
    with ``horizon="branch"``). From a :func:`lrkit.wsd` run, ``at`` must lie before its own cooldown.

    >>> import lrkit as lk
    >>> run = lk.wsd(10_000, warmup=500, decay=2000)
    >>> c = cooldown(run, at=4000, decay=1000, shape="1-sqrt")
    >>> c
    take(wsd(10000, warmup=500, decay=2000), 4000) >> anneal(1000, 1.0, 0.0, shape='1-sqrt')
    >>> c(3999) == run(3999), c(4250), c(5000), c.length
    (True, 0.5, 0.0, 5000)
    >>> lk.from_config(repr(c)) == c, branch_point(c, run)
    (True, 4000)
    """
    who = "cooldown"
    if not isinstance(schedule, Schedule):
        raise ValueError(f"{who}: schedule must be a schedule (the run to branch from), got {schedule!r}")
    start = _start(who, schedule, at)
    if isinstance(schedule, WSD) and start > stable_phase(schedule)[1]:
        raise ValueError(
            f"{who}: at={start:g} is inside the cooldown of {schedule!r} (it starts at "
            f"{stable_phase(schedule)[1]:g}); branch from a stable-phase step"
        )
    steps = v.length(who, "decay", decay)
    shape = v.choice(who, "shape", shape, COOLDOWN_SHAPES)
    floor = v.number(who, "floor", floor)
    value = float(schedule(start))
    if floor > value:
        raise ValueError(f"{who}: floor={floor!r} is above the value {value!r} at the branch point; a cooldown decays")
    fall = Anneal(steps, value, floor, shape)
    return fall if start == 0 else Take(schedule, start) >> fall


def rewarm(
    schedule: Schedule,
    warmup: float,
    decay: float,
    at: float | None = None,
    peak: float = 1.0,
    floor: float | None = None,
    stable: float = 0,
    shape: str = "cos",
) -> Schedule:
    """Continued pre-training from a (decayed) run: re-warm to a new ``peak``, then decay (Ibrahim et al., 2023).

    ``schedule`` until ``at`` (default its end), a linear warmup over ``warmup`` steps from
    ``v = schedule(at)`` to ``peak``, an optional hold of ``stable`` steps at ``peak``, then
    ``decay`` steps along ``shape`` to ``floor`` (default ``v``):
    ``f(at + u) = v + (peak - v) u / warmup`` for ``u <= warmup``, then
    ``peak + (floor - peak) (1 - h((u - warmup - stable) / decay))`` after the hold. Built as
    ``take(schedule, at) >> anneal(warmup, v, peak, 'linear') [>> constant(peak, stable)] >> anneal(decay, peak,
    floor, shape)``.

    >>> import lrkit as lk
    >>> base = lk.warmup_cosine(1000, warmup=100, floor=0.1)
    >>> r = rewarm(base, warmup=50, decay=500, peak=0.5)
    >>> r(1000), r(1025), r(1050), r(1550), r.length
    (0.1, 0.3, 0.5, 0.1, 1550.0)
    >>> lk.from_config(repr(r)) == r
    True
    """
    who = "rewarm"
    if not isinstance(schedule, Schedule):
        raise ValueError(f"{who}: schedule must be a schedule (the run to continue), got {schedule!r}")
    start = _start(who, schedule, at)
    warmup = v.length(who, "warmup", warmup)
    decay = v.length(who, "decay", decay)
    peak = v.positive(who, "peak", peak)
    stable = v.non_negative(who, "stable", stable)
    shape = v.choice(who, "shape", shape, COOLDOWN_SHAPES)
    value = float(schedule(start))
    end = value if floor is None else v.number(who, "floor", floor)
    pieces: list[Schedule] = [] if start == 0 else [Take(schedule, start)]
    pieces.append(Anneal(warmup, value, peak, "linear"))
    if stable > 0:
        pieces.append(Constant(peak, stable))
    pieces.append(Anneal(decay, peak, end, shape))
    return Join(pieces)


def branch_point(branch: Schedule, schedule: Schedule) -> float | None:
    """Where ``branch`` leaves ``schedule``: ``a`` if ``branch`` is ``take(schedule, a) >> ...``, else ``None``.

    >>> import lrkit as lk
    >>> branch_point(cooldown(lk.constant(1.0), at=30, decay=10), lk.constant(1.0))
    30
    """
    if isinstance(branch, Join):
        first = branch.pieces[0]
        if isinstance(first, Take) and first.schedule == schedule:
            return first.steps
    return None
