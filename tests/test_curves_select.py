"""lrkit.curves: law="auto" (the law chosen by leave-one-run-out error), the jackknife of branches, and choose's
tie rule (ties within the fit's noise floor are "any of these"; wider ties refuse)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves
from lrkit.curves import ConvexDropLaw, MultiPowerLaw, Run
from lrkit.curves.choose import resolvable
from lrkit.curves.selection import candidates, decays, held_out_blocks, held_out_errors, jackknife_unit
from test_curves_convex import SCHEDULES, STEPS, W  # the same three runs as the convex laws' tests


def runs_of(law, noise=3e-4, seed=0, scale=1e-3):
    rng = np.random.default_rng(seed)
    out = []
    for name, sched in SCHEDULES.items():
        clean = law.predict(sched * scale, STEPS)
        out.append(Run.of(sched * scale, STEPS, clean * (1 + noise * rng.standard_normal(clean.size)), name=name))
    return out


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", curves.CurveFitWarning)
        return curves.fit(*args, **kwargs)


def test_auto_is_the_default_and_picks_the_multi_power_law_on_the_published_curves():
    runs = curves.paper_runs()
    fitted = [runs[n] for n in curves.FIT_RUNS]
    result = quiet_fit(fitted)
    errors = dict(result.selection)
    assert set(errors) == {label for label, _, _ in candidates()}
    # held out on 25M: the refit 0.106%, the paper's two steps 0.116%, the convex drop 0.192%
    assert errors["multi_power (refit)"] < errors["multi_power"] < errors["convex_drop"]
    assert isinstance(result.law, MultiPowerLaw) and result.method == "refit"
    named = quiet_fit(fitted, "multi_power", method="refit")
    assert np.allclose(result.law.vector(), named.law.vector())  # the same fit as asking for it by name
    # the chosen law's held-out fits are the jackknife's
    assert len(result.uncertainty.ensemble) == 3
    for a, b in zip(result.uncertainty.ensemble, named.uncertainty.ensemble):
        assert np.allclose(a.vector(), b.vector())
    assert result.to_dict()["fit"]["selection"] == errors
    assert "law chosen by leave-one-run-out mean error" in result.report()
    assert curves.score(result.law, [runs[n] for n in curves.PREDICT_RUNS]).run_mean_error < 0.0011


def test_auto_picks_the_convex_drop_on_runs_of_the_convex_drop():
    true = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)
    result = quiet_fit(runs_of(true), "auto")
    errors = dict(result.selection)
    assert errors["convex_drop"] < errors["multi_power"]
    assert isinstance(result.law, ConvexDropLaw)


def test_auto_with_one_run_fits_the_multi_power_law():
    true = MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)
    result = quiet_fit(runs_of(true)[1:2])
    assert isinstance(result.law, MultiPowerLaw) and result.selection == ()


def test_held_out_errors_name_what_is_wrong_in_one_line():
    with pytest.raises(ValueError, match=r"^runs\[0\]: expected a Run"):
        held_out_errors(["run.csv", "other.csv"], "multi_power")
    with pytest.raises(ValueError, match=r"^law: unknown law 'nope'.*'auto'"):
        curves.fit(runs_of(ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)), "nope")


def test_the_jackknife_keeps_a_branchs_shared_points_when_its_parent_is_left_out():
    true = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)
    rng = np.random.default_rng(1)
    stable_s = SCHEDULES["constant"] * 1e-3
    steps = np.arange(150, 1801, 50)
    stable = Run.of(stable_s, steps, true.predict(stable_s, steps) * (1 + 3e-4 * rng.standard_normal(steps.size)),
                    name="stable")
    branches = []
    for at in (1400, 1000):
        sched = (W >> lk.constant(1.0, at - 100) >> lk.linear(2000 - at, 1.0, 0.0)) * 1e-3
        own = np.arange(at + 50, 2001, 50)
        branches.append(Run.branch(stable, sched, own, true.predict(sched, own), at=at, name=f"branch {at}"))
    result = quiet_fit([stable, *branches], "convex_drop")
    without_parent = quiet_fit(branches, "convex_drop", jackknife=False)  # each branch with the points it shares
    assert np.allclose(result.uncertainty.ensemble[0].vector(), without_parent.law.vector())


# -- choose: ties within the noise floor ---------------------------------------------------------------------------
TRUE_MP = MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)


@pytest.fixture(scope="module")
def fitted():
    return quiet_fit(runs_of(TRUE_MP, noise=1e-3), "multi_power")


def test_the_noise_floor_is_one_points_scatter_at_the_final(fitted):
    u = fitted.uncertainty
    assert resolvable(u, 3.0) == pytest.approx(3.0 * u.noise)
    assert 0 < resolvable(u, 3.0) < 0.01 and resolvable(None, 3.0) == 0.0


def test_choose_recommends_the_best_of_candidates_tied_within_the_noise_floor(fitted):
    longer = W >> lk.constant(1.0, 1300) >> lk.linear(600, 1.0, 0.0)  # a 30% cooldown against the 25% one
    cands = {"wsd": SCHEDULES["wsd"] * 1e-3, "wsd, longer cooldown": longer * 1e-3,
             "constant": SCHEDULES["constant"] * 1e-3}
    [choice] = curves.choose(fitted, cands, 2000)
    assert choice.decided and choice.reasons == ()
    assert set(choice.tied) == {"wsd", "wsd, longer cooldown"} and "constant" not in choice.tied
    assert choice.floor == pytest.approx(resolvable(fitted.uncertainty, choice.best.predicted))
    assert max(r.predicted for r in choice.rows if r.tied) - choice.best.predicted <= choice.floor
    text = choice.report()
    assert "recommended:" in text and "any of these is as good" in text and "longer cooldown" in text
    assert choice.to_dict()["floor"] == choice.floor


def test_choose_refuses_when_the_tied_candidates_span_more_than_the_noise_floor(fitted):
    # the intervals made wide: the candidates tied with the best now differ from it by more than the floor
    wide = dataclasses.replace(fitted.uncertainty, covariance=fitted.uncertainty.covariance * 1e6)
    cands = {n: s * 1e-3 for n, s in SCHEDULES.items()}
    [choice] = curves.choose(fitted.law, cands, 2000, uncertainty=wide)
    assert not choice.decided and "more than the fit's noise floor" in choice.reasons[-1]
    spread = max(r.predicted for r in choice.rows if r.tied) - choice.best.predicted
    assert spread > choice.floor
    # the same ties with a noise floor wider than their spread: any of them
    loose = dataclasses.replace(wide, noise=2 * spread / choice.best.predicted)
    [again] = curves.choose(fitted.law, cands, 2000, uncertainty=loose)
    assert again.decided and set(again.tied) == set(choice.tied)


# -- the jackknife's unit: runs, or halves of runs where leaving a run out leaves no drop to fit -----------------
def stable_and_branch(law, at=1600, noise=3e-4, seed=2):
    """A stable run to ``at`` and one linear cooldown branched from it to 0 at 2000 (the cover protocol's pair)."""
    rng = np.random.default_rng(seed)
    stable_s = SCHEDULES["constant"] * 1e-3
    steps = np.arange(150, at + 1, 50)
    stable = Run.of(stable_s, steps, law.predict(stable_s, steps) * (1 + noise * rng.standard_normal(steps.size)),
                    name="stable")
    sched = (W >> lk.constant(1.0, at - 100) >> lk.linear(2000 - at, 1.0, 0.0)) * 1e-3
    own = np.arange(at + 50, 2001, 50)
    branch = Run.branch(stable, sched, own, law.predict(sched, own) * (1 + noise * rng.standard_normal(own.size)),
                        at=at, name="cooldown")
    return stable, branch


def test_the_jackknife_leaves_out_runs_only_where_every_left_out_fit_keeps_a_decay():
    true = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)
    stable, branch = stable_and_branch(true)
    three = runs_of(true)  # constant, wsd, cosine: two decay
    assert [decays(r) for r in three] == [False, True, True]
    assert jackknife_unit(three) == "runs"
    assert jackknife_unit([stable, branch]) == "blocks"  # leaving the branch out leaves no drop
    assert jackknife_unit([three[1]]) == "blocks" and jackknife_unit([stable, three[0]]) == "runs"


def test_a_stable_run_and_one_branch_get_an_interval_that_rests_on_the_branch():
    # the fit that left the only branch out predicted every cooldown from the power law alone: intervals of ~10%
    # of the loss, which tell no candidate apart; halves of each run keep the drop in every replicate
    true = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)
    stable, branch = stable_and_branch(true)
    result = quiet_fit([stable, branch])
    assert isinstance(result.law, ConvexDropLaw)
    assert len(result.uncertainty.ensemble) == 4  # two halves of each of the two runs
    longer = (W >> lk.constant(1.0, 900) >> lk.linear(1000, 1.0, 0.0)) * 1e-3  # a 50% cooldown, not fitted
    _, low, high = curves.interval(result.law, result.uncertainty, longer, [2000])
    truth = true.final(longer, 2000)
    assert low[0] <= truth <= high[0]
    assert (high[0] - low[0]) / 2 < 0.01 * truth
    named = quiet_fit([stable, branch], "convex_drop")  # by name: the same rule
    assert len(named.uncertainty.ensemble) == 4


def test_a_single_run_has_a_jackknife_over_its_halves():
    true = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)
    [run] = runs_of(true)[:1]
    result = quiet_fit([run], "convex_drop")
    assert len(result.uncertainty.ensemble) == 2
    laws = held_out_blocks([run], "convex_drop", blocks=3)
    assert len(laws) == 3
    # the first half alone extrapolates the constant run's curve further than the whole run: a wider interval
    far = SCHEDULES["constant"] * 1e-3
    _, low, high = curves.interval(result.law, result.uncertainty, far, [8000])
    _, low0, high0 = curves.interval(result.law, dataclasses.replace(result.uncertainty, ensemble=()), far, [8000])
    assert high[0] - low[0] > high0[0] - low0[0]
