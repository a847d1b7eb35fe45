"""lrkit.finder: the sweep, smoothing, the divergence stop and the pure suggestion functions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
import lrkit.finder as lk_finder
from lrkit.finder import (
    METHODS,
    FinderResult,
    minimum,
    range_test,
    smooth,
    steepest,
    suggest,
    sweep,
    usable_region,
    valley,
)


def curve(lrs: np.ndarray, centre: float, width: float = 0.5, blowup: float = 1.0) -> np.ndarray:
    """A synthetic range-test curve: a tanh fall centred at log10(lr) = centre, then a rise."""
    x = np.log10(lrs)
    fall = 1.2 - np.tanh((x - centre) / width)
    rise = np.where(x > centre + blowup, 5.0 * (x - centre - blowup) ** 2, 0.0)
    return fall + rise


# -- sweep -------------------------------------------------------------------------------------------
def test_sweep_is_an_lrkit_schedule_with_exact_ends():
    s = sweep(100, 1e-7, 10.0)
    assert isinstance(s, lk.Schedule)
    assert s(0) == 1e-7 and s(99) == 10.0
    values = s(np.arange(100))
    ratios = values[1:] / values[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # geometric
    assert lk.from_config(repr(s)) == s


def test_linear_sweep_steps_evenly():
    values = sweep(5, 1.0, 3.0, mode="linear")(np.arange(5))
    np.testing.assert_allclose(np.diff(values), 0.5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"iterations": 1}, "iterations must be an integer >= 2, got 1"),
        ({"iterations": 10, "start": 0.0}, "start must be > 0, got 0.0"),
        ({"iterations": 10, "start": 1.0, "end": 0.5}, "end must be > start"),
        ({"iterations": 10, "mode": "cos"}, "mode must be one of 'exp', 'linear', got 'cos'"),
    ],
)
def test_sweep_rejects_bad_parameters(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        sweep(**kwargs)


# -- smoothing ------------------------------------------------------------------------------------------
def test_smooth_is_a_bias_corrected_ema():
    x = np.array([3.0, 1.0, 2.0, 5.0])
    beta = 0.9
    avg, expected = 0.0, []
    for k, value in enumerate(x, start=1):
        avg = beta * avg + (1 - beta) * value
        expected.append(avg / (1 - beta**k))
    np.testing.assert_allclose(smooth(x, beta), expected, rtol=1e-12)
    assert smooth(x, beta)[0] == 3.0


@given(st.floats(0.1, 100.0), st.integers(1, 50), st.floats(0.0, 0.99))
def test_smooth_of_a_constant_is_the_constant(value, n, beta):
    np.testing.assert_allclose(smooth(np.full(n, value), beta), value, rtol=1e-9)


def test_smooth_skips_non_finite_values():
    out = smooth([1.0, math.nan, math.inf, 1.0], 0.5)
    assert np.isnan(out[1]) and np.isnan(out[2])
    assert out[3] == 1.0


# -- suggestion methods on synthetic curves ----------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.floats(-4.0, -0.5), st.floats(0.2, 0.6), st.integers(80, 400))
def test_methods_land_on_the_falling_part_of_a_clean_curve(centre, width, n):
    lrs = np.logspace(-7, 1, n)
    losses = curve(lrs, centre, width)
    fall_lo, fall_hi = 10 ** (centre - 4 * width), 10 ** (centre + 1.0)
    s = steepest(lrs, losses)
    assert s is not None and abs(math.log10(s) - centre) <= 0.25  # the tanh is steepest at its centre
    low = minimum(lrs, losses)
    assert low is not None and fall_lo / 10 <= low <= fall_hi
    v = valley(lrs, losses)  # on a noise-free curve the whole start is one decreasing run
    assert v is not None and v <= 10 * low
    result = suggest(lrs, losses, beta=0)
    assert result.reason == "" and result.value is not None
    assert abs(math.log10(result.value) - centre) <= 1.0


@settings(max_examples=30, deadline=None)
@given(st.floats(-4.0, -1.5), st.integers(0, 2**31 - 1))
def test_suggestion_ignores_a_fall_after_a_spike(centre, seed):
    """The torch-lr-finder failure: loss spikes, comes back down steeply; the steepest fall is after the spike."""
    lrs = np.logspace(-7, 1, 200)
    x = np.log10(lrs)
    losses = curve(lrs, centre, 0.4, blowup=10.0)  # no final blow-up
    spike = (x > centre + 0.8) & (x < centre + 1.2)
    losses = np.where(spike, 2.6, losses)  # back up to the starting loss
    after = x >= centre + 1.2
    losses = np.where(after, 2.6 - 8.0 * (x - centre - 1.2), losses)  # a steep fall after the spike
    losses = np.maximum(losses, 0.01)
    losses = losses + np.random.default_rng(seed).normal(0, 0.01, size=losses.size)
    for method in (steepest, valley, minimum):
        value = method(lrs, losses)
        assert value is not None and value < 10 ** (centre + 0.8), method.__name__
    result = suggest(lrs, losses, beta=0)
    assert result.value is not None and result.value < 10 ** (centre + 0.8)


def test_usable_region_stops_at_the_rebound():
    assert usable_region([3.0, 2.0, 1.0, 1.5, 2.5, 0.5]) == 4
    assert usable_region([3.0, 2.9, 3.05, 2.95]) == 4  # noise on a flat start is no rebound


def test_nan_and_inf_losses_are_dropped():
    lrs = np.logspace(-6, 0, 120)
    losses = curve(lrs, -3.0)
    dirty = losses.copy()
    dirty[[20, 50, 51, 90]] = [math.nan, math.inf, -math.inf, math.nan]
    keep = np.isfinite(dirty)
    for name, method in zip(METHODS, (steepest, valley, minimum)):
        assert method(lrs, dirty) == method(lrs[keep], losses[keep]), name
    assert suggest(lrs, dirty, beta=0).value == suggest(lrs[keep], losses[keep], beta=0).value


def test_declines_when_the_loss_never_falls():
    lrs = np.logspace(-7, 1, 100)
    flat = 2.3 + np.random.default_rng(0).normal(0, 0.05, 100)
    result = suggest(lrs, flat)
    assert result.value is None
    assert "never fell meaningfully" in result.reason


def flat_noise(kind: str, n: int, seed: int) -> np.ndarray:
    """A curve with no descent at all: a constant loss plus noise (iid Gaussian, Student-t(3) or AR(1))."""
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        noise = rng.normal(0.0, 0.05, n)
    elif kind == "t3":
        noise = 0.03 * rng.standard_t(3, n)
    else:  # AR(1), phi = 0.5: neighbouring mini-batch losses correlated
        white = rng.normal(0.0, 0.05, n)
        noise = np.zeros(n)
        for i in range(1, n):
            noise[i] = 0.5 * noise[i - 1] + white[i]
    return 2.3 + noise


@pytest.mark.parametrize("n", [100, 300])
@pytest.mark.parametrize("kind", ["gauss", "t3", "ar"])
def test_declines_on_at_least_95_percent_of_flat_noisy_curves(kind, n):
    """Issue 12: the old rule (start vs the minimum of ~90 correlated smoothed values, 3 sigma) suggested
    on 26% of Gaussian seeds at 100 points; the block test with a Bonferroni bound declines on >= 95%."""
    lrs = sweep(n)(np.arange(n))
    suggested = [seed for seed in range(200) if suggest(lrs, flat_noise(kind, n, seed)).value is not None]
    assert len(suggested) <= 10, f"suggested on {len(suggested)}/200 no-descent curves: seeds {suggested[:10]}"
    reason = suggest(lrs, flat_noise(kind, n, 1000)).reason
    assert "no evidence that the loss fell" in reason or "never fell meaningfully" in reason


def narrow_dip(seed: int, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Shaped like friedman's 100-update range test: flat noisy loss, a fall of 0.4 confined to half a decade
    (1e-2 to 3e-2, about 6 points), a floor, then a rise; mini-batch noise 0.15."""
    lrs = sweep(n)(np.arange(n))
    x = np.log10(lrs)
    level = 1.0 - 0.4 * np.clip((x + 2.0) / 0.5, 0.0, 1.0) + np.where(x > -0.5, 3.0 * (x + 0.5) ** 2, 0.0)
    return lrs, level + np.random.default_rng(seed).normal(0.0, 0.15, n)


def test_suggests_on_a_fall_narrower_than_one_smoothing_span():
    """Issue 12: block medians against the first block (the fall had to fill a whole 0.8-decade block) declined on
    16 of these 50 seeds, as on 4 of 5 friedman seeds; the scan over windows of half a span to two spans suggests
    on all of them, and the suggestion lies before the rise (the curve climbs from 10^-0.5 on)."""
    for seed in range(50):
        result = suggest(*narrow_dip(seed))
        assert result.value is not None, (seed, result.reason)
        assert 1e-3 < result.value < 10**-0.5, (seed, result.value)


def test_declines_when_the_minimum_is_at_the_start():
    lrs = np.logspace(-2, 1, 100)
    rising = 1.0 + np.linspace(0, 3, 100) ** 2
    result = suggest(lrs, rising, beta=0)
    assert result.value is None and result.reason


def test_declines_with_too_few_points():
    result = suggest([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])
    assert result.value is None and "need at least 10" in result.reason


def test_declines_when_the_methods_disagree():
    lrs = np.logspace(-7, 1, 200)
    x = np.log10(lrs)
    # two separate falls far apart: the three methods give three different answers
    losses = 3.0 - 0.3 * np.tanh((x + 6.0) / 0.1) - 2.0 * np.tanh((x + 0.5) / 0.05)
    result = suggest(lrs, losses, beta=0, max_spread=0.01)
    logs = sorted(math.log10(value) for value in result.methods.values())
    assert np.diff(logs).min() > 0.01
    assert result.value is None and "agree" in result.reason
    assert suggest(lrs, losses, beta=0, max_spread=1.0).value is not None


def test_suggest_is_pure_and_validates():
    lrs = np.logspace(-6, 0, 100)
    losses = curve(lrs, -3.0)
    copy_lrs, copy_losses = lrs.copy(), losses.copy()
    assert suggest(lrs, losses) == suggest(lrs, losses)
    np.testing.assert_array_equal(lrs, copy_lrs)
    np.testing.assert_array_equal(losses, copy_losses)
    with pytest.raises(ValueError, match="same length"):
        suggest(lrs, losses[:-1])
    with pytest.raises(ValueError, match="strictly increasing"):
        steepest(lrs[::-1], losses)


# -- the loop on a plain callable ---------------------------------------------------------------------------
def quadratic_step():
    w = [5.0]

    def step(lr):
        loss = (w[0] - 1.0) ** 2 + 0.5
        w[0] -= lr * 2.0 * (w[0] - 1.0)
        return loss

    return step


def test_range_test_on_a_callable_stops_on_divergence():
    result = range_test(quadratic_step(), start=1e-4, end=100.0, iterations=100)
    assert result.stopped.startswith("diverged")
    assert len(result.lrs) < 100
    best = np.nanmin(result.smoothed[result.settings["iterations"] // 10 + 1 :])
    assert result.smoothed[-1] > 4.0 * best
    np.testing.assert_array_equal(result.lrs, [sweep(100, 1e-4, 100.0)(t) for t in range(len(result.lrs))])


def test_range_test_stops_at_the_first_rebound_when_asked():
    def valley_step(seed: int):  # a fall around 1e-3, a rise from 10^-1.5 on; mini-batch noise
        rng = np.random.default_rng(seed)

        def step(lr):
            x = math.log10(lr)
            return 2.0 - math.tanh(2 * (x + 3)) + (4 * (x + 1.5) ** 2 if x > -1.5 else 0.0) + rng.normal(0, 0.02)

        return step

    full = range_test(valley_step(0), start=1e-5, end=10.0, iterations=100)
    short = range_test(valley_step(0), start=1e-5, end=10.0, iterations=100, rebound=True)
    assert short.stopped.startswith("rebounded") and len(short.lrs) < len(full.lrs)
    np.testing.assert_array_equal(short.losses, full.losses[: len(short.losses)])  # the same curve, cut
    settle = 100 // 10
    top, s = short.smoothed[settle], short.smoothed
    best = np.minimum.accumulate(s[settle:])
    hit = (top - best > 0.2 * abs(top)) & (s[settle:] - best > 0.5 * (top - best))
    assert np.flatnonzero(hit)[0] == len(s) - 1 - settle  # stopped at the first update that rebounded
    assert short.suggestion == full.suggestion  # nothing after a rebound is looked at


def test_range_test_stops_at_a_nan_loss_and_never_passes_nan_as_lr():
    seen = []

    def step(lr):
        seen.append(lr)
        return math.nan if len(seen) > 30 else 1.0 / len(seen)

    result = range_test(step, iterations=100)
    assert len(seen) == 31 and all(math.isfinite(x) and x > 0 for x in seen)
    assert result.stopped.startswith("diverged: non-finite")


def test_skipped_updates_give_no_point_and_repeat_the_lr():
    calls = []

    def step(lr):
        calls.append(lr)
        return None if len(calls) % 3 == 0 else 1.0  # every third call: "the scaler skipped it"

    result = range_test(step, iterations=20, diverge=None)
    assert len(result.lrs) == 20
    np.testing.assert_array_equal(result.lrs, [sweep(20, 1e-7, 10.0)(t) for t in range(20)])  # scalar path
    assert len(calls) == 29 and calls[2] == calls[3]


def test_range_test_gives_up_after_too_many_skips():
    result = range_test(lambda lr: None, iterations=10, max_skips=5)
    assert len(result.lrs) == 0 and "skipped" in result.stopped and result.suggestion is None


def test_range_test_rejects_a_bad_return_value():
    with pytest.raises(TypeError, match="must return a number"):
        range_test(lambda lr: "loss", iterations=10)


# -- the result --------------------------------------------------------------------------------------------
def test_result_round_trips_through_json(tmp_path):
    lrs = np.logspace(-6, 0, 100)
    losses = curve(lrs, -3.0)
    losses[5] = math.nan
    result = FinderResult.from_curve(lrs, losses, settings={"iterations": 100})
    data = json.loads(result.to_json())
    assert data["losses"][5] is None
    back = FinderResult.from_dict(data)
    np.testing.assert_array_equal(back.lrs, result.lrs)
    np.testing.assert_array_equal(back.smoothed, result.smoothed)
    assert back.suggestion == result.suggestion and back.suggestions == result.suggestions
    pytest.importorskip("matplotlib")
    ax = result.plot(tmp_path / "finder.png")
    assert (tmp_path / "finder.png").stat().st_size > 1000
    marked = [line.get_xdata()[0] for line in ax.get_lines() if line.get_label().startswith("suggestion")]
    assert marked == [result.suggestion]


@pytest.mark.parametrize("iterations", [50, 100, 300, 1000])
def test_auto_beta_spans_the_same_decades_of_lr_at_any_iteration_count(iterations):
    lrs = sweep(iterations, 1e-7, 10.0)(np.arange(iterations))
    beta = lk_finder.auto_beta(lrs)
    points_per_decade = (iterations - 1) / 8.0
    assert 1.0 / (1.0 - beta) == pytest.approx(max(2.0, 0.8 * points_per_decade))
    assert lk_finder.auto_beta(lrs[: iterations // 2]) == pytest.approx(beta)  # an early stop keeps it


# -- the valley centre (auto's peak rule) --------------------------------------------------------------------
def test_valley_centre_does_not_lag_on_a_noisy_narrow_dip():
    """Issue 13: the valley centre read off the moving average lagged ~0.5 decade behind the noise-free curve's
    (median 10^-0.54 against 10^-0.98 on these 100 seeds, worst 0.65 decade off) and a single mini-batch spike
    lifted it for a span; on the centred running median every seed is within 0.45 decade of it."""
    from lrkit.finder import valley_centre

    lrs = sweep(100)(np.arange(100))
    x = np.log10(lrs)
    level = 1.0 - 0.4 * np.clip((x + 2.0) / 0.5, 0.0, 1.0) + np.where(x > -0.5, 3.0 * (x + 0.5) ** 2, 0.0)
    truth = math.log10(valley_centre(lrs, level, beta=0)[0])
    off = [abs(math.log10(valley_centre(*narrow_dip(seed))[0]) - truth) for seed in range(100)]
    assert max(off) < 0.45 and float(np.median(off)) < 0.15, (max(off), float(np.median(off)))


def test_valley_centre_is_between_the_two_walls_and_declines_without_a_rise():
    from lrkit.finder import valley_centre

    for n in (100, 300):
        lrs = np.logspace(-7, 1, n)
        losses = curve(lrs, -3.0, 0.4, blowup=1.0)  # falls around 1e-3, rises from 1e-2
        value, reason = valley_centre(lrs, losses, beta=0, fall=0.8, rise=0.1)
        assert reason == "" and 10**-3 < value < 10**-1.5
        # the same analytic curve sampled 100 or 300 times: the same centre (within one sample step)
        other = valley_centre(np.logspace(-7, 1, 3 * n), curve(np.logspace(-7, 1, 3 * n), -3.0, 0.4), beta=0)[0]
        assert abs(math.log10(other / value)) < 8.0 / n + 0.03
    lrs = np.logspace(-7, 1, 100)
    falling = curve(lrs, -3.0, 0.4, blowup=20.0)  # never rises again
    value, reason = valley_centre(lrs, falling, beta=0)
    assert value is None and "never climbed back" in reason and "end the sweep higher" in reason
    with pytest.raises(ValueError, match="fall"):
        valley_centre(lrs, falling, fall=1.5)
