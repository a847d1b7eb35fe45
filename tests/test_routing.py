"""One routing: the plateau Controller activates exactly the plateaus that evaluation uses at step t.

The oracle is evaluation itself: replace plateau ``i`` by a NaN-valued stand-in; the value at ``t`` is
NaN exactly when evaluation routes step ``t`` through plateau ``i`` (numpy propagates NaN through
products, clamps and cyclic's amplitude, and a join evaluates only the piece in charge).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.core.backend import Namespace
from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller
from strategies import finite_base


class NaNMarker(Schedule):
    """A stand-in for a plateau: no duration, NaN everywhere."""

    name = "nan_marker"

    def __init__(self) -> None:
        self._init(0)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.full(t, math.nan)


def mark(node: Schedule, target: int, counter: list[int]) -> Schedule:
    """``node`` with the ``target``-th plateau (pre-order) replaced by a :class:`NaNMarker`."""
    if isinstance(node, lk.plateau):
        counter[0] += 1
        return NaNMarker() if counter[0] - 1 == target else node
    params, changed = dict(node._params), False
    for key, value in node._params:
        if isinstance(value, Schedule):
            new = mark(value, target, counter)
            changed |= new is not value
            params[key] = new
        elif isinstance(value, tuple) and any(isinstance(v, Schedule) for v in value):
            items = tuple(mark(v, target, counter) if isinstance(v, Schedule) else v for v in value)
            changed |= any(a is not b for a, b in zip(items, value))
            params[key] = items
    return type(node)(**params) if changed else node


lengths = st.integers(1, 60)
gated = st.builds(lambda n, p: lk.constant(1.0, n) * lk.plateau(patience=p), lengths, st.integers(0, 3))
leaves = st.one_of(gated, finite_base.filter(lambda s: s.length is not None and s.length <= 500))


def combine(children: st.SearchStrategy[Schedule]) -> st.SearchStrategy[Schedule]:
    finite = children.filter(lambda s: s.length is not None and s.length > 0)
    return st.one_of(
        st.lists(finite, min_size=2, max_size=4).map(lambda pieces: lk.join(*pieces)),
        st.lists(children, min_size=2, max_size=3).map(lambda factors: lk.product(*factors)),
        st.builds(lambda s, f: s * f, children, st.floats(0.1, 3.0)),
        st.builds(lk.repeat, finite, st.one_of(st.none(), st.integers(1, 4))),
        st.builds(lk.stretch, children, st.floats(0.25, 4.0)),
        finite.flatmap(lambda s: st.builds(lk.shift, st.just(s), st.floats(-20, 0.9 * s.length))),
        st.builds(lk.take, children, lengths),
        st.builds(lambda s, lo: lk.clamp(s, low=lo), children, st.floats(0, 0.5)),
        st.builds(
            lambda s, up, by: lk.cyclic(up, amplitude=s, amplitude_by=by),
            children, st.integers(1, 20), st.sampled_from(["cycle", "step"]),
        ),
    )


compositions = st.recursive(leaves, combine, max_leaves=6).filter(
    lambda s: any(isinstance(n, lk.plateau) for n in s.walk())
)


@settings(max_examples=300, deadline=None)
@given(compositions, st.lists(st.floats(0, 3000), min_size=1, max_size=12))
def test_the_controller_activates_exactly_the_plateaus_evaluation_uses(s: Schedule, steps: list[float]) -> None:
    controller = Controller(s)
    t = np.asarray([*steps, *range(0, 200, 7)], dtype=np.float64)
    used = [np.isnan(mark(s, i, [0])(t)) for i in range(len(controller.plateaus))]
    for k, step in enumerate(t):
        expected = [i for i, u in enumerate(used) if u[k]]
        assert controller.active(step) == expected, (s, step)


def test_cyclic_amplitude_routes_its_plateau_by_the_cycle_index() -> None:
    s = lk.cyclic(5, amplitude=lk.constant(1, 2) >> (lk.constant(1, 100) * lk.plateau(patience=0, factor=0.5)))
    c = Controller(s)
    assert c.active(15) == []  # cycle 1: the amplitude's local step is 1, inside constant(1, 2)
    assert c.active(35) == [0]  # cycle 3: local step 3, the plateau's piece
    before = [c.resolve()(t) for t in (15.0, 35.0, 36.0)]
    c.observe(1.0, step=35)
    c.observe(1.0, step=35)  # no improvement, patience 0: reduce
    after = [c.resolve()(t) for t in (15.0, 35.0, 36.0)]
    assert after[0] == before[0]  # a reduction made in cycle 3 does not touch cycle 1
    assert after[1] < before[1] and after[2] < before[2]


def test_phase_marks_follow_the_routes() -> None:
    s = lk.repeat(lk.warmup(50) >> lk.cosine(200), times=4)
    assert s.phase_starts(1000) == [50.0, 250.0, 300.0, 500.0, 550.0, 750.0, 800.0]
    assert lk.stretch(lk.warmup(0.1) >> lk.cosine(0.9), 1000).phase_starts(1000) == [100.0]


def test_thousands_of_pieces_evaluate_print_and_round_trip_without_recursion() -> None:
    import pickle

    joined = lk.join(*[lk.cosine(10, floor=0.1 * (i % 5)) for i in range(2000)])
    multiplied = lk.product(*[lk.constant(1.0 + 1e-6 * i) for i in range(2000)])
    for s in (joined, multiplied, joined * multiplied):
        text = repr(s)
        assert lk.from_config(text) == s and lk.from_config(s.to_config()) == s
        assert pickle.loads(pickle.dumps(s)) == s and hash(s) == hash(lk.from_config(text))
        t = np.arange(0, 20_000, 7.0)
        np.testing.assert_allclose([s(x) for x in t[:50]], s(t)[:50], rtol=1e-15)
    assert len(joined.pieces) == 2000 and len(multiplied.factors) == 2000
    assert Controller(lk.join(*[lk.constant(1.0, 1) * lk.plateau() for _ in range(2000)])).active(1999.5) == [1999]
