"""optax schedules (``optax.schedules``) under their own names, as lrkit schedules.

Each function takes optax's parameter names and defaults and returns an lrkit schedule
of **absolute** values with ``value(t) == optax_schedule(t)`` (optax computes in float32
unless ``jax_enable_x64`` is on; lrkit in float64). Steps follow optax: a piece of
``join_schedules`` starts at its boundary (``step >= boundary``) on local step 0.
Nothing here imports jax or optax; :mod:`lrkit.optax` turns any lrkit schedule back
into an optax schedule.

>>> s = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
>>> s
anneal(10, 0.0, 1.0, shape='linear') >> cosine(100)
>>> s(5), s(10), s(110)
(0.5, 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lrkit.compat._common import arg, scaled, sequence, take_exact
from lrkit.core import _validate as v
from lrkit.core.combinators import Clamp
from lrkit.core.families import Anneal, Constant, Cosine, Exponential, PiecewiseConstant, Polynomial
from lrkit.core.plateau import Plateau
from lrkit.core.schedule import NumpyForm, Schedule, param, value

__all__ = [
    "OptaxCosine",
    "OptaxGrowth",
    "OptaxStaircase",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "reduce_on_plateau",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]


@value
class OptaxCosine(NumpyForm):
    """optax's cosine decay with an ``exponent`` on the cosine factor (unitless, peak 1).

    ``f(t) = (1 - alpha) * ((1 + cos(pi * t / steps)) / 2) ** exponent + alpha``; with
    ``exponent=1`` it is ``cosine(steps, floor=alpha)``.

    >>> optax_cosine(10, exponent=2.0)(5)
    0.25
    """

    name = "optax_cosine"
    steps: float = param(v.length)
    alpha: float = param(v.rate, default=0.0)
    exponent: float = param(v.positive, default=1.0)

    def _setup(self) -> float | None:
        return self.steps

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(np.pi * t / self.steps))
        return (1.0 - self.alpha) * np.power(cosine, self.exponent) + self.alpha


@value
class OptaxStaircase(NumpyForm):
    """optax's staircase exponential decay, with optax's (XLA's) division: ``rate ** floor(t * (1/every))``.

    XLA rewrites ``count / transition_steps`` as ``count * (1 / transition_steps)``, so at some
    exact multiples the quotient lands just below the integer and the drop comes one step
    late (``every=49``: at 50, not 49). This family reproduces that (optax with
    ``jax_enable_x64``; float32 optax is late at other multiples too). The native
    ``exponential(rate, every, staircase=True)`` drops exactly at the multiples.

    >>> s = optax_staircase(0.5, 49)
    >>> s(49), s(50), exponential(0.5, every=49, staircase=True)(49)
    (1.0, 0.5, 0.5)
    """

    name = "optax_staircase"
    rate: float = param(v.positive)  # optax also grows (rate > 1)
    every: float = param(v.length)

    def _np_eval(self, t: np.ndarray) -> np.ndarray:
        return np.power(float(self.rate), np.floor(t * (1.0 / self.every)))


@value
class OptaxGrowth(Schedule):
    """optax's ``exponential_decay`` with ``decay_rate > 1``: ``rate ** (t / every)``, which grows.

    optax does not refuse a rate above 1; the schedule grows without bound (capped only by
    ``end_value``). lrkit's own ``exponential`` is a decay (``factor`` in (0, 1]); this family keeps
    optax's growth for :func:`exponential_decay` alone. Natively, a capped growth is the geometric
    ramp ``anneal(steps, start, end, shape='exp')``.

    >>> optax_growth(2.0, 2)(6)
    8.0
    """

    name = "optax_growth"
    rate: float = param(v.rate)
    every: float = param(v.length)

    def _setup(self) -> float | None:
        if not self.rate > 1:
            raise ValueError(
                f"{self.name}: rate must be > 1, got {self.rate!r}; for a decay use exponential(rate, every=...)"
            )
        return None

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.rate ** (t / self.every)


#: Why a negative value is refused: optax computes one, lrkit never schedules it.
_NEGATIVE = "lrkit never schedules a negative learning rate (optax computes one)"
#: Why a negative ``warmup_steps`` is refused although optax computes a curve for it.
_NEGATIVE_WARMUP = (
    "optax documents a positive integer (given a negative one, its join starts the decay part-way in); lrkit "
    "refuses it: pass warmup_steps=0 for no warmup"
)


def _value(who: str, name: str, value: Any) -> float:
    """A value the schedule takes (``init_value``, ``peak_value``, ``end_value``, ...): a number >= 0."""
    return arg(who, name, value, 0, fix=_NEGATIVE)


def constant_schedule(value: float) -> Schedule:
    """``optax.constant_schedule``.  Native: ``constant(value)``.

    >>> constant_schedule(0.1)(5)
    0.1
    """
    return Constant(_value("constant_schedule", "value", value))


def polynomial_schedule(
    init_value: float, end_value: float, power: float, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """``optax.polynomial_schedule``: hold ``init_value`` until ``transition_begin``, then
    ``(init - end) * (1 - s / transition_steps) ** power + end``; ``transition_steps <= 0``
    gives a constant. Native: ``constant(init, begin) >> polynomial(steps, power, start=init, end=end)``.

    >>> polynomial_schedule(1.0, 0.0, 2, 10, transition_begin=5)(10)
    0.25
    """
    return _polynomial("polynomial_schedule", init_value, end_value, power, transition_steps, transition_begin)


def _polynomial(
    who: str, init_value: Any, end_value: Any, power: Any, transition_steps: Any, transition_begin: Any
) -> Schedule:
    init_value = _value(who, "init_value", init_value)
    end_value = _value(who, "end_value", end_value)
    power = arg(who, "power", power, 0, fix="optax's (1 - s / transition_steps) ** power is infinite at the end")
    transition_steps = arg(who, "transition_steps", transition_steps)
    begin = max(0, arg(who, "transition_begin", transition_begin))
    if transition_steps <= 0 or power == 0:  # power 0: optax's 0 ** 0 is 1 at the end too
        return Constant(init_value)
    ramp = Polynomial(transition_steps, power=power, end=end_value, start=init_value)
    return sequence(Constant(init_value, begin) if v.lasts(begin) else None, ramp)


def linear_schedule(init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """``optax.linear_schedule`` (``polynomial_schedule`` with ``power=1``).

    >>> linear_schedule(1.0, 0.0, 4)(1)
    0.75
    """
    return _polynomial("linear_schedule", init_value, end_value, 1, transition_steps, transition_begin)


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: int) -> Schedule:
    """``optax.warmup_constant_schedule``: linear from ``init_value`` to ``peak_value``, then held.

    >>> warmup_constant_schedule(0.0, 1.0, 4)(2)
    0.5
    """
    who = "warmup_constant_schedule"
    return _polynomial(who, init_value, _value(who, "peak_value", peak_value), 1, warmup_steps, 0)


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """``optax.piecewise_constant_schedule``: from each boundary on, multiply by its scale.

    Native: ``piecewise_constant(boundaries, cumulative values)``.

    >>> s = piecewise_constant_schedule(1.0, {10: 0.5, 20: 0.5})
    >>> s(9), s(10), s(20)
    (1.0, 0.5, 0.25)
    """
    who = "piecewise_constant_schedule"
    value = _value(who, "init_value", init_value)
    bounds: list[float] = []
    values = [value]
    for boundary, scale in _boundaries_and_scales(who, boundaries_and_scales):
        scale = v.non_negative(who, f"boundaries_and_scales[{boundary!r}]", scale)
        if boundary <= 0:
            values[-1] *= scale
        else:
            bounds.append(boundary)
            values.append(values[-1] * scale)
    return PiecewiseConstant(bounds, values) if bounds else Constant(values[0])


def _boundaries_and_scales(who: str, boundaries_and_scales: Mapping[int, float] | None) -> list[tuple[Any, Any]]:
    """The items of optax's ``boundaries_and_scales``, sorted by boundary; each boundary a number of steps."""
    items = (boundaries_and_scales or {}).items()
    for boundary, _ in items:
        if isinstance(boundary, bool) or not isinstance(boundary, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"{who}: boundaries_and_scales[{boundary!r}]: a boundary must be a number of steps, got "
                f"{type(boundary).__name__}; write {{10: 0.5}}, not {{'10': 0.5}}"
            )
    return sorted(items)


def exponential_decay(
    init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0, staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """``optax.exponential_decay``: ``init * decay_rate ** ((t - begin) / transition_steps)``.

    Held at ``init_value`` until ``transition_begin``; ``end_value`` clips the whole schedule
    from below (or, as in optax, from above when ``decay_rate == 1``). With
    ``staircase`` the drop can come one step late at exact multiples, as in optax
    (see :class:`OptaxStaircase`).
    ``decay_rate > 1`` grows, as in optax (:class:`OptaxGrowth`; ``end_value`` is then a ceiling).
    Native: ``clamp(constant(init, begin) >> exponential(rate, every=steps) * init, low=end)``.

    >>> exponential_decay(1.0, 10, 0.5, transition_begin=5)(25)
    0.25
    >>> exponential_decay(1.0, 2, 2.0)(6)    # optax grows with decay_rate > 1
    8.0
    """
    who = "exponential_decay"
    init = _value(who, "init_value", init_value)
    return _exponential(who, init, transition_steps, decay_rate, transition_begin, staircase, end_value)


def _exponential(
    who: str, init_value: float, transition_steps: Any, decay_rate: Any, transition_begin: Any, staircase: Any,
    end_value: Any,
) -> Schedule:
    staircase = v.flag(who, "staircase", staircase)
    transition_steps = arg(who, "transition_steps", transition_steps)
    decay_rate = arg(who, "decay_rate", decay_rate, 0, fix="optax's decay_rate ** (t / transition_steps) is NaN")
    begin = max(0, arg(who, "transition_begin", transition_begin))
    if end_value is not None:
        end_value = _value(who, "end_value", end_value)
    if transition_steps <= 0 or decay_rate == 0:  # optax: a constant
        return Constant(init_value)
    if staircase:
        shape: Schedule = OptaxStaircase(decay_rate, transition_steps)
    elif decay_rate > 1:
        shape = OptaxGrowth(decay_rate, transition_steps)
    else:
        shape = Exponential(decay_rate, transition_steps)
    decay = sequence(Constant(init_value, begin) if v.lasts(begin) else None, scaled(shape, init_value))
    if end_value is None:
        return decay
    # optax clips the whole schedule: a floor when decay_rate < 1, a ceiling otherwise (decay_rate == 1)
    return Clamp(decay, low=end_value) if decay_rate < 1 else Clamp(decay, high=end_value)


def cosine_decay_schedule(init_value: float, decay_steps: float, alpha: float = 0.0, exponent: float = 1.0) -> Schedule:
    """``optax.cosine_decay_schedule``: ``init * ((1 - alpha) * cos01(t) ** exponent + alpha)``.

    Native: ``cosine(decay_steps, floor=alpha) * init_value`` (``exponent=1``).

    >>> cosine_decay_schedule(2.0, 10, alpha=0.1)(10)
    0.2
    """
    who = "cosine_decay_schedule"
    decay_steps = v.length(who, "decay_steps", decay_steps)
    init_value = _value(who, "init_value", init_value)
    alpha = arg(who, "alpha", alpha, 0, fix=f"the schedule ends at alpha * init_value; {_NEGATIVE}")
    exponent = arg(who, "exponent", exponent, 0, fix="optax's cosine ** exponent is infinite at the end")
    if exponent == 0:  # optax's 0 ** 0 is 1 at the end too
        return Constant(init_value)
    native = exponent == 1 and alpha <= 1
    shape = Cosine(decay_steps, floor=alpha) if native else OptaxCosine(decay_steps, alpha, exponent)
    return scaled(shape, init_value)


def warmup_cosine_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int, end_value: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """``optax.warmup_cosine_decay_schedule``; ``decay_steps`` counts the warmup too.

    Native: ``anneal(W, init, peak, shape='linear') >> cosine(decay_steps - W, floor=end/peak) * peak``.

    >>> warmup_cosine_decay_schedule(0.0, 1.0, 2, 12, end_value=0.1)(12)
    0.1
    """
    who = "warmup_cosine_decay_schedule"
    init_value = _value(who, "init_value", init_value)
    peak_value = _value(who, "peak_value", peak_value)
    warmup = arg(who, "warmup_steps", warmup_steps, 0, fix=_NEGATIVE_WARMUP)
    total = arg(who, "decay_steps", decay_steps)
    end_value = _value(who, "end_value", end_value)
    exponent = arg(who, "exponent", exponent, 0, fix="optax's cosine ** exponent is infinite at the end")
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    if total - warmup <= 0:
        raise ValueError(f"{who}: decay_steps must be > warmup_steps, got {total!r} <= {warmup!r}")
    decay = cosine_decay_schedule(peak_value, total - warmup, alpha, exponent)
    if warmup == 0:
        return decay
    return Anneal(warmup, init_value, peak_value, "linear") >> decay


def warmup_exponential_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, transition_steps: int, decay_rate: float,
    transition_begin: int = 0, staircase: bool = False, end_value: float | None = None,
) -> Schedule:
    """``optax.warmup_exponential_decay_schedule``: linear warmup, then ``exponential_decay``.

    >>> warmup_exponential_decay_schedule(0.0, 1.0, 2, 1, 0.5)(4)
    0.25
    """
    who = "warmup_exponential_decay_schedule"
    init_value = _value(who, "init_value", init_value)
    peak_value = _value(who, "peak_value", peak_value)
    warmup = arg(who, "warmup_steps", warmup_steps, 0, fix=_NEGATIVE_WARMUP)
    decay = _exponential(who, peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value)
    if warmup == 0:
        return decay
    return Anneal(warmup, init_value, peak_value, "linear") >> decay


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """``optax.join_schedules``: schedule ``i`` from ``boundaries[i-1]`` (inclusive) on its local step.

    Native: ``take(s0, b0) >> take(s1, b1 - b0) >> ... >> s_last``.

    >>> s = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 0.0, 4)], [2])
    >>> s(1), s(2), s(4)
    (1.0, 1.0, 0.5)
    """
    who = "join_schedules"
    schedules = list(schedules)
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise ValueError(f"{who}: schedules[{i}] must be an lrkit schedule (a compat result), got {s!r}")
    bounds = v.increasing(who, "boundaries", boundaries)
    if len(bounds) != len(schedules) - 1:
        raise ValueError(f"{who}: needs one boundary fewer than schedules, got {len(schedules)} and {len(bounds)}")
    if bounds and bounds[0] <= 0:
        raise ValueError(f"{who}: boundaries must be > 0, got {bounds[0]!r}; drop the schedules that never run")
    starts = [0, *bounds]
    pieces = [take_exact(s, starts[i + 1] - starts[i]) for i, s in enumerate(schedules[:-1])]
    return sequence(*pieces, schedules[-1])


def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]]) -> Schedule:
    """``optax.sgdr_schedule``: ``warmup_cosine_decay_schedule`` pieces joined end to end.

    >>> s = sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10)] * 2)
    >>> s(2), s(10), s(12)
    (1.0, 0.0, 1.0)
    """
    pieces = [warmup_cosine_decay_schedule(**kwargs) for kwargs in cosine_kwargs]
    steps = [int(kwargs["decay_steps"]) for kwargs in cosine_kwargs]  # type: ignore[attr-defined]
    if not pieces:
        raise ValueError("sgdr_schedule: cosine_kwargs must not be empty")
    bounds = list(np.cumsum(steps[:-1]).tolist())
    return join_schedules(pieces, bounds) if len(pieces) > 1 else pieces[0]


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """``optax.piecewise_interpolate_schedule``: interpolate (``'linear'`` or ``'cosine'``) between boundaries.

    Values are ``init_value`` times the running product of the scales; after the last
    boundary the last value holds. Native: a join of ``anneal(b[i+1] - b[i], v[i], v[i+1], shape)``.

    >>> s = piecewise_interpolate_schedule('linear', 1.0, {10: 0.5})
    >>> s(5), s(10)
    (0.75, 0.5)
    """
    who = "piecewise_interpolate_schedule"
    shape = {"linear": "linear", "cosine": "cos"}.get(interpolate_type)
    if shape is None:
        raise ValueError(f"{who}: interpolate_type must be 'linear' or 'cosine', got {interpolate_type!r}")
    value = _value(who, "init_value", init_value)
    items = _boundaries_and_scales(who, boundaries_and_scales)
    if not items:
        return Constant(value)
    pieces: list[Schedule] = []
    start = 0
    for boundary, scale in items:
        scale = v.non_negative(who, f"boundaries_and_scales[{boundary!r}]", scale)
        if boundary < 0:
            raise ValueError(
                f"{who}: boundaries_and_scales[{boundary!r}]: a boundary must be >= 0, got {boundary!r}; it is "
                "the step where the scale is reached"
            )
        new = value * scale
        if boundary > start:
            pieces.append(Anneal(boundary - start, value, new, shape))
        start, value = max(start, boundary), new
    if not pieces:
        return Constant(value)
    return sequence(*pieces)


def _one_cycle(
    who: str, transition_steps: Any, peak_value: Any, div_factor: Any, final_div_factor: Any
) -> tuple[float, float, float, float]:
    """The arguments both onecycle schedules share, checked in optax's names."""
    return (
        arg(who, "transition_steps", transition_steps, 0, open_low=True, fix="give the number of steps of the cycle"),
        _value(who, "peak_value", peak_value),
        arg(who, "div_factor", div_factor, 0, open_low=True,
            fix="the schedule starts at peak_value / div_factor (optax divides by zero at 0)"),
        arg(who, "final_div_factor", final_div_factor, 0, open_low=True,
            fix="the schedule ends at peak_value / (div_factor * final_div_factor) (optax divides by zero at 0)"),
    )


def linear_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3, pct_final: float = 0.85, div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """``optax.linear_onecycle_schedule``: up to ``peak_value`` at ``int(pct_start * T)``, back to
    ``peak / div_factor`` at ``int(pct_final * T)``, then to ``peak / div / final_div_factor`` at ``T``.

    >>> linear_onecycle_schedule(100, 1.0, div_factor=10)(30)
    1.0
    """
    who = "linear_onecycle_schedule"
    steps, peak, div, final_div = _one_cycle(who, transition_steps, peak_value, div_factor, final_div_factor)
    pct_start = arg(who, "pct_start", pct_start, 0, 1, fix="the peak comes at int(pct_start * transition_steps)")
    pct_final = arg(who, "pct_final", pct_final, 0, 1, fix="the fall ends at int(pct_final * transition_steps)")
    scales: dict[Any, float] = {int(pct_start * steps): div, int(pct_final * steps): 1.0 / div, steps: 1.0 / final_div}
    return piecewise_interpolate_schedule("linear", peak / div, scales)


def cosine_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3, div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """``optax.cosine_onecycle_schedule``: cosine up to ``peak_value`` at ``int(pct_start * T)``,
    then down to ``peak / (div_factor * final_div_factor)`` at ``T``.
    Native: ``one_cycle(T, pct_start, div_factor, final_div_factor) * peak_value``.

    >>> cosine_onecycle_schedule(100, 1.0)(30)
    1.0
    """
    who = "cosine_onecycle_schedule"
    steps, peak, div, final_div = _one_cycle(who, transition_steps, peak_value, div_factor, final_div_factor)
    pct_start = arg(who, "pct_start", pct_start, 0, 1, fix="the peak comes at int(pct_start * transition_steps)")
    return piecewise_interpolate_schedule(
        "cosine", peak / div, {int(pct_start * steps): div, int(steps): 1.0 / (div * final_div)}
    )


def reduce_on_plateau(
    factor: float = 0.1,
    patience: int = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: int = 0,
    accumulation_size: int = 1,
    min_scale: float = 0.0,
) -> Schedule:
    """``optax.contrib.reduce_on_plateau`` as a multiplier: ``constant(1.0) * plateau(..., rule='optax')``.

    optax's decision: a reduction when the count of calls without improvement *equals*
    ``patience`` (torch's, lrkit's default, waits until it *exceeds* it), a cooldown call only
    counts down, and the scale never goes below ``min_scale`` (see :mod:`lrkit.core.plateau`).
    An improvement is ``value < best * (1 - rtol)`` (``atol=0``) or ``value < best - atol``
    (``rtol=0``). Feed it with :func:`lrkit.optax.scale_by_learning_rate` (``value=`` in
    ``update``, as optax's), :class:`lrkit.torch.Scheduler` or a :class:`lrkit.reactive.Controller`.

    Kept different on purpose (``docs/migration.md``): one threshold, relative or absolute
    (optax's ``(1 - rtol) * best - atol`` with both is refused); the relative threshold is
    sign-safe for negative metrics; ``accumulation_size`` other than 1 is refused (feed the
    mean of the values yourself).

    >>> s = reduce_on_plateau(patience=2, factor=0.5)
    >>> s
    constant() * plateau(factor=0.5, patience=2, eps=0.0, rule='optax')
    """
    who = "reduce_on_plateau"
    factor = arg(who, "factor", factor, 0, 1, open_low=True, open_high=True,
                 fix="it multiplies the scale at each reduction, e.g. 0.1 or 0.5")
    patience = v.integer(who, "patience", patience, minimum=0)
    cooldown = v.integer(who, "cooldown", cooldown, minimum=0)
    min_scale = arg(who, "min_scale", min_scale, 0, 1,
                    fix="it is the lowest scale the reductions reach (1.0: never reduce)")
    rtol = arg(who, "rtol", rtol, 0, 1, open_high=True,
               fix="an improvement is value < best * (1 - rtol); for an absolute margin give atol (and rtol=0.0)")
    atol = v.non_negative(who, "atol", atol)
    if rtol and atol:
        raise ValueError(
            f"{who}: lrkit's plateau takes one threshold, got rtol={rtol!r} and atol={atol!r}; "
            "give rtol (relative, atol=0.0) or atol (absolute, rtol=0.0)"
        )
    if not (rtol or atol):
        raise ValueError(f"{who}: at least one of rtol or atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
    if v.integer(who, "accumulation_size", accumulation_size) != 1:
        raise ValueError(
            f"{who}: accumulation_size must be 1, got {accumulation_size!r}; feed the mean of every "
            f"{accumulation_size} values yourself (one value per call)"
        )
    mode = ("rel", rtol) if rtol else ("abs", atol)
    node = Plateau(
        factor=factor, patience=patience, threshold=mode[1], threshold_mode=mode[0], cooldown=cooldown,
        min_scale=min_scale, eps=0.0, rule="optax",
    )
    return Constant(1.0) * node
