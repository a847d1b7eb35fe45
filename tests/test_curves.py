"""lrkit.curves: laws recovered from synthetic curves, the published protocol on real curves, CLI, recorder."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves
from lrkit.curves import MomentumLaw, MultiPowerLaw, Run
from lrkit.curves.cli import add_commands, run_args

SHARED = next(
    (p / "shared" / "data" / "loss-curves" for p in Path(__file__).resolve().parents[2:4] if (p / "shared").is_dir()),
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loss-curves",
)
W = lk.warmup(200)
SCHEDULES = {
    "constant": W >> lk.constant(1.0),
    "cosine": W >> lk.cosine(3800, floor=0.1),
    "drop": W >> lk.constant(1.0, 1800) >> lk.constant(0.3),
}
TRUE_MPL = MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)
TRUE_MOMENTUM = MomentumLaw(L0=3.0, A=0.5, alpha=0.5, C=0.4)
STEPS = np.arange(256, 4001, 64)


def synthetic(law, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    runs = []
    for name, sched in SCHEDULES.items():
        clean = law.predict(sched * 3e-4, STEPS)
        runs.append(Run.of(sched * 3e-4, STEPS, clean + noise * rng.standard_normal(clean.size), name=name))
    return runs


# -- the laws ------------------------------------------------------------------------------------------------
def test_constant_schedule_reduces_to_a_power_law():
    sched = lk.constant(3e-4)
    steps = np.array([10, 100, 1000])
    s1 = 3e-4 * steps
    np.testing.assert_allclose(TRUE_MOMENTUM.predict(sched, steps), 3.0 + 0.5 * s1**-0.5, rtol=1e-12)
    # the multi-power law: the power law, and the first update's rise from rate 0 (a negative decrease)
    p = TRUE_MPL
    rise = p.B * 3e-4 * (1 - (p.C * (3e-4) ** -p.gamma * s1 + 1) ** -p.beta)
    np.testing.assert_allclose(p.predict(sched, steps), 3.0 + 0.5 * s1**-0.5 + rise, rtol=1e-12)


def test_multi_power_matches_the_formula_term_by_term():
    lrs = (W >> lk.cosine(300, floor=0.1))(np.arange(500)) * 3e-4
    t = 400
    p = TRUE_MPL
    k = np.arange(t)  # every update: the warmup's increases, from rate 0 before training, are negative decreases
    sk = np.array([lrs[j:t].sum() for j in k])
    before = np.concatenate(([0.0], lrs))[k]
    ld = p.B * np.sum((before - lrs[k]) * (1 - (p.C * lrs[k] ** -p.gamma * sk + 1) ** -p.beta))
    expected = p.L0 + p.A * lrs[:t].sum() ** -p.alpha - ld
    assert p.predict(lrs, t)[0] == pytest.approx(expected, rel=1e-7)


def test_momentum_matches_the_recursion():
    lrs = (W >> lk.linear(300, 1.0, 0.1))(np.arange(600)) * 3e-4
    m, s2 = 0.0, 0.0
    for i in range(1, 600):
        m = 0.999 * m + ((lrs[i - 1] - lrs[i]) if i > 200 else 0.0)
        s2 += m
    expected = 3.0 + 0.5 * lrs.sum() ** -0.5 - 0.4 * s2
    assert TRUE_MOMENTUM.predict(lrs, 600)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("law", [TRUE_MPL, TRUE_MOMENTUM])
def test_final_gradient_matches_finite_differences(law):
    lrs = (W >> lk.cosine(800, floor=0.1))(np.arange(1000)) * 3e-4
    loss, grad = law.final_gradient(lrs)
    assert loss == pytest.approx(law.final(lrs, 1000), rel=1e-10)
    for j in (50, 199, 200, 201, 600, 999):
        h = 1e-9
        bumped = lrs.copy()
        bumped[j] += h
        assert (law.final(bumped, 1000) - loss) / h == pytest.approx(grad[j], rel=2e-3, abs=1e-3)


def test_prediction_accepts_schedules_and_arrays_alike():
    sched = SCHEDULES["cosine"] * 3e-4
    np.testing.assert_array_equal(TRUE_MPL.predict(sched, STEPS), TRUE_MPL.predict(sched(np.arange(4000)), STEPS))
    with pytest.raises(ValueError, match="lrs"):
        TRUE_MPL.predict(np.ones(10) * 3e-4, [20])
    with pytest.raises(ValueError, match="steps"):
        TRUE_MPL.predict(sched, [0])


def test_laws_are_immutable_values():
    with pytest.raises(AttributeError):
        TRUE_MPL.L0 = 1.0  # type: ignore[misc]
    assert curves.law_from_dict(json.loads(json.dumps(TRUE_MPL.to_dict()))) == TRUE_MPL
    assert curves.law_from_dict(TRUE_MOMENTUM.to_dict()) == TRUE_MOMENTUM
    with pytest.raises(ValueError, match="law"):
        curves.law_from_dict({"law": "nope"})


# -- fitting synthetic curves --------------------------------------------------------------------------------
@pytest.mark.parametrize("truth", [TRUE_MPL, TRUE_MOMENTUM])
def test_fit_recovers_known_parameters(truth):
    result = curves.fit(synthetic(truth), type(truth), method="joint", prior=None)
    assert result.converged and not result.problems
    if isinstance(truth, MomentumLaw):
        np.testing.assert_allclose(result.law.vector(), truth.vector(), rtol=1e-4)
    else:  # the linear and power parameters are identified; (B, C, beta, gamma) trade off: check the curves
        np.testing.assert_allclose(result.law.vector()[:3], truth.vector()[:3], rtol=2e-2)
    other = (W >> lk.constant(1.0, 2800) >> lk.linear(1000, 1.0, 0.05)) * 3e-4
    np.testing.assert_allclose(result.law.predict(other, STEPS), truth.predict(other, STEPS), rtol=2e-4)


def test_staged_fit_of_a_noiseless_curve_is_close_not_exact():
    # the paper's two steps hold L0, A, alpha, B at their realised-drop values (G = 1) while fitting C, beta,
    # gamma: on a curve of the law itself that is an approximation (measured: 0.21% worst on this schedule with
    # the default prior, 0.10% without)
    result = curves.fit(synthetic(TRUE_MPL), MultiPowerLaw)
    assert result.converged and not result.problems
    other = (W >> lk.constant(1.0, 2800) >> lk.linear(1000, 1.0, 0.05)) * 3e-4
    np.testing.assert_allclose(result.law.predict(other, STEPS), TRUE_MPL.predict(other, STEPS), rtol=3e-3)
    assert not np.allclose(result.law.predict(other, STEPS), TRUE_MPL.predict(other, STEPS), rtol=2e-4)
    np.testing.assert_allclose(result.law.vector()[:3], TRUE_MPL.vector()[:3], rtol=2e-2)


def test_realised_drop_limit_is_the_instant_law():
    # C = inf: G = 1, so L(t) = L0 + A S1^-alpha - B (0 - eta_{t-1}): every change from rate 0 realised
    law = dataclasses.replace(TRUE_MPL, C=math.inf)
    sched = SCHEDULES["drop"] * 3e-4
    lrs = sched(np.arange(4000))
    expected = 3.0 + 0.5 * np.cumsum(lrs)[STEPS - 1] ** -0.5 - 400.0 * (0.0 - lrs[STEPS - 1])
    np.testing.assert_allclose(law.predict(sched, STEPS), expected, rtol=1e-12)
    # the limit of a large C
    np.testing.assert_allclose(dataclasses.replace(TRUE_MPL, C=1e12).predict(sched, STEPS), expected, rtol=1e-5)


def test_fit_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        curves.fit(synthetic(TRUE_MOMENTUM), MomentumLaw, method="adam")


def test_fit_with_noise_is_deterministic_and_reports_quality():
    runs = synthetic(TRUE_MOMENTUM, noise=0.003, seed=1)
    a, b = curves.fit(runs, MomentumLaw), curves.fit(runs, MomentumLaw)
    assert a.law == b.law
    noisy = synthetic(TRUE_MPL, noise=0.003, seed=1)
    staged = [curves.fit(noisy, MultiPowerLaw) for _ in range(2)]
    assert staged[0].law == staged[1].law and staged[0].method == "staged" and a.method == "joint"
    assert staged[0].to_dict()["fit"]["method"] == "staged"
    assert 0.99 < a.quality.min_r2 < 1.0
    expected = np.mean(np.concatenate([0.003 * np.sqrt(2 / np.pi) / r.losses for r in runs]))  # E|noise| / loss
    assert a.quality.mean_error == pytest.approx(expected, rel=0.2)
    assert "R^2" in a.report()


def test_poor_fit_warns():
    # a loss that rises with training cannot follow a law where loss falls with the area
    steps = np.arange(300, 4001, 100)
    rising = 3.0 + 1e-4 * steps + 0.05 * np.sin(steps / 300)
    runs = [Run.of(s * 3e-4, steps, rising, name=n) for n, s in SCHEDULES.items()]
    with pytest.warns(curves.CurveFitWarning, match="R\\^2"):
        result = curves.fit(runs, MomentumLaw)
    assert result.problems


def test_fit_rejects_runs_without_losses():
    with pytest.raises(ValueError, match="losses"):
        curves.fit([Run.of(SCHEDULES["cosine"] * 3e-4, STEPS)])


@pytest.mark.parametrize(
    ("field", "bad"),
    # C = inf is the multi-power law's realised-drop limit (test_realised_drop_limit_is_the_instant_law)
    [
        (f, b)
        for f in ("L0", "C", "gamma")
        for b in (math.nan, math.inf, -math.inf, "3", True)
        if (f, b) != ("C", math.inf)
    ],
)
def test_a_law_refuses_parameters_that_are_not_finite_numbers(field, bad):
    # MultiPowerLaw(L0=nan) was accepted; every prediction was then nan, in silence
    with pytest.raises(ValueError, match=f"{field} must be"):
        dataclasses.replace(TRUE_MPL, **{field: bad})
    with pytest.raises(ValueError, match="C must be finite"):
        dataclasses.replace(TRUE_MOMENTUM, C=math.inf)
    with pytest.raises(ValueError, match="'C' must be a finite number"):
        curves.law_from_dict({**TRUE_MOMENTUM.to_dict(), "C": math.inf})


@pytest.mark.parametrize("updates", [math.inf, math.nan, 1e300, -5, 0, 10.5, True, "1000"])
def test_final_refuses_a_length_that_is_not_a_number_of_updates(updates):
    # inf gave OverflowError, 1e300 a TypeError from numpy, 10.5 was cut to 10
    with pytest.raises(ValueError, match=r"^steps: "):
        TRUE_MPL.final(SCHEDULES["cosine"] * 3e-4, updates)


def test_flat_losses_say_the_run_is_uninformative_not_a_poor_fit():
    # R^2 is undefined when the losses do not vary: the fit warned "R^2 = nan < 0.99: the law fits it poorly"
    flat = Run.of(SCHEDULES["cosine"] * 3e-4, STEPS, np.full(STEPS.size, 3.0), name="flat")
    with pytest.warns(curves.CurveFitWarning, match="'flat': every logged loss is the same") as record:
        result = curves.fit([flat], MultiPowerLaw)
    assert math.isnan(result.quality.min_r2)
    assert not any("R^2 = nan" in str(w.message) for w in record)


def test_huge_losses_score_without_overflow():
    # R^2 and the RMSE squared losses of 1e200 to inf: R^2 was nan and numpy warned of overflow
    runs = synthetic(TRUE_MPL, noise=0.01)
    huge = [dataclasses.replace(r, losses=r.losses * 1e200) for r in runs]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scored = curves.score(dataclasses.replace(TRUE_MPL, L0=3e200, A=0.5e200, B=400e200), huge)
    plain = curves.score(TRUE_MPL, runs)
    assert scored.min_r2 == pytest.approx(plain.min_r2, abs=1e-9) and scored.min_r2 > 0.9
    assert scored.runs[0].rmse == pytest.approx(plain.runs[0].rmse * 1e200, rel=1e-6)


def test_a_fit_that_ends_at_a_bound_says_so():
    # losses of order 1e-6 meet A's lower bound (1e-6): the fit was 17x worse than at order 1 and said nothing
    runs = [dataclasses.replace(r, losses=r.losses * 1e-6) for r in synthetic(TRUE_MPL)]
    with pytest.warns(curves.CurveFitWarning, match=r"ended at a bound: A = 1e-06 \(bounds 1e-06 to inf\)"):
        result = curves.fit(runs, MultiPowerLaw)
    assert result.uncertainty.at_bounds == ("A",)
    assert any("ended at a bound" in p for p in result.problems)


def test_a_loss_at_or_below_zero_names_the_run_and_the_update():
    losses = TRUE_MPL.predict(SCHEDULES["cosine"] * 3e-4, STEPS)
    losses = losses - losses[STEPS.size // 2]
    run = Run.of(SCHEDULES["cosine"] * 3e-4, STEPS, losses, name="shifted")
    at = int(STEPS[np.argmax(losses <= 0)])
    with pytest.raises(ValueError, match=f"run 'shifted': the loss after {at} updates is"):
        curves.fit([run], MultiPowerLaw)


# -- ranking and optimisation -----------------------------------------------------------------------------------
def test_rank_orders_by_predicted_final_loss():
    ranking = curves.rank(TRUE_MPL, {n: s * 3e-4 for n, s in SCHEDULES.items()}, 4000)
    losses = [v for _, v in ranking.rows]
    assert losses == sorted(losses)
    assert ranking.rows[0][1] == pytest.approx(TRUE_MPL.final(SCHEDULES[ranking.best] * 3e-4, 4000))
    assert ranking.table().count("\n") == len(SCHEDULES) + 1


@pytest.mark.parametrize("law", [TRUE_MPL, TRUE_MOMENTUM])
def test_optimised_schedule_is_monotone_round_trips_and_beats_the_baselines(law):
    best = curves.optimize(law, budget=4000, peak=3e-4, warmup=200, knots=16)
    s = best.schedule
    assert lk.from_config(repr(s)) == s
    values = s(np.arange(200, 4001))
    assert np.all(np.diff(values) <= 1e-15) and values.min() >= 0.01 - 1e-12
    np.testing.assert_allclose(s(np.arange(201)), lk.warmup(200, start=0.0)(np.arange(201)), atol=1e-12)
    for baseline in SCHEDULES.values():
        assert best.predicted_loss < law.final(baseline * 3e-4, 4000)
    assert best.predicted_loss == pytest.approx(law.final(best.absolute, 4000))


# -- the published curves (Luo et al. 2025) -----------------------------------------------------------------------
def _size_list():
    return [
        pytest.param(None, id="25M-shipped"),
        pytest.param(
            "100M", id="100M", marks=pytest.mark.skipif(not (SHARED / "100M").is_dir(), reason="shared data absent")
        ),
    ]


@pytest.fixture(scope="module")
def protocol():
    out = {}

    def run(size, law):
        if (size, law) not in out:
            runs = curves.paper_runs(None if size is None else SHARED / size)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", curves.CurveFitWarning)
                result = curves.fit([runs[n] for n in curves.FIT_RUNS], law)
            out[size, law] = (result, curves.score(result.law, [runs[n] for n in curves.PREDICT_RUNS]))
        return out[size, law]

    return run


#: the data README's figures for the published parameters (mean of the six runs' mean errors)
PUBLISHED_RUN_MEAN = {None: 0.00110, "100M": 0.00142}


@pytest.mark.parametrize("size", _size_list())
def test_paper_protocol_multi_power(protocol, size):
    _, predicted = protocol(size, MultiPowerLaw)
    assert predicted.worst_error <= 0.012
    # measured, mean of the run means, every run weighed the same (the default): 0.100% (25M), 0.135% (100M),
    # below the published parameters' 0.110% / 0.142%; every point weighed the same: 0.115% / 0.140%.
    # The joint 7-parameter optimum (the default before the paper's two steps) gave 0.134% / 0.164%.
    assert predicted.run_mean_error < PUBLISHED_RUN_MEAN[size]
    assert predicted.mean_error < 0.0019  # all points pooled: 0.123% / 0.177% (published: 0.122% / 0.172%)
    assert predicted.min_r2 >= 0.995  # measured 0.9968 / 0.9952 (the joint optimum: 0.989 / 0.990)
    # finals measured more than 0.2% apart: all in order, but on 100M constant_72000 / wsd_20000_24000 (0.34%
    # apart; the law predicts the WSD decay's drop 0.7% too large, as without the prior)
    by_truth = sorted(predicted.runs, key=lambda r: r.final_loss)
    swapped = {
        (a.name, b.name)
        for i, a in enumerate(by_truth)
        for b in by_truth[i + 1 :]
        if a.predicted_final > b.predicted_final and (b.final_loss - a.final_loss) / a.final_loss > 0.002
    }
    allowed = {("constant_72000", "wsd_20000_24000")} if size == "100M" else set()
    assert swapped <= allowed, swapped


def test_every_run_weighs_the_same_whatever_its_logging_interval():
    # two runs the law cannot both fit exactly (losses from two different laws): weighed by points, the run
    # logged 8x as often pulls the fit to itself; weighed by runs (the default), the two runs' errors stay
    # about as balanced as when both are logged alike
    a, b = MomentumLaw(3.0, 0.5, 0.5, 0.4), MomentumLaw(3.1, 0.45, 0.55, 0.2)
    schedule_a, schedule_b = lk.warmup(100) >> lk.cosine(1900, floor=0.1), lk.warmup(100) >> lk.constant(1.0)
    dense, sparse = np.arange(128, 2001, 8), np.arange(128, 2001, 64)
    run_a = Run.of(schedule_a * 3e-4, dense, a.predict(schedule_a * 3e-4, dense), name="dense")
    run_b = Run.of(schedule_b * 3e-4, sparse, b.predict(schedule_b * 3e-4, sparse), name="sparse")
    run_a_sparse = Run.of(schedule_a * 3e-4, sparse, a.predict(schedule_a * 3e-4, sparse), name="dense")

    def errors(runs, weights):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurveFitWarning)
            law = curves.fit(runs, MomentumLaw, weights=weights).law
        return {r.name: r.mean_error for r in curves.score(law, [run_a_sparse, run_b]).runs}

    def imbalance(weights, runs=(run_a, run_b)):  # how much worse the sparse run is fitted than the dense one
        e = errors(list(runs), weights)
        return e["sparse"] / e["dense"]

    # measured: 37 by points, 2.0 by runs, 3.1 with both runs logged every 64 updates
    assert imbalance("points") > 10
    assert imbalance("runs") < 4
    assert 0.5 < imbalance("runs") / imbalance("points", (run_a_sparse, run_b)) < 2
    with pytest.raises(ValueError, match="weights must be 'runs' or 'points'"):
        curves.fit([run_a, run_b], weights="equal")


def test_weighing_every_point_the_same_is_the_papers_objective():
    runs = curves.paper_runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", curves.CurveFitWarning)
        result = curves.fit([runs[n] for n in curves.FIT_RUNS], "multi_power", weights="points")
    assert result.weights == "points" and result.to_dict()["fit"]["weights"] == "points"
    # measured 0.122% with the default prior (0.115% without; every run weighed the same: 0.100%)
    assert curves.score(result.law, [runs[n] for n in curves.PREDICT_RUNS]).run_mean_error == pytest.approx(
        0.00122, abs=0.00002
    )


@pytest.mark.parametrize("size", _size_list())
def test_paper_protocol_joint_optimum_extrapolates_worse(size):
    # the joint optimum fits the three runs more closely than the paper's two steps; without a prior it predicts
    # the six worse on both sizes (0.131% / 0.165% against 0.100% / 0.135%); with the default prior still on 25M
    # (0.119%), no longer on 100M (0.131% against 0.135%: the prior keeps beta off its bound there)
    runs = curves.paper_runs(None if size is None else SHARED / size)
    fitted, predicted = [runs[n] for n in curves.FIT_RUNS], [runs[n] for n in curves.PREDICT_RUNS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", curves.CurveFitWarning)
        joint = curves.fit(fitted, method="joint", prior=None, jackknife=False)
        staged = curves.fit(fitted, "multi_power", jackknife=False)
    assert joint.quality.mean_error < staged.quality.mean_error
    assert curves.score(joint.law, predicted).run_mean_error > curves.score(staged.law, predicted).run_mean_error + 1e-4


PUBLISHED = {  # Luo et al.'s src/config.py, [L0, A, alpha, B, C, beta, gamma]
    "25M": (3.0405, 0.5247, 0.5079, 363.79, 2.0656, 0.5828, 0.6414),
    "100M": (2.6514, 0.6012, 0.4530, 437.95, 2.1325, 0.5979, 0.6552),
}


@pytest.mark.parametrize(
    "size, run_mean, worst",
    [("25M", 0.00110, 0.0069), ("100M", 0.00142, 0.0103)],
)
def test_published_parameters_reproduce_the_published_errors(size, run_mean, worst):
    # the data's README: 0.110% / 0.142% (the mean of the six runs' mean errors), worst 0.71% / 1.03%
    # (measured here 0.690% / 1.029%: the README's 0.71% is within the off-by-one conventions of S_k)
    if not (SHARED / size).is_dir():
        pytest.skip("shared data absent")
    runs = curves.paper_runs(SHARED / size)
    s = curves.score(MultiPowerLaw(*PUBLISHED[size]), [runs[n] for n in curves.PREDICT_RUNS])
    assert s.run_mean_error == pytest.approx(run_mean, abs=1e-5)  # measured 0.1095% / 0.1423%
    assert s.worst_error == pytest.approx(worst, abs=5e-5)
    assert s.min_r2 > 0.996
    # over all points pooled (the long runs weigh more) the same parameters give 0.122% / 0.172%
    assert s.mean_error == pytest.approx({"25M": 0.001221, "100M": 0.001724}[size], abs=5e-6)


@pytest.mark.parametrize("size", _size_list())
def test_paper_protocol_momentum(protocol, size):
    _, predicted = protocol(size, MomentumLaw)
    # measured: mean 0.167% / 0.178%, worst 0.98% / 1.21%, R^2 >= 0.994
    assert predicted.mean_error < 0.002
    assert predicted.worst_error <= 0.013
    assert predicted.min_r2 >= 0.99


def test_optimised_24000_schedule_beats_the_published_ones(protocol):
    result, _ = protocol(None, MultiPowerLaw)
    best = curves.optimize(result.law, budget=24000, peak=3e-4, warmup=2160, floor=0.1)
    for name in ("cosine_24000", "constant_24000", "wsd_20000_24000", "wsdld_20000_24000"):
        assert best.predicted_loss < result.law.final(curves.paper_schedule(name)[0], 24000)


# -- files, recorder and the command line --------------------------------------------------------------------------
def test_run_files_round_trip(tmp_path):
    lrs = SCHEDULES["cosine"](np.arange(4000)) * 3e-4
    losses = TRUE_MPL.predict(lrs, np.arange(2, 4000))  # after 1 update the area is still 0 (lrs[0] = 0)
    for suffix in (".csv", ".jsonl"):
        path = tmp_path / f"run{suffix}"
        curves.write_run(path, np.arange(4000), np.concatenate(([5.0, np.nan], losses)), lrs)
        run = curves.read_run(path)
        np.testing.assert_array_equal(run.steps, np.arange(2, 4000))
        np.testing.assert_allclose(run.losses, losses)
        np.testing.assert_allclose(run.lrs, lrs[:3999])
    sparse = tmp_path / "sparse.csv"
    curves.write_run(sparse, STEPS, TRUE_MPL.predict(lrs, STEPS))
    with pytest.raises(ValueError, match="schedule"):
        curves.read_run(sparse)
    assert curves.read_run(sparse, SCHEDULES["cosine"] * 3e-4).steps.tolist() == STEPS.tolist()


def test_recorder_counts_real_updates(tmp_path):
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler
    from lrkit.torch.record import Recorder

    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.1)
    sched = Scheduler(opt, lk.warmup(5) >> lk.cosine(15))
    path = tmp_path / "run.jsonl"
    with Recorder(opt, path) as rec:
        for i in range(20):
            loss = (w**2).sum()
            opt.zero_grad()
            loss.backward()
            rec.log(loss)
            if i != 7:  # one micro-batch without an update: its loss joins update 7's row
                opt.step()
                sched.step()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rec.updates == 19 and [r["update"] for r in rows] == list(range(19))
    assert rows[-1]["lr"] == pytest.approx(0.1 * (lk.warmup(5) >> lk.cosine(15))(18))


def _cli(argv):
    parser = argparse.ArgumentParser(prog="lrkit")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_args(parser.parse_args(argv))


def test_cli_fit_score_rank_optimize(tmp_path, capsys):
    files = []
    for run in synthetic(TRUE_MOMENTUM, noise=0.002):
        path = tmp_path / f"{run.name}.csv"
        curves.write_run(path, run.steps, run.losses)
        files.append(f"{path}@{SCHEDULES[run.name]!r}")
    law = tmp_path / "law.json"
    assert _cli(["curve", "fit", *files, "--law", "momentum", "--lr", "3e-4", "-o", str(law)]) == 0
    assert "R^2" in capsys.readouterr().out
    assert _cli(["curve", "score", str(law), *files, "--lr", "3e-4", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["mean_error"] < 0.002 and scored["worst_error"] < 0.01
    assert _cli(["curve", "rank", str(law), *(repr(s) for s in SCHEDULES.values()), "--budget", "4000",
                 "--lr", "3e-4", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["ranking"]) == 3
    assert _cli(["curve", "predict", str(law), repr(SCHEDULES["cosine"]), "--budget", "4000", "--lr", "3e-4"]) == 0
    assert capsys.readouterr().out.startswith("step,loss")
    assert _cli(["curve", "optimize", str(law), "--budget", "4000", "--peak", "3e-4", "--warmup", "200",
                 "--knots", "8"]) == 0
    text = capsys.readouterr().out.splitlines()[-1]
    assert isinstance(lk.from_config(text), lk.Schedule)


def test_cli_fit_method(tmp_path, capsys):
    files = []
    for run in synthetic(TRUE_MPL):
        path = tmp_path / f"{run.name}.csv"
        curves.write_run(path, run.steps, run.losses)
        files.append(f"{path}@{SCHEDULES[run.name]!r}")
    worst = {}
    for method in ("joint", "staged", "refit"):
        assert _cli(["curve", "fit", *files, "--lr", "3e-4", "--law", "multi_power", "--method", method, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)["fit"]
        worst[method] = out["worst_error"]
        assert out["method"] == method
    # on the law's own curves: the joint optimum is close (exact without the default prior: see the API test), the
    # paper's two steps further
    assert worst["joint"] < 1e-3 and 1e-4 < worst["staged"] < 5e-3
    assert worst["refit"] < 5e-3  # alpha and B freed again in the second step: at least as close as the staged fit
    for weights in ("runs", "points"):
        assert _cli(["curve", "fit", *files, "--lr", "3e-4", "--weights", weights, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["fit"]["weights"] == weights


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["curve", "rank", "missing.json", "cosine(10)", "--budget", "10"], "LAW"),
        (["curve", "fit", "missing.csv@cosine(10)"], "RUN"),
        (["curve", "fit", "x.csv@cosine(10, nope=1)"], "RUN"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, needle, capsys):
    assert _cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    runs = synthetic(TRUE_MPL)
    fig = curves.plot(TRUE_MPL, fitted=runs[:2], predicted=runs[2:], path=tmp_path / "fit.png")
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert len(fig.axes[0].get_lines()) == 3


@pytest.mark.parametrize("size", _size_list())
def test_the_default_fit_ranks_every_pair_of_finals_apart_on_the_paper_protocol(protocol, size):
    # issue 26: with the default options (law="auto"), every pair of predicted finals measured more than 0.2% apart
    # in the measured order. On main the default fit ranked 100M's constant_72000 / wsd_20000_24000 (0.34% apart)
    # the wrong way: the paper's second step, holding the power law's alpha and B, predicts the 4,000-update
    # cooldown's drop 0.7 points too large. auto now also weighs the refit (second step freeing alpha and B) by
    # its leave-one-run-out error (100M: 0.101% against 0.136%) and picks it on both sizes.
    result, predicted = protocol(size, "auto")
    assert result.method == "refit"
    by_truth = sorted(predicted.runs, key=lambda r: r.final_loss)
    swapped = [
        (a.name, b.name)
        for i, a in enumerate(by_truth)
        for b in by_truth[i + 1 :]
        if a.predicted_final > b.predicted_final and (b.final_loss - a.final_loss) / a.final_loss > 0.002
    ]
    assert swapped == []
    # and its mean error below the published parameters' (measured 0.104% / 0.134%, published 0.110% / 0.142%)
    assert predicted.run_mean_error < PUBLISHED_RUN_MEAN[size]


def test_refit_frees_alpha_and_b_in_the_second_step_and_falls_back_to_the_stages():
    runs = synthetic(TRUE_MPL)
    staged = curves.fit(runs, "multi_power", prior=None, jackknife=False)
    refit = curves.fit(runs, "multi_power", method="refit", prior=None, jackknife=False)
    assert (staged.method, refit.method) == ("staged", "refit")
    # the second step moved alpha and B off the first step's realised-drop values and fits closer
    assert refit.law.alpha != staged.law.alpha and refit.law.B != staged.law.B
    assert refit.quality.worst_error <= staged.quality.worst_error
    stages = MultiPowerLaw.refit_stages()
    assert stages[0] == MultiPowerLaw.stages()[0] and set(stages[1].free) == {"alpha", "B", "C", "beta", "gamma"}
    # a law without a refit is fitted by its stages (none: every parameter at once), and says so
    momentum = curves.fit(runs, MomentumLaw, method="refit", jackknife=False)
    assert momentum.method == "joint"
    assert momentum.law == curves.fit(runs, MomentumLaw, jackknife=False).law
    with pytest.raises(ValueError, match="method must be 'staged', 'refit' or 'joint', got 'two-step'"):
        curves.fit(runs, method="two-step")
