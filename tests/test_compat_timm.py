"""Parity of lrkit.compat.timm with the real timm schedulers (float64, rel 1e-9).

timm's modules are loaded by file path (tests/_peers.py): ``import timm`` would pull in
torchvision, which is not installed.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.compat import timm as ct

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(__file__))
from _peers import rel_diff, timm_scheduler  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None)
N = 250
lrs = st.floats(1e-3, 1.0)
warm = st.integers(0, 20)
cycles = {"cycle_mul": st.sampled_from([1.0, 2.0, 3.0, 1.5]), "cycle_decay": st.sampled_from([1.0, 0.5, 0.8]),
          "cycle_limit": st.integers(1, 6)}


def timm_lrs(module: str, cls: str, lr: float, n: int = N, **kwargs) -> np.ndarray:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = getattr(timm_scheduler(module), cls)(opt, **kwargs)
    out = []
    for t in range(n):
        sched.step(t)
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out, dtype=np.float64)


def check(ours: lrkit.Schedule, module: str, cls: str, lr: float, n: int = N, **kwargs):
    theirs = timm_lrs(module, cls, lr, n, **kwargs)
    mine = ours(np.arange(n))
    assert rel_diff(mine, theirs) <= 1e-9, (ours, int(np.argmax(np.abs(mine - theirs))))
    assert lrkit.from_config(repr(ours)) == ours
    assert lrkit.from_config(ours.to_config()) == ours


@SETTINGS
@given(lr=lrs, t_initial=st.integers(1, 60), floor=st.sampled_from([0.0, 0.01]), w=warm, init=st.floats(0.0, 1e-3),
       prefix=st.booleans(), k=st.sampled_from([1.0, 2.0, 0.5]), **cycles)
def test_cosine(lr, t_initial, floor, w, init, prefix, k, cycle_mul, cycle_decay, cycle_limit):
    kwargs = dict(t_initial=t_initial, lr_min=floor * lr, cycle_mul=cycle_mul, cycle_decay=cycle_decay,
                  cycle_limit=cycle_limit, warmup_t=w, warmup_lr_init=init, warmup_prefix=prefix, k_decay=k)
    check(ct.CosineLRScheduler(lr, **kwargs), "cosine_lr", "CosineLRScheduler", lr, **kwargs)


@SETTINGS
@given(lr=lrs, t_initial=st.integers(1, 60), power=st.floats(0.3, 3.0), floor=st.sampled_from([0.0, 0.01]), w=warm,
       prefix=st.booleans(), k=st.sampled_from([1.0, 2.0]), **cycles)
def test_poly(lr, t_initial, power, floor, w, prefix, k, cycle_mul, cycle_decay, cycle_limit):
    kwargs = dict(t_initial=t_initial, power=power, lr_min=floor * lr, cycle_mul=cycle_mul, cycle_decay=cycle_decay,
                  cycle_limit=cycle_limit, warmup_t=w, warmup_lr_init=0.0, warmup_prefix=prefix, k_decay=k)
    check(ct.PolyLRScheduler(lr, **kwargs), "poly_lr", "PolyLRScheduler", lr, **kwargs)


@SETTINGS
@given(lr=lrs, t_initial=st.integers(1, 60), lb=st.floats(-8.0, -1.0), ub=st.floats(1.0, 5.0), w=warm,
       prefix=st.booleans(), **cycles)
def test_tanh(lr, t_initial, lb, ub, w, prefix, cycle_mul, cycle_decay, cycle_limit):
    kwargs = dict(t_initial=t_initial, lb=lb, ub=ub, lr_min=0.0, cycle_mul=cycle_mul, cycle_decay=cycle_decay,
                  cycle_limit=cycle_limit, warmup_t=w, warmup_lr_init=1e-4, warmup_prefix=prefix)
    check(ct.TanhLRScheduler(lr, **kwargs), "tanh_lr", "TanhLRScheduler", lr, **kwargs)


@SETTINGS
@given(lr=lrs, decay_t=st.integers(1, 40) | st.floats(0.5, 40.0), rate=st.floats(0.1, 1.0), w=warm,
       prefix=st.booleans())
def test_step(lr, decay_t, rate, w, prefix):
    kwargs = dict(decay_t=decay_t, decay_rate=rate, warmup_t=w, warmup_lr_init=1e-4, warmup_prefix=prefix)
    check(ct.StepLRScheduler(lr, **kwargs), "step_lr", "StepLRScheduler", lr, **kwargs)


@SETTINGS
@given(lr=lrs, decay_t=st.lists(st.integers(0, N), min_size=1, max_size=5), rate=st.floats(0.1, 1.0), w=warm,
       prefix=st.booleans())
def test_multistep_decays_one_step_early(lr, decay_t, rate, w, prefix):
    decay_t = sorted(decay_t)
    kwargs = dict(decay_t=decay_t, decay_rate=rate, warmup_t=w, warmup_lr_init=1e-4, warmup_prefix=prefix)
    check(ct.MultiStepLRScheduler(lr, **kwargs), "multistep_lr", "MultiStepLRScheduler", lr, **kwargs)


@settings(max_examples=8, deadline=None)
@given(lr=lrs, seed=st.integers(0, 1000), pct=st.floats(0.05, 0.9), std=st.floats(0.1, 2.0),
       noise_range=st.sampled_from([10, (5, 60), [0, 30]]))
def test_noise_matches_timms_generator(lr, seed, pct, std, noise_range):
    kwargs = dict(t_initial=80, noise_range_t=noise_range, noise_pct=pct, noise_std=std, noise_seed=seed)
    check(ct.CosineLRScheduler(lr, **kwargs), "cosine_lr", "CosineLRScheduler", lr, n=100, **kwargs)


def test_restart_index_at_exact_cycle_start_is_timms():
    """timm's log puts step 121 (t_initial=1, cycle_mul=3) in cycle 4; the native sgdr restarts there."""
    kwargs = dict(t_initial=1, cycle_mul=3.0, cycle_limit=10)
    theirs = timm_lrs("cosine_lr", "CosineLRScheduler", 1.0, n=130, **kwargs)
    ours = ct.CosineLRScheduler(1.0, **kwargs)
    assert theirs[121] == pytest.approx(0.0, abs=1e-12) and ours(121) == pytest.approx(0.0, abs=1e-12)
    assert lrkit.sgdr(1, mult=3)(121) == 1.0


def test_default_parameters_match_timm():
    import inspect

    for module, name in (("cosine_lr", "CosineLRScheduler"), ("poly_lr", "PolyLRScheduler"),
                         ("tanh_lr", "TanhLRScheduler"), ("step_lr", "StepLRScheduler"),
                         ("multistep_lr", "MultiStepLRScheduler")):
        peer = inspect.signature(getattr(timm_scheduler(module), name)).parameters
        for param in inspect.signature(getattr(ct, name)).parameters.values():
            if param.name == "lr":
                continue
            assert param.name in peer, (name, param.name)
            assert param.default == peer[param.name].default, (name, param.name)


NATIVE = [  # (compat, native expression from docs/migration.md, steps where they must agree)
    (ct.CosineLRScheduler(0.1, 20, lr_min=1e-3, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=3, warmup_t=5,
                          warmup_lr_init=1e-3, warmup_prefix=True),
     (lrkit.warmup(5, start=0.01) >> lrkit.sgdr(20, mult=2.0, decay=0.5, floor=0.01, cycles=3)) * 0.1, 200),
    (ct.CosineLRScheduler(0.1, 50, k_decay=2.0), lrkit.cosine(50, k=2.0) * 0.1, 60),
    (ct.PolyLRScheduler(0.1, 30, power=2.0, lr_min=1e-3), lrkit.polynomial(30, power=2.0, start=0.1, end=1e-3), 40),
    (ct.TanhLRScheduler(0.1, 30, lr_min=1e-3), lrkit.tanh_decay(30, floor=0.01) * 0.1, 30),
    (ct.StepLRScheduler(0.1, 7, 0.5, warmup_t=3, warmup_lr_init=1e-3),
     (lrkit.warmup(3, start=0.01) >> lrkit.step_decay(7, factor=0.5)) * 0.1, 60),
]


@pytest.mark.parametrize(("compat", "native", "steps"), NATIVE, ids=range(len(NATIVE)))
def test_migration_table_native_expressions(compat, native, steps):
    t = np.arange(steps)
    np.testing.assert_allclose(compat(t), native(t), rtol=1e-12, atol=1e-15)


def test_fractional_decay_t_uses_exact_floor_division_like_timm():
    theirs = timm_lrs("step_lr", "StepLRScheduler", 1.0, n=12, decay_t=1.1, decay_rate=0.5)
    ours = ct.StepLRScheduler(1.0, decay_t=1.1, decay_rate=0.5)
    assert theirs[11] == ours(11) == 0.5**9  # 11 // 1.1 == 9.0, not floor(11 / 1.1) == 10


@pytest.mark.parametrize(("cls", "module", "kwargs"), [
    ("CosineLRScheduler", "cosine_lr", dict(cycle_limit=0)),  # lr_min throughout, after the warmup
    ("TanhLRScheduler", "tanh_lr", dict(cycle_limit=0)),
    ("PolyLRScheduler", "poly_lr", dict(power=0, cycle_limit=3, cycle_decay=0.5)),  # each cycle's peak, held
    ("PolyLRScheduler", "poly_lr", dict(power=0, cycle_limit=2, cycle_mul=2.0)),
])
@pytest.mark.parametrize("prefix", [False, True])
def test_degenerate_cycles_give_timms_constant_curves(cls, module, kwargs, prefix):
    kwargs = dict(t_initial=5, lr_min=0.1, warmup_t=3, warmup_lr_init=0.01, warmup_prefix=prefix, **kwargs)
    check(getattr(ct, cls)(1.0, **kwargs), module, cls, 1.0, n=40, **kwargs)
