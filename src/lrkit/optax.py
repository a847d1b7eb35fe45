"""optax adapter: any lrkit schedule as an optax schedule (``count -> jnp scalar``), in pure ``jax.numpy``.

>>> import lrkit as lk
>>> from lrkit.optax import schedule
>>> lr = schedule(lk.warmup(10) >> lk.cosine(90), base_lr=3e-4)
>>> opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr)    # doctest: +SKIP

The schedule's closed form is traced by jax (:func:`lrkit.core.backend.jax_namespace`), so it runs on
the device and works under ``jit``, ``vmap``, ``grad``, ``lax.scan``, ``optax.inject_hyperparams``
and ``jax.export``; no host callback. It computes in jax's float (float32 unless x64 is on): within
1e-6 of the schedule's largest value of lrkit's float64 numbers. As in optax, a negative count
reads step 0. Schedules that cannot be traced (``noise``, the peers' float32 quirk families) and
``table=`` are tabulated once: the count indexes a device-side table of the float64 values.
Lengths and counts beyond int32 (``cosine(10**10)``, ``np.int64(5e9)``) are computed as floats, with x64 off too.
An integer count is evaluated in float64 (``jax.enable_x64`` around the closed form only; not on a TPU), so a
periodic schedule stays exact past ``2**24`` updates; a float16/bfloat16 step is first widened to jax's float.

A schedule with a :func:`~lrkit.plateau` reacts to a metric, which an optax schedule (a function of
the count alone) cannot receive: :func:`schedule` refuses it. :func:`scale_by_learning_rate` is the
gradient transformation for any lrkit schedule, plateaus included; like
``optax.contrib.reduce_on_plateau`` it takes the metric as ``value=`` in ``update``, and the plateau
state lives in the optimizer state (so it works under ``jit`` and is saved with it)::

    tx = optax.chain(optax.scale_by_adam(), scale_by_learning_rate(sched, base_lr=1e-3))
    updates, state = tx.update(grads, state, params, value=val_loss)
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, NamedTuple

import numpy as np

from lrkit._adapt import TracedPlateaus, exact_count, has_plateau, wide_as_float, wide_step
from lrkit.core.backend import jax_namespace
from lrkit.core.plateau import UNFED, check_kind
from lrkit.core.schedule import Schedule

try:
    import jax
    import jax.numpy as jnp
except ImportError as err:  # pragma: no cover - jax is installed where this is tested
    raise ImportError(f"lrkit.optax needs jax: pip install 'lrkit[jax]' ({err})") from err

__all__ = ["ScheduleState", "scale_by_learning_rate", "schedule"]

_MAX_TABLE = 1 << 24  # a tabulated schedule longer than this must say so with table=n
_FIX = "give table=<last step> (later counts hold its value)"


def schedule(sched: Schedule, base_lr: float = 1.0, *, dtype: Any = None, table: bool | int = False) -> Any:
    """An optax schedule ``count -> base_lr * sched(count)`` (a jnp array of ``count``'s shape).

    ``dtype`` is the result's dtype (default: jax's default float). ``table=True`` tabulates a
    finite schedule over ``0..ceil(length)``, ``table=n`` over ``0..n``; counts past the end hold
    the last value (exact for a finite schedule of length ``<= n``). Non-traceable schedules are
    tabulated over their length; an infinite one needs ``table=n``.

    >>> import optax, lrkit as lk
    >>> lr = schedule(lk.warmup(10) >> lk.cosine(90), base_lr=3e-4)
    >>> round(float(lr(10)), 8), round(float(lr(100)), 8)
    (0.0003, 0.0)
    >>> opt = optax.adamw(lr)   # any optax optimizer that takes a schedule
    """
    if not isinstance(sched, Schedule):
        raise ValueError(f"lrkit.optax.schedule: sched must be an lrkit schedule, got {sched!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real) or not 0 <= float(base_lr) < math.inf:
        raise ValueError(f"lrkit.optax.schedule: base_lr must be a finite number >= 0, got {base_lr!r}")
    if has_plateau(sched):
        raise ValueError(
            f"lrkit.optax.schedule: {sched!r} has a plateau, which an optax schedule (a function of the count) "
            "cannot feed; use lrkit.optax.scale_by_learning_rate(sched, base_lr) and pass value=<metric> to update()"
        )
    factor, xp, wide = float(base_lr), jax_namespace(), wide_as_float(sched)
    if table is False and not all(node.traceable for node in sched.walk()):
        if sched.length is None:
            raise ValueError(f"lrkit.optax.schedule: {sched!r} cannot be traced by jax and is infinite; {_FIX}")
        table = True
    if table is not False:
        return _tabulated(sched, factor, dtype, table)

    def evaluate(count: Any) -> Any:
        out = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
        t = jnp.asarray(wide_step(count))  # a half-precision step in jax's float
        with exact_count(t):  # an integer count in float64, x64 off too
            if not jnp.issubdtype(t.dtype, jnp.floating):  # compute in at least jax's float (not bfloat16)
                t = t.astype(jnp.promote_types(out, jnp.result_type(float)))
            value = wide.evaluate(t, xp) * factor
        return value.astype(out)

    return _named(evaluate, sched, factor)


def _tabulated(sched: Schedule, factor: float, dtype: Any, table: bool | int) -> Any:
    if table is True:
        if sched.length is None:
            raise ValueError(f"lrkit.optax.schedule: table=True needs a finite schedule, {sched!r} is infinite; {_FIX}")
        last = math.ceil(sched.length)
        if last > _MAX_TABLE:
            raise ValueError(f"lrkit.optax.schedule: {sched!r} is {last} steps long, too long to tabulate; {_FIX}")
    elif isinstance(table, bool) or not isinstance(table, int) or table < 0:
        raise ValueError(f"lrkit.optax.schedule: table must be True or a step count >= 0, got {table!r}")
    else:
        last = table
    out = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
    values = jnp.asarray(np.asarray(sched(np.arange(last + 1)) * factor), dtype=out)

    def evaluate(count: Any) -> Any:
        return values[jnp.clip(jnp.asarray(wide_step(count)), 0, last).astype(jnp.int32)]

    return _named(evaluate, sched, factor)


def _named(fn: Any, sched: Schedule, factor: float) -> Any:
    fn.__doc__, fn.lrkit_schedule, fn.base_lr = f"optax schedule for {sched!r} * {factor!r}", sched, factor
    return fn


class ScheduleState(NamedTuple):
    """The state of :func:`scale_by_learning_rate`: the update count, the last learning rate, and the
    state of every plateau node (arrays with one entry per node, in :class:`lrkit.reactive.Controller`'s
    order; ``best``/``smoothed`` are NaN until a finite value is seen).

    >>> import jax.numpy as jnp, lrkit as lk
    >>> tx = scale_by_learning_rate(lk.constant(1.0) * lk.plateau(patience=0), base_lr=0.1)
    >>> state = tx.init({"w": jnp.zeros(2)})
    >>> int(state.count), state.scale.shape     # one entry per plateau node
    (0, (1,))
    """

    count: Any
    learning_rate: Any
    best: Any
    bad: Any
    cooldown: Any
    scale: Any
    smoothed: Any
    calls: Any
    reductions: Any


def scale_by_learning_rate(
    sched: Schedule, base_lr: float = 1.0, *, flip_sign: bool = True, dtype: Any = None
) -> Any:
    """Scale updates by ``-base_lr * sched(count)`` (``optax.scale_by_learning_rate`` with an lrkit schedule).

    ``count`` is the number of earlier updates. A schedule with plateau nodes is fed by the metric
    passed as ``update(..., value=metric)`` (an ``optax.GradientTransformationExtraArgs``, like
    ``optax.contrib.reduce_on_plateau``): the value is observed at the current count, by the nodes
    active there, with the plateau rule of :mod:`lrkit.core.plateau` (each node's ``rule``), and the
    update uses the new multipliers. Updates without ``value`` observe nothing (under ``jit`` the two
    calls are two traces). The decisions are those of :class:`lrkit.reactive.Controller` on the same
    values and counts (computed in jax's float: bitwise the same comparisons with x64; in float32 a
    value within float32 rounding of a threshold may decide differently). The state
    (:class:`ScheduleState`) holds the count, the learning rate of the last update and every
    plateau counter, so it works under ``jit``/``lax.scan`` and is checkpointed with the optimizer (fields of
    plain numbers and lists, a JSON checkpoint read back, are converted). A plateau never fed warns once: at
    the 50th eager update without ``value=`` while it is active, or when ``jit`` traces an update without
    ``value=`` before any update passed one (Python runs once per trace, not per update).

    >>> import lrkit as lk
    >>> tx = scale_by_learning_rate(lk.constant(1.0) * lk.plateau(patience=0, factor=0.5), base_lr=0.1)
    >>> state = tx.init(jnp.zeros(2))
    >>> for loss in (1.0, 1.0):
    ...     updates, state = tx.update(jnp.ones(2), state, value=loss)
    >>> float(state.learning_rate), updates.tolist()
    (0.05000000074505806, [-0.05000000074505806, -0.05000000074505806])
    """
    import optax

    who = "lrkit.optax.scale_by_learning_rate"
    if not isinstance(sched, Schedule):
        raise ValueError(f"{who}: sched must be an lrkit schedule, got {sched!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real) or not 0 <= float(base_lr) < math.inf:
        raise ValueError(f"{who}: base_lr must be a finite number >= 0, got {base_lr!r}")
    plateaus = TracedPlateaus(sched, who)
    if len(plateaus) and not all(node.traceable for node in sched.walk()):
        raise ValueError(
            f"{who}: {sched!r} cannot be traced by jax, and a table cannot follow its plateau; "
            "build it from traceable families (noise and the peers' quirk families are not)"
        )
    if not len(plateaus):
        fixed = schedule(sched, base_lr, dtype=dtype)
    factor, xp, sign = float(base_lr), jax_namespace(), -1.0 if flip_sign else 1.0
    unfed = _Unfed(plateaus, who)

    def float_type() -> Any:
        return jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)

    def init_fn(params: Any) -> ScheduleState:
        del params
        fields = plateaus.initial(jnp, jnp.result_type(float))
        return ScheduleState(
            count=jnp.zeros([], jnp.int32), learning_rate=jnp.zeros([], float_type()), **fields
        )

    def update_fn(updates: Any, state: ScheduleState, params: Any = None, *, value: Any = None, **extra: Any) -> Any:
        del params, extra
        state = _checked(state, len(plateaus), who, float_type(), jnp.result_type(float))
        fields = {key: getattr(state, key) for key in ("best", "bad", "cooldown", "scale", "smoothed", "calls",
                                                       "reductions")}
        if not len(plateaus):
            lr = fixed(state.count)
        else:
            t = state.count.astype(fields["scale"].dtype)
            if value is not None:
                fields = plateaus.observe(fields, _metric(value, who), t, jnp, xp)
            unfed.update(value is not None, state.count)
            with exact_count(state.count):  # the count in float64, x64 off too
                lr = plateaus.value(state.count.astype(jnp.result_type(float)), fields["scale"], xp) * factor
            lr = lr.astype(float_type())
        updates = jax.tree.map(lambda g: (sign * lr).astype(g.dtype) * g, updates)
        count = optax.safe_int32_increment(state.count)
        return updates, ScheduleState(count=count, learning_rate=lr, **fields)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class _Unfed:
    """Warn once when the plateau(s) of a :func:`scale_by_learning_rate` are never fed ``value=``.

    Eager updates are counted as :class:`lrkit.torch.Scheduler` counts its steps: the ``UNFED``-th update without
    a metric while a plateau is active (and none fed yet) warns. A jitted update runs this Python once per trace,
    not per update: a trace without ``value=`` before any call with it warns then (a loop that feeds the metric
    later, in its own trace, sees this once and may ignore it).
    """

    def __init__(self, plateaus: TracedPlateaus, who: str):
        self.controller, self.who = plateaus.controller, who
        self.done = not len(plateaus)  # fed, or said once
        self.count = 0

    def update(self, fed: bool, count: Any) -> None:
        if self.done or fed:
            self.done = True
            return
        if isinstance(count, jax.core.Tracer):
            self._warn(
                "update() was traced without value= while the schedule holds a plateau(...), and no update has "
                "passed a metric yet"
            )
            return
        if not self.controller.active(int(count)):
            return  # e.g. still in the warmup before the plateau's piece
        self.count += 1
        if self.count >= UNFED:
            self._warn(f"the schedule's plateau(...) has been active for {UNFED} updates and no metric has reached it")

    def _warn(self, what: str) -> None:
        self.done = True
        warnings.warn(
            f"{self.who}: {what}; it reduces only when fed one. Pass the metric after each evaluation: "
            "tx.update(grads, state, params, value=val_loss). If your first evaluation is still to come, ignore "
            "this (said once)",
            UserWarning,
            stacklevel=4,
        )


def _metric(value: Any, who: str) -> Any:
    """``value=`` as a jax scalar of a real type (a number, a 0-d array, a tracer), else one ``ValueError``."""
    check_kind(value, who)
    try:
        x = jnp.asarray(value)
    except TypeError:
        x = None
    if x is not None and x.ndim == 0 and (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == jnp.bool_):
        if not jnp.issubdtype(x.dtype, jnp.complexfloating):
            return x
    found = f"an array of shape {x.shape}" if x is not None and x.ndim else f"{value!r} (a {type(value).__name__})"
    raise ValueError(
        f"{who}: value= must be one real number (the metric), got {found}; pass e.g. value=float(val_loss)"
    )


_INTEGER_FIELDS = ("bad", "cooldown", "calls", "reductions")


def _field(name: str, value: Any, plateaus: int, who: str, lr_type: Any, state_type: Any) -> Any:
    """Field ``name`` of a state as an array: arrays (traced too) as they are, the plain numbers and lists of a
    checkpoint read back from text (JSON) as the arrays :meth:`init` makes, else a ``ValueError`` naming it."""
    if hasattr(value, "shape"):
        return value
    integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if name == "count":
        if not integer:
            raise ValueError(f"{who}: state.count must be an integer (the update count), got {value!r}")
        return jnp.asarray(value, jnp.int32)
    if name == "learning_rate":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{who}: state.learning_rate must be a number, got {value!r}")
        return jnp.asarray(value, lr_type)
    kind = numbers.Integral if name in _INTEGER_FIELDS else numbers.Real
    items = list(value) if isinstance(value, (list, tuple)) else None
    if items is None or len(items) != plateaus or any(isinstance(x, bool) or not isinstance(x, kind) for x in items):
        what = "integer(s)" if kind is numbers.Integral else "number(s)"
        raise ValueError(f"{who}: state.{name} must hold {plateaus} {what} (one per plateau), got {value!r}")
    return jnp.asarray(items, jnp.int32 if kind is numbers.Integral else state_type)


def _checked(state: Any, plateaus: int, who: str, lr_type: Any, state_type: Any) -> ScheduleState:
    """``state`` as the :class:`ScheduleState` of a schedule with ``plateaus`` plateau nodes (a plain tuple of its
    fields, as a checkpoint restored without its structure gives, is one; so are fields of plain numbers and lists,
    as a JSON checkpoint gives), else a ``ValueError``: the shapes are static, so this holds under ``jit`` (jax would
    clamp an index past another schedule's counters silently)."""
    if not isinstance(state, ScheduleState) and isinstance(state, (tuple, list)) and len(state) == 9:
        state = ScheduleState(*state)
    if isinstance(state, ScheduleState):
        state = ScheduleState(
            **{k: _field(k, v, plateaus, who, lr_type, state_type) for k, v in state._asdict().items()}
        )
    shape = getattr(getattr(state, "scale", None), "shape", None) if isinstance(state, ScheduleState) else None
    if shape != (plateaus,):
        found = type(state).__name__ if shape is None else f"a state with {shape[0] if shape else 0} plateau(s)"
        raise ValueError(
            f"{who}: state must be the ScheduleState this transformation's init() returned (for a schedule with "
            f"{plateaus} plateau(s)), got {found}; pass the state of this optimizer, not another schedule's"
        )
    return state
