"""The Scheduler's typed parts, each on its own with real torch optimizers: what is scheduled (_specs), what
progress counts (_progress), the write plan and its fast path (_plan), metrics (_plateaus), warnings (_guards)
and the values' ends after a move (_values)."""

from __future__ import annotations

import gc
import math
import warnings

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit import horizon
from lrkit.reactive import FakeClock, WallClock
from lrkit.torch import Scheduler
from lrkit.torch._guards import EPOCH_CALLS, IDLE_WARNING, UNFED, Guards
from lrkit.torch._plan import Plan
from lrkit.torch._plateaus import Plateaus, reactive
from lrkit.torch._progress import Progress
from lrkit.torch._specs import Specs
from lrkit.torch._values import BLOCK, Values


def sgd(*lrs: float, **kw) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], **kw)


def adam(*lrs: float) -> torch.optim.Adam:
    return torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])


# -- _specs -----------------------------------------------------------------------------------------------------------
def test_specs_share_equal_schedules_and_read_text_configs() -> None:
    opt = sgd(0.1, 0.2, momentum=0.9)
    specs = Specs(opt, "cosine(100)", {"momentum": [lk.cosine(100), lk.linear(50)]}, ("lr",), None, "keep_step")
    assert specs.schedules == [lk.cosine(100), lk.linear(50)]
    assert specs.assign == {"lr": 0, "momentum": [0, 1]}
    assert specs.of("lr") == lk.cosine(100) and specs.of("momentum") == [lk.cosine(100), lk.linear(50)]
    assert specs.resume == "keep_step" and specs.relative == ("lr",) and specs.lr_scale is None


def test_specs_take_timms_lr_scale_from_the_groups() -> None:
    opt = sgd(0.1, 0.1)
    opt.param_groups[0]["lr_scale"] = 0.25
    assert Specs(opt, lk.cosine(10), None, ("lr",), None, None).lr_scale == [0.25, 1.0]
    assert Specs(opt, lk.cosine(10), None, ("lr",), [1, 2], None).lr_scale == [1.0, 2.0]  # given: it wins


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hyper": {"lr": lk.cosine(10)}}, "hyper keys must be strings other than 'lr'"),
        ({"relative": ("momentum",)}, "relative names 'momentum', which is not scheduled"),
        ({"lr_scale": [1.0, math.nan]}, r"lr_scale must hold finite numbers >= 0 .* got nan"),
        ({"lr_scale": [1.0, True]}, "lr_scale must hold finite numbers"),
        ({"resume": "stretch"}, "resume must be a horizon rule"),
        ({"schedule": [lk.cosine(10)]}, "schedule has 1 schedules but the optimizer has 2 param groups"),
        ({"schedule": "cosine("}, "schedule is not a valid schedule config"),
        ({"schedule": 0.1}, "schedule must be an lrkit Schedule, its text config"),
        ({"hyper": {"momentum": [lk.cosine(10), 3]}}, r"hyper\['momentum'\]\[1\] must be an lrkit Schedule"),
    ],
)
def test_specs_refuse_bad_arguments_naming_them(kwargs: dict, match: str) -> None:
    args = {"schedule": lk.cosine(10), "hyper": None, "relative": ("lr",), "lr_scale": None, "resume": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Specs(sgd(0.1, 0.1, momentum=0.9), args["schedule"], args["hyper"], args["relative"], args["lr_scale"],
              args["resume"])


# -- _progress --------------------------------------------------------------------------------------------------------
def test_progress_counts_real_updates_and_stops_when_its_owner_is_collected() -> None:
    opt = sgd(0.1)

    class Owner:
        rewrites = 0

        def rewrite(self) -> None:
            self.rewrites += 1

    owner = Owner()
    progress = Progress("update", None, None, "sum")
    progress.attach(opt, owner, Owner.rewrite)
    for _ in range(3):
        opt.step()
    assert progress.count == [3] and progress.saved(0) == 3
    opt.load_state_dict(opt.state_dict())
    assert owner.rewrites == 1  # the load hook writes the owner's values into the new group dicts
    del owner
    gc.collect()
    opt.step()
    opt.load_state_dict(opt.state_dict())  # no owner: no hook runs, nothing raises
    assert progress.count == [3]


def test_progress_in_epochs_and_on_a_clock() -> None:
    assert Progress("update", 8, None, "sum").epochs(6) == 0.75
    assert Progress("call", None, None, "sum").epochs(6) == 6.0
    fake = FakeClock()
    p = Progress("update", None, WallClock(clock=fake), "sum")
    assert p.clock_reading(0) == (0.0, 0.0)  # the clock starts at its first reading
    fake.advance(2.5)
    assert p.clock_reading(7) == (2.5, 7.0)
    assert p.clock_progress([lk.cosine(10)], 7) == [2.5]


def test_progress_takes_token_counts_and_a_refused_count_leaves_nothing_behind() -> None:
    p = Progress("tokens", None, None, "sum")
    p.add("count", 100, None)
    assert p.take(20, None) == 120
    p.add("count", 5, None)
    with pytest.raises(ValueError, match="must be >= 0"):
        p.take(-1, None)
    assert p.tokens is not None and p.tokens.pending == 5  # as before the refused call
    with pytest.raises(ValueError, match=r"count\(samples=...\): this Scheduler counts tokens"):
        p.add("count", None, 3)
    with pytest.raises(ValueError, match="this Scheduler counts updates"):
        Progress("update", None, None, "sum").take(10, None)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("epoch", None, None, "sum"), "advance must be 'update', 'call', 'tokens' or 'samples'"),
        (("update", None, None, "mean"), "across must be 'sum' or 'rank0'"),
        (("tokens", None, WallClock(), "sum"), "two measures of progress"),
        (("call", 10, None, "sum"), "updates_per_epoch needs advance='update'"),
        (("update", math.nan, None, "sum"), "updates_per_epoch must be a number > 0, got nan"),
        (("update", True, None, "sum"), "updates_per_epoch must be a number > 0, got True"),
        (("update", 0, None, "sum"), "updates_per_epoch must be a number > 0, got 0"),
    ],
)
def test_progress_refuses_bad_settings_naming_them(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Progress(*args)


# -- _values ----------------------------------------------------------------------------------------------------------
def test_values_ends_and_reads_follow_the_move() -> None:
    schedules = [lk.cosine(400), lk.linear(100)]
    moves = [horizon.Move(30.0, 120.0), horizon.STAY]
    values = Values(list(schedules), None, moves)
    assert values.ends == [310.0, 100.0] and values.end == 100.0
    t = np.arange(0, 2 * BLOCK)
    got = np.array([values.at(int(n)) for n in t]).T
    np.testing.assert_array_equal(got[0], schedules[0](moves[0].local(t.astype(np.float64))))
    np.testing.assert_array_equal(got[1], schedules[1](t))
    assert values.scalar(35.0) == [schedules[0].math_function()(125.0), schedules[1].math_function()(35.0)]
    assert Values([lk.cosine(40)], 4.0).end == 160.0  # in updates


def test_values_on_a_clock_report_the_furthest_progress_past_an_end() -> None:
    values = Values([lk.cosine(10), lk.cosine(20)], None)
    got, late = values.at_clock(values.schedules, lambda s, updates, seconds: seconds, 0.0, 15.0)
    assert got == [lk.cosine(10)(15.0), lk.cosine(20)(15.0)] and late == 15.0
    assert values.at_clock(values.schedules, lambda s, u, sec: sec, 0.0, 5.0)[1] == -math.inf


# -- _plan ------------------------------------------------------------------------------------------------------------
def plan_for(opt: torch.optim.Optimizer, schedule: lk.Schedule, **kw) -> tuple[Plan, Specs, Values]:
    specs = Specs(opt, schedule, kw.get("hyper"), kw.get("relative", ("lr",)), kw.get("lr_scale"), None)
    values = Values(list(specs.schedules), None)
    plan = Plan(specs.assign, clocked=False)
    plan.adopt(opt.param_groups, specs, values.shift)
    return plan, specs, values


def test_plan_factors_relative_absolute_and_frozen_groups() -> None:
    opt = sgd(0.2, 0.0, 0.1, momentum=0.9)
    plan, _, values = plan_for(opt, lk.linear(10), hyper={"momentum": lk.constant(0.5)}, lr_scale=[1.0, 1.0, 0.5])
    assert plan.base == {"lr": [0.2, 0.0, 0.1], "momentum": [0.9, 0.9, 0.9]}
    assert [(t.name, t.group, t.factor) for t in plan.targets] == [
        ("lr", 0, 0.2), ("lr", 1, 0.0), ("lr", 2, 0.05),
        ("momentum", 0, 1.0), ("momentum", 1, 1.0), ("momentum", 2, 1.0),
    ]
    plan.write(values.at(4))
    assert [g["lr"] for g in opt.param_groups] == [0.2 * 0.6, 0.0, 0.05 * 0.6]
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.5, 0.5]
    assert plan.last == opt.param_groups[0]["lr"]


def test_plan_writes_tensors_and_betas_in_place_and_never_arms_for_them() -> None:
    opt = adam(0.1)
    opt.param_groups[0]["lr"] = torch.tensor(0.1)
    lr = opt.param_groups[0]["lr"]
    plan, _, values = plan_for(opt, lk.linear(10), hyper={"beta1": lk.constant(0.8)})
    assert plan.plain == [] and len(plan.other) == 2
    plan.write(values.at(5))
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.05)
    assert opt.param_groups[0]["betas"] == (0.8, 0.999)
    assert not plan.arm(5, values, math.inf)


def test_plan_block_writes_are_bitwise_the_full_writes_up_to_the_end() -> None:
    opt = sgd(0.1, 0.3)
    plan, _, values = plan_for(opt, lk.warmup(7) >> lk.cosine(BLOCK + 44))
    plan.write(values.at(10))
    assert plan.arm(10, values, float(BLOCK + 44))
    assert (plan.lo, plan.hi) == (0, BLOCK)
    twin, _, twin_values = plan_for(sgd(0.1, 0.3), lk.warmup(7) >> lk.cosine(BLOCK + 44))
    for n in range(11, BLOCK):
        plan.write_block(n)
        twin.write(twin_values.at(n))
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in twin.groups] and plan.n == n
    plan.write(values.at(BLOCK + 34))
    # the update past the end takes the general path
    assert plan.arm(BLOCK + 34, values, float(BLOCK + 44)) and plan.hi == BLOCK + 45


def test_plan_sees_new_groups_and_refuses_what_it_cannot_extend() -> None:
    opt = sgd(0.1)
    plan, specs, values = plan_for(opt, lk.cosine(10))
    assert not plan.stale(opt.param_groups)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.4})
    assert plan.stale(opt.param_groups)
    plan.adopt(opt.param_groups, specs, values.shift)
    assert plan.base["lr"] == [0.1, 0.4]
    opt = sgd(0.1, 0.2)
    plan, specs, values = plan_for(opt, [lk.cosine(10), lk.cosine(20)])
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.4})
    with pytest.raises(ValueError, match="a param group was added after construction"):
        plan.adopt(opt.param_groups, specs, values.shift)
    with pytest.raises(ValueError, match="lr_scale has 1 entries but the optimizer has 2"):
        plan_for(sgd(0.1, 0.2), lk.cosine(10), lr_scale=[1.0])


# -- _plateaus --------------------------------------------------------------------------------------------------------
def test_plateaus_fast_feed_is_the_general_feed() -> None:
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=2, factor=0.5)
    fast, general = Plateaus([schedule]), Plateaus([schedule])
    fast.arm()
    assert fast.direct is not None and general.direct is None
    a, b = Values([schedule], None), Values([schedule], None)
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, torch.tensor(0.8), np.float32(0.8), 0.8]
    for n, m in enumerate(metrics, 1):
        assert fast.observe_fast(m, n, False, a) == general.observe(m, float(n), None, b)
        assert a.at(n) == b.at(n)
    assert a.at(len(metrics)) == [0.25]
    assert reactive(schedule) and not reactive(lk.cosine(10))


def test_plateaus_refuse_a_metric_with_nothing_to_feed_and_a_non_number() -> None:
    with pytest.raises(ValueError, match="takes no epoch argument"):
        Plateaus([lk.cosine(10)]).observe(3, 3.0, None, Values([lk.cosine(10)], None))
    with pytest.raises(ValueError, match="has no plateau"):
        Plateaus([lk.cosine(10)]).observe(0.5, 3.0, None, Values([lk.cosine(10)], None))
    schedule = lk.constant(1.0) * lk.plateau()
    p = Plateaus([schedule])
    p.arm()
    with pytest.raises(ValueError, match="metric must be a number"):
        p.observe_fast("low", 1, False, Values([schedule], None))


# -- _guards ----------------------------------------------------------------------------------------------------------
def test_guards_warn_once_per_pattern() -> None:
    g = Guards()
    with pytest.warns(UserWarning, match="once every 4 optimizer updates"):
        for n in (4, 8, 12):
            g.check_epochs(n)
    assert g.calls[0] == EPOCH_CALLS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(IDLE_WARNING + 5):
            g.idle_call()
        g.warn_all_zero({"lr": [0.0, 0.0], "momentum": [0.9, 0.0]})
    assert [str(w.message)[:40] for w in caught] == [
        f"Scheduler: {IDLE_WARNING} step() calls and no optim",
        "Scheduler: every param group had lr=0 wh",
    ]
    assert not g.zero_check


def test_guards_count_unfed_steps_only_where_a_plateau_is_active() -> None:
    schedule = lk.warmup(10) >> (lk.constant(1.0, 500) * lk.plateau())
    active = Plateaus([schedule]).active
    g = Guards()
    for t in range(10):
        g.unfed_step(active, False, float(t))  # the warmup: no plateau listens
    assert g.unfed == 0 and not g.quiet(True)
    with pytest.warns(UserWarning, match="no metric has reached it"):
        for t in range(10, 10 + UNFED):
            g.unfed_step(active, False, float(t))
    assert g.fed and g.unfed == UNFED


def test_guards_see_a_foreign_write_and_a_resume_resets_the_checks() -> None:
    opt = sgd(0.1, 0.2)
    plan, _, values = plan_for(opt, lk.cosine(10))
    plan.write(values.at(1))
    g = Guards()
    g.check_foreign_write(plan)  # nothing changed
    opt.param_groups[0]["lr"] = 0.5
    with pytest.raises(RuntimeError, match="param group 0's 'lr' was changed outside lrkit"):
        g.check_foreign_write(plan)
    g.zero_check = False
    g.resumed(40, True)
    assert g.calls == (EPOCH_CALLS, 40, 0) and g.warned_end and g.zero_check


def test_guards_end_warning_names_the_schedules_past_their_moved_end() -> None:
    g = Guards()
    with pytest.warns(UserWarning, match=r"progress 320 is past the end of cosine\(400\) \(length 400\)"):
        g.warn_end(320.0, [lk.cosine(400), lk.linear(1000)], [310.0, 1000.0], 1.0, 2)
    assert g.warned_end


# -- the shell composes them ------------------------------------------------------------------------------------------
def test_the_shell_reads_its_parts() -> None:
    opt = sgd(0.1, momentum=0.9)
    sched = Scheduler(opt, lk.cosine(100), hyper={"momentum": lk.constant(0.85)}, advance="call")
    for _ in range(3):
        sched.step()
    assert sched.updates == sched._plan.n == 3 and sched._advance == "call"
    assert sched.base_lrs == sched._plan.base["lr"] == [0.1]
    assert sched.schedules == {"lr": lk.cosine(100), "momentum": lk.constant(0.85)}
    assert sched.value_at(3) == [0.1 * lk.cosine(100)(3)] == [opt.param_groups[0]["lr"]]
