"""Reduce-on-plateau as a composable multiplier: the :class:`Plateau` node and its decision rule.

A :class:`Plateau` is a *placeholder* in a schedule tree. As a pure value it is ``1.0``
everywhere and has no duration of its own (``length == 0``), so in a product it lasts as long
as the other factor::

    warmup(500) >> (constant(1.0, 5000) * plateau(patience=3)) >> cosine(2000)

A :class:`lrkit.reactive.Controller` finds the plateau nodes, feeds them metric values and
replaces each by its current multiplier. The decision rule, per metric value ``x``:

1. Non-finite ``x`` (NaN, +-inf) follows ``nan``: ``'bad'`` (default) counts it as a call
   without improvement and leaves ``best`` and the smoothed value alone, ``'ignore'`` skips the
   call entirely (no counter moves), ``'raise'`` raises :class:`ValueError`.
2. With ``smoothing = b > 0`` the rule sees ``m_k = b m_{k-1} + (1 - b) x_k`` (``m_1 = x_1``).
3. ``m`` improves on ``best`` (mode ``min``) if ``m < best - |best| * threshold`` (``rel``) or
   ``m < best - threshold`` (``abs``); mode ``max`` mirrors it. The first value always improves.
   ``|best|`` makes the relative threshold sign-safe: a flat series at -1.0 behaves exactly
   like one at +1.0 (PyTorch's ``best * (1 - threshold)`` treats a worse negative value as an
   improvement). For ``best >= 0`` the comparison is computed as ``best * (1 - threshold)``,
   bit for bit PyTorch's.
4. Improvement resets the bad-call counter; otherwise it grows by one. During cooldown the
   cooldown counter falls by one and the bad-call counter is held at 0.
5. When the bad-call counter exceeds ``patience``: ``scale <- max(scale * factor, min_scale)``
   (kept only if it falls by more than ``eps``), the cooldown counter becomes ``cooldown`` and
   the bad-call counter 0.

On positive metrics with ``smoothing=0`` this is exactly PyTorch's ``ReduceLROnPlateau`` with
``min_lr = min_scale * base_lr`` (``eps`` applies to the multiplier, i.e. to the learning rate
when the base learning rate is 1).

Steps 4 and 5 are the ``rule='torch'`` decision (the default). Two peers decide differently on the
same counters, and ``rule`` selects their decision (steps 1-3 are shared):

* ``rule='optax'`` (``optax.contrib.reduce_on_plateau``): the bad-call counter is reset by an
  improvement, otherwise grows by one; during cooldown it is held at 0, the cooldown counter falls by
  one and nothing else happens; otherwise a reduction comes when the counter *equals* ``patience``
  (so ``patience=p`` reduces one call earlier than torch's, and ``patience=0`` reduces on every call
  that *improves*, as optax does).
* ``rule='keras'`` (``keras.callbacks.ReduceLROnPlateau``): the cooldown counter falls first (the
  bad-call counter is held at 0 while it is positive); an improvement resets the counter; otherwise,
  once out of cooldown (the call that ends a cooldown counts), the counter grows by one and a
  reduction comes when it reaches ``patience`` (``>=``) and the multiplier is above ``min_scale``;
  only a reduction that happens starts a cooldown.

:func:`lrkit.compat.optax.reduce_on_plateau` and :func:`lrkit.compat.keras.ReduceLROnPlateau` build
the peers' plateaus with these rules.

>>> p = plateau(patience=1, factor=0.5)
>>> p(0), p(10**6), p.length
(1.0, 1.0, 0)
>>> state = PlateauState()
>>> [state.observe(p, x) for x in (3.0, 2.0, 2.0, 2.0, 2.0, 2.0)]
[False, False, False, True, False, True]
>>> state.scale
0.25
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lrkit.core import _validate as v
from lrkit.core.backend import Namespace
from lrkit.core.schedule import Schedule

__all__ = ["NAN_POLICIES", "RULES", "UNFED", "Plateau", "PlateauState", "check_kind", "metric"]

#: What a non-finite metric value does (see the module docstring).
NAN_POLICIES = ("bad", "ignore", "raise")

#: Updates with a plateau active and never fed a metric before an adapter says so, once (docs/reactive.md).
UNFED = 50
#: Whose decision rule a plateau follows (see the module docstring): PyTorch's (default), optax's, Keras'.
RULES = ("torch", "optax", "keras")


class Plateau(Schedule):
    """Multiply by a factor whenever a metric stops improving (a reactive multiplier, value 1.0 as a pure schedule).

    Parameters follow PyTorch's ``ReduceLROnPlateau`` where it has them: ``mode`` (``'min'`` or
    ``'max'``), ``factor`` in (0, 1), ``patience`` (calls without improvement tolerated),
    ``threshold`` and ``threshold_mode`` (``'rel'`` or ``'abs'``), ``cooldown`` (calls ignored
    after a reduction), ``eps`` (smallest change applied). ``min_scale`` is the floor of the
    multiplier (PyTorch's ``min_lr`` divided by the base learning rate; for an absolute floor per
    parameter group use ``clamp(schedule, low=min_lr / base_lr)`` on that group's schedule).
    ``smoothing`` in [0, 1) is the EMA coefficient applied to the metric (0: off); ``nan`` is the
    policy for NaN/inf metric values: ``'bad'`` (default), ``'ignore'`` or ``'raise'``. ``rule`` is
    whose decision it follows: ``'torch'`` (default: reduce when the bad-call count exceeds
    ``patience``), ``'optax'`` or ``'keras'`` (see the module docstring).

    The rule is in the :mod:`lrkit.core.plateau` module docstring; :class:`lrkit.reactive.Controller`
    drives it.

    >>> plateau(patience=3, mode='max')
    plateau(mode='max', patience=3)
    """

    name = "plateau"
    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_scale: float
    eps: float
    smoothing: float
    nan: str
    rule: str
    _rule: Callable[[PlateauState, Any], bool]  # the decision, compiled at construction (_compile)

    def __init__(
        self,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_scale: float = 0.0,
        eps: float = 1e-8,
        smoothing: float = 0.0,
        nan: str = "bad",
        rule: str = "torch",
    ):
        who = self.name
        mode = v.choice(who, "mode", mode, ("min", "max"))
        factor = v.number(who, "factor", factor)
        if not 0 < factor < 1:
            raise ValueError(
                f"{who}: factor must be in (0, 1), got {factor!r}; it multiplies the learning rate at each "
                "reduction, e.g. 0.1 or 0.5"
            )
        patience = v.integer(who, "patience", patience, minimum=0)
        threshold = v.non_negative(who, "threshold", threshold, "it is the smallest change that counts as better")
        threshold_mode = v.choice(who, "threshold_mode", threshold_mode, ("rel", "abs"))
        if threshold_mode == "rel" and threshold >= 1:
            raise ValueError(
                f"{who}: threshold must be < 1 with threshold_mode='rel', got {threshold!r}; it is a fraction "
                "of the best value (1e-4 is 0.01%); use threshold_mode='abs' for an absolute margin"
            )
        cooldown = v.integer(who, "cooldown", cooldown, minimum=0)
        min_scale = v.fraction(who, "min_scale", min_scale)
        eps = v.non_negative(who, "eps", eps)
        smoothing = v.fraction(who, "smoothing", smoothing, open_high=True)
        nan = v.choice(who, "nan", nan, NAN_POLICIES)
        rule = v.choice(who, "rule", rule, RULES)
        self._init(
            0, mode=mode, factor=factor, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
            cooldown=cooldown, min_scale=min_scale, eps=eps, smoothing=smoothing, nan=nan, rule=rule,
        )
        self._derive(_rule=_compile(self))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.full(t, 1.0)

    def improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` counts as better than ``best`` (``None``: nothing seen yet)."""
        if best is None:
            return True
        if self.threshold_mode == "abs":
            return value < best - self.threshold if self.mode == "min" else value > best + self.threshold
        if self.mode == "min":
            bound = best * (1.0 - self.threshold) if best >= 0 else best * (1.0 + self.threshold)
            return value < bound
        bound = best * (self.threshold + 1.0) if best >= 0 else best * (1.0 - self.threshold)
        return value > bound


@dataclass
class PlateauState:
    """The mutable state of one plateau node; every field is a JSON-safe Python scalar.

    ``best`` is the best (smoothed) value so far (``None`` before the first finite one),
    ``bad`` the calls since the last improvement, ``cooldown`` the calls of cooldown left,
    ``scale`` the current multiplier, ``smoothed`` the EMA (``None`` before the first value),
    ``calls`` the values observed and ``reductions`` the reductions made.
    """

    best: float | None = None
    bad: int = 0
    cooldown: int = 0
    scale: float = 1.0
    smoothed: float | None = None
    calls: int = 0
    reductions: int = 0

    def observe(self, node: Plateau, value: Any) -> bool:
        """Apply one metric value; ``True`` if the multiplier changed."""
        return node._rule(self, value)

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], where: str = "plateau") -> PlateauState:
        fields = set(cls.__dataclass_fields__)
        if not isinstance(state, dict) or set(state) != fields:
            raise ValueError(
                f"{where}: a plateau state must be a dict with keys {sorted(fields)}, got {state!r}; "
                "pass what Controller.state_dict() returned"
            )
        out = cls()
        for key in ("best", "smoothed"):
            value = state[key]
            setattr(out, key, None if value is None else float(value))
        for key in ("bad", "cooldown", "calls", "reductions"):
            setattr(out, key, int(state[key]))
        out.scale = float(state["scale"])
        return out


def check_kind(value: Any, who: str = "plateau", name: str = "metric") -> None:
    """Refuse text as a metric (``str``/``bytes``; ``float`` would read ``"nan"`` or ``"1e-3"`` silently): the check
    that holds for a traced value too (an optax metric under ``jit``)."""
    if isinstance(value, (str, bytes)):
        raise ValueError(
            f"{who}: {name} must be a number, got {value!r} (a {type(value).__name__}); pass the metric's value, "
            "e.g. float(loss)"
        )


# -- the rule, compiled once per node ---------------------------------------------------------------------------
def metric(value: Any, who: str = "plateau", name: str = "metric") -> float:
    """A metric value as a ``float``: numbers (a bool too, as ``float`` reads it), numpy scalars, 0-d tensors and
    arrays (a tensor that requires grad is read detached); text is refused (``"0.5"`` as well as ``"0.5x"``: a
    logged value not yet converted), as is what ``float`` cannot read: one ``ValueError`` naming ``who``. Every
    adapter converts its metric here.

    >>> metric(2), metric(" 0.5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: plateau: metric must be a number, got ' 0.5' (a str); pass the metric's value, e.g. float(loss)
    """
    check_kind(value, who, name)
    detach = getattr(value, "detach", None)
    if callable(detach):  # a torch tensor: read without autograd's warning
        value = detach()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be a number (or a 0-d tensor), got {value!r}") from None


def _compile(node: Plateau) -> Callable[[PlateauState, Any], bool]:
    """``rule(state, value) -> changed``: the module docstring's steps 1-5 for ``node``, its parameters resolved.

    Everything a call could look up on the node (mode, threshold form, smoothing, NaN policy, peer rule) is
    decided here, once: a call is a finiteness test, one threshold comparison against ``best`` and the
    counters' updates, on the state's plain attributes, with no allocation.
    """
    lower = node.mode == "min"
    relative = node.threshold_mode == "rel"
    threshold = node.threshold
    # mode min keeps below best * down (best >= 0) or best * up; mode max above best * up or best * down
    down, up = 1.0 - threshold, threshold + 1.0
    beta = node.smoothing
    keep = 1.0 - beta
    nan_raise, nan_ignore = node.nan == "raise", node.nan == "ignore"
    rule = node.rule
    patience, cooldown, factor, floor, eps = node.patience, node.cooldown, node.factor, node.min_scale, node.eps

    def rule_fn(state: PlateauState, value: Any) -> bool:
        if type(value) is not float:
            value = metric(value)
        if value - value == 0.0:  # finite (NaN and +-inf give NaN)
            state.calls += 1
            if beta > 0.0:
                smoothed = state.smoothed
                if smoothed is not None:
                    value = beta * smoothed + keep * value
                state.smoothed = value
            best = state.best
            if best is None:
                improved = True
            elif relative:
                if lower:
                    improved = value < (best * down if best >= 0 else best * up)
                else:
                    improved = value > (best * up if best >= 0 else best * down)
            else:
                improved = value < best - threshold if lower else value > best + threshold
            if improved:
                state.best = value
        else:
            if nan_raise:
                raise ValueError(
                    f"plateau: metric is {value!r}; the run may have diverged. Pass nan='bad' to count such "
                    "values as no improvement or nan='ignore' to skip them"
                )
            if nan_ignore:
                return False
            state.calls += 1
            improved = False
        # steps 4-5: the peer's decision on the counters
        if rule == "torch":  # count, hold at 0 during cooldown, reduce when the count exceeds patience
            bad = 0 if improved else state.bad + 1
            left = state.cooldown
            if left > 0:
                state.cooldown = left - 1
                bad = 0
            elif bad > patience:
                return reduce(state)
            state.bad = bad
            return False
        if rule == "optax":  # count; a cooldown call only counts down; reduce when the count equals patience
            left = state.cooldown
            if left > 0:
                state.cooldown = left - 1
                state.bad = 0
                return False
            bad = 0 if improved else state.bad + 1
            if bad == patience:
                return reduce(state)
            state.bad = bad
            return False
        # keras: count the cooldown down first; out of it (this call included) count, reduce at patience
        left = state.cooldown
        if left > 0:
            left = state.cooldown = left - 1
            state.bad = 0
        if improved:
            state.bad = 0
            return False
        if left > 0:
            return False
        bad = state.bad = state.bad + 1
        if bad >= patience and state.scale > floor:
            return reduce(state)
        return False

    def reduce(state: PlateauState) -> bool:
        """Start the cooldown, reset the count, multiply (kept if it falls by more than ``eps``)."""
        state.cooldown = cooldown
        state.bad = 0
        state.reductions += 1
        scale = state.scale
        new = scale * factor
        if new < floor:
            new = floor
        if scale - new > eps:
            state.scale = new
            return True
        return False

    return rule_fn
