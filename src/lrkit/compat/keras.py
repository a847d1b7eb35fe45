"""Keras 3 learning-rate schedules (``keras.optimizers.schedules``) as lrkit schedules.

Each constructor takes the Keras class's parameter names and defaults (``name`` is
dropped) and returns an lrkit schedule of **absolute** learning rates with
``value(t) == keras_schedule(t)`` at every integer step ``t`` (``optimizer.iterations``).
Keras computes in its ``floatx`` (float32 by default), lrkit in float64. Nothing here
imports keras; :mod:`lrkit.keras` turns any lrkit schedule into a Keras schedule.

>>> s = CosineDecay(0.1, decay_steps=100, alpha=0.1)
>>> s
cosine(100, floor=0.1) * 0.1
>>> round(s(100), 12)
0.01

Keras behaviours reproduced (not "fixed"):

* ``PiecewiseConstantDecay`` changes value *after* a boundary (``step > b``), so Keras's
  boundary ``b`` is lrkit's ``b + 1`` at integer steps.
* With ``staircase=True`` (and ``PolynomialDecay(cycle=True)``) Keras runs under XLA, which
  divides by the constant ``decay_steps`` through its float32 reciprocal: ``47 * (1/47)`` is
  just below 1, so the drop at step 47 comes at 48 (``decay_steps`` 41, 47, 55, ... are
  affected). ``keras_staircase`` and ``keras_cyclic_polynomial`` reproduce that float32
  quotient; the native ``exponential(..., staircase=True)`` drops exactly at the multiples.
* ``CosineDecayRestarts`` does not scale ``alpha`` by ``m_mul ** i`` (the floor stays
  ``alpha`` while the peaks shrink) and finds the cycle in float32, so at some exact cycle
  starts the value is the old cycle's floor instead of the new peak (``keras_cosine_restarts``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lrkit.compat._common import arg, lr, scaled
from lrkit.core import _validate as v
from lrkit.core.families import Anneal, Constant, Cosine, Exponential, InverseTime, PiecewiseConstant, Polynomial
from lrkit.core.plateau import Plateau
from lrkit.core.schedule import NumpyForm, Schedule, param, value

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "KerasCosineRestarts",
    "KerasCyclicPolynomial",
    "KerasStaircase",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "ReduceLROnPlateau",
]


def xla_quotient(t: np.ndarray, every: float) -> np.ndarray:
    """``t / every`` as XLA computes it for a constant divisor in float32: ``t * (1 / every)``."""
    reciprocal = np.float32(1.0) / np.float32(every)
    return (t.astype(np.float32) * reciprocal).astype(np.float64)


@value
class KerasStaircase(NumpyForm):
    """Keras's staircase decays as they run under XLA in float32 (unitless, 1.0 at t=0).

    With ``k = floor(float32(t) * float32(1 / every))`` (see :func:`xla_quotient`):
    ``exponential``: ``f = rate ** k``; ``inverse_time``: ``f = 1 / (1 + rate * k)``.

    >>> s = keras_staircase('exponential', 0.5, 47)
    >>> s(47), s(48), exponential(0.5, every=47, staircase=True)(47)
    (1.0, 0.5, 0.5)
    """

    name = "keras_staircase"
    kind: str = param(v.choice_of("exponential", "inverse_time"))
    rate: float = param()
    every: float = param(v.length)

    def _setup(self) -> float | None:
        check = v.factor if self.kind == "exponential" else v.non_negative
        self._derive(rate=check(self.name, "rate", self.rate))
        return None

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        k = np.floor(xla_quotient(t, self.every))
        if self.kind == "exponential":
            return np.power(float(self.rate), k)
        return 1.0 / (1.0 + self.rate * k)


@value
class KerasCyclicPolynomial(NumpyForm):
    """Keras ``PolynomialDecay(cycle=True)``: each cycle restarts with a longer horizon.

    With ``k = max(1, ceil(t / steps))``: ``f(t) = (start - end) * (1 - t / (k steps)) ** power + end``;
    the cycle count ``k`` uses XLA's float32 quotient (:func:`xla_quotient`), as Keras does.

    >>> s = keras_cyclic_polynomial(10, start=1.0, end=0.0)
    >>> s(5), s(10), s(15)
    (0.5, 0.0, 0.25)
    """

    name = "keras_cyclic_polynomial"
    steps: float = param(v.length)
    power: float = param(v.positive, default=1.0)
    start: float = param(v.rate, default=1.0)
    end: float = param(v.rate, default=0.0)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        k = np.where(t == 0, 1.0, np.ceil(xla_quotient(t, self.steps)))
        p = t / (self.steps * k)
        return (self.start - self.end) * np.power(1.0 - p, self.power) + self.end


@value
class KerasCosineRestarts(NumpyForm):
    """Keras ``CosineDecayRestarts`` (unitless), with Keras's cycle index.

    Cycle ``i`` lasts ``first * t_mul ** i``; inside it
    ``f = alpha + (1 - alpha) * m_mul ** i * (1 + cos(pi * x)) / 2`` with ``x`` the fraction of
    the cycle done (the floor ``alpha`` is not scaled by ``m_mul ** i``). The index is Keras's
    float32 one as XLA computes it (``floor(t * float32(1/first))``, or
    ``floor(log(1 - q (1 - t_mul)) / log(t_mul))``), so at some exact cycle starts it stays in
    the previous cycle (``first=41, t_mul=1``: step 41 is the end of cycle 0, not a restart).
    The native ``sgdr`` restarts exactly.

    >>> s = keras_cosine_restarts(10, m_mul=0.5, alpha=0.1)
    >>> s(10), round(s(30), 12)
    (0.55, 0.325)
    >>> keras_cosine_restarts(41, t_mul=1.0)(41), sgdr(41)(41)
    (0.0, 1.0)
    """

    name = "keras_cosine_restarts"
    first_decay_steps: float = param(v.length)
    t_mul: float = param(v.number, default=2.0)
    m_mul: float = param(v.non_negative, default=1.0)
    alpha: float = param(v.rate, default=0.0)

    def _setup(self) -> float | None:
        if self.t_mul < 1:
            raise ValueError(f"{self.name}: t_mul must be >= 1, got {self.t_mul!r}; each cycle is t_mul times the last")
        return None

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        first, mul = float(self.first_decay_steps), float(self.t_mul)
        q = xla_quotient(t, first).astype(np.float32)
        if mul == 1:
            i = np.floor(q).astype(np.float64)
            start, period = first * i, np.full(t.shape, first)
        else:
            f32 = np.float32
            i = np.floor(np.log(f32(1) - q * (f32(1) - f32(mul))) / np.log(f32(mul))).astype(np.float64)
            start, period = first * (1 - np.power(mul, i)) / (1 - mul), first * np.power(mul, i)
        h = 0.5 * (1.0 + np.cos(np.pi * (t - start) / period))
        return self.alpha + (1.0 - self.alpha) * np.power(float(self.m_mul), i) * h


#: Keras's two rate decays: the native family and the bounds of ``decay_rate`` (a factor, or any rate >= 0).
_DECAYS = {
    "exponential": (Exponential, dict(low=0, high=1, open_low=True, fix=(
        "a decay factor, e.g. 0.5 halves the rate every decay_steps; lrkit refuses the growth Keras computes for "
        "decay_rate > 1 (for a capped growth write anneal(steps, start, end, shape='exp'))"
    ))),
    "inverse_time": (InverseTime, dict(low=0, fix="Keras divides by 1 + decay_rate * step / decay_steps")),
}
#: What ``alpha`` is, for the cosine decays (Keras accepts any number).
_ALPHA = "the decay ends at alpha * its peak, and lrkit never schedules a negative learning rate (Keras computes one)"


def _decay(who: str, kind: str, initial: float, steps: float, rate: float, staircase: bool) -> Schedule:
    """``initial * family(rate, every=steps)``, or Keras's float32 staircase of it (``keras_staircase``)."""
    family, bounds = _DECAYS[kind]
    staircase = v.flag(who, "staircase", staircase)
    init = lr(who, "initial_learning_rate", initial, zero=True)
    rate = arg(who, "decay_rate", rate, **bounds)  # type: ignore[arg-type]
    steps = v.length(who, "decay_steps", steps)
    return scaled(KerasStaircase(kind, rate, steps) if staircase else family(rate, every=steps), init)


def ExponentialDecay(
    initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``ExponentialDecay``: ``initial * decay_rate ** (step / decay_steps)`` (floored with ``staircase``,
    as XLA floors it: see ``keras_staircase``).

    Native: ``exponential(decay_rate, every=decay_steps, staircase=staircase) * initial_learning_rate``.

    >>> ExponentialDecay(1.0, 10, 0.5)(20)
    0.25
    """
    return _decay("ExponentialDecay", "exponential", initial_learning_rate, decay_steps, decay_rate, staircase)


def InverseTimeDecay(
    initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``InverseTimeDecay``: ``initial / (1 + decay_rate * step / decay_steps)``.

    Native: ``inverse_time(decay_rate, every=decay_steps, staircase=staircase) * initial_learning_rate``.

    >>> InverseTimeDecay(1.0, 10, 0.5)(20)
    0.5
    """
    return _decay("InverseTimeDecay", "inverse_time", initial_learning_rate, decay_steps, decay_rate, staircase)


def PiecewiseConstantDecay(boundaries: Sequence[int], values: Sequence[float]) -> Schedule:
    """``PiecewiseConstantDecay``: ``values[0]`` while ``step <= boundaries[0]``, ... (Keras uses ``<=``).

    The value changes one step *after* each boundary. Native (integer steps):
    ``piecewise_constant([b + 1 for b in boundaries], values)``.

    >>> s = PiecewiseConstantDecay([10], [1.0, 0.5])
    >>> s(10), s(11)
    (1.0, 0.5)
    """
    who = "PiecewiseConstantDecay"
    bounds = []
    for i, b in enumerate(v.increasing(who, "boundaries", boundaries)):
        if b < 0 or float(b) != int(b):
            raise ValueError(
                f"{who}: boundaries[{i}] must be a whole number of steps >= 0, got {b!r}; "
                "Keras compares them with the integer optimizer.iterations"
            )
        bounds.append(int(b) + 1)
    rates = [lr(who, f"values[{i}]", x, zero=True) for i, x in enumerate(v.numbers_list(who, "values", values))]
    if len(rates) != len(bounds) + 1:
        raise ValueError(
            f"{who}: values must have one more entry than boundaries, got {len(rates)} values for {len(bounds)} "
            "boundaries; values[i] holds up to boundaries[i], the last one after the last boundary"
        )
    return PiecewiseConstant(bounds, rates)


def PolynomialDecay(
    initial_learning_rate: float,
    decay_steps: float,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
) -> Schedule:
    """``PolynomialDecay``: ``(initial - end) * (1 - step / decay_steps) ** power + end``.

    Native: ``polynomial(decay_steps, power=power, start=initial, end=end)``; ``cycle=True``
    restarts with a horizon of ``decay_steps * ceil(step / decay_steps)`` (``keras_cyclic_polynomial``).

    >>> PolynomialDecay(1.0, 10, end_learning_rate=0.0)(5)
    0.5
    """
    who = "PolynomialDecay"
    init = lr(who, "initial_learning_rate", initial_learning_rate, zero=True)
    end = lr(who, "end_learning_rate", end_learning_rate, zero=True)
    decay_steps = v.length(who, "decay_steps", decay_steps)
    power = arg(who, "power", power, 0, fix="Keras's (1 - step / decay_steps) ** power is infinite at the end")
    cycle = v.flag(who, "cycle", cycle)
    if power == 0:  # Keras's 0 ** 0 is 1 at the end too
        return Constant(init)
    if cycle:
        return KerasCyclicPolynomial(decay_steps, power=power, start=init, end=end)
    return Polynomial(decay_steps, power=power, start=init, end=end)


def CosineDecay(
    initial_learning_rate: float,
    decay_steps: float,
    alpha: float = 0.0,
    warmup_target: float | None = None,
    warmup_steps: float = 0,
) -> Schedule:
    """``CosineDecay``: cosine from the peak to ``alpha * peak`` over ``decay_steps``.

    Without ``warmup_target`` the peak is ``initial_learning_rate``. With it, rise linearly
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` first. Native:
    ``cosine(decay_steps, floor=alpha) * initial`` or
    ``anneal(warmup_steps, initial, target, shape='linear') >> cosine(decay_steps, floor=alpha) * target``.

    >>> CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=10)(5)
    0.5
    """
    who = "CosineDecay"
    init = lr(who, "initial_learning_rate", initial_learning_rate, zero=True)
    decay_steps = v.length(who, "decay_steps", decay_steps)
    alpha = arg(who, "alpha", alpha, 0, fix=_ALPHA)
    # alpha > 1: Keras's (1 - alpha) * cos01 + alpha rises to alpha (cosine's floor is at most its peak)
    shape = Cosine(decay_steps, floor=alpha) if alpha <= 1 else Anneal(decay_steps, 1.0, alpha, "cos")
    if warmup_target is None:
        return scaled(shape, init)
    target = lr(who, "warmup_target", warmup_target, zero=True)
    decay = scaled(shape, target)
    warmup_steps = v.non_negative(who, "warmup_steps", warmup_steps)
    if warmup_steps == 0:
        return decay
    return Anneal(warmup_steps, init, target, "linear") >> decay


def CosineDecayRestarts(
    initial_learning_rate: float, first_decay_steps: float, t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
) -> Schedule:
    """``CosineDecayRestarts`` (SGDR): cycles ``first_decay_steps * t_mul ** i``, peaks ``m_mul ** i``.

    The floor ``alpha`` is not scaled by ``m_mul ** i``, and the cycle index is Keras's float32
    one (see ``keras_cosine_restarts``). Native (exact restarts):
    ``sgdr(first_decay_steps, mult=t_mul, decay=m_mul) * initial`` (``alpha == 0``) or
    ``sgdr(first_decay_steps, mult=t_mul, floor=alpha) * initial`` (``m_mul == 1``).

    >>> CosineDecayRestarts(1.0, 10)
    keras_cosine_restarts(10)
    """
    who = "CosineDecayRestarts"
    init = lr(who, "initial_learning_rate", initial_learning_rate, zero=True)
    first_decay_steps = v.length(who, "first_decay_steps", first_decay_steps)
    t_mul = arg(who, "t_mul", t_mul, 1, fix="each cycle is t_mul times the last (Keras's index is NaN for t_mul < 1)")
    m_mul = arg(who, "m_mul", m_mul, 0, fix="cycle i peaks at m_mul ** i times initial_learning_rate")
    alpha = arg(who, "alpha", alpha, 0, fix=_ALPHA)
    return scaled(KerasCosineRestarts(first_decay_steps, t_mul=t_mul, m_mul=m_mul, alpha=alpha), init)


def ReduceLROnPlateau(
    learning_rate: float,
    monitor: str = "val_loss",
    factor: float = 0.1,
    patience: int = 10,
    mode: str = "auto",
    min_delta: float = 1e-4,
    cooldown: int = 0,
    min_lr: float = 0.0,
) -> Schedule:
    """``keras.callbacks.ReduceLROnPlateau`` as a schedule: ``constant(lr) * plateau(..., rule='keras')``.

    ``learning_rate`` is the optimizer's (Keras' callback reads it there). Keras' decision: a
    reduction after ``patience`` epochs without improvement (``>=``; torch's, lrkit's default,
    needs one more), the epoch that ends a cooldown counts, and a reduction (and its cooldown)
    happens only while the learning rate is above ``min_lr`` (see :mod:`lrkit.core.plateau`).
    An improvement is ``current + min_delta < best`` (``mode='min'``). ``mode='auto'`` reads the
    direction from ``monitor`` as Keras does for losses (``*loss``: ``'min'``); other names need
    ``mode``. Feed it with :class:`lrkit.keras.PlateauCallback` (``monitor`` is read there).

    Kept different on purpose (``docs/migration.md``): the plateau state is saved with the model
    and is not reset by a new ``fit()``; ``verbose`` is not a parameter.

    >>> ReduceLROnPlateau(0.1, patience=1, min_delta=100)
    constant(value=0.1) * plateau(patience=1, threshold=100, threshold_mode='abs', eps=0.0, rule='keras')
    """
    who = "ReduceLROnPlateau"
    learning_rate = v.positive(who, "learning_rate", learning_rate, "the optimizer's learning rate, e.g. 1e-3")
    if mode == "auto":
        if not isinstance(monitor, str) or not monitor.removeprefix("val_").endswith("loss"):
            raise ValueError(
                f"{who}: mode='auto' cannot tell whether {monitor!r} should fall or rise; pass mode='min' or "
                "mode='max'"
            )
        mode = "min"
    factor = arg(who, "factor", factor, 0, 1, open_low=True, open_high=True,
                 fix="it multiplies the learning rate at each reduction, e.g. 0.1 or 0.5")
    patience = v.integer(who, "patience", patience, minimum=0)
    cooldown = v.integer(who, "cooldown", cooldown, minimum=0)
    min_lr = v.non_negative(who, "min_lr", min_lr)
    if min_lr > learning_rate:
        raise ValueError(f"{who}: min_lr must be <= learning_rate, got {min_lr!r} > {learning_rate!r}")
    node = Plateau(
        mode=mode, factor=factor, patience=patience, threshold=abs(v.number(who, "min_delta", min_delta)),
        threshold_mode="abs", cooldown=cooldown, min_scale=min_lr / learning_rate, eps=0.0, rule="keras",
    )
    return Constant(learning_rate) * node
