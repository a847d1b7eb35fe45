"""The :class:`Schedule` base: a learning-rate schedule as an immutable value.

A schedule maps progress ``t >= 0`` (optimizer updates by default; epochs or
seconds if the driver says so) to a float. It is computed in closed form from
``t`` alone, so any step costs O(1) and resuming is "evaluate at the saved step".

Conventions, the same for every family:

* ``sched(step)`` with a Python or numpy scalar gives a Python ``float``;
  ``sched(array)`` gives a float64 array of the same shape, computed without a
  Python loop per element. Scalar and array calls give bitwise-equal values.
* A finite schedule has a ``length`` L and is defined on ``[0, L]``; for
  ``t >= L`` it holds its final value ``sched(L)``. An infinite schedule has
  ``length is None``.
* A negative, NaN or infinite step raises :class:`ValueError`.
* Values are unitless: multiply by a base learning rate (``sched * 3e-4``) or let
  an adapter multiply each parameter group's base learning rate.

Subclasses declare their parameters in ``__init__``, validate them, and call
:meth:`Schedule._init` once; equality, hashing, ``repr`` (valid text config),
``to_config`` and pickling all derive from those parameters.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

__all__ = ["REGISTRY", "Schedule", "register"]

#: Every name the text and dict configs know, mapped to its constructor.
REGISTRY: dict[str, Callable[..., Schedule]] = {}


def register(constructor: Callable[..., Schedule]) -> Callable[..., Schedule]:
    """Make a schedule constructor (a recipe function) known to the configs by its name."""
    name = str(getattr(constructor, "name", "")) if isinstance(constructor, type) else constructor.__name__
    if name in REGISTRY and REGISTRY[name] is not constructor:
        raise ValueError(f"a schedule named {name!r} is already registered")
    REGISTRY[name] = constructor
    return constructor


_INF = float("inf")


def _is_scalar(step: Any) -> bool:
    if type(step) is int or type(step) is float:  # the common case, without the ABC check
        return True
    return isinstance(step, numbers.Real) or (isinstance(step, np.ndarray) and step.ndim == 0)


class Schedule:
    """Base class of every lrkit schedule. See the module docstring for the conventions."""

    #: The name used in text and dict configs (``""`` for abstract classes).
    name: ClassVar[str] = ""
    #: ``None`` for an infinite schedule, else the progress at which it ends.
    length: float | None
    _params: tuple[tuple[str, Any], ...]

    if TYPE_CHECKING:  # parameters are attributes, set by _init

        def __getattr__(self, name: str) -> Any: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            register(cls)

    # -- construction ---------------------------------------------------------------
    def _init(self, length: float | None, **params: Any) -> None:
        """Store the (validated, normalised) parameters in signature order and the length."""
        object.__setattr__(self, "_params", tuple(params.items()))
        object.__setattr__(self, "length", length)
        for key, value in params.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new schedule instead")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- evaluation -----------------------------------------------------------------
    def __call__(self, step: Any) -> Any:
        """The value at ``step`` (a number or an array of numbers, each >= 0)."""
        if _is_scalar(step):
            value = float(step)
            if not (value >= 0 and value != _INF):  # also catches NaN
                _check_steps(np.array([value]), step)
            return float(self._at(np.array([value]))[0])
        arr = np.asarray(step, dtype=np.float64)
        flat = arr.reshape(-1)
        _check_steps(flat, step)
        return self._at(flat).reshape(arr.shape)

    def _at(self, t: np.ndarray) -> np.ndarray:
        """Values at a 1-D float64 array of steps already known to be >= 0."""
        if self.length is not None:
            t = np.minimum(t, self.length)
        return self._eval(t)

    def _eval(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """The closed form on ``0 <= t <= length``; subclasses implement it."""
        raise NotImplementedError

    @property
    def final(self) -> float:
        """The value held after the end (finite schedules only)."""
        if self.length is None:
            raise ValueError(f"{self!r} is infinite: it has no final value")
        return self(self.length)

    def phase_starts(self, until: float) -> list[float]:
        """Steps in ``(0, until)`` where a phase starts (warmup end, restarts, ...), for plots."""
        return []

    # -- composition ----------------------------------------------------------------
    def __rshift__(self, other: Schedule) -> Schedule:
        from lrkit.compose import join

        if not isinstance(other, Schedule):
            return NotImplemented
        return join(self, other)

    def __mul__(self, other: Any) -> Schedule:
        from lrkit.compose import product, scale

        if isinstance(other, Schedule):
            return product(self, other)
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return scale(self, float(other))
        return NotImplemented

    def __rmul__(self, other: Any) -> Schedule:
        from lrkit.compose import scale

        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return scale(self, float(other))
        return NotImplemented

    # -- value semantics --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return type(self) is type(other) and self._params == other._params

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._params))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self._params)))

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(self._repr_args())})"

    def _explicit_params(self) -> list[tuple[str, Any, bool]]:
        """(name, value, required) for every parameter that is required or not at its default."""
        signature = inspect.signature(type(self).__init__)
        out = []
        for key, value in self._params:
            parameter = signature.parameters[key]
            required = parameter.default is inspect.Parameter.empty
            if required or not _same(value, parameter.default):
                out.append((key, value, required))
        return out

    def _repr_args(self) -> list[str]:
        return [
            format_value(value) if required else f"{key}={format_value(value)}"
            for key, value, required in self._explicit_params()
        ]

    def to_config(self) -> dict[str, Any]:
        """A plain dict (JSON/YAML-safe) that :func:`lrkit.from_config` turns back into ``self``.

        Only parameters that are required or differ from their default are written.
        """
        config: dict[str, Any] = {"type": self.name}
        for key, value, _ in self._explicit_params():
            config[key] = config_value(value)
        return config


def _same(value: Any, default: Any) -> bool:
    if value is None or default is None:
        return value is default
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and tuple(value) == tuple(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return bool(value == default)


def _rebuild(cls: type[Schedule], params: dict[str, Any]) -> Schedule:
    return cls(**params)


def _check_steps(t: np.ndarray, original: Any) -> None:
    ok = np.isfinite(t) & (t >= 0)
    if not ok.all():
        bad = t[~ok]
        shown = original if _is_scalar(original) else bad[0].item()
        raise ValueError(
            f"step must be a finite number >= 0, got {shown!r}; "
            "schedules are defined from step 0 onwards (use shift() to start part-way)"
        )


def format_value(value: Any) -> str:
    """Text-config form of a parameter value."""
    if isinstance(value, Schedule):
        return repr(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_value(value: Any) -> Any:
    """Dict-config (JSON-safe) form of a parameter value."""
    if isinstance(value, Schedule):
        return value.to_config()
    if isinstance(value, (tuple, list)):
        return [config_value(v) for v in value]
    return value
