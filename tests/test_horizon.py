"""Horizon changes on resume, cooldown branches and re-warming (lrkit.horizon, Scheduler.load_state_dict(horizon=)).

Every resume is checked by value: the learning rate at every update after the resume equals the
rule's closed form ``base * new(q + (t - s))``, at the boundaries (step 0, a block boundary, the
cooldown start, past the end), through ``torch.save``/``torch.load(weights_only=True)``, and in a
fresh process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit import horizon
from lrkit.torch import Scheduler

BASE = 0.1


def build(schedule: lk.Schedule, **kwargs) -> tuple[torch.optim.Optimizer, Scheduler]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=BASE)
    return opt, Scheduler(opt, schedule, **kwargs)


def run(opt: torch.optim.Optimizer, sched: Scheduler, updates: int) -> list[float]:
    """The lr in force at each of the next ``updates`` updates."""
    out = []
    for _ in range(updates):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def checkpoint(tmp_path: Path, schedule: lk.Schedule, at: int) -> dict:
    opt, sched = build(schedule)
    run(opt, sched, at)
    path = tmp_path / f"ckpt{at}.pt"
    torch.save({"sched": sched.state_dict(), "opt": opt.state_dict()}, path)
    return torch.load(path, weights_only=True)


def closed(new: lk.Schedule, s: float, q: float, updates: int) -> list[float]:
    """The rule's closed form: lr(t) = base * new(q + (t - s)) for t = s, s + 1, ..."""
    return [BASE * new(max(q + (t - s), 0.0)) for t in range(int(s), int(s) + updates)]


def assert_close(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-16), (i, a, b)


WSD_OLD = lk.wsd(1000, warmup=100, decay=200)
WSD_NEW = horizon.extend(WSD_OLD, 3000)  # cooldown of 200 at the new end
CASES = {
    # rule: (old, new, checkpoints)
    "keep_step": (lk.warmup(10) >> lk.cosine(290), lk.warmup(10) >> lk.cosine(590), [0, 7, 64, 150, 300, 400]),
    "same_fraction": (lk.warmup(10) >> lk.cosine(290), lk.warmup(20) >> lk.cosine(580), [0, 7, 64, 150, 300, 400]),
    "wsd": (WSD_OLD, WSD_NEW, [0, 50, 100, 128, 500, 800]),
}


def position(rule: str, old: lk.Schedule, new: lk.Schedule, s: int) -> float:
    if rule == "same_fraction":
        return min(s, old.length) / old.length * new.length
    return float(s)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
@pytest.mark.parametrize("rule", list(CASES))
def test_lr_after_resume_equals_the_rules_closed_form(tmp_path: Path, rule: str) -> None:
    old, new, saves = CASES[rule]
    for s in saves:
        state = checkpoint(tmp_path, old, s)
        opt, sched = build(new)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"], horizon=rule)
        q = position(rule, old, new, s)
        assert q == horizon.resume(old, new, s, rule)
        updates = int(new.length - q) + 70  # to the end of the new schedule, and past it
        got = run(opt, sched, updates)
        assert_close(got, closed(new, s, q, updates))
        # the Scheduler's own reading agrees with what it wrote, and with the whole-run schedule
        assert sched.value_at(s + 5) == [got[5]]
        whole = horizon.resumed(old, new, at=s, rule=rule)
        assert_close(got, [BASE * whole(t) for t in range(s, s + updates)])


def test_keep_step_is_bitwise_a_fresh_run_of_the_new_schedule(tmp_path: Path) -> None:
    old, new, _ = CASES["keep_step"]
    state = checkpoint(tmp_path, old, 100)
    opt, sched = build(new)
    sched.load_state_dict(state["sched"], horizon="keep_step")
    ref_opt, ref = build(new)
    run(ref_opt, ref, 100)
    assert run(opt, sched, 300) == run(ref_opt, ref, 300)
    assert sched.state_dict()["positions"] is None  # nothing moved


def test_same_fraction_has_no_jump_for_a_stretched_cosine(tmp_path: Path) -> None:
    old, new = lk.cosine(100), lk.cosine(400)
    state = checkpoint(tmp_path, old, 30)
    opt, sched = build(new)
    sched.load_state_dict(state["sched"], horizon="same_fraction")
    got = run(opt, sched, 3)
    assert got[0] == pytest.approx(BASE * old(30), rel=1e-15)
    assert got[1] == pytest.approx(BASE * new(121), rel=1e-15)
    assert sched.state_dict()["positions"] == [[30.0, 120.0]]


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_wsd_rule_keeps_the_stable_phase_and_cools_down_at_the_new_end(tmp_path: Path) -> None:
    state = checkpoint(tmp_path, WSD_OLD, 700)
    opt, sched = build(WSD_NEW)
    sched.load_state_dict(state["sched"], horizon="wsd")
    got = run(opt, sched, 2400)  # updates 700 .. 3099
    t = np.arange(700, 3100)
    assert all(v == BASE for v, step in zip(got, t) if step <= 2800)  # stable until the new cooldown
    assert got[2800 - 700 + 100] == pytest.approx(BASE * 0.5)  # half-way down the linear cooldown
    assert got[3000 - 700] == 0.0 and got[-1] == 0.0


def test_the_resumed_state_resumes_again_without_a_rule(tmp_path: Path) -> None:
    old, new = lk.cosine(100), lk.cosine(300)
    state = checkpoint(tmp_path, old, 40)
    opt, sched = build(new)
    sched.load_state_dict(state["sched"], horizon="same_fraction")
    run(opt, sched, 17)
    again = json.loads(json.dumps(sched.state_dict()))
    opt2, sched2 = build(new)
    sched2.load_state_dict(again)  # the same schedules: no rule needed, the position travels in the state
    assert run(opt2, sched2, 50) == run(opt, sched, 50)


def test_two_horizon_changes_compose(tmp_path: Path) -> None:
    a, b, c = lk.cosine(100), lk.cosine(200), lk.cosine(800)
    state = checkpoint(tmp_path, a, 20)  # 20% of a
    opt, sched = build(b)
    sched.load_state_dict(state["sched"], horizon="same_fraction")  # at 40 of b
    run(opt, sched, 40)  # now at 80 of b (40%), after 60 real updates
    opt2, sched2 = build(c)
    sched2.load_state_dict(sched.state_dict(), horizon="same_fraction")  # at 320 of c
    assert sched2.state_dict()["positions"] == [[60.0, 320.0]]
    assert_close(run(opt2, sched2, 10), closed(c, 60, 320.0, 10))


def test_a_different_schedule_without_a_rule_is_refused_naming_the_operations(tmp_path: Path) -> None:
    state = checkpoint(tmp_path, lk.cosine(100), 10)
    _, sched = build(lk.cosine(200))
    with pytest.raises(ValueError, match=r"state\['schedules'\] must be .*found \['cosine\(100\)'\]") as caught:
        sched.load_state_dict(state["sched"])
    for name in ("horizon=", "keep_step", "same_fraction", "'wsd'", "'branch'", "lrkit.reactive.horizon"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "at", "rule", "message"),
    [
        (WSD_OLD, WSD_NEW, 850, "wsd", "in the cooldown of"),
        (WSD_OLD, lk.wsd(1000, warmup=50, decay=200), 500, "wsd", "warmups differ"),
        (lk.wsd(3000, warmup=100, decay=200), lk.wsd(1000, warmup=100, decay=200), 900, "wsd", "past the start"),
        (lk.cosine(100), lk.wsd(1000), 10, "wsd", "needs two lrkit.wsd"),
        (lk.cosine(100), lk.constant(1.0), 10, "same_fraction", "no finite length"),
        (lk.cosine(100), lk.cosine(200), 10, "branch", "must be a branch of the saved one"),
        (WSD_OLD, lk.cooldown(WSD_NEW, at=500, decay=100), 10, "branch", "it branches from wsd.3000"),
        (WSD_OLD, lk.cooldown(WSD_OLD, at=500, decay=100), 600, "branch", "past the branch point"),
        (lk.cosine(100), lk.cosine(200), 10, "stretch", "unknown horizon rule"),
    ],
)
def test_a_rule_that_does_not_fit_is_a_clear_error(tmp_path, old, new, at, rule, message) -> None:
    with pytest.raises(ValueError, match=message):
        horizon.resume(old, new, at, rule)
    state = checkpoint(tmp_path, old, at)
    opt, sched = build(new)
    before = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match=message):
        sched.load_state_dict(state["sched"], horizon=rule)
    assert opt.param_groups[0]["lr"] == before and sched.updates == 0  # nothing was changed


def test_bad_positions_and_rules() -> None:
    with pytest.raises(ValueError, match="position"):
        horizon.keep_step(lk.cosine(10), lk.cosine(20), -1)
    with pytest.raises(TypeError, match="Schedule"):
        horizon.keep_step("cosine(10)", lk.cosine(20), 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="returned"):
        horizon.resume(lk.cosine(10), lk.cosine(20), 1, lambda old, new, p: -5.0)
    with pytest.raises(TypeError, match="rule"):
        horizon.resume(lk.cosine(10), lk.cosine(20), 1, 3)  # type: ignore[arg-type]


def test_a_custom_rule_and_hyper_schedules_pair_in_order(tmp_path: Path) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE, momentum=0.9)
    old = Scheduler(opt, lk.cosine(100), hyper={"momentum": lk.one_cycle_momentum(100)})
    run(opt, old, 30)
    state = old.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE, momentum=0.9)
    new = Scheduler(opt2, lk.cosine(100), hyper={"momentum": lk.one_cycle_momentum(200)})
    new.load_state_dict(state, horizon=lambda a, b, p: p + 10)
    # the lr schedule did not change: it keeps its position; the momentum one moved by the rule
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert opt2.param_groups[0]["momentum"] == pytest.approx(lk.one_cycle_momentum(200)(40))


def test_plateau_and_clock_cannot_change_horizon(tmp_path: Path) -> None:
    from lrkit.reactive.controller import Plateau

    _, sched = build(lk.cosine(100) * Plateau(patience=2))
    state = sched.state_dict()
    _, other = build(lk.cosine(200) * Plateau(patience=2))
    with pytest.raises(ValueError, match="plateau"):
        other.load_state_dict(state, horizon="keep_step")
    _, sched = build(lk.cosine(100), clock=lk.WallClock(budget=10.0, clock=lk.FakeClock()))
    state = sched.state_dict()
    _, other = build(lk.cosine(200), clock=lk.WallClock(budget=10.0, clock=lk.FakeClock()))
    with pytest.raises(ValueError, match="wall clock"):
        other.load_state_dict(state, horizon="keep_step")


def test_updates_per_epoch_positions_are_in_epochs(tmp_path: Path) -> None:
    opt, sched = build(lk.cosine(10), updates_per_epoch=10)
    run(opt, sched, 25)  # 2.5 epochs
    opt2, sched2 = build(lk.cosine(20), updates_per_epoch=10)
    sched2.load_state_dict(sched.state_dict(), horizon="same_fraction")  # 25% of 20 epochs: epoch 5
    got = run(opt2, sched2, 5)
    assert_close(got, [BASE * lk.cosine(20)(5.0 + (t / 10 - 2.5)) for t in range(25, 30)])


# -- branches -------------------------------------------------------------------------------------
RUN = lk.wsd(10_000, warmup=500, decay=2000)


@pytest.mark.parametrize("shape", ["linear", "cos", "1-sqrt"])
def test_cooldown_closed_form_per_shape(shape: str) -> None:
    at, n, floor = 3000, 1000, 0.01
    c = lk.cooldown(RUN, at=at, decay=n, shape=shape, floor=floor)
    h = {
        "linear": lambda x: 1 - x,
        "cos": lambda x: (1 + math.cos(math.pi * x)) / 2,
        "1-sqrt": lambda x: 1 - math.sqrt(x),
    }[shape]
    t = np.arange(0, 5000)
    assert np.array_equal(c(t[:at + 1]), RUN(t[:at + 1]))
    for u in (0, 1, 250, 500, 999, 1000):
        assert c(at + u) == pytest.approx(floor + (1.0 - floor) * h(u / n), rel=1e-12, abs=1e-15)
    assert c.length == at + n and c.final == floor and c(at + 5000) == floor


def test_several_cooldowns_branch_from_one_run_and_round_trip() -> None:
    branches = [lk.cooldown(RUN, at=at, decay=at // 5) for at in (2000, 4000, 8000)]
    for c in branches:
        assert lk.from_config(repr(c)) == c
        assert lk.from_config(c.to_config()) == c
        assert lk.from_config(json.loads(json.dumps(c.to_config()))) == c
        at = horizon.branch_point(c, RUN)
        assert c(at) == 1.0 and c.final == 0.0
        assert at in c.phase_starts(c.length)
    assert repr(branches[0]) == (
        "take(wsd(10000, warmup=500, decay=2000), 2000) >> anneal(400, 1.0, 0.0, shape='1-sqrt')"
    )
    assert len(set(branches)) == 3


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_a_checkpoint_resumes_onto_a_branch(tmp_path: Path) -> None:
    state = checkpoint(tmp_path, RUN, 1500)
    for at in (1500, 3000):
        c = lk.cooldown(RUN, at=at, decay=500)
        opt, sched = build(c)
        sched.load_state_dict(state["sched"], horizon="branch")
        got = run(opt, sched, at + 600 - 1500)
        assert_close(got, closed(c, 1500, 1500.0, at + 600 - 1500))
        assert got[-1] == 0.0


def test_cooldown_bad_input() -> None:
    with pytest.raises(ValueError, match="inside the cooldown"):
        lk.cooldown(RUN, at=9000, decay=100)
    with pytest.raises(ValueError, match="past the end"):
        lk.cooldown(lk.cosine(100), at=200, decay=10)
    with pytest.raises(ValueError, match="shape"):
        lk.cooldown(RUN, at=1000, decay=100, shape="exp")
    with pytest.raises(ValueError, match="above the value"):
        lk.cooldown(lk.warmup(100) >> lk.constant(0.5, 100), at=150, decay=10, floor=0.9)
    with pytest.raises(ValueError, match="decay"):
        lk.cooldown(RUN, at=1000, decay=0)
    with pytest.raises(ValueError, match="at must be"):
        lk.cooldown(RUN, at=-1, decay=10)
    assert lk.cooldown(lk.constant(1.0), at=0, decay=10)(5) == pytest.approx(1 - math.sqrt(0.5))


def test_rewarm_closed_form_and_round_trip() -> None:
    base = lk.warmup_cosine(1000, warmup=100, floor=0.1)
    r = lk.rewarm(base, warmup=100, decay=400, peak=0.6, stable=50)
    assert horizon.branch_point(r, base) == 1000 and r.length == 1550
    assert np.array_equal(r(np.arange(1001)), base(np.arange(1001)))
    for u in (0, 40, 100):
        assert r(1000 + u) == pytest.approx(0.1 + 0.5 * u / 100)
    assert r(1120) == 0.6 and r(1150) == 0.6
    for u in (0, 100, 200, 400):
        assert r(1150 + u) == pytest.approx(0.1 + 0.5 * (1 + math.cos(math.pi * u / 400)) / 2)
    assert lk.from_config(repr(r)) == r and lk.from_config(r.to_config()) == r
    mid = lk.rewarm(base, warmup=10, decay=100, at=500, floor=0.0, shape="1-sqrt")
    assert horizon.branch_point(mid, base) == 500 and mid(500) == base(500) and mid.final == 0.0
    assert lk.from_config(repr(mid)) == mid
    with pytest.raises(ValueError, match="infinite"):
        lk.rewarm(lk.constant(1.0), warmup=10, decay=10)
    with pytest.raises(ValueError, match="peak"):
        lk.rewarm(base, warmup=10, decay=10, peak=0)


def test_continuation_and_resumed() -> None:
    new = lk.linear(10)
    assert horizon.continuation(new, 0) is new
    assert horizon.continuation(new, 10) == lk.constant(0.0)
    assert horizon.continuation(new, 12) == lk.constant(0.0)
    whole = horizon.resumed(lk.cosine(10), new, at=0, rule="keep_step")
    assert whole == new
    assert lk.from_config(repr(horizon.resumed(lk.cosine(10), new, at=5, rule="same_fraction"))) is not None


# -- fresh process --------------------------------------------------------------------------------
FRESH = textwrap.dedent(
    """
    import json, sys, warnings
    import torch, lrkit as lk
    from lrkit.torch import Scheduler
    warnings.simplefilter("ignore")
    out = {}
    for item in json.loads(sys.argv[1]):
        ckpt = torch.load(item["path"], weights_only=True)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        sched = Scheduler(opt, lk.from_config(item["new"]))
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"], horizon=item["rule"])
        lrs = []
        for _ in range(item["updates"]):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out[item["name"]] = lrs
    print(json.dumps(out))
    """
)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_fresh_process_resume_with_each_rule(tmp_path: Path) -> None:
    cases = {**CASES, "branch": (RUN, lk.cooldown(RUN, at=3000, decay=700), [0, 64, 1000, 3000])}
    items, want = [], {}
    for rule, (old, new, saves) in cases.items():
        for s in saves:
            opt, sched = build(old)
            run(opt, sched, s)
            path = tmp_path / f"{rule}-{s}.pt"
            torch.save({"sched": sched.state_dict(), "opt": opt.state_dict()}, path)
            q = position(rule, old, new, s)
            updates = int(new.length - q) + 10
            name = f"{rule}@{s}"
            items.append({"name": name, "path": str(path), "new": repr(new), "rule": rule, "updates": updates})
            want[name] = closed(new, s, q, updates)
    done = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(items)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(got) == set(want)
    for name in want:
        assert_close(got[name], want[name])


# -- property: any lengths, any checkpoint ---------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    old_len=st.integers(10, 400),
    new_len=st.integers(10, 400),
    at=st.integers(0, 450),
    rule=st.sampled_from(["keep_step", "same_fraction"]),
)
def test_property_every_update_after_the_resume_follows_the_closed_form(old_len, new_len, at, rule) -> None:
    import warnings

    old, new = lk.warmup(5) >> lk.cosine(old_len, floor=0.01), lk.warmup(5) >> lk.cosine(new_len, floor=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt, sched = build(old)
        run(opt, sched, at)
        state = json.loads(json.dumps(sched.state_dict()))
        opt2, sched2 = build(new)
        if old == new:
            sched2.load_state_dict(state)
            q = float(at)
        else:
            sched2.load_state_dict(state, horizon=rule)
            q = position(rule, old, new, at)
        got = run(opt2, sched2, 80)
    assert_close(got, closed(new, at, q, 80))
