"""``lrkit.torch.Scheduler``: drive a torch optimizer's hyperparameters from lrkit schedules.

Semantics (decided once; see docs/torch.md):

* **Relative learning rates.** ``lr_g = (base_g * lr_scale_g) * schedule(t)`` where ``base_g`` is
  group ``g``'s ``lr`` when the Scheduler is built (kept in the Scheduler's state, never written
  into the group). ``relative=()`` makes the learning rate absolute: ``lr_g = lr_scale_g * schedule(t)``.
* **Other hyperparameters are absolute** (``hyper={"momentum": one_cycle_momentum(n)}`` writes
  0.95 .. 0.85 .. 0.95) unless named in ``relative`` (``relative=("lr", "weight_decay")``).
  ``"beta1"``/``"beta2"`` name the elements of Adam's ``betas``.
* **A zero stays zero.** A group whose value is 0 at construction is never changed (frozen layers,
  no-decay groups).
* **One clock.** ``t`` is the number of real optimizer updates, counted by an optimizer
  step post-hook: ``step()`` after a micro-batch with no update, or after an update that
  ``GradScaler`` skipped (inf/NaN gradients), changes nothing. ``advance="call"`` counts
  ``step()`` calls instead (per-epoch stepping); ``updates_per_epoch=N`` makes ``t`` fractional
  epochs; ``clock=WallClock(...)`` makes ``t`` seconds. ``advance="tokens"`` (or ``"samples"``) makes
  ``t`` the tokens (samples) fed so far: each ``step(tokens=n)`` adds ``n``, summed over the ranks of a
  distributed run, so a schedule written in tokens is right when the batch size changes.
* **A different schedule on resume** is loaded only through a named horizon rule,
  ``load_state_dict(state, horizon="keep_step" | "same_fraction" | "wsd" | "branch")`` (:mod:`lrkit.reactive.horizon`).
* **Past the end** of a finite schedule the final value is held and a warning is given once.

Values at whole progress counts come from one place, :class:`lrkit.torch._values.Values`: every distinct schedule is
evaluated with numpy in blocks of 256 updates (32 beyond 16 distinct schedules) aligned to absolute
update numbers (block ``k`` covers ``[256 k, 256 (k+1))``), so ``step()`` is an index and a write,
and a resumed run reads the very same block: values are bitwise those of an uninterrupted run and of
``schedule(np.arange(n))``. (A scalar ``math`` evaluation costs ~1-3 us per schedule, a refill ~20 us,
~0.1 us per update amortised: see BENCHMARKS.md.) Fractional progress (a wall clock, a token count)
evaluates each schedule with ``math`` per step.

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
import torch.distributed as dist
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller, Plateau
from lrkit.torch import _checkpoint, _guards, _tokens
from lrkit.torch._guards import EPOCH_CALLS
from lrkit.torch._targets import Target, is_plain, key_path, read, write
from lrkit.torch._tokens import ACROSS, UNITS, TokenCounter
from lrkit.torch._values import BLOCK, Values
from lrkit.torch.distributed import agree_elapsed, reduce_metric

__all__ = ["BLOCK", "Scheduler"]

_DISTRIBUTED = dist.is_available()  # False: no process group can ever be initialised in this build
# torch >= 2.3 has the cheaper check (torch's docs call it internal: fall back to is_compiling without it)
_DYNAMO_CHECK = hasattr(torch.compiler, "is_dynamo_compiling")

ScheduleSpec = Schedule | str | Sequence[Schedule | str]


def _step(scheduler: Scheduler, metric: float | None, tokens: Any = None, samples: Any = None) -> None:
    scheduler.step(metric, tokens=tokens, samples=samples)


_EAGER: list[Any] = []


def _eager_step() -> Any:
    """``step`` behind ``torch.compiler.disable``, built on first use: the decorator imports dynamo (~4 s)."""
    if not _EAGER:
        _EAGER.append(torch.compiler.disable(_step))
    return _EAGER[0]


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
        if advance not in ("update", "call", *UNITS):
            raise ValueError(f"Scheduler: advance must be 'update', 'call', 'tokens' or 'samples', got {advance!r}")
        if across not in ACROSS:
            raise ValueError(f"Scheduler: across must be 'sum' or 'rank0', got {across!r}")
        if advance in UNITS and clock is not None:
            raise ValueError(
                f"Scheduler: advance={advance!r} and clock= are two measures of progress; give one "
                "(a schedule in tokens, or a WallClock)"
            )
        if updates_per_epoch is not None:
            if advance != "update":
                raise ValueError("Scheduler: updates_per_epoch needs advance='update' (progress in fractional epochs)")
            if (
                isinstance(updates_per_epoch, bool)
                or not isinstance(updates_per_epoch, numbers.Real)
                or not updates_per_epoch > 0
                or not math.isfinite(updates_per_epoch)
            ):
                raise ValueError(f"Scheduler: updates_per_epoch must be a number > 0, got {updates_per_epoch!r}")
            updates_per_epoch = float(updates_per_epoch)
        self._advance = advance
        self._by_update = advance == "update"
        self._unit: str | None = advance if advance in UNITS else None
        self._across = across
        self._resume = _resume_rule(resume)
        self._tokens = TokenCounter(advance, across) if advance in UNITS else None
        self._upe = updates_per_epoch
        self._clock = clock
        self._positions: list[tuple[float, float]] | None = None  # set by a horizon change (lrkit.reactive.horizon)

        specs: dict[str, ScheduleSpec] = {"lr": schedule}
        for name, spec in (hyper or {}).items():
            if not isinstance(name, str) or name == "lr":
                raise ValueError(
                    f"Scheduler: hyper keys must be strings other than 'lr', got {name!r}; "
                    "the learning rate is the schedule argument"
                )
            specs[name] = spec
        relative = tuple(relative)
        for name in relative:
            if name not in specs:
                raise ValueError(
                    f"Scheduler: relative names {name!r}, which is not scheduled; scheduled keys are {sorted(specs)}"
                )
        self._relative = relative
        self._specs = specs
        if lr_scale is None and any("lr_scale" in g for g in optimizer.param_groups):
            # timm's convention, which lrkit.torch.layerwise.param_groups(lr=None) follows: a group's own
            # lr_scale multiplies its learning rate (ignoring it would silently undo layer-wise decay)
            lr_scale = [g.get("lr_scale", 1.0) for g in optimizer.param_groups]
        if lr_scale is not None:
            bad = [
                x for x in lr_scale if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 <= x < math.inf
            ]
            if bad:
                raise ValueError(f"Scheduler: lr_scale must hold finite numbers >= 0 (one per group), got {bad[0]!r}")
        self._lr_scale = None if lr_scale is None else [float(x) for x in lr_scale]

        self._schedules: list[Schedule] = []  # distinct schedules (equal ones share a row of values)
        self._index: dict[Schedule, int] = {}
        self._assign: dict[str, list[int] | int] = {name: self._register(name, spec) for name, spec in specs.items()}
        self._count = [0]  # real optimizer updates, incremented by the step post-hook
        self._attach()

        self._base: dict[str, list[float]] = {name: [] for name in specs}
        self._n = 0  # progress (updates or calls) whose values are written
        self._step_count = 0  # torch's counter, kept because Accelerate reads and bumps it
        self._idle = 0
        self._calls = (0, 0, 0)  # (calls seen, updates at the last call, updates per call) for the epoch check
        self._zero_check = True
        self._warned_end = False
        self._fed = False  # a metric has reached the plateau(s) (or the unfed warning was given)
        self._unfed = 0  # step() calls with a plateau active and never a metric (see _unfed_step)
        self._lo = self._hi = 0  # progress [lo, hi) may take the fast path of step() (see _arm)
        self._first: tuple[dict[str, Any], str] = ({}, "")
        self._flat: Any = None  # the armed block's values (see _arm), its index mask and write plan
        self._mask = 0
        self._last: Any = None  # the float last written into the first plain target (foreign writes)
        self._active = [(j, Controller(s)) for j, s in enumerate(self._schedules) if _reactive(s)]
        self._cache = Values(list(self._schedules), self._upe)
        # step(metric) may take the fast path: counted updates, no clock (whose progress differs per schedule)
        self._metric_fast = bool(self._active) and self._by_update and clock is None
        self._direct: tuple[Any, Any, Controller, int] | None = None  # see _arm
        self._ranks = _DISTRIBUTED and dist.is_initialized()  # re-checked by every general step()
        self._set_ends()
        self._adopt_groups()
        self._write(self._values(0))
        if "torch._dynamo" in sys.modules:  # torch.compile is in use: build the eager step now, outside any trace
            _eager_step()

    # -- construction helpers ------------------------------------------------------------
    def _set_ends(self) -> None:
        """Where each schedule ends in the Scheduler's progress (moved by a horizon change)."""
        # length 0 (a bare plateau multiplier) has no duration to run past: no end warning for it
        ends = [math.inf if not s.length else float(s.length) for s in self._schedules]
        if self._positions is not None:
            ends = [e - position + anchor for e, (anchor, position) in zip(ends, self._positions)]
        self._ends = ends
        self._first_end = end = min(ends)
        self._end = end * self._upe if (self._upe is not None and math.isfinite(end)) else end

    def _attach(self) -> None:
        """Count the optimizer's real updates with a step post-hook (removed when the Scheduler is collected).

        The hook holds only the counter, not the Scheduler, so it never keeps a Scheduler alive.
        """
        box = self._count

        def _on_update(opt: Any, args: Any, kwargs: Any) -> None:
            box[0] += 1

        handle = self.optimizer.register_step_post_hook(_on_update)
        weakref.finalize(self, handle.remove)
        # optimizer.load_state_dict replaces the param-group dicts (holding the saved values): write this
        # Scheduler's values into the new dicts at once, so the load order of optimizer and Scheduler is free
        me = weakref.ref(self)

        def _on_load(opt: Any) -> None:
            sched = me()
            if sched is not None:
                sched._rewrite()

        loaded = self.optimizer.register_load_state_dict_post_hook(_on_load)
        weakref.finalize(self, loaded.remove)

    def _rewrite(self) -> None:
        """Write the values for the current progress into the (new) group dicts (after optimizer.load_state_dict)."""
        self._hi = 0
        self._adopt_groups()
        self._write(self._values(self._n))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # copy.deepcopy / pickle: torch does not copy optimizer hooks, so count the copy's updates afresh
        self.__dict__.update(state)
        self._count = [self._count[0]]
        self._attach()

    def _register(self, name: str, spec: ScheduleSpec) -> list[int] | int:
        def index(s: Any, where: str) -> int:
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
            known = self._index.get(s)
            if known is None:
                known = self._index[s] = len(self._schedules)
                self._schedules.append(s)
            return known

        label = "schedule" if name == "lr" else f"hyper[{name!r}]"
        if isinstance(spec, (Schedule, str)):
            return index(spec, label)
        if isinstance(spec, (list, tuple)):
            n = len(self.optimizer.param_groups)
            if len(spec) != n:
                raise ValueError(
                    f"Scheduler: {label} has {len(spec)} schedules but the optimizer has {n} param "
                    "groups; give one schedule, or one per group"
                )
            return [index(s, f"{label}[{i}]") for i, s in enumerate(spec)]
        raise ValueError(
            f"Scheduler: {label} must be an lrkit Schedule, its text config (a str such as "
            f"'warmup(100) >> cosine(900)') or a list of them (one per param group), got {type(spec).__name__} "
            f"{spec!r}"
        )

    def _adopt_groups(self) -> None:
        """Capture base values of groups not seen before and (re)build the write plan."""
        groups = self.optimizer.param_groups
        for name in self._specs:
            bases = self._base[name]
            start = len(bases)
            if start < len(groups) and start > 0 and not isinstance(self._assign[name], int):
                raise ValueError(
                    f"Scheduler: a param group was added after construction, but {name!r} has one schedule "
                    "per group; build the Scheduler after add_param_group (or give one schedule for all groups)"
                )
            for g in range(start, len(groups)):
                bases.append(read(groups[g], name, g))
        if self._lr_scale is not None and len(self._lr_scale) != len(groups):
            raise ValueError(
                f"Scheduler: lr_scale has {len(self._lr_scale)} entries but the optimizer has "
                f"{len(groups)} param groups; give one multiplier per group "
                "(build the Scheduler after add_param_group)"
            )
        self._groups = groups
        self._ngroups = len(groups)
        targets = []
        for name, bases in self._base.items():
            assign = self._assign[name]
            key, index = key_path(name)
            for g, base in enumerate(bases):
                j = assign if isinstance(assign, int) else assign[g]
                scale = self._lr_scale[g] if (name == "lr" and self._lr_scale is not None) else 1.0
                factor = 0.0 if base == 0.0 else base * scale if name in self._relative else scale
                targets.append(Target(g, name, key, index, j, factor))
        self._targets = targets
        shift = self._cache.shift  # schedule j's values start at j << shift in the flat block (see _arm)
        self._plain = [
            (groups[t.group], t.key, t.schedule, t.factor, t.schedule << shift)
            for t in targets
            if is_plain(groups[t.group], t)
        ]
        self._other = [(groups[t.group], t) for t in targets if not is_plain(groups[t.group], t)]

    # -- the update clock ------------------------------------------------------------------
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
        was consumed), so call it once per update.

        Inside a ``torch.compile``'d function the step runs eagerly (a graph break, as torch's own
        schedulers get): traced, every new learning rate would be a new constant and a recompile.
        (``torch.compiler.is_dynamo_compiling``, half the cost of ``is_compiling``, where torch has it;
        called through its module on purpose: dynamo does not fold a module-level alias of it, and the
        step would be traced.) To compute the learning rate inside a fully compiled step, evaluate the
        schedule on a step tensor (docs/torch.md).
        """
        if torch.compiler.is_dynamo_compiling() if _DYNAMO_CHECK else torch.compiler.is_compiling():
            # calls step() again, eagerly: the check is then False
            eager = _EAGER[0] if _EAGER else _eager_step()
            return eager(self, metric, tokens, samples)  # type: ignore[no-any-return]
        n = self._count[0]
        if (
            self._lo <= n < self._hi
            and tokens is None
            and samples is None
            and self.optimizer.param_groups is self._groups
            and len(self._groups) == self._ngroups  # add_param_group appends to the same list
        ):
            # the fast path (armed by _arm): same block, same groups, nothing to check or warn about
            first, name = self._first
            if first[name] is self._last:
                if metric is None:
                    if self._clock is not None:  # a clock moves without updates: its values now, every call
                        self._n = n
                        self._write(self._clock_values())
                    elif n != self._n:
                        values, i = self._flat, n & self._mask
                        for group, key, _, factor, row in self._plain:
                            group[key] = factor * values[row + i]
                        self._last = first[name]
                        self._n = n
                    return None
                if self._metric_fast:
                    self._fast_metric(metric, n, first, name)
                    return None
        self._hi = 0  # disarmed until the general path below arms it again
        # whether ranks must agree (a metric, a clock): checked here, kept by the fast path until it is re-armed
        self._ranks = _DISTRIBUTED and dist.is_initialized()
        if self._unit is not None or tokens is not None or samples is not None:
            return _tokens.step(self, metric, tokens, samples)
        if self._by_update:
            n = self._count[0]
            if n == self._n and metric is None and self._clock is None:  # no new update: nothing changes
                if n == 0:
                    _guards.idle_call(self)
                return
            if self._calls[0] < EPOCH_CALLS:
                _guards.check_epochs(self, n)
        else:
            n = self._n + 1
        if self._plain and self._plain[0][0][self._plain[0][1]] is not self._last:
            _guards.check_foreign_write(self)
        if metric is not None:
            self._observe(metric)
        elif self._active and not self._fed:
            _guards.unfed_step(self, self._progress(n))
        self._n = n
        if self._zero_check:
            _guards.warn_all_zero(self)
        if self.optimizer.param_groups is not self._groups or len(self._groups) != self._ngroups:
            self._adopt_groups()
        self._write(self._clock_values() if self._clock is not None else self._values(n))
        if self._by_update:
            self._arm(n)
        return None

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
        _tokens.add(self, "count", tokens, samples)

    def _arm(self, n: int) -> None:
        """Let the next updates of this block take the fast path at the top of :meth:`step`, when nothing
        else can happen there: no epoch check, all-zero check or unfed-plateau warning pending, no
        end warning due in the block, every target a plain number in a group dict."""
        if self._other or not self._plain or self._calls[0] < EPOCH_CALLS or self._zero_check:
            return
        if (self._active and not self._fed) or not self._cache.blocks:  # the unfed count; many schedules: no block
            return
        self._first = (self._plain[0][0], self._plain[0][1])
        single = self._active[0][1].single() if len(self._active) == 1 else None
        self._direct = None if single is None else (*single, self._active[0][1], self._active[0][0])
        if self._clock is not None:  # no block: the values are the clock's, read on every call
            self._lo, self._hi = n, sys.maxsize
            return
        lo = n & ~self._cache.mask
        hi = lo + self._cache.mask + 1
        if not self._warned_end and math.isfinite(self._end):
            hi = min(hi, math.floor(self._end) + 1)  # the first update past the end takes the general path
        # this block's values as Python floats without a numpy call: a flat view, schedule j's from j << shift
        cache = self._cache
        self._flat, self._mask = memoryview(cache.table.reshape(-1)), cache.mask
        self._lo, self._hi = lo, hi

    def _values(self, n: int) -> list[float]:
        """Each distinct schedule's value at progress ``n`` (tables), or now (a clock: ``math``, per step)."""
        if self._unit is not None:  # a token/sample count: fractional units of the schedule, ``math`` per step
            if n > self._end and not self._warned_end:
                _guards.warn_end(self, n, stacklevel=5)  # step -> _step_units -> _values -> here
            return self._cache.scalar(float(n))
        if self._clock is not None:
            return self._clock_values()
        if n > self._end and not self._warned_end:
            _guards.warn_end(self, n)
        return self._cache.at(n)

    def _clock_values(self) -> list[float]:
        """Each distinct schedule's value now, with a clock (``math``, per step; one pass, no comprehension)."""
        seconds, updates = self._clock_reading()
        progress = self._clock.progress
        values: list[float] = []
        late = -math.inf  # the furthest progress past a schedule's end
        for function, schedule, end in zip(self._cache.functions(), self._schedules, self._ends):
            p = progress(schedule, updates, seconds)
            if p > end and p > late:
                late = p
            values.append(function(p))
        if late > -math.inf and not self._warned_end:
            _guards.warn_end(self, late)
        return values

    def _write(self, values: list[float]) -> None:
        for group, key, j, factor, _ in self._plain:
            group[key] = factor * values[j]
        for group, target in self._other:
            write(group, target, target.factor * values[target.schedule])
        if self._plain:
            self._last = self._plain[0][0][self._plain[0][1]]

    def _progress(self, n: float) -> float:
        return n / self._upe if self._upe is not None else float(n)

    def _clock_reading(self) -> tuple[float, float]:
        """(seconds, updates) at this instant: the seconds agreed across ranks, the updates as progress."""
        clock = self._clock
        seconds = float(clock.elapsed())
        if self._ranks:
            seconds = agree_elapsed(seconds, getattr(clock, "agree", "rank0"))
        return seconds, self._n / self._upe if self._upe is not None else float(self._n)

    def _clock_progress(self) -> list[float]:
        """Each schedule's progress at this instant."""
        seconds, updates = self._clock_reading()
        return [self._clock.progress(s, updates, seconds) for s in self._schedules]

    def _observe(self, metric: Any, at: float | None = None) -> None:
        if not self._active:
            if isinstance(metric, numbers.Integral) and not isinstance(metric, bool):
                raise ValueError(
                    f"Scheduler.step({metric!r}): lrkit's Scheduler takes no epoch argument (torch deprecated "
                    "step(epoch)): progress is counted from optimizer updates, never set. Call step() with no "
                    "argument; to step once per epoch build Scheduler(..., advance='call')"
                )
            raise ValueError(
                f"Scheduler.step(metric={metric!r}): the schedule has no plateau(...) to feed; "
                "call step() without a metric, or put a plateau in the schedule"
            )
        self._fed = True
        value = float(reduce_metric(metric))
        where = self._clock_progress() if self._clock is not None else None
        if at is None:
            at = self._progress(self._count[0] if self._by_update else self._n + 1)
        for j, controller in self._active:
            if controller.observe(value, at if where is None else where[j]):
                self._cache.update(j, controller)

    def _fast_metric(self, metric: Any, n: int, first: dict[str, Any], name: str) -> None:
        """``step(metric)`` on the fast path: the plateau observes the metric, the block's values are written."""
        direct = self._direct
        if direct is None:
            changed = self._feed(metric, n / self._upe if self._upe is not None else n)
        else:  # one plateau, listening at every step: its rule, directly
            state, node, controller, j = direct
            if type(metric) is not float:
                metric = _number(metric)
            if self._ranks:  # a collective: every rank calls it, in the same order
                metric = reduce_metric(metric)
            changed = state.observe(node, metric)
            if changed:
                controller.touched()
                self._cache.update(j, controller)
        if changed and self._cache.block < 0:  # a resolved (not scaled) schedule: a new block, a full write
            self._n = n
            self._write(self._values(n))
            self._arm(n)
        elif n != self._n or changed:
            values, i = self._flat, n & self._mask
            for group, key, _, factor, row in self._plain:
                group[key] = factor * values[row + i]
            self._last = first[name]
            self._n = n

    def _feed(self, metric: Any, at: float) -> bool:
        """The fast path's metric: each active plateau observes it at progress ``at``; ``True`` if a value changed."""
        value = metric if type(metric) is float else _number(metric)
        if self._ranks:  # a collective: every rank calls it, in the same order
            value = float(reduce_metric(value))
        changed = False
        for j, controller in self._active:
            if controller.observe(value, at):
                self._cache.update(j, controller)
                changed = True
        return changed

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

        A state saved for different schedules loads only when ``horizon`` names the rule that continues
        the run on this Scheduler's schedules (:mod:`lrkit.reactive.horizon`): a checkpoint at progress
        ``s`` standing at position ``p`` of a saved schedule continues at ``q = rule(old, new, p)``, and
        ``lr(t) = new(q + (t - s))`` at every later update ``t``:

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
        Without ``horizon=`` the rule given at construction, ``Scheduler(..., resume=RULE)``, applies
        (how Lightning's ``ckpt_path=`` and HF Trainer's ``resume_from_checkpoint=`` resume).
        """
        _checkpoint.load_state_dict(self, state_dict, horizon)

    # -- reading -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = [f"{name}={value!r}" for name, value in self.schedules.items()]
        return f"Scheduler({', '.join(parts)}, updates={self._n})"

    @property
    def updates(self) -> int:
        """Progress count whose values are in the groups (updates, or calls with ``advance="call"``)."""
        return self._n

    @property
    def last_epoch(self) -> int:  # type: ignore[override]
        """Torch's name for :attr:`updates` (read-only: progress is counted, never set)."""
        return self._n

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
        return list(self._base["lr"])

    @property
    def schedules(self) -> dict[str, Schedule | list[Schedule]]:
        """The schedule (or per-group schedules) of each key, as given."""
        out: dict[str, Schedule | list[Schedule]] = {}
        for name, assign in self._assign.items():
            out[name] = self._schedules[assign] if isinstance(assign, int) else [self._schedules[j] for j in assign]
        return out

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
        if key not in self._base:
            raise KeyError(f"Scheduler.value_at: {key!r} is not scheduled; scheduled keys are {sorted(self._base)}")
        if isinstance(update, bool) or not isinstance(update, numbers.Real) or not update >= 0:
            raise ValueError(f"Scheduler.value_at: update must be a number >= 0, got {update!r}")
        if self._clock is None and self._unit is None and float(update).is_integer():
            values = self._cache.copy().at(int(update))
        else:
            values = self._cache.scalar(float(update))
        return [t.factor * values[t.schedule] for t in self._targets if t.name == key]

def _number(metric: Any) -> float:
    try:
        return float(metric)  # numbers, numpy scalars, 0-d tensors
    except (TypeError, ValueError):
        raise ValueError(
            f"Scheduler.step(metric=...): metric must be a number (or a 0-d tensor), got {metric!r}"
        ) from None


def _resume_rule(rule: Any) -> Any:
    """The ``resume=`` horizon rule, checked at construction (a name in :data:`lrkit.horizon.RULES` or a function)."""
    from lrkit.reactive.horizon import RULES

    if rule is None or callable(rule) or (isinstance(rule, str) and rule in RULES):
        return rule
    raise ValueError(
        f"Scheduler: resume must be a horizon rule, one of {', '.join(map(repr, RULES))}, or a function "
        f"rule(old, new, position) -> position, got {rule!r}"
    )


def _reactive(schedule: Schedule) -> bool:
    return any(isinstance(node, Plateau) for node in schedule.walk())

