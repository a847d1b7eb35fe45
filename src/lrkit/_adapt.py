"""What the jax (optax) and Keras adapters share: wide integers, plateau nodes, the traced plateau rule.

* :func:`wide_as_float`: jax (without x64) and Keras on jax turn a Python ``int`` into an int32
  constant, so a schedule parameter ``>= 2**31`` (``cosine(10**10)``) raises ``OverflowError`` inside
  the closed form. The adapters evaluate a copy whose wide integers are floats (the same numbers:
  ``10**10 == 1e10``), rebuilt through the public config round trip.
* :func:`traced_plateaus`: the plateau rule of :mod:`lrkit.core.plateau` (all three ``rule`` variants)
  written with ``jax.numpy`` on the state arrays of every plateau node, the nodes a metric reaches at a
  traced step (:meth:`lrkit.reactive.Controller.active`, read from the same routes), and the schedule's
  value with each plateau replaced by its current (traced) scale (:meth:`lrkit.reactive.Controller.resolve`).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any

import numpy as np

from lrkit.core.config import from_config
from lrkit.core.plateau import Plateau
from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller, map_plateaus

__all__ = ["TracedPlateaus", "exact_count", "has_plateau", "wide_as_float", "wide_step"]

_INT32 = 2**31


def has_plateau(schedule: Schedule) -> bool:
    """Whether a :class:`~lrkit.core.plateau.Plateau` is anywhere in ``schedule``."""
    return any(isinstance(node, Plateau) for node in schedule.walk())


def _widen(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool):
        return value, False
    if isinstance(value, int):
        return (float(value), True) if abs(value) >= _INT32 else (value, False)
    if isinstance(value, dict):
        pairs = [(key, _widen(item)) for key, item in value.items()]
        return {key: item for key, (item, _) in pairs}, any(changed for _, (_, changed) in pairs)
    if isinstance(value, list):
        items = [_widen(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


def wide_as_float(schedule: Schedule) -> Schedule:
    """``schedule`` with every integer parameter ``>= 2**31`` as a float (``schedule`` itself if it has none).

    >>> import lrkit as lk
    >>> wide_as_float(lk.cosine(10**10)).to_config()
    {'type': 'cosine', 'steps': 10000000000.0}
    >>> s = lk.cosine(100)
    >>> wide_as_float(s) is s
    True
    """
    config, changed = _widen(schedule.to_config())
    return from_config(config) if changed else schedule


def wide_step(step: Any) -> Any:
    """``step`` as jax and Keras read it exactly: an integer beyond int32 (a Python or numpy integer, a numpy
    integer array) as a float (converting it, jax and Keras would overflow or wrap it around: ``np.int64(5e9)``
    read as 705032704), and a 16-bit float step (numpy, jax) in a wider float (the closed form would compute in
    half precision: ``cos`` at bfloat16 37 off by 4.6e-3 of the peak). Anything else is returned as is.

    >>> wide_step(5 * 10**9), wide_step(np.int64(5 * 10**9)), wide_step(np.int64(7))
    (5000000000.0, 5000000000.0, np.int64(7))
    """
    if isinstance(step, (bool, np.bool_)):
        return step
    if isinstance(step, (int, np.integer)):
        return float(step) if abs(int(step)) >= _INT32 else step
    dtype = getattr(step, "dtype", None)
    if isinstance(step, (np.ndarray, np.generic)) and dtype is not None:
        if dtype.kind in "iu" and step.size and (step.max() >= _INT32 or step.min() <= -_INT32):
            return step.astype(np.float64)
        return step.astype(np.float64) if dtype.kind == "f" and dtype.itemsize < 4 else step
    if dtype is not None and type(step).__module__.startswith(("jax", "jaxlib")):  # a jax array, traced or not
        import jax.numpy as jnp

        if jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 4:
            return step.astype(jnp.result_type(float))
    return step


def exact_count(t: Any) -> contextlib.AbstractContextManager[Any]:
    """The context to evaluate a schedule at jax step ``t`` in: ``jax.enable_x64(True)`` for integer counts while
    x64 is off, so that they become float64 (exact), else nothing.

    float32 holds integers up to ``2**24`` only: beyond, an int32 count turned float32 moves by up to 64 updates
    (``20_004_999`` reads ``20_005_000``), which a periodic schedule (``sgdr(1000)``, ``cyclic``) or a piece that
    starts that late reads as another phase: a restart an update early is an error of the whole range. Only the
    schedule's closed form runs in float64 (its value is then cast to the adapter's float type); a TPU, which has
    no native float64, keeps float32 (exact up to ``2**24`` updates).
    """
    import jax
    import jax.numpy as jnp

    x64 = jnp.result_type(float) == jnp.float64
    if jnp.issubdtype(t.dtype, jnp.integer) and not x64 and jax.default_backend() != "tpu":
        return jax.enable_x64(True)
    return contextlib.nullcontext()


# -- the traced plateau state ----------------------------------------------------------------------------------------

#: The current scales while a fed schedule is evaluated (one array per evaluation, never global state).
_SCALES: contextvars.ContextVar[Any] = contextvars.ContextVar("lrkit_plateau_scales")

FIELDS = ("best", "bad", "cooldown", "scale", "smoothed", "calls", "reductions")


class _Fed(Plateau):
    """A plateau whose value is its node's current scale, read during a traced evaluation."""

    _slot: int

    def _eval(self, t: Any, xp: Any) -> Any:
        return xp.full(t, 1.0) * _SCALES.get()[self._slot]


def _fed(plateau: Plateau, slot: int) -> Schedule:
    """A :class:`_Fed` in place of plateau ``slot`` (the Controller's numbering), reading scale ``slot``."""
    fed = _Fed(**dict(plateau._params))
    object.__setattr__(fed, "_slot", slot)
    return fed


class TracedPlateaus:
    """Every plateau of ``schedule``, its rule on state arrays, and the schedule's value at traced scales.

    Built once per adapter object from a :class:`lrkit.reactive.Controller` (which validates the
    schedule and fixes the numbering of the nodes); ``xp`` is the array module (``jax.numpy``).
    The decisions are the Controller's, computed in the state's float type (exactly the same
    comparisons in float64; in float32 a value within float32 rounding of a threshold may fall on
    the other side).
    """

    def __init__(self, schedule: Schedule, who: str):
        self.controller = Controller(schedule)  # validates (a plateau as a join piece is refused)
        self.plateaus = self.controller.plateaus
        for node in self.plateaus:
            if node.nan == "raise":
                raise ValueError(
                    f"{who}: {node!r} has nan='raise', which cannot raise inside jax.jit; use nan='bad' "
                    "(a non-finite value counts as no improvement) or nan='ignore'"
                )
        wide = wide_as_float(schedule)
        self._routes = wide
        self.fed = map_plateaus(wide, _fed)

    def __len__(self) -> int:
        return len(self.plateaus)

    def initial(self, jnp: Any, dtype: Any) -> dict[str, Any]:
        """The state of a Controller that has seen nothing: ``best``/``smoothed`` NaN stand for ``None``."""
        n = len(self.plateaus)
        nan = jnp.full((n,), jnp.nan, dtype)
        zeros = jnp.zeros((n,), jnp.int32)
        return {
            "best": nan, "bad": zeros, "cooldown": zeros, "scale": jnp.ones((n,), dtype), "smoothed": nan,
            "calls": zeros, "reductions": zeros,
        }

    def active(self, t: Any, xp: Any) -> list[Any]:
        """Per plateau (pre-order), whether a metric reported at traced step ``t`` reaches it."""
        out: list[Any] = []

        def visit(node: Schedule, t: Any, cond: Any) -> None:
            if isinstance(node, Plateau):
                out.append(cond)
                return
            if node.length is not None:
                t = xp.minimum(t, float(node.length))
            for route in node.routes():
                if not has_plateau(route.child):
                    continue
                inside = cond
                if route.lo > 0:
                    inside = inside & (t >= float(route.lo))
                if route.hi < math.inf:
                    inside = inside & (t < float(route.hi))
                visit(route.child, route.map.forward(t, xp), inside)

        visit(self._routes, t, t >= 0.0)
        return out

    def observe(self, state: dict[str, Any], value: Any, t: Any, jnp: Any, xp: Any) -> dict[str, Any]:
        """The state after one metric ``value`` at traced step ``t`` (the Controller's ``observe``)."""
        dtype = state["scale"].dtype
        x = jnp.asarray(value, dtype)
        if x.ndim:
            raise ValueError(f"the metric must be a scalar, got an array of shape {x.shape}")
        active = self.active(t, xp)
        rows = [
            _observe_one(node, {k: state[k][i] for k in FIELDS}, x, active[i], jnp)
            for i, node in enumerate(self.plateaus)
        ]
        return {k: jnp.stack([row[k] for row in rows]).astype(state[k].dtype) for k in FIELDS}

    def value(self, t: Any, scales: Any, xp: Any) -> Any:
        """The schedule at traced step ``t`` with plateau ``i`` multiplied by ``scales[i]``."""
        token = _SCALES.set(scales)
        try:
            return self.fed.evaluate(t, xp)
        finally:
            _SCALES.reset(token)


def _improves(node: Plateau, v: Any, best: Any, jnp: Any) -> Any:
    """:meth:`Plateau.improves` on arrays (``best`` NaN: nothing seen yet)."""
    thr = node.threshold
    if node.threshold_mode == "abs":
        better = v < best - thr if node.mode == "min" else v > best + thr
    elif node.mode == "min":
        better = v < jnp.where(best >= 0, best * (1.0 - thr), best * (1.0 + thr))
    else:
        better = v > jnp.where(best >= 0, best * (thr + 1.0), best * (1.0 - thr))
    return jnp.isnan(best) | better


def _observe_one(node: Plateau, s: dict[str, Any], x: Any, active: Any, jnp: Any) -> dict[str, Any]:
    """:meth:`lrkit.core.plateau.PlateauState.observe` for one node, as ``where`` chains."""
    finite = jnp.isfinite(x)
    take = active & finite if node.nan == "ignore" else active
    v, smoothed = x, s["smoothed"]
    if node.smoothing > 0:
        v = jnp.where(jnp.isnan(smoothed), x, node.smoothing * smoothed + (1.0 - node.smoothing) * x)
        smoothed = jnp.where(finite, v, smoothed)
    improved = finite & _improves(node, v, s["best"], jnp)
    best = jnp.where(improved, v, s["best"])
    bad, cooldown, scale = s["bad"], s["cooldown"], s["scale"]
    in_cooldown = cooldown > 0
    if node.rule == "keras":
        cooldown = jnp.where(in_cooldown, cooldown - 1, cooldown)
        bad = jnp.where(in_cooldown, 0, bad)
        counts = ~improved & ~(cooldown > 0)
        bad = jnp.where(improved, 0, jnp.where(counts, bad + 1, bad))
        fire = counts & (bad >= node.patience) & (scale > node.min_scale)
    else:
        bad = jnp.where(improved, 0, bad + 1)
        cooldown = jnp.where(in_cooldown, cooldown - 1, cooldown)
        bad = jnp.where(in_cooldown, 0, bad)
        fire = bad > node.patience if node.rule == "torch" else ~in_cooldown & (bad == node.patience)
    cooldown = jnp.where(fire, node.cooldown, cooldown)
    bad = jnp.where(fire, 0, bad)
    new = jnp.maximum(scale * node.factor, node.min_scale)
    scale = jnp.where(fire & (scale - new > node.eps), new, scale)
    out = {
        "best": best, "bad": bad, "cooldown": cooldown, "scale": scale, "smoothed": smoothed,
        "calls": s["calls"] + 1, "reductions": s["reductions"] + fire.astype(jnp.int32),
    }
    return {k: jnp.where(take, out[k], s[k]) for k in FIELDS}
