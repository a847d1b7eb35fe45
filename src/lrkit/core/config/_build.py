"""Calling a registered constructor with checked arguments: what the text, dict and file readers share.

The limits every reader applies (:data:`MAX_DEPTH`, :data:`MAX_VALUES`, numbers that fit a float),
the short forms of values in messages, and :func:`build`, which turns whatever a constructor
refuses into a :class:`lrkit.ConfigError`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import sys
from typing import Any

from lrkit.core.errors import ConfigError, shown
from lrkit.core.registry import lookup, names  # the one place the registry comes from
from lrkit.core.schedule import MAX_DEPTH as SCHEDULE_DEPTH
from lrkit.core.schedule import Schedule, renamed

__all__ = ["MAX_DEPTH", "MAX_VALUES", "build", "known_names", "max_positional", "signature_text", "too_many"]

#: How deeply schedules (and brackets) may nest in a config; deeper input is a ConfigError. The constructors refuse
#: deeper schedules too (:data:`lrkit.core.schedule.MAX_DEPTH`, the same number), so every schedule reads back.
MAX_DEPTH = SCHEDULE_DEPTH
#: How many values a dict config may expand to (YAML aliases can repeat a list exponentially).
MAX_VALUES = 100_000
_MAX_NUMBER = sys.float_info.max
LIMIT = f"numbers must be at most {_MAX_NUMBER:.2g}"


def known_names() -> list[str]:
    """Every schedule name the configs accept, sorted (peer-compat names included).

    >>> names = known_names()
    >>> "cosine" in names, "one_cycle" in names, "hf_cosine" in names
    (True, True, True)
    """
    return names()


def signature_text(name: str) -> str:
    """``name(param, param=default, ...)`` for a registered name.

    >>> signature_text("repeat")
    'repeat(schedule, times=None)'
    """
    parameters = inspect.signature(constructor(name)).parameters.values()
    shown = [p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters]
    return f"{name}({', '.join(shown)})"


def number_text(digits: str) -> str:
    return digits if len(digits) <= 20 else f"{digits[:10]}...{digits[-4:]} ({len(digits)} digits)"


def too_large(value: int) -> str | None:
    """The integer ``value`` as shown in a message when it is refused, else None: a config number must fit a float."""
    if -_MAX_NUMBER <= value <= _MAX_NUMBER:
        return None
    sign = "-" if value < 0 else ""
    if value.bit_length() > 13_000:  # str() of it is slow, or refused beyond 4300 digits
        return f"{sign}(an integer of about {int(value.bit_length() * 0.30103)} digits)"
    return sign + number_text(str(abs(value)))


@functools.cache
def _signature(constructor: Any) -> inspect.Signature:
    return inspect.signature(constructor)


def constructor(name: str) -> Any:
    found = lookup(name)
    if found is None:
        raise ConfigError(unknown(name))
    return found


def unknown(name: str) -> str:
    every = known_names()
    close = difflib.get_close_matches(name[:100], every, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown schedule {shown(name)}; {hint}known names: {', '.join(every)}"


def _gathers(signature: inspect.Signature) -> bool:
    """Whether a constructor takes its schedules as one list (``join(pieces)``, ``product(factors)``):
    its only parameter is required, so ``join(a, b)`` can only mean ``join([a, b])``."""
    parameters = list(signature.parameters.values())
    return (
        len(parameters) == 1
        and parameters[0].default is inspect.Parameter.empty
        and parameters[0].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


def max_positional(name: str) -> int | None:
    """How many positional arguments the constructor ``name`` takes (``None``: any number).

    A reader stops at the first argument beyond it, so a text of 100,000 arguments fails at once.

    >>> max_positional("cosine"), max_positional("join")
    (4, None)
    """
    signature = _signature(constructor(name))
    if _gathers(signature):
        return None
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return None
    found = constructor(name)
    old_positions = len(getattr(found, "positions", None) or ())  # read in an earlier order (see renamed)
    return old_positions + sum(
        k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds
    )


def too_many(name: str) -> str:
    """The message for more positional arguments than ``name`` takes."""
    return (
        f"{name}: too many positional arguments (it takes at most {max_positional(name)}); "
        f"expected {signature_text(name)}"
    )


def _close_keyword(signature: inspect.Signature, kwargs: dict[str, Any]) -> str:
    """``"; did you mean 'floor'?"`` for the first keyword the signature does not take, if one is close; else ``""``."""
    for key in kwargs:
        if key not in signature.parameters:
            close = difflib.get_close_matches(key[:100], list(signature.parameters), n=1)
            return f"; did you mean {close[0]!r}?" if close else ""
    return ""


def build(
    name: str, args: list[Any], kwargs: dict[str, Any], *, text: str | None = None, position: int | None = None
) -> Schedule:
    """Call the registered constructor ``name`` with checked arguments.

    A constructor that takes one list of schedules (``join``, ``product``) takes them positionally too:
    ``join(a, b)`` is ``join([a, b])``. Whatever the constructor refuses (a ``ValueError``, ``TypeError``
    or an overflow) becomes a :class:`ConfigError` at ``position``.

    >>> build("join", [build("warmup", [5], {}), build("cosine", [95], {})], {})
    warmup(5) >> cosine(95)
    """
    found = lookup(name)
    if found is None:
        raise ConfigError(unknown(name), text=text, position=position)
    signature = _signature(found)
    try:
        args, kwargs = renamed(found, args, kwargs)  # old parameter names and positions (aliases)
    except TypeError as err:
        raise ConfigError(f"{name}: {err}; expected {signature_text(name)}", text=text, position=position) from None
    if _gathers(signature) and not kwargs and args and all(isinstance(a, Schedule) for a in args):
        args = [list(args)]
    most = max_positional(name)
    if most is not None and len(args) > most:
        raise ConfigError(too_many(name), text=text, position=position)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        hint = _close_keyword(signature, kwargs)
        raise ConfigError(
            f"{name}: {err}{hint}; expected {signature_text(name)}", text=text, position=position
        ) from None
    try:
        return found(*args, **kwargs)  # type: ignore[no-any-return]
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to build", text=text, position=position) from None
    except ConfigError as err:
        raise ConfigError(err.reason, text=text, position=position) from None
    except ValueError as err:
        raise ConfigError(str(err), text=text, position=position) from None
    except (TypeError, ArithmeticError) as err:  # OverflowError is an ArithmeticError
        raise ConfigError(f"{name}: {err}", text=text, position=position) from None
