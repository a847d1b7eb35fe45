"""Parameter checks shared by every constructor.

Each check raises :class:`ValueError` naming the schedule, the parameter and the
bad value, and saying what to do instead, e.g. ``cosine: steps must be > 0, got -3``.
A long value is echoed cut short (:func:`lrkit.core.errors.brief`): a hostile text of a
million characters gives a message of one short line.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.core.errors import brief

Check = Callable[[str, str, Any], Any]

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "MIN_LENGTH",
    "Check",
    "choice",
    "choice_of",
    "factor",
    "flag",
    "fraction",
    "increasing",
    "integer",
    "lasts",
    "length",
    "non_negative",
    "number",
    "optional",
    "optional_length",
    "ordered",
    "positive",
    "rate",
    "rates_list",
]

_RATE_FIX = "a learning rate cannot be negative (every scheduled value is a rate or a multiplier >= 0)"


def _fail(who: str, name: str, requirement: str, value: Any, fix: str = "") -> ValueError:
    message = f"{who}: {name} must be {requirement}, got {brief(value, 100)}"
    return ValueError(f"{message}; {fix}" if fix else message)


def number(who: str, name: str, value: Any) -> float:
    """A finite real number (bool is refused), as a Python ``int`` or ``float``: a numpy scalar is unwrapped, any
    other real (``Fraction``, ...) becomes a ``float``, so values, ``repr`` and configs hold plain numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(who, name, "a finite number", value, _number_fix(value))
    if isinstance(value, numbers.Integral) and not -sys.float_info.max <= int(value) <= sys.float_info.max:
        digits = int(int(value).bit_length() * 0.30103) + 1
        raise ValueError(
            f"{who}: {name} must be a finite number of at most {sys.float_info.max:.2g}, got an integer of "
            f"{digits} digits"
        )
    if not math.isfinite(value):
        raise _fail(who, name, "a finite number (not NaN or inf)", value)
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value.item() if hasattr(value, "item") else value)


def _number_fix(value: Any) -> str:
    """What to write instead of a value that is no number: text that reads as one, an array or tensor of one."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return "give the number without quotes (PyYAML's own loader reads 1e3 as text; lrkit.load reads a number)"
    if getattr(value, "ndim", None) == 0 or getattr(value, "shape", None) == ():
        return "give a Python number, e.g. x.item() of a 0-d array or tensor"
    return ""


def ordered(who: str, low_name: str, low: float, high_name: str, high: float, fix: str = "") -> None:
    """Two parameters that bound a range (``floor <= peak``, ``low <= high``, ``start <= peak``): ``low <= high``."""
    if low > high:
        message = f"{who}: {low_name} must be <= {high_name}, got {low_name}={low!r} > {high_name}={high!r}"
        raise ValueError(f"{message}; {fix}" if fix else message)


def positive(who: str, name: str, value: Any, fix: str = "") -> float:
    value = number(who, name, value)
    if not value > 0:
        raise _fail(who, name, "> 0", value, fix)
    return value


def non_negative(who: str, name: str, value: Any, fix: str = "") -> float:
    value = number(who, name, value)
    if not value >= 0:
        raise _fail(who, name, ">= 0", value, fix)
    return value


def rate(who: str, name: str, value: Any) -> float:
    """A value the schedule takes (a rate, a floor, a peak, a multiplier): a finite number >= 0."""
    return non_negative(who, name, value, _RATE_FIX)


#: The largest count :func:`integer` reads by default: beyond it integers are not exact as floats (steps are floats).
MAX_COUNT = 2**53
#: The largest seed: a 64-bit unsigned integer (the noise hash's counter, ``torch.Generator.manual_seed``).
MAX_SEED = 2**64 - 1


def integer(who: str, name: str, value: Any, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """An integer in ``[minimum, maximum]`` (a float that is a whole number is read as one; bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _fail(who, name, f"an integer >= {minimum}", value)
    value = int(value)
    if value < minimum:
        raise _fail(who, name, f"an integer >= {minimum}", value)
    if value > maximum:
        shown = value if value.bit_length() < 200 else f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
        raise ValueError(f"{who}: {name} must be an integer from {minimum} to {maximum}, got {shown}")
    return value


#: The shortest duration: ``t / length`` stays a finite float for every step ``t`` up to ``2**53`` (the largest
#: exact integer step), so no closed form overflows dividing by a length (about 5e-293).
MIN_LENGTH = float(MAX_COUNT) / sys.float_info.max


def length(who: str, name: str, value: Any) -> float:
    """A duration in steps (or seconds, or epochs): finite and at least :data:`MIN_LENGTH` (> 0)."""
    value = positive(who, name, value, "give the number of steps the phase lasts")
    if value < MIN_LENGTH:
        raise _fail(
            who, name, f">= {MIN_LENGTH:.2g}", value,
            "a shorter phase overflows t / length before step 2**53; give the number of steps the phase lasts",
        )
    return value


def lasts(steps: float) -> bool:
    """Whether a phase computed from other parameters (a fraction of a run, a difference) is long enough to build:
    at least :data:`MIN_LENGTH`; a recipe leaves a shorter one out (it would end before step 1e-292)."""
    return steps >= MIN_LENGTH


def optional_length(who: str, name: str, value: Any) -> float | None:
    return None if value is None else length(who, name, value)


def fraction(who: str, name: str, value: Any, *, open_low: bool = False, open_high: bool = False) -> float:
    """A number in [0, 1] (ends optionally open)."""
    value = number(who, name, value)
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if not (low_ok and high_ok):
        interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
        raise _fail(who, name, f"in {interval}", value, "it is a fraction of the run")
    return value


def factor(who: str, name: str, value: Any) -> float:
    """A decay factor in (0, 1]."""
    value = number(who, name, value)
    if not 0 < value <= 1:
        raise _fail(who, name, "in (0, 1]", value, "a decay factor multiplies the value, e.g. 0.5 halves it")
    return value


def choice(who: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise _fail(who, name, f"one of {', '.join(repr(o) for o in options)}", value)
    return value


def increasing(who: str, name: str, values: Any, *, strict: bool = True) -> tuple:
    try:
        items = tuple(values)
    except TypeError:
        raise _fail(who, name, "a list of numbers", values) from None
    items = tuple(number(who, f"{name}[{i}]", v) for i, v in enumerate(items))
    for i in range(1, len(items)):
        if not (items[i] > items[i - 1] if strict else items[i] >= items[i - 1]):
            raise _fail(
                who,
                name,
                "strictly increasing" if strict else "non-decreasing",
                list(items),
                f"{name}[{i}]={brief(items[i], 100)} does not come after {brief(items[i - 1], 100)}; sort them",
            )
    return items


# -- checks with settings, as functions (who, name, value) -> value for lrkit.core.schedule.param --------


def choice_of(*options: str) -> Check:
    """The check ``choice(..., options)``."""
    return lambda who, name, value: choice(who, name, value, options)


def fraction_in(*, open_low: bool = False, open_high: bool = False) -> Check:
    """The check ``fraction(...)`` with the given open ends."""
    return lambda who, name, value: fraction(who, name, value, open_low=open_low, open_high=open_high)


def integer_from(minimum: int, maximum: int = MAX_COUNT) -> Check:
    """The check ``integer(..., minimum, maximum)``."""
    return lambda who, name, value: integer(who, name, value, minimum, maximum)


def optional(check: Check) -> Check:
    """``None``, or a value that passes ``check``."""
    return lambda who, name, value: None if value is None else check(who, name, value)


def flag(who: str, name: str, value: Any) -> bool:
    """A boolean: ``True``/``False`` (numpy's too), or the integers 0 and 1. Anything else is refused: ``bool()``
    of the text ``'false'`` is ``True``, so reading any truthy value would turn a flag on silently."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise _fail(who, name, "True or False", value, "give a boolean (true/false in a config, without quotes)")


def numbers_list(who: str, name: str, values: Any) -> tuple[Any, ...]:
    """A list of finite numbers, as a tuple."""
    try:
        items = tuple(values)
    except TypeError:
        raise _fail(who, name, "a list of numbers", values) from None
    return tuple(number(who, f"{name}[{i}]", item) for i, item in enumerate(items))


def rates_list(who: str, name: str, values: Any) -> tuple[Any, ...]:
    """A list of values the schedule takes, each a finite number >= 0, as a tuple."""
    items = numbers_list(who, name, values)
    for i, item in enumerate(items):
        rate(who, f"{name}[{i}]", item)
    return items
