"""The state of the Scheduler's stateful parts, each checked whole before anything changes (issue 24): the plateau
Controller, the WallClock and the token counter. Real states garbled once either raise one ValueError naming the
key, the object then behaving exactly as an untouched twin, or are valid and resume bitwise."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrkit as lk
from _garble import assert_names_the_key, garbled
from lrkit.reactive.controller import Controller, FakeClock, WallClock
from lrkit.torch._tokens import TokenCounter

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def metric(i: int) -> float:
    return 1.0 / (1 + i % 7) + (0.5 if i % 11 == 0 else 0.0)


# -- Controller -------------------------------------------------------------------------------------------
PLATEAU = lk.warmup(5) >> (lk.constant(1.0, 1000) * lk.plateau(patience=1, factor=0.5, cooldown=2, smoothing=0.3))
OTHER_PLATEAUS = [
    lk.constant(1.0) * lk.plateau(patience=3),
    (lk.constant(1.0, 50) * lk.plateau()) >> (lk.constant(1.0) * lk.plateau(mode="max")),
]


def controller_run(c: Controller, start: int, n: int) -> list[tuple[bool, list[float]]]:
    return [(c.observe(metric(i), 5 + i), c.scales) for i in range(start, start + n)]


def controller_state(schedule: lk.Schedule, n: int = 40) -> dict[str, Any]:
    c = Controller(schedule)
    controller_run(c, 0, n)
    return json.loads(json.dumps(c.state_dict()))


CONTROLLER = controller_state(PLATEAU)
CONTROLLER_AFTER = controller_run(Controller(PLATEAU), 0, 140)[40:]


@FAST
@given(data=st.data())
def test_a_garbled_controller_state_is_refused_whole_or_resumes_bitwise(data: Any) -> None:
    state, key = data.draw(garbled(CONTROLLER, [controller_state(s, 30) for s in OTHER_PLATEAUS]))
    c, twin = Controller(PLATEAU), Controller(PLATEAU)
    controller_run(c, 0, 3)
    controller_run(twin, 0, 3)
    try:
        c.load_state_dict(state)
    except ValueError as error:
        assert_names_the_key(error, key)
        assert c.state_dict() == twin.state_dict()
        assert controller_run(c, 3, 100) == controller_run(twin, 3, 100)
    else:
        assert controller_run(c, 40, 100) == CONTROLLER_AFTER


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"scale": 1.5}, "plateaus[0].scale"),
        ({"scale": -0.5}, "plateaus[0].scale"),
        ({"bad": 7}, "plateaus[0].bad"),  # more than patience=1: never a real state
        ({"cooldown": 9}, "plateaus[0].cooldown"),
        ({"best": float("nan")}, "plateaus[0].best"),
        ({"calls": 1.5}, "plateaus[0].calls"),
        ({"reductions": 10**6}, "plateaus[0].reductions"),
    ],
)
def test_a_controller_refuses_impossible_counters(change: dict, key: str) -> None:
    state = copy.deepcopy(CONTROLLER)
    state["plateaus"][0].update(change)
    c = Controller(PLATEAU)
    with pytest.raises(ValueError, match=re.escape(f"state['{key}']")):
        c.load_state_dict(state)
    assert c.scales == [1.0]


# -- WallClock ---------------------------------------------------------------------------------------------
def clock_run(wall: WallClock, fake: FakeClock, n: int) -> list[float]:
    out = []
    for i in range(n):
        fake.advance(0.5)
        if i % 9 == 4:
            with wall.paused():
                fake.advance(3.0)
        out.append(wall.elapsed())
    return out


def clock_state(budget: float | None, mode: str = "time", n: int = 40) -> dict[str, Any]:
    fake = FakeClock()
    wall = WallClock(budget=budget, mode=mode, clock=fake)
    clock_run(wall, fake, n)
    return json.loads(json.dumps(wall.state_dict()))


CLOCK = clock_state(100.0)
_fake = FakeClock()
_wall = WallClock(budget=100.0, clock=_fake)
CLOCK_AFTER = clock_run(_wall, _fake, 140)[40:]


@FAST
@given(data=st.data())
def test_a_garbled_clock_state_is_refused_whole_or_resumes_bitwise(data: Any) -> None:
    state, key = data.draw(garbled(CLOCK, []))
    fake, twin_fake = FakeClock(1000.0), FakeClock(1000.0)
    wall, twin = WallClock(budget=100.0, clock=fake), WallClock(budget=100.0, clock=twin_fake)
    clock_run(wall, fake, 3)
    clock_run(twin, twin_fake, 3)
    try:
        wall.load_state_dict(state)
    except ValueError as error:
        assert_names_the_key(error, key)
        assert clock_run(wall, fake, 100) == clock_run(twin, twin_fake, 100)
    else:
        assert clock_run(wall, fake, 100) == CLOCK_AFTER


# -- token counter -------------------------------------------------------------------------------------------
def counter_run(c: TokenCounter, start: int, n: int) -> list[int]:
    out = []
    for i in range(start, start + n):
        c.add("count", 100 + 37 * (i % 5))
        if i % 3:
            c.add("count", 7)
        out.append(c.take())
    return out


def counter_state(unit: str) -> dict[str, Any]:
    c = TokenCounter(unit, "sum")
    counter_run(c, 0, 40)
    c.add("count", 11)  # saved mid-update: the pending count is state too
    return json.loads(json.dumps(c.state_dict()))


COUNTER = counter_state("tokens")
_counter = TokenCounter("tokens", "sum")
counter_run(_counter, 0, 40)
_counter.add("count", 11)
COUNTER_AFTER = counter_run(_counter, 40, 100)


@FAST
@given(data=st.data())
def test_a_garbled_counter_state_is_refused_whole_or_resumes_bitwise(data: Any) -> None:
    state, key = data.draw(garbled(COUNTER, [counter_state("samples")]))
    c, twin = TokenCounter("tokens", "sum"), TokenCounter("tokens", "sum")
    counter_run(c, 0, 3)
    counter_run(twin, 0, 3)
    try:
        c.load_state_dict(state)
    except ValueError as error:
        assert_names_the_key(error, key)
        assert c.state_dict() == twin.state_dict()
        assert counter_run(c, 3, 100) == counter_run(twin, 3, 100)
    else:
        assert counter_run(c, 40, 100) == COUNTER_AFTER
