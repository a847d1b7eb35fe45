"""Reactive schedules driving a real torch optimizer through lrkit.torch.Scheduler:
plateau parity with torch (per-group floors included), plateau inside a composition with one
step(metric=...) API, wall-clock progress (seconds, budget, hybrid, pauses) and exact resume."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit.reactive.controller import Controller, FakeClock, Plateau, WallClock
from lrkit.torch import Scheduler

plateau = Plateau


def make_optimizer(lrs=(0.1,)):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def update(opt):
    """One real optimizer update (the Scheduler counts updates with a step hook)."""
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = torch.ones_like(p)
    opt.step()


def metric_series(seed, n=120):
    rng = np.random.default_rng(seed)
    return [float(v) for v in np.round(1 + np.exp(-np.arange(n) / 15) + 0.02 * rng.standard_normal(n), 3)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mode", ["min", "max"])
def test_scheduler_with_a_plateau_matches_torch_reduce_lr_on_plateau_per_group(seed, mode):
    bases, floors = (0.1, 0.01), (2e-3, 5e-4)
    kw = dict(mode=mode, patience=seed % 3, cooldown=seed % 2, factor=0.5, threshold_mode=["rel", "abs"][seed % 2])
    metrics = metric_series(seed)
    metrics = metrics if mode == "min" else [3 - x for x in metrics]

    ref_opt = make_optimizer(bases)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, min_lr=list(floors), **kw)
    opt = make_optimizer(bases)
    # torch's per-group absolute min_lr is a per-group clamp of the shared plateau multiplier
    shared = lk.constant(1.0) * plateau(**kw)
    sched = Scheduler(opt, [lk.clamp(shared, low=floor / base) for floor, base in zip(floors, bases)])
    reductions = 0
    for x in metrics:
        update(ref_opt)
        ref.step(x)
        update(opt)
        sched.step(metric=x)
        expected = [g["lr"] for g in ref_opt.param_groups]
        got = [g["lr"] for g in opt.param_groups]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
        reductions += expected[0] != bases[0]
    assert reductions > 0
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(floors)  # both groups reached their floors


@pytest.mark.parametrize("metric", ["flat", "tensor"])
def test_reductions_on_the_metric_fast_path_write_every_group_and_never_look_foreign(metric):
    """One schedule shared by three groups, a plateau reducing every third update over several blocks of values:
    each group's LR is its base times the resolved schedule (the twin Controller's), and no write of the
    Scheduler's own is taken for a foreign one (no warning)."""
    bases = (0.1, 0.02, 0.3)
    schedule = lk.cosine(2000) * plateau(patience=1, factor=0.9, min_scale=1e-3)
    opt = make_optimizer(bases)
    sched = Scheduler(opt, schedule)
    twin = Controller(schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in range(1, 700):
            update(opt)
            value = 1.0 if metric == "flat" else torch.tensor(1.0)
            sched.step(value)
            twin.observe(1.0)
            lr = twin.resolve()(n)
            np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [b * lr for b in bases], rtol=1e-12)
    assert twin.states[0].reductions > 200 and twin.scales[0] == 1e-3  # reductions all the way to the floor


def test_warmup_then_plateau_then_cosine_is_one_schedule_with_one_step_api():
    base = 0.1
    head, middle, tail = 5, 40, 20
    s = lk.warmup(head) >> (lk.constant(1.0, middle) * plateau(patience=2, factor=0.5)) >> lk.cosine(tail)
    opt = make_optimizer((base,))
    sched = Scheduler(opt, s)
    metrics = [1.0 / (k + 1) if k < 15 else 0.1 for k in range(head + middle + tail)]

    # reference: torch's ReduceLROnPlateau fed only the metrics reported while the middle piece runs
    ref_opt = make_optimizer((1.0,))
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, patience=2, factor=0.5)
    lrs, expected = [], []
    for k, x in enumerate(metrics, start=1):
        update(opt)
        sched.step(metric=x)
        lrs.append(opt.param_groups[0]["lr"])
        if head <= k < head + middle:
            ref.step(x)
            expected.append(base * ref_opt.param_groups[0]["lr"])
        else:
            expected.append(base * s(k))  # warmup and tail are untouched by the plateau
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=0)
    assert min(lrs[head - 1 : head + middle - 1]) < base / 4  # it did reduce, more than once (lrs[i]: update i+1)
    assert lrs[head + middle - 1] == base  # the cosine tail starts from its own peak


def test_step_with_a_metric_between_updates_observes_without_advancing():
    opt = make_optimizer()
    sched = Scheduler(opt, lk.cosine(100) * plateau(patience=0, factor=0.5))
    update(opt)
    sched.step()
    before = opt.param_groups[0]["lr"]
    sched.step(metric=1.0)  # an end-of-epoch validation loss, no new update
    sched.step(metric=1.0)
    assert sched.updates == 1
    assert opt.param_groups[0]["lr"] == pytest.approx(before * 0.5, rel=1e-12)


def save_load(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("split", [12, 17, 23])  # inside patience, right after a reduction (cooldown), later
def test_resume_mid_patience_and_mid_cooldown_gives_the_same_learning_rates(split):
    s = lk.warmup(3, start=0.0) >> (lk.constant(1.0, 200) * plateau(patience=3, cooldown=2, factor=0.5, smoothing=0.3))
    metrics = metric_series(11, 60)

    def run(opt, sched, xs):
        out = []
        for x in xs:
            update(opt)
            sched.step(metric=x)
            out.append(opt.param_groups[0]["lr"])
        return out

    opt = make_optimizer()
    straight = run(opt, Scheduler(opt, s), metrics)
    opt = make_optimizer()
    first = Scheduler(opt, s)
    head = run(opt, first, metrics[:split])
    state = save_load(first.state_dict())
    opt2 = make_optimizer()
    opt2.load_state_dict(opt.state_dict())
    second = Scheduler(opt2, s)
    second.load_state_dict(state)
    assert head + run(opt2, second, metrics[split:]) == straight
    assert len(set(straight)) > 3


# -- wall clock ------------------------------------------------------------------------------------------
def test_halve_every_ten_minutes_on_the_clock():
    fake = FakeClock()
    opt = make_optimizer()
    sched = Scheduler(opt, lk.step_decay(600, factor=0.5), clock=WallClock(clock=fake))
    for _ in range(1000):
        fake.advance(2.5)  # seconds per update
        update(opt)
        sched.step()
        elapsed = fake.now
        assert opt.param_groups[0]["lr"] == 0.1 * 0.5 ** math.floor(elapsed / 600)


def test_a_two_hour_budget_reaches_the_floor_when_the_budget_ends():
    fake = FakeClock()
    opt = make_optimizer()
    s = lk.warmup(100) >> lk.cosine(9900, floor=0.01)
    sched = Scheduler(opt, s, clock=WallClock(budget=7200, clock=fake))
    seen = []
    while fake.now < 7200:
        fake.advance(0.75)
        update(opt)
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    assert fake.now == 7200 and seen[-1] == pytest.approx(0.1 * 0.01, rel=1e-12)
    assert seen[-2] > seen[-1] and max(seen) == pytest.approx(0.1)


def test_hybrid_clock_starts_the_wsd_decay_early_when_time_runs_short():
    fake = FakeClock()
    opt = make_optimizer()
    s = lk.wsd(1000, warmup=100, decay=200)
    sched = Scheduler(opt, s, clock=WallClock(budget=128, clock=fake, mode="hybrid"))
    lrs = []
    for k in range(1, 513):
        fake.advance(0.25)  # 1000 updates would need 250 s
        update(opt)
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        assert lrs[-1] == 0.1 * s(max(k, fake.now / 128 * 1000))
    assert lrs[-1] == 0.0 and lrs[408] == 0.1 and lrs[409] < 0.1  # decay from update 410, not 801


def test_evaluation_time_is_excluded_with_paused():
    fake = FakeClock()
    clock = WallClock(clock=fake)
    opt = make_optimizer()
    sched = Scheduler(opt, lk.linear(100, end=0.0), clock=clock)
    for _ in range(10):
        fake.advance(1)
        update(opt)
        sched.step()
    with clock.paused():
        fake.advance(500)  # a long evaluation
        sched.step(metric=None)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9)
    fake.advance(1)
    update(opt)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.89)


def test_clock_resume_continues_from_the_elapsed_time():
    fake = FakeClock(1e6)
    opt = make_optimizer()
    s = lk.cosine(3600)
    sched = Scheduler(opt, s, clock=WallClock(clock=fake))
    for _ in range(30):
        fake.advance(20)
        update(opt)
        sched.step()
    state = save_load(sched.state_dict())
    assert state["clock"]["elapsed"] == 600.0
    later = FakeClock(5e6)  # another machine, another clock origin, hours later
    opt2 = make_optimizer()
    sched2 = Scheduler(opt2, s, clock=WallClock(clock=later))
    sched2.load_state_dict(state)
    later.advance(20)
    update(opt2)
    sched2.step()
    assert opt2.param_groups[0]["lr"] == 0.1 * s(620.0)


def test_plateau_on_a_clock_observes_at_the_elapsed_seconds():
    fake = FakeClock()
    s = lk.constant(1.0, 60) >> (lk.constant(1.0, 600) * plateau(patience=0, factor=0.5))
    opt = make_optimizer()
    sched = Scheduler(opt, s, clock=WallClock(clock=fake))
    for _ in range(5):  # the first minute: the plateau piece is not running yet
        fake.advance(10)
        update(opt)
        sched.step(metric=1.0)
    assert opt.param_groups[0]["lr"] == 0.1
    fake.advance(20)
    for _ in range(3):  # 70 s onwards: flat metric, patience 0 -> halve at every call after the first
        update(opt)
        sched.step(metric=1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.25, rel=1e-12)


def test_a_clock_driven_scheduler_follows_the_clock_between_updates_and_warns_once_past_the_end():
    # past its first updates step() takes its fast path; with a clock that path reads the clock on every
    # call (time moves without an update) and still warns once past the schedule's end
    fake = FakeClock()
    opt = make_optimizer()
    s = lk.linear(300, end=0.0) >> lk.constant(0.0, 1)
    sched = Scheduler(opt, s, clock=WallClock(clock=fake))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(400):
            fake.advance(1.0)
            if k % 2 == 0:
                update(opt)
            sched.step()
            assert opt.param_groups[0]["lr"] == 0.1 * s(fake.now)
    past = [w for w in caught if "is past the end of" in str(w.message)]
    assert past and past[0].filename == __file__  # pointing at the caller's step()
    assert len(past) == 1, [str(w.message) for w in caught]
