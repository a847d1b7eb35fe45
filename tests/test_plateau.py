"""Plateau multipliers and the Controller: parity with torch's ReduceLROnPlateau, the sign fix,
NaN policies, smoothing, composition inside schedules, and exact state-dict round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit.reactive.controller import Controller, Plateau, PlateauState
from strategies import schedules

plateau = Plateau


# -- helpers ---------------------------------------------------------------------------------------
def torch_lrs(seq, min_lr=0.0, **kw):
    """The learning rate after each ReduceLROnPlateau.step(x), base lr 1.0 (so lr == multiplier)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=min_lr, **kw)
    out = []
    for x in seq:
        sched.step(x)
        out.append(opt.param_groups[0]["lr"])
    return out


def lrkit_scales(seq, **kw):
    c = Controller(lk.constant(1.0) * plateau(**kw))
    out = []
    for x in seq:
        c.observe(x, step=0)
        out.append(c.scales[0])
    return out


def reduction_calls(scales):
    return [i for i in range(len(scales)) if scales[i] != (scales[i - 1] if i else 1.0)]


def positive_sequence(rng: np.random.Generator, mode: str) -> list[float]:
    """A positive metric series of one of several shapes: noisy decay, quantised walk, flats, NaN/inf gaps."""
    n = int(rng.integers(20, 80))
    kind = rng.integers(0, 4)
    k = np.arange(n)
    if kind == 0:  # noisy saturating decay (or rise, for mode max)
        base = 1.0 + np.exp(-k / rng.uniform(3, 30))
        x = base * (1 + rng.uniform(0, 0.05) * rng.standard_normal(n))
        x = x if mode == "min" else 3.0 - x
    elif kind == 1:  # quantised random walk: exact ties and exact threshold hits happen
        x = np.round(np.exp(np.cumsum(rng.normal(0, 0.05, n))), int(rng.integers(1, 4)))
        x = np.maximum(x, 0.01)
    elif kind == 2:  # long flats with occasional steps
        x = np.repeat(rng.uniform(0.1, 5.0, n // 5 + 1), 5)[:n]
    else:  # tiny moves around the relative threshold
        x = 2.0 * np.cumprod(1 - rng.choice([0.0, 5e-5, 1e-4, 2e-4, 1e-2], n))
        x = x if mode == "min" else 4.0 - x
    seq = [float(v) for v in x]
    if rng.random() < 0.3:  # gaps: NaN (torch counts it as bad), and +inf in mode min
        for i in rng.choice(n, size=int(rng.integers(1, 4)), replace=False):
            seq[i] = math.inf if (mode == "min" and rng.random() < 0.3) else math.nan
    return seq


# -- parity with torch -------------------------------------------------------------------------------
def test_reductions_match_torch_reduce_lr_on_plateau_on_many_positive_sequences():
    rng = np.random.default_rng(20261128)
    total_reductions = 0
    seen = set()
    for case in range(400):
        mode = ["min", "max"][case % 2]
        threshold_mode = ["rel", "abs"][(case // 2) % 2]
        kw = dict(
            mode=mode,
            threshold_mode=threshold_mode,
            threshold=float(rng.choice([0.0, 1e-4, 1e-3, 1e-2] if threshold_mode == "rel" else [0.0, 1e-3, 0.05])),
            patience=int(rng.integers(0, 6)),
            cooldown=int(rng.integers(0, 4)),
            factor=float(rng.choice([0.1, 0.5, 0.8, 0.95])),
            eps=float(rng.choice([1e-8, 1e-3])),
        )
        min_lr = float(rng.choice([0.0, 0.0, 0.01, 0.3]))
        seq = positive_sequence(rng, mode)
        expected = torch_lrs(seq, min_lr=min_lr, **kw)
        got = lrkit_scales(seq, min_scale=min_lr, **kw)
        assert got == expected, f"case {case}: {kw}, min_lr={min_lr}, seq={seq}"
        reductions = len(reduction_calls(expected))
        total_reductions += reductions
        if reductions:
            seen.add((mode, threshold_mode, kw["cooldown"] > 0, min_lr > 0))
    assert total_reductions > 500  # the comparison is not vacuous
    assert len(seen) == 16  # every mode x threshold mode x cooldown x floor combination reduced somewhere


def test_torch_defaults_match_lrkit_defaults():
    rng = np.random.default_rng(1)
    seq = [float(v) for v in np.round(1 + rng.random(200), 1)]
    assert lrkit_scales(seq) == torch_lrs(seq)


# -- the sign fix --------------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("patience,cooldown", [(0, 0), (2, 0), (3, 2), (10, 1)])
def test_flat_negative_series_reduces_at_the_same_calls_as_flat_positive(threshold_mode, patience, cooldown):
    kw = dict(patience=patience, cooldown=cooldown, threshold_mode=threshold_mode, factor=0.5)
    plus = lrkit_scales([1.0] * 40, **kw)
    minus = lrkit_scales([-1.0] * 40, **kw)
    assert plus == minus
    assert plus == torch_lrs([1.0] * 40, **kw)  # and both are torch's behaviour on the positive series
    assert len(reduction_calls(plus)) >= 3


def test_torch_treats_a_flat_negative_series_as_improving_and_lrkit_does_not():
    # PyTorch's rule best * (1 - threshold) moves a negative best *up*: -1.0 < -0.9999 counts as better.
    assert torch_lrs([-1.0] * 30, patience=2) == [1.0] * 30
    assert len(reduction_calls(lrkit_scales([-1.0] * 30, patience=2))) > 0


@settings(max_examples=300, deadline=None)
@given(best=st.floats(-1e6, -1e-6), worse=st.floats(0.0, 1e6), threshold=st.floats(0.0, 0.5))
def test_a_worse_negative_value_is_never_an_improvement(best, worse, threshold):
    p_min = plateau(threshold=threshold)
    assert not p_min.improves(best + worse, best)
    p_max = plateau(mode="max", threshold=threshold)
    assert not p_max.improves(-(best + worse), -best)


@settings(max_examples=150, deadline=None)
@given(
    seq=st.lists(st.floats(-100, 100, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    threshold=st.sampled_from([0.0, 1e-4, 0.01, 0.2]),
    patience=st.integers(0, 4),
    cooldown=st.integers(0, 3),
)
def test_mode_max_on_negated_metric_is_mode_min(seq, threshold_mode, threshold, patience, cooldown):
    kw = dict(threshold_mode=threshold_mode, threshold=threshold, patience=patience, cooldown=cooldown)
    assert lrkit_scales(seq, mode="min", **kw) == lrkit_scales([-x for x in seq], mode="max", **kw)


def test_relative_threshold_margin_is_symmetric_in_sign():
    p = plateau(threshold=0.01)
    assert p.improves(0.989, 1.0) and not p.improves(0.991, 1.0)
    assert p.improves(-1.011, -1.0) and not p.improves(-1.009, -1.0)


# -- NaN / inf policies -------------------------------------------------------------------------------------
def test_nan_policy_bad_counts_the_call_and_keeps_best_and_smoothing_clean():
    state = PlateauState()
    node = plateau(patience=1, smoothing=0.5)
    for x in (2.0, 1.0):
        state.observe(node, x)
    best, smoothed = state.best, state.smoothed
    assert not state.observe(node, math.nan)
    assert state.bad == 1 and state.best == best and state.smoothed == smoothed
    assert state.observe(node, math.inf)  # a second bad call exceeds patience 1
    assert state.scale == 0.1 and state.best == best and math.isfinite(state.smoothed)


def test_nan_policy_ignore_is_as_if_the_value_was_never_reported():
    rng = np.random.default_rng(5)
    for _ in range(50):
        seq = [float(v) for v in np.round(1 + rng.random(40), 1)]
        gappy = list(seq)
        for i in sorted(rng.choice(40, size=5, replace=False), reverse=True):
            gappy.insert(int(i), float(rng.choice([math.nan, math.inf, -math.inf])))
        kw = dict(patience=int(rng.integers(0, 4)), cooldown=int(rng.integers(0, 3)), nan="ignore")
        clean = lrkit_scales(seq, **kw)
        with_gaps = lrkit_scales(gappy, **kw)
        assert [s for s, x in zip(with_gaps, gappy) if math.isfinite(x)] == clean


def test_nan_policy_raise_names_the_value_and_the_alternatives():
    c = Controller(lk.constant(1.0) * plateau(nan="raise"))
    c.observe(1.0)
    with pytest.raises(ValueError, match=r"metric is nan.*nan='bad'.*nan='ignore'"):
        c.observe(float("nan"))
    with pytest.raises(ValueError, match="metric is -inf"):
        c.observe(float("-inf"))
    assert c.states[0].calls == 1  # the refused values changed nothing


def test_non_numbers_are_refused_and_zero_d_tensors_accepted():
    c = Controller(plateau())
    with pytest.raises(ValueError, match="metric must be a number"):
        c.observe("low")
    c.observe(torch.tensor(0.5))
    c.observe(np.float32(0.25))
    assert c.states[0].best == 0.25


# -- smoothing ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.3, 0.9])
def test_smoothing_decides_on_the_ema_of_the_metric(beta):
    rng = np.random.default_rng(7)
    for _ in range(30):
        seq = [float(v) for v in 1 + np.exp(-np.arange(60) / 20) + 0.05 * rng.standard_normal(60)]
        ema = [seq[0]]
        for x in seq[1:]:
            ema.append(beta * ema[-1] + (1 - beta) * x)
        kw = dict(patience=int(rng.integers(0, 5)), cooldown=int(rng.integers(0, 3)), factor=0.5)
        assert lrkit_scales(seq, smoothing=beta, **kw) == lrkit_scales(ema, **kw)


def test_smoothing_stops_noise_from_triggering_reductions_on_an_improving_metric():
    rng = np.random.default_rng(3)
    seq = [float(v) for v in 2 - 0.01 * np.arange(100) + 0.2 * rng.standard_normal(100)]
    raw = len(reduction_calls(lrkit_scales(seq, patience=5)))
    smooth = len(reduction_calls(lrkit_scales(seq, patience=5, smoothing=0.9)))
    assert raw > smooth


# -- construction, configs -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(mode="minimum"), "plateau: mode must be one of 'min', 'max', got 'minimum'"),
        (dict(factor=1.0), r"plateau: factor must be in \(0, 1\), got 1.0"),
        (dict(factor=0), r"plateau: factor must be in \(0, 1\), got 0"),
        (dict(patience=-1), "plateau: patience must be an integer >= 0, got -1"),
        (dict(patience=2.5), "plateau: patience must be an integer >= 0, got 2.5"),
        (dict(threshold=-0.1), "plateau: threshold must be >= 0, got -0.1"),
        (dict(threshold=1.5), "plateau: threshold must be < 1 with threshold_mode='rel', got 1.5"),
        (dict(threshold_mode="relative"), "plateau: threshold_mode must be one of 'rel', 'abs'"),
        (dict(cooldown=-2), "plateau: cooldown must be an integer >= 0, got -2"),
        (dict(min_scale=2.0), r"plateau: min_scale must be in \[0, 1\], got 2.0"),
        (dict(eps=float("nan")), "plateau: eps must be a finite number"),
        (dict(smoothing=1.0), r"plateau: smoothing must be in \[0, 1\), got 1.0"),
        (dict(nan="skip"), "plateau: nan must be one of 'bad', 'ignore', 'raise', got 'skip'"),
    ],
)
def test_bad_parameters_name_the_parameter_and_the_value(kw, message):
    with pytest.raises(ValueError, match=message):
        plateau(**kw)


def test_plateau_is_a_registered_value_with_text_and_dict_configs():
    p = plateau(mode="max", patience=3, smoothing=0.5, nan="ignore", min_scale=0.01)
    assert "plateau" in lk.known_names()
    assert lk.from_config(repr(p)) == p
    assert lk.from_config(json.loads(json.dumps(p.to_config()))) == p
    assert p(0) == 1.0 and p.length == 0
    np.testing.assert_array_equal(p(np.arange(5.0)), np.ones(5))
    text = "warmup(500) >> constant(1.0, 5000) * plateau(patience=3) >> cosine(2000)"
    s = lk.from_config(text)
    assert s == lk.warmup(500) >> (lk.constant(1.0, 5000) * plateau(patience=3)) >> lk.cosine(2000)
    assert lk.from_config(repr(s)) == s


def test_a_plateau_factor_adds_no_length_so_the_product_can_be_joined():
    s = lk.warmup(500) >> (lk.constant(1.0, 5000) * plateau(patience=3)) >> lk.cosine(2000)
    plain = lk.warmup(500) >> lk.constant(1.0, 5000) >> lk.cosine(2000)
    assert s.length == plain.length == 7500
    t = np.arange(0, 8000, 7.0)
    np.testing.assert_array_equal(s(t), plain(t))


# -- Controller -------------------------------------------------------------------------------------------------
def test_non_reactive_schedules_resolve_to_themselves():
    s = lk.warmup(10) >> lk.cosine(100)
    c = Controller(s)
    assert not c.reactive and c.scales == [] and c.resolve() is s
    assert c.observe(1.0, 5) is False
    with pytest.raises(ValueError, match="Controller: schedule must be a lrkit schedule"):
        Controller("cosine(10)")  # type: ignore[arg-type]


def test_only_the_running_piece_observes_and_the_multiplier_applies_to_it_only():
    s = lk.warmup(10) >> (lk.constant(1.0, 100) * plateau(patience=0, factor=0.5)) >> lk.cosine(50)
    c = Controller(s)
    for step in (0, 5, 9.5):  # warmup: not active
        assert c.observe(1.0, step) is False
    assert c.states[0].calls == 0
    assert [c.observe(1.0, step) for step in (10, 11, 12)] == [False, True, True]
    r = c.resolve()
    assert r.length == s.length
    assert r(5) == s(5) and r(50) == 0.25 and r(110) == s(110) == 1.0 and r(135) == s(135)
    for step in (110, 130, 10_000):  # tail (and past the end): not active
        assert c.observe(1.0, step) is False
    assert c.scales == [0.25] and c.states[0].calls == 3


def test_a_plateau_over_the_whole_schedule_observes_everywhere_and_carries_into_the_tail():
    base = lk.warmup(10) >> lk.constant(1.0, 100) >> lk.cosine(50)
    c = Controller(base * plateau(patience=0, factor=0.5))
    assert c.active(0) == [0] and c.active(1e9) == [0]
    c.observe(1.0, 3)
    c.observe(1.0, 140)
    t = np.arange(0, 200, 0.5)
    np.testing.assert_array_equal(c.resolve()(t), base(t) * 0.5)


def test_two_plateaus_keep_independent_state_and_scale_their_own_pieces():
    a = lk.constant(1.0, 10) * plateau(patience=0, factor=0.5)
    b = lk.constant(1.0, 10) * plateau(patience=0, factor=0.5)  # equal to a, yet a separate node
    c = Controller(a >> b)
    for step in (1, 2, 3):
        c.observe(1.0, step)
    c.observe(1.0, 15)
    c.observe(1.0, 16)
    assert c.scales == [0.25, 0.5]
    r = c.resolve()
    assert (r(5), r(15)) == (0.25, 0.5)


def _expected_active_repeat(t):
    # repeat((constant(1,5) * p) >> constant(1,5), times=3): length 30, the plateau runs on [10k, 10k+5)
    t = min(t, 30.0)
    k = min(math.floor(t / 10), 2)
    return t - 10 * k < 5


def _expected_active_stretch_shift(t):
    # stretch(shift(constant(1,10) >> constant(1,10) * p, 4), 2): inner local u = t/2 + 4 (capped at 20)
    u = min(t, 32.0) / 2 + 4
    return u >= 10


@pytest.mark.parametrize(
    "schedule,expected",
    [
        (lk.repeat((lk.constant(1.0, 5) * plateau()) >> lk.constant(1.0, 5), times=3), _expected_active_repeat),
        (
            lk.stretch(lk.shift(lk.constant(1.0, 10) >> lk.constant(1.0, 10) * plateau(), 4), 2),
            _expected_active_stretch_shift,
        ),
    ],
)
def test_activity_follows_the_time_maps_of_repeat_stretch_and_shift(schedule, expected):
    c = Controller(schedule)
    for t in np.arange(0, 60, 0.25):
        assert (c.active(float(t)) == [0]) == expected(float(t)), t


def test_resolve_keeps_the_tree_shape_and_evaluates_with_the_multipliers():
    s = lk.clamp(lk.warmup(5) >> (lk.cosine(100) * plateau(patience=0, factor=0.5)), low=0.1)
    c = Controller(s)
    c.observe(1.0, 20)
    c.observe(1.0, 30)
    r = c.resolve()
    assert r.length == s.length and isinstance(r, type(s))
    assert "(plateau(factor=0.5, patience=0) * 0.5)" in repr(r) and lk.from_config(repr(r)) == r
    t = np.arange(0, 120, 0.5)
    inner = lk.warmup(5) >> lk.cosine(100) * 0.5
    np.testing.assert_array_equal(r(t), np.clip(inner(t), 0.1, None))


# -- resume ------------------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(
    seq=st.lists(st.floats(0.1, 10.0), min_size=2, max_size=60),
    split=st.integers(1, 59),
    patience=st.integers(0, 5),
    cooldown=st.integers(0, 4),
    smoothing=st.sampled_from([0.0, 0.5]),
)
def test_state_dict_round_trip_gives_the_same_future_decisions(seq, split, patience, cooldown, smoothing):
    split = min(split, len(seq) - 1)
    s = lk.warmup(3) >> (lk.constant(1.0, 1000) * plateau(patience=patience, cooldown=cooldown, smoothing=smoothing))
    straight = Controller(s)
    first = [straight.observe(x, 3 + i) for i, x in enumerate(seq)]
    resumed = Controller(s)
    second = [resumed.observe(x, 3 + i) for i, x in enumerate(seq[:split])]
    saved = json.loads(json.dumps(resumed.state_dict(), allow_nan=False))  # strict JSON
    fresh = Controller(s)
    fresh.load_state_dict(saved)
    assert fresh.scales == resumed.scales and fresh.resolve() == resumed.resolve()
    second += [fresh.observe(x, 3 + i) for i, x in enumerate(seq[split:], start=split)]
    assert second == first
    assert fresh.state_dict() == straight.state_dict()


@pytest.mark.parametrize("where", ["mid-patience", "mid-cooldown"])
def test_resume_mid_patience_and_mid_cooldown(where):
    s = lk.constant(1.0) * plateau(patience=3, cooldown=3, factor=0.5)
    seq = [1.0] * 5 + [1.0] * 2 if where == "mid-cooldown" else [2.0, 1.0, 1.0, 1.0]
    a = Controller(s)
    for x in seq:
        a.observe(x)
    state = a.state_dict()["plateaus"][0]
    assert (state["cooldown"] > 0) if where == "mid-cooldown" else (state["bad"] > 0 and state["cooldown"] == 0)
    b = Controller(s)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    future = [1.0] * 12
    assert [a.observe(x) for x in future] == [b.observe(x) for x in future]
    assert a.scales == b.scales and a.scales[0] < 0.5


def test_load_state_dict_refuses_a_state_from_another_schedule():
    a = Controller(lk.constant(1.0) * plateau(patience=3))
    with pytest.raises(ValueError, match=r"state\['plateaus'\] must be a list of 2 plateau state\(s\)"):
        Controller((lk.constant(1.0, 5) * plateau()) >> (lk.constant(1.0) * plateau())).load_state_dict(
            a.state_dict()
        )
    node = r"state\['plateaus\[0\].node'\] must be plateau\(patience=4\).*found 'plateau\(patience=3\)'"
    with pytest.raises(ValueError, match=node):
        Controller(lk.constant(1.0) * plateau(patience=4)).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match=r"state\['version'\].*found nothing.*pass what Controller\.state_dict"):
        a.load_state_dict({"best": 1.0})
    broken = a.state_dict()
    del broken["plateaus"][0]["bad"]
    with pytest.raises(ValueError, match=r"state\['plateaus\[0\].bad'\] must be an integer >= 0, found nothing"):
        a.load_state_dict(broken)


def test_the_runnable_examples_in_docs_reactive_md_hold():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "reactive.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) >= 6
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/reactive.md", "exec"), namespace)


def test_a_plateau_used_as_a_piece_of_a_join_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"is a piece of the join.*use it as a factor, e\.g\. constant\(1\.0, 5000\)"):
        Controller(lk.cosine(10) >> plateau())
    with pytest.raises(ValueError, match="must have a length > 0 to repeat"):
        lk.repeat(plateau(patience=0), times=2)  # a zero-length period cannot repeat


@settings(max_examples=150, deadline=None)
@given(data=st.data(), factor=st.sampled_from([0.5, 0.1]))
def test_a_plateau_over_any_schedule_resolves_to_that_schedule_times_its_factor(data, factor):
    s = data.draw(schedules)
    wrap = data.draw(st.sampled_from(["none", "stretch", "clamp", "scale"]))
    c = Controller(s * plateau(patience=0, factor=factor))
    assert c.observe(1.0, 0) is False and c.observe(1.0, 0) is True
    t = np.linspace(0, 2 * (s.length or 1000) + 1, 97)
    np.testing.assert_array_equal(c.resolve()(t), s(t) * factor)
    wrapped = {
        "none": lambda x: x,
        "stretch": lambda x: lk.stretch(x, 2.5),
        "clamp": lambda x: lk.clamp(x, high=0.7),
        "scale": lambda x: x * 3.0,
    }[wrap]
    outer = Controller(wrapped(s * plateau(patience=0, factor=factor)))
    outer.observe(1.0, 0)
    outer.observe(1.0, 0)
    np.testing.assert_array_equal(outer.resolve()(t), wrapped(s * factor)(t))
