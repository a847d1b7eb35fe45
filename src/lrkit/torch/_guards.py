"""Call patterns of :class:`lrkit.torch.Scheduler` that suggest the user meant something else: warn once.

Stepping once per epoch while progress counts updates, a plateau that never receives a metric,
``step()`` with no optimizer update, every group's value 0, progress past the schedule's end, and
another scheduler (or user code) writing the value lrkit owns (an error: lrkit would drop it).
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["EPOCH_CALLS", "UNFED", "CallGuards"]

IDLE_WARNING = 100  # step() calls without any optimizer update before we say so
EPOCH_CALLS = 3  # step() calls that each saw the same k > 1 updates: the user steps per epoch
UNFED = 50  # step() calls with a plateau active and never a metric before we say so (docs/reactive.md)


class CallGuards:
    """The Scheduler's checks of how it is called (a mixin: it reads the Scheduler's own state)."""

    def _check_foreign_write(self: Any) -> None:
        if self._plain:
            group, key = self._plain[0][0], self._plain[0][1]
            found = group[key]
            if found is not self._last and found != self._last:
                self._foreign_write(found)

    def _foreign_write(self: Any, found: Any) -> None:
        """Someone else wrote the value since our last step (another scheduler, or user code): say so, loudly."""
        group = next(t for t in self._targets if self._groups[t.group] is self._plain[0][0])
        raise RuntimeError(
            f"Scheduler: param group {group.group}'s {group.name!r} was changed outside lrkit since the last "
            f"step (it is now {found!r}, lrkit wrote {self._last!r}). Another scheduler (torch's ChainedScheduler or "
            "SequentialLR, a second LRScheduler on this optimizer) or your code writes it, and lrkit would silently "
            "drop that change. Compose the schedules in lrkit instead (a * b, a >> b) and drive the optimizer with "
            "one Scheduler; to change the base learning rate mid-run, build a new Scheduler"
        )

    def _unfed_step(self: Any, at: float) -> None:
        """Count a ``step()`` at progress ``at`` with a plateau active and never fed; say so at the ``UNFED``-th."""
        if self._clock is None and not any(c.active(at) for _, c in self._active):
            return  # e.g. still in the warmup before the plateau's piece
        self._unfed += 1
        if self._unfed < UNFED:
            return
        self._fed = True  # warn once
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

    def _check_epochs(self: Any, n: int) -> None:
        """Warn once when every call sees the same k > 1 new updates: the loop most likely steps per epoch."""
        calls, last, per = self._calls
        delta = n - last
        if calls and delta != per:
            self._calls = (EPOCH_CALLS, n, 0)  # not regular: stop checking
            return
        self._calls = (calls + 1, n, delta)
        if calls + 1 == EPOCH_CALLS and delta > 1:
            warnings.warn(
                f"Scheduler: step() was called once every {delta} optimizer updates; lrkit counts updates, so "
                f"each call moves the schedule {delta} steps. If you step once per epoch, build "
                "Scheduler(..., advance='call') (schedule in epochs) or write the schedule in updates and call "
                "step() after every optimizer.step()",
                UserWarning,
                stacklevel=3,
            )

    def _warn_all_zero(self: Any) -> None:
        # checked at the first step, not at construction: a resume may build the Scheduler on an optimizer
        # whose loaded lr is 0 (start of a warmup) and then restore the bases with load_state_dict
        self._zero_check = False
        for name, bases in self._base.items():
            if all(b == 0.0 for b in bases):
                warnings.warn(
                    f"Scheduler: every param group had {name}=0 when the Scheduler was built, so every group is "
                    f"frozen and the {name} schedule does nothing; create the optimizer with a nonzero {name} "
                    f"(e.g. {name}=1.0 with relative=() for absolute values)",
                    UserWarning,
                    stacklevel=3,
                )

    def _idle_call(self: Any) -> None:
        self._idle += 1
        if self._idle == IDLE_WARNING:
            warnings.warn(
                f"Scheduler: {IDLE_WARNING} step() calls and no optimizer update observed; the schedule only "
                "advances on real updates (optimizer.step() that ran). If your optimizer's step bypasses torch's "
                "step hooks, use Scheduler(..., advance='call')",
                UserWarning,
                stacklevel=3,
            )

    def _warn_end(self: Any, where: float, stacklevel: int = 4) -> None:
        self._warned_end = True
        scale = self._upe if (self._upe is not None and self._clock is None) else 1.0
        ends = [
            f"{s!r} (length {s.length:g})"
            for s, end in zip(self._schedules, self._ends)
            if s.length and where > end * scale  # ``end``: where it ends in progress, moved by a horizon change
        ]
        warnings.warn(
            f"Scheduler: progress {where:g} is past the end of {', '.join(ends)}; holding the final value. "
            "Lengthen the schedule to train longer (this warning is given once)",
            UserWarning,
            stacklevel=stacklevel,
        )
