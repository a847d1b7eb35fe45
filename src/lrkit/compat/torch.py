"""PyTorch ``torch.optim.lr_scheduler`` under its own names and parameter names.

Each constructor takes the peer's parameters and defaults, with the optimizer replaced
by its learning rate ``lr`` (the group's ``initial_lr``), and returns an ordinary lrkit
schedule of **absolute** learning rates: ``value(t)`` is the learning rate the peer
leaves in ``group["lr"]`` after ``t`` calls of ``scheduler.step()`` (``t = 0`` is the
value right after construction). Nothing here imports torch.

>>> s = StepLR(0.1, step_size=30, gamma=0.5)
>>> s
step_decay(30, decay=0.5) * 0.1
>>> s(29), s(30)
(0.1, 0.05)

Known torch behaviours reproduced (not "fixed"):

* ``CosineAnnealingLR`` does not stop at ``T_max``: its recursion keeps following the
  cosine, so the learning rate climbs back to ``lr`` over the next ``T_max`` steps and
  repeats with period ``2 * T_max``. The compat schedule does the same; the native
  ``cosine(T_max, floor=...)`` holds the floor after the end.
* ``CosineAnnealingWarmRestarts`` is reproduced as driven by ``step()`` (integer
  ``T_cur``, exact restarts). Its ``step(epoch)`` path locates the cycle with a
  floating-point ``log``, which can put a restart one step late at exact cycle
  boundaries; ``step(epoch)`` is deprecated and not reproduced.
* ``SequentialLR`` restarts each scheduler at its milestone from the group's
  ``initial_lr`` (``_update_lr(0)``): each piece runs on its local step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lrkit.compat._common import arg, sequence, take_exact, whole
from lrkit.compat._common import lr as _lr
from lrkit.core import _validate as v
from lrkit.core.combinators import Repeat
from lrkit.core.families import (
    SGDR,
    Anneal,
    Constant,
    Cosine,
    Cyclic,
    Exponential,
    Linear,
    PiecewiseConstant,
    Polynomial,
    StepDecay,
)
from lrkit.core.schedule import Schedule

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "CyclicMomentum",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "OneCycleMomentum",
    "PolynomialLR",
    "SequentialLR",
    "StepLR",
]


def StepLR(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``torch.optim.lr_scheduler.StepLR``: ``lr * gamma ** (t // step_size)``.

    Native: ``step_decay(step_size, decay=gamma) * lr``.

    >>> StepLR(1.0, 2)(5)    # 0.1 ** 2, as torch's closed form gives it
    0.010000000000000002
    """
    lr = _lr("StepLR", "lr", lr)
    step_size = whole("StepLR", "step_size", step_size)
    return StepDecay(step_size, decay=v.factor("StepLR", "gamma", gamma)) * lr


def MultiStepLR(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """``MultiStepLR``: ``lr * gamma ** (number of milestones <= t)``; a repeated milestone counts twice.

    Native: ``multistep(milestones, decay=gamma) * lr`` (distinct milestones).

    >>> MultiStepLR(1.0, [2, 4], gamma=0.5)(4)
    0.25
    """
    who = "MultiStepLR"
    lr = _lr(who, "lr", lr)
    counts = Counter(whole(who, f"milestones[{i}]", m) for i, m in enumerate(milestones))
    if not counts:
        raise ValueError(f"{who}: milestones must not be empty; give the steps where the learning rate drops")
    gamma = v.factor(who, "gamma", gamma)
    if all(c == 1 for c in counts.values()):
        from lrkit.core.families import MultiStep

        return MultiStep(sorted(counts), decay=gamma) * lr
    bounds = sorted(counts)
    values, k = [1.0], 0
    for b in bounds:
        k += counts[b]
        values.append(gamma**k)
    return PiecewiseConstant(bounds, values) * lr


def ConstantLR(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> Schedule:
    """``ConstantLR``: ``lr * factor`` for ``t < total_iters``, then ``lr``.

    Native: ``piecewise_constant([total_iters], [factor, 1.0]) * lr``.

    >>> s = ConstantLR(1.0, factor=0.5, total_iters=2)
    >>> s(1), s(2)
    (0.5, 1.0)
    """
    who = "ConstantLR"
    lr = _lr(who, "lr", lr)
    factor = arg(who, "factor", factor, 0, 1, open_low=True,
                 fix="it multiplies lr until total_iters; torch accepts 0 but then divides by it at total_iters")
    total_iters = whole(who, "total_iters", total_iters)
    return PiecewiseConstant([total_iters], [factor, 1.0]) * lr


def LinearLR(lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5) -> Schedule:
    """``LinearLR``: ``lr * (start + (end - start) * min(t, total_iters) / total_iters)``.

    Native: ``linear(total_iters, start=start_factor, end=end_factor) * lr``.

    >>> LinearLR(1.0, start_factor=0.5, total_iters=2)(1)
    0.75
    """
    who = "LinearLR"
    lr = _lr(who, "lr", lr)
    start_factor = arg(who, "start_factor", start_factor, 0, 1, open_low=True, fix="it multiplies lr at step 0")
    end_factor = arg(who, "end_factor", end_factor, 0, 1, fix="it multiplies lr from total_iters on")
    total_iters = whole(who, "total_iters", total_iters)
    return Linear(total_iters, start=start_factor, end=end_factor) * lr


def ExponentialLR(lr: float, gamma: float) -> Schedule:
    """``ExponentialLR``: ``lr * gamma ** t``.  Native: ``exponential(gamma) * lr``.

    >>> ExponentialLR(1.0, 0.5)(3)
    0.125
    """
    lr = _lr("ExponentialLR", "lr", lr)
    return Exponential(v.factor("ExponentialLR", "gamma", gamma)) * lr


def PolynomialLR(lr: float, total_iters: int = 5, power: float = 1.0) -> Schedule:
    """``PolynomialLR``: ``lr * (1 - min(t, total_iters) / total_iters) ** power``.

    Native: ``polynomial(total_iters, power=power) * lr``.

    >>> PolynomialLR(1.0, total_iters=4, power=2.0)(2)
    0.25
    """
    who = "PolynomialLR"
    lr = _lr(who, "lr", lr)
    total_iters = whole(who, "total_iters", total_iters)
    power = arg(who, "power", power, 0, fix="torch's (1 - t / total_iters) ** power is infinite at the end")
    if power == 0:  # torch's factor is 1 at every step
        return Constant(lr)
    return Polynomial(total_iters, power=power) * lr


def _floor_ratio(who: str, lr: float, eta_min: float) -> float:
    eta_min = v.non_negative(who, "eta_min", eta_min)
    if eta_min > lr:
        raise ValueError(f"{who}: eta_min must be <= lr, got eta_min={eta_min!r} > lr={lr!r}")
    return eta_min / lr


def CosineAnnealingLR(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """``CosineAnnealingLR`` as driven by ``step()``: a cosine that keeps going past ``T_max``.

    ``eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2`` for every ``t``: torch's
    recursion does not stop at ``T_max`` but climbs back to ``lr`` at ``2 * T_max``
    and repeats. With ``eta_min > lr`` the same formula anneals *up* to ``eta_min`` (as torch
    does for a group whose lr is below ``eta_min``). Native (stopping at the floor):
    ``cosine(T_max, floor=eta_min/lr) * lr``; upwards: ``anneal(T_max, 1.0, eta_min/lr) * lr``.

    >>> s = CosineAnnealingLR(1.0, T_max=10)
    >>> s(10), s(20)
    (0.0, 1.0)
    >>> CosineAnnealingLR(0.05, T_max=5, eta_min=0.1)(5)    # eta_min > lr: up to eta_min
    0.1
    """
    who = "CosineAnnealingLR"
    lr = _lr(who, "lr", lr)
    T_max = whole(who, "T_max", T_max)
    eta_min = v.non_negative(who, "eta_min", eta_min)
    floor = eta_min / lr
    # eta_min > lr: torch's formula anneals *up* to eta_min (a cosine ramp from 1 to eta_min/lr)
    down = Cosine(T_max, floor=floor) if floor <= 1 else Anneal(T_max, start=1.0, end=floor, shape="cos")
    up = Anneal(T_max, start=floor, end=1.0, shape="cos")
    return Repeat(down >> up) * lr


def CosineAnnealingWarmRestarts(lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> Schedule:
    """``CosineAnnealingWarmRestarts`` (SGDR) as driven by ``step()``.

    Cycle ``i`` lasts ``T_0 * T_mult**i``; inside it
    ``eta_min + (lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.
    Native: ``sgdr(T_0, mult=T_mult, floor=eta_min/lr) * lr``.

    >>> s = CosineAnnealingWarmRestarts(1.0, T_0=10, T_mult=2)
    >>> s(10), s(30)
    (1.0, 1.0)
    """
    who = "CosineAnnealingWarmRestarts"
    lr = _lr(who, "lr", lr)
    T_0 = whole(who, "T_0", T_0)
    T_mult = whole(who, "T_mult", T_mult)
    floor = _floor_ratio(who, lr, eta_min)
    return SGDR(T_0, mult=T_mult, floor=floor) * lr


def _cyclic(
    who: str, low: float, high: float, step_size_up: float, step_size_down: float | None, mode: str, gamma: float,
) -> Schedule:
    step_size_up = v.length(who, "step_size_up", step_size_up)
    step_size_down = v.optional_length(who, "step_size_down", step_size_down)
    mode = v.choice(who, "mode", mode, ("triangular", "triangular2", "exp_range"))
    gamma = v.factor(who, "gamma", gamma)
    return Cyclic(step_size_up, step_size_down, floor=low, peak=high, mode=mode, decay=gamma)


def CyclicLR(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """``CyclicLR``: triangles between ``base_lr`` and ``max_lr`` (absolute values).

    Modes ``triangular``, ``triangular2`` (amplitude halves each cycle) and ``exp_range``
    (amplitude ``gamma ** t``). A custom ``scale_fn`` is written natively as
    ``cyclic(..., amplitude=schedule)``. Native:
    ``cyclic(step_size_up, step_size_down, floor=base_lr, peak=max_lr, mode=mode, decay=gamma)``.

    >>> s = CyclicLR(0.1, 1.0, step_size_up=5)
    >>> s(0), s(5), s(10)
    (0.1, 1.0, 0.1)
    """
    who = "CyclicLR"
    base_lr = v.non_negative(who, "base_lr", base_lr)
    max_lr = _lr(who, "max_lr", max_lr)
    return _cyclic(who, base_lr, max_lr, step_size_up, step_size_down, mode, gamma)


def CyclicMomentum(
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """The momentum ``CyclicLR`` writes with ``cycle_momentum=True`` (``max_momentum`` at lr's low).

    Native: ``cyclic(step_size_up, step_size_down, floor=max_momentum, peak=base_momentum, ...)``.

    >>> CyclicMomentum(step_size_up=5)(5)
    0.8
    """
    who = "CyclicMomentum"
    base_momentum = v.non_negative(who, "base_momentum", base_momentum)
    max_momentum = v.non_negative(who, "max_momentum", max_momentum)
    return _cyclic(who, max_momentum, base_momentum, step_size_up, step_size_down, mode, gamma)


def _one_cycle_phases(
    who: str, total_steps: int, pct_start: float, anneal_strategy: str, three_phase: bool
) -> tuple[list[float], str]:
    three_phase = v.flag(who, "three_phase", three_phase)
    total_steps = whole(who, "total_steps", total_steps, minimum=2)
    pct_start = v.fraction(who, "pct_start", pct_start, open_low=True, open_high=True)
    shape = {"cos": "cos", "linear": "linear"}.get(anneal_strategy)
    if shape is None:
        raise ValueError(f"{who}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    rise_end = float(pct_start * total_steps) - 1
    ends = [rise_end, float(2 * pct_start * total_steps) - 2, total_steps - 1] if three_phase else [
        rise_end, total_steps - 1
    ]
    starts = [0.0, *ends[:-1]]
    spans = [e - s for s, e in zip(starts, ends)]
    if min(spans) <= 0:
        raise ValueError(
            f"{who}: pct_start={pct_start!r} with total_steps={total_steps!r} leaves a phase of no steps "
            f"(phase ends {ends}); raise total_steps or move pct_start away from the ends"
        )
    return spans, shape


def OneCycleLR(
    max_lr: float, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos", div_factor: float = 25.0,
    final_div_factor: float = 1e4, three_phase: bool = False,
) -> Schedule:
    """``OneCycleLR`` (give ``total_steps``, or ``epochs * steps_per_epoch``).

    Phases end at steps ``pct_start * total_steps - 1`` and ``total_steps - 1`` (three-phase:
    also ``2 * pct_start * total_steps - 2``): ``max_lr / div_factor`` up to ``max_lr``, down to
    ``max_lr / div_factor / final_div_factor``. torch raises past ``total_steps - 1``; the compat
    schedule holds the final value. Native, up to that one-step offset:
    ``one_cycle(total_steps, pct_start, div_factor, final_div_factor, three_phase) * max_lr``.

    >>> s = OneCycleLR(1.0, total_steps=11, pct_start=0.5, anneal_strategy='linear', div_factor=10)
    >>> s(0), s(4.5), s(10)
    (0.1, 1.0, 1e-05)
    """
    who = "OneCycleLR"
    max_lr = _lr(who, "max_lr", max_lr)
    spans, shape = _one_cycle_phases(who, total_steps, pct_start, anneal_strategy, three_phase)
    initial = max_lr / v.positive(who, "div_factor", div_factor)
    minimum = initial / v.positive(who, "final_div_factor", final_div_factor)
    if three_phase:
        return sequence(
            Anneal(spans[0], initial, max_lr, shape),
            Anneal(spans[1], max_lr, initial, shape),
            Anneal(spans[2], initial, minimum, shape),
        )
    return Anneal(spans[0], initial, max_lr, shape) >> Anneal(spans[1], max_lr, minimum, shape)


def OneCycleMomentum(
    total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos", base_momentum: float = 0.85,
    max_momentum: float = 0.95, three_phase: bool = False,
) -> Schedule:
    """The momentum ``OneCycleLR`` writes with ``cycle_momentum=True`` (absolute values).

    ``max_momentum`` down to ``base_momentum`` while the lr rises, back up while it falls;
    three-phase holds ``max_momentum`` in the last phase. Native, up to the one-step offset:
    ``one_cycle_momentum(total_steps, low=base_momentum, high=max_momentum, ...)``.

    >>> OneCycleMomentum(11, pct_start=0.5, anneal_strategy='linear')(4.5)
    0.85
    """
    who = "OneCycleMomentum"
    spans, shape = _one_cycle_phases(who, total_steps, pct_start, anneal_strategy, three_phase)
    low = v.non_negative(who, "base_momentum", base_momentum)
    high = v.non_negative(who, "max_momentum", max_momentum)
    if three_phase:
        return sequence(
            Anneal(spans[0], high, low, shape), Anneal(spans[1], low, high, shape), Constant(high, spans[2])
        )
    return Anneal(spans[0], high, low, shape) >> Anneal(spans[1], low, high, shape)


def SequentialLR(schedulers: Sequence[Schedule], milestones: Sequence[int]) -> Schedule:
    """``SequentialLR``: scheduler ``i`` runs from ``milestones[i-1]`` on its local step.

    Give the compat schedules built with the same ``lr``. Native:
    ``take(s0, m0) >> take(s1, m1 - m0) >> ... >> s_last`` (a plain join).

    >>> s = SequentialLR([ConstantLR(1.0, factor=0.5, total_iters=9), ExponentialLR(1.0, 0.5)], [2])
    >>> [s(t) for t in range(4)]
    [0.5, 0.5, 1.0, 0.5]
    """
    who = "SequentialLR"
    schedulers = list(schedulers)
    for i, s in enumerate(schedulers):
        if not isinstance(s, Schedule):
            raise ValueError(f"{who}: schedulers[{i}] must be an lrkit schedule (a compat result), got {s!r}")
    marks = v.increasing(who, "milestones", [whole(who, f"milestones[{i}]", m) for i, m in enumerate(milestones)])
    if len(marks) != len(schedulers) - 1:
        raise ValueError(
            f"{who}: needs one milestone fewer than schedulers, got {len(schedulers)} schedulers and "
            f"{len(marks)} milestones"
        )
    starts = [0, *marks]
    pieces = [take_exact(s, starts[i + 1] - starts[i]) for i, s in enumerate(schedulers[:-1])]
    return sequence(*pieces, schedulers[-1])

