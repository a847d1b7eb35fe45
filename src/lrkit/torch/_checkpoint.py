"""Checkpoints of :class:`lrkit.torch.Scheduler`: ``state_dict``, ``load_state_dict`` and horizon changes.

A state is a small JSON-safe dict whose identity is its schedules' configs: loading it into a
Scheduler built for other schedules raises unless a horizon rule (:mod:`lrkit.reactive.horizon`) says how the
run continues on the new ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrkit.torch._guards import EPOCH_CALLS
from lrkit.torch._values import Values

__all__ = ["FORMAT", "Checkpointing"]

FORMAT = "lrkit.torch.Scheduler"


class Checkpointing:
    """The Scheduler's checkpoint methods (a mixin: it reads and restores the Scheduler's own state)."""

    def _identity(self: Any) -> dict[str, Any]:
        return {
            "schedules": [s.to_config() for s in self._schedules],
            "assign": {k: v if isinstance(v, int) else list(v) for k, v in self._assign.items()},
            "relative": sorted(self._relative),
            "lr_scale": self._lr_scale,
            "advance": self._advance,
            "updates_per_epoch": self._upe,
        }

    def state_dict(self: Any) -> dict[str, Any]:
        """A small, JSON-safe dict: progress, schedules (their configs: the identity), bases, reactive/clock state."""
        state: dict[str, Any] = {"format": FORMAT, "version": 1}
        state.update(self._identity())
        state["updates"] = self._count[0] if self._by_update else self._n
        state["base"] = {k: list(v) for k, v in self._base.items()}
        state["warned_end"] = self._warned_end
        live = dict(self._active)
        state["controllers"] = [live[j].state_dict() if j in live else None for j in range(len(self._schedules))]
        state["clock"] = None if self._clock is None else self._clock.state_dict()
        if self._positions is not None:  # moved by a horizon change: (anchor, position) per schedule
            state["positions"] = [[a, q] for a, q in self._positions]
        return state

    def load_state_dict(self: Any, state_dict: dict[str, Any], horizon: Any = None) -> None:
        """Restore a :meth:`state_dict` and write the values for the restored progress into the groups.

        Raises ``ValueError`` if the state was saved for different settings, or for different
        schedules unless ``horizon`` names the rule that continues the run on this Scheduler's
        schedules (:mod:`lrkit.reactive.horizon`): a checkpoint at progress ``s`` standing at position ``p``
        of a saved schedule continues at ``q = rule(old, new, p)``, and ``lr(t) = new(q + (t - s))``
        at every later update ``t``:

        * ``"keep_step"``: ``q = p`` (continue on the new schedule from the same step);
        * ``"same_fraction"``: ``q = min(p, L_old) / L_old * L_new`` (the same fraction of the schedule);
        * ``"wsd"``: ``q = p``, for two ``lrkit.wsd`` with the same warmup and ``p`` in both stable
          phases (the stable phase kept, the cooldown at the new end);
        * ``"branch"``: ``q = p``, for a ``cooldown``/``rewarm`` of the saved schedule branching at or after ``p``;
        * or a function ``rule(old, new, position) -> position``.

        The rule is applied to each schedule that changed (schedules are paired in order: the lr
        schedule(s), then each ``hyper`` key's); a schedule that did not change keeps its position.
        The resulting positions are part of the next :meth:`state_dict`, so a later resume with the
        same (new) schedules needs no ``horizon``. A ``plateau`` or a wall clock cannot change horizon.
        """
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != FORMAT:
            raise ValueError(
                "Scheduler.load_state_dict: not an lrkit Scheduler state (no format "
                f"{FORMAT!r}); was it saved by a torch scheduler?"
            )
        mine = self._identity()
        changed = _jsonish(state.get("schedules")) != _jsonish(mine["schedules"]) and not _same(state, self._schedules)
        if changed and horizon is None:
            saved = [_describe(c) for c in state.get("schedules") or []]
            raise ValueError(
                f"Scheduler.load_state_dict: the state was saved for schedules {saved} but this Scheduler "
                f"has {[repr(s) for s in self._schedules]}; build the Scheduler with the saved schedules, or "
                "change the run's horizon explicitly with load_state_dict(state, horizon=RULE): "
                "'keep_step' (continue on the new schedule from the same step), 'same_fraction' (at the same "
                "fraction of the schedule), 'wsd' (keep the stable phase, cooldown at the new end) or 'branch' "
                "(a cooldown/rewarm branched from the saved schedule); see lrkit.reactive.horizon"
            )
        for key, value in mine.items():
            if key == "schedules":
                continue
            if _jsonish(state.get(key)) != _jsonish(value):
                raise ValueError(
                    f"Scheduler.load_state_dict: the state was saved with {key}={state.get(key)!r} "
                    f"but this Scheduler has {key}={value!r}; build it with the saved settings"
                )
        base = state["base"]
        if set(base) != set(self._base) or any(len(base[k]) != len(self.optimizer.param_groups) for k in base):
            raise ValueError(
                f"Scheduler.load_state_dict: the state has bases for {[len(v) for v in base.values()]} param groups "
                f"but the optimizer has {len(self.optimizer.param_groups)}; load into an optimizer with the same groups"
            )
        positions = self._rehorizon(state, horizon) if changed else _saved_positions(state, len(self._schedules))
        self._hi = 0  # the fast path of step() is armed on the old values: disarmed until step() arms it again
        self._base = {k: [float(x) for x in v] for k, v in base.items()}
        self._positions = positions
        self._set_ends()
        self._count[0] = int(state["updates"])
        self._n = int(state["updates"])
        self._calls = (EPOCH_CALLS, self._n, 0)  # a resumed run was checked when it started
        self._warned_end = bool(state.get("warned_end", False))
        self._zero_check = True
        saved_controllers = list(state.get("controllers") or [])
        self._cache = Values(list(self._schedules), self._upe, self._positions)
        for j, c in self._active:
            if j < len(saved_controllers) and saved_controllers[j] is not None:
                c.load_state_dict(saved_controllers[j])
            self._cache.replace(j, c.resolve())
        if self._clock is not None and state.get("clock") is not None:
            self._clock.load_state_dict(state["clock"])
        self._fed = self._fed or any(state.calls for _, c in self._active for state in c.states)
        self._adopt_groups()
        self._write(self._values(self._n))

    def _rehorizon(self: Any, state: Mapping[str, Any], rule: Any) -> list[tuple[float, float]]:
        """The (anchor, position) of each schedule after moving the saved run onto this one by ``rule``."""
        from lrkit import horizon as rules
        from lrkit.core.config import from_config

        who = "Scheduler.load_state_dict(horizon=...)"
        if self._active or any(c is not None for c in state.get("controllers") or []):
            raise ValueError(
                f"{who}: a schedule with a plateau(...) cannot change horizon (its reductions are tied to it)"
            )
        if self._clock is not None:
            raise ValueError(
                f"{who}: a wall clock drives progress by seconds; give the clock a new budget instead "
                "(WallClock(budget=...) keeps the elapsed time on resume)"
            )
        try:
            old = [from_config(c) for c in state["schedules"]]
        except Exception as error:
            raise ValueError(f"{who}: the saved schedules cannot be rebuilt ({error})") from None
        if len(old) != len(self._schedules):
            raise ValueError(
                f"{who}: the state has {len(old)} distinct schedules and this Scheduler {len(self._schedules)}; "
                "a horizon rule maps each saved schedule onto one new schedule, in order"
            )
        saved = _saved_positions(state, len(old)) or [(0.0, 0.0)] * len(old)
        at = self._progress(int(state["updates"]))
        out = []
        for before, after, (anchor, position) in zip(old, self._schedules, saved):
            if before == after:
                out.append((anchor, position))
                continue
            here = max((at - anchor) + position, 0.0)  # where the run stands on the saved schedule
            q = rules.resume(before, after, here, rule)
            out.append((0.0, 0.0) if q == at else (at, q))  # q == s: the new schedule at the run's own step
        return None if all(p == (0.0, 0.0) for p in out) else out  # type: ignore[return-value]


def _saved_positions(state: Mapping[str, Any], n: int) -> list[tuple[float, float]] | None:
    saved = state.get("positions")
    if saved is None:
        return None
    if not isinstance(saved, (list, tuple)) or len(saved) != n or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, (int, float)) for x in p) for p in saved
    ):
        raise ValueError(f"Scheduler.load_state_dict: malformed positions {saved!r}; pass what state_dict() returned")
    return [(float(a), float(q)) for a, q in saved]


def _same(state: Mapping[str, Any], schedules: list[Any]) -> bool:
    """Whether the saved configs build these very schedules (a config written with old parameter names does)."""
    from lrkit.core.config import from_config

    try:
        return [from_config(c) for c in state.get("schedules") or []] == list(schedules)
    except Exception:  # a config that no longer builds is not the same schedule; the caller says what differs
        return False


def _jsonish(value: Any) -> Any:
    """Normalise tuples to lists and ints to floats-compatible values for comparison."""
    if isinstance(value, Mapping):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    return value


def _describe(config: Any) -> str:
    try:
        from lrkit.core.config import from_config

        return repr(from_config(config))
    except Exception:
        return repr(config)
