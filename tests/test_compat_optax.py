"""Parity of lrkit.compat.optax with the real optax schedules.

Each schedule is compared over a whole run twice: with ``jax_enable_x64`` (optax computes in
float64: difference <= 1e-9 relative to ``max(|value|, 1e-6 * peak)`` at every step; the floor
is there because XLA divides by multiplying with a reciprocal, so optax's ``1 - 107/107`` is
1.1e-16, not 0) and in optax's default float32, where
the difference must be <= 1e-6 of the schedule's largest value: optax's own float32 rounding
(e.g. ``1 - 21/22`` near the end of a polynomial) is already ~2e-6 relative to a small value.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.compat import optax as co

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
sys.path.insert(0, os.path.dirname(__file__))
from _peers import rel_diff  # noqa: E402

SETTINGS = settings(max_examples=15, deadline=None)


def f32(low: float, high: float):
    """Floats that float32 represents exactly, so both peers see the same parameters."""
    import numpy as np

    return st.floats(float(np.float32(low)), float(np.float32(high)), width=32)


N = 400
values = f32(1e-3, 10.0)
steps = st.integers(1, 150)
begins = st.integers(0, 50)


def run(schedule, n: int, vmap: bool):
    """The peer over steps 0..n-1: called on the whole array (or vmapped, for the piecewise
    schedules that only take a scalar count)."""
    count = jax.numpy.arange(n)
    values = jax.jit(jax.vmap(schedule))(count) if vmap else schedule(count)
    return np.broadcast_to(np.asarray(values), (n,))


def check(ours: lrkit.Schedule, make, n: int = N, float32: bool = True, vmap: bool = False):
    mine = ours(np.arange(n))
    with jax.enable_x64(True):
        theirs64 = run(make(), n, vmap)
    assert theirs64.dtype == np.float64
    peak = float(np.abs(mine).max()) + 1e-30
    assert rel_diff(mine, theirs64, tiny=1e-6 * peak) <= 1e-9, (ours, int(np.argmax(np.abs(mine - theirs64))))
    if float32:
        theirs32 = run(make(), n, vmap)
        assert rel_diff(mine, theirs32, tiny=peak) <= 1e-6, ours
    assert lrkit.from_config(repr(ours)) == ours
    assert lrkit.from_config(ours.to_config()) == ours


@SETTINGS
@given(value=values)
def test_constant(value):
    check(co.constant_schedule(value), lambda: optax.constant_schedule(value), n=5)


@SETTINGS
@given(init=values, end=f32(0.0, 10.0), power=f32(1.0, 3.0), t=st.integers(-3, 150), begin=begins)
def test_polynomial_and_linear(init, end, power, t, begin):
    # power >= 1: XLA turns ``count / 107`` into ``count * (1/107)``, so optax's last step has
    # frac = 1.1e-16 instead of 0, and a power < 1 magnifies that (power 0.5: 1e-8 of the range).
    check(co.polynomial_schedule(init, end, power, t, begin),
          lambda: optax.polynomial_schedule(init, end, power, t, begin))
    check(co.linear_schedule(init, end, t, begin), lambda: optax.linear_schedule(init, end, t, begin))


@SETTINGS
@given(init=values, d=steps, alpha=f32(0.0, 0.9), exponent=st.sampled_from([1.0, 0.5, 2.0, 3.0]))
def test_cosine_decay(init, d, alpha, exponent):
    check(co.cosine_decay_schedule(init, d, alpha, exponent),
          lambda: optax.cosine_decay_schedule(init, d, alpha, exponent))


@SETTINGS
@given(init=f32(0.0, 1.0), peak=values, w=st.integers(0, 50), d=steps, end=f32(0.0, 1e-2),
       exponent=st.sampled_from([1.0, 2.0]))
def test_warmup_cosine_decay(init, peak, w, d, end, exponent):
    check(co.warmup_cosine_decay_schedule(init, peak, w, w + d, end, exponent),
          lambda: optax.warmup_cosine_decay_schedule(init, peak, w, w + d, end, exponent))


@SETTINGS
@given(init=values, t=st.integers(1, 60), rate=f32(0.05, 1.0), begin=begins, staircase=st.booleans(),
       end=st.none() | f32(1e-3, 1.0))
def test_exponential_decay(init, t, rate, begin, staircase, end):
    end_value = None if end is None else end * init
    check(co.exponential_decay(init, t, rate, begin, staircase, end_value),
          lambda: optax.exponential_decay(init, t, rate, begin, staircase, end_value), float32=not staircase)


@SETTINGS
@given(init=f32(0.0, 1.0), peak=values, w=st.integers(0, 50), t=st.integers(1, 60), rate=f32(0.05, 1.0),
       begin=begins, staircase=st.booleans(), end=st.none() | f32(1e-3, 1.0))
def test_warmup_exponential_decay(init, peak, w, t, rate, begin, staircase, end):
    end_value = None if end is None else end * peak
    check(co.warmup_exponential_decay_schedule(init, peak, w, t, rate, begin, staircase, end_value),
          lambda: optax.warmup_exponential_decay_schedule(init, peak, w, t, rate, begin, staircase, end_value),
          float32=not staircase)


def test_staircase_drops_late_like_optax_while_native_is_exact():
    """XLA divides by a constant through its reciprocal: 49 * (1/49) < 1, so optax drops at 50."""
    peer = optax.exponential_decay(1.0, 49, 0.5, staircase=True)
    with jax.enable_x64(True):
        theirs = np.asarray(jax.vmap(peer)(jax.numpy.arange(200)))
    ours = co.exponential_decay(1.0, 49, 0.5, staircase=True)
    native = lrkit.exponential(0.5, every=49, staircase=True)
    drops = np.nonzero(np.diff(theirs))[0] + 1
    assert drops[0] == 50
    assert (np.nonzero(np.diff(ours(np.arange(200))))[0] + 1).tolist() == drops.tolist()
    assert (np.nonzero(np.diff(native(np.arange(200))))[0] + 1).tolist() == [49, 98, 147, 196]


boundaries_and_scales = st.dictionaries(st.integers(0, 300), f32(0.05, 3.0), max_size=5)


@SETTINGS
@given(init=values, bs=boundaries_and_scales)
def test_piecewise_constant(init, bs):
    check(co.piecewise_constant_schedule(init, bs), lambda: optax.piecewise_constant_schedule(init, bs))


@settings(max_examples=8, deadline=None)
@given(kind=st.sampled_from(["linear", "cosine"]), init=values, bs=boundaries_and_scales)
def test_piecewise_interpolate(kind, init, bs):
    check(co.piecewise_interpolate_schedule(kind, init, bs),
          lambda: optax.piecewise_interpolate_schedule(kind, init, bs), vmap=True)


@settings(max_examples=8, deadline=None)
@given(t=st.integers(4, 300), peak=values, pct=f32(0.05, 0.5), final=f32(0.55, 0.95),
       div=f32(2.0, 100.0), final_div=f32(1.0, 1e4))
def test_onecycles(t, peak, pct, final, div, final_div):
    check(co.cosine_onecycle_schedule(t, peak, pct, div, final_div),
          lambda: optax.cosine_onecycle_schedule(t, peak, pct, div, final_div), vmap=True)
    check(co.linear_onecycle_schedule(t, peak, pct, final, div, final_div),
          lambda: optax.linear_onecycle_schedule(t, peak, pct, final, div, final_div), vmap=True)


@SETTINGS
@given(b1=st.integers(1, 100), gap=st.integers(1, 100), peak=values, rate=f32(0.5, 1.0))
def test_join_schedules(b1, gap, peak, rate):
    ours = co.join_schedules(
        [co.linear_schedule(0.0, peak, 30), co.cosine_decay_schedule(peak, 50), co.exponential_decay(peak, 5, rate)],
        [b1, b1 + gap],
    )
    peer = [optax.linear_schedule(0.0, peak, 30), optax.cosine_decay_schedule(peak, 50),
            optax.exponential_decay(peak, 5, rate)]
    check(ours, lambda: optax.join_schedules(peer, [b1, b1 + gap]))


@SETTINGS
@given(pieces=st.lists(st.tuples(f32(0.0, 0.1), values, st.integers(0, 20), st.integers(1, 80)), min_size=1,
                       max_size=4))
def test_sgdr(pieces):
    kwargs = [dict(init_value=i, peak_value=p, warmup_steps=w, decay_steps=w + d) for i, p, w, d in pieces]
    check(co.sgdr_schedule(kwargs), lambda: optax.sgdr_schedule(kwargs))


NATIVE = [  # (compat, native expression from docs/migration.md, steps where they must agree)
    (co.linear_schedule(1.0, 0.1, 20, 5), lrkit.constant(1.0, 5) >> lrkit.linear(20, start=1.0, end=0.1), 40),
    (co.warmup_cosine_decay_schedule(0.0, 0.1, 10, 60, 1e-3),
     lrkit.anneal(10, 0.0, 0.1, shape="linear") >> lrkit.cosine(50, floor=0.01) * 0.1, 80),
    (co.exponential_decay(0.1, 5, 0.5, 10, end_value=1e-3),
     lrkit.clamp(lrkit.constant(0.1, 10) >> lrkit.exponential(0.5, every=5) * 0.1, low=1e-3), 80),
    (co.piecewise_constant_schedule(0.1, {10: 0.5, 30: 0.1}), lrkit.piecewise_constant([10, 30], [0.1, 0.05, 0.005]),
     50),
    (co.cosine_onecycle_schedule(100, 0.1), lrkit.one_cycle(100) * 0.1, 120),
    (co.linear_onecycle_schedule(100, 0.1),
     lrkit.piecewise_linear([0, 30, 85, 100], [0.004, 0.1, 0.004, 4e-7]), 120),
]


@pytest.mark.parametrize(("compat", "native", "steps"), NATIVE, ids=range(len(NATIVE)))
def test_migration_table_native_expressions(compat, native, steps):
    t = np.arange(steps)
    np.testing.assert_allclose(compat(t), native(t), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("ours", "peer"), [
    (lambda: co.cosine_decay_schedule(2.0, 10, alpha=0.1, exponent=0), lambda: optax.cosine_decay_schedule(
        2.0, 10, alpha=0.1, exponent=0)),
    (lambda: co.polynomial_schedule(2.0, 0.1, 0, 10, 3), lambda: optax.polynomial_schedule(2.0, 0.1, 0, 10, 3)),
    (lambda: co.warmup_cosine_decay_schedule(0.0, 2.0, 0, 10, 0.1), lambda: optax.warmup_cosine_decay_schedule(
        0.0, 2.0, 0, 10, 0.1)),
], ids=["cosine-exponent0", "polynomial-power0", "warmup0"])
def test_zero_exponent_power_and_warmup_are_optaxs_values(ours, peer):
    check(ours(), peer, n=30, vmap=True)


@pytest.mark.parametrize("name", ["warmup_cosine_decay_schedule", "warmup_exponential_decay_schedule"])
def test_negative_warmup_steps_is_refused_where_optax_shifts_the_decay(name):
    """optax documents warmup_steps as a positive integer; given -5 its join starts the decay 5 steps in."""
    args = (0.0, 1.0, -5, 10) + ((0.5,) if "exponential" in name else ())
    with jax.enable_x64(True):
        assert float(getattr(optax, name)(*args)(0)) < 1.0  # optax: part-way down at step 0
    with pytest.raises(ValueError, match=rf"^{name}: warmup_steps must be >= 0, got -5; "):
        getattr(co, name)(*args)
