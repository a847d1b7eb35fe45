"""optax adapter: any lrkit schedule as an optax schedule (``count -> jnp scalar``).

>>> import lrkit as lk
>>> from lrkit.optax import schedule
>>> lr = schedule(lk.warmup(10) >> lk.cosine(90), base_lr=3e-4)   # doctest: +SKIP
>>> opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr)    # doctest: +SKIP

Two ways to compute it, both exact (the schedule's own float64 closed form, rounded once
to the result dtype) and both usable under ``jax.jit``, ``jax.vmap`` and inside
``optax.inject_hyperparams``, for every lrkit schedule (compat quirks included):

* default: ``jax.pure_callback`` evaluates the schedule on the host at the traced count.
  A learning rate needs no gradient, so the callback being opaque to differentiation
  costs nothing; it costs one small host round trip per evaluation (once per step).
* ``table=True`` (finite schedules) or ``table=n``: the values at steps ``0..n`` are
  computed once and the count indexes them on the device (no host round trip; good on
  accelerators). Counts past ``n`` hold the value at ``n``, which is exact for a finite
  schedule of length ``<= n``; counts are whole numbers in optax.

jax is imported when :func:`schedule` is called, not when this module is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit.schedule import Schedule

__all__ = ["schedule"]


def schedule(sched: Schedule, base_lr: float = 1.0, *, dtype: Any = None, table: bool | int = False) -> Any:
    """An optax-compatible schedule ``count -> base_lr * sched(count)`` (a jnp array of ``count``'s shape).

    ``dtype`` is the result's dtype (default: jax's default float, float32 unless x64 is on).
    ``table``: ``True`` tabulates a finite schedule over ``0..ceil(length)``; an integer ``n``
    tabulates ``0..n`` (see the module docstring). Negative counts raise (callback) or read
    step 0 (table), as lrkit schedules are defined from step 0.
    """
    if not isinstance(sched, Schedule):
        raise ValueError(f"lrkit.optax.schedule: sched must be an lrkit schedule, got {sched!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not np.isfinite(base_lr) or base_lr < 0:
        raise ValueError(f"lrkit.optax.schedule: base_lr must be a finite number >= 0, got {base_lr!r}")
    import jax
    import jax.numpy as jnp

    out_dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
    factor = float(base_lr)
    if table is not False:
        return _tabulated(sched, factor, out_dtype, table)

    def host(count: np.ndarray) -> np.ndarray:
        values = sched(np.asarray(count, dtype=np.float64)) * factor
        return np.asarray(values, dtype=out_dtype)

    def evaluate(count: Any) -> Any:
        count = jnp.asarray(count)
        shape = jax.ShapeDtypeStruct(count.shape, out_dtype)
        return jax.pure_callback(host, shape, count, vmap_method="expand_dims")

    evaluate.__doc__ = f"optax schedule for {sched!r} * {factor!r}"
    evaluate.lrkit_schedule = sched  # type: ignore[attr-defined]
    evaluate.base_lr = factor  # type: ignore[attr-defined]
    return evaluate


def _tabulated(sched: Schedule, factor: float, out_dtype: Any, table: bool | int) -> Any:
    import math

    import jax.numpy as jnp

    if table is True:
        if sched.length is None:
            raise ValueError(
                f"lrkit.optax.schedule: table=True needs a finite schedule, {sched!r} is infinite; "
                "give table=<last step> or use the default callback"
            )
        last = math.ceil(sched.length)
    elif isinstance(table, bool) or not isinstance(table, int) or table < 0:
        raise ValueError(f"lrkit.optax.schedule: table must be True or a step count >= 0, got {table!r}")
    else:
        last = table
    values = jnp.asarray(np.asarray(sched(np.arange(last + 1)) * factor, dtype=out_dtype))

    def evaluate(count: Any) -> Any:
        index = jnp.clip(jnp.asarray(count), 0, last).astype(jnp.int32)
        return values[index]

    evaluate.__doc__ = f"optax schedule for {sched!r} * {factor!r}, tabulated over 0..{last}"
    evaluate.lrkit_schedule = sched  # type: ignore[attr-defined]
    evaluate.base_lr = factor  # type: ignore[attr-defined]
    return evaluate
