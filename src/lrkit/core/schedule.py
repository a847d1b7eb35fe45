"""The :class:`Schedule` base: a learning-rate schedule as an immutable value.

A schedule maps progress ``t >= 0`` (optimizer updates by default; epochs or
seconds if the driver says so) to a float. It is computed in closed form from
``t`` alone, so any step costs O(1) and resuming is "evaluate at the saved step".

Conventions, the same for every family:

* ``sched(step)`` with a Python number gives a Python ``float`` (computed with ``math``);
  ``sched(array)`` gives a float64 numpy array of the same shape, computed without a
  Python loop per element; ``sched(tensor)`` with a torch tensor, a jax array (traced or
  not) or a Keras tensor gives a tensor of that library, computed natively
  (:mod:`lrkit.core.backend`). Across namespaces values agree within 4 ulp of the largest
  value of the schedule (``math.cos`` and ``np.cos`` may round differently); one run
  always evaluates through one namespace, so a resumed run is bitwise the uninterrupted one.
* A finite schedule has a ``length`` L and is defined on ``[0, L]``; for
  ``t >= L`` it holds its final value ``sched(L)``. An infinite schedule has
  ``length is None``.
* A negative, NaN or infinite step raises :class:`ValueError` (Python numbers, numpy), as does a flag
  (``True``, a bool array or tensor) or text. A traced evaluation cannot raise on a value: it clips the step
  at 0, as optax does. An empty array of steps gives an empty array.
* A step so large that the closed form's ``math`` arithmetic overflows (``t / period`` past 1.8e308) gives
  the value an array of that step gives (numpy's IEEE arithmetic) where that is a finite number, else a
  :class:`ValueError` naming the schedule and the step; never a NaN.
* A value past the float range (a product or a scale of finite factors whose product passes 1.8e308) raises
  :class:`ValueError` naming the schedule and the step, never ``inf``: a schedule that multiplies (``s * 10``,
  ``a * b``, ``noise``) checks each value it gives (Python numbers, numpy, :meth:`Schedule.math_function`);
  a traced evaluation cannot raise.
* A schedule nests at most :data:`MAX_DEPTH` levels (each combinator around a schedule is one; a join or
  product of many is one), the configs' own limit, so every ``repr`` reads back.
* Values are unitless: multiply by a base learning rate (``sched * 3e-4``) or let
  an adapter multiply each parameter group's base learning rate.

Each family writes its closed form once, ``_eval(t, xp)`` against a namespace ``xp``;
each combinator describes its children once, as :class:`lrkit.core.routing.Route` values
(:meth:`Schedule.routes`), and evaluates them through those routes.

A schedule class is a frozen dataclass (:func:`value`): its fields are its parameters, each
checked by the function given to :func:`param` (``check(who, name, value) -> value``, which may
normalise it), then :meth:`Schedule._setup` checks the parameters together, derives what
evaluation needs and returns the length. Equality, hashing, ``repr`` (a valid text config),
``to_config`` and pickling all derive from the fields. A renamed parameter keeps its old name
as an alias (``aliases``), read by the constructor, the configs and old pickles alike.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

from lrkit.core.backend import MATH, NUMPY, SORTED, Namespace, for_step
from lrkit.core.compiled import compile_math
from lrkit.core.errors import brief
from lrkit.core.routing import PHASE_MARKS, Route

__all__ = ["MAX_DEPTH", "NumpyForm", "Schedule", "child", "param", "renamed", "value"]

if TYPE_CHECKING:  # what type checkers read: the values are dataclasses (typing has it from Python 3.11)
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        return lambda decorated: decorated

_INF = float("inf")
#: How deeply schedules may nest in a schedule's parameters (each combinator around a schedule is a level, a
#: join or product of many is one): the text and dict configs read as deep, so every schedule's ``repr`` and
#: ``to_config`` read back, and evaluating, printing and pickling stay well inside Python's recursion limit.
MAX_DEPTH = 64
_S = TypeVar("_S", bound=type)


def _is_scalar(step: Any) -> bool:
    if type(step) is int or type(step) is float:  # the common case, without the ABC check
        return True
    if isinstance(step, (bool, np.bool_)):
        _not_a_number(step)
    return isinstance(step, (numbers.Real, decimal.Decimal)) or (
        isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iuf"  # a 0-d bool array is a flag
    )


class _Overflow(ValueError):
    """A value past the float range: raised as it is by ``Schedule.__call__``, never taken for the step's overflow."""


#: How every message about a step that is no valid step (negative, NaN, text, ...) begins: such an error is raised
#: as it is by ``Schedule.__call__``, never taken for the closed form's overflow.
_STEP = "step must be "


def _not_a_number(step: Any) -> None:
    raise ValueError(
        f"{_STEP}a number of updates (an int, a float, or an array or tensor of them), got {brief(step, 100)} "
        f"({type(step).__name__})"
    )


def _step_array(step: Any) -> np.ndarray:
    """``step`` (a list, a numpy array, ...) as float64 steps; text, flags and complex numbers are refused."""
    if isinstance(step, (str, bytes, complex)):
        _not_a_number(step)
    try:
        raw = np.asarray(step)
    except ValueError:  # a ragged list: numpy's message names no step
        _not_a_number(step)
    if raw.dtype.kind not in "iuf":
        _not_a_number(step)
    return raw.astype(np.float64, copy=False)


def param(
    check: Callable[[str, str, Any], Any] | None = None, *, default: Any = dataclasses.MISSING, kw_only: bool = False
) -> Any:
    """A schedule parameter: a dataclass field whose value ``check(who, name, value)`` validates (and may normalise).

    >>> from lrkit.core import _validate as v
    >>> param(v.length, default=1).metadata["check"] is v.length
    True
    """
    return dataclasses.field(default=default, kw_only=kw_only, metadata={"check": check} if check else {})


def _derived(*, init: Literal[False] = False) -> Any:
    """A field that is no parameter: computed by :meth:`Schedule._setup`, not compared, not printed."""
    return dataclasses.field(init=init, repr=False, compare=False)


@dataclass_transform(frozen_default=True, eq_default=False, field_specifiers=(param, _derived, dataclasses.field))
def value(cls: _S) -> _S:
    """Make a :class:`Schedule` subclass a frozen dataclass of its parameters (see the module docstring).

    Its ``aliases`` (old name -> new name) and ``positions`` (the old order of the positional
    arguments after the new positional ones) are read by the constructor itself, so old code,
    old configs and old pickles keep building the same value.
    """
    made: Any = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    fields = [f for f in dataclasses.fields(made) if f.init]
    cls._names = tuple(f.name for f in fields)  # type: ignore[attr-defined]
    checks = tuple((f.name, f.metadata["check"]) for f in fields if "check" in f.metadata)
    cls._checks = checks  # type: ignore[attr-defined]
    if cls.__dict__.get("aliases") or cls.__dict__.get("positions"):
        init = cls.__init__  # type: ignore[misc]

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            positional, named = renamed(cls, args, kwargs)
            init(self, *positional, **named)

        cls.__init__ = __init__  # type: ignore[misc]
    return cls


def renamed(constructor: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` with the old names and positions of ``constructor``'s parameters read as the new ones.

    >>> import lrkit as lk
    >>> renamed(lk.step_decay, (3,), {"factor": 0.5})
    ([3], {'decay': 0.5})
    >>> renamed(lk.polynomial, (10, 2.0), {})   # 0.1's order after steps: power, end, start
    ([10], {'power': 2.0})
    """
    aliases: Mapping[str, str] = getattr(constructor, "aliases", None) or {}
    positions: tuple[str, ...] = getattr(constructor, "positions", None) or ()
    kwargs = dict(kwargs)
    who = getattr(constructor, "name", "") or getattr(constructor, "__name__", "schedule")
    if positions:
        kept = len(getattr(constructor, "_names", ())) - sum(
            1 for f in dataclasses.fields(constructor) if f.init and f.kw_only
        )
        args, extra = args[:kept], args[kept:]
        for key, item in zip(positions, extra):
            if key in kwargs:
                raise TypeError(f"{who}() got multiple values for argument {key!r}")
            kwargs[key] = item
        if len(extra) > len(positions):
            raise TypeError(
                f"{who}() takes at most {kept + len(positions)} positional arguments, got {kept + len(extra)}"
            )
    for old, new in aliases.items():
        if old in kwargs:
            if new in kwargs:
                raise TypeError(f"{who}() got {new} and its old name {old}: give one of them")
            kwargs[new] = kwargs.pop(old)
    return list(args), kwargs


class Schedule:
    """Base class of every lrkit schedule. See the module docstring for the conventions.

    >>> import lrkit as lk
    >>> s = lk.warmup(10) >> lk.cosine(90)
    >>> isinstance(s, Schedule), s(10), s.length
    (True, 1.0, 100)
    """

    #: The name used in text and dict configs (``""`` for abstract classes).
    name: ClassVar[str] = ""
    #: Whether the closed form can be evaluated by traced namespaces (torch, jax, keras).
    traceable: ClassVar[bool] = True
    #: Old parameter names still read (old name -> new name), by the constructor, the configs and pickles.
    aliases: ClassVar[Mapping[str, str]] = {}
    #: The old order of positional arguments after the new positional ones (read as those names).
    positions: ClassVar[tuple[str, ...]] = ()
    #: Whether the closed form holds its final value past ``length`` by itself (a table lookup, an interpolation
    #: that keeps its last value): its steps need no bound, and a preview past the end no held tail.
    holds: ClassVar[bool] = False
    #: ``None`` for an infinite schedule, else the progress at which it ends.
    length: float | None
    _names: ClassVar[tuple[str, ...]] = ()  # the parameters, in signature order
    _checks: ClassVar[tuple[tuple[str, Callable[[str, str, Any], Any]], ...]] = ()
    _routes: tuple[Route, ...] = ()  # a combinator's children, set once by _set_routes
    _scalar: Callable[[float], float] | None = None  # the scalar path, built at the first scalar call (a memo)
    _depth: int = 1  # how deeply schedules nest in this one's parameters, itself included (see MAX_DEPTH)
    _guarded: bool = False  # whether a value may overflow to inf (it multiplies): each value given is checked

    # -- construction ---------------------------------------------------------------
    def __post_init__(self) -> None:
        """Check each field (its :func:`param` check) and the nesting (:data:`MAX_DEPTH`), then :meth:`_setup` the
        value and store its length."""
        who = self.name
        for key, check in self._checks:
            object.__setattr__(self, key, check(who, key, getattr(self, key)))
        depth = 1 + max((_nesting(getattr(self, key)) for key in self._names), default=0)
        if depth > MAX_DEPTH:
            raise ValueError(
                f"{who}: the schedule nests {depth} levels deep, more than {MAX_DEPTH} (each combinator around a "
                "schedule is a level; deeper, its text form would not read back); build it flatter, e.g. one "
                "scale by the product of the factors"
            )
        object.__setattr__(self, "_depth", depth)
        length = self._setup()
        if length is not None and not length < _INF:  # (each combinator refuses its own, naming the arguments)
            raise ValueError(f"{who}: the schedule is longer than a float can hold; give shorter phases")
        object.__setattr__(self, "length", length)
        if self._multiplies() or any(route.child._guarded for route in self._routes):
            object.__setattr__(self, "_guarded", True)

    #: Whether a node with children combines their values (a product, a scale, a child as an amplitude); a
    #: combinator that only moves time or bounds values (join, repeat, shift, stretch, take, clamp, a recipe's
    #: body) sets it False.
    _combines_values: ClassVar[bool] = True

    def _multiplies(self) -> bool:
        """Whether this node's closed form multiplies values so that finite ones may give ``inf`` (a product, a
        scale by more than 1, a child as an amplitude): then every value the schedule gives is checked. A family
        (no children) does not, nor a node that does not combine values (:attr:`_combines_values`)."""
        return self._combines_values and bool(self._routes)

    def _setup(self) -> float | None:
        """Check the parameters together, derive what evaluation needs (:meth:`_derive`, :meth:`_set_routes`),
        and return the length (``None``: infinite). Subclasses override it."""
        return None

    def _derive(self, **values: Any) -> None:
        """Store values computed from the parameters (not parameters: neither compared nor printed)."""
        for key, item in values.items():
            object.__setattr__(self, key, item)

    def _init(self, length: float | None, **params: Any) -> None:
        """For a schedule written by hand (not a :func:`value` dataclass): store the validated parameters
        in signature order and the length, once, in ``__init__``."""
        self._derive(_names=tuple(params), length=length, **params)

    @property
    def _params(self) -> tuple[tuple[str, Any], ...]:
        """``(name, value)`` of every parameter, in signature order."""
        return tuple((key, getattr(self, key)) for key in self._names)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new schedule instead")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- evaluation -----------------------------------------------------------------
    def __call__(self, step: Any) -> Any:
        """The value at ``step``: a number (``float``), a numpy array, or a torch/jax/Keras tensor."""
        kind = type(step)
        try:  # (no cost in the common case: a try block is free until it catches)
            if kind is int:  # an optimizer's step: the common case first, its bounds as literals
                if 0 <= step < 9007199254740992:  # below 2**53 an int is its float in every operation with a float
                    return (self._scalar or self.math_function())(step)
                if step < 0:
                    _bad_step(step)
                return (self._scalar or self.math_function())(_as_float(step))  # raises past the float range
            if kind is float:
                if 0.0 <= step < _INF:  # also rejects NaN
                    return (self._scalar or self.math_function())(step)
                _bad_step(step)
            space = for_step(step)
            if space is None and _is_scalar(step):
                number = _as_float(step)
                if not 0 <= number < _INF:
                    _bad_step(step)
                return (self._scalar or self.math_function())(number)
        except (ArithmeticError, ValueError) as err:
            if isinstance(err, _Overflow) or str(err).startswith(_STEP):  # the step or the value is refused
                raise
            return self._beyond_math(step, err)
        if space is not None:
            return self.evaluate(step, space)
        arr = _step_array(step)
        flat = arr.reshape(-1)
        if not flat.size:
            return np.empty(arr.shape)
        if flat.size > 1 and flat[0] <= flat[-1] and _is_sorted(flat):
            space = SORTED
            if not (flat[0] >= 0.0 and flat[-1] < _INF):  # the bounds are the ends
                _check_steps(flat)
        else:
            space = NUMPY
            _check_steps(flat)
        if self._guarded:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is raised below, naming the step
                out = np.asarray(self._at(flat, space), dtype=np.float64)
            bad = ~np.isfinite(out) if out.ndim else np.full(flat.shape, not np.isfinite(out))
            if bad.any() and (np.isinf(out).any() or self._overflows(flat[bad])):
                raise self._overflow(flat[bad][0].item())
        else:
            out = np.asarray(self._at(flat, space), dtype=np.float64)
        return out.reshape(arr.shape) if out.ndim else np.full(arr.shape, out)  # (SORTED gives a constant as a number)

    def _beyond_math(self, step: Any, err: BaseException) -> float:
        """The value at a valid scalar ``step`` where Python's ``math`` raised (``t / period`` past the float range:
        ``math.floor`` of inf raises, ``math.log`` refuses): numpy's IEEE arithmetic, the value an array of that step
        gives, when it is a finite number >= 0; else a ValueError, never a NaN."""
        with np.errstate(all="ignore"):
            value = float(np.asarray(self._at(np.array([float(step)]), NUMPY), dtype=np.float64).reshape(-1)[0])
        if value >= 0.0 and value < _INF:
            return value
        raise ValueError(
            f"{self!r} has no finite value at step {step!r}; the step is too large for its closed form in float64 "
            f"({type(err).__name__}: {err}): evaluate a smaller step, or check the schedule's periods"
        ) from None

    def _math(self, t: float) -> float:
        """The value at a float ``t >= 0`` through :data:`~lrkit.core.backend.MATH` (interpreted)."""
        return float(self._at(t, MATH))

    def math_function(self) -> Callable[[float], float]:
        """``t -> value`` for a float ``t >= 0``, or an int below ``2**53`` (the same number in every operation
        with a float; no validation): the closed form compiled to one
        Python function (:func:`lrkit.core.compiled.compile_math`, bitwise the ``MATH`` values), or the
        ``MATH`` path where it is not compiled. Built at the first call and kept (a memo, not a parameter);
        ``sched(t)`` calls it. Drivers that evaluate one schedule per step (a wall clock, a token count)
        call it directly.

        >>> import lrkit as lk
        >>> f = lk.cosine(100).math_function()
        >>> f(50.0) == lk.cosine(100)(50)
        True
        """
        function = self._scalar
        if function is None:
            function = compile_math(self) or self._math
            if self._guarded:
                function = self._checked(function)
            object.__setattr__(self, "_scalar", function)
        return function

    def _checked(self, function: Callable[[float], float]) -> Callable[[float], float]:
        """``function`` raising where its value is no finite number (see :meth:`_multiplies`)."""

        def checked(t: float) -> float:
            value = function(t)
            if value < _INF or (value != value and not self._overflows(np.array([float(t)]))):
                return value  # a finite value, or a child's own NaN (not inf * 0 after an overflow)
            raise self._overflow(t)

        return checked

    def _overflows(self, steps: np.ndarray) -> bool:
        """Whether evaluating ``steps`` overflows on the way (where a value is NaN: ``inf * 0`` after an overflow,
        or a child's own NaN)."""
        try:
            with np.errstate(over="raise", invalid="ignore"):
                self._at(steps, NUMPY)
        except FloatingPointError:
            return True
        return False

    def _overflow(self, step: Any) -> ValueError:
        return _Overflow(
            f"{brief(self, 120)} overflows to inf at step {step!r}: its factors multiply past the float range "
            "(1.8e+308); scale it by less, or bound a factor (clamp(s, high=...))"
        )

    def evaluate(self, step: Any, xp: Namespace) -> Any:
        """The value at ``step`` computed by namespace ``xp`` (see :mod:`lrkit.core.backend`).

        Traced namespaces (torch, jax, keras) cannot raise on a value: an integer step is
        cast to the default float type and a negative step is clipped to 0.
        """
        if not xp.traced:
            return self(step)
        if not self.traceable:
            raise TypeError(
                f"{self!r} cannot be evaluated by {xp.name}: {self.name}'s closed form needs 64-bit integer "
                "hashing; evaluate it with numpy (e.g. tabulate sched(np.arange(n)) once) instead"
            )
        for node in self.walk():
            if not node.traceable:
                return node.evaluate(step, xp)  # raises, naming the node
        return self._at(xp.maximum(xp.asfloat(step), 0.0), xp)

    def _at(self, t: Any, xp: Namespace) -> Any:
        """Values at steps already known to be >= 0, in namespace ``xp``."""
        length = self.length
        if length is None or self.holds:
            return self._eval(t, xp)
        return xp.held(t, length, self._eval)  # the closed form on min(t, length): each namespace its own way

    def _eval(self, t: Any, xp: Namespace) -> Any:  # pragma: no cover - abstract
        """The closed form on ``0 <= t <= length``; subclasses implement it."""
        raise NotImplementedError

    def routes(self) -> tuple[Route, ...]:
        """The children and their time maps (:mod:`lrkit.core.routing`); ``()`` for a family."""
        return self._routes

    def _set_routes(self, *routes: Route) -> None:
        """Describe the children once, at construction (evaluation, reactive state and plots read them)."""
        object.__setattr__(self, "_routes", routes)

    def walk(self) -> list[Schedule]:
        """Every node reachable through :meth:`routes`, this one first (iterative, pre-order)."""
        out: list[Schedule] = []
        stack: list[Schedule] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(route.child for route in reversed(node.routes()))
        return out

    @property
    def final(self) -> float:
        """The value held after the end (finite schedules only)."""
        if self.length is None:
            raise ValueError(f"{self!r} is infinite: it has no final value")
        return self(self.length)

    def phase_starts(self, until: float, limit: int = PHASE_MARKS) -> list[float]:
        """Steps in ``(0, until)`` where a phase starts (warmup end, restarts, ...), for plots: the first
        ``limit`` of them at most (a bound: more marks would be denser than a plot's pixels).

        A family gives its own (milestones, restarts); a combinator maps its children's
        through their routes (:meth:`lrkit.core.routing.TimeMap.inverse`).

        >>> import lrkit as lk
        >>> len(lk.sgdr(5).phase_starts(1e7))   # not 2,000,000
        1000
        """
        if self.length is not None:
            until = min(until, self.length)
        marks: set[float] = set()
        for route in self.routes():
            hi = min(route.hi, until)
            if route.lo >= hi:
                continue
            if route.lo > 0:
                marks.add(float(route.lo))
            local = route.child.phase_starts(route.map.span(route.lo, hi), limit)
            marks.update(float(m) for m in route.map.inverse(local, route.lo, hi, limit) if 0 < m < until)
        return sorted(marks)[:limit]

    # -- composition ----------------------------------------------------------------
    def __rshift__(self, other: Schedule) -> Schedule:
        from lrkit.core.combinators import join

        if not isinstance(other, Schedule):
            return NotImplemented
        return join(self, other)

    #: numpy defers arithmetic to the schedule (``array * sched`` is ``sched.__rmul__(array)``), so an array is refused
    #: with the fix instead of broadcast into an array of schedules.
    __array_ufunc__ = None

    def __mul__(self, other: Any) -> Schedule:
        from lrkit.core.combinators import product

        if isinstance(other, Schedule):
            return product(self, other)
        return self._scaled(other)

    def __rmul__(self, other: Any) -> Schedule:
        return self._scaled(other)

    def _scaled(self, by: Any) -> Schedule:
        """``self * by`` for one number ``by``; an array or a tensor is refused (it would scale by each element)."""
        from lrkit.core.combinators import scale

        if isinstance(by, numbers.Real) and not isinstance(by, bool):
            return scale(self, float(by))
        if hasattr(by, "shape") or hasattr(by, "__array__"):
            raise TypeError(
                f"cannot multiply {self!r} by a {type(by).__name__}: scale a schedule by one number (sched * 0.1), "
                "or evaluate it first: sched(steps) * values"
            )
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
        signature = _init_signature(type(self))
        out = []
        for key, item in self._params:
            parameter = signature.parameters[key]
            required = parameter.default is inspect.Parameter.empty
            if required or not _same(item, parameter.default):
                out.append((key, item, required and parameter.kind is not inspect.Parameter.KEYWORD_ONLY))
        return out

    def _repr_args(self) -> list[str]:
        return [
            format_value(item) if positional else f"{key}={format_value(item)}"
            for key, item, positional in self._explicit_params()
        ]

    def to_config(self) -> dict[str, Any]:
        """A plain dict (JSON/YAML-safe) that :func:`lrkit.from_config` turns back into ``self``.

        Only parameters that are required or differ from their default are written.
        """
        config: dict[str, Any] = {"type": self.name}
        for key, item, _ in self._explicit_params():
            config[key] = config_value(item)
        return config


def child(who: str, name: str, item: Any) -> Schedule:
    """The check of a parameter that is a schedule (a combinator's child)."""
    if not isinstance(item, Schedule):
        item = _from_structured(item)
    if not isinstance(item, Schedule):
        raise ValueError(f"{who}: {name} must be a schedule, got {brief(item, 100)}")
    return item


def _from_structured(item: Any) -> Any:
    """A schedule that OmegaConf turned into a structured ``DictConfig``, built again from its fields.

    Schedules are dataclasses, so OmegaConf (inside Hydra's ``instantiate``) stores one placed in a
    container as a structured config of its fields; anything else is returned as it is.
    """
    if type(item).__module__.split(".")[0] != "omegaconf":
        return item
    from omegaconf import DictConfig, OmegaConf

    kind = OmegaConf.get_type(item) if isinstance(item, DictConfig) else None
    if not (isinstance(kind, type) and issubclass(kind, Schedule) and dataclasses.is_dataclass(kind)):
        return item
    return kind(**{f.name: item[f.name] for f in dataclasses.fields(kind) if f.init})


class NumpyForm(Schedule):
    """A family whose closed form is numpy code (a peer's exact float32 arithmetic, 64-bit hashing).

    It evaluates for Python numbers and numpy arrays; traced namespaces refuse it with a
    clear error (:attr:`Schedule.traceable` is ``False``): tabulate it instead (the optax and
    Keras adapters do so for finite schedules). Subclasses implement ``_np_eval(t)`` on a
    1-D float64 array.
    """

    traceable: ClassVar[bool] = False

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if isinstance(t, np.ndarray):
            return self._np_eval(t)
        return float(self._np_eval(np.array([t], dtype=np.float64))[0])

    def _np_eval(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


_SIGNATURES: dict[type, inspect.Signature] = {}


def _init_signature(cls: type) -> inspect.Signature:
    signature = _SIGNATURES.get(cls)
    if signature is None:
        signature = _SIGNATURES[cls] = inspect.signature(cls.__init__)  # type: ignore[misc]
    return signature


def _same(value: Any, default: Any) -> bool:
    if value is None or default is None:
        return value is default
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and tuple(value) == tuple(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return bool(value == default)


def _nesting(value: Any) -> int:
    """How deeply schedules nest in a parameter's value: a schedule's depth, the deepest of a list's, else 0."""
    if isinstance(value, Schedule):
        return value._depth
    if isinstance(value, (list, tuple)):
        return max((_nesting(item) for item in value), default=0)
    return 0


def _rebuild(cls: type[Schedule], params: dict[str, Any]) -> Schedule:
    """What a pickle calls: the constructor, with the parameters' old names (an older pickle) read as the new ones."""
    _, params = renamed(cls, (), params)
    return cls(**params)


_CHUNK = 1 << 16  # steps compared per pass of the sortedness check: its booleans stay in memory already mapped


def _is_sorted(t: np.ndarray) -> bool:
    """Whether the 1-D steps ``t`` never decrease (and hold no NaN), compared a chunk at a time: no array of
    ``t``'s size is allocated (a fresh large array costs its page faults, more than the comparison itself)."""
    size = t.size
    for lo in range(0, size - 1, _CHUNK):
        hi = min(lo + _CHUNK, size - 1)
        if not (t[lo + 1 : hi + 1] >= t[lo:hi]).all():
            return False
    return True


def _as_float(step: Any) -> float:
    try:
        return float(step)
    except OverflowError:
        raise ValueError(f"{_STEP}a finite number >= 0, got an integer of {len(str(step))} digits") from None


def _bad_step(shown: Any) -> None:
    raise ValueError(
        f"{_STEP}a finite number >= 0, got {shown!r}; "
        "schedules are defined from step 0 onwards (use shift() to start part-way)"
    )


def _check_steps(t: np.ndarray) -> None:
    # two reductions, no temporaries: NaN fails the first comparison, inf the second
    if t.size and not (t.min() >= 0.0 and t.max() < _INF):
        ok = np.isfinite(t) & (t >= 0)
        _bad_step(t[~ok][0].item())


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
