"""Hugging Face ``transformers`` schedules (``get_scheduler`` types) as lrkit multipliers.

Every function takes the peer's parameter names without the optimizer and returns the
multiplier ``lr_lambda(t)`` that ``LambdaLR`` applies to the base learning rate after
``t`` scheduler steps. Where the peer reads the optimizer's learning rate (``lr_init`` of
the polynomial schedule, ``min_lr`` of the min-lr cosines) it is a parameter here.
``get_scheduler(name, ...)`` dispatches by the peer's type names. Nothing here imports
transformers or torch.

>>> s = get_cosine_schedule_with_warmup(num_warmup_steps=10, num_training_steps=110)
>>> s(5), s(10), s(110)
(0.5, 1.0, 0.0)

Known Hugging Face behaviours reproduced (not "fixed"):

* the plain cosine schedules (``cosine``, ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr``)
  do not stop at ``num_training_steps``: the cosine continues and the multiplier climbs
  back up past the end (``hf_cosine``). The native ``cosine`` holds its floor.
* ``cosine_warmup_with_min_lr`` is one step ahead: ``(t + 1) / num_warmup_steps`` during
  warmup and progress ``(t - num_warmup_steps + 1) / (num_training_steps - num_warmup_steps)``.
* ``warmup_stable_decay``'s ``'1-sqrt'`` warmup is ``1 - sqrt(1 - p)`` (``hf_sqrt_warmup``),
  not the mirror of the ``'1-sqrt'`` decay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit.compat._common import arg, refuse_optimizer, sequence, shifted
from lrkit.core import _validate as v
from lrkit.core.combinators import Take
from lrkit.core.families import Anneal, Constant, InverseSqrt, Linear, Polynomial, Warmup
from lrkit.core.schedule import NumpyForm, Schedule, param, value

__all__ = [
    "HFCosine",
    "HFHardRestarts",
    "HFSqrtWarmup",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_scheduler",
    "get_wsd_schedule",
]


@value
class HFCosine(NumpyForm):
    """Hugging Face's cosine multiplier, which keeps going past its end.

    ``f(t) = max(0, (1 + cos(2 pi cycles t / steps)) / 2 * (1 - floor) + floor)`` for every
    ``t`` (infinite): with ``cycles=0.5`` it reaches ``floor`` at ``steps`` and climbs back.

    >>> s = hf_cosine(10)
    >>> s(0), s(10), s(20)
    (1.0, 0.0, 1.0)
    """

    name = "hf_cosine"
    steps: float = param(v.length)
    cycles: float = param(v.number, default=0.5)
    floor: float = param(v.rate, default=0.0)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        progress = t / float(self.steps)
        factor = 0.5 * (1.0 + np.cos(np.pi * float(self.cycles) * 2.0 * progress))
        return np.maximum(0.0, factor * (1 - self.floor) + self.floor)


@value
class HFHardRestarts(NumpyForm):
    """Hugging Face's cosine with ``cycles`` hard restarts over ``steps``, then 0.

    ``f(t) = max(0, (1 + cos(pi * ((cycles * t / steps) mod 1))) / 2)`` for ``t < steps``; ``cycles``
    may be 0 (1.0 until ``steps``) or fractional (the last cycle is cut short), as in Hugging Face.
    Native equivalent (whole cycles, up to rounding at restarts): ``sgdr(steps / cycles, cycles=cycles)``.

    >>> s = hf_hard_restarts(10, cycles=2)
    >>> s(0), s(5), s(10)
    (1.0, 1.0, 0.0)
    """

    name = "hf_hard_restarts"
    steps: float = param(v.length)
    cycles: float = param(v.non_negative, default=1)

    def _setup(self) -> float | None:
        return self.steps

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        progress = t / float(self.steps)
        value = np.maximum(0.0, 0.5 * (1.0 + np.cos(np.pi * np.mod(float(self.cycles) * progress, 1.0))))
        return np.where(progress >= 1.0, 0.0, value)


@value
class HFSqrtWarmup(NumpyForm):
    """The ``'1-sqrt'`` warmup of Hugging Face's WSD: ``(1 - sqrt(1 - t/steps)) * (1 - start) + start``.

    >>> s = hf_sqrt_warmup(4)
    >>> s(0), s(3), s(4)
    (0.0, 0.5, 1.0)
    """

    name = "hf_sqrt_warmup"
    steps: float = param(v.length)
    start: float = param(v.rate, default=0.0)

    def _setup(self) -> float | None:
        return self.steps

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        factor = 1.0 - np.sqrt(1.0 - t / float(self.steps))
        return np.maximum(0.0, factor * (1.0 - self.start) + self.start)


def _steps(who: str, name: str, value: Any, minimum: int = 0) -> int:
    refuse_optimizer(who, name, value, takes_lr=False)
    return v.integer(who, name, value, minimum=minimum)


def _warmup(who: str, num_warmup_steps: Any) -> Schedule | None:
    """HF's shared warmup ``t / max(1, W)`` for ``t < W`` (``None`` when ``W == 0``)."""
    w = _steps(who, "num_warmup_steps", num_warmup_steps)
    return Warmup(w, start=0.0) if v.lasts(w) else None  # HF starts its warmups at 0


def _training(who: str, num_warmup_steps: int, num_training_steps: Any) -> int:
    total = _steps(who, "num_training_steps", num_training_steps, minimum=1)
    if total < num_warmup_steps:
        raise ValueError(
            f"{who}: num_training_steps must be >= num_warmup_steps, got {total!r} < {num_warmup_steps!r}; "
            "the warmup is part of the training steps"
        )
    return total


def _cycles(who: str, num_cycles: Any) -> float:
    """The cosines' ``num_cycles``: any finite number (HF's cosine is even in it)."""
    return arg(who, "num_cycles", num_cycles)


def get_constant_schedule() -> Schedule:
    """``constant``: 1.0 throughout.  Native: ``constant(1.0)``.

    >>> get_constant_schedule()(10)
    1.0
    """
    return Constant(1.0)


def get_constant_schedule_with_warmup(num_warmup_steps: int) -> Schedule:
    """``constant_with_warmup``: ``t / W`` for ``t < W``, then 1.  Native: ``warmup(W) >> constant(1.0)``.

    >>> get_constant_schedule_with_warmup(4)(2)
    0.5
    """
    return sequence(_warmup("get_constant_schedule_with_warmup", num_warmup_steps), Constant(1.0))


def get_linear_schedule_with_warmup(num_warmup_steps: int, num_training_steps: int) -> Schedule:
    """``linear``: warm up over ``W``, then linear to 0 at ``T``.  Native: ``warmup(W) >> linear(T - W)``.

    >>> s = get_linear_schedule_with_warmup(2, 6)
    >>> s(1), s(4), s(6)
    (0.5, 0.5, 0.0)
    """
    who = "get_linear_schedule_with_warmup"
    warm = _warmup(who, num_warmup_steps)
    total = _training(who, int(num_warmup_steps), num_training_steps)
    rest = total - int(num_warmup_steps)
    return sequence(warm, Linear(rest) if rest > 0 else Constant(0.0))


def get_cosine_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5
) -> Schedule:
    """``cosine``: warm up, then ``hf_cosine`` (which climbs back up past ``T``).

    Native (holding 0 after ``T``): ``warmup(W) >> cosine(T - W)``.

    >>> get_cosine_schedule_with_warmup(0, 10)(20)
    1.0
    """
    who = "get_cosine_schedule_with_warmup"
    warm = _warmup(who, num_warmup_steps)
    total = _training(who, int(num_warmup_steps), num_training_steps)
    return sequence(warm, HFCosine(max(1, total - int(num_warmup_steps)), _cycles(who, num_cycles)))


def get_cosine_with_hard_restarts_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, num_cycles: int = 1
) -> Schedule:
    """``cosine_with_restarts``: warm up, then ``num_cycles`` hard-restart cosines, then 0.

    Native: ``warmup(W) >> sgdr((T - W) / num_cycles, cycles=num_cycles)``.

    >>> get_cosine_with_hard_restarts_schedule_with_warmup(0, 10, num_cycles=2)(5)
    1.0
    """
    who = "get_cosine_with_hard_restarts_schedule_with_warmup"
    warm = _warmup(who, num_warmup_steps)
    total = _training(who, int(num_warmup_steps), num_training_steps)
    cycles = arg(who, "num_cycles", num_cycles, 0, fix="it counts the restarts (HF computes a rising curve below 0)")
    return sequence(warm, HFHardRestarts(max(1, total - int(num_warmup_steps)), cycles))


def get_polynomial_decay_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, lr_end: float = 1e-7, power: float = 1.0, *, lr_init: float
) -> Schedule:
    """``polynomial``: warm up, then ``((lr_init - lr_end) * (1 - p)**power + lr_end) / lr_init``.

    ``lr_init`` is the optimizer's learning rate (HF reads it from the optimizer).
    Native: ``warmup(W) >> polynomial(T - W, power=power, end=lr_end / lr_init)``.

    >>> get_polynomial_decay_schedule_with_warmup(0, 10, lr_end=0.0, power=2.0, lr_init=1.0)(5)
    0.25
    """
    who = "get_polynomial_decay_schedule_with_warmup"
    lr_init = v.positive(who, "lr_init", lr_init)
    lr_end = v.non_negative(who, "lr_end", lr_end)
    if not lr_init > lr_end:
        raise ValueError(f"{who}: lr_end ({lr_end!r}) must be smaller than the initial lr ({lr_init!r})")
    warm = _warmup(who, num_warmup_steps)
    total = _training(who, int(num_warmup_steps), num_training_steps)
    if total == int(num_warmup_steps):
        raise ValueError(f"{who}: num_training_steps must be > num_warmup_steps, got {total!r}")
    power = arg(who, "power", power, 0, fix="HF's (1 - progress) ** power is infinite at the end")
    rest = total - int(num_warmup_steps)
    if power == 0:  # HF's 0 ** 0 is 1: 1.0 through step T, lr_end / lr_init after it
        return sequence(warm, Constant(1.0, rest + 1), Constant(lr_end / lr_init))
    return sequence(warm, Polynomial(rest, power=power, end=lr_end / lr_init))


def get_inverse_sqrt_schedule(num_warmup_steps: int, timescale: int | None = None) -> Schedule:
    """``inverse_sqrt``: warm up, then ``1 / sqrt(1 + (t - W) / timescale)`` (timescale ``W`` or 10000).

    Native: ``warmup(W) >> inverse_sqrt(timescale)``.

    >>> get_inverse_sqrt_schedule(100)(400)
    0.5
    """
    who = "get_inverse_sqrt_schedule"
    warm = _warmup(who, num_warmup_steps)
    if timescale is None:
        timescale = int(num_warmup_steps) or 10_000
    return sequence(warm, InverseSqrt(v.length(who, "timescale", timescale)))


def _min_lr_rate(who: str, min_lr: float | None, min_lr_rate: float | None, lr: float | None) -> float:
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError(f"{who}: give min_lr or min_lr_rate, not both")
    if min_lr is not None:
        if lr is None:
            raise ValueError(f"{who}: min_lr needs lr (the optimizer's learning rate); or give min_lr_rate")
        return v.non_negative(who, "min_lr", min_lr) / v.positive(who, "lr", lr)
    if min_lr_rate is None:
        raise ValueError(f"{who}: give one of min_lr or min_lr_rate")
    return v.non_negative(who, "min_lr_rate", min_lr_rate)


def get_cosine_with_min_lr_schedule_with_warmup(
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    lr: float | None = None,
) -> Schedule:
    """``cosine_with_min_lr``: warm up, then the cosine down to ``min_lr_rate`` (and back up past ``T``).

    ``min_lr`` is turned into ``min_lr / lr`` (``lr``: the optimizer's learning rate).
    Native (holding the floor): ``warmup(W) >> cosine(T - W, floor=min_lr_rate)``.

    >>> get_cosine_with_min_lr_schedule_with_warmup(0, 10, min_lr_rate=0.1)(10)
    0.1
    """
    who = "get_cosine_with_min_lr_schedule_with_warmup"
    rate = _min_lr_rate(who, min_lr, min_lr_rate, lr)
    warm = _warmup(who, num_warmup_steps)
    total = _training(who, int(num_warmup_steps), num_training_steps)
    return sequence(warm, HFCosine(max(1, total - int(num_warmup_steps)), _cycles(who, num_cycles), floor=rate))


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
    lr: float | None = None,
) -> Schedule:
    """``cosine_warmup_with_min_lr``: like ``cosine_with_min_lr`` but one step ahead.

    Warmup ``(t + 1) / W`` (or ``warmup_lr_rate + (1 - warmup_lr_rate) * t / (W - 1)``), then
    the cosine at progress ``(t - W + 1) / (T - W)``.

    >>> s = get_cosine_with_min_lr_schedule_with_warmup_lr_rate(4, 14, min_lr_rate=0.0)
    >>> s(0), s(3), s(13)
    (0.25, 1.0, 0.0)
    """
    who = "get_cosine_with_min_lr_schedule_with_warmup_lr_rate"
    rate = _min_lr_rate(who, min_lr, min_lr_rate, lr)
    w = _steps(who, "num_warmup_steps", num_warmup_steps)
    total = _training(who, w, num_training_steps)
    warm: Schedule | None = None
    if w > 0:
        if warmup_lr_rate is None:
            span = max(1.0, float(w))
            warm = Anneal(w, start=1.0 / span, end=(w + 1.0) / span, shape="linear")
        else:
            r = arg(who, "warmup_lr_rate", warmup_lr_rate, 0, fix="the warmup starts at warmup_lr_rate * lr")
            warm = Anneal(w, start=r, end=r + (1.0 - r) * w / max(1, w - 1), shape="linear")
    decay = shifted(HFCosine(max(1.0, float(total - w)), _cycles(who, num_cycles), floor=rate), 1)
    return sequence(warm, decay)


def get_wsd_schedule(
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
) -> Schedule:
    """``warmup_stable_decay``: warm up from ``min_lr_ratio``, hold 1, decay to ``min_lr_ratio``.

    Native (linear/cos shapes): ``anneal(W, min_lr_ratio, 1, shape) >> constant(1, S) >>
    anneal(D, 1, min_lr_ratio, shape)``, or ``wsd(...)`` when ``min_lr_ratio == 0``.

    >>> s = get_wsd_schedule(2, 2, num_stable_steps=2, decay_type='linear')
    >>> [s(t) for t in range(7)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    who = "get_wsd_schedule"
    w = _steps(who, "num_warmup_steps", num_warmup_steps)
    d = _steps(who, "num_decay_steps", num_decay_steps)
    if num_stable_steps is None:
        if num_training_steps is None:
            raise ValueError(f"{who}: give num_training_steps or num_stable_steps")
        total = _steps(who, "num_training_steps", num_training_steps)
        if total < w + d:
            raise ValueError(
                f"{who}: num_training_steps must be >= num_warmup_steps + num_decay_steps, got {total!r} < {w!r} + "
                f"{d!r}; HF starts the decay part-way in, lrkit refuses it: raise num_training_steps, shorten the "
                "phases or give num_stable_steps"
            )
        num_stable_steps = total - w - d
    s = _steps(who, "num_stable_steps", num_stable_steps)
    shapes = ("linear", "cosine", "1-sqrt")
    warmup_type = v.choice(who, "warmup_type", warmup_type, shapes)
    decay_type = v.choice(who, "decay_type", decay_type, shapes)
    m = arg(who, "min_lr_ratio", min_lr_ratio, 0, fix="the run starts and ends at min_lr_ratio * lr, and lrkit never "
            "schedules a negative learning rate (HF computes one)")
    num_cycles = _cycles(who, num_cycles)
    warm: Schedule | None = None
    if w > 0:
        warm = HFSqrtWarmup(w, start=m) if warmup_type == "1-sqrt" else Anneal(
            w, m, 1.0, "cos" if warmup_type == "cosine" else "linear"
        )
    stable = Constant(1.0, s) if v.lasts(s) else None
    decay: Schedule | None = None
    if d > 0:
        if decay_type == "cosine":
            decay = Take(HFCosine(d, num_cycles, floor=m), d)
        else:
            decay = Anneal(d, 1.0, m, decay_type)
    return sequence(warm, stable, decay, Constant(m))


_BY_NAME = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": get_wsd_schedule,
}


def get_scheduler(
    name: str,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
) -> Schedule:
    """``transformers.get_scheduler`` for every type with a fixed formula.

    ``reduce_lr_on_plateau`` and ``greedy`` react to metrics and have no fixed formula.
    Pass ``lr_init`` (``polynomial``) or ``lr`` (``min_lr`` of the min-lr cosines) in
    ``scheduler_specific_kwargs``.

    >>> get_scheduler("linear", num_warmup_steps=0, num_training_steps=4)(1)
    0.75
    """
    refuse_optimizer("get_scheduler", "num_warmup_steps", num_warmup_steps, takes_lr=False)
    if name not in _BY_NAME:
        raise ValueError(
            f"get_scheduler: name must be one of {', '.join(repr(n) for n in _BY_NAME)}, got {name!r}"
            + ("; it reacts to metrics: see lrkit's plateau driver" if name in ("reduce_lr_on_plateau", "greedy")
               else "")
        )
    kwargs = dict(scheduler_specific_kwargs or {})
    if name == "constant":
        return get_constant_schedule()
    if num_warmup_steps is None:
        raise ValueError(f"get_scheduler: {name} requires num_warmup_steps")
    if name == "constant_with_warmup":
        return get_constant_schedule_with_warmup(num_warmup_steps)
    if name == "inverse_sqrt":
        return get_inverse_sqrt_schedule(num_warmup_steps, **kwargs)
    if name == "warmup_stable_decay":
        return get_wsd_schedule(num_warmup_steps, num_training_steps=num_training_steps, **kwargs)
    if num_training_steps is None:
        raise ValueError(f"get_scheduler: {name} requires num_training_steps")
    return _BY_NAME[name](num_warmup_steps, num_training_steps, **kwargs)  # type: ignore[operator]
