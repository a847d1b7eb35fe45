"""WallClock: elapsed training seconds (pauses, restores), and the progress they give a schedule:
plain seconds, a time budget, and the hybrid that starts a decay early when time runs short."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

import lrkit as lk
from lrkit.reactive.controller import FakeClock, WallClock


def test_the_clock_starts_at_the_first_reading_or_at_start():
    fake = FakeClock(1000.0)
    wall = WallClock(clock=fake)
    fake.advance(50)  # before any reading: not training time yet
    assert wall.elapsed() == 0.0
    fake.advance(7.5)
    assert wall.elapsed() == 7.5
    other = WallClock(clock=fake)
    other.start()
    fake.advance(2)
    other.start()  # no effect once started
    assert other.elapsed() == 2.0


def test_pauses_exclude_evaluation_time_and_nest():
    fake = FakeClock()
    wall = WallClock(clock=fake)
    wall.start()
    fake.advance(10)
    with wall.paused():
        fake.advance(100)
        with wall.paused():  # nested (e.g. checkpointing inside evaluation)
            fake.advance(5)
        fake.advance(3)
        assert wall.elapsed() == 10.0 and not wall.running
    assert wall.running
    fake.advance(1)
    assert wall.elapsed() == 11.0
    with pytest.raises(KeyError), wall.paused():
        raise KeyError("evaluation failed")
    fake.advance(1)
    assert wall.elapsed() == 12.0  # the pause ended with the exception
    with pytest.raises(RuntimeError, match=r"resume\(\) without a matching pause\(\)"):
        wall.resume()


def test_a_pause_before_the_start_holds_the_clock_until_resumed():
    fake = FakeClock()
    wall = WallClock(clock=fake)
    wall.pause()
    fake.advance(5)
    assert wall.elapsed() == 0.0
    fake.advance(5)
    wall.resume()
    fake.advance(2)
    assert wall.elapsed() == 2.0


def test_a_source_stepping_back_keeps_counting_from_its_last_reading_and_says_so_once():
    """NTP or a VM migration sets the source back 400 s: the clock counts on from its last reading (on main it froze
    until the source caught up: 400 s of training uncounted, the LR frozen, a budget overrun by the jump)."""
    fake = FakeClock(1000.0)
    wall = WallClock(budget=3600, clock=fake)
    wall.start()
    fake.advance(10)
    assert wall.elapsed() == 10.0
    fake.now = 610.0  # a wall-time source adjusted 400 s backwards
    with pytest.warns(UserWarning, match="stepped back by 400 s.*said once"):
        assert wall.elapsed() == 10.0
    fake.advance(30)
    assert wall.elapsed() == 40.0  # every second after the step back counts
    with wall.paused():
        fake.advance(5)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        fake.now = 500.0  # steps back again, inside no pause
        assert wall.elapsed() == 40.0
        fake.advance(20)
        assert wall.elapsed() == 60.0 and wall.progress(lk.cosine(3600)) == 60.0
        with wall.paused():
            fake.now = 100.0  # back while paused: the pause is not counted either way
        fake.advance(7)
        assert wall.elapsed() == 67.0
    fake.now = float("nan")
    with pytest.raises(ValueError, match="the clock returned nan"):
        wall.elapsed()


def test_the_default_source_is_time_monotonic():
    wall = WallClock()
    wall.start()
    before = time.monotonic()
    while time.monotonic() - before < 0.02:
        pass
    assert 0.02 <= wall.elapsed() < 5.0


def test_halve_every_ten_minutes_is_step_decay_driven_by_seconds():
    decay = lk.step_decay(600, factor=0.5)  # "halve every 600 updates" when driven by updates
    fake = FakeClock()
    wall = WallClock(clock=fake)
    wall.start()
    seen = []
    for seconds in (0, 599.9, 600, 1199, 1200, 3000):
        fake.now = float(seconds)
        seen.append(decay(wall.progress(decay)))
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25, 0.5**5]
    assert seen == [decay(u) for u in (0, 599.9, 600, 1199, 1200, 3000)]  # same curve, other unit


@pytest.mark.parametrize("schedule", [lk.cosine(10_000, floor=0.1), lk.linear(3), lk.warmup_cosine(1000, 100)])
def test_a_budget_fits_any_finite_schedule_to_it(schedule):
    fake = FakeClock()
    wall = WallClock(budget=7200, clock=fake)
    wall.start()
    fake.advance(3600)
    assert wall.progress(schedule) == schedule.length / 2
    fake.advance(3600)
    assert wall.remaining() == 0.0
    assert schedule(wall.progress(schedule)) == schedule.final  # the floor exactly when the budget ends
    fake.advance(100)
    assert schedule(wall.progress(schedule)) == schedule.final and wall.remaining() == -100.0


def test_a_budget_needs_a_finite_schedule():
    wall = WallClock(budget=10, clock=FakeClock())
    with pytest.raises(ValueError, match=r"a budget needs a finite schedule.*take"):
        wall.progress(lk.step_decay(5))
    with pytest.raises(ValueError, match=r"no budget; give WallClock\(budget=seconds\)"):
        WallClock(clock=FakeClock()).remaining()


def run_hybrid(seconds_per_update, schedule, budget, limit=5000):
    """Train until the schedule's floor (or limit): lr at each update, from a hybrid clock."""
    fake = FakeClock()
    wall = WallClock(budget=budget, clock=fake, mode="hybrid")
    wall.start()
    lrs, elapsed = [], []
    for update in range(1, limit + 1):
        fake.advance(seconds_per_update)
        lrs.append(schedule(wall.progress(schedule, updates=update)))
        elapsed.append(wall.elapsed())
        if lrs[-1] == schedule.final:
            break
    return np.array(lrs), np.array(elapsed)


def test_hybrid_follows_the_updates_while_the_run_is_on_pace():
    s = lk.wsd(1000, warmup=100, decay=200)
    lrs, elapsed = run_hybrid(0.05, s, budget=100)  # 1000 updates take 50 s < 100 s
    np.testing.assert_array_equal(lrs, s(np.arange(1, 1001)))
    assert elapsed[-1] == pytest.approx(50.0)


def test_hybrid_starts_the_final_decay_early_when_the_budget_runs_short():
    s = lk.wsd(1000, warmup=100, decay=200)
    lrs, elapsed = run_hybrid(0.25, s, budget=128)  # 1000 updates would take 250 s; time leads from the start
    updates = np.arange(1, len(lrs) + 1)
    first_decayed = int(updates[(updates > 100) & (lrs < 1.0)][0])
    # time progress passes 800 (the decay's start) at 102.4 s, i.e. after update 409, not after update 800
    assert first_decayed == 410
    assert len(lrs) == 512 and elapsed[-1] == 128.0  # the floor exactly when the budget ends
    assert lrs[-1] == 0.0 and np.all(np.diff(lrs[first_decayed - 1 :]) < 0)
    np.testing.assert_array_equal(lrs, s(updates * 1000 / 512))  # progress = elapsed / budget * length


def test_hybrid_needs_a_budget_and_the_update_count():
    with pytest.raises(ValueError, match="mode='hybrid' needs a budget"):
        WallClock(mode="hybrid")
    wall = WallClock(budget=10, mode="hybrid", clock=FakeClock())
    with pytest.raises(ValueError, match="needs updates="):
        wall.progress(lk.cosine(10))


def test_progress_accepts_agreed_seconds():
    fake = FakeClock()
    wall = WallClock(budget=100, clock=fake)
    fake.advance(1)
    assert wall.progress(lk.cosine(1000), elapsed=25.0) == 250.0
    assert WallClock(clock=fake).progress(lk.cosine(10), elapsed=3.5) == 3.5


def test_state_dict_resumes_from_the_elapsed_time_not_from_zero():
    fake = FakeClock()
    wall = WallClock(budget=7200, clock=fake)
    wall.start()
    fake.advance(1800)
    with wall.paused():
        fake.advance(60)
    fake.advance(200)
    state = json.loads(json.dumps(wall.state_dict(), allow_nan=False))
    assert state == {"version": 1, "elapsed": 2000.0, "budget": 7200.0, "mode": "time"}
    fake.advance(5000)  # the job is down: not training time
    resumed = WallClock(budget=7200, clock=fake)
    resumed.load_state_dict(state)
    assert resumed.elapsed() == 2000.0
    fake.advance(100)
    assert resumed.elapsed() == 2100.0 and resumed.progress(lk.cosine(7200)) == 2100.0


def test_load_keeps_the_constructed_budget_and_the_live_pause():
    fake = FakeClock()
    longer = WallClock(budget=200, clock=fake)
    with longer.paused():
        longer.load_state_dict({"version": 1, "elapsed": 50.0, "budget": 100.0, "mode": "time"})
        fake.advance(30)
        assert longer.elapsed() == 50.0
    fake.advance(10)
    assert longer.elapsed() == 60.0 and longer.progress(lk.linear(100)) == 30.0


GOOD = {"version": 1, "elapsed": 5.0, "budget": None, "mode": "time"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"elapsed": -1.0}, r"state\['elapsed'\] must be a finite number >= 0, found -1.0"),
        ({"elapsed": math.nan}, r"state\['elapsed'\] must be a finite number >= 0, found nan"),
        ({"elapsed": "1"}, r"state\['elapsed'\] must be a finite number >= 0, found '1'"),
        ({"elapsed": True}, r"state\['elapsed'\] must be a finite number >= 0, found True"),
        ({"elapsed": None}, r"state\['elapsed'\]"),
        ({"version": 2}, r"state\['version'\] must be one of the versions this lrkit reads \(1\), found 2"),
        ({"budget": -5.0}, r"state\['budget'\]"),
        ({"budget": 0}, r"state\['budget'\]"),
        ({"mode": "wall"}, r"state\['mode'\] must be one of 'time', 'hybrid', found 'wall'"),
    ],
)
def test_load_refuses_a_bad_state_and_changes_nothing(change, message):
    fake = FakeClock()
    wall = WallClock(clock=fake)
    wall.start()
    fake.advance(3)
    with pytest.raises(ValueError, match=message):
        wall.load_state_dict({**GOOD, **change})
    fake.advance(1)
    assert wall.elapsed() == 4.0  # untouched


@pytest.mark.parametrize("key", sorted(GOOD))
def test_load_refuses_a_missing_key(key):
    state = {k: v for k, v in GOOD.items() if k != key}
    with pytest.raises(ValueError, match=rf"state\['{key}'\] must be .*found nothing \(the key is missing\)"):
        WallClock(clock=FakeClock()).load_state_dict(state)
    with pytest.raises(ValueError, match=r"the state must be a dict, found None"):
        WallClock(clock=FakeClock()).load_state_dict(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(budget=0), "budget must be > 0 seconds, got 0"),
        (dict(budget=-5.0), "budget must be > 0 seconds, got -5.0"),
        (dict(budget=math.inf), "budget must be a finite number of seconds"),
        (dict(budget="2h"), "budget must be a finite number of seconds > 0 or None, got '2h'"),
        (dict(clock=3.0), "clock must be a function returning seconds"),
        (dict(mode="wall"), "mode must be one of 'time', 'hybrid', got 'wall'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WallClock(**kwargs)


def test_fake_clock_only_moves_forward():
    fake = FakeClock()
    with pytest.raises(ValueError, match="seconds must be a finite number >= 0, got -1"):
        fake.advance(-1)
    assert "budget=10.0" in repr(WallClock(budget=10, clock=fake))


def test_lrkit_reactive_imports_no_framework():
    import subprocess
    import sys

    code = "import sys, lrkit.reactive; print(sorted(m for m in ('torch', 'jax', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
