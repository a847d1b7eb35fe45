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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit.core.backend import jax_namespace
from lrkit.core.schedule import Schedule

try:
    import jax.numpy as jnp
except ImportError as err:  # pragma: no cover - jax is installed where this is tested
    raise ImportError(f"lrkit.optax needs jax: pip install 'lrkit[jax]' ({err})") from err

__all__ = ["schedule"]

_MAX_TABLE = 1 << 24  # a tabulated schedule longer than this must say so with table=n
_FIX = "give table=<last step> (later counts hold its value)"


def schedule(sched: Schedule, base_lr: float = 1.0, *, dtype: Any = None, table: bool | int = False) -> Any:
    """An optax schedule ``count -> base_lr * sched(count)`` (a jnp array of ``count``'s shape).

    ``dtype`` is the result's dtype (default: jax's default float). ``table=True`` tabulates a
    finite schedule over ``0..ceil(length)``, ``table=n`` over ``0..n``; counts past the end hold
    the last value (exact for a finite schedule of length ``<= n``). Non-traceable schedules are
    tabulated over their length; an infinite one needs ``table=n``.
    """
    if not isinstance(sched, Schedule):
        raise ValueError(f"lrkit.optax.schedule: sched must be an lrkit schedule, got {sched!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not 0 <= base_lr < math.inf:
        raise ValueError(f"lrkit.optax.schedule: base_lr must be a finite number >= 0, got {base_lr!r}")
    factor, xp = float(base_lr), jax_namespace()
    if table is False and not all(node.traceable for node in sched.walk()):
        if sched.length is None:
            raise ValueError(f"lrkit.optax.schedule: {sched!r} cannot be traced by jax and is infinite; {_FIX}")
        table = True
    if table is not False:
        return _tabulated(sched, factor, dtype, table)

    def evaluate(count: Any) -> Any:
        out = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
        t = jnp.asarray(count)
        if not jnp.issubdtype(t.dtype, jnp.floating):  # compute in at least jax's float (not bfloat16)
            t = t.astype(jnp.promote_types(out, jnp.result_type(float)))
        return (sched.evaluate(t, xp) * factor).astype(out)

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
        return values[jnp.clip(jnp.asarray(count), 0, last).astype(jnp.int32)]

    return _named(evaluate, sched, factor)


def _named(fn: Any, sched: Schedule, factor: float) -> Any:
    fn.__doc__, fn.lrkit_schedule, fn.base_lr = f"optax schedule for {sched!r} * {factor!r}", sched, factor
    return fn
