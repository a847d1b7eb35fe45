"""Garbling of real state dicts for the state property tests (issue 24): one hostile change at a time."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from hypothesis import strategies as st

#: values no saved key may hold (a count, a number >= 0, a flag, a config, a nested state): each is refused
BAD = [None, "x", True, -1, -0.5, 1.5, math.nan, math.inf, -math.inf, [], {}, -3]
#: keys where None and finite numbers are both real states (a metric, None before the first; a pending token
#: count, None when nothing is counted): only the hostile values
FREE_KEYS = {"best", "smoothed", "pending"}


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def container(state: Any, path: tuple) -> Any:
    for key in path[:-1]:
        state = state[key]
    return state


@st.composite
def garbled(draw: Any, state: dict[str, Any], others: list[dict[str, Any]]) -> tuple[Any, str]:
    """``state`` garbled once (a key deleted or replaced, a list shortened, another version, an extra key), or one of
    ``others`` (states of other schedules, clocks, units); and the top-level key touched (``"*"``: any)."""
    state = copy.deepcopy(state)
    ops = ["delete", "replace", "version", "extra", "shorten"] + (["other"] if others else [])
    op = draw(st.sampled_from(ops))
    if op == "version":
        state["version"] = draw(st.sampled_from([0, 3, 99, "2", 2.5, None, True]))
        return state, "version"
    if op == "other":
        return copy.deepcopy(draw(st.sampled_from(others))), "*"
    if op == "extra":
        state[draw(st.sampled_from(["step", "lr", "base_lrs"]))] = 1
        return state, "*"
    every = paths(state)
    if op == "shorten":
        lists = [p for p in every if isinstance(container(state, p)[p[-1]], list) and container(state, p)[p[-1]]]
        if lists:
            path = draw(st.sampled_from(lists))
            container(state, path)[path[-1]].pop()
            return state, str(path[0])
    path = draw(st.sampled_from(every))
    holder = container(state, path)
    if op == "delete" and isinstance(holder, dict):
        del holder[path[-1]]
        return state, str(path[0])

    was = holder[path[-1]]

    def hostile(x: Any) -> bool:
        finite = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        if path[-1] in FREE_KEYS:
            return not (x is None or finite)
        return not (x == 1.5 and isinstance(was, float))  # 1.5 is no count, but may be seconds or a base

    holder[path[-1]] = draw(st.sampled_from([x for x in BAD if hostile(x)]))
    return state, str(path[0])


def assert_names_the_key(error: ValueError, key: str) -> None:
    """One line, naming ``state['key...']``."""
    message = str(error)
    assert "\n" not in message
    assert re.search(r"state\['[^']+'\]", message), message
    if key != "*":
        assert f"state['{key}" in message, (key, message)
