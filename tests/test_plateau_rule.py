"""The compiled plateau rule (:func:`lrkit.core.plateau._compile`) against the rule as the module docstring states it.

``reference`` below is steps 1-5 of :mod:`lrkit.core.plateau` written out plainly, every parameter read from the node
at every call: the compiled rule (parameters resolved once, at construction) must make the same decision and leave
the same counters, bit for bit, for every mode, threshold form, smoothing, NaN policy, cooldown and peer rule, on
series with negative values, exact ties and non-finite values. The Controller's bound rules and ``feeder()`` stay
the controller's own across a load, and ``resolve()`` follows a reduction made through ``feeder()``.
"""

from __future__ import annotations

import copy
import math
import pickle
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.core.plateau import NAN_POLICIES, RULES, Plateau, PlateauState
from lrkit.reactive.controller import Controller


# -- the rule as the docstring states it ----------------------------------------------------------------------------
def better(node: Plateau, value: float, best: float | None) -> bool:
    """Step 3: ``|best|`` keeps the relative threshold sign-safe; ``best >= 0`` is PyTorch's ``best * (1 - thr)``."""
    if best is None:
        return True
    thr = node.threshold
    if node.threshold_mode == "abs":
        return value < best - thr if node.mode == "min" else value > best + thr
    if node.mode == "min":
        return value < (best * (1.0 - thr) if best >= 0 else best * (1.0 + thr))
    return value > (best * (thr + 1.0) if best >= 0 else best * (1.0 - thr))


def reduce(state: PlateauState, node: Plateau) -> bool:
    state.cooldown, state.bad, state.reductions = node.cooldown, 0, state.reductions + 1
    new = max(state.scale * node.factor, node.min_scale)
    if state.scale - new > node.eps:
        state.scale = new
        return True
    return False


def reference(state: PlateauState, node: Plateau, value: float) -> bool:
    finite = math.isfinite(value)
    if not finite:
        if node.nan == "raise":
            raise ValueError("non-finite")
        if node.nan == "ignore":
            return False
    state.calls += 1
    if finite and node.smoothing > 0:
        if state.smoothed is not None:
            value = node.smoothing * state.smoothed + (1.0 - node.smoothing) * value
        state.smoothed = value
    improved = finite and better(node, value, state.best)
    if improved:
        state.best = value
    if node.rule == "keras":
        if state.cooldown > 0:
            state.cooldown -= 1
            state.bad = 0
        if improved:
            state.bad = 0
            return False
        if state.cooldown > 0:
            return False
        state.bad += 1
        return reduce(state, node) if state.bad >= node.patience and state.scale > node.min_scale else False
    state.bad = 0 if improved else state.bad + 1
    if state.cooldown > 0:
        state.cooldown -= 1
        state.bad = 0
        if node.rule == "optax":
            return False
    if node.rule == "optax":
        return reduce(state, node) if state.bad == node.patience else False
    return reduce(state, node) if state.bad > node.patience else False


# -- series and nodes ------------------------------------------------------------------------------------------------
def series(seed: int, n: int) -> list[float]:
    """Metric values of both signs: a noisy drift, quantised (exact ties and threshold hits), flats, NaN and inf."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 1, n).cumsum() * rng.uniform(0.01, 1), int(rng.integers(0, 4)))
    x = x + rng.choice([-3.0, 0.0, 3.0])
    flat = rng.random(n) < 0.3
    x[flat] = np.roll(x, 1)[flat]
    odd = rng.random(n)
    x[odd < 0.04] = np.nan
    x[(odd >= 0.04) & (odd < 0.06)] = np.inf
    x[(odd >= 0.06) & (odd < 0.08)] = -np.inf
    return [float(v) for v in x]


nodes = st.builds(
    Plateau,
    mode=st.sampled_from(["min", "max"]),
    factor=st.sampled_from([0.1, 0.5, 0.9]),
    patience=st.integers(0, 4),
    threshold=st.sampled_from([0.0, 1e-4, 0.01, 0.3]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    cooldown=st.integers(0, 3),
    min_scale=st.sampled_from([0.0, 0.05, 0.2]),
    eps=st.sampled_from([1e-8, 0.02]),
    smoothing=st.sampled_from([0.0, 0.5, 0.9]),
    nan=st.sampled_from([p for p in NAN_POLICIES if p != "raise"]),
    rule=st.sampled_from(RULES),
)


@settings(max_examples=300, deadline=None)
@given(node=nodes, seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_the_compiled_rule_decides_as_the_docstring_states(node: Plateau, seed: int, n: int) -> None:
    ours, ref = PlateauState(), PlateauState()
    for value in series(seed, n):
        assert ours.observe(node, value) == reference(ref, node, value)
        assert asdict(ours) == asdict(ref)


def test_every_rule_reduces_on_the_series_above() -> None:
    """Not vacuous: every peer rule reduces, skips a NaN, counts a cooldown on these series."""
    for rule in RULES:
        node = Plateau(patience=1, cooldown=1, rule=rule, nan="ignore")
        state = PlateauState()
        for value in series(7, 200):
            state.observe(node, value)
        assert state.reductions > 3 and state.calls < 200


def test_nan_raise_refuses_and_leaves_the_state_alone() -> None:
    node, state = Plateau(nan="raise"), PlateauState()
    state.observe(node, 1.0)
    before = asdict(state)
    with pytest.raises(ValueError, match="metric is nan"):
        state.observe(node, math.nan)
    assert asdict(state) == before


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), 1, torch.tensor(0.5), np.array(0.5), True])
def test_a_metric_that_is_not_a_float_is_read_as_one(value: Any) -> None:
    node, state = Plateau(patience=0), PlateauState()
    state.observe(node, value)
    assert state.best == float(value) and type(state.best) is float


@pytest.mark.parametrize("value", ["0.5x", None, [0.5], torch.ones(2)])
def test_a_metric_that_is_no_number_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="plateau: metric must be a number"):
        PlateauState().observe(Plateau(), value)


def test_a_copied_or_unpickled_plateau_decides_the_same() -> None:
    node = Plateau(patience=1, factor=0.5, mode="max", threshold_mode="abs", threshold=0.1)
    values = series(3, 80)
    for other in (copy.copy(node), copy.deepcopy(node), pickle.loads(pickle.dumps(node))):
        a, b = PlateauState(), PlateauState()
        assert [a.observe(node, x) for x in values] == [b.observe(other, x) for x in values]
        assert asdict(a) == asdict(b)


# -- the Controller's bound rules ------------------------------------------------------------------------------------
def test_feeder_is_observe_and_survives_a_load() -> None:
    schedule = lk.constant(1.0) * lk.plateau(patience=0, factor=0.5)
    c, twin = Controller(schedule), Controller(schedule)
    feed = c.feeder()
    assert feed is not None
    values = [3.0, 2.0, 2.0, 2.5, 1.0, 1.0]
    assert [feed(x) for x in values] == [twin.observe(x, 7) for x in values]
    assert c.state_dict() == twin.state_dict() and c.resolve()(0) == twin.resolve()(0) == 0.125
    saved = c.state_dict()
    feed(5.0)
    c.load_state_dict(saved)
    assert c.state_dict() == saved and c.resolve()(0) == 0.125
    assert feed(9.0) == twin.observe(9.0, 7) and c.state_dict() == twin.state_dict()  # the same feed, still bound
    assert c.resolve()(0) == twin.resolve()(0) == 0.0625


def test_feeder_with_two_plateaus_everywhere_and_none_for_a_plateau_in_a_piece() -> None:
    both = Controller(lk.constant(1.0) * lk.plateau(patience=0) * lk.plateau(patience=1, factor=0.5))
    feed = both.feeder()
    assert feed is not None
    for x in (1.0, 2.0, 2.0):
        feed(x)
    assert both.scales == [pytest.approx(0.01), 0.5]
    piece = Controller(lk.warmup(5) >> (lk.constant(1.0, 10) * lk.plateau()))
    assert piece.feeder() is None


def test_resolve_follows_a_scale_changed_through_the_state() -> None:
    c = Controller(lk.cosine(100) * lk.plateau(patience=0, factor=0.5))
    first = c.resolve()
    assert first is c.resolve() and first(10) == lk.cosine(100)(10)
    feed = c.feeder()
    assert feed is not None
    feed(1.0)
    assert feed(1.0)  # a reduction, not announced to the controller
    assert c.resolve()(10) == (lk.cosine(100) * (lk.plateau(patience=0, factor=0.5) * 0.5))(10)


def test_apply_state_refuses_a_list_of_another_length() -> None:
    c = Controller(lk.constant(1.0) * lk.plateau())
    with pytest.raises(ValueError, match="1 plateau"):
        c.apply_state([PlateauState(), PlateauState()])
    assert c.states == [PlateauState()]


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("best", [-1.0, -0.0, 0.0, 0.7, 3.0])
def test_a_value_exactly_at_the_threshold_does_not_improve_and_the_next_float_does(
    mode: str, threshold_mode: str, best: float
) -> None:
    node = Plateau(mode=mode, threshold_mode=threshold_mode, threshold=0.1, patience=100)
    bound = next(x for x in _candidates(best) if not better(node, x, best) and better(node, _past(x, mode), best))
    for value, improves in ((bound, False), (_past(bound, mode), True)):
        state = PlateauState(best=best, calls=1)
        state.observe(node, value)
        assert (state.best == value and state.bad == 0) if improves else (state.best == best and state.bad == 1)


def _candidates(best: float) -> list[float]:
    """The bounds step 3 computes for ``best`` (threshold 0.1), each form."""
    return [best * 0.9, best * 1.1, best - 0.1, best + 0.1]


def _past(x: float, mode: str) -> float:
    return math.nextafter(x, -math.inf if mode == "min" else math.inf)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_copied_or_unpickled_controller_goes_on_alone(how: str) -> None:
    c = Controller(lk.cosine(100) * lk.plateau(patience=0, factor=0.5))
    c.observe(1.0)
    c.observe(1.0)
    d = pickle.loads(pickle.dumps(c)) if how == "pickle" else copy.deepcopy(c)
    assert d.state_dict() == c.state_dict()
    feed = d.feeder()
    assert feed is not None and feed(1.0) and d.observe(1.0)
    assert d.scales == [0.125] and c.scales == [0.5]  # the copy's rules are bound to the copy's states
    assert d.resolve()(10) == (lk.cosine(100) * (lk.plateau(patience=0, factor=0.5) * 0.125))(10)
