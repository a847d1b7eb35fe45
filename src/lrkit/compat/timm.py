"""timm schedulers (``timm.scheduler``) under their own names, as lrkit schedules.

Each constructor takes timm's parameter names and defaults, with the optimizer replaced by
its learning rate ``lr`` (timm's ``base_values``), and returns an lrkit schedule of
**absolute** learning rates: ``value(t)`` is what ``scheduler.step(t)`` (or
``step_update(t)``) writes into ``group["lr"]``. timm's ``t`` is whatever the caller
counts (epochs with ``t_in_epochs=True``, updates otherwise); lrkit's step is the same
number, so ``t_in_epochs`` and ``initialize`` are not parameters here.

>>> s = CosineLRScheduler(0.1, t_initial=100, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4)
>>> round(s(0), 12), round(s(100), 12)
(0.0001, 0.001)

timm behaviours reproduced (not "fixed"):

* With ``cycle_mul != 1`` timm finds the cycle with a floating-point ``log``; at an exact
  cycle start it can land in the previous cycle (``t_initial=1, cycle_mul=3``: step 121
  ends cycle 4 at ``lr_min`` instead of starting cycle 5 at the peak). ``timm_cycles`` reproduces timm's index at
  every cycle start; the native ``sgdr`` restarts exactly.
* Without ``warmup_prefix`` the warmup overlays the first ``warmup_t`` steps of the
  cycle (the cosine is at ``t``, not ``t - warmup_t``, afterwards); ``TanhLRScheduler``
  then warms up to the tanh value at ``warmup_t``, not to ``lr``.
* ``StepLRScheduler`` with a fractional ``decay_t`` uses Python's exact ``t // decay_t``
  (``11 // 1.1 == 9``), reproduced by ``timm_step``.
* ``MultiStepLRScheduler`` decays one step early: at ``t = m - 1`` for a milestone ``m``
  (``bisect_right(decay_t, t + 1)``).
* Noise (``noise_range_t``) is drawn from ``torch.Generator`` seeded ``noise_seed + t``;
  ``timm_noise`` imports torch (lazily, when evaluated) to draw the same numbers. The
  native ``noise`` combinator uses lrkit's own counter-based generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit.compat._common import arg, sequence, shifted
from lrkit.compat._common import lr as _lr
from lrkit.core import _validate as v
from lrkit.core.backend import NUMPY
from lrkit.core.families import Anneal, Constant, PiecewiseConstant, StepDecay
from lrkit.core.routing import Route
from lrkit.core.schedule import NumpyForm, Schedule, child, param, value

__all__ = [
    "CosineLRScheduler",
    "MultiStepLRScheduler",
    "PolyLRScheduler",
    "StepLRScheduler",
    "TanhLRScheduler",
    "TimmCycles",
    "TimmNoise",
    "TimmStep",
]


@value
class TimmCycles(NumpyForm):
    """timm's cycle arithmetic for its cosine, poly and tanh schedulers (absolute values).

    Cycle ``i`` lasts ``t_initial * cycle_mul**i``, starts at ``t_initial * (1 - mul**i) / (1 - mul)``
    and peaks at ``peak * cycle_decay**i``; after ``cycle_limit`` cycles the value is ``lr_min``.
    With ``x = t_curr**k / t_i**k`` inside a cycle: ``cosine``: ``lr_min + (top - lr_min)(1 + cos(pi x))/2``;
    ``poly``: ``lr_min + (top - lr_min)(1 - x)**power``; ``tanh`` (``k`` unused):
    ``lr_min + (top - lr_min)(1 - tanh(lb (1 - r) + ub r))/2`` with ``r = t_curr / t_i``.
    The cycle index is timm's (a floating-point log when ``cycle_mul != 1``), also at exact starts.
    The length is the end of the last cycle, ``t_initial * cycle_limit`` (or
    ``t_initial * (cycle_mul**cycle_limit - 1) / (cycle_mul - 1)``): timm's ``get_cycle_length()``,
    which floors it to an integer.

    >>> s = timm_cycles(1, cycle_mul=3.0, cycle_limit=10)
    >>> s(40), s(121), sgdr(1, mult=3)(121)
    (1.0, 0.0, 1.0)
    """

    name = "timm_cycles"
    t_initial: float = param(v.length)
    shape: str = param(v.choice_of("cosine", "poly", "tanh"), default="cosine")
    peak: float = param(v.non_negative, default=1.0)
    lr_min: float = param(v.non_negative, default=0.0)
    cycle_mul: float = param(v.positive, default=1.0)
    cycle_decay: float = param(v.non_negative, default=1.0)
    cycle_limit: int = param(v.integer, default=1)
    k_decay: float = param(v.positive, default=1.0)
    power: float = param(v.non_negative, default=0.5)  # 0: each cycle holds its peak (timm's 0 ** 0 is 1)
    lb: float = param(v.number, default=-7.0)
    ub: float = param(v.number, default=3.0)

    def _setup(self) -> float | None:
        """Where the last cycle ends (timm's ``get_cycle_length`` before its ``floor``), if the value is
        ``lr_min`` there (finite: it holds ``lr_min`` from then on); ``None`` when that step overflows or
        timm's own index keeps it in the last cycle."""
        if self.shape == "tanh" and not self.lb < self.ub:
            raise ValueError(
                f"{self.name}: lb must be < ub, got lb={self.lb!r}, ub={self.ub!r}; swap them (tanh runs from lb to ub)"
            )
        mul, t0, n = float(self.cycle_mul), float(self.t_initial), self.cycle_limit
        try:
            end = t0 * n if mul == 1 else t0 * (mul**n - 1) / (mul - 1)
        except OverflowError:
            return None
        if not math.isfinite(end) or float(self._np_eval(np.array([end]))[0]) != self.lr_min:
            return None
        return int(end) if float(end).is_integer() else end

    def _index(self, t: np.ndarray) -> np.ndarray:
        """timm's cycle index: exact between cycle starts, timm's own log at each start."""
        mul, t0 = float(self.cycle_mul), float(self.t_initial)
        if mul == 1:
            return np.floor_divide(t, t0)
        tmax = float(t.max()) if t.size else 0.0
        starts = [0.0]
        while True:
            i = len(starts)
            start = (1 - mul**i) / (1 - mul) * t0
            if start > tmax or i > 10_000 or start <= starts[-1]:
                break
            starts.append(start)
        edges = np.asarray(starts)
        index = np.searchsorted(edges, t, side="right") - 1
        for i, start in enumerate(starts[1:], start=1):  # timm's log at each exact start (one per cycle)
            timm_i = math.floor(math.log(1 - start / t0 * (1 - mul), mul))
            if timm_i != i:
                index = np.where(t == start, timm_i, index)
        return index.astype(np.float64)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        mul, t0 = float(self.cycle_mul), float(self.t_initial)
        i = self._index(t)
        if mul == 1:
            t_i = np.full(t.shape, t0)
            t_curr = t - t0 * i
        else:
            t_i = np.power(mul, i) * t0
            t_curr = t - (1 - np.power(mul, i)) / (1 - mul) * t0
        top = self.peak * np.power(float(self.cycle_decay), i)
        low = self.lr_min
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.shape == "tanh":
                r = t_curr / t_i
                value = low + 0.5 * (top - low) * (1 - np.tanh(self.lb * (1.0 - r) + self.ub * r))
            else:
                k = self.k_decay
                x = np.power(t_curr, k) / np.power(t_i, k)
                if self.shape == "cosine":
                    value = low + 0.5 * (top - low) * (1 + np.cos(np.pi * x))
                else:
                    value = low + (top - low) * np.power(1 - x, self.power)
        return np.where(i < self.cycle_limit, value, low)


@value
class TimmStep(NumpyForm):
    """timm's step decay ``rate ** (t // every)`` with Python's exact floor division.

    For a fractional ``every`` this differs from ``floor(t / every)`` where the quotient rounds
    up to a whole number: ``11 // 1.1 == 9.0`` (1.1 is stored as 1.1000000000000000888), while
    ``floor(11 / 1.1) == 10``. For whole ``every`` it equals ``step_decay(every, decay=rate)``.

    >>> timm_step(1.1, 0.5)(11), step_decay(1.1, decay=0.5)(11)
    (0.001953125, 0.0009765625)
    """

    name = "timm_step"
    every: float = param(v.length)
    rate: float = param(v.factor, default=1.0)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        return np.power(float(self.rate), np.floor_divide(t, float(self.every)))


@value
class TimmNoise(NumpyForm):
    """timm's learning-rate noise: ``f(t) = s(t) * (1 + n(t))`` for ``start <= t < end``.

    ``n(t)`` is drawn from a ``torch.Generator`` seeded ``seed + floor(t)``: ``normal``:
    ``std * randn()``, redrawn until ``|n| < pct``; ``uniform``: ``2 (rand() - 0.5) pct``.
    Evaluating it imports torch (one generator per distinct step in range, so it is slower
    than lrkit's own ``noise``, which needs no torch).

    >>> s = timm_noise(constant(1.0), 0, pct=0.5)
    >>> s(3) == s(3), 0.5 < s(3) < 1.5
    (True, True)
    """

    name = "timm_noise"
    schedule: Schedule = param(child)
    start: float = param(v.rate)
    end: float | None = param(v.optional(v.number), default=None)
    pct: float = param(v.positive, default=0.67)
    std: float = param(v.positive, default=1.0)
    seed: int = param(v.integer_from(0, v.MAX_SEED), default=42)
    kind: str = param(v.choice_of("normal", "uniform"), default="normal")

    def _setup(self) -> float | None:
        self._set_routes(Route(self.schedule))
        # finite only when the noise stops by the schedule's end (after it, timm keeps drawing noise)
        length, end = self.schedule.length, self.end
        return length if length is not None and end is not None and end <= length else None

    def _draw(self, step: int) -> float:
        import torch

        g = torch.Generator()
        g.manual_seed(self.seed + step)
        if self.kind == "normal":
            while True:
                noise = torch.randn(1, generator=g).item() * self.std
                if abs(noise) < self.pct:
                    return float(noise)
        return float(2 * (torch.rand(1, generator=g).item() - 0.5) * self.pct)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        base = self.schedule._at(t, NUMPY)
        active = t >= self.start
        if self.end is not None:
            active &= t < self.end
        if not active.any():
            return base
        steps = np.floor(t[active]).astype(np.int64)
        unique, inverse = np.unique(steps, return_inverse=True)
        noise = np.asarray([self._draw(int(s)) for s in unique])[inverse]
        out = base.copy()
        out[active] = base[active] + base[active] * noise
        return out


def _warm(
    who: str, lr: float, warmup_t: Any, warmup_lr_init: float, body: Schedule, prefix: bool,
    target: float | None = None,
) -> Schedule:
    prefix = v.flag(who, "warmup_prefix", prefix)
    warmup_t = v.non_negative(who, "warmup_t", warmup_t)
    if not warmup_t:
        return body
    init = v.non_negative(who, "warmup_lr_init", warmup_lr_init)
    ramp = Anneal(warmup_t, init, lr if target is None else target, "linear")
    return sequence(ramp, body if prefix else shifted(body, warmup_t))


def _noisy(
    who: str, schedule: Schedule, noise_range_t: Any, noise_pct: float, noise_std: float, noise_seed: int,
    noise_type: str = "normal",
) -> Schedule:
    if noise_range_t is None:
        return schedule
    noise_pct = arg(who, "noise_pct", noise_pct, 0, open_low=True, fix="timm redraws noise until |noise| < noise_pct")
    noise_std = arg(who, "noise_std", noise_std, 0)
    noise_seed = v.integer(who, "noise_seed", noise_seed, minimum=0, maximum=v.MAX_SEED)
    noise_type = v.choice(who, "noise_type", noise_type, ("normal", "uniform"))
    if noise_std == 0 and noise_type == "normal":  # timm draws 0 * randn(): no noise
        return schedule
    if isinstance(noise_range_t, (list, tuple)):
        if len(noise_range_t) != 2:
            raise ValueError(f"{who}: noise_range_t must be a step or [start, end), got {noise_range_t!r}")
        start, end = arg(who, "noise_range_t[0]", noise_range_t[0]), arg(who, "noise_range_t[1]", noise_range_t[1])
    else:
        start, end = arg(who, "noise_range_t", noise_range_t), None
    return TimmNoise(schedule, start, end, pct=noise_pct, std=noise_std, seed=noise_seed, kind=noise_type)


def _cycles(
    who: str,
    shape: str,
    lr: float,
    t_initial: float,
    lr_min: float,
    cycle_mul: float,
    cycle_decay: float,
    cycle_limit: int,
    warmup_t: int,
    warmup_lr_init: float,
    warmup_prefix: bool,
    noise: tuple[Any, float, float, int],
    **shape_params: float,
) -> Schedule:
    lr = _lr(who, "lr", lr)
    t_initial = v.length(who, "t_initial", t_initial)
    lr_min = _lr(who, "lr_min", lr_min, zero=True)
    cycle_mul = arg(who, "cycle_mul", cycle_mul, 0, open_low=True, fix="cycle i lasts t_initial * cycle_mul ** i")
    cycle_decay = arg(who, "cycle_decay", cycle_decay, 0, fix="cycle i peaks at lr * cycle_decay ** i")
    cycle_limit = v.integer(who, "cycle_limit", cycle_limit, minimum=0)
    if "k_decay" in shape_params:
        arg(who, "k_decay", shape_params["k_decay"], 0, open_low=True, fix="timm's t ** k_decay / t_i ** k_decay")
    if "power" in shape_params:
        arg(who, "power", shape_params["power"], 0, fix="timm's (1 - x) ** power is infinite at a cycle's end")
    if "lb" in shape_params and not arg(who, "lb", shape_params["lb"]) < arg(who, "ub", shape_params["ub"]):
        raise ValueError(
            f"{who}: lb must be < ub, got lb={shape_params['lb']!r}, ub={shape_params['ub']!r}; swap them (timm "
            "asserts lb < ub: the tanh runs from lb to ub)"
        )
    body: Schedule = Constant(lr_min) if cycle_limit == 0 else TimmCycles(  # no cycle: timm's lr_min throughout
        t_initial, shape, peak=lr, lr_min=lr_min, cycle_mul=cycle_mul, cycle_decay=cycle_decay,
        cycle_limit=cycle_limit, **shape_params,
    )
    target = None
    if shape == "tanh" and not warmup_prefix and warmup_t:
        target = body(warmup_t)  # timm's tanh warms up to its own value at warmup_t
    return _noisy(who, _warm(who, lr, warmup_t, warmup_lr_init, body, warmup_prefix, target), *noise)


def CosineLRScheduler(
    lr: float, t_initial: int, lr_min: float = 0.0, cycle_mul: float = 1.0, cycle_decay: float = 1.0,
    cycle_limit: int = 1, warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
    noise_range_t: int | Sequence[int] | None = None, noise_pct: float = 0.67, noise_std: float = 1.0,
    noise_seed: int = 42, k_decay: float = 1.0,
) -> Schedule:
    """``CosineLRScheduler``: SGDR-style cosine cycles with timm's warmup and noise options.

    Native (``k_decay=1``, ``warmup_prefix=True``, no noise): ``warmup(warmup_t, start=warmup_lr_init/lr)
    >> sgdr(t_initial, mult=cycle_mul, decay=cycle_decay, floor=lr_min/lr, cycles=cycle_limit) * lr``.

    >>> round(CosineLRScheduler(1.0, t_initial=10)(5), 12)
    0.5
    >>> CosineLRScheduler(1.0, t_initial=100, warmup_t=10, warmup_prefix=True).length   # get_cycle_length()
    110
    """
    return _cycles(
        "CosineLRScheduler", "cosine", lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, warmup_t,
        warmup_lr_init, warmup_prefix, (noise_range_t, noise_pct, noise_std, noise_seed), k_decay=k_decay,
    )


def PolyLRScheduler(
    lr: float, t_initial: int, power: float = 0.5, lr_min: float = 0.0, cycle_mul: float = 1.0,
    cycle_decay: float = 1.0, cycle_limit: int = 1, warmup_t: int = 0, warmup_lr_init: float = 0.0,
    warmup_prefix: bool = False, noise_range_t: int | Sequence[int] | None = None, noise_pct: float = 0.67,
    noise_std: float = 1.0, noise_seed: int = 42, k_decay: float = 1.0,
) -> Schedule:
    """``PolyLRScheduler``: ``lr_min + (top - lr_min) * (1 - t_curr**k / t_i**k) ** power`` per cycle.

    Native (one cycle): ``polynomial(t_initial, power=power, start=lr, end=lr_min)``.

    >>> PolyLRScheduler(1.0, t_initial=4, power=1.0)(1)
    0.75
    """
    return _cycles(
        "PolyLRScheduler", "poly", lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, warmup_t,
        warmup_lr_init, warmup_prefix, (noise_range_t, noise_pct, noise_std, noise_seed), k_decay=k_decay,
        power=power,
    )


def TanhLRScheduler(
    lr: float, t_initial: int, lb: float = -7.0, ub: float = 3.0, lr_min: float = 0.0, cycle_mul: float = 1.0,
    cycle_decay: float = 1.0, cycle_limit: int = 1, warmup_t: int = 0, warmup_lr_init: float = 0.0,
    warmup_prefix: bool = False, noise_range_t: int | Sequence[int] | None = None, noise_pct: float = 0.67,
    noise_std: float = 1.0, noise_seed: int = 42,
) -> Schedule:
    """``TanhLRScheduler``: ``lr_min + (top - lr_min) * (1 - tanh(lb (1 - r) + ub r)) / 2`` per cycle.

    Native (one cycle): ``tanh_decay(t_initial, floor=lr_min/lr, lower=lb, upper=ub) * lr``.

    >>> round(TanhLRScheduler(1.0, t_initial=10)(0), 6)
    0.999999
    """
    return _cycles(
        "TanhLRScheduler", "tanh", lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, warmup_t,
        warmup_lr_init, warmup_prefix, (noise_range_t, noise_pct, noise_std, noise_seed), lb=lb, ub=ub,
    )


def StepLRScheduler(
    lr: float, decay_t: float, decay_rate: float = 1.0, warmup_t: int = 0, warmup_lr_init: float = 0.0,
    warmup_prefix: bool = True, noise_range_t: int | Sequence[int] | None = None, noise_pct: float = 0.67,
    noise_std: float = 1.0, noise_seed: int = 42,
) -> Schedule:
    """``StepLRScheduler``: ``lr * decay_rate ** (t // decay_t)`` after the warmup.

    Native: ``warmup(warmup_t, start=warmup_lr_init/lr) >> step_decay(decay_t, decay=decay_rate) * lr``.

    >>> StepLRScheduler(1.0, decay_t=2, decay_rate=0.5)(4)
    0.25
    """
    who = "StepLRScheduler"
    lr = _lr(who, "lr", lr)
    every = v.length(who, "decay_t", decay_t)
    rate = v.factor(who, "decay_rate", decay_rate)
    body = (StepDecay(every, decay=rate) if float(every).is_integer() else TimmStep(every, rate)) * lr
    noise = (noise_range_t, noise_pct, noise_std, noise_seed)
    return _noisy(who, _warm(who, lr, warmup_t, warmup_lr_init, body, warmup_prefix), *noise)


def MultiStepLRScheduler(
    lr: float, decay_t: Sequence[int], decay_rate: float = 1.0, warmup_t: int = 0, warmup_lr_init: float = 0.0,
    warmup_prefix: bool = True, noise_range_t: int | Sequence[int] | None = None, noise_pct: float = 0.67,
    noise_std: float = 1.0, noise_seed: int = 42,
) -> Schedule:
    """``MultiStepLRScheduler``: ``lr * decay_rate ** #{m in decay_t : m <= t + 1}`` (one step early).

    Native (decaying at the milestones themselves): ``multistep(decay_t, decay=decay_rate) * lr``.

    >>> s = MultiStepLRScheduler(1.0, [10], decay_rate=0.5)
    >>> s(8), s(9)
    (1.0, 0.5)
    """
    who = "MultiStepLRScheduler"
    lr = _lr(who, "lr", lr)
    rate = v.non_negative(who, "decay_rate", decay_rate)
    bounds: list[float] = []
    values = [lr]
    for i, m in enumerate(sorted(v.number(who, f"decay_t[{j}]", x) for j, x in enumerate(decay_t))):
        del i
        if m - 1 <= 0:
            values[-1] *= rate
        elif bounds and bounds[-1] == m - 1:
            values[-1] *= rate
        else:
            bounds.append(m - 1)
            values.append(values[-1] * rate)
    body: Schedule = PiecewiseConstant(bounds, values)
    noise = (noise_range_t, noise_pct, noise_std, noise_seed)
    return _noisy(who, _warm(who, lr, warmup_t, warmup_lr_init, body, warmup_prefix), *noise)
