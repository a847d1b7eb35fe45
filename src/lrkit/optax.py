"""optax adapter: any lrkit schedule as an optax schedule (``count -> jnp scalar``).

>>> import lrkit as lk
>>> from lrkit.optax import schedule
>>> lr = schedule(lk.warmup(10) >> lk.cosine(90), base_lr=3e-4)   # doctest: +SKIP
>>> opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr)    # doctest: +SKIP

The value is computed by the schedule's own float64 closed form on the host through
``jax.pure_callback``, so it works under ``jax.jit``, ``jax.vmap`` and inside
``optax.inject_hyperparams`` for every lrkit schedule (compat quirks included), and it
is exactly the value lrkit prints. A learning rate needs no gradient, so the callback
being opaque to differentiation costs nothing; it costs one small host round trip per
evaluation (once per optimizer step). jax is imported when :func:`schedule` is called,
not when this module is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit.schedule import Schedule

__all__ = ["schedule"]


def schedule(sched: Schedule, base_lr: float = 1.0, *, dtype: Any = None) -> Any:
    """An optax-compatible schedule ``count -> base_lr * sched(count)`` (a jnp array of ``count``'s shape).

    ``dtype`` is the result's dtype (default: jax's default float, float32 unless x64 is on).
    Negative counts raise, as lrkit schedules are defined from step 0.
    """
    if not isinstance(sched, Schedule):
        raise ValueError(f"lrkit.optax.schedule: sched must be an lrkit schedule, got {sched!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not np.isfinite(base_lr) or base_lr < 0:
        raise ValueError(f"lrkit.optax.schedule: base_lr must be a finite number >= 0, got {base_lr!r}")
    import jax
    import jax.numpy as jnp

    out_dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
    factor = float(base_lr)

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
