"""The state of :class:`lrkit.torch.Scheduler`: ``state_dict``, and ``load_state_dict`` validated whole, then applied.

A state is a small JSON-safe dict (version 2):

=====================  ==========================================================================================
key                    what
=====================  ==========================================================================================
``format``             ``"lrkit.torch.Scheduler"``
``version``            2 (version 1, saved before the token counter and the clock had their own state, also loads)
``schedules``          the configs of the distinct schedules: the identity (another one needs a horizon rule)
``assign``             which schedule drives each key (an index, or one per group)
``relative``           the keys whose values are relative to the group's base
``lr_scale``           the per-group multipliers of the learning rate, or None
``advance``            ``"update"``, ``"call"``, ``"tokens"`` or ``"samples"``
``updates_per_epoch``  a number > 0 or None
``updates``            the progress: updates, calls, tokens or samples (an integer >= 0)
``base``               each key's base per param group (finite numbers >= 0; one per group: the group count)
``warned_end``         whether the past-the-end warning was given
``controllers``        per schedule, its plateau :class:`~lrkit.reactive.Controller` state, or None without plateau
``clock``              the :class:`~lrkit.reactive.WallClock` state, or None without a clock (under
                       ``torch.distributed`` its seconds are those the ranks agreed on, so any rank's checkpoint
                       resumes every rank at the run's agreed progress)
``counter``            the token/sample counter's state (``advance="tokens"``/``"samples"``), or None
``positions``          after a horizon change, per schedule ``[at, position]`` (a :class:`lrkit.horizon.Move`,
                       ``[0, 0]``: none); None before any
=====================  ==========================================================================================

Every key is checked for presence, type and range, and the identity (schedules, clock or not, advance and
unit, groups, keys) is compared with the Scheduler's own, before anything changes: a refused state leaves the
Scheduler exactly as it was, with one ``ValueError`` naming the key, what was found and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrkit.reactive import horizon
from lrkit.reactive._schema import Reader, jsonish
from lrkit.reactive.controller import PlateauState
from lrkit.torch._specs import resume_rule
from lrkit.torch._values import Values

if TYPE_CHECKING:
    from lrkit.torch.scheduler import Scheduler

__all__ = ["FORMAT", "VERSION", "apply", "identity", "load_state_dict", "parse", "state_dict"]

FORMAT = "lrkit.torch.Scheduler"
VERSION = 2
_KEYS = {
    "format",
    "version",
    "schedules",
    "assign",
    "relative",
    "lr_scale",
    "advance",
    "updates_per_epoch",
    "updates",
    "base",
    "warned_end",
    "controllers",
    "clock",
    "counter",
    "positions",
}
_WHO = "Scheduler.load_state_dict"
_SOURCE = "Scheduler.state_dict()"


@dataclass
class _Restore:
    """A checked state, ready to apply: nothing in the Scheduler has changed yet."""

    updates: int
    base: dict[str, list[float]]
    warned_end: bool
    moves: list[horizon.Move] | None
    controllers: dict[int, list[PlateauState]]
    clock: Any  # the clock's parsed state (a WallClock: elapsed seconds), or the raw state of another clock
    counter: tuple[int, int | None] | None


def identity(sched: Scheduler) -> dict[str, Any]:
    specs, progress = sched._specs, sched._progress
    return {
        "schedules": [s.to_config() for s in specs.schedules],
        "assign": {k: v if isinstance(v, int) else list(v) for k, v in specs.assign.items()},
        "relative": sorted(specs.relative),
        "lr_scale": None if specs.lr_scale is None else list(specs.lr_scale),  # a copy: the state is the caller's
        "advance": progress.advance,
        "updates_per_epoch": progress.upe,
    }


def state_dict(sched: Scheduler) -> dict[str, Any]:
    """The Scheduler's state (the module docstring lists its keys)."""
    state: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    state.update(identity(sched))
    progress = sched._progress
    state["updates"] = progress.saved(sched._plan.n)
    state["base"] = {k: list(v) for k, v in sched._plan.base.items()}
    state["warned_end"] = sched._guards.warned_end
    live = dict(sched._plateaus.active)
    state["controllers"] = [live[j].state_dict() if j in live else None for j in range(len(sched._specs.schedules))]
    state["clock"] = None if progress.clock is None else progress.clock_state()
    state["counter"] = None if progress.tokens is None else progress.tokens.state_dict()
    # moved by a horizon change: [at, position] per schedule (lrkit.horizon.Move)
    moves = sched._cache.moves
    state["positions"] = None if moves is None else [[m.at, m.position] for m in moves]
    return state


def load_state_dict(sched: Scheduler, state: Any, horizon: Any = None) -> None:
    """Check the whole state, then apply it (see :meth:`lrkit.torch.Scheduler.load_state_dict`)."""
    rule = sched._specs.resume if horizon is None else resume_rule(horizon, f"{_WHO}: horizon")
    restore = parse(sched, state, rule)
    now = parse(sched, state_dict(sched), None)
    try:
        apply(sched, restore)
    except ValueError:  # refused while applying (e.g. the schedule is not finite at the saved progress)
        apply(sched, now)  # a refused load leaves the Scheduler as it was
        raise


def parse(sched: Scheduler, state: Any, horizon: Any) -> _Restore:
    if not isinstance(state, Mapping) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, Mapping) else state
        raise ValueError(
            f"{_WHO}: state['format'] must be {FORMAT!r}, found {found!r}; this is not an lrkit Scheduler "
            f"state (was it saved by a torch scheduler?): pass what {_SOURCE} returned"
        )
    reader = Reader(_WHO, state, _SOURCE)
    version = reader.version(1, VERSION)
    reader.only(_KEYS)
    if version == 1:
        state = _upgrade(state)
        reader = Reader(_WHO, state, _SOURCE)
    mine = identity(sched)
    for key in ("advance", "updates_per_epoch", "relative", "lr_scale"):
        reader.same(key, mine[key], f"it was saved with other settings: build the Scheduler with {key} as saved")
    reader.same(
        "assign",
        mine["assign"],
        "which keys (and groups) shared one schedule differs: equal schedules share one (lr and a weight decay "
        "that follows its shape, say), and a state pairs the saved schedules with this Scheduler's in order; "
        "build it so the same keys share a schedule as saved (equal schedules where they were equal)",
    )
    saved_clock = reader.get("clock", "the clock's state or None")
    if (saved_clock is None) != (sched._clock is None):
        raise reader.error(
            "clock",
            "None (this Scheduler has no clock)" if sched._clock is None else "a clock state (this Scheduler has one)",
            saved_clock,
            "the state was saved by a run "
            + (
                "with a wall clock: build the Scheduler with clock=WallClock(...)"
                if saved_clock is not None
                else "without a wall clock: build the Scheduler without clock="
            ),
        )
    updates = reader.integer("updates")
    base = _parse_base(sched, reader)
    warned_end = reader.boolean("warned_end")
    schedules = reader.sequence("schedules")
    saved_moves = _positions(reader, len(sched._specs.schedules))
    changed = jsonish(schedules) != jsonish(mine["schedules"]) and not _same(schedules, sched._specs.schedules)
    if changed:
        if horizon is None:
            raise reader.error(
                "schedules",
                f"this Scheduler's schedules {[repr(s) for s in sched._specs.schedules]}",
                [_describe(c) for c in schedules],
                "build the Scheduler with the saved schedules, or change the run's horizon explicitly with "
                "load_state_dict(state, horizon=RULE) or Scheduler(..., resume=RULE) (what a framework's "
                "resume applies): 'keep_step' (continue on the new schedule from the same step), "
                "'same_fraction' (at the same fraction of the schedule), 'wsd' (keep the stable phase, cooldown "
                "at the new end) or 'branch' (a cooldown/rewarm branched from the saved schedule); see "
                "lrkit.reactive.horizon",
            )
        saved_controllers = reader.sequence("controllers", len(schedules))  # one per saved schedule
        moves = _rehorizon(sched, schedules, saved_moves, updates, horizon, saved_controllers)
    else:
        moves = saved_moves
    controllers = _parse_controllers(sched, reader)
    clock = None
    if sched._clock is not None:
        parse = getattr(sched._clock, "parse_state", None)
        clock = parse(saved_clock, _WHO, "clock") if parse is not None else saved_clock
    counter = None
    saved_counter = reader.get("counter", "the token counter's state or None")
    if sched._progress.tokens is None:
        if saved_counter is not None:
            raise reader.error("counter", f"None (this Scheduler has advance={sched._advance!r})", saved_counter)
    else:
        counter = sched._progress.tokens.parse_state(saved_counter, _WHO, "counter")
        if counter[0] != updates:
            raise reader.error("counter", f"a total equal to state['updates'] = {updates}", counter[0])
    return _Restore(updates, base, warned_end, moves, controllers, clock, counter)


def _parse_base(sched: Scheduler, reader: Reader) -> dict[str, list[float]]:
    saved = reader.get("base", "a dict of the scheduled keys' bases")
    groups = len(sched.optimizer.param_groups)
    if not isinstance(saved, Mapping) or set(saved) != set(sched._plan.base):
        raise reader.error(
            "base", f"a dict with keys {sorted(sched._plan.base)}", saved, "pass what state_dict() returned"
        )
    base = {}
    for key in sched._plan.base:
        items = reader.sequence(f"base.{key}", value=saved[key])
        if len(items) != groups:
            raise reader.error(
                f"base.{key}",
                f"a list of {groups} values (one per param group)",
                items,
                "load into an optimizer with the same param groups",
            )
        base[key] = [reader.number(f"base.{key}[{g}]", low=0.0, value=x) for g, x in enumerate(items)]
    return base


def _parse_controllers(sched: Scheduler, reader: Reader) -> dict[int, list[PlateauState]]:
    saved = reader.sequence("controllers", len(sched._specs.schedules))
    live = dict(sched._plateaus.active)
    out = {}
    for j, item in enumerate(saved):
        if j in live:
            if item is None:
                raise reader.error(
                    f"controllers[{j}]",
                    f"the plateau state of {sched._specs.schedules[j]!r}",
                    None,
                    "the state was saved without it: pass the run's own state_dict(), whose plateau "
                    "reductions would otherwise be lost",
                )
            out[j] = live[j].parse_state(item, _WHO, f"controllers[{j}]")
        elif item is not None:
            raise reader.error(f"controllers[{j}]", f"None ({sched._specs.schedules[j]!r} has no plateau)", item)
    return out


def apply(sched: Scheduler, r: _Restore) -> None:
    plan, guards, progress = sched._plan, sched._guards, sched._progress
    plan.hi = 0  # the fast path of step() is armed on the old values: disarmed until step() arms it again
    plan.base = r.base
    progress.count[0] = r.updates
    plan.n = r.updates
    guards.resumed(r.updates, r.warned_end)  # a resumed run was checked when it started
    sched._cache = Values(list(sched._specs.schedules), progress.upe, r.moves)
    for j, c in sched._plateaus.active:
        c.apply_state(r.controllers[j])
        sched._cache.update(j, c)
    if progress.clock is not None:
        apply = getattr(progress.clock, "apply_state", None)
        apply(r.clock) if apply is not None else progress.clock.load_state_dict(r.clock)
        progress.agreed = None  # the restored seconds are the agreed ones: no reading agreed since
    if progress.tokens is not None and r.counter is not None:
        progress.tokens.apply_state(r.counter)
    guards.fed = guards.fed or any(s.calls for _, c in sched._plateaus.active for s in c.states)
    sched._adopt()
    plan.write(sched._values(plan.n))


def _rehorizon(
    sched: Scheduler,
    saved: list[Any],
    saved_moves: list[horizon.Move] | None,
    updates: int,
    rule: Any,
    saved_controllers: list[Any],
) -> list[horizon.Move] | None:
    """Each schedule's move after moving the saved run onto this one by ``rule`` (:func:`lrkit.horizon.move`)."""
    from lrkit.core.config import from_config

    who = f"{_WHO}(horizon=...)"
    if sched._plateaus.active or any(c is not None for c in saved_controllers):
        raise ValueError(f"{who}: a schedule with a plateau(...) cannot change horizon (its reductions are tied to it)")
    if sched._clock is not None:
        raise ValueError(
            f"{who}: a wall clock drives progress by seconds; give the clock a new budget instead "
            "(WallClock(budget=...) keeps the elapsed time on resume)"
        )
    try:
        old = [from_config(c) for c in saved]
    except Exception as error:
        raise ValueError(
            f"{who}: state['schedules'] cannot be rebuilt ({error}); pass what {_SOURCE} returned"
        ) from None
    schedules = sched._specs.schedules
    if len(old) != len(schedules):
        raise ValueError(
            f"{who}: the state has {len(old)} distinct schedules and this Scheduler {len(schedules)}; "
            "a horizon rule maps each saved schedule onto one new schedule, in order"
        )
    at = sched._progress.epochs(updates)
    before = saved_moves or [horizon.STAY] * len(old)
    out = [m if a == b else horizon.move(a, b, at, rule, m) for a, b, m in zip(old, schedules, before)]
    return None if all(m == horizon.STAY for m in out) else out


def _positions(reader: Reader, n: int) -> list[horizon.Move] | None:
    saved = reader.get("positions", "None or a list of [at, position] pairs")
    if saved is None:
        return None
    items = reader.sequence("positions", n)
    out = []
    for i, pair in enumerate(items):
        pair = reader.sequence(f"positions[{i}]", 2, value=pair)
        out.append(
            horizon.Move(
                reader.number(f"positions[{i}][0]", low=0.0, value=pair[0]),
                reader.number(f"positions[{i}][1]", low=0.0, value=pair[1]),
            )
        )
    return out


def _upgrade(state: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 state in the version-2 layout: its clock state versioned, its token count a counter state."""
    out = dict(state)
    out.setdefault("positions", None)
    clock = out.get("clock")
    if isinstance(clock, Mapping) and "version" not in clock:
        out["clock"] = {"version": 1, **clock}
    unit = out.get("advance")
    out["counter"] = (
        {"version": 1, "unit": unit, "total": out.get("updates"), "pending": None}
        if unit in ("tokens", "samples")
        else None
    )
    return out


def _describe(config: Any) -> str:
    try:
        from lrkit.core.config import from_config

        return repr(from_config(config))
    except Exception:
        return repr(config)


def _same(saved: Any, schedules: list[Any]) -> bool:
    """Whether the saved configs build these very schedules (a config written with old parameter names does)."""
    from lrkit.core.config import from_config

    try:
        return [from_config(c) for c in saved] == list(schedules)
    except (ValueError, TypeError):  # ConfigError is a ValueError: a config that no longer builds is not the same
        return False
