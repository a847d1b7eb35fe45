"""One time map for horizon changes: lrkit.horizon's Move (the routes' Offset then Shift) is what the torch
Scheduler evaluates after a resume with ``horizon=``/``resume=``, so the whole run built by lrkit.horizon is the
oracle of the adapter's learning rates, bitwise, over several moves in a row (same_fraction, keep_step, wsd,
branch, a function); and checkpoints written by main before the map moved there load and resume bitwise."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit import horizon
from lrkit.core.backend import MATH, NUMPY
from lrkit.torch import Scheduler
from test_horizon import BASE, build, run  # the same run as the horizon rules' own tests

DATA = Path(__file__).parent / "data" / "scheduler_states_main.json"


def chain(
    first: lk.Schedule, moves: list[tuple[int, lk.Schedule, Any]], total: int, sched_first: bool = False, **kwargs: Any
) -> list[float]:
    """A run on ``first`` resumed from its checkpoint at each ``at`` onto ``new`` by ``rule``: the lr at every update.

    Each resume is a fresh optimizer and Scheduler, loaded through JSON (as a checkpoint file would be), the
    optimizer's state first (or the Scheduler's, ``sched_first``)."""
    opt, sched = build(first, **kwargs)
    got: list[float] = []
    for at, new, rule in moves:
        got += run(opt, sched, at - len(got))
        state = json.loads(json.dumps(sched.state_dict()))
        opt_state = opt.state_dict()
        opt, sched = build(new, **kwargs)
        if sched_first:
            sched.load_state_dict(state, horizon=rule)
        opt.load_state_dict(opt_state)
        if not sched_first:
            sched.load_state_dict(state, horizon=rule)
    return got + run(opt, sched, total - len(got))


def oracle(first: lk.Schedule, moves: list[tuple[int, lk.Schedule, Any]], upe: float | None = None) -> lk.Schedule:
    """The same run as one schedule, built by lrkit.horizon alone: move after move, ``moved`` after ``moved``."""
    whole, now, step = first, first, horizon.STAY
    for at, new, rule in moves:
        at_ = at / upe if upe is not None else float(at)
        step = horizon.move(now, new, at_, rule, step)
        whole, now = horizon.moved(whole, new, at_, step), new
    return whole


WSD_RUN = lk.wsd(1000, warmup=100, decay=200)
WSD_LONG = horizon.extend(WSD_RUN, 3000)
WSD_LONGER = lk.wsd(6000, warmup=100, decay=400)
CHAINS = {
    # several moves in a row: wsd (the stable phase kept), same_fraction, then a cooldown branched from the run
    "wsd, same_fraction, branch": (
        WSD_RUN,
        [
            (300, WSD_LONG, "wsd"),
            (700, WSD_LONGER, "same_fraction"),
            (1000, horizon.cooldown(WSD_LONGER, at=1800, decay=300), "branch"),
        ],
        1400,
    ),
    "same_fraction twice, keep_step, a function": (
        lk.warmup(10) >> lk.cosine(290),
        [
            (64, lk.warmup(20) >> lk.cosine(580), "same_fraction"),
            (200, lk.cosine(1500), "same_fraction"),
            (420, lk.warmup(5) >> lk.cosine(2000), "keep_step"),
            (600, lk.linear(5000), lambda old, new, p: p + 17.5),
        ],
        1100,
    ),
    "rewarm from a decayed run": (
        lk.cosine(300, floor=0.1),
        [(300, horizon.rewarm(lk.cosine(300, floor=0.1), warmup=50, decay=400, peak=0.5), "branch")],
        800,
    ),
}


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
@pytest.mark.parametrize("sched_first", [False, True], ids=["optimizer loaded first", "scheduler loaded first"])
@pytest.mark.parametrize("name", list(CHAINS))
def test_the_whole_run_built_by_lrkit_horizon_is_the_oracle_of_the_adapter(name: str, sched_first: bool) -> None:
    first, moves, total = CHAINS[name]
    got = chain(first, moves, total, sched_first)
    want = BASE * oracle(first, moves)(np.arange(total, dtype=np.float64))
    np.testing.assert_array_equal(np.array(got), want)
    # the scalar (math) form of the oracle agrees too
    assert math.isclose(got[-1], BASE * oracle(first, moves)(float(total - 1)), rel_tol=1e-15)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_moves_in_epochs_follow_the_same_map() -> None:
    first = lk.cosine(10)
    moves = [
        (25, lk.cosine(20), "same_fraction"), (38, lk.cosine(45), "same_fraction"), (45, lk.cosine(30), "keep_step")
    ]
    got = chain(first, moves, 400, updates_per_epoch=10)
    want = BASE * oracle(first, moves, upe=10)(np.arange(400) / 10)
    np.testing.assert_array_equal(np.array(got), want)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(20, 400), min_size=2, max_size=4),
    gaps=st.lists(st.integers(1, 300), min_size=3, max_size=3),
    rules=st.lists(st.sampled_from(["same_fraction", "keep_step"]), min_size=3, max_size=3),
)
def test_random_chains_of_moves_are_bitwise_the_horizon_oracle(
    lengths: list[int], gaps: list[int], rules: list[str]
) -> None:
    schedules = [lk.warmup(5) >> lk.cosine(n, floor=0.01) for n in lengths]
    moves, at = [], 0
    for new, gap, rule in zip(schedules[1:], gaps, rules):
        at += gap
        moves.append((at, new, rule))
    total = at + 300
    got = chain(schedules[0], moves, total)
    np.testing.assert_array_equal(np.array(got), BASE * oracle(schedules[0], moves)(np.arange(total, dtype=np.float64)))


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
@pytest.mark.parametrize("case", json.loads(DATA.read_text())["cases"], ids=lambda c: c["name"])
def test_states_written_by_main_load_and_resume_bitwise(case: dict[str, Any]) -> None:
    """Each state was saved by main 5149c18 after horizon changes (its positions set), with the learning rates main
    wrote after it; loaded here (the same schedules: no rule), the resumed run writes exactly those."""
    schedules = [lk.from_config(c) for c in case["schedules"]]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=BASE, momentum=0.9)
    hyper = {"momentum": schedules[1]} if case.get("hyper") else None
    sched = Scheduler(opt, schedules[0], hyper=hyper, **case["kwargs"])
    sched.load_state_dict(case["state"])
    assert run(opt, sched, len(case["lrs"])) == [float.fromhex(x) for x in case["lrs"]]
    # and it saves the same positions again (the schema is unchanged)
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=BASE, momentum=0.9)
    again = Scheduler(opt2, schedules[0], hyper=hyper, **case["kwargs"])
    again.load_state_dict(case["state"])
    assert again.state_dict() == case["state"]


# -- the map itself ------------------------------------------------------------------------------------------------
def test_a_move_is_the_routes_offset_then_shift() -> None:
    m = horizon.Move(30.0, 120.0)
    t = np.arange(30, 800, dtype=np.float64)
    np.testing.assert_array_equal(m.local(t, NUMPY), (t - 30.0) + 120.0)
    assert [m.local(float(x), MATH) for x in t[:50]] == list((t[:50] - 30.0) + 120.0)
    assert m.local(35.0) == 125.0 and m.progress(m.local(35.0)) == 35.0
    back = horizon.Move(50.0, 10.0)
    assert back.local(45.0) == 5.0 and back.local(0.0) == 0.0  # clipped at 0, as shift's route is
    np.testing.assert_array_equal(back.local(np.array([0.0, 39.0, 41.0])), [0.0, 0.0, 1.0])
    # at == position: the progress itself, exactly (not (t - at) + at)
    t = np.array([0.1, 1e17 + 3.0])
    assert horizon.Move(1e17, 1e17).local(t) is t and horizon.STAY.still


def test_whole_run_through_moved_matches_the_move_on_the_new_schedule() -> None:
    old, new = lk.cosine(100), lk.cosine(400)
    m = horizon.move(old, new, 30, "same_fraction")
    assert m == horizon.Move(30.0, 120.0)
    whole = horizon.moved(old, new, 30, m)
    t = np.arange(0, 500, dtype=np.float64)
    want = np.where(t < 30, old(t), new(m.local(t)))
    np.testing.assert_array_equal(whole(t), want)
    assert whole == horizon.resumed(old, new, at=30, rule="same_fraction")


def test_moves_compose_from_where_the_previous_one_put_the_run() -> None:
    a, b, c = lk.cosine(100), lk.cosine(200), lk.cosine(800)
    first = horizon.move(a, b, 20, "same_fraction")  # 20% of a: 40 of b
    assert first == horizon.Move(20.0, 40.0)
    second = horizon.move(b, c, 60, "same_fraction", first)  # at 60 the run is at 80 of b (40%): 320 of c
    assert second == horizon.Move(60.0, 320.0)
    assert horizon.move(b, c, 60, "keep_step", first) == horizon.Move(60.0, 80.0)  # keep_step keeps the position
    assert horizon.move(a, b, 20, "keep_step") is horizon.STAY  # the new schedule at the run's own step


@pytest.mark.parametrize(("at", "position"), [(-1.0, 0.0), (0.0, -5.0), (math.nan, 0.0), (0.0, math.inf)])
def test_a_move_refuses_positions_that_are_not_finite_numbers_from_zero(at: float, position: float) -> None:
    with pytest.raises(ValueError, match="Move: the position must be a finite number >= 0"):
        horizon.Move(at, position)


def test_a_move_rule_that_fails_names_itself() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"wsd: the horizon rule 'wsd' needs two lrkit\.wsd"):
            horizon.move(lk.cosine(10), lk.cosine(20), 5, "wsd")
