"""Call patterns of :class:`lrkit.torch.Scheduler` that suggest the user meant something else: warn once.

Stepping once per epoch while progress counts updates, a plateau that never receives a metric,
``step()`` with no optimizer update, every group's value 0, progress past the schedule's end, and
another scheduler (or user code) writing the value lrkit owns (an error: lrkit would drop it).
:class:`Guards` holds their counters; ``stacklevel`` points each warning at the caller of ``step()``.

>>> g = Guards()                                  # step() calls that each saw 2 new updates
>>> g.check_epochs(2); g.check_epochs(4); g.calls   # (calls seen, updates at the last, updates per call)
(2, 4, 2)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lrkit.core.plateau import UNFED  # step() calls with a plateau active and never fed before we say so

if TYPE_CHECKING:
    from lrkit.core.schedule import Schedule
    from lrkit.reactive.controller import Controller
    from lrkit.torch._plan import Plan

__all__ = ["EPOCH_CALLS", "IDLE_WARNING", "UNFED", "Guards"]

IDLE_WARNING = 100  # step() calls without any optimizer update before we say so
EPOCH_CALLS = 3  # step() calls that each saw the same k > 1 updates: the user steps per epoch


class Guards:
    """The warnings' counters: ``calls`` (the epoch check: calls seen, updates at the last call, updates per
    call), ``idle`` calls, ``zero_check`` pending, ``warned_end``, ``fed`` (a metric reached the plateau(s), or
    the unfed warning was given) and ``unfed`` calls."""

    __slots__ = ("calls", "fed", "idle", "inherited", "unfed", "warned_end", "zero_check")

    def __init__(self) -> None:
        self.calls = (0, 0, 0)
        self.idle = 0
        self.zero_check = True
        self.warned_end = False
        self.fed = False
        self.unfed = 0
        self.inherited: str | None = None  # bases taken from another live Scheduler: said at the first step()

    def quiet(self, plateaus: bool) -> bool:
        """Whether no check is pending at the next ``step()`` (the fast path may skip them)."""
        return self.calls[0] >= EPOCH_CALLS and not self.zero_check and (self.fed or not plateaus)

    def resumed(self, n: int, warned_end: bool) -> None:
        """A checkpoint was loaded at progress ``n``: a resumed run was checked when it started."""
        self.calls = (EPOCH_CALLS, n, 0)
        self.warned_end = warned_end
        self.zero_check = True
        self.inherited = None  # the checkpoint's bases govern, not those taken from another Scheduler

    def warn_inherited(self) -> None:
        """Say once, at the first ``step()`` with no checkpoint loaded, that the bases came from another Scheduler."""
        if self.inherited is not None:
            warnings.warn(self.inherited, stacklevel=3)
            self.inherited = None

    def check_foreign_write(self, plan: Plan) -> None:
        """Raise if someone else wrote the value since our last step (another scheduler, or user code)."""
        if plan.untouched():
            return
        group, key = plan.plain[0][0], plan.plain[0][1]
        found = group[key]
        target = next(t for t in plan.targets if plan.groups[t.group] is group)
        raise RuntimeError(
            f"Scheduler: param group {target.group}'s {target.name!r} was changed outside lrkit since the last "
            f"step (it is now {found!r}, lrkit wrote {plan.last!r}). Another scheduler (torch's ChainedScheduler or "
            "SequentialLR, a second LRScheduler on this optimizer) or your code writes it, and lrkit would silently "
            "drop that change. Compose the schedules in lrkit instead (a * b, a >> b) and drive the optimizer with "
            "one Scheduler; to change the base learning rate mid-run, build a new Scheduler"
        )

    def unfed_step(self, active: list[tuple[int, Controller]], clocked: bool, at: float) -> None:
        """Count a ``step()`` at progress ``at`` with a plateau active and never fed; say so at the ``UNFED``-th."""
        if not clocked and not any(c.active(at) for _, c in active):
            return  # e.g. still in the warmup before the plateau's piece
        self.unfed += 1
        if self.unfed < UNFED:
            return
        self.fed = True  # warn once
        warnings.warn(
            f"Scheduler: the schedule's plateau(...) has been active for {UNFED} steps and no metric has reached "
            "it; it reduces only when fed one. Pass the metric after each evaluation: sched.step(metric=val_loss). "
            "Lightning: return {'scheduler': sched, 'interval': 'step'} and add "
            "lrkit.torch.lightning.SchedulerCallback(monitor='val_loss') to the callbacks (not 'reduce_on_plateau'); "
            "Hugging Face Trainer: add lrkit.torch.hf.PlateauCallback(sched) to callbacks. If your first evaluation "
            "is still to come, ignore this (said once)",
            UserWarning,
            stacklevel=3,
        )

    def check_epochs(self, n: int) -> None:
        """Warn once when every call sees the same k > 1 new updates: the loop most likely steps per epoch."""
        calls, last, per = self.calls
        delta = n - last
        if calls and delta != per:
            self.calls = (EPOCH_CALLS, n, 0)  # not regular: stop checking
            return
        self.calls = (calls + 1, n, delta)
        if calls + 1 == EPOCH_CALLS and delta > 1:
            warnings.warn(
                f"Scheduler: step() was called once every {delta} optimizer updates; lrkit counts updates, so "
                f"each call moves the schedule {delta} steps. If you step once per epoch, build "
                "Scheduler(..., advance='call') (schedule in epochs) or write the schedule in updates and call "
                "step() after every optimizer.step()",
                UserWarning,
                stacklevel=3,
            )

    def warn_all_zero(self, base: Mapping[str, Sequence[float]]) -> None:
        # checked at the first step, not at construction: a resume may build the Scheduler on an optimizer
        # whose loaded lr is 0 (start of a warmup) and then restore the bases with load_state_dict
        self.zero_check = False
        for name, bases in base.items():
            if all(b == 0.0 for b in bases):
                warnings.warn(
                    f"Scheduler: every param group had {name}=0 when the Scheduler was built, so every group is "
                    f"frozen and the {name} schedule does nothing; create the optimizer with a nonzero {name} "
                    f"(e.g. {name}=1.0 with relative=() for absolute values)",
                    UserWarning,
                    stacklevel=3,
                )

    def idle_call(self) -> None:
        self.idle += 1
        if self.idle == IDLE_WARNING:
            warnings.warn(
                f"Scheduler: {IDLE_WARNING} step() calls and no optimizer update observed; the schedule only "
                "advances on real updates (optimizer.step() that ran). If your optimizer's step bypasses torch's "
                "step hooks, use Scheduler(..., advance='call')",
                UserWarning,
                stacklevel=3,
            )

    def warn_end(
        self, where: float, schedules: list[Schedule], ends: list[float], scale: float, stacklevel: int
    ) -> None:
        """Progress ``where`` is past the end (``ends``, in progress / ``scale``) of a schedule: say so, once."""
        self.warned_end = True
        past = [
            f"{s!r} (length {s.length:g})"
            for s, end in zip(schedules, ends)
            if s.length and where > end * scale  # ``end``: where it ends in progress, moved by a horizon change
        ]
        warnings.warn(
            f"Scheduler: progress {where:g} is past the end of {', '.join(past)}; holding the final value. "
            "Lengthen the schedule to train longer (this warning is given once)",
            UserWarning,
            stacklevel=stacklevel,
        )
