"""One routing: the plateau Controller activates exactly the plateaus that evaluation uses at step t.

The oracle is evaluation itself: replace plateau ``i`` by a NaN-valued stand-in; the value at ``t`` is
NaN exactly when evaluation routes step ``t`` through plateau ``i`` (numpy propagates NaN through
products, clamps and cyclic's amplitude, and a join evaluates only the piece in charge).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.core.backend import MATH, NUMPY, Namespace
from lrkit.core.combinators import Join, Product
from lrkit.core.recipes import Recipe
from lrkit.core.routing import PHASE_MARKS, CycleIndex, Dilate, Offset, Periodic, Route, TimeMap
from lrkit.core.routing import Shift as ShiftMap
from lrkit.core.schedule import Schedule
from lrkit.core.schedule import value as schedule_value
from lrkit.reactive.controller import Controller
from strategies import finite_base


@schedule_value
class NaNMarker(Schedule):
    """A stand-in for a plateau: no duration, NaN everywhere."""

    name = "nan_marker"

    def _setup(self) -> float | None:
        return 0

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


# -- routes are the only description of time: a reference that reads no route ---------------------------------
#
# ``reference(node, t)`` evaluates a composition from the combinators' documented formulas and their
# parameters alone (pieces and their lengths, ``by``, ``times``, ...), in the very float operations the
# closed forms use; a leaf (a family) is its own closed form. It also names the plateaus a metric at ``t``
# reaches (pre-order numbers, as the Controller's). Evaluation (math and numpy) and the Controller read the
# routes; so if any route said something else than the formulas, one of them would disagree with it.


def _children(node: Schedule) -> list[Schedule]:
    """The children by the parameters, not by the routes (a recipe's body is its one child)."""
    if isinstance(node, Join):
        return list(node.pieces)
    if isinstance(node, Product):
        return list(node.factors)
    if isinstance(node, lk.cyclic):
        return [] if node.amplitude is None else [node.amplitude]
    if isinstance(node, Recipe):
        return [node.body]
    schedule = getattr(node, "schedule", None)
    return [schedule] if isinstance(schedule, Schedule) else []


def _count(node: Schedule) -> int:
    return 1 if isinstance(node, lk.plateau) else sum(_count(c) for c in _children(node))


#: (probe, local step) of every probe evaluation through MATH, in order: what the routes made of the step.
TRACE: list[tuple[int, float]] = []


@schedule_value
class Probe(Schedule):
    """A strict ramp that records the local step it is evaluated at (before its own clip), through MATH."""

    name = "probe"
    steps: float
    rising: bool = True

    def _setup(self) -> float | None:
        return self.steps

    def _at(self, t: Any, xp: Namespace) -> Any:
        if xp is MATH:
            TRACE.append((id(self), t))
        return super()._at(t, xp)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        start, end = (0.25, 2.0) if self.rising else (2.0, 0.25)
        return start + (end - start) * (t / self.steps)


def reference(node: Schedule, t: float, first: int = 0) -> tuple[float, list[int]]:
    """``(value, plateaus reached)`` at the step ``t >= 0`` from the formulas alone (probes: into TRACE)."""
    if isinstance(node, Probe):
        TRACE.append((id(node), t))
    if node.length is not None:
        t = t if t < node.length else node.length
    if isinstance(node, lk.plateau):
        return 1.0, [first]
    if isinstance(node, Join):
        start = 0
        for i, piece in enumerate(node.pieces):  # S_i: the lengths before piece i, summed in order
            end = start + piece.length if i < len(node.pieces) - 1 else math.inf
            if t < end:
                return reference(piece, t - start, first)
            first += _count(piece)
            start = end
    if isinstance(node, Product):
        out, used = None, []
        for factor in node.factors:
            value, reached = reference(factor, t, first)
            out = value if out is None else out * value
            used += reached
            first += _count(factor)
        return out, used
    if isinstance(node, lk.scale):
        value, used = reference(node.schedule, t, first)
        return value * node.by, used
    if isinstance(node, lk.clamp):
        value, used = reference(node.schedule, t, first)
        if node.low is not None:
            value = value if value > node.low else node.low
        if node.high is not None:
            value = value if value < node.high else node.high
        return value, used
    if isinstance(node, lk.repeat):  # s(t - k L), k = floor(t / L) <= times - 1
        period = node.schedule.length
        k = float(math.floor(t / period))
        if node.times is not None:
            k = k if k < node.times - 1 else float(node.times - 1)
        return reference(node.schedule, t - k * period, first)
    if isinstance(node, lk.shift):  # s(max(t + by, 0))
        u = t + node.by
        return reference(node.schedule, u if u > 0.0 else 0.0, first)
    if isinstance(node, lk.stretch):  # s(t / by)
        return reference(node.schedule, t / node.by, first)
    if isinstance(node, (lk.take, Recipe)):
        return reference(_children(node)[0], t, first)
    if isinstance(node, lk.cyclic) and node.amplitude is not None:  # the amplitude at the cycle index (or t)
        up = node.up
        down = up if node.down is None else node.down
        total = up + down
        cycle = float(math.floor(t / total))
        u = t - cycle * total
        tri = u / up if u <= up else (total - u) / down
        amp, used = reference(node.amplitude, cycle if node.amplitude_by == "cycle" else t, first)
        return node.floor + (node.peak - node.floor) * tri * amp, used
    assert not node.routes(), node  # every combinator is above
    return float(node._eval(t, MATH)), []  # a family: its closed form (t is clipped above)


def agree(s: Schedule, steps: list[float]) -> None:
    """Evaluation (math, numpy) and the Controller agree with the reference at every step; routes tile time."""
    for node in s.walk():
        routes = node.routes()
        if isinstance(node, Join):  # the pieces tile [0, inf) in order
            assert [r.lo for r in routes] == [0, *[r.hi for r in routes[:-1]]] and routes[-1].hi == math.inf, node
        else:  # every child everywhere
            assert all(r.lo == 0 and r.hi == math.inf for r in routes), node
        assert [r.child for r in routes] == _children(node), node
    controller = Controller(s)
    grid = np.asarray(steps, dtype=np.float64)
    by_numpy = s._at(grid, NUMPY)
    for k, t in enumerate(steps):
        TRACE.clear()
        value, used = reference(s, t)
        expected = TRACE[:]
        TRACE.clear()
        assert float(s._at(t, MATH)) == value, (s, t)
        assert TRACE == expected, (s, t)  # every leaf at the local step the formulas give
        assert by_numpy[k] == pytest.approx(value, rel=1e-12, abs=1e-12), (s, t)
        if controller.reactive:
            assert controller.active(t) == used, (s, t)


probes = st.builds(Probe, st.integers(1, 40), st.booleans())
gated_probes = st.builds(lambda p: p * lk.plateau(), probes)
probe_leaves = st.one_of(probes, gated_probes)


def edges(children: st.SearchStrategy[Schedule]) -> st.SearchStrategy[Schedule]:
    """Composite edges: stretch, repeat and shift inside joins and products (and the other way round)."""
    finite = children.filter(lambda s: s.length is not None and s.length > 0)
    return st.one_of(
        st.lists(finite, min_size=2, max_size=3).map(lambda pieces: lk.join(*pieces)),
        st.lists(children, min_size=2, max_size=3).map(lambda factors: lk.product(*factors)),
        st.builds(lambda s, by: s * by, children, st.sampled_from([0.5, 1.5, 3.0])),
        st.builds(lk.repeat, finite, st.one_of(st.none(), st.integers(1, 3))),
        st.builds(lk.stretch, children, st.sampled_from([0.25, 0.5, 3.0, 7.0, 49.0])),
        finite.flatmap(lambda s: st.builds(lk.shift, st.just(s), st.sampled_from([-3.0, -0.5, 0.5, 1.0]).filter(
            lambda by: by < s.length))),
        # a take that ends inside its child (a longer one only holds the child's end: nothing to route)
        finite.filter(lambda s: s.length > 1).flatmap(
            lambda s: st.builds(lk.take, st.just(s), st.integers(1, math.ceil(s.length) - 1))
        ),
        st.builds(lambda s, up: lk.cyclic(up, amplitude=s), children, st.integers(1, 9)),
    )


composites = st.recursive(probe_leaves, edges, max_leaves=5).filter(lambda s: bool(s.routes()))


def grid_for(s: Schedule) -> list[float]:
    """Quarter steps from 0 (400 at most), and 200 steps spread to past the end."""
    end = (s.length or 300.0) + 3.0
    return sorted({*(k / 4 for k in range(min(int(end * 4), 400) + 1)), *(end * j / 200 for j in range(201))})


def the_property(s: Schedule) -> None:
    agree(s, grid_for(s))


test_evaluation_the_controller_and_the_routes_agree_with_the_formulas = settings(max_examples=150, deadline=None)(
    given(composites)(the_property)
)


def _join_spans_start_late(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Join._set_routes

    def late(self: Join, *routes: Route) -> None:
        starts = [r.lo + 0.5 if r.lo else 0 for r in routes]
        moved = [dataclasses.replace(r, lo=lo, hi=r.hi + 0.5, map=Offset(lo)) for r, lo in zip(routes, starts)]
        original(self, *moved)

    monkeypatch.setattr(Join, "_set_routes", late)


def _join_spans_end_early(monkeypatch: pytest.MonkeyPatch) -> None:  # what the Controller reads; select reads lo
    original = Join._set_routes
    monkeypatch.setattr(Join, "_set_routes", lambda self, *routes: original(
        self, *[dataclasses.replace(r, hi=r.hi - 0.5) for r in routes[:-1]], routes[-1]))


#: Mutants of the routes, one per kind of edge: each replaces one description of time by a wrong one, in every
#: schedule. The first is the bug this module was written for.
MUTANTS = {
    "stretch routes t * (1 / by)": lambda mp: mp.setattr(Dilate, "forward", lambda self, t, xp: t * (1.0 / self.by)),
    "join pieces start late": _join_spans_start_late,
    "join pieces end early": _join_spans_end_early,
    "join offsets off by one": lambda mp: mp.setattr(Offset, "forward", lambda self, t, xp: t - self.offset + 1.0),
    "shift without the clip at 0": lambda mp: mp.setattr(ShiftMap, "forward", lambda self, t, xp: abs(t + self.by)),
    "repeat restarts forever": lambda mp: mp.setattr(
        Periodic, "forward", lambda self, t, xp: t - xp.quotient(t, self.period) * self.period),
    "cyclic amplitude at the step": lambda mp: mp.setattr(CycleIndex, "forward", lambda self, t, xp: t),
    "every factor a step late": lambda mp: mp.setattr(TimeMap, "forward", lambda self, t, xp: t + 0.5),
}


def EDGES() -> list[Schedule]:
    """One composition per kind of edge, built fresh for each test (the mutants patch their construction)."""
    gated = Probe(5) * lk.plateau()
    return [
        lk.stretch(lk.constant(1, 1) >> gated, 49),
        lk.repeat(Probe(4) >> Probe(3, rising=False), times=2) >> Probe(2),
        lk.shift(Probe(6) >> gated, -3.0) * Probe(30),
        lk.cyclic(3, amplitude=Probe(8)) * lk.take(gated >> Probe(9), 7),
    ]


@pytest.mark.parametrize("mutant", MUTANTS)
def test_a_mutation_of_any_route_fails_the_property(mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each mutant makes the property fail on the compositions Hypothesis draws (no shrinking: only that it fails)."""
    MUTANTS[mutant](monkeypatch)
    run = the_property
    for edge in EDGES():  # one of each edge kind first (explicit examples), then what Hypothesis draws
        run = example(edge)(run)
    run = settings(
        max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
        database=None,
    )(given(composites)(run))
    with pytest.raises(AssertionError):
        run()


def test_stretch_routes_divide_as_evaluation_does() -> None:
    """``stretch`` evaluated ``t / f`` but routed ``t * (1 / f)``: at step 49 the Controller saw no plateau."""
    s = lk.stretch(lk.constant(1, 1) >> (lk.constant(1, 100) * lk.plateau()), 49)
    assert np.isnan(mark(s, 0, [0])(np.asarray([49.0])))[0]  # evaluation runs the plateau's piece at 49
    assert Controller(s).active(49) == [0]
    assert Controller(s).active(48.5) == []
    agree(s, [0.0, 48.0, 48.99, 49.0, 50.0, 4949.0])


def test_phase_marks_are_bounded() -> None:
    marks = lk.sgdr(5).phase_starts(1e7)
    assert len(marks) == PHASE_MARKS and marks[:3] == [5.0, 10.0, 15.0] and marks[-1] == 5.0 * PHASE_MARKS
    assert len(lk.cyclic(2).phase_starts(1e300)) == PHASE_MARKS
    nested = lk.repeat(lk.repeat(lk.sgdr(1, cycles=500), times=1000), times=1000)
    assert nested.phase_starts(1e12) == [float(k) for k in range(1, PHASE_MARKS + 1)]
    assert lk.sgdr(5).phase_starts(100, limit=3) == [5.0, 10.0, 15.0]
