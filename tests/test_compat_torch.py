"""Parity of lrkit.compat.torch with the real torch.optim.lr_scheduler (float64, rel 1e-9)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.compat import torch as ct

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(__file__))
from _peers import rel_diff, torch_lrs  # noqa: E402

sched = torch.optim.lr_scheduler
TOL = 1e-9
N = 300
lrs = st.floats(1e-4, 10.0)
gammas = st.floats(0.05, 1.0)
SETTINGS = settings(max_examples=30, deadline=None)


def check(ours: lrkit.Schedule, make, steps: int = N, lr: float = 1.0, key: str = "lr", momentum=None):
    theirs = torch_lrs(make, steps, lr=lr, key=key, momentum=momentum)
    mine = ours(np.arange(steps))
    assert rel_diff(mine, theirs) <= TOL, (ours, np.argmax(np.abs(mine - theirs)))
    assert lrkit.from_config(repr(ours)) == ours
    assert lrkit.from_config(ours.to_config()) == ours


@SETTINGS
@given(lr=lrs, step_size=st.integers(1, 50), gamma=gammas)
def test_step_lr(lr, step_size, gamma):
    check(ct.StepLR(lr, step_size, gamma), lambda o: sched.StepLR(o, step_size, gamma), lr=lr)


@SETTINGS
@given(lr=lrs, milestones=st.lists(st.integers(1, N), min_size=1, max_size=5), gamma=gammas)
def test_multistep_lr(lr, milestones, gamma):
    check(ct.MultiStepLR(lr, milestones, gamma), lambda o: sched.MultiStepLR(o, milestones, gamma), lr=lr)


@SETTINGS
@given(lr=lrs, factor=st.floats(0.01, 1.0), total_iters=st.integers(1, N))
def test_constant_lr(lr, factor, total_iters):
    check(ct.ConstantLR(lr, factor, total_iters), lambda o: sched.ConstantLR(o, factor, total_iters), lr=lr)


@SETTINGS
@given(lr=lrs, start=st.floats(0.01, 1.0), end=st.floats(0.01, 1.0), total_iters=st.integers(1, N))
def test_linear_lr(lr, start, end, total_iters):
    check(ct.LinearLR(lr, start, end, total_iters), lambda o: sched.LinearLR(o, start, end, total_iters), lr=lr)


@SETTINGS
@given(lr=lrs, gamma=st.floats(0.9, 1.0))
def test_exponential_lr(lr, gamma):
    check(ct.ExponentialLR(lr, gamma), lambda o: sched.ExponentialLR(o, gamma), lr=lr)


@SETTINGS
@given(lr=lrs, total_iters=st.integers(1, N), power=st.floats(0.1, 4.0))
def test_polynomial_lr(lr, total_iters, power):
    check(ct.PolynomialLR(lr, total_iters, power), lambda o: sched.PolynomialLR(o, total_iters, power), lr=lr)


@SETTINGS
@given(lr=lrs, T_max=st.integers(1, 80), floor=st.sampled_from([0.0, 0.01, 0.3]))
def test_cosine_annealing_lr_past_the_end(lr, T_max, floor):
    eta_min = floor * lr
    check(ct.CosineAnnealingLR(lr, T_max, eta_min), lambda o: sched.CosineAnnealingLR(o, T_max, eta_min), lr=lr)


@SETTINGS
@given(lr=lrs, T_0=st.integers(1, 40), T_mult=st.integers(1, 4), floor=st.sampled_from([0.0, 0.05]))
def test_cosine_warm_restarts(lr, T_0, T_mult, floor):
    eta_min = floor * lr
    check(
        ct.CosineAnnealingWarmRestarts(lr, T_0, T_mult, eta_min),
        lambda o: sched.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min),
        lr=lr,
    )


@SETTINGS
@given(
    base=st.floats(1e-4, 0.5), span=st.floats(1.1, 20.0), up=st.integers(1, 60), down=st.none() | st.integers(1, 60),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]), gamma=st.floats(0.99, 1.0),
)
def test_cyclic_lr_and_momentum(base, span, up, down, mode, gamma):
    top = base * span

    def make(o):
        return sched.CyclicLR(o, base, top, up, down, mode, gamma, cycle_momentum=True, base_momentum=0.8,
                              max_momentum=0.9)

    check(ct.CyclicLR(base, top, up, down, mode, gamma), make, lr=base, momentum=0.9)
    check(ct.CyclicMomentum(0.8, 0.9, up, down, mode, gamma), make, lr=base, key="momentum", momentum=0.9)


@SETTINGS
@given(
    max_lr=lrs, total=st.integers(20, N), pct=st.floats(0.1, 0.45), strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(), div=st.floats(2.0, 100.0), final_div=st.floats(1.0, 1e4),
)
def test_one_cycle_lr_and_momentum(max_lr, total, pct, strategy, three_phase, div, final_div):
    def make(o):
        return sched.OneCycleLR(o, max_lr, total_steps=total, pct_start=pct, anneal_strategy=strategy,
                                div_factor=div, final_div_factor=final_div, three_phase=three_phase)

    check(ct.OneCycleLR(max_lr, total, pct, strategy, div, final_div, three_phase), make, steps=total, momentum=0.9)
    check(ct.OneCycleMomentum(total, pct, strategy, 0.85, 0.95, three_phase), make, steps=total, key="momentum",
          momentum=0.9)


@SETTINGS
@given(
    lr=lrs, m1=st.integers(1, 100), gap=st.integers(1, 100), T_max=st.integers(1, 50),
    warm=st.integers(1, 30), gamma=gammas,
)
def test_sequential_lr(lr, m1, gap, T_max, warm, gamma):
    ours = ct.SequentialLR(
        [ct.LinearLR(lr, 0.1, 1.0, warm), ct.CosineAnnealingLR(lr, T_max, 0.0), ct.StepLR(lr, 7, gamma)],
        [m1, m1 + gap],
    )

    def make(o):
        return sched.SequentialLR(
            o,
            [sched.LinearLR(o, 0.1, 1.0, warm), sched.CosineAnnealingLR(o, T_max, 0.0), sched.StepLR(o, 7, gamma)],
            [m1, m1 + gap],
        )

    check(ours, make, lr=lr)


def test_default_parameters_match_torch():
    import inspect

    for name in ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "PolynomialLR", "CosineAnnealingLR",
                 "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"):
        peer = inspect.signature(getattr(sched, name)).parameters
        for param in inspect.signature(getattr(ct, name)).parameters.values():
            if param.name in peer and param.default is not inspect.Parameter.empty:
                assert peer[param.name].default == param.default, (name, param.name)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ct.StepLR(-1.0, 3), "StepLR: lr must be > 0, got -1.0"),
        (lambda: ct.StepLR(1.0, 0), "StepLR: step_size must be an integer >= 1, got 0"),
        (lambda: ct.ExponentialLR(1.0, 1.5), "ExponentialLR: gamma must be in (0, 1], got 1.5"),
        (lambda: ct.CosineAnnealingWarmRestarts(1.0, 10, eta_min=2.0), "eta_min must be <= lr"),
        (lambda: ct.OneCycleLR(1.0, 10, pct_start=0.05), "leaves a phase of no steps"),
        (lambda: ct.SequentialLR([ct.StepLR(1.0, 2)], [3]), "one milestone fewer"),
    ],
)
def test_errors_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


NATIVE = [  # (compat, native expression from docs/migration.md, steps where they must agree)
    (ct.StepLR(0.1, 7, 0.5), lrkit.step_decay(7, factor=0.5) * 0.1, 100),
    (ct.MultiStepLR(0.1, [10, 30]), lrkit.multistep([10, 30]) * 0.1, 100),
    (ct.ConstantLR(0.1, 0.5, 4), lrkit.piecewise_constant([4], [0.5, 1.0]) * 0.1, 50),
    (ct.LinearLR(0.1, 0.25, 1.0, 8), lrkit.linear(8, start=0.25, end=1.0) * 0.1, 50),
    (ct.PolynomialLR(0.1, 20, 2.0), lrkit.polynomial(20, power=2.0) * 0.1, 50),
    (ct.CosineAnnealingLR(0.1, 40, 1e-3), lrkit.cosine(40, floor=0.01) * 0.1, 41),  # within T_max only
    (ct.CosineAnnealingWarmRestarts(0.1, 10, 2, 1e-3), lrkit.sgdr(10, mult=2, floor=0.01) * 0.1, 200),
    (ct.CyclicLR(0.01, 0.1, 5, 3, "triangular2"), lrkit.cyclic(5, 3, base=0.01, peak=0.1, mode="triangular2"), 80),
]


@pytest.mark.parametrize(("compat", "native", "steps"), NATIVE, ids=range(len(NATIVE)))
def test_migration_table_native_expressions(compat, native, steps):
    t = np.arange(steps)
    np.testing.assert_allclose(compat(t), native(t), rtol=1e-12, atol=1e-15)


def test_polynomial_lr_power_zero_holds_lr_as_torch_does():
    theirs = torch_lrs(lambda o: sched.PolynomialLR(o, total_iters=5, power=0.0), 12, lr=0.5)
    assert rel_diff(ct.PolynomialLR(0.5, 5, power=0.0)(np.arange(12)), theirs) <= 1e-12
