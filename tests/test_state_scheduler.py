"""State you can trust: every Scheduler state is checked whole before anything changes (issue 24).

The examples of issue 24 ("Checkpoints load what they should refuse"), each a test that fails on main (21a4fa1),
and a property test that garbles real state dicts: a load either raises one ValueError naming the key and
leaves the Scheduler as it was (its next 100 learning rates equal an untouched twin's), or is valid and the
resumed run is bitwise the uninterrupted one.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrkit as lk
from _garble import assert_names_the_key, garbled
from lrkit.reactive.controller import FakeClock, WallClock
from lrkit.torch import Scheduler

BASE = 0.1


# -- runs of every kind of state -----------------------------------------------------------------
class Run:
    """One training run of a kind: ``update(i)`` does one optimizer update and the Scheduler's step."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fake = FakeClock()
        w = torch.nn.Parameter(torch.zeros(2))
        b = torch.nn.Parameter(torch.zeros(1))
        if kind == "plain":
            self.opt: torch.optim.Optimizer = torch.optim.AdamW([{"params": [w]}, {"params": [b], "lr": 0.03}], lr=BASE)
            self.sched = Scheduler(
                self.opt,
                lk.warmup(5) >> lk.cosine(300),
                hyper={"beta1": lk.one_cycle_momentum(305)},
                lr_scale=[1.0, 0.5],
            )
        elif kind == "plateau":
            self.opt = torch.optim.SGD([w], lr=BASE)
            s = lk.cosine(400) * lk.plateau(patience=1, factor=0.5, cooldown=1, smoothing=0.3)
            self.sched = Scheduler(self.opt, s)
        elif kind == "clock":
            self.opt = torch.optim.SGD([w], lr=BASE)
            self.sched = Scheduler(self.opt, lk.cosine(200), clock=WallClock(budget=100.0, clock=self.fake))
        elif kind == "tokens":
            self.opt = torch.optim.SGD([w], lr=BASE)
            self.sched = Scheduler(self.opt, lk.wsd(40_000, warmup=1000, decay=4000), advance="tokens")
        elif kind == "moved":  # a run whose horizon was changed: its state holds positions
            self.opt = torch.optim.SGD([w], lr=BASE)
            first = Scheduler(self.opt, lk.cosine(100))
            for _ in range(30):
                self.opt.step()
                first.step()
            state = first.state_dict()
            del first
            self.sched = Scheduler(self.opt, lk.cosine(300))
            self.sched.load_state_dict(state, horizon="same_fraction")
        else:
            raise AssertionError(kind)

    def update(self, i: int) -> None:
        self.opt.step()
        if self.kind == "plateau":
            self.sched.step(1.0 / (1 + i % 7))
        elif self.kind == "clock":
            self.fake.advance(0.5)
            self.sched.step()
        elif self.kind == "tokens":
            self.sched.step(tokens=100 + 37 * (i % 5))
        else:
            self.sched.step()

    def values(self, start: int, n: int = 100) -> list[tuple[float, ...]]:
        """The scheduled values in force at each of the next ``n`` updates."""
        out = []
        for i in range(start, start + n):
            out.append(tuple(float(x) for g in self.opt.param_groups for x in (g["lr"], *g.get("betas", ()))))
            self.update(i)
        return out


KINDS = ("plain", "plateau", "clock", "tokens", "moved")
SAVE_AT = 40


def saved(kind: str) -> tuple[dict[str, Any], list[tuple[float, ...]]]:
    """A real state saved at update 40 (through JSON) and the uninterrupted run's next 100 values."""
    run = Run(kind)
    for i in range(SAVE_AT):
        run.update(i)
    state = json.loads(json.dumps(run.sched.state_dict(), allow_nan=False))
    return state, run.values(SAVE_AT)


STATES = {kind: saved(kind) for kind in KINDS}


def resumed_run(kind: str, before: int = 3) -> Run:
    """A fresh run of the kind that made ``before`` updates (state worth losing), its clock at the saved time."""
    run = Run(kind)
    for i in range(before):
        run.update(i)
    run.fake.now = 0.5 * SAVE_AT
    return run


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_a_garbled_state_is_refused_whole_or_resumes_bitwise(data: Any, kind: str) -> None:
    state, key = data.draw(garbled(STATES[kind][0], [STATES[k][0] for k in KINDS if k != kind]))
    run, twin = resumed_run(kind), resumed_run(kind)
    before = run.sched.state_dict()
    try:
        run.sched.load_state_dict(state)
    except ValueError as error:
        assert_names_the_key(error, key)
        assert run.sched.state_dict() == before  # nothing changed ...
        assert run.values(3) == twin.values(3)  # ... so the next 100 values are the twin's
    else:
        assert run.values(SAVE_AT) == STATES[kind][1]  # a valid state: the resumed run is the uninterrupted one


@pytest.mark.parametrize("kind", KINDS)
def test_every_real_state_resumes_bitwise(kind: str) -> None:
    run = resumed_run(kind)
    run.sched.load_state_dict(copy.deepcopy(STATES[kind][0]))
    assert run.values(SAVE_AT) == STATES[kind][1]


# -- the examples of issue 24 (each fails on main at 21a4fa1) -----------------------------------------
def sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)


def test_a_clock_state_is_refused_without_a_clock_and_the_reverse() -> None:
    fake = FakeClock()
    opt = sgd()
    timed = Scheduler(opt, lk.cosine(100), clock=WallClock(budget=10.0, clock=fake))
    fake.advance(8.0)
    timed.step()
    plain = Scheduler(sgd(), lk.cosine(100))
    with pytest.raises(ValueError, match=r"state\['clock'\] must be None .*found \{.*build the Scheduler with clock="):
        plain.load_state_dict(timed.state_dict())
    assert plain.optimizer.param_groups[0]["lr"] == BASE
    with pytest.raises(ValueError, match=r"state\['clock'\] must be a clock state .*found None.*without clock="):
        Scheduler(sgd(), lk.cosine(100), clock=WallClock(budget=10.0, clock=fake)).load_state_dict(plain.state_dict())


def test_a_refused_load_changes_nothing() -> None:
    """On main a load that raised had already written base and updates: the next checkpoint resumed at 2x the LR."""
    opt = sgd()
    sched = Scheduler(opt, lk.cosine(100))
    for _ in range(10):
        opt.step()
        sched.step()
    state = sched.state_dict()
    bad = dict(
        state, base={"lr": [0.2]}, updates=50, clock={"version": 1, "elapsed": 1.0, "budget": None, "mode": "time"}
    )
    before = sched.state_dict()
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match=r"state\['clock'\]"):
        sched.load_state_dict(bad)
    assert sched.state_dict() == before and opt.param_groups[0]["lr"] == lr
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == BASE * lk.cosine(100)(11)


def test_a_plateau_state_without_its_controllers_is_refused() -> None:
    s = lk.constant(1.0) * lk.plateau(patience=0, factor=0.01)
    opt = sgd()
    sched = Scheduler(opt, s)
    for x in (1.0, 2.0, 3.0):
        opt.step()
        sched.step(x)
    state = sched.state_dict()
    assert opt.param_groups[0]["lr"] <= 1e-5
    for broken, found in (
        ({k: v for k, v in state.items() if k != "controllers"}, "found nothing"),
        ({**state, "controllers": [None]}, "found None"),
    ):
        fresh = Scheduler(sgd(), s)
        with pytest.raises(ValueError, match=rf"state\['controllers.*{found}"):
            fresh.load_state_dict(broken)


def test_a_clock_state_without_the_clock_is_refused() -> None:
    fake = FakeClock()
    sched = Scheduler(sgd(), lk.cosine(100), clock=WallClock(budget=10.0, clock=fake))
    fake.advance(5.0)
    sched.step()
    state = sched.state_dict()
    del state["clock"]
    with pytest.raises(ValueError, match=r"state\['clock'\].*found nothing"):
        Scheduler(sgd(), lk.cosine(100), clock=WallClock(budget=10.0, clock=fake)).load_state_dict(state)
    del state["version"]
    with pytest.raises(ValueError, match=r"state\['version'\].*found nothing"):
        Scheduler(sgd(), lk.cosine(100), clock=WallClock(budget=10.0, clock=fake)).load_state_dict(state)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s["base"].update(lr=[math.nan]), "base.lr[0]"),
        (lambda s: s["base"].update(lr=[-0.1]), "base.lr[0]"),
        (lambda s: s.update(positions=[[-50.0, 10.0]]), "positions[0][0]"),
        (lambda s: s.update(positions=[[30.0, -50.0]]), "positions[0][1]"),
        (lambda s: s.update(updates=1.7), "updates"),
        (lambda s: s.update(updates=True), "updates"),
        (lambda s: s.update(updates=299.5), "updates"),
        (lambda s: s.update(updates=-5), "updates"),
        (lambda s: s.update(version=99), "version"),
        (lambda s: s.update(warned_end="no"), "warned_end"),
        (lambda s: s.update(base=[0.1]), "base"),
        (lambda s: s.update(base={"lr": 0.1}), "base.lr"),
        (lambda s: s.update(schedules=None), "schedules"),
        (lambda s: s.update(controllers=5), "controllers"),
        (lambda s: s.update(counter={"version": 1, "unit": "tokens", "total": 5, "pending": None}), "counter"),
        (lambda s: s.pop("updates"), "updates"),
        (lambda s: s.pop("base"), "base"),
        (lambda s: s.pop("warned_end"), "warned_end"),
        (lambda s: s.pop("positions"), "positions"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(change: Callable[[dict], Any], key: str) -> None:
    opt = sgd()
    sched = Scheduler(opt, lk.cosine(100))
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    change(state)
    with pytest.raises(ValueError, match=re.escape(f"state['{key}']")):
        sched.load_state_dict(state)
    opt.step()
    sched.step()  # on main, updates=-5 broke every later step() with a TypeError
    assert opt.param_groups[0]["lr"] == BASE * lk.cosine(100)(6)


@pytest.mark.parametrize("horizon", [None, "keep_step"])
@pytest.mark.parametrize("scheduler_first", [True, False])
def test_the_load_order_of_optimizer_and_scheduler_does_not_matter(horizon: str | None, scheduler_first: bool) -> None:
    """On main, sched.load_state_dict(state, horizon=...) then opt.load_state_dict(...) ran the first resumed update at
    the old schedule's LR: torch replaces the param-group dicts."""
    old = lk.cosine(100)
    new = old if horizon is None else lk.cosine(400)
    opt = sgd()
    sched = Scheduler(opt, old)
    for _ in range(40):
        opt.step()
        sched.step()
    ckpt = {"opt": opt.state_dict(), "sched": sched.state_dict()}
    want_opt = sgd()
    want = Scheduler(want_opt, new)
    want_opt.load_state_dict(copy.deepcopy(ckpt["opt"]))
    want.load_state_dict(copy.deepcopy(ckpt["sched"]), horizon=horizon)
    opt2 = sgd()
    sched2 = Scheduler(opt2, new)
    if scheduler_first:
        sched2.load_state_dict(copy.deepcopy(ckpt["sched"]), horizon=horizon)
        opt2.load_state_dict(copy.deepcopy(ckpt["opt"]))
    else:
        opt2.load_state_dict(copy.deepcopy(ckpt["opt"]))
        sched2.load_state_dict(copy.deepcopy(ckpt["sched"]), horizon=horizon)
    assert opt2.param_groups[0]["lr"] == BASE * new(40)  # the first resumed update
    for _ in range(20):
        assert opt2.param_groups[0]["lr"] == want_opt.param_groups[0]["lr"]
        for o, s in ((opt2, sched2), (want_opt, want)):
            o.step()
            s.step()
    assert want.state_dict() == sched2.state_dict()


def test_a_version_1_state_still_loads() -> None:
    opt = sgd()
    sched = Scheduler(opt, lk.cosine(100))
    for _ in range(7):
        opt.step()
        sched.step()
    state = sched.state_dict()
    v1 = {k: v for k, v in state.items() if k not in ("counter", "positions")}
    v1["version"] = 1
    fresh_opt = sgd()
    fresh = Scheduler(fresh_opt, lk.cosine(100))
    fresh.load_state_dict(v1)
    assert fresh.state_dict() == state and fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
