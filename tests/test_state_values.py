"""The Scheduler's values part (lrkit.torch._values): blocks for a few schedules, compiled scalar forms for many,
plateau reductions scaled in place; each bitwise what the (resolved) schedule gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit.reactive.controller import Controller
from lrkit.torch import Scheduler
from lrkit.torch._values import FEW, Values, scalable


def test_many_schedules_are_their_scalar_forms_bitwise_the_numpy_values() -> None:
    schedules = [lk.warmup(7 + i) >> lk.cosine(300 + 13 * i, floor=0.01 * i) for i in range(FEW + 5)]
    values = Values(list(schedules), None)
    assert not values.blocks
    t = np.arange(0, 700)
    want = np.stack([s(t) for s in schedules])
    got = np.array([values.at(int(n)) for n in t]).T
    np.testing.assert_array_equal(got, want)
    few = Values(list(schedules[:FEW]), 3.0)
    assert few.blocks
    np.testing.assert_array_equal(
        np.array([few.at(int(n)) for n in t]).T, np.stack([s(t / 3.0) for s in schedules[:FEW]])
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (lk.cosine(100) * lk.plateau(), True),
        (lk.plateau() * lk.cosine(100), True),  # two factors: multiplication commutes
        (lk.cosine(100) * lk.linear(100) * lk.plateau(), True),  # the last factor: applied last
        (lk.plateau() * lk.cosine(100) * lk.linear(100), False),  # first of three: rounds differently
        (lk.warmup(5) >> (lk.constant(1.0, 50) * lk.plateau()), False),  # a piece: resolved instead
        (lk.cosine(100) * lk.plateau() * lk.plateau(mode="max"), False),
        (lk.cosine(100), False),
    ],
)
def test_which_plateaus_scale_in_place(schedule: lk.Schedule, expected: bool) -> None:
    assert scalable(schedule) is expected


@pytest.mark.parametrize(
    "schedule",
    [
        lk.cosine(700) * lk.plateau(patience=0, factor=0.7),
        lk.plateau(patience=0, factor=0.7) * (lk.warmup(20) >> lk.cosine(680)),
        lk.cosine(700) * lk.linear(700, start=1.0, end=0.3) * lk.plateau(patience=0, factor=0.7),
        lk.warmup(5) >> (lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.7)),
    ],
)
def test_a_reduction_writes_bitwise_the_resolved_schedule(schedule: lk.Schedule) -> None:
    """Scaled in place or resolved: every value written is base * resolve()(t), across blocks and reductions."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    sched = Scheduler(opt, schedule)
    twin = Controller(schedule)
    for t in range(600):
        metric = 1.0 if t % 37 else 2.0  # flat: a reduction at every non-improving call (patience 0)
        assert opt.param_groups[0]["lr"] == 0.3 * float(twin.resolve()(float(t))), t
        opt.step()
        sched.step(metric)
        twin.observe(metric, float(t + 1))
    assert twin.scales[0] < 1e-3  # it did reduce, many times
    assert sched.value_at(600) == [0.3 * float(twin.resolve()(600.0))]


def test_a_thousand_groups_resume_bitwise_with_no_block() -> None:
    def build() -> tuple[torch.optim.Optimizer, Scheduler]:
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01 * (1 + i % 7)} for i in range(40)]
        opt = torch.optim.SGD(groups, lr=0.1)
        return opt, Scheduler(opt, [lk.warmup(3) >> lk.cosine(200 + i) for i in range(40)])

    opt, sched = build()
    seen = []
    for t in range(150):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
        if t == 70:
            state = sched.state_dict()
    opt2, resumed = build()
    resumed.load_state_dict(state)
    for t in range(71, 150):
        assert [g["lr"] for g in opt2.param_groups] == seen[t]
        opt2.step()
        resumed.step()
    for i in range(3):
        assert seen[50][i] == 0.01 * (1 + i) * float((lk.warmup(3) >> lk.cosine(200 + i))(np.arange(60))[50])
