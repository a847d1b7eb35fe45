"""The preview path (``sched(sorted array)``, :data:`lrkit.core.backend.SORTED`) and the scalar fast paths give the
values of the general paths bit for bit, whatever shortcut they take: a held tail (a view of the head, a head
grown in place, a new array), a constant as a number, tables that hold by themselves, the chunked sortedness check,
Constant's own ``__call__``, the compiled branch past a schedule's end.

The oracle is the unsorted numpy path (``NUMPY``: every step on its own) and the interpreted scalar path (``MATH``).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.core import compiled, schedule
from lrkit.core.backend import MATH, NUMPY, Namespace
from strategies import FAMILIES, schedules


def unsorted(sched: lk.Schedule, t: np.ndarray) -> np.ndarray:
    """The general numpy path on the same steps (every step on its own: no slice, no held tail)."""
    return np.asarray(sched._at(np.asarray(t, dtype=np.float64), NUMPY), dtype=np.float64)


def steps_past(sched: lk.Schedule, size: int, integer: bool) -> np.ndarray:
    end = 1.25 * sched.length if sched.length is not None else 5_000.0
    t = np.linspace(0.0, end, size)
    return np.round(t).astype(np.int64) if integer else t


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), integer=st.booleans(), size=st.sampled_from([2, 7, 1000, 3 * schedule._CHUNK + 5]))
def test_every_family_previews_its_unsorted_values(family, data, integer, size):
    sched = data.draw(FAMILIES[family])
    t = steps_past(sched, size, integer)
    got = sched(t)
    assert got.dtype == np.float64 and got.shape == t.shape
    np.testing.assert_array_equal(got, unsorted(sched, t))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sched=schedules, integer=st.booleans())
def test_compositions_preview_their_unsorted_values(sched, integer):
    t = steps_past(sched, 2000, integer)
    np.testing.assert_array_equal(sched(t), unsorted(sched, t))


@pytest.mark.parametrize(
    "sched",
    [
        lk.warmup(10) >> lk.cosine(100),  # a short head: the held tail is a new array
        lk.cosine(900),  # most of the array: the head grown in place
        lk.cosine(900.5),  # an end between steps: the end evaluated with the head
        lk.constant(1, 50) >> lk.constant(0.5, 50),  # constants: numbers broadcast into the preview
        lk.constant(2) * lk.constant(0.25, 10),
        lk.constant(3),
        lk.multistep([100, 200], decay=0.5) * lk.piecewise_linear([0, 50, 300], [0.0, 1.0, 0.5]),
        lk.piecewise_constant([], [0.7]),
        lk.one_cycle(700) * 0.5,
        lk.wsd(800, warmup=40),
    ],
    ids=repr,
)
def test_shortcuts_of_the_preview(sched):
    for t in (np.arange(1000), np.arange(1000.0), np.arange(1000.0).reshape(10, 100), np.arange(1000)[::3]):
        got = sched(t)
        assert got.dtype == np.float64 and got.shape == t.shape and got.flags.writeable
        np.testing.assert_array_equal(got.reshape(-1), unsorted(sched, t.reshape(-1)))


def test_the_preview_writes_nothing_into_the_steps_given():
    t = np.arange(2000.0)
    before = t.copy()
    for sched in (lk.cosine(900), lk.cosine(900.5), lk.warmup(10) >> lk.cosine(100), lk.constant(1.0, 5)):
        sched(t)
        sched(t[:1500])
        np.testing.assert_array_equal(t, before)


def test_two_previews_are_two_arrays():
    sched = lk.cosine(900)
    t = np.arange(1000)
    a, b = sched(t), sched(t)
    assert not np.shares_memory(a, b)
    a[:] = -1.0
    np.testing.assert_array_equal(b, unsorted(sched, t))


def test_a_decrease_at_a_chunk_edge_is_not_sorted():
    """The sortedness check compares chunk by chunk: a decrease across two chunks is seen."""
    t = np.arange(3 * schedule._CHUNK, dtype=np.float64)
    for at in (schedule._CHUNK, schedule._CHUNK - 1, schedule._CHUNK + 1, t.size - 1):
        bad = t.copy()
        bad[at] = bad[at - 1] - 0.5
        assert not schedule._is_sorted(bad), at
        sched = lk.warmup(10) >> lk.cosine(5 * schedule._CHUNK)
        np.testing.assert_array_equal(sched(bad), unsorted(sched, bad))
    assert schedule._is_sorted(t) and schedule._is_sorted(t[:2]) and schedule._is_sorted(np.zeros(5))
    assert not schedule._is_sorted(np.array([0.0, np.nan, 1.0]))


def test_constant_is_filled_without_converting_integer_steps():
    sched = lk.constant(1)
    for t in (np.arange(10), np.arange(10, dtype=np.uint8), np.arange(12).reshape(3, 4), np.arange(5.0)):
        got = sched(t)
        assert got.dtype == np.float64 and got.shape == t.shape and (got == 1.0).all()
    assert sched(np.arange(0)).shape == (0,)
    assert type(sched(3)) is float and sched(3) == 1.0 and type(sched(2**60)) is float
    for bad in (np.array([3, -1]), np.array([0.0, np.nan]), -1, -0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="step must be a finite number >= 0"):
            sched(bad)


@pytest.mark.parametrize(
    "sched",
    [
        lk.multistep([10, 20], decay=0.5),
        lk.piecewise_constant([5, 15], [1.0, 0.5, 0.25]),
        lk.piecewise_linear([0, 10, 30], [0.0, 1.0, 0.5]),
        lk.constant(0.5, 10),
    ],
    ids=repr,
)
def test_tables_hold_their_final_value_by_themselves(sched):
    assert sched.holds
    past = [sched.length, sched.length + 0.5, 10 * sched.length, 2.0**60]
    assert [sched(t) for t in past] == [sched.final] * len(past)
    assert [float(sched._eval(t, MATH)) for t in past] == [sched.final] * len(past)
    np.testing.assert_array_equal(sched(np.array(past)), np.full(len(past), sched.final))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sched=schedules)
def test_the_compiled_branch_past_the_end_is_the_final_value(sched):
    """A finite schedule's compiled function returns its final value from its end on (``MATH`` evaluates the closed
    form at ``min(t, length)``): bitwise, just before, at and after the end."""
    if sched.length is None or compiled.compile_math(sched) is None:
        return
    function = compiled.compile_math(sched)
    end = float(sched.length)
    for t in (math.nextafter(end, 0.0), end, math.nextafter(end, math.inf), end + 1.0, 4 * end + 3.0):
        if t < 0:
            continue
        got, want = function(t), float(sched._at(t, MATH))
        assert got == want or (math.isnan(got) and math.isnan(want)), (sched, t, got, want)


def test_a_warmup_compiles_to_one_branch_past_its_end():
    text = compiled.source(lk.warmup(500))
    assert "if t < 500.0:" in text and text.rstrip().endswith("return v1")
    assert "else:\n        v1 = 1.0" in text


def test_a_bound_known_from_the_branch_is_not_compared_again():
    """Inside ``if t < 500.0`` (the join's first piece, whose end is 500) the piece's own end needs no comparison, and
    a recipe's end is its body's: one comparison each, and no copies between the branches."""
    text = compiled.source(lk.warmup(500) >> lk.cosine(1000))
    assert text.count("t < 500.0") == 1 and text.count("t < 1500.0") == 1
    assert not re.search(r"v\d+ = v\d+$", text, re.M)
    assert compiled.source(lk.one_cycle(1000)).count("t < 1000.0") == 1
    sched = lk.warmup(500) >> lk.cosine(1000)
    for t in (0.0, 499.0, math.nextafter(500.0, 0.0), 500.0, 1499.5, 1500.0, 1e9):
        assert sched(t) == float(sched._at(t, MATH))


def test_repeat_at_a_step_whose_quotient_rounds_up():
    """(2**53 - 1) / 1.5 rounds up to an integer: the restart count must not overshoot (a negative local step gave
    a clipped 0.0, or a math domain error, instead of the local step 1.0)."""
    t = 2**53 - 1  # 1.5 * 6004799503160660 == t - 1 exactly
    local = lk.repeat(lk.linear(1.5, start=0.0, end=1.5))  # the value is the local step
    assert local(t) == 1.0 and local(float(t)) == 1.0
    assert local(np.array([0.0, float(t)])).tolist() == [0.0, 1.0]
    import torch

    assert local(torch.tensor([float(t)], dtype=torch.float64)).tolist() == [1.0]
    assert lk.repeat(lk.anneal(1.5, 0.0, 0.0, shape="1-sqrt"))(t) == 0.0  # raised "math domain error"


@pytest.mark.parametrize(
    "k",
    [
        np.floor(np.linspace(0.0, 40.0, 5000)),  # a count over sorted steps: a table of 41 powers
        np.floor(np.linspace(0.0, 40.0, 5000))[::-1].copy(),  # any order
        np.repeat([3.0, -2.0, 7.0], 600),  # negative exponents, repeated
        np.linspace(0.0, 3.0, 5000),  # not integer-valued: element by element
        np.arange(2000.0) - 1000.0,  # spread over more values than the table takes
        np.floor(np.linspace(0.0, 9.0, 100)),  # short
    ],
    ids=["sorted", "reversed", "negative", "fractional", "spread", "short"],
)
@pytest.mark.parametrize("base", [0.5, 2.0, 1.5, 0.9995])
def test_numpy_power_is_the_elementwise_power(k, base):
    got = NUMPY.power(base, k)
    np.testing.assert_array_equal(got, np.power(base, k))
    assert got.dtype == np.float64 and got.shape == k.shape


def test_sgdr_and_staircases_preview_their_powers():
    for sched in (lk.sgdr(100, mult=2), lk.sgdr(70, mult=1.5, decay=0.8), lk.step_decay(50, decay=0.7),
                  lk.exponential(0.9, every=30, staircase=True), lk.cyclic(40, mode="triangular2")):
        t = np.arange(20_000)
        np.testing.assert_array_equal(sched(t), unsorted(sched, t))
        np.testing.assert_array_equal(sched(t[::-1]), sched(t)[::-1])  # unsorted: the same table, in any order


@pytest.mark.parametrize("start, end", [(1.0, 0.0), (0.95, 0.0), (1.0, 0.25), (0.04, 1.0), (0.95, 0.85), (0.3, 0.3)])
def test_numpy_blend_is_the_expression_and_writes_only_its_own_arrays(start, end):
    h = np.linspace(0.0, 1.0, 4097) ** 1.5
    want = Namespace.blend(NUMPY, h.copy(), start, end)
    np.testing.assert_array_equal(NUMPY.blend(h.copy(), start, end), want)
    base = h.copy()
    view = base[::2]
    np.testing.assert_array_equal(NUMPY.blend(view, start, end), Namespace.blend(NUMPY, view.copy(), start, end))
    np.testing.assert_array_equal(base, h)  # a view is not written into
