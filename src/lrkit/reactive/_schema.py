"""Checked reading of a saved state dict: every key present, of its type, finite; one clear error otherwise.

Every stateful object of lrkit (the torch Scheduler, the plateau :class:`~lrkit.reactive.Controller`, the
:class:`~lrkit.reactive.WallClock`, the token counter) reads its state through a :class:`Reader` *before*
it changes anything: a load validates the whole state, then applies it, so a refused load leaves the
object exactly as it was. Errors are one ``ValueError`` line naming the key, what was found and the fix:

>>> r = Reader("WallClock.load_state_dict", {"version": 1, "elapsed": -3.0}, "WallClock.state_dict()")
>>> r.version(1)
1
>>> r.number("elapsed", low=0.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: WallClock.load_state_dict: state['elapsed'] must be a finite number >= 0, found -3.0; pass what ...
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["Reader"]

_MISSING = object()


class Reader:
    """Typed access to the keys of one saved state (``where`` prefixes nested keys: ``"clock.elapsed"``)."""

    def __init__(self, who: str, state: Any, source: str, where: str = "") -> None:
        self.who = who
        self.source = source  # the method whose output a state must be, for the fix
        self.where = where
        if not isinstance(state, Mapping):
            raise self.error("", "a dict", state)
        self.state = state

    def error(self, key: str, requirement: str, found: Any, fix: str = "") -> ValueError:
        path = f"{self.where}.{key}" if self.where and key else (self.where or key)
        name = f"state[{path!r}]" if path else "the state"
        found_text = "nothing (the key is missing)" if found is _MISSING else repr(found)
        if len(found_text) > 200:
            found_text = found_text[:200] + "..."
        return ValueError(
            f"{self.who}: {name} must be {requirement}, found {found_text}; "
            f"{fix or f'pass what {self.source} returned'}"
        )

    def only(self, keys: set[str] | frozenset[str]) -> None:
        """Refuse a key this state does not have (a state of something else, or edited by hand)."""
        extra = sorted((k for k in self.state if k not in keys), key=str)
        if extra:
            raise self.error(str(extra[0]), f"absent (the keys are {', '.join(sorted(keys))})", self.state[extra[0]])

    def get(self, key: str, requirement: str) -> Any:
        value = self.state.get(key, _MISSING)
        if value is _MISSING:
            raise self.error(key, requirement, value)
        return value

    def nested(self, key: str, value: Any) -> Reader:
        """A reader of a nested dict (``value`` read from ``key``), its errors naming ``key``."""
        path = f"{self.where}.{key}" if self.where else key
        return Reader(self.who, value, self.source, path)

    def version(self, *known: int) -> int:
        value = self.get("version", f"one of the versions this lrkit reads ({', '.join(map(str, known))})")
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) not in known:
            raise self.error(
                "version",
                f"one of the versions this lrkit reads ({', '.join(map(str, known))})",
                value,
                "it was saved by another lrkit version or is not an lrkit state; load it with the lrkit that saved it",
            )
        return int(value)

    def integer(self, key: str, low: int = 0, value: Any = _MISSING) -> int:
        requirement = f"an integer >= {low}"
        if value is _MISSING:
            value = self.get(key, requirement)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
            raise self.error(key, requirement, value)
        return int(value)

    def number(
        self, key: str, low: float | None = None, high: float | None = None, none: bool = False, value: Any = _MISSING
    ) -> Any:
        bounds = "".join([f" >= {low:g}" if low is not None else "", f" <= {high:g}" if high is not None else ""])
        bounds = bounds.replace(" <=", " and <=") if low is not None and high is not None else bounds
        requirement = f"a finite number{bounds}" + (" or None" if none else "")
        if value is _MISSING:
            value = self.get(key, requirement)
        if value is None and none:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or (low is not None and not float(value) >= low)
            or (high is not None and not float(value) <= high)
        ):
            raise self.error(key, requirement, value)
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self.get(key, "True or False")
        if not isinstance(value, bool):
            raise self.error(key, "True or False", value)
        return value

    def choice(self, key: str, choices: tuple[Any, ...]) -> Any:
        requirement = f"one of {', '.join(map(repr, choices))}"
        value = self.get(key, requirement)
        if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
            raise self.error(key, requirement, value)
        return value

    def sequence(self, key: str, length: int | None = None, value: Any = _MISSING) -> list[Any]:
        requirement = "a list" if length is None else f"a list of {length}"
        if value is _MISSING:
            value = self.get(key, requirement)
        if not isinstance(value, (list, tuple)) or (length is not None and len(value) != length):
            raise self.error(key, requirement, value)
        return list(value)

    def same(self, key: str, mine: Any, fix: str) -> None:
        """The saved ``key`` equals this object's own setting (its identity), compared as JSON."""
        value = self.get(key, f"{mine!r} (this object's setting)")
        if jsonish(value) != jsonish(mine):
            raise self.error(key, f"{mine!r} as in this object", value, fix)


def jsonish(value: Any) -> Any:
    """``value`` as JSON would give it back: tuples as lists, keys as strings; a bool stays a bool."""
    if isinstance(value, Mapping):
        return {str(k): jsonish(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonish(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, numbers.Real):
        return ("number", float(value))
    return ("other", repr(value))
