"""Parity of lrkit.compat.keras with the real Keras 3 schedules (jax backend, float32).

Keras computes in float32: the difference must be <= 1e-6 relative to
``max(|value|, peak)`` (float32 cancellation near zero is relative to the peak).
Parameters are drawn as float32-exact numbers so both sides see the same inputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.compat import keras as ck

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
sys.path.insert(0, os.path.dirname(__file__))
from _peers import rel_diff  # noqa: E402

schedules = keras.optimizers.schedules
SETTINGS = settings(max_examples=15, deadline=None)
N = 300


def f32(low: float, high: float):
    return st.floats(float(np.float32(low)), float(np.float32(high)), width=32)


lrs = f32(1e-3, 1.0)
steps = st.integers(1, 120)


def check(ours: lrkit.Schedule, peer, n: int = N):
    theirs = np.asarray(jax.jit(jax.vmap(peer))(jax.numpy.arange(n)))
    mine = ours(np.arange(n))
    peak = float(np.abs(mine).max()) + 1e-30
    assert rel_diff(mine, theirs, tiny=peak) <= 1e-6, (ours, int(np.argmax(np.abs(mine - theirs))))
    assert lrkit.from_config(repr(ours)) == ours
    assert lrkit.from_config(ours.to_config()) == ours


@SETTINGS
@given(lr=lrs, d=steps, rate=f32(0.05, 1.0), staircase=st.booleans())
def test_exponential_decay(lr, d, rate, staircase):
    check(ck.ExponentialDecay(lr, d, rate, staircase), schedules.ExponentialDecay(lr, d, rate, staircase))


@SETTINGS
@given(lr=lrs, d=steps, rate=f32(0.0, 5.0), staircase=st.booleans())
def test_inverse_time_decay(lr, d, rate, staircase):
    check(ck.InverseTimeDecay(lr, d, rate, staircase), schedules.InverseTimeDecay(lr, d, rate, staircase))


@SETTINGS
@given(bounds=st.lists(st.integers(0, N), min_size=1, max_size=5, unique=True), data=st.data())
def test_piecewise_constant_decay_changes_after_each_boundary(bounds, data):
    bounds = sorted(bounds)
    values = data.draw(st.lists(lrs, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    check(ck.PiecewiseConstantDecay(bounds, values), schedules.PiecewiseConstantDecay(bounds, values))


@SETTINGS
@given(lr=lrs, d=steps, end=f32(0.0, 1e-3), power=st.sampled_from([1.0, 2.0, 3.0]), cycle=st.booleans())
def test_polynomial_decay(lr, d, end, power, cycle):
    # whole powers only: see test_keras_polynomial_end_is_nan_for_fractional_powers_under_jit
    check(ck.PolynomialDecay(lr, d, end, power, cycle), schedules.PolynomialDecay(lr, d, end, power, cycle))


def test_keras_polynomial_end_is_nan_for_fractional_powers_under_jit():
    """Under XLA, 3 * float32(1/3) > 1, so Keras takes (-1.2e-7) ** 1.5 at the last step: NaN.

    The compat schedule gives ``end_learning_rate`` there (a NaN learning rate is not reproduced).
    """
    peer = schedules.PolynomialDecay(1.0, 3, 0.0, power=1.5)
    theirs = np.asarray(jax.jit(jax.vmap(peer))(jax.numpy.arange(5)))
    ours = ck.PolynomialDecay(1.0, 3, 0.0, power=1.5)(np.arange(5))
    assert ours[3] == 0.0
    np.testing.assert_allclose(ours[:3], theirs[:3], rtol=1e-6)
    if not np.isnan(theirs[3]):  # pragma: no cover - depends on XLA's division
        pytest.skip("this XLA divides exactly here")


@SETTINGS
@given(lr=lrs, d=steps, alpha=f32(0.0, 0.5), target=st.none() | f32(1e-3, 1.0), w=st.integers(0, 60))
def test_cosine_decay(lr, d, alpha, target, w):
    kwargs = {} if target is None else {"warmup_target": target, "warmup_steps": w}
    check(ck.CosineDecay(lr, d, alpha, **kwargs), schedules.CosineDecay(lr, d, alpha, **kwargs))


@SETTINGS
@given(lr=lrs, first=st.integers(1, 60), t_mul=st.sampled_from([1.0, 2.0, 3.0, 1.5]),
       m_mul=st.sampled_from([1.0, 0.5, 0.9]), alpha=st.sampled_from([0.0, 0.1]))
def test_cosine_decay_restarts(lr, first, t_mul, m_mul, alpha):
    # Keras's float32 phase ``t / first - floor(t / first)`` loses ~1.1e-7 * t / first, so past
    # about 8 first-cycle lengths it is off by more than 1e-6 of the peak: compare up to there.
    check(ck.CosineDecayRestarts(lr, first, t_mul, m_mul, alpha),
          schedules.CosineDecayRestarts(lr, first, t_mul, m_mul, alpha), n=min(400, 8 * first + 1))


def test_default_parameters_match_keras():
    import inspect

    for name in ("ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay",
                 "CosineDecayRestarts"):
        peer = inspect.signature(getattr(schedules, name)).parameters
        for param in inspect.signature(getattr(ck, name)).parameters.values():
            assert param.name in peer, (name, param.name)
            assert param.default == peer[param.name].default or param.default is peer[param.name].default


def test_piecewise_boundaries_must_be_whole_steps():
    with pytest.raises(ValueError, match=r"boundaries\[0\] must be a whole number of steps >= 0, got 2.5"):
        ck.PiecewiseConstantDecay([2.5], [1.0, 0.5])


NATIVE = [  # (compat, native expression from docs/migration.md, steps where they must agree)
    (ck.ExponentialDecay(0.1, 10, 0.5), lrkit.exponential(0.5, every=10) * 0.1, 100),
    (ck.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), lrkit.piecewise_constant([11, 21], [1.0, 0.5, 0.1]), 40),
    (ck.PolynomialDecay(0.1, 30, 1e-3, 2.0), lrkit.polynomial(30, power=2.0, start=0.1, end=1e-3), 40),
    (ck.InverseTimeDecay(0.1, 10, 0.5), lrkit.inverse_time(0.5, every=10) * 0.1, 100),
    (ck.CosineDecay(0.01, 50, 0.1, warmup_target=0.1, warmup_steps=10),
     lrkit.anneal(10, 0.01, 0.1, shape="linear") >> lrkit.cosine(50, floor=0.1) * 0.1, 80),
    (ck.CosineDecayRestarts(0.1, 10, 2.0, 0.5), lrkit.sgdr(10, mult=2.0, decay=0.5) * 0.1, 200),
    (ck.CosineDecayRestarts(0.1, 10, 2.0, 1.0, 0.1), lrkit.sgdr(10, mult=2.0, floor=0.1) * 0.1, 200),
]


@pytest.mark.parametrize(("compat", "native", "steps"), NATIVE, ids=range(len(NATIVE)))
def test_migration_table_native_expressions(compat, native, steps):
    t = np.arange(steps)
    np.testing.assert_allclose(compat(t), native(t), rtol=1e-12, atol=1e-15)


def test_restart_peak_is_missed_where_keras_float32_index_says_so():
    """first_decay_steps=41: XLA's 41 * float32(1/41) < 1, so Keras's step 41 is the floor, not the restart peak."""
    peer = schedules.CosineDecayRestarts(1.0, 41, t_mul=1.0)
    theirs = np.asarray(jax.jit(jax.vmap(peer))(jax.numpy.arange(45)))
    ours = ck.CosineDecayRestarts(1.0, 41, t_mul=1.0)
    assert theirs[41] == pytest.approx(0.0, abs=1e-6)
    assert ours(41) == pytest.approx(0.0, abs=1e-12)
    assert ours(42) == pytest.approx(theirs[42], rel=1e-6) == pytest.approx(lrkit.sgdr(41)(42), rel=1e-6)
    assert lrkit.sgdr(41)(41) == 1.0


@pytest.mark.parametrize(("ours", "peer"), [
    (lambda: ck.CosineDecay(0.5, 20, alpha=1.5), lambda: schedules.CosineDecay(0.5, 20, alpha=1.5)),  # rises
    (lambda: ck.CosineDecay(0.0, 20, alpha=2.0, warmup_target=0.5, warmup_steps=5),
     lambda: schedules.CosineDecay(0.0, 20, alpha=2.0, warmup_target=0.5, warmup_steps=5)),
    (lambda: ck.CosineDecayRestarts(0.5, 10, alpha=1.5), lambda: schedules.CosineDecayRestarts(0.5, 10, alpha=1.5)),
    (lambda: ck.PolynomialDecay(0.5, 10, 0.1, power=0), lambda: schedules.PolynomialDecay(0.5, 10, 0.1, power=0)),
    (lambda: ck.PolynomialDecay(0.5, 10, 0.1, power=0, cycle=True),
     lambda: schedules.PolynomialDecay(0.5, 10, 0.1, power=0, cycle=True)),
], ids=["alpha>1", "alpha>1-warmup", "restarts-alpha>1", "power0", "power0-cycle"])
def test_values_keras_computes_outside_the_usual_range_are_matched(ours, peer):
    check(ours(), peer(), n=60)
