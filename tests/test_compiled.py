"""The compiled scalar path (lrkit.core.compiled) gives bitwise the MATH namespace's values.

The oracle is the interpreted closed form itself, ``schedule._at(t, MATH)``: every family, random
compositions (joins, products, repeats, stretches, shifts, clamps, cyclic's amplitude, plateaus),
whole and fractional steps, past the end.
"""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import lrkit as lk
from lrkit.core import compiled
from lrkit.core.backend import MATH
from strategies import FAMILIES, schedules


def steps_for(sched) -> list[float]:
    end = 1.25 * sched.length if sched.length is not None else 20_000.0
    grid = np.concatenate([np.linspace(0, end, 301).round(), np.linspace(0, end, 211), [sched.length or 0.0, 1.0]])
    return [float(t) for t in grid]


def same_bits(sched) -> None:
    function = compiled.compile_math(sched)
    nodes = sched.walk()
    compilable = all(node.traceable for node in nodes) and len(nodes) <= compiled.MAX_NODES
    assert (function is not None) == compilable, sched
    if function is None:
        return
    for t in steps_for(sched):
        want = float(sched._at(t, MATH))
        got = function(t)
        assert type(got) is float
        assert got == want or (math.isnan(got) and math.isnan(want)), (sched, t, got, want)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=__import__("hypothesis").strategies.data())
def test_every_family_bitwise(family, data):
    same_bits(data.draw(FAMILIES[family]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sched=schedules)
def test_random_compositions_bitwise(sched):
    same_bits(sched)


@pytest.mark.parametrize(
    "sched",
    [
        lk.cyclic(5, amplitude=lk.constant(1, 2) >> (lk.constant(1, 100) * lk.plateau())),
        lk.join(*[lk.cosine(10 + i % 7) for i in range(40)]),  # a table of pieces, not an if-chain
        lk.stretch(lk.constant(1, 1) >> (lk.constant(1, 100) * lk.plateau()), 49),  # t / 49, not t * (1 / 49)
        lk.repeat(lk.warmup(3) >> lk.linear(7), times=3) >> lk.constant(0.1),
        lk.stretch(lk.warmup(0.1) >> lk.cosine(0.9), 1000),
        lk.shift(lk.one_cycle(1000), -50),
        lk.sgdr(100, mult=1.5, cycles=6, decay=0.8),
        lk.piecewise_linear([0, 10, 20], [0.0, 1.0, 0.5]) * lk.multistep([5, 15], decay=0.5),
        lk.clamp(lk.exponential(0.5, every=10, staircase=True), low=0.01),
        lk.constant(1) * lk.plateau(patience=3),
        lk.piecewise_constant([5000], [1, 0.1]),  # an int value: the compiled function converts, as MATH's callers do
        lk.piecewise_linear([0, 10, 20], [0, 1, 0]),
        # more edges than INLINE_ROUTES: a bisection into tables, not an if/elif chain
        lk.piecewise_linear(list(range(0, 200, 10)), [0.1 * k if k % 2 == 0 else 0.05 for k in range(20)]),
        lk.piecewise_constant(list(range(10, 130, 10)), [1.0 / (k + 1) for k in range(13)]),
        lk.multistep(list(range(100, 1100, 100)), decay=0.7),
    ],
    ids=repr,
)
def test_compositions_bitwise(sched):
    same_bits(sched)


def test_few_edges_are_a_chain_and_many_a_bisection():
    few, many = lk.piecewise_linear([0, 10, 20], [0.0, 1.0, 0.5]), lk.multistep(list(range(1, 21)), decay=0.9)
    assert "_bisect" not in compiled.source(few) and "elif" in compiled.source(few)
    assert "_bisect" in compiled.source(many)


def test_deep_nesting_compiles_up_to_the_node_bound():
    sched = lk.cosine(10)
    for _ in range(20):  # 61 nodes, 20 nested joins: compiled (nested if/else blocks)
        sched = lk.linear(3) >> lk.scale(sched, 0.9)
    assert len(sched.walk()) <= compiled.MAX_NODES
    same_bits(sched)
    for _ in range(11):  # beyond the node bound (94 nodes), within the nesting bound (63 levels): the MATH path
        sched = lk.linear(3) >> lk.scale(sched, 0.9)
    assert len(sched.walk()) > compiled.MAX_NODES
    same_bits(sched)
    assert sched(1000) == float(sched._at(1000.0, MATH))


def test_a_product_of_a_thousand_factors_keeps_the_math_path():
    sched = lk.product(*[lk.cosine(1000 + i) for i in range(1000)])
    assert compiled.compile_math(sched) is None  # 1,001 nodes > MAX_NODES
    steps = (0.0, 333.5, 999.0, 5000.0)
    assert [sched(t) for t in steps] == [float(sched._at(t, MATH)) for t in steps]


def test_untraceable_keeps_math():
    sched = lk.noise(lk.cosine(100), std=0.1, seed=3)
    assert compiled.compile_math(sched) is None
    assert sched.math_function()(50.0) == sched(50) == float(sched._at(50.0, MATH))
    with pytest.raises(ValueError, match="not compiled"):
        compiled.source(sched)


def test_a_python_condition_on_the_step_is_not_traced():
    class Branchy(lk.Schedule):
        name = ""

        def __init__(self):
            self._init(None)

        def _eval(self, t, xp):
            return 1.0 if t < 5 else 0.5  # not a closed form the tracer can follow

    sched = Branchy()
    assert compiled.compile_math(sched) is None
    assert [sched(t) for t in (0, 10)] == [1.0, 0.5]


def test_the_first_scalar_call_compiles_once_and_counts_nothing():
    sched = lk.warmup(500) >> lk.cosine(10000)
    assert sched._scalar is None
    steps = list(range(0, 12000, 97))
    first = sched(steps[0])
    function = sched._scalar
    assert hasattr(function, "__lrkit_source__")  # compiled at the first call
    after = [sched(t) for t in steps]
    assert sched._scalar is function and sched.math_function() is function  # built once, no counter
    assert after[0] == first and after == [float(sched._at(float(t), MATH)) for t in steps]
    assert set(vars(sched)) - {"_scalar"} == set(vars(lk.warmup(500) >> lk.cosine(10000)))  # nothing else grew
    # the cached function is not part of the value: equality, hashing, pickling, repr unchanged
    fresh = lk.warmup(500) >> lk.cosine(10000)
    assert sched == fresh and hash(sched) == hash(fresh) and repr(sched) == repr(fresh)
    clone = pickle.loads(pickle.dumps(sched))
    assert clone == sched and clone._scalar is None


def test_source_is_plain_python():
    text = compiled.source(lk.cosine(100, floor=0.1))
    assert text.startswith("def _cosine(t):") and "_cos(" in text
    assert compiled.source(lk.constant(0.1)) == "def _constant(t):\n    return 0.1\n"  # dead code dropped


# Every line the generator may write: assignments of our own operations to numbered locals (a value read once
# written into the expression that reads it), join branches, return. Operands are numbered locals, bound
# constants (c0, c1, ...), the step t, float/bool literals (repr of finite floats) and our own bound functions;
# no text of the schedule's config ever reaches the code.
_LINE = re.compile(
    r"def _\w+\(t\):|pass|else:|(?:if|elif) [-+*/ ()<>=!a-z_\[\]\d.,e]+:|(?:v\d+ =|return) [-+*/ ()<>=!a-z_\[\]\d.,e]+"
)
_NAMES = {"_floor", "_bisect", "_cos", "_sqrt", "_tanh", "_exp", "_expm1", "_log", "float", "abs"}
_KEYWORDS = {"def", "return", "if", "elif", "else", "pass", "t", "True", "False", "e"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sched=schedules)
def test_generated_code_is_only_our_own_operations(sched):
    """The one exec in lrkit runs code built from our closed forms; a config's text never reaches it."""
    if compiled.compile_math(sched) is None:
        return
    text = compiled.source(sched)
    for line in text.splitlines():
        assert _LINE.fullmatch(line.strip()), line
        words = set(re.findall(r"[A-Za-z_]\w*", line)) - _KEYWORDS
        assert all(
            re.fullmatch(r"[vc]\d+", w) or w in _NAMES or (w.startswith("_") and line.startswith("def")) for w in words
        ), line


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sched=schedules)
def test_an_int_step_is_its_float(sched):
    """``sched(t)`` passes an int step below 2**53 on as it is: the same number as its float in every operation."""
    for t in [0, 1, 7, 999, 1000, 12_345, 2**40 + 3, 2**53 - 1, *[int(x) for x in steps_for(sched)]]:
        got, want = sched(t), sched(float(t))
        assert type(got) is float and (got == want or (math.isnan(got) and math.isnan(want))), (sched, t, got, want)
        assert got == float(sched._at(float(t), MATH)) or math.isnan(got)
