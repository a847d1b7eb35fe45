"""Call patterns of :class:`lrkit.torch.Scheduler` that suggest the user meant something else: warn once.

Stepping once per epoch while progress counts updates, a plateau that never receives a metric,
``step()`` with no optimizer update, every group's value 0, progress past the schedule's end, and
another scheduler (or user code) writing the value lrkit owns (an error: lrkit would drop it).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrkit.torch.scheduler import Scheduler

__all__ = [
    "EPOCH_CALLS",
    "UNFED",
    "check_epochs",
    "check_foreign_write",
    "idle_call",
    "unfed_step",
    "warn_all_zero",
    "warn_end",
]

IDLE_WARNING = 100  # step() calls without any optimizer update before we say so
EPOCH_CALLS = 3  # step() calls that each saw the same k > 1 updates: the user steps per epoch
UNFED = 50  # step() calls with a plateau active and never a metric before we say so (docs/reactive.md)


def check_foreign_write(sched: Scheduler) -> None:
    if sched._plain:
        group, key = sched._plain[0][0], sched._plain[0][1]
        found = group[key]
        if found is not sched._last and found != sched._last:
            foreign_write(sched, found)


def foreign_write(sched: Scheduler, found: Any) -> None:
    """Someone else wrote the value since our last step (another scheduler, or user code): say so, loudly."""
    group = next(t for t in sched._targets if sched._groups[t.group] is sched._plain[0][0])
    raise RuntimeError(
        f"Scheduler: param group {group.group}'s {group.name!r} was changed outside lrkit since the last "
        f"step (it is now {found!r}, lrkit wrote {sched._last!r}). Another scheduler (torch's ChainedScheduler or "
        "SequentialLR, a second LRScheduler on this optimizer) or your code writes it, and lrkit would silently "
        "drop that change. Compose the schedules in lrkit instead (a * b, a >> b) and drive the optimizer with "
        "one Scheduler; to change the base learning rate mid-run, build a new Scheduler"
    )


def unfed_step(sched: Scheduler, at: float) -> None:
    """Count a ``step()`` at progress ``at`` with a plateau active and never fed; say so at the ``UNFED``-th."""
    if sched._clock is None and not any(c.active(at) for _, c in sched._active):
        return  # e.g. still in the warmup before the plateau's piece
    sched._unfed += 1
    if sched._unfed < UNFED:
        return
    sched._fed = True  # warn once
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


def check_epochs(sched: Scheduler, n: int) -> None:
    """Warn once when every call sees the same k > 1 new updates: the loop most likely steps per epoch."""
    calls, last, per = sched._calls
    delta = n - last
    if calls and delta != per:
        sched._calls = (EPOCH_CALLS, n, 0)  # not regular: stop checking
        return
    sched._calls = (calls + 1, n, delta)
    if calls + 1 == EPOCH_CALLS and delta > 1:
        warnings.warn(
            f"Scheduler: step() was called once every {delta} optimizer updates; lrkit counts updates, so "
            f"each call moves the schedule {delta} steps. If you step once per epoch, build "
            "Scheduler(..., advance='call') (schedule in epochs) or write the schedule in updates and call "
            "step() after every optimizer.step()",
            UserWarning,
            stacklevel=3,
        )


def warn_all_zero(sched: Scheduler) -> None:
    # checked at the first step, not at construction: a resume may build the Scheduler on an optimizer
    # whose loaded lr is 0 (start of a warmup) and then restore the bases with load_state_dict
    sched._zero_check = False
    for name, bases in sched._base.items():
        if all(b == 0.0 for b in bases):
            warnings.warn(
                f"Scheduler: every param group had {name}=0 when the Scheduler was built, so every group is "
                f"frozen and the {name} schedule does nothing; create the optimizer with a nonzero {name} "
                f"(e.g. {name}=1.0 with relative=() for absolute values)",
                UserWarning,
                stacklevel=3,
            )


def idle_call(sched: Scheduler) -> None:
    sched._idle += 1
    if sched._idle == IDLE_WARNING:
        warnings.warn(
            f"Scheduler: {IDLE_WARNING} step() calls and no optimizer update observed; the schedule only "
            "advances on real updates (optimizer.step() that ran). If your optimizer's step bypasses torch's "
            "step hooks, use Scheduler(..., advance='call')",
            UserWarning,
            stacklevel=3,
        )


def warn_end(sched: Scheduler, where: float, stacklevel: int = 4) -> None:
    sched._warned_end = True
    scale = sched._upe if (sched._upe is not None and sched._clock is None) else 1.0
    ends = [
        f"{s!r} (length {s.length:g})"
        for s, end in zip(sched._schedules, sched._ends)
        if s.length and where > end * scale  # ``end``: where it ends in progress, moved by a horizon change
    ]
    warnings.warn(
        f"Scheduler: progress {where:g} is past the end of {', '.join(ends)}; holding the final value. "
        "Lengthen the schedule to train longer (this warning is given once)",
        UserWarning,
        stacklevel=stacklevel,
    )
