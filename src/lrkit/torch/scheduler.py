"""``lrkit.torch.Scheduler``: drive a torch optimizer's hyperparameters from lrkit schedules.

``group[key] = factor_g * schedule(t)``: relative learning rates (``factor_g = base_g * lr_scale_g``, ``base_g``
the group's ``lr`` at construction), other keys absolute unless named in ``relative``, a zero that stays zero;
``t`` counts real optimizer updates (or calls, epochs, tokens, samples, seconds); a different schedule on resume
only through a horizon rule (:mod:`lrkit.reactive.horizon`, its one time map); past the end the final value is
held and a warning given once (docs/torch.md decides each).

This module is the shell. Its typed parts, each with one job: :mod:`~lrkit.torch._specs` (what is scheduled),
:mod:`~lrkit.torch._progress` (what progress counts, the update hook), :mod:`~lrkit.torch._values` (every
schedule's values: numpy blocks of 1,024 updates aligned to absolute update numbers, so a resumed run reads bitwise
the values of an uninterrupted one), :mod:`~lrkit.torch._plan` (the write plan and the fast path of ``step()``),
:mod:`~lrkit.torch._plateaus` (metrics), :mod:`~lrkit.torch._guards` (warnings), :mod:`~lrkit.torch._checkpoint`
(the state, validated whole, then applied) and :mod:`~lrkit.torch._eager` (``step()`` under ``torch.compile``).

>>> import torch, lrkit as lk
>>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
>>> sched = Scheduler(opt, lk.warmup(10) >> lk.cosine(90))
>>> opt.param_groups[0]["lr"], sched.value_at(10)    # the first update is not wasted: 0.1 / 11
(0.009090909090909092, [0.1])
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrkit.core.schedule import Schedule
from lrkit.torch import _checkpoint, _eager
from lrkit.torch._guards import EPOCH_CALLS, Guards
from lrkit.torch._plan import Plan
from lrkit.torch._plateaus import Plateaus
from lrkit.torch._progress import Progress
from lrkit.torch._specs import ScheduleSpec, Specs
from lrkit.torch._values import BLOCK, Values

__all__ = ["BLOCK", "Scheduler"]

# the live Scheduler that last took each optimizer: a second one on it inherits its bases (see _inherit)
_DRIVERS: weakref.WeakKeyDictionary[Optimizer, weakref.ref[Scheduler]] = weakref.WeakKeyDictionary()


class Scheduler(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` whose values come from lrkit schedules.

    Args:
        optimizer: a ``torch.optim.Optimizer`` (the real one, not a Lightning/Accelerate wrapper).
        schedule: the learning-rate schedule, or one schedule per param group.
        hyper: other keys to schedule, e.g. ``{"momentum": s}``, ``{"beta1": s}``,
            ``{"weight_decay": s}``; each a schedule or one per group.
        relative: keys whose schedule multiplies the group's value at construction (default ``("lr",)``);
            every other scheduled key is written as an absolute value.
        lr_scale: one multiplier per group for the learning rate (layer-wise decay). Default: each group's
            own ``"lr_scale"`` key where any group has one (timm's convention), else none.
        advance: ``"update"`` (default): progress counts real optimizer updates;
            ``"call"``: progress counts ``step()`` calls (e.g. once per epoch);
            ``"tokens"`` / ``"samples"``: progress is the tokens (samples) fed so far, each call
            ``step(tokens=n)`` / ``step(samples=n)`` adding this update's count (the schedule is
            written in tokens; values are computed with ``math`` per step).
        updates_per_epoch: with ``advance="update"``, progress is ``updates / updates_per_epoch``
            (fractional epochs) so the schedule's unit is the epoch.
        clock: a ``lrkit.reactive.WallClock``: progress is seconds (or budget-scaled), read at each ``step()``.
        across: with ``advance="tokens"``/``"samples"`` under ``torch.distributed``, how the ranks'
            counts combine at each step: ``"sum"`` (default: every rank passes its own local count and
            progress is the global sum) or ``"rank0"`` (every rank passes the global count; rank 0's is
            used). Either way every rank holds the same progress and the same values.
        resume: the horizon rule that :meth:`load_state_dict` applies when it is called without
            ``horizon=`` (as Lightning's ``ckpt_path=`` and HF Trainer's ``resume_from_checkpoint=`` call it):
            ``"keep_step"``, ``"same_fraction"``, ``"wsd"``, ``"branch"`` (:data:`lrkit.horizon.RULES`) or a
            function ``rule(old, new, position) -> position``. It applies only when the saved schedules differ
            from this Scheduler's; an explicit ``load_state_dict(state, horizon=...)`` wins.

    Every schedule may also be given as its text config (``"warmup(100) >> cosine(900)"``, parsed by
    :func:`lrkit.from_config`), which is how a Hydra partial passes it.

    Formula: ``group[key] = factor_g * schedule(t)``, ``factor_g = base_g * scale_g`` (relative) or
    ``scale_g`` (absolute), and 0 for a group whose value was 0.

    >>> import torch, lrkit as lk
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> s = Scheduler(opt, lk.one_cycle(100), hyper={"momentum": lk.one_cycle_momentum(100)})
    >>> opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
    (0.04, 0.95)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: ScheduleSpec,
        *,
        hyper: Mapping[str, ScheduleSpec] | None = None,
        relative: Collection[str] = ("lr",),
        lr_scale: Sequence[float] | None = None,
        advance: Literal["update", "call", "tokens", "samples"] = "update",
        updates_per_epoch: float | None = None,
        clock: Any = None,
        across: Literal["sum", "rank0"] = "sum",
        resume: Any = None,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Scheduler: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                "pass the inner optimizer, not a Lightning/Accelerate wrapper"
            )
        self.optimizer = optimizer
        self._progress = progress = Progress(advance, updates_per_epoch, clock, across)
        self._specs = specs = Specs(optimizer, schedule, hyper, relative, lr_scale, resume)
        self._count = progress.count  # real optimizer updates, incremented by the step post-hook
        self._clock = clock  # the progress part's, held here too for the fast path of step()
        self._step_count = 0  # torch's counter, kept because Accelerate reads and bumps it
        progress.attach(optimizer, self, Scheduler._rewrite)
        self._cache = Values(list(specs.schedules), progress.upe)
        self._plan = Plan(specs.assign, clocked=clock is not None)
        self._guards = Guards()
        self._plateaus = Plateaus(specs.schedules)
        # step(metric) may take the fast path: counted updates, no clock (whose progress differs per schedule)
        self._metric_fast = bool(self._plateaus.active) and progress.by_update and clock is None
        progress.check_ranks()
        self._inherit(optimizer)
        self._adopt()
        self._plan.write(self._values(0))
        if "torch._dynamo" in sys.modules:  # torch.compile is in use: build the eager step now, outside any trace
            _eager.eager_step()

    def _inherit(self, optimizer: Optimizer) -> None:
        """A second Scheduler on an optimizer a live one drives (a re-run notebook cell) takes that one's bases.

        The groups then hold the first one's values (its warmup's first rate, say), not base values: taken as
        bases they would scale every rate down. As torch's ``initial_lr`` does, the new Scheduler keeps the
        first one's bases, and warns once. Values written by hand since the first one's last step are the
        user's new bases (the documented way to change the base mid-run): taken as they are, no warning.
        """
        ref = _DRIVERS.get(optimizer)
        previous = ref() if ref is not None else None
        _DRIVERS[optimizer] = weakref.ref(self)
        if previous is None or not previous._plan.plain or not previous._plan.untouched():
            return
        ngroups = len(optimizer.param_groups)
        inherited = {
            name: list(bases)
            for name, bases in previous._plan.base.items()
            if name in self._plan.base and len(bases) == ngroups
        }
        if not inherited:
            return
        self._plan.base.update(inherited)
        shown = ", ".join(f"{name} {bases[0]:g}" for name, bases in inherited.items())
        self._guards.inherited = (  # said at the first step(), unless a checkpoint's bases replace these first
            "Scheduler: its optimizer was driven by another lrkit Scheduler, still alive, when it was built, and the "
            f"param groups held that one's values; it took that one's base values ({shown} in group 0), as torch's "
            "initial_lr does, not the values it wrote. Step only the new one (the old one's step() now refuses); "
            "to start from other base values, write them into the param groups before building the Scheduler"
        )

    def _rewrite(self) -> None:
        """Write the values for the current progress into the (new) group dicts (after optimizer.load_state_dict)."""
        self._plan.hi = 0
        self._adopt()
        self._plan.write(self._values(self._plan.n))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # copy.deepcopy / pickle: torch does not copy optimizer hooks, so count the copy's updates afresh
        self.__dict__.update(state)
        self._count = self._progress.count = [self._count[0]]
        self._progress.attach(self.optimizer, self, Scheduler._rewrite)

    def _adopt(self) -> None:
        self._plan.adopt(self.optimizer.param_groups, self._specs, self._cache.shift)

    @property
    def _advance(self) -> str:  # read by the framework callbacks (lrkit.torch._feeding, lightning)
        return self._progress.advance

    def step(  # type: ignore[override]
        self, metric: float | None = None, *, tokens: Any = None, samples: Any = None
    ) -> None:
        """Apply the values for the current progress (call after ``optimizer.step()``).

        With ``advance="update"`` progress is the number of real optimizer updates: a call after a
        micro-batch or after an update skipped by ``GradScaler`` changes nothing. ``metric`` feeds a
        ``plateau`` in the schedule (reduced across ranks first). There is no epoch argument (torch
        deprecated it): progress is counted, never set.

        With ``advance="tokens"`` (``"samples"``) pass the tokens (samples) this update consumed,
        ``step(tokens=n)``: an integer >= 0, this rank's own count (summed over the ranks, see
        ``across``). Every call adds its count, whether or not the optimizer stepped (the data
        was consumed), so call it once per update. A metric alone, ``step(metric=x)`` with nothing
        counted since the last step (after an evaluation), feeds the plateau and makes no update; a
        refused metric (no plateau, NaN under ``nan="raise"``) leaves the count as it was.

        Inside a ``torch.compile``'d function the step runs eagerly (:mod:`lrkit.torch._eager`). To compute the
        learning rate inside a fully compiled step, evaluate the schedule on a step tensor (docs/torch.md).
        """
        # called through its module on purpose: dynamo does not fold a module-level alias, and would trace the step
        if torch.compiler.is_dynamo_compiling() if _eager.DYNAMO_CHECK else torch.compiler.is_compiling():
            # calls step() again, eagerly: the check is then False
            eager = _eager.EAGER[0] if _eager.EAGER else _eager.eager_step()
            return eager(self, metric, tokens, samples)  # type: ignore[no-any-return]
        n = self._count[0]
        plan = self._plan
        if (
            plan.lo <= n < plan.hi
            and tokens is None
            and samples is None
            and self.optimizer.param_groups is plan.groups
            and len(plan.groups) == plan.ngroups  # add_param_group appends to the same list
        ):
            # the fast path (armed by Plan.arm): same block, same groups, nothing to check or warn about
            first, name = plan.first
            if first[name] is plan.last and (metric is None or self._metric_fast):
                if metric is not None:
                    feed = self._plateaus.feed  # one plateau listening at every step, one process: its rule
                    if feed is None or type(metric) is not float:
                        self._fast_metric(metric, n)
                        return None
                    if feed(metric):
                        self._reduced(n)
                        return None
                elif self._clock is not None:  # a clock moves without updates: its values now, every call
                    plan.n = n
                    plan.write(self._clock_values())
                    return None
                if n != plan.n:  # the block's values for this update
                    values, i = plan.flat, n & plan.mask
                    for group, key, _, factor, row in plan.plain:
                        group[key] = factor * values[row + i]
                    plan.last = first[name]
                    plan.n = n
                return None
        plan.hi = 0  # disarmed until the general path below arms it again
        progress, guards = self._progress, self._guards
        progress.check_ranks()  # whether ranks must agree: kept by the fast path until it is re-armed
        counted = None  # the token counter as it was: restored if the metric below is refused
        if progress.unit is not None or tokens is not None or samples is not None:
            counter = progress.tokens
            if counter is not None:
                counted = (counter.total, counter.pending)
            if (
                counter is not None
                and metric is not None
                and tokens is None
                and samples is None
                and counter.pending is None
            ):
                n = plan.n  # a metric alone, nothing counted (after an evaluation): it feeds the plateau, no update
            else:
                n = progress.take(tokens, samples)
        elif progress.by_update:
            if n == plan.n and metric is None and self._clock is None:  # no new update: nothing changes
                if n == 0:
                    guards.idle_call()
                return None
            if guards.calls[0] < EPOCH_CALLS:
                guards.check_epochs(n)
        else:
            n = plan.n + 1
        at = float(n) if progress.unit is not None else progress.epochs(n)
        if plan.plain and plan.plain[0][0][plan.plain[0][1]] is not plan.last:
            guards.check_foreign_write(plan)
        if metric is not None:
            where = progress.clock_progress(self._specs.schedules, plan.n) if self._clock is not None else None
            try:
                self._plateaus.observe(metric, at, where, self._cache)
            except ValueError:
                if counted is not None and progress.tokens is not None:  # a refused metric takes no count
                    progress.tokens.total, progress.tokens.pending = counted
                raise
            guards.fed = True
        elif self._plateaus.active and not guards.fed:
            guards.unfed_step(self._plateaus.active, self._clock is not None, at)
        if plan.stale(self.optimizer.param_groups):
            self._adopt()
        plan.n = n
        if guards.zero_check:
            guards.warn_all_zero(plan.base)
            guards.warn_inherited()
        plan.write(self._clock_values() if self._clock is not None else self._values(n))
        if progress.by_update:
            self._arm(n)
        return None

    def _evaluated(self, metric: Any) -> None:
        """A framework callback's metric after an evaluation: it feeds the plateau and makes no update, even where
        the evaluation ran in the middle of gradient accumulation (tokens counted for the update in progress stay
        pending for the framework's next ``step()``)."""
        counter = self._progress.tokens
        pending = None if counter is None else counter.pending
        if counter is not None:
            counter.pending = None
        try:
            self.step(metric=metric)
        finally:
            if counter is not None:
                counter.pending = pending

    def count(self, tokens: Any = None, samples: Any = None) -> None:
        """Add this rank's tokens (samples) to the update in progress; the next :meth:`step` consumes them.

        With ``advance="tokens"`` (``"samples"``), for loops where something else calls ``step()`` with no
        count (Lightning, HF Trainer): ``count(tokens=n)`` once per micro-batch, then the framework's
        ``step()`` advances progress by the sum (agreed across ranks, see ``across``). ``step(tokens=n)``
        is exactly ``count(tokens=n); step()``. The framework callbacks ``lrkit.torch.lightning`` and
        ``lrkit.torch.hf`` call it for you.

        >>> import torch, lrkit as lk
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = Scheduler(opt, lk.linear(1000), advance="tokens")
        >>> sched.count(tokens=100); sched.count(tokens=150); sched.step(); sched.updates
        250
        """
        self._progress.add("count", tokens, samples)

    def _fast_metric(self, metric: Any, n: int) -> None:
        """``step(metric)`` on the fast path: the plateau observes the metric, the block's values are written."""
        plan, progress = self._plan, self._progress
        at = n / progress.upe if progress.upe is not None else n
        changed = self._plateaus.observe_fast(metric, at, progress.ranks, self._cache)
        if changed and self._cache.block < 0:  # a resolved (not scaled) schedule: a new block, a full write
            plan.n = n
            plan.write(self._values(n))
            self._arm(n)
        elif n != plan.n or changed:
            plan.write_block(n)

    def _reduced(self, n: int) -> None:
        """The fast path's plateau reduced (fed inline by :meth:`step`): its row updated, the values written."""
        self._plateaus.reduced(self._cache)
        if self._cache.block < 0:  # a resolved (not scaled) schedule: a new block, a full write
            self._plan.n = n
            self._plan.write(self._values(n))
            self._arm(n)
        else:
            self._plan.write_block(n)

    def _arm(self, n: int) -> None:
        """Let the next updates of this block take the fast path (:meth:`Plan.arm`) when no check is pending."""
        guards, cache = self._guards, self._cache
        if guards.quiet(bool(self._plateaus.active)) and self._plan.arm(
            n, cache, math.inf if guards.warned_end else cache.end
        ):
            self._plateaus.arm(self._progress.ranks)

    def _values(self, n: int) -> list[float]:
        """Each distinct schedule's value at progress ``n`` (tables; ``math`` for tokens), or now (a clock)."""
        if self._clock is not None:
            return self._clock_values()
        cache, upe = self._cache, self._progress.upe
        if n > cache.end and not self._guards.warned_end:
            self._guards.warn_end(n, self._specs.schedules, cache.ends, 1.0 if upe is None else upe, 4)
        return cache.scalar(float(n)) if self._progress.unit is not None else cache.at(n)

    def _clock_values(self) -> list[float]:
        """Each distinct schedule's value now, on the clock (``math``, per step)."""
        seconds, updates = self._progress.clock_reading(self._plan.n)
        values, late = self._cache.at_clock(self._specs.schedules, self._clock.progress, updates, seconds)
        if late > -math.inf and not self._guards.warned_end:
            self._guards.warn_end(late, self._specs.schedules, self._cache.ends, 1.0, 4)
        return values

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A small, JSON-safe dict: progress, schedules (their configs: the identity), bases, plateau, clock and
        token-counter state (the keys: :mod:`lrkit.torch._checkpoint`)."""
        return _checkpoint.state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any], horizon: Any = None) -> None:  # type: ignore[override]
        """Restore a :meth:`state_dict` and write the values for the restored progress into the groups.

        The state is checked whole before anything changes (a refused state leaves the Scheduler exactly as
        it was): ``ValueError`` naming the key if one is missing, of the wrong type, not finite or out of
        range, of another version, or saved with other settings (clock or not, ``advance``, keys, groups,
        ``lr_scale``, ``relative``). The order of ``optimizer.load_state_dict`` and this call does not matter.

        A state saved for different schedules loads only when ``horizon`` names the rule that continues the
        run on this Scheduler's schedules: ``"keep_step"``, ``"same_fraction"``, ``"wsd"``, ``"branch"``
        (:data:`lrkit.horizon.RULES`) or a function ``rule(old, new, position) -> position``; without
        ``horizon=``, the ``resume=`` rule given at construction (how Lightning's ``ckpt_path=`` and HF Trainer's
        ``resume_from_checkpoint=`` resume). A checkpoint at progress ``s``, at position ``p`` of a saved
        schedule, continues at ``q = rule(old, new, p)`` and ``lr(t) = new((t - s) + q)``: the move is
        :func:`lrkit.horizon.move`, read through :meth:`lrkit.horizon.Move.local`, the one time map of
        :func:`lrkit.horizon.resumed`. Schedules are paired in order (the lr schedule(s), then each ``hyper``
        key's); one that did not change keeps its position. The positions are part of the next
        :meth:`state_dict`, so a later resume with the same schedules needs no rule. A ``plateau`` or a wall
        clock cannot change horizon.
        """
        _checkpoint.load_state_dict(self, state_dict, horizon)

    # -- reading -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in self.schedules.items()]
        return f"Scheduler({', '.join(parts)}, updates={self._plan.n})"

    @property
    def updates(self) -> int:
        """Progress count whose values are in the groups (updates, or calls with ``advance="call"``)."""
        return self._plan.n

    @property
    def last_epoch(self) -> int:  # type: ignore[override]
        """Torch's name for :attr:`updates` (read-only: progress is counted, never set)."""
        return self._plan.n

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        raise TypeError(
            "lrkit.torch.Scheduler cannot be driven by another scheduler (torch's SequentialLR / ChainedScheduler "
            "set or combine last_epoch): compose the schedules in lrkit instead, in sequence with >> "
            "(lk.warmup(500) >> lk.cosine(9500)) or multiplied with * (a * b), and give one Scheduler the result"
        )

    @property
    def base_lrs(self) -> list[float]:  # type: ignore[override]
        """Each group's learning rate at construction (the base of relative values)."""
        return list(self._plan.base["lr"])

    @property
    def schedules(self) -> dict[str, Schedule | list[Schedule]]:
        """The schedule (or per-group schedules) of each key, as given."""
        return {name: self._specs.of(name) for name in self._specs.assign}

    def get_last_lr(self) -> list[Any]:
        """The learning rate of each group now (tensors are returned as copies)."""
        return [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"] for g in self.optimizer.param_groups]

    def get_lr(self) -> list[Any]:
        """The learning rates :meth:`step` writes now; like torch, warns that :meth:`get_last_lr` is the reader."""
        warnings.warn(
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
            UserWarning,
            stacklevel=2,
        )
        return self.get_last_lr()

    @property
    def _last_lr(self) -> list[Any]:  # type: ignore[override]
        return self.get_last_lr()

    def value_at(self, update: float, key: str = "lr") -> list[float]:
        """The values ``key`` would have in each group at ``update``, without changing anything.

        ``update`` counts the same thing as the Scheduler's progress (updates, or calls with
        ``advance="call"``; tokens or samples with ``advance="tokens"``/``"samples"``; seconds with a
        clock). Bitwise equal to what :meth:`step` writes.
        """
        if key not in self._specs.assign:
            raise KeyError(
                f"Scheduler.value_at: {key!r} is not scheduled; scheduled keys are {sorted(self._specs.assign)}"
            )
        if isinstance(update, bool) or not isinstance(update, numbers.Real) or not update >= 0:
            raise ValueError(f"Scheduler.value_at: update must be a number >= 0, got {update!r}")
        if self._clock is None and self._progress.unit is None and float(update).is_integer():
            values = self._cache.copy().at(int(update))
        else:
            values = self._cache.scalar(float(update))
        return [t.factor * values[t.schedule] for t in self._plan.targets if t.name == key]
