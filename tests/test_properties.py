"""Properties every schedule holds: finite, vectorised, exact scalar/array, round-trips, value semantics."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from strategies import FAMILIES, schedules

steps_arrays = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=40).map(np.array)


def grid(schedule, n=200):
    """Steps covering the schedule, its end and beyond (integers and fractions)."""
    horizon = schedule.length if schedule.length is not None else 5000.0
    return np.concatenate([np.linspace(0, 1.5 * horizon, n), np.arange(0, 50), [horizon, horizon + 1e-9]])


@settings(max_examples=300, deadline=None)
@given(schedules)
def test_values_are_finite_and_vectorised(s):
    t = grid(s)
    out = s(t)
    assert out.dtype == np.float64 and out.shape == t.shape
    assert np.all(np.isfinite(out))
    matrix = s(t.reshape(-1, 1))
    assert matrix.shape == (t.size, 1)
    np.testing.assert_array_equal(matrix[:, 0], out)


def ulp_close(a, b, scale, ulps=4):
    """The cross-namespace contract: within ``ulps`` ulp of the schedule's largest value."""
    return abs(a - b) <= ulps * np.spacing(max(scale, np.finfo(float).tiny))


@settings(max_examples=200, deadline=None)
@given(schedules, st.data())
def test_scalar_math_equals_numpy_within_4_ulp(s, data):
    t = grid(s, 50)
    out = s(t)
    scale = float(np.max(np.abs(out)))
    for i in data.draw(st.lists(st.integers(0, t.size - 1), min_size=1, max_size=10)):
        value = s(float(t[i]))
        assert isinstance(value, float)
        assert ulp_close(value, out[i], scale)
    assert ulp_close(s(int(t[-1] // 1)), s(np.array([t[-1] // 1]))[0], scale)
    # one namespace is deterministic: the same call twice is bitwise the same value (resume stays bitwise)
    assert s(float(t[-1])) == s(float(t[-1]))


@settings(max_examples=300, deadline=None)
@given(schedules)
def test_round_trips(s):
    assert lk.from_config(repr(s)) == s
    config = s.to_config()
    assert lk.from_config(json.loads(json.dumps(config))) == s
    clone = pickle.loads(pickle.dumps(s))
    assert clone == s and hash(clone) == hash(s)
    t = grid(s, 50)
    np.testing.assert_array_equal(clone(t), s(t))
    np.testing.assert_array_equal(lk.from_config(repr(s))(t), s(t))


@settings(max_examples=200, deadline=None)
@given(schedules)
def test_final_value_holds_past_the_end(s):
    if s.length is None:
        return
    final = s(np.array([s.length]))[0]
    after = s(s.length + np.array([0.5, 1, 10, 1e3, 1e6]))
    np.testing.assert_array_equal(after, final)
    assert abs(s.final - final) <= 4 * np.spacing(max(abs(final), 1e-300))  # math vs numpy: the 4-ulp contract


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_has_a_strategy_and_is_registered(name):
    assert name in lk.known_names()


def test_every_registered_name_is_covered_by_the_strategies():
    combinators = {"join", "scale", "product", "clamp", "repeat", "shift", "stretch", "take", "noise"}
    reactive = {"plateau"}  # stateful; covered by tests/test_plateau.py
    from lrkit.core.registry import lookup

    native = {name for name in lk.known_names() if not lookup(name).__module__.startswith("lrkit.compat")}
    missing = native - set(FAMILIES) - combinators - reactive  # compat families: tests/test_compat_*.py
    assert not missing, f"add strategies for {sorted(missing)}"


@settings(max_examples=100, deadline=None)
@given(schedules, steps_arrays)
def test_immutable_and_hashable(s, t):
    with pytest.raises(AttributeError):
        s.length = 3  # type: ignore[misc]
    assert {s: 1}[lk.from_config(s.to_config())] == 1
    s(t)


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), np.array([0.0, -2.0])])
def test_negative_nan_or_infinite_steps_raise(bad):
    with pytest.raises(ValueError, match="step must be a finite number >= 0"):
        lk.cosine(10)(bad)


@settings(max_examples=200, deadline=None)
@given(schedules, st.randoms(use_true_random=False))
def test_sorted_steps_give_the_values_of_the_same_steps_unsorted(s, rng):
    """A preview (sorted steps) reads bounds at the ends and fills slices (lrkit.core.backend.SORTED): bit for bit
    the values of the same steps in any order."""
    t = np.sort(grid(s))
    order = list(range(t.size))
    rng.shuffle(order)
    shuffled = t[order]
    np.testing.assert_array_equal(s(t)[order], s(shuffled))
    np.testing.assert_array_equal(s(t[::-1]), s(t)[::-1])  # descending: not sorted, the general path
    with pytest.raises(ValueError, match="step must be a finite number >= 0"):
        s(np.array([0.0, 1.0, np.inf]))
    with pytest.raises(ValueError, match="step must be a finite number >= 0"):
        s(np.array([-1.0, 0.0, 1.0]))
